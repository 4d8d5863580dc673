//! Request metrics without extra Redis calls: each request's route, status and duration
//! are recorded into [`Metrics`] (per Worker isolate), and an ingest script call carries
//! the accumulated increments to the `<stream>:metrics` hash (`HINCRBY`), at most once per
//! [`FLUSH_EVERY_MS`] per isolate, so the billed `HINCRBY`s are shared by every request of
//! that interval. If that call fails the increments are put back, so 5xx answered while
//! Redis was down are counted once it is back. `/metrics` renders the hash as Prometheus
//! counters.

use std::collections::BTreeMap;

/// Upper bounds (ms) of the request-duration histogram buckets.
pub const BUCKETS_MS: &[u64] = &[5, 10, 25, 50, 100, 200, 500, 1000, 2500];

/// Shortest time between two flushes of one isolate's counters.
pub const FLUSH_EVERY_MS: i64 = 10_000;
/// Shortest time between two offers of the drain lock by one isolate.
pub const LOCK_OFFER_EVERY_MS: i64 = 1_000;

/// What one instance carries from request to request: counter increments not yet
/// written to Redis, when it last flushed them, and when it last offered to drain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    deltas: BTreeMap<String, u64>,
    flushed_ms: Option<i64>,
    lock_offered_ms: Option<i64>,
    /// Set on a [`Metrics::detach`]ed copy: whether its request may flush and offer the
    /// lock, decided against the isolate's clocks when it was detached.
    granted: Option<(bool, bool)>,
}

impl Metrics {
    fn add(&mut self, field: String, n: u64) {
        if n > 0 {
            *self.deltas.entry(field).or_insert(0) += n;
        }
    }

    /// Record one finished request.
    pub fn record(
        &mut self,
        route: &str,
        status: u16,
        duration_ms: f64,
        accepted: usize,
        rejected: usize,
    ) {
        self.add(format!("requests|{route}|{status}"), 1);
        let ms = duration_ms.max(0.0);
        for le in BUCKETS_MS {
            if ms <= *le as f64 {
                self.add(format!("duration_le|{le}"), 1);
            }
        }
        self.add("duration_le|+Inf".into(), 1);
        self.add("duration_sum_us".into(), (ms * 1000.0).round() as u64);
        self.add("events|accepted".into(), accepted as u64);
        self.add("events|rejected".into(), rejected as u64);
    }

    /// Take the increments as (field, increment) pairs for the ingest script.
    pub fn take(&mut self) -> Vec<(String, u64)> {
        std::mem::take(&mut self.deltas).into_iter().collect()
    }

    /// Take the increments if the last flush is [`FLUSH_EVERY_MS`] old (or none
    /// happened yet); nothing otherwise.
    pub fn take_due(&mut self, now_ms: i64) -> Vec<(String, u64)> {
        if let Some((flush, _)) = self.granted {
            return if flush { self.take() } else { Vec::new() };
        }
        if self
            .flushed_ms
            .is_some_and(|t| (0..FLUSH_EVERY_MS).contains(&(now_ms - t)))
        {
            return Vec::new();
        }
        self.flushed_ms = Some(now_ms);
        self.take()
    }

    /// Whether this request should offer to drain: at most once per `every_ms`.
    pub fn offer_lock(&mut self, now_ms: i64, every_ms: i64) -> bool {
        if let Some((_, offer)) = self.granted {
            return offer;
        }
        if self
            .lock_offered_ms
            .is_some_and(|t| (0..every_ms).contains(&(now_ms - t)))
        {
            return false;
        }
        self.lock_offered_ms = Some(now_ms);
        true
    }

    /// The counters and decisions for one request of a shared instance (a Worker isolate
    /// serves many at once). Decided here, against the isolate's clocks, which move at
    /// once: of the requests in flight only one flushes the counters (the others carry
    /// none) and only one offers the drain lock per interval.
    pub fn detach(&mut self, now_ms: i64) -> Metrics {
        let offer = self.offer_lock(now_ms, LOCK_OFFER_EVERY_MS);
        let flush = !self
            .flushed_ms
            .is_some_and(|t| (0..FLUSH_EVERY_MS).contains(&(now_ms - t)));
        if flush {
            self.flushed_ms = Some(now_ms);
        }
        Metrics {
            deltas: if flush {
                std::mem::take(&mut self.deltas)
            } else {
                BTreeMap::new()
            },
            flushed_ms: self.flushed_ms,
            lock_offered_ms: self.lock_offered_ms,
            granted: Some((flush, offer)),
        }
    }

