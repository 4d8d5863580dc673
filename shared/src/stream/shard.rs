//! `STREAM_SHARDS`: a deployment's events spread over N streams, so that ingest scripts
//! on different shards touch disjoint keys and Upstash (which locks per key when a script
//! declares `allow-key-locking`) runs them side by side.
//!
//! Shard 0 is the stream itself (`REDIS_STREAM_KEY`), so one shard is exactly the layout
//! before shards; shard i is `<stream>:<i>`. Each shard has its own retry markers,
//! dead-letter stream, counters and drain lock (all named after the shard's stream). A
//! client's rate-limit counter and a signature's nonce stay named after the base stream:
//! they must hold whichever shard a request lands on.
//!
//! A request with messageIds goes to the shard its retry marker (the messageIds' hash)
//! picks, so a retry of it meets its own marker; one without goes by its write key and
//! client.

/// Most shards (the health script reads three keys per shard in one call).
pub const MAX_SHARDS: u16 = 64;

/// The stream of shard `index` of `base`.
pub fn stream_of(base: &str, index: u16) -> String {
    if index == 0 {
        base.to_string()
    } else {
        format!("{base}:{index}")
    }
}

/// Which shard of `base` the stream `stream` is (0 for `base` itself or a name that is no
/// shard of it): the inverse of [`stream_of`].
pub fn index_of(base: &str, stream: &str) -> u16 {
    stream
        .strip_prefix(base)
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|i| i.parse().ok())
        .unwrap_or(0)
}

/// Every shard's stream, shard 0 first.
pub fn streams(base: &str, shards: u16) -> Vec<String> {
    (0..shards.max(1)).map(|i| stream_of(base, i)).collect()
}

/// The shard of a request with this retry marker (16 bytes of a hash: uniform already).
pub fn of_marker(marker: &[u8; 16], shards: u16) -> u16 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&marker[..8]);
    reduce(u64::from_le_bytes(head), shards)
}

/// The shard of a request without a marker, by these parts (write key, client): FNV-1a.
pub fn of_parts(parts: &[&str], shards: u16) -> u16 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    reduce(h, shards)
}

fn reduce(h: u64, shards: u16) -> u16 {
    u16::try_from(h % u64::from(shards.max(1))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_zero_is_the_stream_itself() {
        assert_eq!(stream_of("analytics_events", 0), "analytics_events");
        assert_eq!(stream_of("analytics_events", 3), "analytics_events:3");
        assert_eq!(streams("s", 1), vec!["s"]);
        assert_eq!(streams("s", 0), vec!["s"]);
        assert_eq!(streams("s", 3), vec!["s", "s:1", "s:2"]);
        for i in [0, 1, 63] {
            assert_eq!(index_of("s", &stream_of("s", i)), i);
        }
        assert_eq!(index_of("s", "s:seen"), 0);
    }

    #[test]
    fn one_shard_takes_everything() {
        assert_eq!(of_marker(&[0xab; 16], 1), 0);
        assert_eq!(of_parts(&["k", "1.2.3.4"], 1), 0);
    }

    #[test]
    fn markers_spread_evenly_and_a_retry_keeps_its_shard() {
        let mut counts = [0u32; 4];
        for i in 0u32..4000 {
            let digest = sha2_16(&i.to_le_bytes());
            let s = of_marker(&digest, 4);
            assert_eq!(s, of_marker(&digest, 4));
            counts[usize::from(s)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn clients_spread_and_keep_their_shard() {
        let mut counts = [0u32; 8];
        for i in 0..8000 {
            let ip = format!("10.0.{}.{}", i / 256, i % 256);
            let s = of_parts(&["key", &ip], 8);
            assert_eq!(s, of_parts(&["key", &ip], 8));
            counts[usize::from(s)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
        // the parts are delimited: ("ab", "c") and ("a", "bc") are different clients
        let a: Vec<u16> = (2..64).map(|n| of_parts(&["ab", "c"], n)).collect();
        let b: Vec<u16> = (2..64).map(|n| of_parts(&["a", "bc"], n)).collect();
        assert_ne!(a, b);
    }

    fn sha2_16(data: &[u8]) -> [u8; 16] {
        use sha2::Digest as _;
        let d = sha2::Sha256::digest(data);
        let mut out = [0u8; 16];
        out.copy_from_slice(&d[..16]);
        out
    }
}
