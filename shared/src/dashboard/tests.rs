//! The dashboard's request handler end to end against a scripted port: login, token use,
//! logout, scoping, and what reaches ClickHouse.

use super::password::{MIN_ITERATIONS, PasswordHash};
use super::{Assets, DashboardConfig, Incoming, NoCache, serve};
use crate::clickhouse;
use crate::io::{CallOutcome, Io, Random};
use crate::redis::RestCall;
use crate::test_support::block_on;
use serde_json::{Value, json};
use std::cell::RefCell;

const K1: &str = "00112233aabbccdd";
const K2: &str = "ffeeddccbbaa9988";
const NOW: i64 = 1_795_773_600_000;

/// Answers Redis by command (a set of revoked token ids), ClickHouse with one canned row,
/// and records every call.
#[derive(Default)]
struct FakeIo {
    redis: RefCell<Vec<Vec<String>>>,
    clickhouse: RefCell<Vec<clickhouse::Request>>,
    revoked: RefCell<Vec<String>>,
}

impl Io for FakeIo {
    async fn redis(&self, call: &RestCall) -> CallOutcome {
        let args: Vec<String> = serde_json::from_str(&call.body).unwrap_or_default();
        self.redis.borrow_mut().push(args.clone());
        let result = match args.first().map(String::as_str) {
            Some("EXISTS") => json!(i64::from(
                self.revoked.borrow().iter().any(|k| Some(k) == args.get(1))
            )),
            Some("SET") => {
                self.revoked.borrow_mut().push(args[1].clone());
                json!("OK")
            }
            Some("EVAL") => json!([1, 1, 300_000]),
            _ => json!("PONG"),
        };
        Ok((200, json!({ "result": result }).to_string().into_bytes()).into())
    }
    async fn clickhouse(&self, req: &clickhouse::Request) -> CallOutcome {
        self.clickhouse.borrow_mut().push(req.clone());
        let body = r#"{"meta":[{"name":"event"},{"name":"events"}],"data":[["Signup",2]],"statistics":{"elapsed":0.001,"rows_read":10}}"#;
        Ok((200, body.as_bytes().to_vec()).into())
    }
    fn now_ms(&self) -> i64 {
        NOW
    }
    async fn sleep(&self, _ms: u64) {}
}

struct Fixed;
impl Random for Fixed {
    fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(7);
    }
}

fn cfg() -> DashboardConfig {
    let users = format!(
        "alice:{}:{K1}",
        PasswordHash::new("pw", [1; 16], MIN_ITERATIONS)
    );
    DashboardConfig::from_lookup(|k| {
        Some(match k {
            "JWT_SECRET" => "0123456789abcdef0123456789abcdef".into(),
            "DASHBOARD_USERS" => users.clone(),
            "CLICKHOUSE_URL" => "http://ch".into(),
            "REDIS_URL" => "http://redis".into(),
            "REDIS_TOKEN" => "t".into(),
            _ => return None,
        })
    })
    .unwrap()
}

const ASSETS: Assets = Assets {
    script: "/*js*/",
    style: "/*css*/",
};

