//! Edge enrichment: `messageId` when missing, `receivedAt`, clock-skew corrected
//! `timestamp`, `context.ip` (optionally anonymised), `context.location` from the CDN's
//! geo data, and `context.userAgent` for browser calls. Client-sent context wins.

use crate::event::{KeySet, ObjectWriter, RawObject, push_json_str};
use crate::timestamp::format_ms;
use crate::validate::Checked;
use std::net::IpAddr;

/// Longest `User-Agent` copied into `context.userAgent`; longer ones are cut (at a
/// character boundary). Edge-added fields are bounded so they cannot multiply a request.
pub const MAX_USER_AGENT: usize = 512;
/// Longest geo value taken from CDN headers; longer values are ignored.
pub const MAX_GEO_VALUE: usize = 128;

/// Geo data the platform knows about the client (Cloudflare's `request.cf`, CDN headers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 country.
    pub country: Option<String>,
    /// Region / state name.
    pub region: Option<String>,
    /// City name.
    pub city: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// Latitude, as the CDN reports it.
    pub latitude: Option<String>,
    /// Longitude, as the CDN reports it.
    pub longitude: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
}

/// What the edge knows about the request, shared by all its events.
#[derive(Debug, Clone)]
pub struct Edge<'a> {
    /// Arrival time, Unix ms.
    pub now_ms: i64,
    /// Client IP, if known.
    pub ip: Option<IpAddr>,
    /// Replace the last octet (IPv4) / last 80 bits (IPv6) of IPs with zeros.
    pub anonymize_ip: bool,
    /// Geo data, if the platform has it.
    pub geo: Option<&'a Geo>,
    /// The `User-Agent` header of a browser call (None for server-side senders).
    pub user_agent: Option<&'a str>,
}

/// Geo data from CDN headers, for platforms without `request.cf` (Spin behind a CDN):
/// Cloudflare's visitor-location headers (`cf-ipcountry`, `cf-region`, `cf-ipcity`,
/// `cf-timezone`, `cf-iplatitude`, `cf-iplongitude`), else CloudFront's
/// `cloudfront-viewer-*`, else Vercel's `x-vercel-ip-*`. `None` when none is present.
pub fn geo_from_headers(h: &http::HeaderMap) -> Option<Geo> {
    let get = |names: &[&str]| {
        names.iter().find_map(|n| {
            h.get(*n)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && *v != "XX" && v.len() <= MAX_GEO_VALUE)
                .map(str::to_string)
        })
    };
    let geo = Geo {
        country: get(&[
            "cf-ipcountry",
            "cloudfront-viewer-country",
            "x-vercel-ip-country",
        ]),
        region: get(&[
            "cf-region",
            "cloudfront-viewer-country-region-name",
            "x-vercel-ip-country-region",
        ]),
        city: get(&["cf-ipcity", "cloudfront-viewer-city", "x-vercel-ip-city"]),
        timezone: get(&[
            "cf-timezone",
            "cloudfront-viewer-time-zone",
            "x-vercel-ip-timezone",
        ]),
        latitude: get(&[
            "cf-iplatitude",
            "cloudfront-viewer-latitude",
            "x-vercel-ip-latitude",
        ]),
        longitude: get(&[
            "cf-iplongitude",
            "cloudfront-viewer-longitude",
            "x-vercel-ip-longitude",
        ]),
        asn: None,
    };
    (geo != Geo::default()).then_some(geo)
}

/// Zero the host part of an address: /24 for IPv4, /48 for IPv6.
pub fn anonymize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4([a, b, c, 0].into())
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6([s[0], s[1], s[2], 0, 0, 0, 0, 0].into())
        }
    }
}

/// Clock-skew corrected timestamp: `receivedAt - (sentAt - clientTimestamp)`; the client
/// timestamp alone when there is no `sentAt`; `receivedAt` when there is neither.
pub fn corrected_timestamp(received_ms: i64, client_ms: Option<i64>, sent_ms: Option<i64>) -> i64 {
    match (client_ms, sent_ms) {
        (Some(ts), Some(sent)) => received_ms.saturating_sub(sent.saturating_sub(ts)),
        (Some(ts), None) => ts,
        (None, _) => received_ms,
    }
}

