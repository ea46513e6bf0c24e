//! RR series cleaning after Lipponen & Tarvainen, "A robust algorithm for
//! heart rate variability time series artefact correction using novel beat
//! classification", J. Med. Eng. Technol. 43(3):173–181 (2019) — the
//! method Kubios uses — with the constants and flow of NeuroKit2 0.2.13's
//! implementation (`signal_fixpeaks(method="kubios")`: α = 5.2, c1 = 0.13,
//! c2 = 0.17, 91-beat threshold window, 11-beat median).
//!
//! Beats are classified from two normalised series: dRRs (successive
//! differences over a time-varying threshold 5.2·QD) and mRRs (deviation
//! from the 11-beat median, negative side doubled). Then:
//! * **extra** detection (an interval split in two): the two are merged;
//! * **missed** beat (an interval twice too long): it is split in two;
//! * **ectopic** beat (short–long pair): both intervals touching it are
//!   excluded — they are not NN intervals;
//! * **long/short** interval: excluded.
//!
//! The result is the NN series with the time of the beat ending each
//! interval (so gaps stay visible to Lomb–Scargle) and a report of what
//! changed. It works on a window (a 5-minute block in the worker): the
//! thresholds look 45 beats either way.

/// What cleaning changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleaningReport {
    pub intervals_in: usize,
    pub ectopic: usize,
    pub missed: usize,
    pub extra: usize,
    pub long_short: usize,
    /// Intervals outside 250..3000 ms, dropped before classification.
    pub out_of_range: usize,
    pub intervals_out: usize,
}

impl CleaningReport {
    /// Share of input intervals changed or excluded.
    pub fn corrected_share(&self) -> f64 {
        let changed =
            self.ectopic * 2 + self.missed + self.extra * 2 + self.long_short + self.out_of_range;
        changed as f64 / self.intervals_in.max(1) as f64
    }
}

/// A cleaned NN series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cleaned {
    pub nn: Vec<f64>,
    /// Time (s, from the series start) of the beat ending each interval.
    pub t: Vec<f64>,
    pub report: CleaningReport,
}

const ALPHA: f64 = 5.2;
const C1: f64 = 0.13;
const C2: f64 = 0.17;
const WINDOW: usize = 91;
const MEDFILT: usize = 11;

/// Linear-interpolated quantile of a sorted slice (pandas' default).
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = (v.len() - 1) as f64 * q;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// `f` over the sorted centred window of `width` at every index (clipped at
/// the ends, as pandas' `rolling(center=True, min_periods=1)`). The sorted
/// window slides: one value leaves and one enters per step (binary search,
/// O(width) move), instead of sorting every window anew.
fn rolling<F: Fn(&[f64]) -> f64>(x: &[f64], width: usize, f: F) -> Vec<f64> {
    let half = width / 2;
    let pos = |w: &Vec<f64>, v: f64| w.partition_point(|a| a.total_cmp(&v).is_lt());
    let mut win: Vec<f64> = Vec::with_capacity(width + 1);
    for &v in &x[..half.min(x.len())] {
        let at = pos(&win, v);
        win.insert(at, v);
    }
    (0..x.len())
        .map(|i| {
            if let Some(&v) = x.get(i + half) {
                let at = pos(&win, v);
                win.insert(at, v);
            }
            if let Some(out) = i.checked_sub(half + 1).map(|j| x[j]) {
                let at = pos(&win, out);
                win.remove(at);
            }
            f(&win)
        })
        .collect()
}

