//! Raw ECG streams: the worker detects R peaks inside the TEE and turns
//! them into RR intervals that then follow the RR path (blocks, windows,
//! algorithms). The detector's state is part of the stream's checkpoint.
//!
//! ECG batches must arrive in sample order: a batch that starts before the
//! next expected sample (replayed or reordered) is refused `stale`; one
//! that starts after it (samples lost) restarts the detector there, and no
//! RR interval spans the gap. Beats lag the ECG by the detector's delay
//! (< 0.6 s), so the RR watermark is the ECG watermark less 1 s.

use aorta_analytics::QrsDetector;
use aorta_wire::{EcgBatch, RrSample, ECG_UNIT_UV};
use serde::{Deserialize, Serialize};

use crate::Rejection;

/// How far RR event time trails the ECG watermark.
pub const DETECTOR_MARGIN_US: i64 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcgState {
    fs_hz: u32,
    origin_us: i64,
    next_index: u64,
    /// Stream index of the detector's sample 0.
    base_index: u64,
    detector: QrsDetector,
    last_beat_us: Option<i64>,
}

impl EcgState {
    fn new(b: &EcgBatch) -> Result<Self, Rejection> {
        Ok(Self {
            fs_hz: b.fs_hz,
            origin_us: b.origin_us,
            next_index: b.first_index,
            base_index: b.first_index,
            detector: QrsDetector::new(f64::from(b.fs_hz)).map_err(|_| Rejection::BadContent)?,
            last_beat_us: None,
        })
    }

    fn time_of(&self, index: u64) -> i64 {
        self.origin_us + (i128::from(index) * 1_000_000 / i128::from(self.fs_hz.max(1))) as i64
    }

    /// Approximate heap size.
    pub fn heap_bytes(&self) -> usize {
        (0.6 * f64::from(self.fs_hz)) as usize * 12 + 512
    }
}

/// Feeds one ECG batch; appends the RR intervals it completes to `out` and
/// returns the RR watermark. `last` flushes the detector (end of stream).
pub fn ecg_to_rr(
    state: &mut Option<Box<EcgState>>,
    b: &EcgBatch,
    last: bool,
    out: &mut Vec<RrSample>,
) -> Result<i64, Rejection> {
    let restart = state
        .as_ref()
        .is_none_or(|s| s.fs_hz != b.fs_hz || s.origin_us != b.origin_us);
    if restart {
        *state = Some(Box::new(EcgState::new(b)?));
    }
    let Some(s) = state.as_mut() else {
        return Err(Rejection::BadContent);
    };
    if b.first_index < s.next_index {
        return Err(Rejection::Stale);
    }
    if b.first_index > s.next_index {
        // Samples were lost: restart detection after the gap.
        s.detector = QrsDetector::new(f64::from(b.fs_hz)).map_err(|_| Rejection::BadContent)?;
        s.base_index = b.first_index;
        s.last_beat_us = None;
    }
    let unit = ECG_UNIT_UV / 1000.0;
    let mv: Vec<f32> = b.samples.iter().map(|v| f32::from(*v) * unit).collect();
    let mut beats = Vec::new();
    s.detector.push(&mv, &mut beats);
    if last {
        s.detector.finish(&mut beats);
    }
    s.next_index = b.first_index + b.samples.len() as u64;
    for beat in beats {
        let t = s.time_of(s.base_index + beat.sample);
        if let Some(prev) = s.last_beat_us {
            if let Ok(rr) = u32::try_from(t - prev) {
                if rr > 0 {
                    out.push(RrSample { t_us: t, rr_us: rr });
                }
            }
        }
        s.last_beat_us = Some(t);
    }
    Ok(if last {
        b.watermark_us
    } else {
        b.watermark_us.saturating_sub(DETECTOR_MARGIN_US)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic ECG: a narrow 1.2 mV spike every `period` samples.
    fn batch(first: u64, n: usize, period: u64, fs: u32) -> EcgBatch {
        let samples = (first..first + n as u64)
            .map(|i| {
                let d = (i % period) as i64 - 10;
                if d.abs() < 4 {
                    (240 - 60 * d.abs()) as i16
                } else {
                    0
                }
            })
            .collect();
        EcgBatch {
            fs_hz: fs,
            first_index: first,
            origin_us: 1_700_000_000_000_000,
            watermark_us: 1_700_000_000_000_000
                + ((first + n as u64) * 1_000_000 / u64::from(fs)) as i64,
            samples,
        }
    }

    #[test]
    fn beats_become_rr_and_replays_gaps_and_bad_rates_are_handled() {
        let mut st = None;
        let mut rr = Vec::new();
        for k in 0..6u64 {
            ecg_to_rr(&mut st, &batch(k * 3600, 3600, 300, 360), false, &mut rr).unwrap();
        }
        // One spike every 300 samples at 360 Hz: RR 833 ms (after the filters' start-up transient).
        assert!(rr.len() > 60, "{}", rr.len());
        assert!(
            rr[1..].iter().all(|s| s.rr_us.abs_diff(833_333) < 3_000),
            "{rr:?}"
        );
        // Replayed batch: stale, nothing changes.
        let before = st.clone();
        assert_eq!(
            ecg_to_rr(&mut st, &batch(3600, 3600, 300, 360), false, &mut rr),
            Err(Rejection::Stale)
        );
        assert_eq!(st, before);
        // Samples lost: detection restarts, no RR spans the gap.
        let n = rr.len();
        ecg_to_rr(&mut st, &batch(36_000, 3600, 300, 360), false, &mut rr).unwrap();
        assert!(rr[n..].iter().all(|s| s.rr_us < 1_000_000));
        // An impossible sampling rate is bad content.
        let mut fresh = None;
        assert_eq!(
            ecg_to_rr(&mut fresh, &batch(0, 10, 300, 50), false, &mut rr),
            Err(Rejection::BadContent)
        );
    }
}