    /// Merge a [`Metrics::detach`]ed copy back after its request: its increments are
    /// added, and each clock keeps the later of the two.
    pub fn merge(&mut self, other: Metrics) {
        let failed = other.granted.is_some_and(|(flush, _)| flush) && other.flushed_ms.is_none();
        for (f, n) in other.deltas {
            self.add(f, n);
        }
        if failed {
            // The flush it was granted failed: the next request tries again.
            self.flushed_ms = None;
        }
    }

    /// Put increments back after a failed write (the next call flushes them).
    pub fn restore(&mut self, pairs: Vec<(String, u64)>) {
        if !pairs.is_empty() {
            self.flushed_ms = None;
        }
        for (f, n) in pairs {
            self.add(f, n);
        }
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty()
    }
}

/// The Redis hash holding the counters of a stream's deployment.
pub fn hash_key(stream: &str) -> String {
    format!("{stream}:metrics")
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', " ")
}

/// Render the counters hash (flat `[field, value, ...]`) as Prometheus text.
pub fn render(flat: &[String]) -> String {
    use std::fmt::Write as _;
    let mut requests = Vec::new();
    let mut buckets: Vec<(f64, String, u64)> = Vec::new();
    let mut sum_us = 0u64;
    let mut events = Vec::new();
    let mut rows = 0u64;
    for pair in flat.chunks(2) {
        let [field, value] = pair else { continue };
        let Ok(n) = value.parse::<u64>() else {
            continue;
        };
        let parts: Vec<&str> = field.split('|').collect();
        match parts.as_slice() {
            ["requests", route, code] => requests.push((route.to_string(), code.to_string(), n)),
            ["duration_le", le] => {
                let order = le.parse::<u64>().map_or(f64::INFINITY, |ms| ms as f64);
                buckets.push((order, le.to_string(), n));
            }
            ["duration_sum_us"] => sum_us = n,
            ["events", outcome] => events.push((outcome.to_string(), n)),
            ["rows_inserted"] => rows = n,
            _ => {}
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP ingest_requests_total Collector requests by route and HTTP status."
    );
    let _ = writeln!(out, "# TYPE ingest_requests_total counter");
    for (route, code, n) in &requests {
        let _ = writeln!(
            out,
            "ingest_requests_total{{route=\"{}\",code=\"{}\"}} {n}",
            label(route),
            label(code)
        );
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let count = buckets.iter().find(|b| b.1 == "+Inf").map_or(0, |b| b.2);
    let _ = writeln!(
        out,
        "# HELP ingest_request_duration_seconds Collector request duration."
    );
    let _ = writeln!(out, "# TYPE ingest_request_duration_seconds histogram");
    for (_, le, n) in &buckets {
        let le = match le.parse::<u64>() {
            Ok(ms) => (ms as f64 / 1000.0).to_string(),
            Err(_) => "+Inf".to_string(),
        };
        let _ = writeln!(
            out,
            "ingest_request_duration_seconds_bucket{{le=\"{le}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "ingest_request_duration_seconds_sum {}",
        sum_us as f64 / 1e6
    );
    let _ = writeln!(out, "ingest_request_duration_seconds_count {count}");
    let _ = writeln!(
        out,
        "# HELP ingest_events_total Events accepted or rejected by the collector."
    );
    let _ = writeln!(out, "# TYPE ingest_events_total counter");
    for (outcome, n) in &events {
        let _ = writeln!(
            out,
            "ingest_events_total{{outcome=\"{}\"}} {n}",
            label(outcome)
        );
    }
    let _ = writeln!(
        out,
        "# HELP ingest_rows_inserted_total Rows the processors inserted into ClickHouse."
    );
    let _ = writeln!(out, "# TYPE ingest_rows_inserted_total counter");
    let _ = writeln!(out, "ingest_rows_inserted_total {rows}");
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn counters_are_flushed_at_most_once_per_interval_and_retried_after_a_failure() {
        let mut m = Metrics::default();
        m.record("batch", 200, 3.0, 1, 0);
        assert!(!m.take_due(0).is_empty(), "the first call flushes");
        m.record("batch", 200, 3.0, 1, 0);
        assert!(
            m.take_due(FLUSH_EVERY_MS - 1).is_empty(),
            "within the interval"
        );
        let due = m.take_due(FLUSH_EVERY_MS);
        assert!(!due.is_empty());
        m.restore(due); // the call failed: the next request carries them
        assert!(!m.take_due(FLUSH_EVERY_MS + 1).is_empty());
    }

    #[test]
    fn of_concurrent_requests_one_flushes_and_one_offers_the_lock_per_interval() {
        let mut isolate = Metrics::default();
        isolate.record("batch", 200, 3.0, 1, 0);
        // two requests in flight at once
        let mut one = isolate.detach(0);
        let mut two = isolate.detach(1);
        assert!(!one.take_due(0).is_empty());
        assert!(one.offer_lock(0, LOCK_OFFER_EVERY_MS));
        assert!(two.take_due(1).is_empty());
        assert!(!two.offer_lock(1, LOCK_OFFER_EVERY_MS));
        one.record("batch", 200, 3.0, 1, 0);
        two.record("batch", 200, 3.0, 1, 0);
        isolate.merge(one);
        isolate.merge(two);
        // within the interval: nothing flushed; after it: both requests' counts at once
        assert!(isolate.detach(5_000).take_due(5_000).is_empty());
        let due = isolate.detach(FLUSH_EVERY_MS).take_due(FLUSH_EVERY_MS);
        assert_eq!(
            due.iter()
                .find(|(f, _)| f == "requests|batch|200")
                .map(|p| p.1),
            Some(2)
        );
    }

    #[test]
    fn a_failed_flush_is_retried_by_the_next_request() {
        let mut isolate = Metrics::default();
        isolate.record("batch", 503, 3.0, 0, 0);
        let mut one = isolate.detach(0);
        let carried = one.take_due(0);
        one.restore(carried); // the call failed
        isolate.merge(one);
        assert!(!isolate.detach(1).take_due(1).is_empty());
    }

    #[test]
    fn the_drain_lock_is_offered_at_most_once_per_interval() {
        let mut m = Metrics::default();
        assert!(m.offer_lock(0, 1000));
        assert!(!m.offer_lock(999, 1000));
        assert!(m.offer_lock(1000, 1000));
        assert!(
            m.offer_lock(-5000, 1000),
            "a clock that went back does not block it"
        );
    }

    use super::*;

    #[test]
    fn record_take_restore() {
        let mut m = Metrics::default();
        m.record("batch", 200, 30.0, 100, 1);
        m.record("batch", 503, 3000.0, 0, 0);
        let taken = m.take();
        assert!(m.is_empty());
        let get = |f: &str| taken.iter().find(|(k, _)| k == f).map(|(_, n)| *n);
        assert_eq!(get("requests|batch|200"), Some(1));
        assert_eq!(get("duration_le|50"), Some(1));
        assert_eq!(get("duration_le|25"), None);
        assert_eq!(get("duration_le|+Inf"), Some(2));
        assert_eq!(get("events|accepted"), Some(100));
        m.restore(taken.clone());
        m.record("batch", 200, 1.0, 1, 0);
        assert_eq!(
            m.take()
                .iter()
                .find(|(k, _)| k == "requests|batch|200")
                .map(|x| x.1),
            Some(2)
        );
    }

    #[test]
    fn render_is_prometheus_text() {
        let flat: Vec<String> = [
            "requests|batch|200",
            "7",
            "duration_le|50",
            "5",
            "duration_le|+Inf",
            "7",
            "duration_le|5",
            "1",
            "duration_sum_us",
            "250000",
            "events|accepted",
            "700",
            "rows_inserted",
            "690",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let text = render(&flat);
        assert!(text.contains("ingest_requests_total{route=\"batch\",code=\"200\"} 7\n"));
        let b5 = text.find("le=\"0.005\"").unwrap();
        let b50 = text.find("le=\"0.05\"").unwrap();
        let inf = text.find("le=\"+Inf\"").unwrap();
        assert!(b5 < b50 && b50 < inf);
        assert!(text.contains("ingest_request_duration_seconds_sum 0.25\n"));
        assert!(text.contains("ingest_request_duration_seconds_count 7\n"));
        assert!(text.contains("ingest_rows_inserted_total 690\n"));
    }
}
