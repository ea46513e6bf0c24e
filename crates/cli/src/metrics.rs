//! What each process publishes on `--metrics` (counts, sizes, durations
//! and reasons; never a name, pseudonym or value).

use aorta_metrics::Exporter;
use aorta_runtime::Rejection;

use crate::pipeline::SpoolWorker;

/// Starts the endpoint if asked; prints where it listens.
pub fn start(role: &str, addr: Option<&str>) -> anyhow::Result<Option<Exporter>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let e = Exporter::new();
    let bound = e.serve(addr)?;
    eprintln!("{role}: metrics on http://{bound}/metrics");
    Ok(Some(e))
}

/// The worker's totals and state.
pub fn worker(e: &Exporter, w: &SpoolWorker) {
    let r = w.report();
    let c = &r.counters;
    let n = |name, help, v| e.counter(name, help, &[], v);
    n(
        "aorta_worker_input_records",
        "Input records read",
        c.records,
    );
    n(
        "aorta_worker_envelopes_accepted",
        "Envelopes accepted",
        c.envelopes_accepted,
    );
    for reason in Rejection::ALL {
        e.counter(
            "aorta_worker_envelopes_rejected",
            "Envelopes rejected, by reason",
            &[("reason", reason.name())],
            c.rejected.get(&reason).copied().unwrap_or(0),
        );
    }
    n(
        "aorta_worker_corrupt_records",
        "Corrupt input regions skipped",
        c.corrupt_records,
    );
    n(
        "aorta_worker_log_discontinuities",
        "Input or control logs found shrunk, replaced, deleted or rewritten",
        c.input_discontinuities + c.control_discontinuities,
    );
    // Only what the host can already see or what does not depend on the
    // data: counts of samples, result records or buffered state would give
    // away heart rate and clinical events (one patient per partition).
    n(
        "aorta_worker_windows",
        "Windows closed (one per stream and 10-s block)",
        c.windows,
    );
    n(
        "aorta_worker_result_envelopes",
        "Result envelopes emitted (visible in the spool too)",
        c.result_envelopes,
    );
    n(
        "aorta_worker_missing_envelopes",
        "Envelopes missing in sequence (gaps)",
        r.missing_envelopes,
    );
    let cp = w.checkpoint_stats();
    n(
        "aorta_worker_checkpoints",
        "Checkpoints committed",
        cp.commits,
    );
    let g = |name, help, v: f64| e.gauge(name, help, &[], v);
    g(
        "aorta_worker_checkpoint_bytes",
        "Size of the last sealed checkpoint, bytes",
        cp.last_bytes as f64,
    );
    g(
        "aorta_worker_checkpoint_seconds",
        "Time to seal and commit the last checkpoint, seconds",
        cp.last_seconds,
    );
    g(
        "aorta_worker_streams",
        "Streams with state",
        r.streams as f64,
    );
    let input = w.input();
    let lag = input
        .len()
        .unwrap_or(0)
        .saturating_sub(aorta_transport::Consumer::position(input));
    g(
        "aorta_worker_input_lag_bytes",
        "Input log bytes not yet read",
        lag as f64,
    );
}

/// A gateway's totals (envelopes go out on a fixed cadence; sample counts
/// would give away heart rate, so they are not exported).
pub fn gateway(e: &Exporter, envelopes: u64, bytes: u64) {
    e.counter(
        "aorta_gateway_envelopes_sent",
        "Envelopes sealed and appended",
        &[],
        envelopes,
    );
    e.counter(
        "aorta_gateway_bytes_sent",
        "Envelope bytes appended",
        &[],
        bytes,
    );
}

/// Samples and messages a gateway refused, by reason.
pub fn gateway_refused(e: &Exporter, reason: &'static str, total: u64) {
    e.counter(
        "aorta_gateway_refused",
        "Samples, lines and messages refused, by reason",
        &[("reason", reason)],
        total,
    );
}
