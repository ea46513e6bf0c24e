//! Window semantics: results do not depend on arrival order within the allowed
//! lateness; samples beyond it are counted and flagged, never silently lost;
//! a checkpoint taken anywhere restores to the same results.

use aorta_hrv::HrvBands;
use aorta_runtime::{compute_window, ClosedWindow, Limits, StreamState};
use aorta_wire::{AlgorithmSet, Quality, ResultRecord, RrSample};
use proptest::prelude::*;

mod common;
use common::{envelopes, Envelope, T0, TICK};

fn algos() -> AlgorithmSet {
    AlgorithmSet::parse("identity,sdnn,hrv-bands,hr,rmssd").unwrap()
}

fn run(envs: &[Envelope], state: &mut StreamState) -> Vec<ClosedWindow> {
    let limits = Limits::default();
    let mut out = Vec::new();
    let n = envs.len();
    for (i, (seq, s, wm)) in envs.iter().enumerate() {
        state.on_envelope(
            &limits,
            &aorta_runtime::Batch {
                session: 1,
                seq: *seq,
                samples: s,
                watermark: aorta_runtime::EventTime(*wm),
                last: i + 1 == n,
                backlog: false,
            },
            &mut out,
        );
    }
    out
}

fn values(windows: &[ClosedWindow]) -> Vec<(i64, u8, u8, u64)> {
    let mut bands = HrvBands::new();
    let mut recs: Vec<ResultRecord> = Vec::new();
    for w in windows {
        compute_window(w, &mut bands, &mut recs);
    }
    let mut v: Vec<_> = recs
        .iter()
        .map(|r| (r.t_us, r.algorithm as u8, r.metric as u8, r.value.to_bits()))
        .collect();
    v.sort();
    v
}

