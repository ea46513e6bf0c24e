//! Raw waveform streams (ECG and PPG): the worker finds beats inside the
//! TEE — R peaks (Hamilton–Tompkins) in ECG, systolic peaks (Elgendi) in
//! PPG — and turns them into RR intervals that then follow the RR path
//! (blocks, windows, algorithms). The detector's state, and batches held
//! for reordering, are part of the stream's checkpoint.
//!
//! Detection needs samples in order, while envelopes may arrive out of
//! order. A batch that starts after the next expected sample is held until
//! the missing samples arrive, so results do not depend on the arrival
//! order within the allowed lateness. A gap is given up when the newest
//! watermark is more than the allowed lateness past the end of the
//! missing samples (or more than [`MAX_HELD`] batches wait): the missing
//! samples are counted as lost, detection restarts after the gap and no RR
//! interval spans it. A batch that arrives after its samples were
//! processed or given up (replayed, or later than the allowed lateness) is
//! refused `stale` and counted. Beats lag the signal by the detector's
//! delay (< 0.6 s), so the RR watermark is the processed frontier less 1 s.

use std::collections::BTreeMap;

use aorta_analytics::ppg::PpgDetector;
use aorta_analytics::QrsDetector;
use aorta_wire::{EcgBatch, RrSample, ECG_UNIT_UV};
use serde::{Deserialize, Serialize};

use crate::Rejection;

/// How far RR event time trails the processed waveform.
pub const DETECTOR_MARGIN_US: i64 = 1_000_000;
/// Most batches held while waiting for a missing one.
pub const MAX_HELD: usize = 64;
/// Longest stream, µs after its start (a century).
const MAX_STREAM_US: i128 = 100 * 366 * 86_400 * 1_000_000;

/// Which signal a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaveKind {
    Ecg,
    Ppg,
}

// One per stream, inside the already boxed `EcgState`: a second box buys
// nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Detector {
    Qrs(QrsDetector),
    Ppg(PpgDetector),
}

impl Detector {
    fn new(kind: WaveKind, fs_hz: u32) -> Result<Self, Rejection> {
        let fs = f64::from(fs_hz);
        Ok(match kind {
            WaveKind::Ecg => Self::Qrs(QrsDetector::new(fs).map_err(|_| Rejection::BadContent)?),
            WaveKind::Ppg => Self::Ppg(PpgDetector::new(fs).map_err(|_| Rejection::BadContent)?),
        })
    }

    /// Feeds samples; appends beat sample indices (detector-relative) to
    /// `beats` and the (start, length) of every completed 10-s segment the
    /// detector's quality check failed to `noisy`.
    fn push(&mut self, b: &[i16], last: bool, beats: &mut Vec<u64>, noisy: &mut Vec<(u64, u64)>) {
        match self {
            Self::Qrs(d) => {
                let unit = ECG_UNIT_UV / 1000.0;
                let mv: Vec<f32> = b.iter().map(|v| f32::from(*v) * unit).collect();
                let mut out = Vec::new();
                d.push(&mv, &mut out);
                if last {
                    d.finish(&mut out);
                }
                noisy.extend(
                    d.take_quality()
                        .iter()
                        .filter(|q| !q.ok())
                        .map(|q| (q.start, q.len)),
                );
                beats.extend(out.iter().map(|x| x.sample));
            }
            Self::Ppg(d) => {
                let x: Vec<f32> = b.iter().map(|v| f32::from(*v)).collect();
                let mut out = Vec::new();
                d.push(&x, &mut out);
                if last {
                    d.finish(&mut out);
                }
                noisy.extend(
                    d.take_quality()
                        .iter()
                        .filter(|q| q.motion || q.invalid_samples > 0)
                        .map(|q| (q.start, q.len)),
                );
                beats.extend(out.iter().map(|x| x.sample));
            }
        }
    }

    /// First sample whose segment's quality is not known yet.
    fn open_segment_start(&self) -> u64 {
        match self {
            Self::Qrs(d) => d.open_segment_start(),
            Self::Ppg(d) => d.open_segment_start(),
        }
    }
}

/// A batch held until the samples before it arrive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Held {
    last: bool,
    samples: Vec<i16>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcgState {
    kind: WaveKind,
    fs_hz: u32,
    origin_us: i64,
    next_index: u64,
    /// Stream index of the detector's sample 0.
    base_index: u64,
    detector: Detector,
    last_beat_us: Option<i64>,
    /// Batches waiting for a gap before them to fill, by first index.
    held: BTreeMap<u64, Held>,
    /// Newest (highest) watermark seen.
    watermark_us: i64,
}

