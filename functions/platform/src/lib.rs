//! Platform glue shared by the function crates. Each platform module converts requests
//! and responses, reads the variables, and implements [`ingest_core::io::Http`] (one POST
//! with the platform's deadline, a clock, a timer). No behaviour lives here: that is
//! `ingest-core`'s job, and every platform runs the same core entry points.

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod workers;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

#[cfg(target_os = "wasi")]
pub mod spin;

/// Current time, Unix ms (`Date.now()` on Workers, where `SystemTime` is unavailable;
/// the system clock elsewhere).
pub fn now_ms() -> i64 {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    let ms = u128::from(worker::Date::now().as_millis());
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Randomness from the platform CSPRNG (`crypto.getRandomValues` on Workers,
/// `wasi:random` on Spin).
#[cfg(target_arch = "wasm32")]
pub struct SystemRandom;

#[cfg(target_arch = "wasm32")]
impl ingest_core::io::Random for SystemRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // The platform CSPRNG cannot fail for small buffers; fall back to the clock
            // rather than panic: the bytes are request ids, unique enough that way.
            let t = now_ms().to_le_bytes();
            for (i, b) in buf.iter_mut().enumerate() {
                *b = t.get(i % t.len()).copied().unwrap_or(0) ^ (i as u8);
            }
        }
    }
}

/// Copy `(name, value)` pairs into an `http::HeaderMap`; invalid ones are skipped.
pub fn header_map<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in pairs {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(k.as_ref()),
            http::header::HeaderValue::from_bytes(v.as_ref()),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// Read a body stream, stopping at `cap` bytes (see
/// `ingest_core::collector::serve::body_cap`; a body declared larger is not read at all).
/// A stream error ends the body where it is: the core then refuses it as incomplete JSON.
#[cfg(target_arch = "wasm32")]
pub async fn read_capped<C: AsRef<[u8]>, E>(
    stream: impl futures_util::Stream<Item = Result<C, E>>,
    cap: usize,
) -> Vec<u8> {
    use futures_util::StreamExt as _;
    let mut body = Vec::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(Ok(chunk)) = stream.next().await {
        if ingest_core::payload::append_capped(&mut body, chunk.as_ref(), cap) {
            break;
        }
    }
    body
}
