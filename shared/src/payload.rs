//! Request bodies: size caps and `Content-Encoding: gzip` inflation with a limit on the
//! inflated size (safe against zip bombs: inflation stops at the cap).

use crate::error::IngestError;
use std::borrow::Cow;
use std::io::Read as _;

/// Append a streamed body chunk, keeping at most `cap` bytes in all; returns `true` once
/// the cap is reached (the adapter stops reading: the core refuses the body from its
/// length, and memory never holds more than `cap`).
pub fn append_capped(body: &mut Vec<u8>, chunk: &[u8], cap: usize) -> bool {
    let room = cap.saturating_sub(body.len());
    body.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
    body.len() >= cap
}

/// Return the body as plain bytes, inflating gzip, refusing anything over `limit`.
pub fn decode<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Cow<'a, [u8]>, IngestError> {
    if body.len() > limit {
        return Err(IngestError::TooLarge { limit });
    }
    let encoding = content_encoding.map(|e| e.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(Cow::Borrowed(body)),
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
            let reader = flate2::read::MultiGzDecoder::new(body);
            reader
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| {
                    IngestError::Malformed(format!("gzip body could not be inflated: {e}"))
                })?;
            if out.len() > limit {
                return Err(IngestError::TooLarge { limit });
            }
            Ok(Cow::Owned(out))
        }
        Some(other) => Err(IngestError::UnsupportedEncoding(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write as _;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn streamed_bodies_stop_at_the_cap() {
        let mut b = Vec::new();
        assert!(!append_capped(&mut b, b"abc", 5));
        assert!(append_capped(&mut b, b"defgh", 5));
        assert_eq!(b, b"abcde");
        assert!(append_capped(&mut b, b"more", 5));
        assert_eq!(b.len(), 5);
    }

    #[test]
    fn plain_body_passes_through() {
        assert_eq!(&*decode(b"{}", None, 10).unwrap(), b"{}");
        assert_eq!(&*decode(b"{}", Some("identity"), 10).unwrap(), b"{}");
    }

    #[test]
    fn gzip_body_is_inflated() {
        let z = gzip(b"{\"a\":1}");
        assert_eq!(&*decode(&z, Some("GZIP"), 100).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn bomb_is_stopped_at_the_cap() {
        let z = gzip(&vec![b' '; 10_000_000]);
        assert!(z.len() < 20_000);
        assert_eq!(
            decode(&z, Some("gzip"), 500_000).unwrap_err(),
            IngestError::TooLarge { limit: 500_000 }
        );
    }

    #[test]
    fn raw_body_over_cap_and_bad_encodings() {
        assert!(matches!(
            decode(&[b'x'; 11], None, 10),
            Err(IngestError::TooLarge { .. })
        ));
        assert!(matches!(
            decode(b"x", Some("br"), 10),
            Err(IngestError::UnsupportedEncoding(_))
        ));
        assert!(matches!(
            decode(b"notgzip", Some("gzip"), 10),
            Err(IngestError::Malformed(_))
        ));
    }
}