fn call(
    io: &FakeIo,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value, crate::Reply) {
    let mut h = http::HeaderMap::new();
    for (k, v) in headers {
        h.insert(
            http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let req = Incoming {
        method,
        path,
        query,
        headers: &h,
        body: body.as_bytes(),
        client: "10.0.0.1",
        now_ms: NOW,
    };
    let reply = block_on(serve(&cfg(), &ASSETS, &req, io, &NoCache, &mut Fixed));
    let json = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    (reply.status, json, reply)
}

fn login(io: &FakeIo) -> String {
    let (status, body, reply) = call(
        io,
        "POST",
        "/api/login",
        &[],
        r#"{"user":"alice","password":"pw"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        reply
            .header("set-cookie")
            .unwrap()
            .contains("HttpOnly; Secure; SameSite=Strict")
    );
    body["token"].as_str().unwrap().to_string()
}

#[test]
fn a_login_token_reads_its_projects_through_typed_parameters() {
    let io = FakeIo::default();
    let token = login(&io);
    let bearer = format!("Bearer {token}");
    let (status, body, reply) = call(
        &io,
        "GET",
        "/api/top_events?limit=5&from=2026-11-20T00:00:00Z&to=2026-11-27T00:00:00Z",
        &[("authorization", &bearer)],
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"][0]["event"], "Signup");
    assert!(
        reply
            .header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let sent = io.clickhouse.borrow();
    let req = sent.last().unwrap();
    assert!(
        req.url.contains(&format!("param_keys=%5B%27{K1}%27%5D")),
        "{}",
        req.url
    );
    assert!(req.url.contains("param_limit=5") && req.url.contains("database=analytics"));
    assert!(
        req.headers
            .contains(&("x-clickhouse-user", "analytics_reader".into()))
    );
    assert!(req.body.starts_with("SELECT"));
    // the login attempt was counted before the password was checked
    assert_eq!(io.redis.borrow()[0][0], "EVAL");
}

#[test]
fn another_project_is_403_and_a_logged_out_token_is_401() {
    let io = FakeIo::default();
    let token = login(&io);
    let bearer = format!("Bearer {token}");
    let (status, body, _) = call(
        &io,
        "GET",
        &format!("/api/overview?key={K2}"),
        &[("authorization", &bearer)],
        "",
    );
    assert_eq!(
        (status, body["error"].as_str(), body["field"].as_str()),
        (403, Some("project_not_allowed"), Some("key"))
    );
    let (status, _, reply) = call(
        &io,
        "POST",
        "/api/logout",
        &[("cookie", &format!("dash_session={token}"))],
        "",
    );
    assert_eq!(status, 200);
    assert!(reply.header("set-cookie").unwrap().contains("Max-Age=0"));
    let (status, body, _) = call(&io, "GET", "/api/me", &[("authorization", &bearer)], "");
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("token_revoked"))
    );
    assert!(io.clickhouse.borrow().is_empty(), "nothing was queried");
}

#[test]
fn refusals_never_reach_clickhouse() {
    let io = FakeIo::default();
    let token = login(&io);
    let bearer = format!("Bearer {token}");
    for (path, status) in [
        (
            "/api/overview?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            400,
        ),
        ("/api/events?type=x%27%3B%20DROP", 400),
        ("/api/nope", 404),
    ] {
        assert_eq!(
            call(&io, "GET", path, &[("authorization", &bearer)], "").0,
            status,
            "{path}"
        );
    }
    assert_eq!(call(&io, "GET", "/api/overview", &[], "").0, 401);
    assert_eq!(
        call(
            &io,
            "GET",
            "/api/me",
            &[
                ("authorization", &bearer),
                ("origin", "https://evil.example")
            ],
            ""
        )
        .0,
        403
    );
    assert_eq!(
        call(
            &io,
            "DELETE",
            "/api/overview",
            &[("authorization", &bearer)],
            ""
        )
        .0,
        405
    );
    assert!(io.clickhouse.borrow().is_empty());
    assert_eq!(
        call(
            &io,
            "POST",
            "/api/login",
            &[],
            r#"{"user":"alice","password":"nope"}"#
        )
        .0,
        401
    );
    let (_, body, _) = call(&io, "POST", "/api/login", &[], r#"{"user":"alice"}"#);
    assert_eq!(body["field"], "password");
}

#[test]
fn the_page_and_assets_are_served() {
    let io = FakeIo::default();
    let (status, _, page) = call(&io, "GET", "/", &[], "");
    assert_eq!(status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let (_, _, js) = call(&io, "GET", "/assets/app.js", &[], "");
    assert_eq!(
        (js.body.as_str(), js.header("x-content-type-options")),
        ("/*js*/", Some("nosniff"))
    );
    assert_eq!(call(&io, "GET", "/livez", &[], "").0, 200);
    assert_eq!(call(&io, "GET", "/health", &[], "").0, 401);
}
