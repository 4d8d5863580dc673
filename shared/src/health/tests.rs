use super::*;

/// A backend answer with this status and body.
fn answer(parts: (u16, Vec<u8>)) -> crate::io::CallOutcome {
    Ok(parts.into())
}

fn probes(metrics: bool) -> Probes {
    let t = Target {
        url: "http://c".into(),
        database: "analytics".into(),
        user: "u".into(),
        password: Default::default(),
    };
    match plan(
        "GET",
        if metrics { "/metrics" } else { "/health" },
        Ok(()),
        Some(("s", 1, "g")),
        Some(&t),
    ) {
        HealthPlan::Probe(p) => p,
        HealthPlan::Respond(r) => panic!("{}", r.body),
    }
}

fn stats_ok() -> CallOutcome {
    answer((200, br#"{"result":[5,2,"1000-0",1,1]}"#.to_vec()))
}

#[test]
fn deep_routes_need_the_metrics_token() {
    let x = secrecy::SecretString::from("x");
    for path in ["/health", "/metrics"] {
        for (token, auth) in [
            (None, Some("Bearer x")),
            (Some(&x), None),
            (Some(&x), Some("Bearer y")),
        ] {
            let HealthPlan::Respond(r) = plan(
                "GET",
                path,
                deep_access(token, auth),
                Some(("s", 1, "g")),
                None,
            ) else {
                panic!("{path} probed without the token")
            };
            assert_eq!(r.status, 401);
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        }
        let ok = plan(
            "GET",
            path,
            deep_access(Some(&x), Some("Bearer x")),
            Some(("s", 1, "g")),
            None,
        );
        assert!(matches!(ok, HealthPlan::Probe(_)));
    }
}

#[test]
fn liveness_needs_no_dependency() {
    assert!(
        matches!(plan("GET", "/livez", Err("closed"), Some(("s", 1, "g")), None), HealthPlan::Respond(r) if r.status == 200)
    );
    assert!(
        matches!(plan("GET", "/health", Ok(()), None, None), HealthPlan::Probe(p) if p.clickhouse.is_none() && p.redis.is_none())
    );
    assert!(
        matches!(plan("POST", "/health", Ok(()), None, None), HealthPlan::Respond(r) if r.status == 405)
    );
}

#[test]
fn health_reports_each_dependency_and_the_backlog() {
    let ok = finish(
        &probes(false),
        Some((stats_ok(), 1.234)),
        Some((answer((200, b"0.25\n".to_vec())), 2.0)),
        4000,
    );
    assert_eq!(ok.status, 200);
    let v: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(v["checks"]["redis"]["latency_ms"], 1.23);
    assert_eq!(v["checks"]["clickhouse"]["status"], "ok");
    assert_eq!(v["checks"]["clickhouse"]["disk_used_ratio"], 0.25);
    assert_eq!(v["stream"]["lag_seconds"], 3.0);
    let down = finish(
        &probes(false),
        Some((stats_ok(), 1.0)),
        Some((Err("refused".into()), 0.5)),
        4000,
    );
    assert_eq!(down.status, 503);
    let v: serde_json::Value = serde_json::from_str(&down.body).unwrap();
    assert_eq!(v["checks"]["clickhouse"]["status"], "error");
    let redis_down = finish(&probes(false), Some((Err("refused".into()), 1.0)), None, 0);
    assert_eq!(redis_down.status, 503);
}

#[test]
fn metrics_are_prometheus_text() {
    let m = finish(
        &probes(true),
        Some((stats_ok(), 1.0)),
        Some((answer((200, b"0.5".to_vec())), 2.0)),
        4000,
    );
    assert!(
        m.body
            .contains("# TYPE ingest_stream_length gauge\ningest_stream_length 5\n")
    );
    assert!(m.body.contains("ingest_processor_lag_seconds 3\n"));
    assert!(m.body.contains("ingest_clickhouse_disk_used_ratio 0.5\n"));
    assert!(m.body.contains("# TYPE ingest_requests_total counter\n"));
    assert!(
        m.body
            .contains("ingest_dependency_up{dependency=\"clickhouse\"} 1\n")
    );
    assert_eq!(m.header("content-type"), Some("text/plain; version=0.0.4"));
}
