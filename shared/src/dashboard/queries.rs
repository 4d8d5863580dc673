//! The Dashboard API's queries: each endpoint's SQL file, the ClickHouse request that runs
//! it as the reader with typed parameters, and the JSON answer built from ClickHouse's
//! `JSONCompact` output (rows as objects, plus the query's own timing).

use super::params::{Endpoint, Query, cursor};
use crate::clickhouse::{Request, Target};
use serde_json::{Map, Value, json};

/// The SQL of `endpoint`, as committed in `sql/<name>.sql`.
pub fn sql(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Overview => include_str!("sql/overview.sql"),
        Endpoint::Timeseries => include_str!("sql/timeseries.sql"),
        Endpoint::TopEvents => include_str!("sql/top_events.sql"),
        Endpoint::TopPages => include_str!("sql/top_pages.sql"),
        Endpoint::TopReferrers => include_str!("sql/top_referrers.sql"),
        Endpoint::Countries => include_str!("sql/countries.sql"),
        Endpoint::Sessions => include_str!("sql/sessions.sql"),
        Endpoint::Funnel => include_str!("sql/funnel.sql"),
        Endpoint::Events => include_str!("sql/events.sql"),
    }
}

/// The SQL as sent: the file without its leading comment lines (the header documents the
/// file; ClickHouse needs none of it, and the local stand-in classifies a query by its
/// first keyword).
pub fn statement(endpoint: Endpoint) -> &'static str {
    let mut rest = sql(endpoint);
    while rest.trim_start().starts_with("--") {
        rest = rest.trim_start().split_once('\n').map_or("", |(_, r)| r);
    }
    rest
}

/// Settings of every dashboard read: JSONCompact with numbers as numbers, bounded time
/// and result size.
const SETTINGS: &[(&str, &str)] = &[
    ("default_format", "JSONCompact"),
    ("output_format_json_quote_64bit_integers", "0"),
    ("max_execution_time", "15"),
    ("max_result_rows", "10000"),
];

/// The ClickHouse request for a checked query.
pub fn request(target: &Target, q: &Query) -> Request {
    let params: Vec<(&str, &str)> = q.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    target.select(statement(q.endpoint), &params, SETTINGS)
}

/// The cache key of a query: the endpoint and its canonical parameters (scope included),
/// hashed, as a URL (the Workers Cache API keys on URLs).
pub fn cache_key(q: &Query) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (k, v) in &q.params {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    format!(
        "https://dashboard-cache.invalid/{}/{}",
        q.endpoint.name(),
        hex::encode(h.finalize())
    )
}

/// Why a query got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// ClickHouse refused the query's parameters (HTTP 400): answered 400.
    Refused(String),
    /// ClickHouse failed (other status, unreadable answer): 502.
    Upstream(String),
}

fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

