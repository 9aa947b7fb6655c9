//! A worker's counts: on standard error every few seconds and, with `--metrics ADDR`, at
//! `GET /metrics` in the Prometheus text format (a minimal HTTP/1.1 answer on a Tokio socket;
//! anything else gets 404).
//!
//! It owns the counters and their two renderings; the loops that do the work only add to them.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Default)]
pub struct Metrics {
    /// Event messages evaluated (dead letters included) and acknowledged.
    pub events: AtomicU64,
    pub detection_alerts: AtomicU64,
    pub correlation_alerts: AtomicU64,
    pub feeds_published: AtomicU64,
    pub feeds_applied: AtomicU64,
    pub dead_letters: AtomicU64,
    pub checkpoints: AtomicU64,
    /// Partitions taken (at start, or over from a dead or departed worker).
    pub acquisitions: AtomicU64,
    /// Events not yet delivered to any worker (the shared consumer's pending count).
    pub lag: AtomicU64,
    pub owned: Mutex<BTreeSet<u32>>,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn owned(&self) -> Vec<u32> {
        self.owned.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect()
    }

    /// The Prometheus text exposition of the counts, labelled with the worker's id.
    pub fn prometheus(&self, worker: &str, rate: f64) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{worker=\"{worker}\"}} {value}\n"
            ));
        };
        let c = |a: &AtomicU64| Metrics::get(a).to_string();
        metric("sigil_events_total", "counter", "Event messages evaluated and acknowledged.", c(&self.events));
        metric(
            "sigil_events_per_second",
            "gauge",
            "Events per second over the last report interval.",
            format!("{rate:.1}"),
        );
        metric("sigil_lag_events", "gauge", "Events in the stream not yet delivered to a worker.", c(&self.lag));
        metric("sigil_detection_alerts_total", "counter", "Detection alerts published.", c(&self.detection_alerts));
        metric(
            "sigil_correlation_alerts_total",
            "counter",
            "Correlation alerts published.",
            c(&self.correlation_alerts),
        );
        metric("sigil_feeds_published_total", "counter", "Correlation feeds published.", c(&self.feeds_published));
        metric(
            "sigil_feeds_applied_total",
            "counter",
            "Correlation feeds applied by owned partitions.",
            c(&self.feeds_applied),
        );
        metric(
            "sigil_dead_letters_total",
            "counter",
            "Poison messages sent to the dead-letter subject.",
            c(&self.dead_letters),
        );
        metric("sigil_checkpoints_total", "counter", "Partition checkpoints written.", c(&self.checkpoints));
        metric("sigil_partition_acquisitions_total", "counter", "Partitions taken.", c(&self.acquisitions));
        let owned = self.owned();
        metric("sigil_partitions_owned", "gauge", "Correlation partitions this worker owns.", owned.len().to_string());
        out.push_str(
            "# HELP sigil_partition_owned 1 for each partition this worker owns.\n# TYPE sigil_partition_owned gauge\n",
        );
        for p in owned {
            out.push_str(&format!("sigil_partition_owned{{worker=\"{worker}\",partition=\"{p}\"}} 1\n"));
        }
        out
    }
}

/// Serves `GET /metrics` on `listener` until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: std::sync::Arc<Metrics>,
    worker: String,
    rate: std::sync::Arc<Mutex<f64>>,
) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else { continue };
        let metrics = metrics.clone();
        let worker = worker.clone();
        let rate = *rate.lock().unwrap_or_else(|p| p.into_inner());
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            // The request head only, bounded; a slow or silent client is dropped.
            let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let request = String::from_utf8_lossy(&head);
            let first = request.lines().next().unwrap_or_default();
            let (status, body) = if first.starts_with("GET /metrics ") {
                ("200 OK", metrics.prometheus(&worker, rate))
            } else {
                ("404 Not Found", "GET /metrics\n".to_string())
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}
