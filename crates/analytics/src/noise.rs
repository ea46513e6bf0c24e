//! Noise stress test in the manner of the MIT-BIH Noise Stress Test
//! Database (Moody, Muldrow & Mark, "A noise stress test for arrhythmia
//! detectors", Computers in Cardiology 11:381–384, 1984): noise is added to
//! a clean record at a chosen signal-to-noise ratio, in alternating
//! two-minute spans after a clean first five minutes, and a detector is
//! scored on the result.
//!
//! The NST's own noise recordings (`bw`, `em`, `ma`) are not in this
//! repository's data, so the three kinds are synthesised, reproducibly
//! from a seed, with the properties those recordings are known for:
//!
//! * [`NoiseKind::Muscle`] (EMG): Gaussian noise band-limited to
//!   5–100 Hz (capped at 0.45·fs), its amplitude modulated by a slowly
//!   varying log-normal envelope (bursts of contraction, ~1 s).
//! * [`NoiseKind::Motion`] (electrode motion): band-limited 0.5–10 Hz
//!   Gaussian noise in random bursts of 0.5–3 s, plus abrupt transients
//!   (a step that decays over ~0.3 s with a 30–60 ms spike on its edge) at
//!   random times — the kind that overlaps the QRS band and fools detectors.
//! * [`NoiseKind::Wander`] (baseline wander): respiration (0.15–0.4 Hz) and
//!   slower drifts (0.03–0.1 Hz) with a low-passed random walk.
//!
//! Signal-to-noise ratio as the NST defines it: S = A²/8 where A is the
//! median peak-to-peak QRS amplitude (here: within ±50 ms of each reference
//! beat of the clean record), N = mean square of the zero-mean noise, SNR
//! = 10·log10(S/N); the noise is scaled to reach the requested SNR.
//!
//! The random generator is SplitMix64 (Steele, Lea & Flood 2014) with
//! Box–Muller normals: noise for tests, not for secrets.

use crate::filter::Biquad;

/// A kind of synthetic noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoiseKind {
    Muscle,
    Motion,
    Wander,
}

impl NoiseKind {
    pub const ALL: [NoiseKind; 3] = [NoiseKind::Muscle, NoiseKind::Motion, NoiseKind::Wander];

    /// The NST record name of the kind it imitates.
    pub fn name(self) -> &'static str {
        match self {
            NoiseKind::Muscle => "muscle (ma)",
            NoiseKind::Motion => "electrode motion (em)",
            NoiseKind::Wander => "baseline wander (bw)",
        }
    }
}

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
}

/// Gaussian noise through a band-pass made of two Butterworth biquads.
fn band_noise(rng: &mut Rng, n: usize, fs: f64, lo: f64, hi: f64) -> Vec<f64> {
    let mut hp = Biquad::highpass(lo, fs);
    let mut lp = Biquad::lowpass(hi.min(0.45 * fs), fs);
    (0..n)
        .map(|_| f64::from(lp.step(hp.step(rng.normal() as f32))))
        .collect()
}

fn normalise(x: &mut [f64]) {
    let n = x.len().max(1) as f64;
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let sd = if sd > 0.0 { sd } else { 1.0 };
    for v in x {
        *v = (*v - mean) / sd;
    }
}

