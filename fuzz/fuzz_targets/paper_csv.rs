//! The paper's CSV format on arbitrary bytes (input files and MQTT
//! payloads): never panics, and the span filter keeps a contiguous run.
#![no_main]

use aorta_gateway::source::csv::{densest_span, parse_paper_csv_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mut samples, skipped) = parse_paper_csv_bytes(data);
    let _ = skipped.to_string();
    samples.sort_by_key(|s| s.t_us);
    let keep = densest_span(&samples, 3_600_000_000);
    assert!(keep.end <= samples.len());
    if let (Some(a), Some(b)) = (samples.get(keep.start), keep.end.checked_sub(1).and_then(|e| samples.get(e))) {
        assert!(b.t_us - a.t_us <= 3_600_000_000);
    }
});