fn distinct_samples(raw: Vec<(u32, u32)>) -> Vec<RrSample> {
    let mut s: Vec<RrSample> = raw
        .into_iter()
        .map(|(dt, rr)| RrSample {
            t_us: T0 + i64::from(dt),
            rr_us: 300_000 + rr % 1_500_000,
        })
        .collect();
    s.sort_by_key(|x| x.t_us);
    s.dedup_by_key(|x| x.t_us);
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arrival_order_within_lateness_does_not_change_results(
        raw in proptest::collection::vec((0u32..60_000_000, any::<u32>()), 1..300),
        swaps in proptest::collection::vec(any::<bool>(), 6),
        shuffle_seed in any::<u64>(),
    ) {
        let samples = distinct_samples(raw);
        let base = envelopes(&samples, 6);
        let mut reordered = base.clone();
        // Swap disjoint adjacent pairs (one tick apart: within a lateness of one cadence)...
        let mut i = 0;
        while i + 1 < reordered.len() - 1 {
            if swaps[i] {
                reordered.swap(i, i + 1);
                i += 2;
            } else {
                i += 1;
            }
        }
        // ...and shuffle the samples inside every envelope.
        let mut x = shuffle_seed | 1;
        for (_, s, _) in reordered.iter_mut() {
            for j in (1..s.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                s.swap(j, (x % (j as u64 + 1)) as usize);
            }
        }
        let mut a = StreamState::new(algos(), 0);
        let mut b = StreamState::new(algos(), 0);
        let wa = run(&base, &mut a);
        let wb = run(&reordered, &mut b);
        prop_assert_eq!(values(&wa), values(&wb));
        prop_assert_eq!(b.counters.late_samples, 0);
        prop_assert_eq!(b.counters.samples, samples.len() as u64);
    }

    #[test]
    fn checkpoint_anywhere_restores_identical_results(
        raw in proptest::collection::vec((0u32..60_000_000, any::<u32>()), 1..200),
        cut in 0usize..6,
    ) {
        let samples = distinct_samples(raw);
        let envs = envelopes(&samples, 6);
        let mut full = StreamState::new(algos(), 0);
        let want = run(&envs, &mut full);
        let limits = Limits::default();
        let mut first = StreamState::new(algos(), 0);
        let mut got = Vec::new();
        for (seq, s, wm) in &envs[..cut] {
            first.on_envelope(
&limits,
&aorta_runtime::Batch { session: 1, seq: *seq, samples: s, watermark: aorta_runtime::EventTime(*wm), last: false, backlog: false },
&mut got,
);
        }
        let mut restored = StreamState::from_bytes(&first.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(&restored, &first);
        for (i, (seq, s, wm)) in envs.iter().enumerate().skip(cut) {
            restored.on_envelope(
&limits,
&aorta_runtime::Batch { session: 1, seq: *seq, samples: s, watermark: aorta_runtime::EventTime(*wm), last: i + 1 == envs.len(), backlog: false },
&mut got,
);
        }
        prop_assert_eq!(got, want);
    }
}

#[test]
fn samples_beyond_the_lateness_are_counted_and_flagged() {
    let limits = Limits::default();
    let mut s = StreamState::new(AlgorithmSet::parse("sdnn").unwrap(), 0);
    let mut out = Vec::new();
    let sample = |sec: i64| RrSample {
        t_us: T0 + sec * 1_000_000,
        rr_us: 800_000,
    };
    s.on_envelope(
        &limits,
        &aorta_runtime::Batch {
            session: 1,
            seq: 0,
            samples: &[sample(1), sample(2)],
            watermark: aorta_runtime::EventTime(T0 + TICK),
            last: false,
            backlog: false,
        },
        &mut out,
    );
    // The watermark passes the end of block 1 by more than the lateness:
    // blocks 0 and 1 (empty) close.
    s.on_envelope(
        &limits,
        &aorta_runtime::Batch {
            session: 1,
            seq: 1,
            samples: &[sample(25)],
            watermark: aorta_runtime::EventTime(T0 + 3 * TICK + 1),
            last: false,
            backlog: false,
        },
        &mut out,
    );
    assert_eq!(out.len(), 2, "blocks 0 and 1 closed");
    // A sample for block 0 now is late.
    s.on_envelope(
        &limits,
        &aorta_runtime::Batch {
            session: 1,
            seq: 2,
            samples: &[sample(3), sample(31)],
            watermark: aorta_runtime::EventTime(T0 + 4 * TICK),
            last: true,
            backlog: false,
        },
        &mut out,
    );
    assert_eq!(s.counters.late_samples, 1);
    assert_eq!(s.counters.samples, 5);
    let flagged: Vec<_> = out
        .iter()
        .filter(|w| w.quality.contains(Quality::LATE))
        .collect();
    assert!(!flagged.is_empty(), "a later window carries the late flag");
    // Nothing else was lost: 4 samples in windows.
    assert_eq!(out.iter().map(|w| w.sums.n).sum::<u64>(), 4);
}

#[test]
fn empty_blocks_are_emitted_when_beats_stop() {
    let limits = Limits::default();
    let mut s = StreamState::new(AlgorithmSet::parse("hr").unwrap(), 0);
    let mut out = Vec::new();
    let sample = RrSample {
        t_us: T0 + 1_000_000,
        rr_us: 800_000,
    };
    s.on_envelope(
        &limits,
        &aorta_runtime::Batch {
            session: 1,
            seq: 0,
            samples: &[sample],
            watermark: aorta_runtime::EventTime(T0 + TICK),
            last: false,
            backlog: false,
        },
        &mut out,
    );
    for k in 1..6u64 {
        s.on_envelope(
            &limits,
            &aorta_runtime::Batch {
                session: 1,
                seq: k,
                samples: &[],
                watermark: aorta_runtime::EventTime(T0 + (k as i64 + 1) * TICK),
                last: false,
                backlog: false,
            },
            &mut out,
        );
    }
    // Watermark at 60 s, lateness 10 s: blocks 0..=3 closed; 1..=3 empty.
    assert_eq!(out.len(), 4);
    assert!(out[1..]
        .iter()
        .all(|w| w.sums.n == 0 && w.quality.contains(Quality::INSUFFICIENT)));
}

#[test]
fn physiologically_impossible_rr_is_excluded_and_counted() {
    let limits = Limits::default();
    let mut s = StreamState::new(AlgorithmSet::parse("sdnn").unwrap(), 0);
    let mut out = Vec::new();
    let at = |sec: i64, rr: u32| RrSample {
        t_us: T0 + sec * 1_000_000,
        rr_us: rr,
    };
    s.on_envelope(
        &limits,
        &aorta_runtime::Batch {
            session: 1,
            seq: 0,
            samples: &[at(1, 800_000), at(2, 20_000_000), at(3, 0), at(4, 810_000)],
            watermark: aorta_runtime::EventTime(T0 + TICK),
            last: true,
            backlog: false,
        },
        &mut out,
    );
    assert_eq!(s.counters.out_of_range_samples, 2);
    assert_eq!(out[0].sums.n, 2);
    assert!(out[0].quality.contains(Quality::OUT_OF_RANGE));
}
