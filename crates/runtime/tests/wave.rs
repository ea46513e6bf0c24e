//! Golden input/output of the waveform operator (beats → RR inside the
//! worker) on real ECG (MIT-BIH 101, first 3 minutes, as the gateway
//! quantises it) and on a deterministic synthetic PPG; the same output
//! after a checkpoint and restore in the middle, and whatever the arrival
//! order within the allowed lateness. Regenerate with AORTA_WRITE_GOLDEN=1.

use aorta_analytics::validate::channel_mv;
use aorta_analytics::wfdb;
use aorta_runtime::ecg::{ecg_to_rr, EcgState, WaveKind};
use aorta_wire::{EcgBatch, RrSample};

mod common;
use common::assert_golden;

const MITDB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mitdb");
const ORIGIN: i64 = 1_700_000_000_000_000;
const LATENESS: i64 = 10_000_000;

/// 1-s batches of `samples` (already quantised to i16).
fn batches(samples: &[i16], fs: u32) -> Vec<EcgBatch> {
    samples
        .chunks(fs as usize)
        .enumerate()
        .map(|(k, c)| {
            let first = k as u64 * u64::from(fs);
            let end = first + c.len() as u64;
            EcgBatch {
                fs_hz: fs,
                first_index: first,
                origin_us: ORIGIN,
                watermark_us: ORIGIN + (end * 1_000_000 / u64::from(fs)) as i64,
                samples: c.to_vec(),
            }
        })
        .collect()
}

fn ecg_input() -> (Vec<i16>, u32) {
    let hea = std::fs::read_to_string(format!("{MITDB}/101.hea")).unwrap();
    let dat = std::fs::read(format!("{MITDB}/101.dat")).unwrap();
    let header = wfdb::Header::parse(&hea).unwrap();
    let mv = channel_mv(&header, &dat, 0).unwrap();
    // As the gateway sends it: units of 5 µV.
    let q = mv[..360 * 180]
        .iter()
        .map(|v| (v * 200.0).round() as i16)
        .collect();
    (q, 360)
}

fn ppg_input() -> (Vec<i16>, u32) {
    let fs = 64.0;
    let mut x = 5u64;
    let mut rnd = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut peaks = Vec::new();
    let mut t = 0.4;
    while t < 180.0 {
        peaks.push(t);
        t += 0.8 * (1.0 + 0.1 * (rnd() - 0.5));
    }
    let q = (0..(180.0 * fs) as usize)
        .map(|i| {
            let ti = i as f64 / fs;
            let mut s = 0.2 * (ti * 1.3).sin() + 0.03 * (rnd() - 0.5);
            for p in peaks.iter().filter(|p| (ti - **p).abs() < 1.0) {
                let d = ti - p;
                s += (-(d * d) / 0.0098).exp() + 0.4 * (-((d - 0.3).powi(2)) / 0.02).exp();
            }
            (s * 1000.0).round() as i16
        })
        .collect();
    (q, 64)
}

type State = Option<Box<EcgState>>;

fn feed(st: &mut State, kind: WaveKind, bs: &[EcgBatch], out: &mut Vec<RrSample>) -> u64 {
    let mut lost = 0;
    for b in bs {
        lost += ecg_to_rr(st, kind, b, false, LATENESS, out)
            .unwrap()
            .lost_samples;
    }
    lost
}

fn render(rr: &[RrSample]) -> String {
    rr.iter()
        .map(|s| format!("{} {}\n", s.t_us - ORIGIN, s.rr_us))
        .collect()
}

fn check(kind: WaveKind, name: &str, (samples, fs): (Vec<i16>, u32), min_beats: usize) {
    let bs = batches(&samples, fs);
    let mut st = None;
    let mut want = Vec::new();
    assert_eq!(feed(&mut st, kind, &bs, &mut want), 0);
    assert!(want.len() >= min_beats, "{name}: {} intervals", want.len());
    let text = render(&want);
    assert_golden(&format!("{name}-rr.txt"), &text);

    // Checkpoint and restore in the middle, with batches held.
    let mid = bs.len() / 2;
    let mut order: Vec<usize> = (0..bs.len()).collect();
    order.swap(mid - 1, mid + 1);
    let shuffled: Vec<EcgBatch> = order.iter().map(|&i| bs[i].clone()).collect();
    let (mut st, mut got) = (None, Vec::new());
    feed(&mut st, kind, &shuffled[..mid + 1], &mut got);
    let bytes = postcard::to_allocvec(&st).unwrap();
    let mut st: State = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(feed(&mut st, kind, &shuffled[mid + 1..], &mut got), 0);
    assert_eq!(render(&got), text, "{name}: reorder + checkpoint/restore");

    // Several swaps of neighbours and one batch 5 s late.
    let mut order: Vec<usize> = (0..bs.len()).collect();
    for i in (0..bs.len() - 1).step_by(7) {
        order.swap(i, i + 1);
    }
    let late = order.remove(30);
    order.insert(35, late);
    let (mut st, mut got) = (None, Vec::new());
    let shuffled: Vec<EcgBatch> = order.iter().map(|&i| bs[i].clone()).collect();
    assert_eq!(feed(&mut st, kind, &shuffled, &mut got), 0);
    assert_eq!(render(&got), text, "{name}: arrival order");
}

