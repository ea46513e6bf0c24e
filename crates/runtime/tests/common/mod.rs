//! Helpers shared by the runtime's integration tests (and its stream
//! benchmark).

#![allow(dead_code)] // each test file uses a part

use aorta_wire::RrSample;

pub const T0: i64 = 1_700_000_000_000_000;
pub const TICK: i64 = 10_000_000;

/// Envelopes of one session: (seq, samples, watermark).
pub type Envelope = (u64, Vec<RrSample>, i64);

/// `samples` cut into `ticks` 10-s envelopes from `T0`, each with the
/// tick's end as its watermark, as a gateway sends them.
pub fn envelopes(samples: &[RrSample], ticks: i64) -> Vec<Envelope> {
    (0..ticks)
        .map(|k| {
            let (lo, hi) = (T0 + k * TICK, T0 + (k + 1) * TICK);
            let s = samples
                .iter()
                .copied()
                .filter(|s| s.t_us >= lo && s.t_us < hi)
                .collect();
            (k as u64, s, hi)
        })
        .collect()
}

pub const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

/// Compares `text` with the golden file `tests/golden/<name>`; with
/// AORTA_WRITE_GOLDEN set, writes it first (after a reviewed change).
pub fn assert_golden(name: &str, text: &str) {
    let path = format!("{GOLDEN}/{name}");
    if std::env::var_os("AORTA_WRITE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert!(text == want, "{name}: golden output changed");
}
