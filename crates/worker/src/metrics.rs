//! What a worker process publishes on its metrics endpoint: counts,
//! sizes, durations and reasons; never a name, pseudonym or value.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aorta_metrics::Exporter;
use aorta_runtime::Rejection;

use crate::{CheckpointStats, WorkerReport};

/// What one partition's worker last reported.
#[derive(Debug, Clone)]
struct Snapshot {
    report: WorkerReport,
    checkpoint: CheckpointStats,
    lag_bytes: Option<u64>,
}

/// The latest report of every partition a process runs, summed into one
/// set of series (a process publishes totals, whatever its partitions).
#[derive(Debug, Default)]
pub struct WorkerSnapshots(Mutex<BTreeMap<u32, Snapshot>>);

impl WorkerSnapshots {
    pub fn put<C, L, R>(&self, w: &crate::Worker<C, L, R>)
    where
        C: aorta_transport::Consumer,
        L: aorta_transport::CommitLog,
        R: rand_core::RngCore + rand_core::CryptoRng,
    {
        let snap = Snapshot {
            report: w.report(),
            checkpoint: w.checkpoint_stats(),
            lag_bytes: w.input().lag_bytes(),
        };
        if let Ok(mut m) = self.0.lock() {
            m.insert(w.partition(), snap);
        }
    }

    pub fn publish(&self, e: &Exporter) {
        let Ok(m) = self.0.lock() else {
            return;
        };
        let sum = |f: &dyn Fn(&Snapshot) -> u64| m.values().map(f).sum::<u64>();
        let n = |name, help, v| e.counter(name, help, &[], v);
        n(
            "aorta_worker_input_records",
            "Input records read",
            sum(&|s| s.report.counters.records),
        );
        n(
            "aorta_worker_envelopes_accepted",
            "Envelopes accepted",
            sum(&|s| s.report.counters.envelopes_accepted),
        );
        for reason in Rejection::ALL {
            e.counter(
                "aorta_worker_envelopes_rejected",
                "Envelopes rejected, by reason",
                &[("reason", reason.name())],
                sum(&|s| {
                    s.report
                        .counters
                        .rejected
                        .get(&reason)
                        .copied()
                        .unwrap_or(0)
                }),
            );
        }
        n(
            "aorta_worker_corrupt_records",
            "Corrupt input regions skipped",
            sum(&|s| s.report.counters.corrupt_records),
        );
        n(
            "aorta_worker_log_discontinuities",
            "Input or control logs found shrunk, replaced, deleted or rewritten",
            sum(&|s| {
                s.report.counters.input_discontinuities + s.report.counters.control_discontinuities
            }),
        );
        // Only what the host can already see or what does not depend on the
        // data: counts of samples, result records or buffered state would give
        // away heart rate and clinical events (one patient per partition).
        n(
            "aorta_worker_windows",
            "Windows closed (one per stream and 10-s block)",
            sum(&|s| s.report.counters.windows),
        );
        n(
            "aorta_worker_result_envelopes",
            "Result envelopes emitted (visible in the transport too)",
            sum(&|s| s.report.counters.result_envelopes),
        );
        n(
            "aorta_worker_missing_envelopes",
            "Envelopes missing in sequence (gaps)",
            sum(&|s| s.report.missing_envelopes),
        );
        n(
            "aorta_worker_checkpoints",
            "Checkpoints committed",
            sum(&|s| s.checkpoint.commits),
        );
        let g = |name, help, v: f64| e.gauge(name, help, &[], v);
        g(
            "aorta_worker_checkpoint_bytes",
            "Size of the largest last sealed checkpoint of the process's partitions, bytes",
            m.values()
                .map(|s| s.checkpoint.last_bytes)
                .max()
                .unwrap_or(0) as f64,
        );
        g(
            "aorta_worker_checkpoint_seconds",
            "Longest time to seal and commit the last checkpoint of the process's partitions, seconds",
            m.values()
                .map(|s| s.checkpoint.last_seconds)
                .fold(0.0, f64::max),
        );
        g(
            "aorta_worker_streams",
            "Streams with state",
            sum(&|s| s.report.streams as u64) as f64,
        );
        g(
            "aorta_worker_partitions",
            "Partitions this process runs",
            m.len() as f64,
        );
        if m.values().all(|s| s.lag_bytes.is_some()) {
            g(
                "aorta_worker_input_lag_bytes",
                "Input log bytes not yet read",
                sum(&|s| s.lag_bytes.unwrap_or(0)) as f64,
            );
        }
    }
}
