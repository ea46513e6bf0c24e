//! The `clinical` operator (issue 3, criterion 4): a golden input/output
//! file, results identical whatever the arrival order within the allowed
//! lateness, and identical after a checkpoint and restore anywhere.
//!
//! Input (tests/golden/clinical-input.txt, provenance below): 15 minutes of
//! real RR intervals (../shared/data/rr-healthy/000.txt, Irurzun et al.
//! 2021), then 6 minutes of irregularly irregular intervals (AF-like,
//! deterministic pseudo-random 400–1100 ms), then 3 minutes at 35 bpm.
//! Regenerate the output with AORTA_WRITE_GOLDEN=1 after a reviewed change.

use aorta_hrv::HrvBands;
use aorta_runtime::{compute_window, ClosedWindow, Limits, StreamState};
use aorta_wire::{AlertThresholds, AlgorithmSet, Metric, ResultRecord, RrSample};

mod common;
use common::{assert_golden, Envelope, GOLDEN, T0, TICK};

fn input() -> Vec<RrSample> {
    let path = format!("{GOLDEN}/clinical-input.txt");
    if std::env::var_os("AORTA_WRITE_GOLDEN").is_some() {
        let healthy = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/rr-healthy/000.txt"
        ))
        .unwrap();
        let mut rr: Vec<u32> = Vec::new();
        let mut t = 0u64;
        for l in healthy.lines() {
            let Ok(v) = l.trim().parse::<u32>() else {
                continue;
            };
            if t > 900_000 {
                break;
            }
            rr.push(v * 1000);
            t += u64::from(v);
        }
        let mut x = 99u64;
        while t < 1_260_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = 400 + ((x >> 33) % 700) as u32;
            rr.push(v * 1000);
            t += u64::from(v);
        }
        while t < 1_440_000 {
            rr.push(1_714_000);
            t += 1714;
        }
        let text: String = rr.iter().map(|v| format!("{v}\n")).collect();
        std::fs::write(&path, text).unwrap();
    }
    let mut t = T0;
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| {
            let rr: u32 = l.parse().unwrap();
            t += i64::from(rr);
            RrSample { t_us: t, rr_us: rr }
        })
        .collect()
}

/// The input cut into 10-s envelopes up to its last sample.
fn envelopes(samples: &[RrSample]) -> Vec<Envelope> {
    let ticks = (samples.last().unwrap().t_us - T0) / TICK + 1;
    common::envelopes(samples, ticks)
}

thread_local! {
    static THRESHOLDS: std::cell::Cell<AlertThresholds> = std::cell::Cell::new(AlertThresholds::default());
}

fn thresholds() -> AlertThresholds {
    THRESHOLDS.with(|t| t.get())
}

fn algos() -> AlgorithmSet {
    AlgorithmSet::parse("hr,clinical").unwrap()
}

/// Feeds envelopes `[from, to)` into `state`, computing every closed block.
fn feed(
    state: &mut StreamState,
    envs: &[Envelope],
    from: usize,
    to: usize,
    out: &mut Vec<ResultRecord>,
) {
    let limits = Limits::default();
    let mut bands = HrvBands::new();
    let mut closed: Vec<ClosedWindow> = Vec::new();
    for (i, (seq, s, wm)) in envs.iter().enumerate().take(to).skip(from) {
        closed.clear();
        state.on_envelope(
            &limits,
            &aorta_runtime::Batch {
                session: 1,
                seq: *seq,
                samples: s,
                watermark: aorta_runtime::EventTime(*wm),
                last: i + 1 == envs.len(),
                backlog: false,
            },
            &mut closed,
        );
        for w in &closed {
            compute_window(w, &mut bands, out);
            state.clinical_step(w, &thresholds(), out);
        }
    }
}

fn render(recs: &[ResultRecord]) -> String {
    recs.iter()
        .map(|r| {
            format!(
                "{} {} {} {} {:.6} {}\n",
                r.t_us,
                r.window_ms,
                r.algorithm.name(),
                r.metric.name(),
                r.value,
                r.quality.describe()
            )
        })
        .collect()
}