fn enriched_context(
    own: Option<&RawObject<'_>>,
    batch: Option<&RawObject<'_>>,
    edge: &Edge<'_>,
) -> String {
    let mut w = ObjectWriter::with_capacity(256);
    // Last occurrence wins: walk backwards and skip keys already written.
    let mut seen = KeySet::default();
    let mut client_ip: Option<IpAddr> = None;
    for (k, v) in own.iter().flat_map(|o| o.members.iter()).rev() {
        if !seen.insert(k.as_ref()) {
            continue;
        }
        if k == "ip" {
            // The client's own IP wins when it parses; otherwise the edge's is used. Either
            // way `ip` is written once, below.
            client_ip = crate::event::raw_str(v).and_then(|s| s.parse().ok());
            continue;
        }
        w.raw(k, v.get());
    }
    let has = |k: &str| seen.contains(k);
    // The batch context arrives de-duplicated (once per request, see `collector`).
    for (k, v) in batch.iter().flat_map(|o| o.members.iter()) {
        if k != "ip" && !has(k) {
            w.raw(k, v.get());
        }
    }
    if let Some(ip) = client_ip.or(edge.ip) {
        let ip = if edge.anonymize_ip { anonymize(ip) } else { ip };
        w.str("ip", &ip.to_string());
    }
    if let (false, Some(geo)) = (has("location"), edge.geo) {
        let mut g = ObjectWriter::with_capacity(128);
        let fields = [
            ("country", &geo.country),
            ("region", &geo.region),
            ("city", &geo.city),
            ("timezone", &geo.timezone),
            ("latitude", &geo.latitude),
            ("longitude", &geo.longitude),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                g.str(name, v);
            }
        }
        if let Some(asn) = geo.asn {
            g.raw("asn", &asn.to_string());
        }
        w.raw("location", &g.finish());
    }
    if let (false, Some(ua)) = (has("userAgent"), edge.user_agent) {
        w.str("userAgent", crate::validate::truncate(ua, MAX_USER_AGENT));
    }
    w.finish()
}

/// Fields the enricher writes itself; the client's copies are dropped (and `writeKey`
/// is never stored).
const REPLACED: &[&str] = &[
    "type",
    "messageId",
    "userId",
    "anonymousId",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "receivedAt",
    "context",
    "writeKey",
];

/// Inputs of [`enrich`] that come from the request rather than the event.
pub struct BatchInfo<'a> {
    /// The batch-level `context` (merged under each event's own), its keys de-duplicated.
    pub context: Option<&'a RawObject<'a>>,
    /// The batch-level `sentAt`, Unix ms.
    pub sent_at_ms: Option<i64>,
}

/// Write the enriched event as JSON. `generated_id` is used when the client sent no
/// `messageId`.
pub fn enrich(
    obj: &RawObject<'_>,
    checked: &Checked<'_>,
    batch: &BatchInfo<'_>,
    edge: &Edge<'_>,
    generated_id: &str,
    raw_len: usize,
) -> String {
    let mut w = ObjectWriter::with_capacity(raw_len + 256);
    w.str("type", checked.kind.as_str());
    w.str(
        "messageId",
        checked.message_id.as_deref().unwrap_or(generated_id),
    );
    if let Some(u) = &checked.user_id {
        w.str("userId", u);
    }
    if let Some(a) = &checked.anonymous_id {
        w.str("anonymousId", a);
    }
    let mut written = KeySet::default();
    for (k, v) in obj.members.iter().rev() {
        if REPLACED.contains(&k.as_ref()) || !written.insert(k.as_ref()) {
            continue;
        }
        w.raw(k, v.get());
    }
    let sent = checked.sent_at_ms.or(batch.sent_at_ms);
    // Skew correction against a far-off `sentAt` can leave the storable range: then the
    // arrival time is the best estimate there is.
    let ts = Some(corrected_timestamp(edge.now_ms, checked.client_ts_ms, sent))
        .filter(|ms| crate::timestamp::storable(*ms))
        .unwrap_or(edge.now_ms);
    w.str("timestamp", &format_ms(ts));
    if let Some(orig) = checked.client_ts_ms {
        w.str("originalTimestamp", &format_ms(orig));
    }
    if let Some(s) = sent {
        w.str("sentAt", &format_ms(s));
    }
    w.str("receivedAt", &format_ms(edge.now_ms));
    let own_ctx = obj
        .get_present("context")
        .and_then(|raw| RawObject::from_raw(raw).ok());
    let ctx = enriched_context(own_ctx.as_ref(), batch.context, edge);
    w.raw("context", &ctx);
    w.finish()
}

