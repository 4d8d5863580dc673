//! The Dashboard API's query-string parameters: decoded, checked against per-endpoint
//! rules and caps, and turned into ClickHouse typed parameter values. Nothing here ever
//! becomes SQL text: the values travel as `param_<name>` and ClickHouse parses them as the
//! type the query file declares. Every refusal names the parameter.

use super::users::is_key_id;

/// The queries of the Dashboard API, one SQL file each (`sql/<name>.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Events, visitors, sessions and their change against the previous period.
    Overview,
    /// Events per interval, optionally per event name.
    Timeseries,
    /// Most frequent track events.
    TopEvents,
    /// Most viewed pages.
    TopPages,
    /// Referring domains of page views.
    TopReferrers,
    /// Events and visitors per country.
    Countries,
    /// Session count, median length and bounce rate.
    Sessions,
    /// Ordered steps within a window (`windowFunnel`).
    Funnel,
    /// Recent events, filtered, paginated by cursor.
    Events,
}

impl Endpoint {
    /// Every endpoint, in the order the page shows them.
    pub const ALL: [Endpoint; 9] = [
        Self::Overview,
        Self::Timeseries,
        Self::TopEvents,
        Self::TopPages,
        Self::TopReferrers,
        Self::Countries,
        Self::Sessions,
        Self::Funnel,
        Self::Events,
    ];

    /// The name in `/api/<name>` and `sql/<name>.sql`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Overview => "overview",
            Self::Timeseries => "timeseries",
            Self::TopEvents => "top_events",
            Self::TopPages => "top_pages",
            Self::TopReferrers => "top_referrers",
            Self::Countries => "countries",
            Self::Sessions => "sessions",
            Self::Funnel => "funnel",
            Self::Events => "events",
        }
    }

    /// The endpoint called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Parameters this endpoint takes besides `from`, `to` and `key`.
    fn extra(self) -> &'static [&'static str] {
        match self {
            Self::Overview | Self::Sessions => &[],
            Self::Timeseries => &["interval", "event", "by_event", "limit"],
            Self::TopEvents | Self::TopPages | Self::TopReferrers | Self::Countries => &["limit"],
            Self::Funnel => &["step", "window"],
            Self::Events => &["type", "event", "user", "limit", "cursor"],
        }
    }
}