/// What one batch did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WaveOutcome {
    /// RR watermark: no later RR interval ends before it, and the signal
    /// quality of everything before it is known.
    pub watermark_us: i64,
    /// Event-time spans [from, to) µs the detector's signal-quality check
    /// flagged (noise, motion, flat line, clipping): beats in them are
    /// unreliable.
    pub noisy_spans: Vec<(i64, i64)>,
    /// Samples given up as lost (a gap that did not fill in time).
    pub lost_samples: u64,
    /// The stream changed sampling rate, start time or signal kind:
    /// detection restarted, no interval spans the change.
    pub restarted: bool,
}

impl EcgState {
    /// A stream's state from the first batch that arrives. If that batch
    /// starts within the allowed lateness of the stream's start, earlier
    /// batches may still come: detection starts at sample 0.
    fn new(kind: WaveKind, b: &EcgBatch, allowed_lateness_us: i64) -> Result<Self, Rejection> {
        let offset_us = i128::from(b.first_index) * 1_000_000 / i128::from(b.fs_hz.max(1));
        let start = if offset_us <= i128::from(allowed_lateness_us) {
            0
        } else {
            b.first_index
        };
        Ok(Self {
            kind,
            fs_hz: b.fs_hz,
            origin_us: b.origin_us,
            next_index: start,
            base_index: start,
            detector: Detector::new(kind, b.fs_hz)?,
            last_beat_us: None,
            held: BTreeMap::new(),
            watermark_us: b.watermark_us,
        })
    }

    fn time_of(&self, index: u64) -> i64 {
        self.origin_us
            .saturating_add((i128::from(index) * 1_000_000 / i128::from(self.fs_hz.max(1))) as i64)
    }

    /// Batches waiting for a gap before them to fill.
    pub fn held_batches(&self) -> usize {
        self.held.len()
    }

    /// Approximate heap size.
    pub fn heap_bytes(&self) -> usize {
        let held: usize = self.held.values().map(|h| h.samples.len() * 2 + 64).sum();
        let detector = match &self.detector {
            Detector::Qrs(d) => d.heap_bytes(),
            Detector::Ppg(_) => (0.6 * f64::from(self.fs_hz)) as usize * 12 + 512,
        };
        detector + held
    }

    /// Runs the detector over contiguous samples starting at `next_index`.
    fn process(
        &mut self,
        samples: &[i16],
        last: bool,
        out: &mut Vec<RrSample>,
        noisy_spans: &mut Vec<(i64, i64)>,
    ) {
        let mut beats = Vec::new();
        let mut noisy = Vec::new();
        self.detector.push(samples, last, &mut beats, &mut noisy);
        for (start, len) in noisy {
            let from = self.base_index + start;
            noisy_spans.push((self.time_of(from), self.time_of(from + len)));
        }
        self.next_index += samples.len() as u64;
        for beat in beats {
            let t = self.time_of(self.base_index + beat);
            if let Some(prev) = self.last_beat_us {
                if let Ok(rr) = u32::try_from(t - prev) {
                    if rr > 0 {
                        out.push(RrSample { t_us: t, rr_us: rr });
                    }
                }
            }
            self.last_beat_us = Some(t);
        }
    }

    /// Restarts detection at `index` (samples before it are lost).
    fn skip_to(&mut self, index: u64) -> Result<u64, Rejection> {
        let lost = index.saturating_sub(self.next_index);
        self.detector = Detector::new(self.kind, self.fs_hz)?;
        self.base_index = index;
        self.next_index = index;
        self.last_beat_us = None;
        Ok(lost)
    }
}

