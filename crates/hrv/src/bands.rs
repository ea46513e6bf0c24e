use std::collections::HashMap;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// The paper's `HRVBands` for one block of n RR values x₀..xₙ₋₁ (µs, in time
/// order, mean kept):
///
/// P_k = |Σⱼ xⱼ·e^(−2πi·jk/n)|², LF = (2/n²)·Σ P_k over
/// floor(0.04·n) ≤ k < floor(0.15·n), HF likewise over
/// floor(0.15·n) ≤ k < floor(0.4·n); LF/HF. Bins are indices, not Hz.
/// The bounds use the original's float truncation, `(0.04 * n) as usize`.
///
/// Holds a planner so repeated block sizes reuse their FFT plans.
pub struct HrvBands {
    planner: FftPlanner<f64>,
    plans: HashMap<usize, Arc<dyn Fft<f64>>>,
    buf: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
}

impl std::fmt::Debug for HrvBands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HrvBands")
            .field("plans", &self.plans.len())
            .finish_non_exhaustive()
    }
}

/// Output of [`HrvBands::compute`], in µs².
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bands {
    pub lf: f64,
    pub hf: f64,
    /// LF/HF; `inf` when HF = 0 < LF and NaN when both are 0, like the
    /// original's IEEE doubles.
    pub lf_hf: f64,
}

/// The original's band limits: `((0.04 n) as int, (0.15 n) as int, (0.4 n) as int)`.
pub fn band_limits(n: usize) -> (usize, usize, usize) {
    let f = n as f64;
    ((0.04 * f) as usize, (0.15 * f) as usize, (0.4 * f) as usize)
}

impl Default for HrvBands {
    fn default() -> Self {
        Self {
            planner: FftPlanner::new(),
            plans: HashMap::new(),
            buf: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

impl HrvBands {
    pub fn new() -> Self {
        Self::default()
    }

    /// Computes the bands; NaN for an empty block.
    pub fn compute(&mut self, rr_us: &[u32]) -> Bands {
        let n = rr_us.len();
        if n == 0 {
            return Bands {
                lf: f64::NAN,
                hf: f64::NAN,
                lf_hf: f64::NAN,
            };
        }
        let planner = &mut self.planner;
        let fft = self
            .plans
            .entry(n)
            .or_insert_with(|| planner.plan_fft_forward(n))
            .clone();
        self.buf.clear();
        self.buf
            .extend(rr_us.iter().map(|&x| Complex::new(f64::from(x), 0.0)));
        self.scratch
            .resize(fft.get_inplace_scratch_len(), Complex::default());
        fft.process_with_scratch(&mut self.buf, &mut self.scratch);
        let (lo, mid, hi) = band_limits(n);
        let power = |k: usize| self.buf.get(k).map_or(0.0, |c| c.norm_sqr());
        let lf: f64 = (lo..mid).map(power).sum();
        let hf: f64 = (mid..hi).map(power).sum();
        let scale = 2.0 / (n as f64 * n as f64);
        let (lf, hf) = (lf * scale, hf * scale);
        Bands {
            lf,
            hf,
            lf_hf: lf / hf,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literal O(n²) definition, as an independent reference.
    pub(crate) fn naive(x: &[u32]) -> (f64, f64) {
        let n = x.len();
        let (lo, mid, hi) = band_limits(n);
        let mut lf = 0.0;
        let mut hf = 0.0;
        for k in lo..hi {
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (j, &v) in x.iter().enumerate() {
                let ang = -2.0 * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64;
                re += f64::from(v) * ang.cos();
                im += f64::from(v) * ang.sin();
            }
            if k < mid {
                lf += re * re + im * im;
            } else {
                hf += re * re + im * im;
            }
        }
        let s = 2.0 / (n * n) as f64;
        (lf * s, hf * s)
    }

    #[test]
    fn fft_matches_naive_dft() {
        let mut b = HrvBands::new();
        for n in [1usize, 2, 7, 24, 25, 26, 100, 257, 712, 1000] {
            let x: Vec<u32> = (0..n)
                .map(|j| {
                    let t = j as f64;
                    (800_000.0 + 40_000.0 * (0.7 * t).sin() + 25_000.0 * (0.23 * t).cos()) as u32
                })
                .collect();
            let got = b.compute(&x);
            let (lf, hf) = naive(&x);
            for (g, r) in [(got.lf, lf), (got.hf, hf)] {
                let scale = r.abs().max(1e-300);
                assert!(
                    (g - r).abs() <= 1e-9 * scale || (g == 0.0 && r == 0.0),
                    "n={n}: fft {g} vs naive {r}"
                );
            }
        }
    }

    #[test]
    fn band_limits_truncate_like_the_original() {
        assert_eq!(band_limits(10), (0, 1, 4));
        assert_eq!(band_limits(25), (1, 3, 10));
        assert_eq!(band_limits(7120), (284, 1068, 2848));
    }

    #[test]
    fn zero_hf_gives_inf_or_nan() {
        let mut b = HrvBands::new();
        // n = 2: lo=0, mid=0, hi=0 -> both bands empty -> 0/0 = NaN
        let r = b.compute(&[800_000, 800_000]);
        assert_eq!((r.lf, r.hf), (0.0, 0.0));
        assert!(r.lf_hf.is_nan());
    }
}
