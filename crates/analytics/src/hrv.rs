//! Heart rate variability of an NN series (intervals between two normal
//! beats, in ms), after the Task Force of the ESC and NASPE, "Heart rate
//! variability: standards of measurement, physiological interpretation and
//! clinical use", Circulation 93:1043–1065 (1996), and Shaffer & Ginsberg,
//! "An overview of heart rate variability metrics and norms", Front. Public
//! Health 5:258 (2017). Each function states its formula.
//!
//! Settings are pinned here and in docs/validation.md; the reference values
//! the tests compare against were computed with NeuroKit2 0.2.13 (time
//! domain, Poincaré, sample entropy, DFA) and with SciPy's `welch` and
//! `lombscargle` on the same pipeline (frequency domain), see
//! `crates/analytics/tests/reference/`.

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

/// Time-domain metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimeDomain {
    pub n: usize,
    /// Mean NN, ms.
    pub mean_nn: f64,
    /// SDNN = √(Σ(NNᵢ − mean)² / (n − 1)), ms (Task Force 1996).
    pub sdnn: f64,
    /// RMSSD = √(mean((NNᵢ₊₁ − NNᵢ)²)), ms.
    pub rmssd: f64,
    /// SDSD = standard deviation (n − 1) of successive differences, ms.
    pub sdsd: f64,
    /// Successive differences with |Δ| > 50 ms, and their share of all
    /// differences in % (Task Force: NN50 / (n − 1)).
    pub nn50: usize,
    pub pnn50: f64,
    pub nn20: usize,
    pub pnn20: f64,
    /// Mean, minimum and maximum of the instantaneous heart rate 60000/NN, bpm.
    pub mean_hr: f64,
    pub min_hr: f64,
    pub max_hr: f64,
    /// HRV triangular index: n / (height of the NN histogram's highest bin),
    /// bins of 1/128 s from 0 ms (Task Force 1996).
    pub tri_index: f64,
    /// TINN: base width M − N of the triangle q fitted by least squares to
    /// the NN histogram (q = 0 outside [N, M], apex at the modal bin), ms.
    pub tinn: f64,
}

/// Frequency-domain metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FrequencyDomain {
    /// Band powers, ms²: VLF 0.0033–0.04 Hz, LF 0.04–0.15 Hz, HF 0.15–0.4 Hz.
    pub vlf: f64,
    pub lf: f64,
    pub hf: f64,
    /// VLF + LF + HF, ms².
    pub total: f64,
    pub lf_hf: f64,
    /// Normalised units: LF/(total − VLF)·100 and HF/(total − VLF)·100.
    pub lf_nu: f64,
    pub hf_nu: f64,
    /// Frequencies of the largest PSD value in LF and HF, Hz.
    pub lf_peak: f64,
    pub hf_peak: f64,
}

/// Non-linear metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NonLinear {
    /// Poincaré: SD1 = sd((NNᵢ − NNᵢ₊₁)/√2), SD2 = sd((NNᵢ + NNᵢ₊₁)/√2),
    /// both with n − 1 (Brennan et al., IEEE TBME 48:1342, 2001), ms.
    pub sd1: f64,
    pub sd2: f64,
    pub sd1_sd2: f64,
    /// Sample entropy, m = 2, r = 0.2·SDNN, Chebyshev distance, matches
    /// d ≤ r without self-matches, N − m templates for both lengths
    /// (Richman & Moorman, Am J Physiol 278:H2039, 2000).
    pub sampen: f64,
    /// DFA (Peng et al., Chaos 5:82, 1995) on the integrated, mean-removed
    /// series, linear detrending per window, windows overlapping by half as
    /// in NeuroKit2; α1 over window sizes 4..=11 beats, α2 over
    /// 12..=(n+1)/10 (NaN when n < 130).
    pub dfa_alpha1: f64,
    pub dfa_alpha2: f64,
}

/// Everything for one window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Hrv {
    pub time: TimeDomain,
    pub frequency: FrequencyDomain,
    pub nonlinear: NonLinear,
}

