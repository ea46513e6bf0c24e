use aorta_hrv::{rmssd_us, HrvBands};
use aorta_wire::{Algorithm, Metric, Quality, ResultRecord};

use crate::ClosedWindow;

const WINDOW_MS: u32 = (aorta_hrv::BLOCK_SECONDS * 1000) as u32;

/// Runs the window's algorithms and appends one record per metric to `out`.
///
/// Units: RR-derived times in ms, band powers in ms² (the paper's values in
/// µs divided by 10³ and 10⁶), heart rate in beats per minute.
pub fn compute_window(w: &ClosedWindow, bands: &mut HrvBands, out: &mut Vec<ResultRecord>) {
    let n = w.sums.n;
    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
    let base = |algorithm, metric, value: f64, quality: Quality| ResultRecord {
        t_us: w.start_us(),
        window_ms: WINDOW_MS,
        algorithm,
        metric,
        value,
        quality,
        n: n32,
    };
    let q = w.quality;
    let insufficient = |min: u64| {
        if n < min {
            Quality(q.0 | Quality::INSUFFICIENT)
        } else {
            q
        }
    };
    let rr: Vec<u32> = if w.samples.is_empty() {
        Vec::new()
    } else {
        w.samples.iter().map(|s| s.rr_us).collect()
    };
    for algo in w.algorithms.iter() {
        match algo {
            Algorithm::Identity => {
                for s in &w.samples {
                    out.push(ResultRecord {
                        t_us: s.t_us,
                        ..base(algo, Metric::Rr, f64::from(s.rr_us) / 1e3, q)
                    });
                }
            }
            Algorithm::Sdnn => {
                let q = insufficient(2);
                out.push(base(algo, Metric::N, n as f64, q));
                out.push(base(algo, Metric::MeanRr, w.sums.mean_us() / 1e3, q));
                out.push(base(algo, Metric::Sdnn, w.sums.sdnn_us() / 1e3, q));
            }
            Algorithm::HrvBands => {
                let q = insufficient(2);
                let b = bands.compute(&rr);
                out.push(base(algo, Metric::N, n as f64, q));
                out.push(base(algo, Metric::Lf, b.lf / 1e6, q));
                out.push(base(algo, Metric::Hf, b.hf / 1e6, q));
                out.push(base(algo, Metric::LfHf, b.lf_hf, q));
            }
            Algorithm::HeartRate => {
                out.push(base(
                    algo,
                    Metric::Hr,
                    w.sums.heart_rate_bpm(),
                    insufficient(1),
                ));
            }
            Algorithm::Rmssd => {
                out.push(base(
                    algo,
                    Metric::Rmssd,
                    rmssd_us(&rr) / 1e3,
                    insufficient(2),
                ));
            }
            // Stateful: see `StreamState::clinical_step`.
            Algorithm::Clinical => {}
        }
    }
}
