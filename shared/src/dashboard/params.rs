//! The Dashboard API's query-string parameters: decoded, checked against per-endpoint
//! rules and caps, and turned into ClickHouse typed parameter values. Nothing here ever
//! becomes SQL text: the values travel as `param_<name>` and ClickHouse parses them as the
//! type the query file declares. Every refusal names the parameter.

pub use super::endpoint::Endpoint;
use super::filters::endpoint_params;
pub use super::filters::{cursor, nice_interval};
use super::users::is_key_id;

/// A refused parameter: 400 with the parameter's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter at fault.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

pub(crate) fn bad(field: &str, message: impl Into<String>) -> ParamError {
    ParamError {
        field: field.chars().take(64).collect(),
        message: message.into(),
    }
}

/// Longest string a filter may be.
pub const MAX_TEXT: usize = 200;
/// Most buckets a time series may have.
pub const MAX_BUCKETS: i64 = 1_000;
/// Shortest interval of a time series, seconds.
pub const MIN_INTERVAL_S: i64 = 60;
/// Longest funnel window, seconds.
pub const MAX_WINDOW_S: i64 = 30 * 86_400;
/// Most funnel steps (the SQL has eight conditions).
pub const MAX_STEPS: usize = 8;
const DAY_MS: i64 = 86_400_000;

/// A checked query: the endpoint, the ClickHouse parameters (sorted, canonical: the cache
/// key is built from them) and the range in Unix ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Which SQL file.
    pub endpoint: Endpoint,
    /// `(name, value)` pairs for `param_<name>`, sorted by name.
    pub params: Vec<(&'static str, String)>,
    /// Start of the range, Unix ms.
    pub from_ms: i64,
    /// End of the range (exclusive), Unix ms.
    pub to_ms: i64,
}

/// Decode `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte).
pub fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Split a query string into decoded pairs; the error names the undecodable parameter.
pub fn pairs(query: &str) -> Result<Vec<(String, String)>, ParamError> {
    let mut out = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let key =
            form_decode(k).ok_or_else(|| bad(k, "the name is not valid percent-encoded UTF-8"))?;
        let value = form_decode(v)
            .ok_or_else(|| bad(&key, "the value is not valid percent-encoded UTF-8"))?;
        out.push((key, value));
    }
    Ok(out)
}

/// A ClickHouse `DateTime64(3, 'UTC')` parameter value.
pub fn ch_time(ms: i64) -> String {
    crate::timestamp::format_ms(ms)
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string()
}

/// A ClickHouse `Array(String)` parameter value: quoted, with `\` and `'` escaped.
pub fn ch_array(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect();
    format!("[{}]", quoted.join(","))
}

pub(crate) fn time(field: &str, v: &str) -> Result<i64, ParamError> {
    let ms = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse::<i64>().ok()
    } else {
        crate::timestamp::parse_ms(v)
    };
    ms.filter(|ms| (0..=crate::timestamp::MAX_MS).contains(ms))
        .ok_or_else(|| {
            bad(
                field,
                "must be an RFC 3339 time (2026-11-27T10:00:00Z) or Unix milliseconds",
            )
        })
}