/// Which spectral estimate [`hrv`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spectrum {
    /// Welch (default): NN series resampled at 4 Hz by linear interpolation,
    /// linear trend removed, 256-sample (64 s) Hann segments with 50 %
    /// overlap (shorter series: one segment), one-sided density.
    #[default]
    Welch,
    /// Lomb–Scargle on the uneven series, mean removed, 0.001 Hz grid.
    LombScargle,
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

/// Sample standard deviation (n − 1).
fn sd(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// Time-domain metrics of `nn` (ms).
pub fn time_domain(nn: &[f64]) -> TimeDomain {
    let n = nn.len();
    if n == 0 {
        return TimeDomain::default();
    }
    let diff: Vec<f64> = nn.windows(2).map(|w| w[1] - w[0]).collect();
    let nn50 = diff.iter().filter(|d| d.abs() > 50.0).count();
    let nn20 = diff.iter().filter(|d| d.abs() > 20.0).count();
    let share = |k: usize| 100.0 * k as f64 / diff.len().max(1) as f64;
    let hr: Vec<f64> = nn.iter().map(|v| 60_000.0 / v).collect();
    let (tri_index, tinn) = triangular(nn);
    TimeDomain {
        n,
        mean_nn: mean(nn),
        sdnn: sd(nn),
        rmssd: if diff.is_empty() {
            f64::NAN
        } else {
            (diff.iter().map(|d| d * d).sum::<f64>() / diff.len() as f64).sqrt()
        },
        sdsd: sd(&diff),
        nn50,
        pnn50: share(nn50),
        nn20,
        pnn20: share(nn20),
        mean_hr: mean(&hr),
        min_hr: hr.iter().copied().fold(f64::INFINITY, f64::min),
        max_hr: hr.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        tri_index,
        tinn,
    }
}

/// HRV triangular index and TINN from the NN histogram (1/128 s bins).
fn triangular(nn: &[f64]) -> (f64, f64) {
    const BIN: f64 = 1000.0 / 128.0;
    let max = nn.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = nn.iter().copied().fold(f64::INFINITY, f64::min);
    if !(max.is_finite() && min.is_finite()) || max > 10_000.0 || min < 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let bins = (max / BIN).floor() as usize + 1;
    let mut h = vec![0u32; bins];
    for v in nn {
        h[((v / BIN).floor() as usize).min(bins - 1)] += 1;
    }
    let (xi, &y) = h
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
        .unwrap_or((0, &1));
    let tri = nn.len() as f64 / f64::from(y.max(1));
    // TINN: search N below the apex X and M above it, from the first bin
    // edge past the minimum to the maximum, minimising the squared error.
    let first = ((min / BIN).floor() as usize + 1).min(xi);
    let (x, y) = (xi, f64::from(y));
    let mut best = (f64::INFINITY, 0usize, 0usize);
    for nb in first..x {
        for mb in (x + 1)..bins {
            if mb as f64 * BIN >= max {
                break;
            }
            let mut err = 0.0;
            for (k, hk) in h.iter().enumerate().take(mb + 1).skip(nb) {
                let q = if k <= x {
                    y * (k - nb) as f64 / (x - nb) as f64
                } else {
                    y * (mb - k) as f64 / (mb - x) as f64
                };
                err += (f64::from(*hk) - q).powi(2);
            }
            if err < best.0 {
                best = (err, nb, mb);
            }
        }
    }
    let tinn = if best.0.is_finite() {
        (best.2 - best.1) as f64 * BIN
    } else {
        f64::NAN
    };
    (tri, tinn)
}

const VLF: (f64, f64) = (0.0033, 0.04);
const LF: (f64, f64) = (0.04, 0.15);
const HF: (f64, f64) = (0.15, 0.4);

/// Band powers from a one-sided PSD sampled at `freqs` with spacing `df`:
/// Σ PSD(f)·df over lo ≤ f < hi.
fn bands(freqs: &[f64], psd: &[f64], df: f64) -> FrequencyDomain {
    let power = |(lo, hi): (f64, f64)| {
        freqs
            .iter()
            .zip(psd)
            .filter(|(f, _)| **f >= lo && **f < hi)
            .map(|(_, p)| p * df)
            .sum::<f64>()
    };
    let peak = |(lo, hi): (f64, f64)| {
        freqs
            .iter()
            .zip(psd)
            .filter(|(f, _)| **f >= lo && **f < hi)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(f64::NAN, |(f, _)| *f)
    };
    let (vlf, lf, hf) = (power(VLF), power(LF), power(HF));
    let total = vlf + lf + hf;
    FrequencyDomain {
        vlf,
        lf,
        hf,
        total,
        lf_hf: lf / hf,
        lf_nu: 100.0 * lf / (lf + hf),
        hf_nu: 100.0 * hf / (lf + hf),
        lf_peak: peak(LF),
        hf_peak: peak(HF),
    }
}

/// Beat times (s) at the end of each interval, from the intervals alone.
pub fn cumulative_times(nn: &[f64]) -> Vec<f64> {
    let mut t = 0.0;
    nn.iter()
        .map(|v| {
            t += v / 1000.0;
            t
        })
        .collect()
}

/// Welch PSD of the NN series resampled at 4 Hz (see [`Spectrum::Welch`]).
/// Returns (frequencies, PSD in ms²/Hz, frequency spacing).
pub fn welch_psd(nn: &[f64], t: &[f64]) -> (Vec<f64>, Vec<f64>, f64) {
    const FS: f64 = 4.0;
    if nn.len() < 4 || t.len() != nn.len() {
        return (Vec::new(), Vec::new(), 1.0);
    }
    // Linear interpolation on an even grid from the first to the last beat.
    let n = ((t[nn.len() - 1] - t[0]) * FS).floor() as usize + 1;
    let mut x = Vec::with_capacity(n);
    let mut j = 0;
    for k in 0..n {
        let tk = t[0] + k as f64 / FS;
        while j + 2 < t.len() && t[j + 1] < tk {
            j += 1;
        }
        let (t0, t1) = (t[j], t[j + 1]);
        let w = if t1 > t0 {
            ((tk - t0) / (t1 - t0)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        x.push(nn[j] + w * (nn[j + 1] - nn[j]));
    }
    detrend_linear(&mut x);
    let seg = n.min(256);
    let step = (seg / 2).max(1);
    let win: Vec<f64> = (0..seg)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / seg as f64).cos())
        .collect();
    let wss: f64 = win.iter().map(|w| w * w).sum();
    let fft = FftPlanner::new().plan_fft_forward(seg);
    let nf = seg / 2 + 1;
    let mut acc = vec![0.0; nf];
    let mut count = 0;
    let mut buf = vec![Complex::new(0.0, 0.0); seg];
    let mut start = 0;
    while start + seg <= n {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = Complex::new(x[start + i] * win[i], 0.0);
        }
        fft.process(&mut buf);
        for (k, a) in acc.iter_mut().enumerate() {
            let mut p = buf[k].norm_sqr() / (FS * wss);
            if k != 0 && !(seg.is_multiple_of(2) && k == seg / 2) {
                p *= 2.0;
            }
            *a += p;
        }
        count += 1;
        start += step;
    }
    acc.iter_mut().for_each(|a| *a /= f64::from(count.max(1)));
    let df = FS / seg as f64;
    ((0..nf).map(|k| k as f64 * df).collect(), acc, df)
}

