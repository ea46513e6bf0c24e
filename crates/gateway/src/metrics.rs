//! What a gateway publishes on its metrics endpoint (counts, sizes and
//! reasons; never a name, pseudonym or value).

use aorta_metrics::Exporter;

/// A gateway's totals (envelopes go out on a fixed cadence; sample counts
/// would give away heart rate, so they are not exported).
pub fn totals(e: &Exporter, envelopes: u64, bytes: u64) {
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

/// A live gateway's outbox: what the transport took, retried and dropped,
/// and what waits.
pub fn outbox(e: &Exporter, o: &crate::outbox::OutboxStats) {
    e.counter(
        "aorta_gateway_transport_envelopes_sent",
        "Envelopes the transport acknowledged",
        &[],
        o.sent_envelopes,
    );
    e.counter(
        "aorta_gateway_transport_envelopes_dropped",
        "Envelopes never sent: the outbox was full (oldest dropped) or the gateway stopped before the transport came back",
        &[],
        o.dropped_envelopes,
    );
    e.counter(
        "aorta_gateway_transport_retries",
        "Appends that failed with a retryable error and were tried again",
        &[],
        o.retries,
    );
    e.gauge(
        "aorta_gateway_outbox_ticks",
        "Ticks of envelopes waiting for the transport",
        &[],
        o.queued_ticks as f64,
    );
    e.gauge(
        "aorta_gateway_outbox_bytes",
        "Envelope bytes waiting for the transport",
        &[],
        o.queued_bytes as f64,
    );
}

/// Samples and messages a gateway refused, by reason.
pub fn refused(e: &Exporter, reason: &'static str, total: u64) {
    e.counter(
        "aorta_gateway_refused",
        "Samples, lines and messages refused, by reason",
        &[("reason", reason)],
        total,
    );
}