#[test]
fn ecg_operator_golden_and_order_and_restore_invariant() {
    // 101 has ~75 beats per minute.
    check(WaveKind::Ecg, "ecg-101", ecg_input(), 200);
}

#[test]
fn ppg_operator_golden_and_order_and_restore_invariant() {
    check(WaveKind::Ppg, "ppg-synthetic", ppg_input(), 200);
}

/// Issue 12: the quality flag reaches the results. One minute of 0-dB
/// muscle noise (the NST's SNR definition, `aorta_analytics::noise`) in the
/// middle of three minutes of real ECG: every 10-s window inside it is
/// flagged `noisy` with the flagged span, and no window of the clean
/// stretches is, whatever the arrival order.
#[test]
fn noisy_ecg_flags_its_windows_and_only_those() {
    use aorta_analytics::noise::{qrs_amplitude, synthesise, NoiseKind};
    use aorta_runtime::{Batch, Limits, StreamState};
    use aorta_wire::{AlgorithmSet, Quality};

    let (clean, fs) = ecg_input();
    let mv: Vec<f32> = clean.iter().map(|v| f32::from(*v) / 200.0).collect();
    // Reference beats for the amplitude: the detector's own on the clean signal.
    let mut rr = Vec::new();
    feed(&mut None, WaveKind::Ecg, &batches(&clean, fs), &mut rr);
    let beats: Vec<u64> = rr
        .iter()
        .map(|s| ((s.t_us - ORIGIN) as u64 * u64::from(fs)) / 1_000_000)
        .collect();
    let a = qrs_amplitude(&mv, f64::from(fs), &beats);
    let noise = synthesise(NoiseKind::Muscle, mv.len(), f64::from(fs), 7);
    let scale = (a * a / 8.0).sqrt(); // 0 dB: noise power = signal power
    let (from, to) = (60 * fs as usize, 120 * fs as usize);
    let noisy: Vec<i16> = clean
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if (from..to).contains(&i) {
                (f64::from(*v) + noise[i] * scale * 200.0).round() as i16
            } else {
                *v
            }
        })
        .collect();

    let run = |order: &[usize]| {
        let bs = batches(&noisy, fs);
        let limits = Limits::default();
        let mut st = StreamState::new(AlgorithmSet::parse("hr,clinical").unwrap(), 0);
        let mut closed = Vec::new();
        let mut rr = Vec::new();
        for (seq, &i) in order.iter().enumerate() {
            let last = seq + 1 == order.len();
            rr.clear();
            let wm = st
                .wave_to_rr(&limits, WaveKind::Ecg, &bs[i], last, &mut rr)
                .unwrap();
            let batch = Batch {
                session: 1,
                seq: i as u64,
                samples: &rr,
                watermark: wm,
                last,
                backlog: false,
            };
            st.on_envelope(&limits, &batch, &mut closed);
        }
        assert!(st.counters.noisy_segments >= 6, "{:?}", st.counters);
        closed
    };
    let n = noisy.len().div_ceil(fs as usize);
    let in_order: Vec<usize> = (0..n).collect();
    let closed = run(&in_order);
    assert_eq!(closed.len(), 18, "three minutes of 10-s windows");
    let block0 = ORIGIN / 10_000_000;
    for w in &closed {
        let k = w.block - block0;
        let flagged = w.quality.contains(Quality::NOISY);
        assert_eq!(flagged, !w.noisy_spans.is_empty(), "window {k}");
        if (6..=11).contains(&k) {
            assert!(flagged, "window {k} lies inside the noise");
            let covered: i64 = w.noisy_spans.iter().map(|(a, b)| b - a).sum();
            assert_eq!(covered, 10_000_000, "window {k}: {:?}", w.noisy_spans);
        } else if !(5..=12).contains(&k) {
            assert!(!flagged, "window {k} is clean: {:?}", w.noisy_spans);
        }
        for (a, b) in &w.noisy_spans {
            assert!(w.start_us() <= *a && a < b && *b <= w.start_us() + 10_000_000);
        }
    }
    // The same flags whatever the arrival order within the lateness.
    let mut order = in_order.clone();
    for i in (0..n - 1).step_by(5) {
        order.swap(i, i + 1);
    }
    let key = |c: &[aorta_runtime::ClosedWindow]| {
        c.iter()
            .map(|w| {
                let noisy = w.quality.contains(Quality::NOISY);
                (w.block, noisy, w.noisy_spans.clone())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&run(&order)), key(&closed));
}