/// A random UUID v4 string from 16 random bytes.
pub fn uuid_v4(bytes: [u8; 16]) -> String {
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// Append `s` as a JSON string (re-exported for encoders).
pub fn json_str(s: &str) -> String {
    let mut b = String::with_capacity(s.len() + 2);
    push_json_str(&mut b, s);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::check;
    use serde_json::Value;

    fn edge(geo: Option<&Geo>) -> Edge<'_> {
        Edge {
            now_ms: 1_700_000_010_000,
            ip: Some("203.0.113.77".parse().unwrap()),
            anonymize_ip: false,
            geo,
            user_agent: None,
        }
    }

    fn run(json: &str, batch_ctx: Option<&str>, edge: &Edge<'_>) -> Value {
        let obj = RawObject::parse(json).unwrap();
        let checked = check(&obj, None, json.len(), 32768).unwrap();
        let bctx = batch_ctx.map(|c| RawObject::parse(c).unwrap());
        let info = BatchInfo {
            context: bctx.as_ref(),
            sent_at_ms: None,
        };
        let out = enrich(&obj, &checked, &info, edge, "gen-id", json.len());
        serde_json::from_str(&out).unwrap()
    }

    #[test]
    fn skew_correction() {
        // client clock 5 s behind: sent 10 s after the event by its own clock
        assert_eq!(
            corrected_timestamp(100_000, Some(80_000), Some(90_000)),
            90_000
        );
        assert_eq!(corrected_timestamp(100_000, Some(80_000), None), 80_000);
        assert_eq!(corrected_timestamp(100_000, None, Some(1)), 100_000);
    }

    #[test]
    fn adds_server_fields_and_keeps_everything_else() {
        let v = run(
            r#"{"type":"track","event":"Buy","userId":"u1","writeKey":"secret","properties":{"price":9.5,"tags":["a"]},"custom":true,
                "timestamp":"2023-11-14T22:13:20.000Z","sentAt":"2023-11-14T22:13:25.000Z","context":{"library":{"name":"x"}}}"#,
            None,
            &edge(None),
        );
        assert_eq!(v["messageId"], "gen-id");
        assert_eq!(v["properties"]["price"], 9.5);
        assert_eq!(v["custom"], true);
        assert!(v.get("writeKey").is_none());
        assert_eq!(v["originalTimestamp"], "2023-11-14T22:13:20.000Z");
        assert_eq!(v["receivedAt"], "2023-11-14T22:13:30.000Z");
        assert_eq!(v["timestamp"], "2023-11-14T22:13:25.000Z");
        assert_eq!(v["context"]["ip"], "203.0.113.77");
        assert_eq!(v["context"]["library"]["name"], "x");
    }

    #[test]
    fn client_ip_and_location_win_and_anonymisation_applies_to_both() {
        let geo = Geo {
            country: Some("US".into()),
            city: Some("Dallas".into()),
            asn: Some(395747),
            ..Geo::default()
        };
        let v = run(
            r#"{"type":"page","anonymousId":"a","context":{"ip":"198.51.100.9"}}"#,
            None,
            &edge(Some(&geo)),
        );
        assert_eq!(v["context"]["ip"], "198.51.100.9");
        assert_eq!(v["context"]["location"]["country"], "US");
        assert_eq!(v["context"]["location"]["asn"], 395747);
        let mut e = edge(Some(&geo));
        e.anonymize_ip = true;
        let v = run(
            r#"{"type":"page","anonymousId":"a","context":{"ip":"198.51.100.9","location":{"city":"Oslo"}}}"#,
            None,
            &e,
        );
        assert_eq!(v["context"]["ip"], "198.51.100.0");
        assert_eq!(v["context"]["location"], serde_json::json!({"city":"Oslo"}));
    }

    #[test]
    fn batch_context_fills_gaps_only() {
        let v = run(
            r#"{"type":"identify","userId":"u","context":{"locale":"de"}}"#,
            Some(r#"{"locale":"en","app":{"name":"shop"}}"#),
            &edge(None),
        );
        assert_eq!(v["context"]["locale"], "de");
        assert_eq!(v["context"]["app"]["name"], "shop");
    }

    #[test]
    fn geo_from_cdn_headers() {
        let mut h = http::HeaderMap::new();
        assert_eq!(geo_from_headers(&h), None);
        h.insert("cf-ipcountry", "NO".parse().unwrap());
        h.insert("x-vercel-ip-city", "Oslo".parse().unwrap());
        let g = geo_from_headers(&h).unwrap();
        assert_eq!(
            (g.country.as_deref(), g.city.as_deref()),
            (Some("NO"), Some("Oslo"))
        );
        let mut unknown = http::HeaderMap::new();
        unknown.insert("cf-ipcountry", "XX".parse().unwrap());
        assert_eq!(geo_from_headers(&unknown), None);
    }

    #[test]
    fn ipv6_anonymisation_keeps_48_bits() {
        let ip: IpAddr = "2001:db8:abcd:12:1:2:3:4".parse().unwrap();
        assert_eq!(anonymize(ip).to_string(), "2001:db8:abcd::");
    }

    #[test]
    fn uuid_is_v4_shaped() {
        let u = uuid_v4([7; 16]);
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
    }
}