fn run_all(envs: &[Envelope]) -> Vec<ResultRecord> {
    run_with(algos(), envs)
}

fn run_with(set: AlgorithmSet, envs: &[Envelope]) -> Vec<ResultRecord> {
    let mut st = StreamState::new(set, 0);
    let mut out = Vec::new();
    feed(&mut st, envs, 0, envs.len(), &mut out);
    out
}

#[test]
fn golden_output_and_the_events_that_matter() {
    let envs = envelopes(&input());
    let recs = run_all(&envs);
    assert_golden("clinical-output.txt", &render(&recs));
    let at_min = |m: Metric| -> Vec<&ResultRecord> {
        recs.iter()
            .filter(|r| r.metric == m && r.window_ms == 300_000)
            .collect()
    };
    // One 5-minute window per minute of the 24-minute stream.
    assert_eq!(at_min(Metric::SdnnTf).len(), 24);
    // AF found during the irregular stretch (15–21 min) and only there.
    let af: Vec<&ResultRecord> = recs
        .iter()
        .filter(|r| r.metric == Metric::AfEvent)
        .collect();
    let onset = af.iter().find(|r| r.value == 1.0).expect("AF onset");
    let min = |r: &ResultRecord| (r.t_us - T0) as f64 / 60e6;
    // Events are dated where the change began, not where the detector's
    // run of decisions confirmed it (16 beats, ~10-25 s, later).
    assert!(
        (15.0..15.25).contains(&min(onset)),
        "AF onset at {:.2} min",
        min(onset)
    );
    let offset = af.iter().find(|r| r.value == 0.0).expect("AF offset");
    assert!(
        (20.5..21.25).contains(&min(offset)),
        "AF offset at {:.2} min",
        min(offset)
    );
    assert!(af.iter().all(|r| (15.0..22.0).contains(&min(r))), "{af:?}");
    // Bradycardia raised during the 35 bpm stretch (21–24 min).
    let brady = recs
        .iter()
        .find(|r| r.metric == Metric::AlertBrady && r.value == 1.0)
        .expect("bradycardia alert");
    assert!((21.0..22.0).contains(&min(brady)), "{:.2}", min(brady));
    // AF burden: 0 in healthy windows, high in the window fully in AF.
    let burden = at_min(Metric::AfBurden);
    assert!(burden[..14]
        .iter()
        .all(|r| r.value == 0.0 || r.value.is_nan()));
    assert!(burden.iter().any(|r| r.value > 80.0));
}

#[test]
fn arrival_order_within_lateness_does_not_change_clinical_results() {
    let envs = envelopes(&input());
    let want = run_all(&envs);
    let mut reordered = envs.clone();
    // Swap every third pair of adjacent envelopes and reverse samples inside.
    let mut i = 0;
    while i + 2 < reordered.len() {
        reordered.swap(i, i + 1);
        reordered[i].1.reverse();
        i += 3;
    }
    let mut st = StreamState::new(algos(), 0);
    let mut got = Vec::new();
    feed(&mut st, &reordered, 0, reordered.len(), &mut got);
    assert_eq!(st.counters.late_samples, 0);
    assert_eq!(order_free(&want), order_free(&got));
}

