//! PPG pulse detection on synthetic PPG with known systolic peak times
//! (no annotated PPG is at hand): heart rate 50–130 bpm with beat-to-beat
//! variation, dicrotic wave, baseline wander, noise, and motion bursts.
//! Outside the bursts every pulse is found within ±100 ms and nothing
//! else; the bursts are flagged; chunking does not matter.

use aorta_analytics::ppg::PpgDetector;
use aorta_analytics::score::score;

struct Synth {
    signal: Vec<f32>,
    peaks: Vec<u64>,
    bursts: Vec<(u64, u64)>,
}

fn lcg(x: &mut u64) -> f64 {
    *x = x
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*x >> 11) as f64) / ((1u64 << 53) as f64)
}

fn synth(fs: f64, secs: f64, seed: u64) -> Synth {
    let n = (secs * fs) as usize;
    let mut x = seed;
    let mut peaks_s = Vec::new();
    let mut t = 1.0;
    while t < secs - 1.0 {
        peaks_s.push(t);
        // HR drifts 50..130 bpm over the record, ±6 % beat to beat.
        let hr = 90.0 + 40.0 * (t * std::f64::consts::TAU / 240.0).sin();
        t += 60.0 / hr * (1.0 + 0.12 * (lcg(&mut x) - 0.5));
    }
    let bursts_s = [
        (secs * 0.3, secs * 0.3 + 5.0),
        (secs * 0.7, secs * 0.7 + 4.0),
    ];
    let mut sig = vec![0f32; n];
    for (i, v) in sig.iter_mut().enumerate() {
        let ti = i as f64 / fs;
        let mut s =
            0.4 * (ti * std::f64::consts::TAU * 0.15).sin() + 0.03 * (lcg(&mut x) - 0.5) * 2.0;
        let k = peaks_s.partition_point(|p| *p < ti + 1.0);
        for p in &peaks_s[k.saturating_sub(3)..k] {
            let d = ti - p;
            // Upstroke/systolic peak, then a dicrotic wave 0.3 s later.
            s += (-(d * d) / (2.0 * 0.07 * 0.07)).exp()
                + 0.4 * (-((d - 0.3).powi(2)) / (2.0 * 0.1 * 0.1)).exp();
        }
        if bursts_s.iter().any(|(a, b)| ti >= *a && ti < *b) {
            s += 3.0 * (lcg(&mut x) - 0.5) * 2.0;
        }
        *v = s as f32;
    }
    Synth {
        signal: sig,
        peaks: peaks_s.iter().map(|p| (p * fs).round() as u64).collect(),
        bursts: bursts_s
            .iter()
            .map(|(a, b)| ((a * fs) as u64, (b * fs) as u64 + (fs * 1.0) as u64))
            .collect(),
    }
}

fn detect(s: &Synth, fs: f64, chunk: usize) -> (Vec<u64>, Vec<aorta_analytics::ppg::PpgQuality>) {
    let mut d = PpgDetector::new(fs).unwrap();
    let mut out = Vec::new();
    for c in s.signal.chunks(chunk) {
        d.push(c, &mut out);
    }
    d.finish(&mut out);
    (out.iter().map(|p| p.sample).collect(), d.take_quality())
}

#[test]
fn pulses_are_found_outside_motion_and_motion_is_flagged() {
    for fs in [25.0, 64.0, 100.0, 250.0] {
        let s = synth(fs, 600.0, 42);
        let (found, quality) = detect(&s, fs, 4096);
        let sc = score(&s.peaks, &found, (0.1 * fs) as u64, &s.bursts);
        eprintln!(
            "{fs} Hz: Se {:.4} +P {:.4} {sc:?}",
            sc.sensitivity(),
            sc.positive_predictivity()
        );
        assert!(sc.true_pos > 700, "{fs} Hz: {sc:?}");
        assert!(
            sc.sensitivity() >= 0.99,
            "{fs} Hz: Se {:.4} {sc:?}",
            sc.sensitivity()
        );
        assert!(
            sc.positive_predictivity() >= 0.99,
            "{fs} Hz: +P {:.4} {sc:?}",
            sc.positive_predictivity()
        );
        for (a, b) in &s.bursts {
            let seg = quality
                .iter()
                .find(|q| q.start <= *a && *a < q.start + q.len)
                .unwrap();
            assert!(
                seg.motion,
                "{fs} Hz: burst at {a}..{b} not flagged: {seg:?}"
            );
        }
        let flagged = quality.iter().filter(|q| q.motion).count();
        assert!(
            flagged <= 6,
            "{fs} Hz: {flagged} segments flagged for 2 bursts"
        );
    }
}

#[test]
fn chunking_does_not_change_pulses() {
    let s = synth(100.0, 120.0, 7);
    let whole = detect(&s, 100.0, 4096).0;
    assert!(whole.len() > 100);
    assert_eq!(detect(&s, 100.0, 1).0, whole);
    assert_eq!(detect(&s, 100.0, 37).0, whole);
}