fn detrend_linear(x: &mut [f64]) {
    let n = x.len() as f64;
    if x.len() < 2 {
        return;
    }
    let mx = (n - 1.0) / 2.0;
    let my = mean(x);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let dx = i as f64 - mx;
        sxy += dx * (v - my);
        sxx += dx * dx;
    }
    let b = sxy / sxx;
    for (i, v) in x.iter_mut().enumerate() {
        *v -= my + b * (i as f64 - mx);
    }
}

/// Lomb–Scargle PSD (Lomb 1976; Scargle 1982) of the uneven series, mean
/// removed, on frequencies k·0.001 Hz up to 0.5 Hz, scaled to a one-sided
/// density in ms²/Hz: PSD = 2·P·T/N with P the classical periodogram
/// (SciPy `lombscargle(normalize=False)`), T the span and N the count.
pub fn lomb_psd(nn: &[f64], t: &[f64]) -> (Vec<f64>, Vec<f64>, f64) {
    const DF: f64 = 0.001;
    if nn.len() < 4 || t.len() != nn.len() {
        return (Vec::new(), Vec::new(), DF);
    }
    let m = mean(nn);
    let y: Vec<f64> = nn.iter().map(|v| v - m).collect();
    let span = t[t.len() - 1] - t[0];
    let scale = 2.0 * span / nn.len() as f64;
    let nf = (0.5 / DF) as usize;
    let mut freqs = Vec::with_capacity(nf);
    let mut psd = Vec::with_capacity(nf);
    // sin/cos of 2π f tᵢ advanced by rotation from one frequency to the next.
    let step: Vec<(f64, f64)> = t
        .iter()
        .map(|ti| {
            let a = 2.0 * std::f64::consts::PI * DF * (ti - t[0]);
            (a.cos(), a.sin())
        })
        .collect();
    let mut cs = step.clone();
    for k in 1..=nf {
        let (mut s2, mut c2) = (0.0, 0.0);
        for (c, s) in &cs {
            s2 += 2.0 * s * c;
            c2 += c * c - s * s;
        }
        let tau2 = s2.atan2(c2); // 2ωτ
        let (ct, st) = ((tau2 / 2.0).cos(), (tau2 / 2.0).sin());
        let (mut yc, mut ys, mut cc, mut ss) = (0.0, 0.0, 0.0, 0.0);
        for ((c, s), yi) in cs.iter().zip(&y) {
            // cos(ωt − ωτ), sin(ωt − ωτ)
            let cd = c * ct + s * st;
            let sd = s * ct - c * st;
            yc += yi * cd;
            ys += yi * sd;
            cc += cd * cd;
            ss += sd * sd;
        }
        let p = 0.5 * (yc * yc / cc + ys * ys / ss);
        freqs.push(k as f64 * DF);
        psd.push(p * scale);
        for ((c, s), (dc, ds)) in cs.iter_mut().zip(&step) {
            let nc = *c * dc - *s * ds;
            let ns = *s * dc + *c * ds;
            *c = nc;
            *s = ns;
        }
    }
    (freqs, psd, DF)
}