/// `n` samples of unit-power noise of `kind` at `fs` Hz.
pub fn synthesise(kind: NoiseKind, n: usize, fs: f64, seed: u64) -> Vec<f64> {
    let mut rng = Rng(seed ^ (kind as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let mut x = match kind {
        NoiseKind::Muscle => {
            let mut env = band_noise(&mut rng, n, fs, 0.05, 1.0);
            normalise(&mut env);
            let mut x = band_noise(&mut rng, n, fs, 20.0, 150.0);
            for (v, e) in x.iter_mut().zip(&env) {
                *v *= (0.5 * e).exp();
            }
            x
        }
        NoiseKind::Motion => {
            let base = band_noise(&mut rng, n, fs, 0.5, 10.0);
            let mut x = vec![0.0; n];
            // Bursts: on for 0.5-3 s, off for 0.5-4 s.
            let mut i = 0usize;
            while i < n {
                let on = (rng.range(0.5, 3.0) * fs) as usize;
                let gain = rng.range(0.5, 2.0);
                for k in i..(i + on).min(n) {
                    x[k] = gain * base[k];
                }
                i += on + (rng.range(0.5, 4.0) * fs) as usize;
            }
            // Transients: a step decaying over ~0.3 s with a short spike.
            let mut t = 0usize;
            loop {
                t += (rng.range(0.5, 8.0) * fs) as usize;
                if t >= n {
                    break;
                }
                let amp = rng.normal() * 2.0;
                let tau = rng.range(0.15, 0.5) * fs;
                let spike_w = rng.range(0.03, 0.06) * fs;
                let len = ((4.0 * tau) as usize).min(n - t);
                for k in 0..len {
                    let kf = k as f64;
                    let spike = (-(kf - spike_w).powi(2) / (2.0 * (spike_w / 3.0).powi(2))).exp();
                    x[t + k] += amp * ((-kf / tau).exp() + 1.5 * spike);
                }
            }
            x
        }
        NoiseKind::Wander => {
            let mut x = vec![0.0; n];
            let comps = [
                (rng.range(0.15, 0.4), 1.0),
                (rng.range(0.03, 0.1), 1.5),
                (rng.range(0.05, 0.15), 0.7),
            ];
            for (f, a) in comps {
                let ph = rng.range(0.0, 2.0 * std::f64::consts::PI);
                for (k, v) in x.iter_mut().enumerate() {
                    *v += a * (2.0 * std::f64::consts::PI * f * k as f64 / fs + ph).sin();
                }
            }
            let mut lp = Biquad::lowpass(0.3, fs);
            let mut walk = 0.0f64;
            let step = 1.0 / fs.sqrt();
            for v in x.iter_mut() {
                walk = 0.9999 * walk + step * rng.normal();
                *v += 0.5 * f64::from(lp.step(walk as f32));
            }
            x
        }
    };
    normalise(&mut x);
    x
}

/// Median peak-to-peak amplitude within ±50 ms of each reference beat.
pub fn qrs_amplitude(mv: &[f32], fs: f64, beats: &[u64]) -> f64 {
    let w = (0.05 * fs).round() as u64;
    let mut amps: Vec<f64> = beats
        .iter()
        .filter_map(|&b| {
            let lo = b.saturating_sub(w) as usize;
            let hi = ((b + w) as usize + 1).min(mv.len());
            let s = mv.get(lo..hi)?;
            let max = s.iter().copied().fold(f32::MIN, f32::max);
            let min = s.iter().copied().fold(f32::MAX, f32::min);
            (hi > lo).then_some(f64::from(max - min))
        })
        .collect();
    if amps.is_empty() {
        return 0.0;
    }
    amps.sort_by(f64::total_cmp);
    amps[amps.len() / 2]
}

/// The NST schedule: clean for the first 5 minutes, then noise on and off
/// in alternating 2-minute spans. Half-open sample spans `[from, to)` with
/// noise, within `n` samples.
pub fn nst_spans(n: usize, fs: f64) -> Vec<(u64, u64)> {
    let s = |sec: f64| (sec * fs).round() as u64;
    let mut out = Vec::new();
    let mut t = 300.0;
    while s(t) < n as u64 {
        out.push((s(t), s(t + 120.0).min(n as u64)));
        t += 240.0;
    }
    out
}

/// A noisy copy of `mv` with `kind` noise at `snr_db` in the NST spans,
/// and those spans.
pub fn stress(
    mv: &[f32],
    fs: f64,
    reference: &[u64],
    kind: NoiseKind,
    snr_db: f64,
    seed: u64,
) -> (Vec<f32>, Vec<(u64, u64)>) {
    let a = qrs_amplitude(mv, fs, reference);
    let signal_power = a * a / 8.0;
    let noise = synthesise(kind, mv.len(), fs, seed);
    // Unit-power noise: scale to N = S / 10^(SNR/10).
    let gain = (signal_power / 10f64.powf(snr_db / 10.0)).sqrt();
    let spans = nst_spans(mv.len(), fs);
    let mut out = mv.to_vec();
    for &(a, b) in &spans {
        for k in a as usize..b as usize {
            out[k] += (gain * noise[k]) as f32;
        }
    }
    (out, spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_has_unit_power_and_its_band() {
        let fs = 360.0;
        for kind in NoiseKind::ALL {
            let x = synthesise(kind, 360 * 120, fs, 7);
            let p = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
            assert!((p - 1.0).abs() < 1e-6, "{kind:?} power {p}");
            // Same seed, same noise; another seed, other noise.
            assert_eq!(x, synthesise(kind, 360 * 120, fs, 7));
            assert_ne!(x, synthesise(kind, 360 * 120, fs, 8));
        }
        // Wander is slow: almost no power left after a 5-Hz high-pass.
        // Muscle is fast: most of it survives.
        let hp_share = |kind| {
            let x = synthesise(kind, 360 * 120, fs, 3);
            let mut hp = Biquad::highpass(5.0, fs);
            let y: Vec<f64> = x.iter().map(|v| f64::from(hp.step(*v as f32))).collect();
            y.iter().map(|v| v * v).sum::<f64>() / x.len() as f64
        };
        assert!(hp_share(NoiseKind::Wander) < 0.01);
        assert!(hp_share(NoiseKind::Muscle) > 0.5);
    }

    #[test]
    fn stress_reaches_the_requested_snr_in_the_nst_spans() {
        let fs = 360.0;
        let n = (fs * 900.0) as usize;
        // A spike train of 1 mV peak-to-peak every second.
        let mut mv = vec![0f32; n];
        let beats: Vec<u64> = (1..900).map(|s| (s as f64 * fs) as u64).collect();
        for &b in &beats {
            mv[b as usize] = 0.5;
            mv[b as usize + 3] = -0.5;
        }
        let (noisy, spans) = stress(&mv, fs, &beats, NoiseKind::Muscle, 6.0, 1);
        assert_eq!(spans[0], (108_000, 151_200));
        assert_eq!(spans.len(), 3);
        let (a, b) = spans[0];
        let n_pow = (a as usize..b as usize)
            .map(|k| f64::from(noisy[k] - mv[k]).powi(2))
            .sum::<f64>()
            / (b - a) as f64;
        let snr = 10.0 * (1.0 / 8.0 / n_pow).log10();
        assert!((snr - 6.0).abs() < 1.0, "snr {snr}");
        // Nothing added outside the spans.
        assert!((0..a as usize).all(|k| noisy[k] == mv[k]));
    }
}
