//! Raw ECG/PPG batches that are authentic but wrong (a buggy or hostile
//! gateway): any sampling rate, sample index, origin, watermark and sample
//! values, in any order. The operator never panics, holds at most
//! `MAX_HELD` batches, and its RR output stays physically possible.

use aorta_runtime::ecg::{ecg_to_rr, WaveKind, MAX_HELD};
use aorta_runtime::{Limits, StreamState};
use aorta_wire::{AlgorithmSet, EcgBatch};
use proptest::prelude::*;

fn batch() -> impl Strategy<Value = (bool, EcgBatch, bool)> {
    (
        any::<bool>(),
        prop_oneof![
            Just(360u32),
            Just(64),
            Just(0),
            Just(24),
            Just(1001),
            any::<u32>()
        ],
        prop_oneof![
            0u64..20_000,
            Just(u64::MAX - 3),
            Just(u64::MAX / 2),
            any::<u64>()
        ],
        prop_oneof![Just(1_700_000_000_000_000i64), any::<i64>()],
        prop_oneof![0i64..2_000_000_000_000_000, Just(i64::MIN), Just(i64::MAX)],
        prop::collection::vec(any::<i16>(), 0..400),
        any::<bool>(),
    )
        .prop_map(
            |(ppg, fs_hz, first_index, origin_us, watermark_us, samples, last)| {
                (
                    ppg,
                    EcgBatch {
                        fs_hz,
                        first_index,
                        origin_us,
                        watermark_us,
                        samples,
                    },
                    last,
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn wrong_batches_never_panic(batches in prop::collection::vec(batch(), 1..40)) {
        let mut state = None;
        let mut stream = StreamState::new(AlgorithmSet::parse("hr,clinical").unwrap(), 0);
        let limits = Limits::default();
        let (mut rr, mut rr2) = (Vec::new(), Vec::new());
        for (ppg, b, last) in &batches {
            let kind = if *ppg { WaveKind::Ppg } else { WaveKind::Ecg };
            let _ = ecg_to_rr(&mut state, kind, b, *last, limits.allowed_lateness_us, &mut rr);
            let _ = stream.wave_to_rr(&limits, kind, b, *last, &mut rr2);
            prop_assert!(stream.heap_bytes() < 1 << 20);
        }
        let held = state.as_ref().map_or(0, |s| s.held_batches());
        prop_assert!(held <= MAX_HELD + 1, "{held}");
        prop_assert!(rr.iter().all(|s| s.rr_us > 0));
    }
}