/// Frequency-domain metrics by `method`; `t` are the beat times (s) ending
/// each interval ([`cumulative_times`] when only intervals are known).
pub fn frequency_domain(nn: &[f64], t: &[f64], method: Spectrum) -> FrequencyDomain {
    let (f, p, df) = match method {
        Spectrum::Welch => welch_psd(nn, t),
        Spectrum::LombScargle => lomb_psd(nn, t),
    };
    if f.is_empty() {
        let nan = f64::NAN;
        return FrequencyDomain {
            vlf: nan,
            lf: nan,
            hf: nan,
            total: nan,
            lf_hf: nan,
            lf_nu: nan,
            hf_nu: nan,
            lf_peak: nan,
            hf_peak: nan,
        };
    }
    bands(&f, &p, df)
}

/// Poincaré SD1, SD2.
pub fn poincare(nn: &[f64]) -> (f64, f64) {
    let x1: Vec<f64> = nn.windows(2).map(|w| (w[0] - w[1]) / 2f64.sqrt()).collect();
    let x2: Vec<f64> = nn.windows(2).map(|w| (w[0] + w[1]) / 2f64.sqrt()).collect();
    (sd(&x1), sd(&x2))
}

/// Sample entropy with m = 2 and r = `r_factor`·SDNN (see [`NonLinear::sampen`]).
pub fn sample_entropy(x: &[f64], r_factor: f64) -> f64 {
    const M: usize = 2;
    let n = x.len();
    if n < M + 2 {
        return f64::NAN;
    }
    let r = r_factor * sd(x);
    let templates = n - M;
    let (mut b, mut a) = (0u64, 0u64);
    for i in 0..templates {
        for j in (i + 1)..templates {
            if (x[i] - x[j]).abs() <= r && (x[i + 1] - x[j + 1]).abs() <= r {
                b += 1;
                if (x[i + 2] - x[j + 2]).abs() <= r {
                    a += 1;
                }
            }
        }
    }
    if a == 0 || b == 0 {
        return f64::INFINITY;
    }
    -((a as f64) / (b as f64)).ln()
}

