//! Counters for `GET /metrics` (Prometheus text format, version 0.0.4).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the sync-latency histogram buckets.
const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5];

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Sync messages received.
    pub messages: AtomicU64,
    /// Changes accepted and stored.
    pub changes_accepted: AtomicU64,
    /// Changes refused (quarantined).
    pub changes_rejected: AtomicU64,
    /// Connections closed for breaking a limit or the protocol.
    pub protocol_errors: AtomicU64,
    /// Manifests served (`GET /api/v1/manifest`).
    pub manifests: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

/// Values read elsewhere at scrape time.
#[derive(Debug, Clone, Copy)]
pub struct Gauges {
    /// Live sync connections.
    pub connections: usize,
    /// Stored documents.
    pub documents: i64,
    /// Open quarantine entries.
    pub quarantined: i64,
    /// Database and WAL bytes.
    pub storage_bytes: u64,
}

impl Metrics {
    /// Records how long handling one sync message took.
    pub fn observe_sync(&self, d: std::time::Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// The exposition text.
    pub fn render(&self, g: Gauges) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        metric("kefu_connections", "gauge", "Live sync (WebSocket) connections.", g.connections.to_string());
        metric("kefu_documents", "gauge", "Documents stored.", g.documents.to_string());
        metric(
            "kefu_quarantine_open",
            "gauge",
            "Refused changes awaiting a supervisor.",
            g.quarantined.to_string(),
        );
        metric(
            "kefu_storage_bytes",
            "gauge",
            "Database and write-ahead log size.",
            g.storage_bytes.to_string(),
        );
        metric("kefu_sync_messages_total", "counter", "Sync messages received.", get(&self.messages));
        metric(
            "kefu_changes_accepted_total",
            "counter",
            "Changes validated and stored.",
            get(&self.changes_accepted),
        );
        metric(
            "kefu_changes_rejected_total",
            "counter",
            "Changes refused and quarantined.",
            get(&self.changes_rejected),
        );
        metric("kefu_manifests_total", "counter", "Manifests served to phones.", get(&self.manifests));
        metric(
            "kefu_protocol_errors_total",
            "counter",
            "Connections closed for a protocol error or a broken limit.",
            get(&self.protocol_errors),
        );
        let _ = writeln!(
            out,
            "# HELP kefu_sync_latency_seconds Time to handle one sync message (validate, store, answer).\n# TYPE kefu_sync_latency_seconds histogram"
        );
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "kefu_sync_latency_seconds_bucket{{le=\"{b}\"}} {}", get(&self.buckets[i]));
        }
        let count = get(&self.latency_count);
        let _ = writeln!(out, "kefu_sync_latency_seconds_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "kefu_sync_latency_seconds_sum {sum}\nkefu_sync_latency_seconds_count {count}");
        out
    }
}