/// Records as a sorted set, ignoring the `reordered` and `gap` flags, which
/// say — as they should — that envelopes came out of order.
fn order_free(recs: &[ResultRecord]) -> Vec<(i64, u8, u8, u64, u32)> {
    let mut v: Vec<_> = recs
        .iter()
        .map(|r| {
            let q = r.quality.0 & !(aorta_wire::Quality::REORDERED | aorta_wire::Quality::GAP);
            (
                r.t_us,
                r.algorithm as u8,
                r.metric as u8,
                r.value.to_bits(),
                q,
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn checkpoint_and_restore_anywhere_gives_identical_results() {
    let envs = envelopes(&input());
    let want = run_all(&envs);
    for cut in [1, 37, 90, 100, 131] {
        let mut st = StreamState::new(algos(), 0);
        let mut got = Vec::new();
        feed(&mut st, &envs, 0, cut, &mut got);
        let bytes = st.to_bytes().unwrap();
        let mut restored = StreamState::from_bytes(&bytes).unwrap();
        assert_eq!(restored, st);
        feed(&mut restored, &envs, cut, envs.len(), &mut got);
        assert_eq!(render(&got), render(&want), "cut at envelope {cut}");
        // The state stays small: 5-minute windows in well under 16 KiB.
        assert!(st.heap_bytes() < 16 * 1024, "{} bytes", st.heap_bytes());
    }
}

/// Thresholds are the patient's, from the enrolment: a bradycardia limit of
/// 70 bpm alerts during the healthy 60–75 bpm stretch, where the default
/// 40 bpm does not.
#[test]
fn alert_thresholds_are_per_patient() {
    let envs = envelopes(&input());
    let count = |recs: &[ResultRecord]| {
        recs.iter()
            .filter(|r| {
                r.metric == Metric::AlertBrady && r.value == 1.0 && (r.t_us - T0) < 900_000_000
            })
            .count()
    };
    assert_eq!(count(&run_all(&envs)), 0);
    THRESHOLDS.with(|t| {
        t.set(AlertThresholds {
            brady_bpm: 70,
            ..AlertThresholds::default()
        })
    });
    let strict = run_all(&envs);
    THRESHOLDS.with(|t| t.set(AlertThresholds::default()));
    assert!(
        count(&strict) >= 1,
        "a 70-bpm limit alerts on a ~60-75 bpm stretch"
    );
}

/// Every operator at once — the paper's `identity`, `sdnn`, `hrv-bands`
/// (unchanged) with `hr`, `rmssd` and `clinical` — against a golden file,
/// and again after a checkpoint and restore in the middle and with the
/// envelopes out of order.
#[test]
fn every_operator_golden_after_restore_and_reordering() {
    let set = AlgorithmSet::parse("identity,sdnn,hrv-bands,hr,rmssd,clinical").unwrap();
    let envs = envelopes(&input());
    let want = run_with(set, &envs);
    assert_golden("all-operators-output.txt", &render(&want));
    for name in ["identity", "sdnn", "hrv-bands", "hr", "rmssd", "clinical"] {
        assert!(
            want.iter().any(|r| r.algorithm.name() == name),
            "no {name} output"
        );
    }
    // Checkpoint and restore in the middle, then the rest out of order.
    let cut = envs.len() / 2;
    let mut st = StreamState::new(set, 0);
    let mut got = Vec::new();
    feed(&mut st, &envs, 0, cut, &mut got);
    let mut st = StreamState::from_bytes(&st.to_bytes().unwrap()).unwrap();
    let mut rest = envs.clone();
    for i in (cut..rest.len() - 1).step_by(4) {
        rest.swap(i, i + 1);
    }
    feed(&mut st, &rest, cut, rest.len(), &mut got);
    assert_eq!(order_free(&want), order_free(&got));
}

/// Issue 12: noise is not rhythm. Six minutes of irregularly irregular
/// intervals raise AF; the same beats in windows whose raw signal the
/// quality check flagged raise nothing, count no AF decision and leave the
/// 5-minute window `noisy` with no NN intervals.
#[test]
fn beats_in_flagged_spans_are_not_rhythm() {
    use aorta_runtime::clinical::ClinicalState;
    use aorta_wire::Quality;
    let mut x = 7u64;
    let mut t = T0;
    let first = T0 / 10_000_000;
    let mut blocks: Vec<ClosedWindow> = (0..36)
        .map(|k| ClosedWindow {
            block: first + k,
            sums: aorta_hrv::BlockSums::default(),
            samples: Vec::new(),
            quality: Quality::default(),
            algorithms: AlgorithmSet::parse("clinical").unwrap(),
            noisy_spans: Vec::new(),
        })
        .collect();
    loop {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let rr = 400_000 + ((x >> 33) % 700_000) as u32;
        t += i64::from(rr);
        let Some(b) = blocks.get_mut((t / 10_000_000 - first) as usize) else {
            break;
        };
        b.samples.push(RrSample { t_us: t, rr_us: rr });
    }
    let run = |blocks: &[ClosedWindow]| {
        let mut st = ClinicalState::default();
        let mut out = Vec::new();
        for w in blocks {
            st.on_block(w, &AlertThresholds::default(), &mut out);
        }
        out
    };
    let clean = run(&blocks);
    let onsets = |out: &[ResultRecord]| {
        out.iter()
            .filter(|r| r.metric == Metric::AfEvent && r.value == 1.0)
            .count()
    };
    assert_eq!(onsets(&clean), 1, "irregularly irregular beats are AF");

    // The first 20 s are clean (too few beats for an AF decision), then
    // the signal turns to noise.
    let flagged: Vec<ClosedWindow> = blocks
        .iter()
        .enumerate()
        .map(|(k, w)| match k {
            0 | 1 => w.clone(),
            _ => ClosedWindow {
                quality: Quality(Quality::NOISY),
                noisy_spans: vec![(w.start_us(), w.start_us() + 10_000_000)],
                ..w.clone()
            },
        })
        .collect();
    let noisy = run(&flagged);
    assert_eq!(onsets(&noisy), 0, "noise raised AF");
    let windows: Vec<&ResultRecord> = noisy
        .iter()
        .filter(|r| r.metric == Metric::AfBurden)
        .collect();
    assert!(!windows.is_empty());
    for w in &windows {
        assert!(w.value.is_nan(), "no AF decision from noisy beats");
        assert!(w.quality.contains(Quality::NOISY) && w.quality.contains(Quality::INSUFFICIENT));
    }
    // The last window [40 s, 340 s) holds only noise: no NN interval.
    let last = windows.last().unwrap();
    assert_eq!(last.t_us, blocks[4].start_us());
    assert_eq!(last.n, 0);
    // Rate alerts ignore the noise too; a signal lost to noise for longer
    // than the limit is reported as signal loss.
    assert!(!noisy.iter().any(|r| matches!(
        r.metric,
        Metric::AlertTachy | Metric::AlertBrady | Metric::AlertPause
    ) && r.value == 1.0));
    assert!(noisy
        .iter()
        .any(|r| r.metric == Metric::AlertSignalLoss && r.value == 1.0));
}

/// Review finding: a beat whose interval began inside the noise of the
/// previous block (the first detection after a noisy stretch) is not
/// rhythm either: it must not raise a pause alert.
#[test]
fn the_first_beat_after_noise_is_not_rhythm() {
    use aorta_runtime::clinical::ClinicalState;
    use aorta_wire::Quality;
    let first = T0 / 10_000_000;
    let run = |flag_noise: bool| {
        let mut st = ClinicalState::default();
        let mut out = Vec::new();
        for k in 0..12i64 {
            let start = (first + k) * 10_000_000;
            let mut samples: Vec<RrSample> = (1..=12)
                .map(|i| RrSample {
                    t_us: start + i * 800_000,
                    rr_us: 800_000,
                })
                .collect();
            if k == 6 {
                // The detector lost the beats in the noise of block 5: the
                // first beat after it closes a 3.5-s interval.
                samples.retain(|s| s.t_us >= start + 2_000_000);
                samples[0].rr_us = 3_500_000;
            }
            let noisy = flag_noise && k == 5;
            let w = ClosedWindow {
                block: first + k,
                sums: aorta_hrv::BlockSums::default(),
                samples,
                quality: Quality(if noisy { Quality::NOISY } else { 0 }),
                algorithms: AlgorithmSet::parse("clinical").unwrap(),
                noisy_spans: if noisy {
                    vec![(start, start + 10_000_000)]
                } else {
                    Vec::new()
                },
            };
            st.on_block(&w, &AlertThresholds::default(), &mut out);
        }
        out.iter()
            .filter(|r| r.metric == Metric::AlertPause && r.value == 1.0)
            .count()
    };
    assert_eq!(run(false), 1, "a real 3.5-s pause is an alert");
    assert_eq!(run(true), 0, "a pause made by noise is not");
}
