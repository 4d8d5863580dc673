//! Each endpoint's own parameters (interval, limits, funnel steps and window, explorer
//! filters and cursor), checked and turned into ClickHouse parameter values.

use super::endpoint::Endpoint;
use super::params::{
    MAX_BUCKETS, MAX_STEPS, MAX_TEXT, MAX_WINDOW_S, MIN_INTERVAL_S, ParamError, Raw, bad, ch_array,
    ch_time, text, whole,
};

pub(crate) fn endpoint_params(
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