/// DFA fluctuation F(s) for one window size (see [`NonLinear::dfa_alpha1`]).
fn dfa_fluctuation(y: &[f64], s: usize) -> f64 {
    let n = y.len();
    let step = (s / 2).max(1);
    let xm = (s as f64 - 1.0) / 2.0;
    let sxx: f64 = (0..s).map(|i| (i as f64 - xm).powi(2)).sum();
    let (mut total, mut count) = (0.0, 0usize);
    let mut start = 0;
    while start < n.saturating_sub(s) {
        let w = &y[start..start + s];
        let ym = mean(w);
        let sxy: f64 = w
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64 - xm) * (v - ym))
            .sum();
        let b = sxy / sxx;
        let var = w
            .iter()
            .enumerate()
            .map(|(i, v)| (v - ym - b * (i as f64 - xm)).powi(2))
            .sum::<f64>()
            / s as f64;
        if var > 1e-8 {
            total += var;
            count += 1;
        }
        start += step;
    }
    if count == 0 {
        return f64::NAN;
    }
    (total / count as f64).sqrt()
}

fn dfa_alpha(x: &[f64], scales: &[usize]) -> f64 {
    let m = mean(x);
    let mut acc = 0.0;
    let y: Vec<f64> = x
        .iter()
        .map(|v| {
            acc += v - m;
            acc
        })
        .collect();
    let pts: Vec<(f64, f64)> = scales
        .iter()
        .map(|&s| ((s as f64).log2(), dfa_fluctuation(&y, s).log2()))
        .filter(|(_, f)| f.is_finite())
        .collect();
    if pts.len() < 2 {
        return f64::NAN;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / pts.len() as f64;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
    let sxy: f64 = pts.iter().map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = pts.iter().map(|(a, _)| (a - mx).powi(2)).sum();
    sxy / sxx
}

/// Non-linear metrics of `nn`.
pub fn nonlinear(nn: &[f64]) -> NonLinear {
    let (sd1, sd2) = poincare(nn);
    let n = nn.len();
    let dfa_alpha1 = if n >= 12 {
        dfa_alpha(nn, &(4..=11).collect::<Vec<_>>())
    } else {
        f64::NAN
    };
    // NeuroKit2's long-range scales: linspace(12, (n+1)/10, k) truncated.
    let max_beats = (n as f64 + 1.0) / 10.0;
    let dfa_alpha2 = if max_beats >= 13.0 {
        let k = (max_beats - 12.0 + 1.0) as usize;
        let scales: Vec<usize> = (0..k)
            .map(|i| {
                let v = 12.0 + (max_beats.floor() - 12.0) * i as f64 / (k - 1).max(1) as f64;
                v as usize
            })
            .collect();
        dfa_alpha(nn, &scales)
    } else {
        f64::NAN
    };
    NonLinear {
        sd1,
        sd2,
        sd1_sd2: sd1 / sd2,
        sampen: sample_entropy(nn, 0.2),
        dfa_alpha1,
        dfa_alpha2,
    }
}

/// All metrics of one window.
pub fn hrv(nn: &[f64], t: Option<&[f64]>, spectrum: Spectrum) -> Hrv {
    let own;
    let t = match t {
        Some(t) => t,
        None => {
            own = cumulative_times(nn);
            &own
        }
    };
    Hrv {
        time: time_domain(nn),
        frequency: frequency_domain(nn, t, spectrum),
        nonlinear: nonlinear(nn),
    }
}
