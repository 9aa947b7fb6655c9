//! The server's running counts: what `GET /stats` gives as JSON and `GET /metrics` in the
//! Prometheus text exposition format (0.0.4), from the same atomics, so the two always agree.
//!
//! This module counts and renders; it never decides what a request gets.

use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Alert levels as Sigma names them; anything else is counted as `none`.
const LEVELS: [&str; 6] = ["informational", "low", "medium", "high", "critical", "none"];
/// What an alert line is (its `kind`).
const KINDS: [&str; 4] = ["detection", "correlation", "suppression", "other"];
/// Paths the latency histogram tells apart; the rest are `other`.
const PATHS: [&str; 7] = ["/events", "/stats", "/metrics", "/alerts", "/healthz", "/shutdown", "other"];
/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Latency {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    micros: AtomicU64,
}

#[derive(Default)]
pub struct Counts {
    pub requests_ok: AtomicU64,
    /// Per status code of refused requests.
    requests_bad: Mutex<BTreeMap<u16, u64>>,
    pub events_read: AtomicU64,
    pub events_rejected: AtomicU64,
    pub detections: AtomicU64,
    pub correlations: AtomicU64,
    /// Alert lines written, by kind and level.
    alerts: [[AtomicU64; LEVELS.len()]; KINDS.len()],
    /// Correlation groups open after the last body was fed.
    pub open_groups: AtomicU64,
    pub connections_open: AtomicU64,
    pub connections_accepted: AtomicU64,
    /// Connections closed at once because the server was at its cap.
    pub connections_refused: AtomicU64,
    latency: [Latency; PATHS.len()],
}

fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl Counts {
    pub fn count_bad(&self, status: u16) {
        *self.requests_bad.lock().unwrap_or_else(|p| p.into_inner()).entry(status).or_default() += 1;
    }

    /// Counts the alert lines in `bytes` (whole lines, as written) by kind and level.
    pub fn count_alert_lines(&self, bytes: &[u8]) {
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let (kind, level) = kind_and_level(line);
            self.alerts[kind][level].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records how long a request to `path` took to answer.
    pub fn observe_latency(&self, path: &str, took: Duration) {
        let index = PATHS.iter().position(|p| *p == path).unwrap_or(PATHS.len() - 1);
        let latency = &self.latency[index];
        let seconds = took.as_secs_f64();
        for (bucket, bound) in latency.buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        latency.count.fetch_add(1, Ordering::Relaxed);
        latency.micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn to_json(&self) -> serde_json::Value {
        let bad = self.requests_bad.lock().unwrap_or_else(|p| p.into_inner()).clone();
        json!({
            "requests": {"ok": load(&self.requests_ok), "bad": bad.values().sum::<u64>(), "bad_by_status": bad},
            "events": {"read": load(&self.events_read), "rejected": load(&self.events_rejected)},
            "alerts": {"detections": load(&self.detections), "correlations": load(&self.correlations)},
        })
    }

    /// The counts in the Prometheus text format, version 0.0.4.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, kind: &str, value: u64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n");
        };
        counter("sigil_events_read_total", "Events evaluated.", "counter", load(&self.events_read));
        counter("sigil_events_rejected_total", "Lines that held no event.", "counter", load(&self.events_rejected));
        counter(
            "sigil_detections_total",
            "Detection alerts (as /stats counts them).",
            "counter",
            load(&self.detections),
        );
        counter(
            "sigil_correlation_alerts_total",
            "Correlation and suppression alerts (as /stats counts them).",
            "counter",
            load(&self.correlations),
        );
        counter("sigil_correlation_groups_open", "Correlation groups open.", "gauge", load(&self.open_groups));
        counter("sigil_connections_open", "Client connections open.", "gauge", load(&self.connections_open));
        counter(
            "sigil_connections_accepted_total",
            "Client connections accepted.",
            "counter",
            load(&self.connections_accepted),
        );
        counter(
            "sigil_connections_refused_total",
            "Connections closed at once: the server was at --max-connections.",
            "counter",
            load(&self.connections_refused),
        );
        out.push_str("# HELP sigil_alerts_total Alert lines written, by kind and rule level.\n");
        out.push_str("# TYPE sigil_alerts_total counter\n");
        for (kind, levels) in KINDS.iter().zip(&self.alerts) {
            for (level, n) in LEVELS.iter().zip(levels) {
                let _ = writeln!(out, "sigil_alerts_total{{kind=\"{kind}\",level=\"{level}\"}} {}", load(n));
            }
        }
        out.push_str("# HELP sigil_requests_total Requests answered, by status.\n");
        out.push_str("# TYPE sigil_requests_total counter\n");
        let _ = writeln!(out, "sigil_requests_total{{status=\"200\"}} {}", load(&self.requests_ok));
        for (status, n) in self.requests_bad.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "sigil_requests_total{{status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP sigil_request_duration_seconds Time to answer a request, by path.\n");
        out.push_str("# TYPE sigil_request_duration_seconds histogram\n");
        for (path, latency) in PATHS.iter().zip(&self.latency) {
            let name = "sigil_request_duration_seconds";
            for (bound, n) in BUCKETS.iter().zip(&latency.buckets) {
                let _ = writeln!(out, "{name}_bucket{{path=\"{path}\",le=\"{bound}\"}} {}", load(n));
            }
            let count = load(&latency.count);
            let _ = writeln!(out, "{name}_bucket{{path=\"{path}\",le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "{name}_sum{{path=\"{path}\"}} {}", load(&latency.micros) as f64 / 1e6);
            let _ = writeln!(out, "{name}_count{{path=\"{path}\"}} {count}");
        }
        out
    }
}

/// The kind and level of an alert line, as indexes in [`KINDS`] and [`LEVELS`]. Alerts are
/// written `{"kind":K,"rule":{...,"level":L,...}`: the first `"level":` is the rule's (a
/// quote inside a string is escaped, so no string value can hold that sequence).
fn kind_and_level(line: &[u8]) -> (usize, usize) {
    let kind = line
        .strip_prefix(br#"{"kind":""#)
        .and_then(|rest| {
            KINDS[..3].iter().position(|k| rest.starts_with(k.as_bytes()) && rest.get(k.len()) == Some(&b'"'))
        })
        .unwrap_or(KINDS.len() - 1);
    let level = memchr::memmem::find(line, br#""level":""#)
        .map(|at| &line[at + 9..])
        .and_then(|rest| {
            LEVELS[..5].iter().position(|l| rest.starts_with(l.as_bytes()) && rest.get(l.len()) == Some(&b'"'))
        })
        .unwrap_or(LEVELS.len() - 1);
    (kind, level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_line_gives_its_kind_and_its_rules_level() {
        let line = br#"{"kind":"correlation","rule":{"id":"x","title":"a \"level\":\"low\"","level":"high"}}"#;
        assert_eq!(kind_and_level(line), (1, 3));
        assert_eq!(kind_and_level(br#"{"kind":"detection","rule":{"level":null}}"#), (0, 5));
        assert_eq!(kind_and_level(b"garbage"), (3, 5));
    }
}