pub(crate) fn whole(
    field: &str,
    v: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ParamError> {
    v.parse::<i64>()
        .ok()
        .filter(|n| range.contains(n) && v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            bad(
                field,
                format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

pub(crate) fn text(field: &str, v: &str) -> Result<String, ParamError> {
    if v.len() > MAX_TEXT {
        return Err(bad(field, format!("is longer than {MAX_TEXT} bytes")));
    }
    if v.chars().any(char::is_control) {
        return Err(bad(field, "contains control characters"));
    }
    Ok(v.to_string())
}

/// Everything a request asked for, before the endpoint's rules are applied.
pub(crate) struct Raw<'a> {
    pub(crate) pairs: &'a [(String, String)],
}

impl Raw<'_> {
    pub(crate) fn one(&self, name: &str) -> Result<Option<&str>, ParamError> {
        let mut found = self.pairs.iter().filter(|(k, _)| k == name);
        let first = found.next().map(|(_, v)| v.as_str());
        if found.next().is_some() {
            return Err(bad(name, "is given more than once"));
        }
        Ok(first)
    }
}

/// Check a request's parameters for `endpoint`, within the token's `scope` (write-key
/// ids). `now_ms` gives the default range (the last 7 days).
pub fn parse(
    endpoint: Endpoint,
    pairs: &[(String, String)],
    scope: &[String],
    max_range_days: u32,
    now_ms: i64,
) -> Result<Query, Scoped> {
    let raw = Raw { pairs };
    for (k, _) in pairs {
        if !matches!(k.as_str(), "from" | "to" | "key") && !endpoint.extra().contains(&k.as_str()) {
            return Err(Scoped::Param(bad(
                k,
                format!("is not a parameter of /api/{}", endpoint.name()),
            )));
        }
    }
    let keys = match raw.one("key")? {
        None | Some("") => scope.to_vec(),
        Some(list) => {
            let asked: Vec<String> = list.split(',').map(|k| k.trim().to_string()).collect();
            if let Some(k) = asked.iter().find(|k| !is_key_id(k)) {
                let _ = k;
                return Err(Scoped::Param(bad(
                    "key",
                    "must be write-key ids (16 lower-case hex digits), comma separated",
                )));
            }
            if let Some(k) = asked.iter().find(|k| !scope.contains(k)) {
                return Err(Scoped::Forbidden(k.clone()));
            }
            asked
        }
    };
    let to_ms = match raw.one("to")? {
        Some(v) => time("to", v)?,
        None => now_ms,
    };
    let from_ms = match raw.one("from")? {
        Some(v) => time("from", v)?,
        None => to_ms.saturating_sub(7 * DAY_MS),
    };
    if from_ms >= to_ms {
        return Err(Scoped::Param(bad("from", "must be before `to`")));
    }
    if to_ms - from_ms > i64::from(max_range_days) * DAY_MS {
        return Err(Scoped::Param(bad(
            "to",
            format!("the range is longer than the cap of {max_range_days} days"),
        )));
    }
    let mut params: Vec<(&'static str, String)> = vec![
        ("keys", ch_array(&keys)),
        ("from", ch_time(from_ms)),
        ("to", ch_time(to_ms)),
    ];
    endpoint_params(endpoint, &raw, from_ms, to_ms, &mut params)?;
    params.sort_by(|a, b| a.0.cmp(b.0));
    Ok(Query {
        endpoint,
        params,
        from_ms,
        to_ms,
    })
}

/// Why a query was refused: a bad parameter (400) or a project outside the token (403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scoped {
    /// 400.
    Param(ParamError),
    /// 403: this write-key id is not in the token.
    Forbidden(String),
}

impl From<ParamError> for Scoped {
    fn from(e: ParamError) -> Self {
        Self::Param(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_773_600_000; // 2026-11-27T10:00:00Z
    const K1: &str = "00112233aabbccdd";
    const K2: &str = "ffeeddccbbaa9988";

    fn q(endpoint: Endpoint, query: &str) -> Result<Query, Scoped> {
        let p = pairs(query).map_err(Scoped::Param)?;
        parse(endpoint, &p, &[K1.to_string()], 92, NOW)
    }

    fn field(r: Result<Query, Scoped>) -> String {
        match r {
            Err(Scoped::Param(e)) => e.field,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    fn param<'a>(q: &'a Query, name: &str) -> &'a str {
        &q.params.iter().find(|(k, _)| *k == name).unwrap().1
    }

    #[test]
    fn defaults_are_the_last_week_of_every_project_in_the_token() {
        let got = q(Endpoint::TopEvents, "").unwrap();
        assert_eq!(got.to_ms - got.from_ms, 7 * DAY_MS);
        assert_eq!(param(&got, "keys"), format!("['{K1}']"));
        assert_eq!(param(&got, "to"), "2026-11-27 10:00:00.000");
        assert_eq!(param(&got, "limit"), "10");
        let o = q(
            Endpoint::Overview,
            "from=2026-11-20T00:00:00Z&to=2026-11-27T00:00:00Z",
        )
        .unwrap();
        assert_eq!(param(&o, "prev_from"), "2026-11-13 00:00:00.000");
    }

    #[test]
    fn a_project_outside_the_token_is_forbidden() {
        assert_eq!(
            q(Endpoint::Overview, &format!("key={K2}")),
            Err(Scoped::Forbidden(K2.into()))
        );
        assert_eq!(
            q(Endpoint::Overview, &format!("key={K1},{K2}")),
            Err(Scoped::Forbidden(K2.into()))
        );
        assert!(q(Endpoint::Overview, &format!("key={K1}")).is_ok());
    }

    #[test]
    fn sql_metacharacters_are_refused_or_only_ever_typed_values() {
        let evil = "x'%20OR%201=1;%20DROP%20TABLE%20analytics.events;--";
        for (endpoint, name) in [
            (Endpoint::Overview, "from"),
            (Endpoint::Overview, "to"),
            (Endpoint::Overview, "key"),
            (Endpoint::TopPages, "limit"),
            (Endpoint::Timeseries, "interval"),
            (Endpoint::Timeseries, "by_event"),
            (Endpoint::Funnel, "window"),
            (Endpoint::Events, "type"),
            (Endpoint::Events, "cursor"),
            (Endpoint::Overview, "x;--"),
        ] {
            let prefix = if endpoint == Endpoint::Funnel {
                "step=a&step=b&"
            } else {
                ""
            };
            assert_eq!(
                field(q(endpoint, &format!("{prefix}{name}={evil}"))),
                name,
                "{name}"
            );
        }
        // Free-text filters are values of String parameters: passed as data, never SQL.
        let e = q(Endpoint::Events, &format!("event={evil}&user={evil}")).unwrap();
        assert_eq!(
            param(&e, "event"),
            "x' OR 1=1; DROP TABLE analytics.events;--"
        );
        let f = q(Endpoint::Funnel, &format!("step={evil}&step=b\\'c")).unwrap();
        assert_eq!(
            param(&f, "steps"),
            r"['x\' OR 1=1; DROP TABLE analytics.events;--','b\\\'c']"
        );
    }

    #[test]
    fn ranges_and_intervals_are_capped() {
        assert_eq!(
            field(q(
                Endpoint::Overview,
                "from=2026-01-01T00:00:00Z&to=2026-11-01T00:00:00Z"
            )),
            "to"
        );
        assert_eq!(
            field(q(
                Endpoint::Overview,
                "from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z"
            )),
            "from"
        );
        assert_eq!(
            field(q(
                Endpoint::Timeseries,
                "interval=60&from=2026-11-01T00:00:00Z&to=2026-11-27T00:00:00Z"
            )),
            "interval"
        );
        assert_eq!(field(q(Endpoint::Timeseries, "interval=59")), "interval");
        assert_eq!(field(q(Endpoint::TopEvents, "limit=101")), "limit");
        assert_eq!(field(q(Endpoint::TopEvents, "limit=0")), "limit");
        assert_eq!(field(q(Endpoint::Funnel, "step=a")), "step");
        assert_eq!(
            field(q(Endpoint::Funnel, "step=a&step=b&window=9999999999")),
            "window"
        );
        assert_eq!(
            field(q(Endpoint::Events, &format!("event={}", "x".repeat(201)))),
            "event"
        );
        assert_eq!(field(q(Endpoint::Overview, "from=1&from=2")), "from");
        assert_eq!(field(q(Endpoint::Overview, "limit=5")), "limit");
        assert_eq!(field(q(Endpoint::Overview, "from=%ff")), "from");
        let t = q(Endpoint::Timeseries, "").unwrap();
        assert_eq!(param(&t, "interval_s"), "3600");
    }

    #[test]
    fn the_explorer_cursor_round_trips() {
        let c = cursor(1_795_773_000_123, "msg-'1");
        let e = q(Endpoint::Events, &format!("cursor={c}&type=track")).unwrap();
        assert_eq!(param(&e, "cursor_ts"), "2026-11-27 09:50:00.123");
        assert_eq!(param(&e, "cursor_id"), "msg-'1");
        assert_eq!(param(&e, "type"), "track");
    }
}
