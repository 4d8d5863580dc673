//! ISO-8601 timestamps as Segment sends them, to and from Unix milliseconds.

use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::macros::format_description;

/// The earliest instant ClickHouse's `DateTime64(3)` stores: 1900-01-01T00:00:00.000Z.
pub const MIN_MS: i64 = -2_208_988_800_000;
/// The latest instant ClickHouse's `DateTime64(3)` stores: 2299-12-31T23:59:59.999Z.
pub const MAX_MS: i64 = 10_413_791_999_999;

/// Whether `ms` can be stored in a `DateTime64(3)` column (see [`MIN_MS`], [`MAX_MS`]).
pub fn storable(ms: i64) -> bool {
    (MIN_MS..=MAX_MS).contains(&ms)
}

/// Parse an ISO-8601 / RFC 3339 timestamp into Unix milliseconds.
pub fn parse_ms(s: &str) -> Option<i64> {
    let dt = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(s, &Iso8601::PARSING))
        .ok()?;
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Format Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_ms(ms: i64) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|dt| dt.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_common_forms() {
        let want = 1_700_000_000_123;
        for s in [
            "2023-11-14T22:13:20.123Z",
            "2023-11-14T23:13:20.123+01:00",
            "2023-11-14T22:13:20.123000Z",
        ] {
            assert_eq!(parse_ms(s), Some(want), "{s}");
        }
        assert_eq!(parse_ms("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        for bad in ["", "yesterday", "2023-13-01T00:00:00Z", "1700000000"] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn storable_range_is_clickhouse_datetime64() {
        assert_eq!(format_ms(MIN_MS), "1900-01-01T00:00:00.000Z");
        assert_eq!(format_ms(MAX_MS), "2299-12-31T23:59:59.999Z");
        assert!(storable(MIN_MS) && storable(MAX_MS) && storable(0));
        assert!(!storable(MIN_MS - 1) && !storable(MAX_MS + 1));
        // year 0000 with an offset, and year 9999: parse, but cannot be stored
        for s in ["0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59+05:00"] {
            assert!(!storable(parse_ms(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn formats_with_millis_in_utc() {
        assert_eq!(format_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(ms in 0i64..4_000_000_000_000) {
            prop_assert_eq!(parse_ms(&format_ms(ms)), Some(ms));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse_ms(&s);
        }
    }
}