/// Feeds one waveform batch of `kind`; appends the RR intervals it
/// completes to `out`. `last` flushes the detector (end of stream).
/// `allowed_lateness_us` bounds how long a gap is waited for.
pub fn ecg_to_rr(
    state: &mut Option<Box<EcgState>>,
    kind: WaveKind,
    b: &EcgBatch,
    last: bool,
    allowed_lateness_us: i64,
    out: &mut Vec<RrSample>,
) -> Result<WaveOutcome, Rejection> {
    // Sample indices and times must stay representable: at most a century
    // of samples after the stream's start, within i64 µs.
    let end = b.first_index.checked_add(b.samples.len() as u64);
    let offset_us = end.map(|e| i128::from(e) * 1_000_000 / i128::from(b.fs_hz.max(1)));
    if !offset_us
        .is_some_and(|o| o <= MAX_STREAM_US && i128::from(b.origin_us) + o <= i128::from(i64::MAX))
    {
        return Err(Rejection::BadContent);
    }
    let changed = state
        .as_ref()
        .is_some_and(|s| s.fs_hz != b.fs_hz || s.origin_us != b.origin_us || s.kind != kind);
    if state.is_none() || changed {
        *state = Some(Box::new(EcgState::new(kind, b, allowed_lateness_us)?));
    }
    let Some(s) = state.as_mut() else {
        return Err(Rejection::BadContent);
    };
    if b.first_index < s.next_index || s.held.contains_key(&b.first_index) {
        return Err(Rejection::Stale);
    }
    let mut outcome = WaveOutcome {
        restarted: changed,
        ..WaveOutcome::default()
    };
    s.watermark_us = s.watermark_us.max(b.watermark_us);
    // In order (the usual case): straight to the detector. Early: held.
    let mut ended = false;
    if b.first_index == s.next_index {
        ended = last;
        s.process(&b.samples, last, out, &mut outcome.noisy_spans);
    } else {
        let held = Held {
            last,
            samples: b.samples.clone(),
        };
        s.held.insert(b.first_index, held);
    }
    loop {
        // Batches overtaken by a skip (they overlap processed samples).
        while let Some(e) = s.held.first_entry() {
            if *e.key() >= s.next_index {
                break;
            }
            outcome.lost_samples += e.remove().samples.len() as u64;
        }
        let Some((&first, _)) = s.held.first_key_value() else {
            break;
        };
        if first == s.next_index {
            if let Some(h) = s.held.remove(&first) {
                ended |= h.last;
                s.process(&h.samples, h.last, out, &mut outcome.noisy_spans);
            }
            continue;
        }
        // A gap before `first`: wait, unless the missing samples all lie
        // before the lateness horizon (the newest watermark less the
        // allowed lateness; RR samples that old would be late too), too
        // many batches wait, or the stream ended.
        let give_up = s.watermark_us.saturating_sub(allowed_lateness_us) > s.time_of(first)
            || s.held.len() > MAX_HELD
            || s.held.values().any(|h| h.last);
        if !give_up {
            break;
        }
        outcome.lost_samples += s.skip_to(first)?;
    }
    // Nothing after the start of the segment whose quality is still open
    // may close: its blocks could yet be flagged noisy.
    let unjudged = s.time_of(s.base_index + s.detector.open_segment_start());
    let frontier = s
        .time_of(s.next_index)
        .min(s.watermark_us)
        .min(unjudged.saturating_add(DETECTOR_MARGIN_US));
    outcome.watermark_us = if ended && s.held.is_empty() {
        s.watermark_us
    } else {
        frontier.saturating_sub(DETECTOR_MARGIN_US)
    };
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATENESS: i64 = 10_000_000;

    /// A synthetic waveform: a narrow spike every `period` samples
    /// (1.2 mV for ECG), with a little deterministic jitter of the period.
    fn batch(first: u64, n: usize, period: u64, fs: u32) -> EcgBatch {
        let samples = (first..first + n as u64)
            .map(|i| {
                let d = (i % period) as i64 - 10 - ((i / period) % 3) as i64;
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

    fn run(
        kind: WaveKind,
        order: &[u64],
        n: usize,
        period: u64,
        fs: u32,
    ) -> (Vec<RrSample>, Option<Box<EcgState>>, u64) {
        let (mut st, mut rr, mut lost) = (None, Vec::new(), 0);
        for &k in order {
            let o = ecg_to_rr(
                &mut st,
                kind,
                &batch(k * n as u64, n, period, fs),
                false,
                LATENESS,
                &mut rr,
            )
            .unwrap();
            lost += o.lost_samples;
        }
        (rr, st, lost)
    }

    #[test]
    fn beats_become_rr_and_replays_gaps_and_bad_rates_are_handled() {
        let (mut rr, mut st, _) = run(WaveKind::Ecg, &[0, 1, 2, 3, 4, 5], 3600, 300, 360);
        // One spike every ~300 samples at 360 Hz: RR ≈ 833 ms.
        assert!(rr.len() > 60, "{}", rr.len());
        assert!(
            rr[1..].iter().all(|s| s.rr_us.abs_diff(833_333) < 12_000),
            "{rr:?}"
        );
        // Replayed batch: stale, nothing changes.
        let before = st.clone();
        assert_eq!(
            ecg_to_rr(
                &mut st,
                WaveKind::Ecg,
                &batch(3600, 3600, 300, 360),
                false,
                LATENESS,
                &mut rr
            ),
            Err(Rejection::Stale)
        );
        assert_eq!(st, before);
        // Samples missing: the batch after the gap is held while the gap
        // may still fill; once the watermark passes the gap's end by more
        // than the allowed lateness, the gap is given up and counted, and
        // no RR interval spans it.
        let n = rr.len();
        let o = ecg_to_rr(
            &mut st,
            WaveKind::Ecg,
            &batch(36_000, 3600, 300, 360),
            false,
            LATENESS,
            &mut rr,
        )
        .unwrap();
        assert_eq!(o.lost_samples, 0, "{o:?}");
        assert_eq!(st.as_ref().map(|s| s.held.len()), Some(1), "held");
        assert_eq!(rr.len(), n);
        let o = ecg_to_rr(
            &mut st,
            WaveKind::Ecg,
            &batch(39_600, 3600, 300, 360),
            false,
            LATENESS,
            &mut rr,
        )
        .unwrap();
        assert_eq!(o.lost_samples, 36_000 - 6 * 3600);
        assert!(rr.len() > n + 15);
        assert!(rr[n..].iter().all(|s| s.rr_us < 1_000_000));
        // The lost samples arriving afterwards are stale.
        assert_eq!(
            ecg_to_rr(
                &mut st,
                WaveKind::Ecg,
                &batch(21_600, 3600, 300, 360),
                false,
                LATENESS,
                &mut rr
            ),
            Err(Rejection::Stale)
        );
        // A sampling-rate change restarts detection, and says so.
        let mut b = batch(39_600 + 3600, 7200, 600, 720);
        b.first_index = 0;
        let o = ecg_to_rr(&mut st, WaveKind::Ecg, &b, false, LATENESS, &mut rr).unwrap();
        assert!(o.restarted, "{o:?}");
        assert!(st.as_ref().is_some_and(|s| s.held.is_empty()));
        // An impossible sampling rate is bad content, for either kind.
        for kind in [WaveKind::Ecg, WaveKind::Ppg] {
            let mut fresh = None;
            assert_eq!(
                ecg_to_rr(
                    &mut fresh,
                    kind,
                    &batch(0, 10, 300, 5),
                    false,
                    LATENESS,
                    &mut rr
                ),
                Err(Rejection::BadContent)
            );
        }
    }

    #[test]
    fn arrival_order_within_the_lateness_does_not_change_beats() {
        // 1-s batches at 250 Hz: swaps and a 3-s delay stay within 10 s.
        let in_order: Vec<u64> = (0..40).collect();
        let mut shuffled = in_order.clone();
        shuffled.swap(0, 1);
        shuffled.swap(10, 11);
        let late = shuffled.remove(20);
        shuffled.insert(23, late);
        for kind in [WaveKind::Ecg, WaveKind::Ppg] {
            let (a, sa, lost_a) = run(kind, &in_order, 250, 200, 250);
            let (b, sb, lost_b) = run(kind, &shuffled, 250, 200, 250);
            assert!(a.len() > 40, "{kind:?}: {}", a.len());
            assert_eq!(a, b, "{kind:?}");
            assert_eq!((lost_a, lost_b), (0, 0));
            assert_eq!(sa, sb);
        }
    }

    #[test]
    fn a_checkpoint_with_held_batches_restores_to_the_same_result() {
        let order = [0u64, 1, 3, 4, 2, 5, 6, 7, 8, 9];
        let (whole, _, _) = run(WaveKind::Ecg, &order, 360, 300, 360);
        // Stop after batch 4 (batches 3 and 4 held, waiting for 2).
        let (mut rr, st, _) = run(WaveKind::Ecg, &order[..4], 360, 300, 360);
        assert_eq!(st.as_ref().map(|s| s.held.len()), Some(2));
        let bytes = postcard::to_allocvec(&st).unwrap();
        let mut st: Option<Box<EcgState>> = postcard::from_bytes(&bytes).unwrap();
        for &k in &order[4..] {
            ecg_to_rr(
                &mut st,
                WaveKind::Ecg,
                &batch(k * 360, 360, 300, 360),
                false,
                LATENESS,
                &mut rr,
            )
            .unwrap();
        }
        assert_eq!(rr, whole);
    }

    #[test]
    fn held_batches_are_bounded_and_the_end_of_stream_flushes_them() {
        let mut st = None;
        let mut rr = Vec::new();
        // Batch 0 never comes; 1-sample batches far in the future within
        // the lateness pile up to MAX_HELD, then the gap is given up.
        let mut lost = 0;
        for k in 1..=(MAX_HELD as u64 + 1) {
            let mut b = batch(k, 1, 300, 360);
            b.watermark_us = b.origin_us;
            lost += ecg_to_rr(&mut st, WaveKind::Ecg, &b, false, LATENESS, &mut rr)
                .unwrap()
                .lost_samples;
        }
        assert_eq!(lost, 1);
        assert!(st.as_ref().is_some_and(|s| s.held.is_empty()));
        // A final batch after a gap: processed at once, watermark = its own.
        let b = batch(1000, 360, 300, 360);
        let o = ecg_to_rr(&mut st, WaveKind::Ecg, &b, true, LATENESS, &mut rr).unwrap();
        assert_eq!(o.watermark_us, b.watermark_us);
        assert!(o.lost_samples > 0);
    }
}