/// A refused parameter: 400 with the parameter's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter at fault.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn bad(field: &str, message: impl Into<String>) -> ParamError {
    ParamError {
        field: field.chars().take(40).collect(),
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

fn time(field: &str, v: &str) -> Result<i64, ParamError> {
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

fn whole(field: &str, v: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, ParamError> {
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

fn text(field: &str, v: &str) -> Result<String, ParamError> {
    if v.len() > MAX_TEXT {
        return Err(bad(field, format!("is longer than {MAX_TEXT} bytes")));
    }
    if v.chars().any(char::is_control) {
        return Err(bad(field, "contains control characters"));
    }
    Ok(v.to_string())
}

/// Everything a request asked for, before the endpoint's rules are applied.
struct Raw<'a> {
    pairs: &'a [(String, String)],
}

impl Raw<'_> {
    fn one(&self, name: &str) -> Result<Option<&str>, ParamError> {
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

fn endpoint_params(
    endpoint: Endpoint,
    raw: &Raw<'_>,
    from_ms: i64,
    to_ms: i64,
    params: &mut Vec<(&'static str, String)>,
) -> Result<(), ParamError> {
    let limit = |default: i64, max: i64| -> Result<String, ParamError> {
        Ok(match raw.one("limit")? {
            Some(v) => whole("limit", v, 1..=max)?,
            None => default,
        }
        .to_string())
    };
    let filter = |name: &str| -> Result<String, ParamError> {
        raw.one(name)?.map_or(Ok(String::new()), |v| text(name, v))
    };
    match endpoint {
        Endpoint::Overview => {
            params.push(("prev_from", ch_time(from_ms - (to_ms - from_ms))));
        }
        Endpoint::Sessions => {}
        Endpoint::TopEvents | Endpoint::TopPages | Endpoint::TopReferrers | Endpoint::Countries => {
            params.push(("limit", limit(10, 100)?));
        }
        Endpoint::Timeseries => {
            let span_s = ceil_div(to_ms - from_ms, 1000);
            let interval = match raw.one("interval")? {
                Some(v) => whole("interval", v, MIN_INTERVAL_S..=31 * 86_400)?,
                None => nice_interval(span_s),
            };
            if ceil_div(span_s, interval) > MAX_BUCKETS {
                return Err(bad(
                    "interval",
                    format!("gives more than {MAX_BUCKETS} buckets for this range: make it longer"),
                ));
            }
            let by_event = match raw.one("by_event")? {
                None | Some("0") | Some("false") => "0",
                Some("1") | Some("true") => "1",
                Some(_) => return Err(bad("by_event", "must be 0 or 1")),
            };
            params.push(("interval_s", interval.to_string()));
            params.push(("event", filter("event")?));
            params.push(("by_event", by_event.into()));
            params.push(("limit", limit(5, 20)?));
        }
        Endpoint::Funnel => funnel_params(raw, params)?,
        Endpoint::Events => events_params(raw, to_ms, params, filter("event")?, filter("user")?)?,
    }
    Ok(())
}

fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b.max(1)
}

/// The smallest of 1 min, 5 min, 15 min, 1 h, 6 h, 1 day, 1 week that gives at most 200
/// buckets.
pub fn nice_interval(span_s: i64) -> i64 {
    [60, 300, 900, 3_600, 21_600, 86_400, 604_800]
        .into_iter()
        .find(|i| ceil_div(span_s, *i) <= 200)
        .unwrap_or(604_800)
}

fn funnel_params(
    raw: &Raw<'_>,
    params: &mut Vec<(&'static str, String)>,
) -> Result<(), ParamError> {
    let steps: Vec<String> = raw
        .pairs
        .iter()
        .filter(|(k, _)| k == "step")
        .map(|(_, v)| text("step", v))
        .collect::<Result<_, _>>()?;
    if !(2..=MAX_STEPS).contains(&steps.len()) || steps.iter().any(String::is_empty) {
        return Err(bad(
            "step",
            format!("give 2 to {MAX_STEPS} non-empty `step` event names, in order"),
        ));
    }
    let window = match raw.one("window")? {
        Some(v) => whole("window", v, 1..=MAX_WINDOW_S)?,
        None => 3_600,
    };
    params.push(("steps", ch_array(&steps)));
    params.push(("window_s", window.to_string()));
    Ok(())
}

/// The explorer's cursor: `<ts_ms>.<message_id base64url>` of the last row shown.
pub fn cursor(ts_ms: i64, message_id: &str) -> String {
    use base64::Engine as _;
    format!(
        "{ts_ms}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(message_id)
    )
}

fn parse_cursor(v: &str) -> Option<(i64, String)> {
    use base64::Engine as _;
    let (ts, id) = v.split_once('.')?;
    let ts: i64 = ts.parse().ok().filter(|t| *t >= 0)?;
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .ok()?;
    let id = String::from_utf8(id).ok().filter(|s| s.len() <= MAX_TEXT)?;
    Some((ts, id))
}

fn events_params(
    raw: &Raw<'_>,
    to_ms: i64,
    params: &mut Vec<(&'static str, String)>,
    event: String,
    user: String,
) -> Result<(), ParamError> {
    let kind = match raw.one("type")? {
        None | Some("") => "",
        Some(t @ ("track" | "identify" | "page" | "screen" | "group" | "alias")) => t,
        Some(_) => {
            return Err(bad(
                "type",
                "must be track, identify, page, screen, group or alias",
            ));
        }
    };
    let (cursor_ts, cursor_id) = match raw.one("cursor")? {
        None | Some("") => (to_ms, String::new()),
        Some(v) => {
            parse_cursor(v).ok_or_else(|| bad("cursor", "is not a cursor this API returned"))?
        }
    };
    let limit = match raw.one("limit")? {
        Some(v) => whole("limit", v, 1..=200)?,
        None => 50,
    };
    params.extend([
        ("type", kind.to_string()),
        ("event", event),
        ("user", user),
        ("cursor_ts", ch_time(cursor_ts)),
        ("cursor_id", cursor_id),
        ("limit", limit.to_string()),
    ]);
    Ok(())
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