/// Build the answer from ClickHouse's reply (`status`, `body`) and the measured round trip.
pub fn answer(
    q: &Query,
    status: u16,
    body: &[u8],
    round_trip_ms: i64,
) -> Result<Value, QueryError> {
    match status {
        200 => {}
        400 => return Err(QueryError::Refused(first_line(body))),
        s => {
            return Err(QueryError::Upstream(format!(
                "ClickHouse HTTP {s}: {}",
                first_line(body)
            )));
        }
    }
    let parsed: Value = serde_json::from_slice(body)
        .map_err(|e| QueryError::Upstream(format!("unreadable ClickHouse answer: {e}")))?;
    let names: Vec<&str> = at(&parsed, "meta")
        .as_array()
        .map(|m| m.iter().filter_map(|c| at(c, "name").as_str()).collect())
        .unwrap_or_default();
    let rows: Vec<Value> = at(&parsed, "data")
        .as_array()
        .map(|d| {
            d.iter()
                .map(|row| {
                    let cells = row.as_array().map(Vec::as_slice).unwrap_or_default();
                    Value::Object(
                        names
                            .iter()
                            .zip(cells)
                            .map(|(n, v)| ((*n).to_string(), v.clone()))
                            .collect::<Map<_, _>>(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let stats = at(&parsed, "statistics");
    let mut out = Map::new();
    out.insert("endpoint".into(), q.endpoint.name().into());
    out.insert("from".into(), crate::timestamp::format_ms(q.from_ms).into());
    out.insert("to".into(), crate::timestamp::format_ms(q.to_ms).into());
    out.insert(
        "timing".into(),
        json!({
            "clickhouse_ms": at(stats, "elapsed").as_f64().map(|s| (s * 1e5).round() / 100.0),
            "rows_read": at(stats, "rows_read").as_u64(),
            "bytes_read": at(stats, "bytes_read").as_u64(),
            "round_trip_ms": round_trip_ms,
            "cached": false,
        }),
    );
    shape(q, rows, &mut out);
    Ok(Value::Object(out))
}

fn change(now: &Value, before: &Value) -> Value {
    match (now.as_f64(), before.as_f64()) {
        (Some(n), Some(b)) if b > 0.0 => json!(((n - b) / b * 10_000.0).round() / 10_000.0),
        _ => Value::Null,
    }
}

/// A member of a JSON object, `null` when absent.
pub fn at<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&Value::Null)
}

/// Endpoint-specific parts of the answer.
fn shape(q: &Query, rows: Vec<Value>, out: &mut Map<String, Value>) {
    let first = rows.first().cloned().unwrap_or(Value::Null);
    let r = |k: &str| at(&first, k).clone();
    match q.endpoint {
        Endpoint::Overview => {
            out.insert(
                "totals".into(),
                json!({ "events": r("events"), "users": r("users"), "sessions": r("sessions") }),
            );
            out.insert("previous".into(), json!({ "events": r("prev_events"), "users": r("prev_users"), "sessions": r("prev_sessions") }));
            out.insert(
                "change".into(),
                json!({
                    "events": change(&r("events"), &r("prev_events")),
                    "users": change(&r("users"), &r("prev_users")),
                    "sessions": change(&r("sessions"), &r("prev_sessions")),
                }),
            );
        }
        Endpoint::Sessions | Endpoint::Funnel => {
            out.insert("totals".into(), first.clone());
        }
        Endpoint::Events => {
            let limit: usize = q
                .params
                .iter()
                .find(|(k, _)| *k == "limit")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(usize::MAX);
            let next = rows
                .last()
                .filter(|_| rows.len() >= limit)
                .and_then(|last| {
                    Some(cursor(
                        at(last, "ts_ms").as_i64()?,
                        at(last, "message_id").as_str()?,
                    ))
                });
            out.insert(
                "next_cursor".into(),
                next.map_or(Value::Null, Value::String),
            );
            out.insert("rows".into(), Value::Array(rows));
        }
        _ => {
            out.insert("rows".into(), Value::Array(rows));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::params::{pairs, parse};

    fn query(endpoint: Endpoint, qs: &str) -> Query {
        parse(
            endpoint,
            &pairs(qs).unwrap(),
            &["00112233aabbccdd".into()],
            92,
            1_795_773_600_000,
        )
        .unwrap()
    }

    #[test]
    fn every_parameter_travels_as_a_typed_param_never_in_the_sql() {
        let target = Target {
            url: "http://ch".into(),
            database: "analytics".into(),
            user: "analytics_reader".into(),
            password: "pw".into(),
        };
        for e in Endpoint::ALL {
            let qs = match e {
                Endpoint::Funnel => "step=a'b&step=c--",
                Endpoint::Timeseries => "event=%27%3B%20DROP%20TABLE%20x--",
                Endpoint::Events => "event=%27%3B%20DROP%20TABLE%20x--&user=u'1&type=track",
                _ => "",
            };
            let q = query(e, qs);
            let req = request(&target, &q);
            assert!(req.body.starts_with("SELECT"), "{}", e.name());
            assert!(
                sql(e).ends_with(&req.body),
                "{}: the body is the committed SQL, unchanged",
                e.name()
            );
            for (name, _) in &q.params {
                assert!(
                    sql(e).contains(&format!("{{{name}:")),
                    "{}: {name} is declared",
                    e.name()
                );
                assert!(
                    req.url.contains(&format!("param_{name}=")),
                    "{}: {name} sent",
                    e.name()
                );
            }
            assert!(!req.url.contains('\''), "values are percent-encoded");
            assert!(
                req.headers
                    .contains(&("x-clickhouse-user", "analytics_reader".into()))
            );
        }
    }

    #[test]
    fn every_sql_file_reads_deduplicated_rows_of_the_scoped_keys_in_the_range() {
        for e in Endpoint::ALL {
            let s = sql(e);
            assert!(
                s.contains("write_key_id IN {keys:Array(String)}"),
                "{}",
                e.name()
            );
            assert!(s.contains(" FINAL"), "{}", e.name());
            assert!(
                s.contains("{from:DateTime64(3, 'UTC')}")
                    && s.contains("{to:DateTime64(3, 'UTC')}"),
                "{}",
                e.name()
            );
        }
    }

    #[test]
    fn answers_carry_rows_as_objects_and_the_timing() {
        let q = query(Endpoint::TopEvents, "");
        let body = br#"{"meta":[{"name":"event","type":"String"},{"name":"events","type":"UInt64"}],
            "data":[["Signup",3]],"rows":1,"statistics":{"elapsed":0.0123,"rows_read":42,"bytes_read":1000}}"#;
        let a = answer(&q, 200, body, 17).unwrap();
        assert_eq!(a["rows"][0]["event"], "Signup");
        assert_eq!(a["rows"][0]["events"], 3);
        assert_eq!(a["timing"]["clickhouse_ms"], 12.3);
        assert_eq!(a["timing"]["rows_read"], 42);
        assert_eq!(a["timing"]["round_trip_ms"], 17);
        assert!(matches!(
            answer(&q, 400, b"Code: 457", 1),
            Err(QueryError::Refused(_))
        ));
        assert!(matches!(
            answer(&q, 500, b"boom", 1),
            Err(QueryError::Upstream(_))
        ));
        assert!(matches!(
            answer(&q, 200, b"not json", 1),
            Err(QueryError::Upstream(_))
        ));
    }

    #[test]
    fn overview_reports_the_period_over_period_change() {
        let q = query(Endpoint::Overview, "");
        let body = br#"{"meta":[{"name":"events"},{"name":"users"},{"name":"prev_events"},{"name":"prev_users"},{"name":"sessions"},{"name":"prev_sessions"}],
            "data":[[15,3,10,0,4,2]],"statistics":{"elapsed":0.001,"rows_read":25}}"#;
        let a = answer(&q, 200, body, 1).unwrap();
        assert_eq!(a["totals"]["events"], 15);
        assert_eq!(a["change"]["events"], 0.5);
        assert_eq!(a["change"]["users"], Value::Null);
        assert_eq!(a["change"]["sessions"], 1.0);
    }

    #[test]
    fn the_cache_key_depends_on_scope_and_parameters() {
        let a = query(Endpoint::TopPages, "limit=5");
        let b = query(Endpoint::TopPages, "limit=6");
        let mut c = a.clone();
        c.params[0].1 = "['ffeeddccbbaa9988']".into();
        assert_ne!(cache_key(&a), cache_key(&b));
        assert_ne!(cache_key(&a), cache_key(&c));
        assert_eq!(
            cache_key(&a),
            cache_key(&query(Endpoint::TopPages, "limit=5"))
        );
    }
}
