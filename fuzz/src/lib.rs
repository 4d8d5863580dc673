//! Helpers shared by the fuzz targets: the slowest-input clock, the plan target's input
//! format, and a tiny executor for the drain's async code driven by an in-memory port.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

/// CPU time of this thread, ns. CPU time rather than wall time: this machine is shared,
/// and a descheduled input would otherwise look slow.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

static RUNS: AtomicU64 = AtomicU64::new(0);
static SLOWEST_NS: AtomicU64 = AtomicU64::new(0);

fn measure<R>(f: &impl Fn() -> R) -> (R, u64) {
    let start = thread_cpu_ns();
    let out = f();
    (out, thread_cpu_ns().saturating_sub(start))
}

/// Run one input through `f`, timing it. When an input looks slower than every input
/// before it, it is run three more times and its fastest time counts (page faults or an
/// allocator trim can land on any input); if that still beats the record, print
/// `slowest-input: <µs> us cpu, <len> bytes` (scripts/fuzz reports the last such line).
/// The first run is skipped: it pays for lazy statics and cold caches.
pub fn timed<R>(len: usize, f: impl Fn() -> R) -> R {
    let (out, took) = measure(&f);
    let record = SLOWEST_NS.load(Ordering::Relaxed);
    if RUNS.fetch_add(1, Ordering::Relaxed) > 0 && took > record {
        let best = (0..3).map(|_| measure(&f).1).fold(took, u64::min);
        if best > record {
            SLOWEST_NS.store(best, Ordering::Relaxed);
            eprintln!(
                "slowest-input: {:.1} us cpu, {len} bytes",
                best as f64 / 1000.0
            );
        }
    }
    out
}

/// A request in the plan target's input format, which is close to HTTP/1 so real
/// captured requests are seeds as they are:
///
/// ```text
/// POST /v1/batch
/// authorization: Basic d2tfdGVzdDo=
/// x-fuzz-gzip: 1
///
/// {"batch":[...]}
/// ```
///
/// The first line is `METHOD PATH`; header lines follow until an empty line; the rest is
/// the body, byte for byte. Lines may end in `\r\n`. Header lines that are not valid
/// HTTP are skipped; headers stop at [`HEADER_BUDGET`] bytes, as a real front end would
/// refuse more. `x-fuzz-*` headers are instructions to the harness (see the plan target),
/// not request headers.
#[derive(Debug, Default)]
pub struct RawRequest<'a> {
    /// Method, as sent (the core expects upper case; mutations may not be).
    pub method: &'a str,
    /// Path.
    pub path: &'a str,
    /// Request headers, without the `x-fuzz-*` ones.
    pub headers: http::HeaderMap,
    /// `x-fuzz-*` instructions, name without the prefix, lower case.
    pub fuzz: Vec<(String, String)>,
    /// Body bytes.
    pub body: &'a [u8],
}

/// Total header bytes (names + values) a request may carry: 8 KiB, the default of
/// nginx's `large_client_header_buffers` line size; Cloudflare allows 32 KiB in total.
pub const HEADER_BUDGET: usize = 8 * 1024;

fn line(rest: &[u8]) -> (&[u8], &[u8]) {
    match rest.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let l = &rest[..i];
            (l.strip_suffix(b"\r").unwrap_or(l), &rest[i + 1..])
        }
        None => (rest, &[]),
    }
}

impl<'a> RawRequest<'a> {
    /// Split fuzz input into a request; `None` when the first line is not UTF-8.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (first, mut rest) = line(data);
        let first = std::str::from_utf8(first).ok()?;
        let (method, path) = first.split_once(' ').unwrap_or((first, "/"));
        let mut req = RawRequest {
            method,
            path,
            ..Self::default()
        };
        let mut budget = HEADER_BUDGET;
        loop {
            if rest.is_empty() {
                break;
            }
            let (l, next) = line(rest);
            rest = next;
            if l.is_empty() {
                break;
            }
            let Some(colon) = l.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&l[..colon], l[colon + 1..].trim_ascii());
            if name.len() + value.len() > budget {
                continue;
            }
            let Ok(name) = http::HeaderName::from_bytes(name.trim_ascii()) else {
                continue;
            };
            let Ok(value) = http::HeaderValue::from_bytes(value) else {
                continue;
            };
            budget -= name.as_str().len() + value.len();
            if let Some(f) = name.as_str().strip_prefix("x-fuzz-") {
                let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
                req.fuzz.push((f.to_string(), v));
            } else {
                req.headers.append(name, value);
            }
        }
        req.body = rest;
        Some(req)
    }

    /// Whether the `x-fuzz-<name>` instruction is present.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.fuzz
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Most events [`repeat_batch`] makes, and the longest body it makes.
pub const REPEAT_MAX_EVENTS: usize = 5000;
/// See [`REPEAT_MAX_EVENTS`].
pub const REPEAT_MAX_BYTES: usize = 64 * 1024;

/// The body with its `batch` array's elements cycled until it holds `n` events (at most
/// [`REPEAT_MAX_EVENTS`], and at most [`REPEAT_MAX_BYTES`] of body); every other byte is
/// kept. Lets the fuzzer reach many-event batches, which byte mutations seldom build.
/// `None` when the body is not a JSON object with a non-empty `batch` array.
pub fn repeat_batch(body: &[u8], n: usize) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?;
    let top = ingest_core::event::RawObject::parse(text).ok()?;
    let batch = top.get("batch")?;
    let events: Vec<&serde_json::value::RawValue> = serde_json::from_str(batch.get()).ok()?;
    if events.is_empty() {
        return None;
    }
    let start = (batch.get().as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let end = start + batch.get().len();
    let (head, tail) = (text.get(..start)?, text.get(end..)?);
    let mut out = String::with_capacity(REPEAT_MAX_BYTES);
    out.push_str(head);
    out.push('[');
    for (i, ev) in events
        .iter()
        .cycle()
        .take(n.clamp(events.len(), REPEAT_MAX_EVENTS))
        .enumerate()
    {
        if out.len() + ev.get().len() + 1 + tail.len() + 1 > REPEAT_MAX_BYTES && i > 0 {
            break;
        }
        if i > 0 {
            out.push(',');
        }
        out.push_str(ev.get());
    }
    out.push(']');
    out.push_str(tail);
    Some(out.into_bytes())
}

/// Poll a future to completion on this thread. The fuzz targets' ports answer at once,
/// so this never waits; it gives up (None) after many pending polls rather than spin.
pub fn block_on<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_format_splits_head_and_body() {
        let r = RawRequest::parse(
            b"POST /v1/t\r\nOrigin: https://a\r\nx-fuzz-gzip: 1\nbad line\n\n{\"a\":1}\n",
        )
        .unwrap();
        assert_eq!((r.method, r.path), ("POST", "/v1/t"));
        assert_eq!(r.headers.get("origin").unwrap(), "https://a");
        assert_eq!(r.flag("gzip"), Some("1"));
        assert_eq!(r.body, b"{\"a\":1}\n");
    }

    #[test]
    fn batch_is_repeated_in_place() {
        let b = repeat_batch(br#"{"a" : 1, "batch" : [1, {"x":2}] ,"z":[]}"#, 5).unwrap();
        assert_eq!(
            b,
            br#"{"a" : 1, "batch" : [1,{"x":2},1,{"x":2},1] ,"z":[]}"#
        );
        assert!(repeat_batch(b"{}", 3).is_none());
        let big = repeat_batch(br#"{"batch":[12345678]}"#, 100_000).unwrap();
        assert!(big.len() <= REPEAT_MAX_BYTES && big.len() > REPEAT_MAX_BYTES / 2);
    }
}