fn threshold(x: &[f64]) -> Vec<f64> {
    let abs: Vec<f64> = x.iter().map(|v| v.abs()).collect();
    rolling(&abs, WINDOW, |w| {
        ALPHA * (quantile_sorted(w, 0.75) - quantile_sorted(w, 0.25)) / 2.0
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    Ectopic,
    Missed,
    Extra,
    LongShort,
}

/// Classifies intervals (index = interval ending at that beat, NeuroKit2's
/// layout where element 0 is a placeholder).
fn classify(rr: &[f64]) -> Vec<Kind> {
    let n = rr.len();
    let mut kinds = vec![Kind::Normal; n];
    if n < 4 {
        return kinds;
    }
    let mut drrs: Vec<f64> = (0..n)
        .map(|i| if i == 0 { 0.0 } else { rr[i] - rr[i - 1] })
        .collect();
    drrs[0] = drrs[1..].iter().sum::<f64>() / (n - 1) as f64;
    let th1 = threshold(&drrs);
    for (d, t) in drrs.iter_mut().zip(&th1) {
        *d = if *t != 0.0 { *d / t } else { f64::NAN };
    }
    // Reflect-padded neighbours (numpy "reflect": x[1], x[0] | ... | x[n-2], x[n-3]).
    let at = |k: isize| -> f64 {
        let n = n as isize;
        let k = if k < 0 {
            -k
        } else if k >= n {
            2 * (n - 1) - k
        } else {
            k
        };
        drrs[k.clamp(0, n - 1) as usize]
    };
    let s12: Vec<f64> = (0..n as isize)
        .map(|i| {
            let d = drrs[i as usize];
            if d > 0.0 {
                at(i - 1).max(at(i + 1))
            } else if d < 0.0 {
                at(i - 1).min(at(i + 1))
            } else {
                0.0
            }
        })
        .collect();
    let s22: Vec<f64> = (0..n as isize)
        .map(|i| {
            let d = drrs[i as usize];
            if d >= 0.0 {
                at(i + 1).min(at(i + 2))
            } else if d < 0.0 {
                at(i + 1).max(at(i + 2))
            } else {
                0.0
            }
        })
        .collect();
    let medrr = rolling(rr, MEDFILT, |w| quantile_sorted(w, 0.5));
    let mut mrrs: Vec<f64> = rr
        .iter()
        .zip(&medrr)
        .map(|(r, m)| {
            let d = r - m;
            if d < 0.0 {
                2.0 * d
            } else {
                d
            }
        })
        .collect();
    let th2 = threshold(&mrrs);
    for (m, t) in mrrs.iter_mut().zip(&th2) {
        *m = if *t != 0.0 { *m / t } else { f64::NAN };
    }
    let mut i = 0;
    while i + 2 < n {
        if drrs[i].abs() <= 1.0 || drrs[i].is_nan() {
            i += 1;
            continue;
        }
        let eq1 = drrs[i] > 1.0 && s12[i] < -C1 * drrs[i] - C2;
        let eq2 = drrs[i] < -1.0 && s12[i] > -C1 * drrs[i] + C2;
        if eq1 || eq2 {
            kinds[i] = Kind::Ectopic;
            i += 1;
            continue;
        }
        let mut candidates = vec![i];
        if drrs[i + 1].abs() < drrs[i + 2].abs() {
            candidates.push(i + 1);
        }
        for j in candidates {
            let eq3 = drrs[j] > 1.0 && s22[j] < -1.0;
            let eq4 = mrrs[j].abs() > 3.0;
            let eq5 = drrs[j] < -1.0 && s22[j] > 1.0;
            if !(eq3 || eq4 || eq5) {
                i += 1;
                continue;
            }
            let eq6 = (rr[j] / 2.0 - medrr[j]).abs() < th2[j];
            let eq7 = j + 1 < n && (rr[j] + rr[j + 1] - medrr[j]).abs() < th2[j];
            if eq5 && eq7 {
                kinds[j] = Kind::Extra;
            } else if eq3 && eq6 {
                kinds[j] = Kind::Missed;
            } else {
                kinds[j] = Kind::LongShort;
            }
            i += 1;
        }
    }
    kinds
}

/// Cleans RR intervals (ms) into NN intervals with their end times.
///
/// Like NeuroKit2's iterative mode, detection runs again on the corrected
/// series (at most ten passes; flags within two intervals after a
/// correction wait for the next pass) so that one artefact's neighbours are not
/// flagged for it. Corrections made for detection (interpolated ectopic
/// pairs, split intervals, replaced long/short ones) are *excluded* from
/// the NN output; merged extra detections are real intervals and stay.
pub fn clean(rr_ms: &[f64]) -> Cleaned {
    let mut report = CleaningReport {
        intervals_in: rr_ms.len(),
        ..CleaningReport::default()
    };
    let mut acc = 0.0;
    let mut rr = Vec::with_capacity(rr_ms.len());
    let mut t = Vec::with_capacity(rr_ms.len());
    for v in rr_ms {
        if v.is_finite() && *v > 0.0 && *v < 60_000.0 {
            acc += v / 1000.0;
        }
        if v.is_finite() && (250.0..=3000.0).contains(v) {
            rr.push(*v);
            t.push(acc);
        } else {
            report.out_of_range += 1;
        }
    }
    let mut excluded = vec![false; rr.len()];
    for _pass in 0..10 {
        if rr.len() < 4 {
            break;
        }
        // NeuroKit2 layout: a placeholder first element (the mean of the rest).
        let mut padded = Vec::with_capacity(rr.len() + 1);
        padded.push(rr.iter().sum::<f64>() / rr.len() as f64);
        padded.extend_from_slice(&rr);
        let kinds = classify(&padded);
        if kinds.iter().all(|k| *k == Kind::Normal) {
            break;
        }
        let medrr = rolling(&rr, MEDFILT, |w| quantile_sorted(w, 0.5));
        let (mut r2, mut t2, mut e2) = (Vec::new(), Vec::new(), Vec::new());
        let mut k = 0;
        // Flags right after a correction may be caused by the artefact
        // just corrected: leave them to the next pass.
        let mut settle_until = 0;
        while k < rr.len() {
            // An ectopic flag marks the long interval after the ectopic
            // beat; the pair is (the short one before, that one).
            let pair_starts_here = k + 2 < kinds.len() && kinds[k + 2] == Kind::Ectopic;
            let kind = if k < settle_until {
                Kind::Normal
            } else if pair_starts_here {
                Kind::Ectopic
            } else if kinds[k + 1] == Kind::Ectopic {
                Kind::LongShort
            } else {
                kinds[k + 1]
            };
            if kind != Kind::Normal {
                settle_until = k + 4;
            }
            match kind {
                Kind::Extra if k + 1 < rr.len() => {
                    report.extra += 1;
                    r2.push(rr[k] + rr[k + 1]);
                    t2.push(t[k + 1]);
                    e2.push(excluded[k] || excluded[k + 1]);
                    k += 2;
                }
                Kind::Missed => {
                    report.missed += 1;
                    for (v, tv) in [(rr[k] / 2.0, t[k] - rr[k] / 2000.0), (rr[k] / 2.0, t[k])] {
                        r2.push(v);
                        t2.push(tv);
                        e2.push(true);
                    }
                    k += 1;
                }
                Kind::Ectopic if k + 1 < rr.len() => {
                    // Premature beat and compensatory pause: both intervals
                    // touch the ectopic beat; interpolate them for detection.
                    report.ectopic += 1;
                    let m = (rr[k] + rr[k + 1]) / 2.0;
                    for j in [k, k + 1] {
                        r2.push(m);
                        t2.push(t[j]);
                        e2.push(true);
                    }
                    k += 2;
                }
                Kind::Normal => {
                    r2.push(rr[k]);
                    t2.push(t[k]);
                    e2.push(excluded[k]);
                    k += 1;
                }
                _ => {
                    report.long_short += 1;
                    r2.push(medrr[k]);
                    t2.push(t[k]);
                    e2.push(true);
                    k += 1;
                }
            }
        }
        rr = r2;
        t = t2;
        excluded = e2;
    }
    let (nn, tt): (Vec<f64>, Vec<f64>) = rr
        .iter()
        .zip(&t)
        .zip(&excluded)
        .filter(|(_, e)| !**e)
        .map(|((r, t), _)| (*r, *t))
        .unzip();
    report.intervals_out = nn.len();
    Cleaned { nn, t: tt, report }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_equals_sorting_each_window() {
        let mut x = 3u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) % 50) as f64 // many ties
        };
        for n in [0usize, 1, 2, 5, 11, 12, 90, 91, 92, 300] {
            let v: Vec<f64> = (0..n).map(|_| next()).collect();
            for width in [1usize, 2, 11, 91] {
                let half = width / 2;
                let naive: Vec<f64> = (0..n)
                    .map(|i| {
                        let mut w = v[i.saturating_sub(half)..(i + half + 1).min(n)].to_vec();
                        w.sort_by(f64::total_cmp);
                        quantile_sorted(&w, 0.25) * 1e6 + quantile_sorted(&w, 0.5)
                    })
                    .collect();
                let fast = rolling(&v, width, |w| {
                    quantile_sorted(w, 0.25) * 1e6 + quantile_sorted(w, 0.5)
                });
                assert_eq!(naive, fast, "n {n} width {width}");
            }
        }
    }

    /// Sinus rhythm: respiratory modulation plus beat-to-beat noise.
    fn sinus(n: usize) -> Vec<f64> {
        let mut x = 7u64;
        (0..n)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((x >> 33) % 1600) as f64 / 100.0 - 8.0;
                800.0 + 15.0 * (i as f64 * std::f64::consts::TAU / 12.0).sin() + noise
            })
            .collect()
    }

    #[test]
    fn clean_series_is_untouched() {
        let rr = sinus(300);
        let c = clean(&rr);
        assert_eq!(c.nn, rr);
        assert_eq!(c.report.corrected_share(), 0.0);
    }

    #[test]
    fn each_artefact_kind_is_found_and_corrected() {
        let base = sinus(300);
        // Ectopic: premature beat then compensatory pause.
        let mut rr = base.clone();
        rr[100] = 520.0;
        rr[101] = 1080.0;
        let c = clean(&rr);
        assert_eq!(c.report.ectopic, 1, "{:?}", c.report);
        assert_eq!(c.nn.len(), 298, "{:?}", c.report);
        assert!(c.nn.iter().all(|v| (700.0..900.0).contains(v)));
        // Missed beat: one interval twice as long.
        let mut rr = base.clone();
        rr[150] = base[150] + base[151];
        rr.remove(151);
        let c = clean(&rr);
        assert_eq!(c.report.missed, 1, "{:?}", c.report);
        assert_eq!(
            c.nn.len(),
            298,
            "299 in; the two halves are estimates, not NN"
        );
        // Extra detection: one interval split in two.
        let mut rr = base.clone();
        let v = rr[200];
        rr[200] = v * 0.35;
        rr.insert(201, v * 0.65);
        let c = clean(&rr);
        assert_eq!(c.report.extra, 1, "{:?}", c.report);
        assert_eq!(c.nn.len(), 300, "{:?}", c.report);
        assert!((c.nn[200] - v).abs() < 1e-9);
        // Impossible values are dropped and counted.
        let mut rr = base;
        rr[10] = f64::NAN;
        rr[20] = 20_000.0;
        rr[30] = -5.0;
        let c = clean(&rr);
        assert_eq!(c.report.out_of_range, 3);
    }
}
