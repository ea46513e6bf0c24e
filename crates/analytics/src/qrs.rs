//! Streaming QRS detection on one ECG lead, after Hamilton & Tompkins
//! (IEEE Trans. Biomed. Eng. 33(12):1157–1165, 1986) and Hamilton's
//! open-source refinement (OSEA, "Open source ECG analysis", Computers in
//! Cardiology 29:101–104, 2002):
//!
//! 1. band-pass 5–15 Hz (Butterworth high-pass then low-pass biquads),
//!    and a second low-pass at 25 Hz that steepens the roll-off above the
//!    QRS band, where muscle noise lies (surface EMG: 20–150 Hz);
//! 2. derivative over 10 ms, absolute value;
//! 3. moving-window integration over 80 ms;
//! 4. peak detection on the integrated signal: a peak is confirmed once
//!    the signal falls below half its height, or 95 ms after it;
//! 5. decision: a peak is a QRS if it exceeds
//!    `noise + TH·(qrs − noise)` where `qrs` and `noise` are the means of
//!    the last 8 QRS and noise peak heights (TH = 0.3125);
//! 6. 200 ms refractory period; within 360 ms of a QRS a peak whose
//!    steepest slope is under half the previous QRS's is a T wave;
//! 7. search-back: with no QRS for 1.5 mean RR intervals, the largest
//!    peak since the last QRS above half the threshold is taken as one;
//!    after 2.5 s without a QRS, a peak over 3× the noise level resets the
//!    QRS level (the amplitude dropped: electrode or lead change);
//! 8. every accepted QRS is held for 300 ms: a later peak in that time
//!    that is both higher and steeper replaces it — the first was a tall P
//!    wave (a P wave precedes its QRS and is slower; a T wave follows and
//!    is slower too, so it rarely wins on both counts) — and the held one
//!    becomes noise;
//! 9. the beat is placed at the largest band-passed deflection in the
//!    150 ms before the integrated peak, less the band-pass delay.
//!
//! Steps 1–7 follow the published design; 8 and the re-learning in 7 are
//! ours, set once for all records (see docs/validation.md).
//!
//! Signal quality: every 10-s segment gets signal-quality indices in the
//! spirit of Li, Mark & Clifford (Physiol. Meas. 29:15–32, 2008) — the
//! energy above the QRS band relative to the energy in it (their pSQI,
//! turned round: muscle noise is broadband), the integrated signal's mean
//! relative to the QRS level (a raised noise floor) and the number of
//! integrated-signal peaks per beat (noise adds peaks a clean beat, with
//! its P and T waves, does not have), and the beats' similarity to each
//! other — the template-matching idea of Li, Mark & Clifford's tSQI and of
//! Orphanidou et al. (IEEE J. Biomed. Health Inform. 19(3):832–838, 2015),
//! made robust to several morphologies (PVCs, aberrant beats): each beat
//! (100 ms before to 450 ms after the R wave, 1–40 Hz: QRS and T, not the
//! atrial activity, which AF makes unrelated to the QRS; cut where the next
//! beat's window begins) is
//! compared with its most similar neighbour in the segment, and the
//! segment's median of those correlations is its index. Noise the detector
//! mistakes for beats, and noise that deforms the beats (electrode motion
//! under the ST segment and T wave), both lower it. A segment beyond any
//! limit is `noisy`: its beats are not to be read as rhythm.
//!
//! Samples go in one at a time through [`QrsDetector::push`] (any chunk
//! size; the internal state advances per sample, so the output does not
//! depend on chunking). Memory is fixed at construction (ring buffers of
//! ~0.5 s). The first 2 s are a learning period whose peaks are classified
//! once the thresholds are initialised, so early beats are not lost.

use crate::filter::Biquad;
use crate::AnalyticsError;

/// Detection threshold between noise and QRS peak levels.
const TH: f32 = 0.3125;
/// Peak-level memory.
const MEM: usize = 8;
/// Integrated-signal peaks below this (mV change per 10 ms, averaged over
/// 80 ms) are not considered at all: a flat line's filter residue.
const MIN_PEAK: f32 = 0.002;
// Signal-quality limits per 10-s segment. Each is set just above the 99th
// percentile of the index over the clean 10-s segments of the 22 MIT-BIH
// development records (99th percentiles: 0.46, 0.31, 3.3, 2.2), so about
// 1-2 % of clean segments are flagged; none was fitted to noisy data.
/// Energy above the QRS band over energy in it (muscle noise).
const SQI_MAX_HF: f32 = 0.8;
/// Mean integrated signal over the QRS level (a raised noise floor).
const SQI_MAX_FLOOR: f32 = 0.32;
/// Integrated-signal peaks per beat above 15 % / 30 % of the QRS level.
const SQI_MAX_PEAKS15: f32 = 3.4;
const SQI_MAX_PEAKS30: f32 = 2.3;
/// Median best-neighbour correlation of the beats' shapes below this.
/// The index falls with noise, so the limit is set near the 1st percentile
/// over the same clean segments (0.938), and — noise comes in episodes,
/// not in single 10-s segments — right after a noisy segment near the 5th
/// percentile (0.972): hysteresis, as the AF detector's onset and offset.
const SQI_MIN_SIMILARITY: f32 = 0.93;
const SQI_KEEP_SIMILARITY: f32 = 0.97;
/// The beat window of the similarity index, before and after the R wave:
/// from the QRS onset through the T wave, leaving out the atrial activity
/// (P wave 100–250 ms before R), which in AF is unrelated to the QRS.
const SHAPE_BEFORE: f64 = 0.1;
const SHAPE_AFTER: f64 = 0.45;
/// Shapes are compared over at least this much (QRS and ST segment), even
/// when the next beat follows sooner.
const SHAPE_MIN: f64 = 0.25;
/// At most this many beat shapes per segment (the 200-ms refractory
/// period allows ~54; a hostile stream cannot make the work or the state
/// grow beyond it). `TYPICAL_SHAPES` is the room kept between segments.
const MAX_SHAPES: usize = 64;
const TYPICAL_SHAPES: usize = 24;
/// Fewer beats than this in a segment: no similarity index.
const SHAPE_MIN_BEATS: usize = 3;

/// A detected beat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Beat {
    /// Sample index (from the first sample pushed) of the R wave.
    pub sample: u64,
    /// Found by search-back (a lower-confidence detection).
    pub searched_back: bool,
}

/// Signal quality over one segment (default 10 s).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SegmentQuality {
    pub start: u64,
    pub len: u64,
    /// Peak-to-peak amplitude under 0.05 mV: leads off or flat line.
    pub flat: bool,
    /// Over 2 % of samples at a repeated extreme value: ADC saturation.
    pub clipped: bool,
    /// Non-finite or out-of-range (|x| > 20 mV) samples were replaced by 0.
    pub invalid_samples: u32,
    /// Noise: many noise peaks over half the QRS level, or a signal-quality
    /// index beyond its limit (see [`Sqi`]).
    pub noisy: bool,
    pub beats: u32,
    /// Signal-quality indices of the segment.
    pub sqi: Sqi,
}

/// Signal-quality indices of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Sqi {
    /// Energy above the QRS band (high-pass at min(40 Hz, 0.3·fs)) over
    /// energy in the QRS band (5–15 Hz).
    pub hf_ratio: f32,
    /// Mean integrated signal over the mean QRS peak level.
    pub floor: f32,
    /// Peaks classified as noise above half the QRS level.
    pub noise_peaks: u32,
    /// Peaks of the integrated signal above 15 % and above 30 % of the
    /// QRS level (QRS, T and P waves included; noise adds many).
    pub peaks15: u32,
    pub peaks30: u32,
    /// Median over the segment's beats of each beat's largest correlation
    /// with another beat's shape (1.0 with fewer than 3 beats).
    pub similarity: f32,
}

impl SegmentQuality {
    pub fn ok(&self) -> bool {
        !self.flat && !self.clipped && self.invalid_samples == 0 && !self.noisy
    }
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Peak {
    value: f32,
    /// Index in integrated-signal time.
    at: u64,
    /// Steepest absolute derivative in the 100 ms up to the peak.
    slope: f32,
    /// The R wave's sample, located when the peak was found (while the
    /// band-passed signal around it is still in the ring: a peak of the
    /// learning period is classified up to 2 s later).
    loc: u64,
}

/// The streaming detector (serialisable, so a worker checkpoints it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QrsDetector {
    fs: f64,
    hp: Biquad,
    lp: Biquad,
    lp2: Biquad,
    n: u64,
    // derivative delay line
    dk: usize,
    bp_hist: Vec<f32>,
    // moving-window integration
    win: usize,
    abs_hist: Vec<f32>,
    mwi_sum: f32,
    // |band-pass| history for beat placement
    loc_hist: Vec<f32>,
    // peak finder
    cand: Option<Peak>,
    rising: bool,
    prev_mwi: f32,
    // decision
    learning: Option<Vec<Peak>>,
    learn_until: u64,
    qrs_levels: [f32; MEM],
    noise_levels: [f32; MEM],
    rr: [u64; MEM],
    rr_seen: usize,
    /// The latest accepted QRS (pending or emitted).
    last_qrs: Option<Peak>,
    /// An accepted QRS held for one refractory period: a larger peak in
    /// that time (a tall P wave was taken first) replaces it.
    pending: Option<(Peak, bool)>,
    last_emitted_at: Option<u64>,
    searchback: Option<Peak>,
    // constants in samples
    refractory: u64,
    hold: u64,
    relearn: u64,
    twave: u64,
    peak_timeout: u64,
    slope_span: usize,
    loc_span: usize,
    delay: u64,
    // quality
    seg_len: u64,
    seg: SegmentQuality,
    seg_min: f32,
    seg_max: f32,
    at_min: u32,
    at_max: u32,
    noisy_peaks: u32,
    hf: Biquad,
    acc_hf: f64,
    acc_bp2: f64,
    acc_mwi: f64,
    peaks15: u32,
    peaks30: u32,
    quality: Vec<SegmentQuality>,
    // beat-shape similarity: 1-40 Hz signal ring, R waves waiting for the
    // end of their window, and the segment's finished shapes (flat,
    // `shape_len` each)
    shape_hp: Biquad,
    shape_lp: Biquad,
    shape_hist: Vec<f32>,
    shape_before: u64,
    shape_len: usize,
    shape_waiting: std::collections::VecDeque<u64>,
    shapes: Vec<f32>,
    /// R wave of each collected shape, and how much of it there is (less
    /// than `shape_len` only when the recording ended inside it).
    shape_r: Vec<(u64, usize)>,
    shape_min: usize,
    /// The last segment's shapes were dissimilar (a noise episode).
    prev_noisy: bool,
    /// The last segment's verdict.
    last_ok: bool,
}

fn ring_idx(n: u64, len: usize) -> usize {
    (n % len as u64) as usize
}

impl QrsDetector {
    /// A detector for `fs` Hz (125..=1000).
    pub fn new(fs: f64) -> Result<Self, AnalyticsError> {
        if !(125.0..=1000.0).contains(&fs) || !fs.is_finite() {
            return Err(AnalyticsError::SamplingRate(fs));
        }
        let s = |secs: f64| (secs * fs).round().max(1.0) as u64;
        let hist = s(0.6) as usize;
        Ok(Self {
            fs,
            hp: Biquad::highpass(5.0, fs),
            lp: Biquad::lowpass(15.0, fs),
            lp2: Biquad::lowpass(25.0, fs),
            n: 0,
            dk: s(0.01) as usize,
            bp_hist: vec![0.0; hist],
            win: s(0.08) as usize,
            abs_hist: vec![0.0; hist],
            mwi_sum: 0.0,
            loc_hist: vec![0.0; hist],
            cand: None,
            rising: true,
            prev_mwi: 0.0,
            learning: Some(Vec::new()),
            learn_until: s(2.0),
            qrs_levels: [0.0; MEM],
            noise_levels: [0.0; MEM],
            rr: [s(1.0); MEM],
            rr_seen: 0,
            last_qrs: None,
            pending: None,
            last_emitted_at: None,
            searchback: None,
            refractory: s(0.2),
            hold: s(0.3),
            relearn: s(2.5),
            twave: s(0.36),
            peak_timeout: s(0.095),
            slope_span: s(0.1) as usize,
            loc_span: s(0.15) as usize,
            delay: s(0.02),
            seg_len: s(10.0),
            seg: SegmentQuality::default(),
            seg_min: f32::INFINITY,
            seg_max: f32::NEG_INFINITY,
            at_min: 0,
            at_max: 0,
            noisy_peaks: 0,
            hf: Biquad::highpass(40f64.min(0.3 * fs), fs),
            acc_hf: 0.0,
            acc_bp2: 0.0,
            acc_mwi: 0.0,
            peaks15: 0,
            peaks30: 0,
            quality: Vec::new(),
            shape_hp: Biquad::highpass(1.0, fs),
            shape_lp: Biquad::lowpass(40f64.min(0.45 * fs), fs),
            // long enough for a beat of the learning period, classified
            // up to 2 s after its R wave
            // a power of two: indexed by masking, not a division per sample
            shape_hist: vec![
                0.0;
                (s(2.0 + SHAPE_BEFORE + SHAPE_AFTER + 0.1) as usize)
                    .next_power_of_two()
            ],
            shape_before: s(SHAPE_BEFORE),
            shape_len: (s(SHAPE_BEFORE) + s(SHAPE_AFTER)) as usize,
            shape_waiting: std::collections::VecDeque::new(),
            shapes: Vec::new(),
            shape_r: Vec::new(),
            shape_min: s(SHAPE_MIN) as usize,
            prev_noisy: false,
            last_ok: true,
        })
    }

    pub fn fs(&self) -> f64 {
        self.fs
    }

    /// Samples consumed so far.
    pub fn position(&self) -> u64 {
        self.n
    }

    /// Feeds samples (mV); appends detected beats to `out`, in order.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<Beat>) {
        for &x in samples {
            self.step(x, out);
        }
    }

    /// End of the recording: classifies the peak still rising or waiting
    /// to fall (the last beat of a recording), then emits the QRS still
    /// held for confirmation.
    pub fn finish(&mut self, out: &mut Vec<Beat>) {
        if let Some(mut p) = self.cand.take() {
            self.rising = false;
            p.slope = self.max_slope(p.at);
            p.loc = self.locate(p.at);
            self.on_peak(p, out);
        }
        if self.learning.is_some() {
            self.end_learning(out);
        }
        self.commit(out);
        // The recording's last, partial segment is judged too (when long
        // enough to hold a few beats), so its beats do not pass unjudged.
        if self.seg.len >= self.seg_len / 5 {
            // windows running past the last sample are cut there
            self.collect_shapes(self.n, true);
            self.close_segment();
        } else if self.seg.len > 0 {
            // Too short to judge on its own: it shares the verdict of the
            // segment before it (noise does not stop for the last second).
            let mut q = std::mem::take(&mut self.seg);
            q.noisy = !self.last_ok;
            self.quality.push(q);
        }
    }

    /// Completed segments' quality since the last call.
    pub fn take_quality(&mut self) -> Vec<SegmentQuality> {
        std::mem::take(&mut self.quality)
    }

    /// First sample of the segment whose quality is not reported yet:
    /// samples from here on may still turn out to lie in a noisy segment.
    pub fn open_segment_start(&self) -> u64 {
        self.n - self.n % self.seg_len.max(1)
    }

    fn step(&mut self, raw: f32, out: &mut Vec<Beat>) {
        let x = if raw.is_finite() && raw.abs() <= 20.0 {
            raw
        } else {
            self.seg.invalid_samples += 1;
            0.0
        };
        self.track_quality(x);
        let n = self.n;
        if n == 0 {
            // Start on the recording's own baseline: no filter transient
            // for the learning period to mistake for the largest QRS.
            self.hp.prime_highpass(x);
            self.hf.prime_highpass(x);
            self.shape_hp.prime_highpass(x);
        }
        let w = self.shape_lp.step(self.shape_hp.step(x));
        let at = Self::ring_pos(self.shape_hist.len(), n);
        self.shape_hist[at] = w;

        self.collect_shapes(self.n + 1, false);
        let len = self.bp_hist.len();
        let bp = self.lp.step(self.hp.step(x));
        let bp = self.lp2.step(bp);
        let i = ring_idx(n, len);
        let prev = self.bp_hist[ring_idx(n + len as u64 - self.dk as u64, len)];
        self.bp_hist[i] = bp;
        self.loc_hist[i] = bp.abs();
        let d = (bp - prev).abs();
        let old = self.abs_hist[ring_idx(n + len as u64 - self.win as u64, len)];
        self.abs_hist[i] = d;
        self.mwi_sum += d - old;
        let mwi = self.mwi_sum / self.win as f32;
        let h = f64::from(self.hf.step(x));
        self.acc_hf += h * h;
        let b2 = f64::from(bp) * f64::from(bp);
        self.acc_bp2 += b2;
        self.acc_mwi += f64::from(mwi);
        if let Some((pd, _)) = self.pending {
            if n >= pd.at + self.hold {
                self.commit(out);
            }
        }
        self.find_peak(mwi, out);
        self.prev_mwi = mwi;
        self.check_searchback();
        if self.learning.is_some() && n + 1 >= self.learn_until {
            self.end_learning(out);
        }
        self.n += 1;
        if self.n.is_multiple_of(self.seg_len) {
            self.close_segment();
        }
    }

    fn find_peak(&mut self, mwi: f32, out: &mut Vec<Beat>) {
        let n = self.n;
        if !self.rising {
            if mwi > self.prev_mwi {
                self.rising = true;
            } else {
                return;
            }
        }
        match &mut self.cand {
            Some(c) if mwi > c.value => {
                c.value = mwi;
                c.at = n;
            }
            Some(c) if mwi < c.value / 2.0 || n - c.at > self.peak_timeout => {
                let mut p = *c;
                self.cand = None;
                self.rising = false;
                p.slope = self.max_slope(p.at);
                p.loc = self.locate(p.at);
                self.on_peak(p, out);
            }
            Some(_) => {}
            None if mwi > 0.0 => {
                self.cand = Some(Peak {
                    value: mwi,
                    at: n,
                    slope: 0.0,
                    loc: 0,
                })
            }
            None => {}
        }
    }

    fn max_slope(&self, at: u64) -> f32 {
        let len = self.abs_hist.len();
        let span = self.slope_span.min(len - 1) as u64;
        (0..=span)
            .filter(|k| *k <= at)
            .map(|k| self.abs_hist[ring_idx(at - k, len)])
            .fold(0.0, f32::max)
    }

    fn threshold(&self) -> f32 {
        let q = self.qrs_levels.iter().sum::<f32>() / MEM as f32;
        let nz = self.noise_levels.iter().sum::<f32>() / MEM as f32;
        nz + TH * (q - nz)
    }

    fn rr_mean(&self) -> f64 {
        self.rr.iter().sum::<u64>() as f64 / MEM as f64
    }

    fn on_peak(&mut self, p: Peak, out: &mut Vec<Beat>) {
        if p.value < MIN_PEAK {
            return;
        }
        let q = self.qrs_levels.iter().sum::<f32>() / MEM as f32;
        if p.value > 0.15 * q {
            self.peaks15 += 1;
        }
        if p.value > 0.3 * q {
            self.peaks30 += 1;
        }
        if let Some(l) = &mut self.learning {
            l.push(p);
            return;
        }
        self.classify(p, out);
    }

    fn classify(&mut self, p: Peak, out: &mut Vec<Beat>) {
        if let Some((pd, _)) = self.pending {
            let within_hold = p.at < pd.at + self.hold;
            let larger = p.value > pd.value && p.slope > pd.slope;
            if within_hold && larger {
                // The held peak was not the QRS (a tall P wave, say).
                self.qrs_levels[MEM - 1] = p.value;
                push_level(&mut self.noise_levels, pd.value);
                self.pending = Some((p, false));
                self.last_qrs = Some(p);
                return;
            }
            if p.at < pd.at + self.refractory {
                return;
            }
            self.commit(out);
        }
        if let Some(last) = self.last_qrs {
            if p.at < last.at + self.refractory {
                return;
            }
        }
        let th = self.threshold();
        let is_t_wave = self
            .last_qrs
            .is_some_and(|last| p.at < last.at + self.twave && p.slope < last.slope / 2.0);
        if p.value > th && !is_t_wave {
            self.accept(p, false);
        } else {
            push_level(&mut self.noise_levels, p.value);
            let q = self.qrs_levels.iter().sum::<f32>() / MEM as f32;
            if p.value > q / 2.0 {
                self.noisy_peaks += 1;
            }
            if !is_t_wave && self.searchback.is_none_or(|s| p.value > s.value) {
                self.searchback = Some(p);
            }
        }
    }

    fn accept(&mut self, p: Peak, searched_back: bool) {
        push_level(&mut self.qrs_levels, p.value);
        self.last_qrs = Some(p);
        self.searchback = None;
        self.pending = Some((p, searched_back));
    }

    /// Emits the held QRS.
    fn commit(&mut self, out: &mut Vec<Beat>) {
        let Some((p, searched_back)) = self.pending.take() else {
            return;
        };
        if let Some(prev) = self.last_emitted_at {
            let rr = p.at - prev;
            // Keep RR memory physiological (Hamilton bounds it similarly).
            if (self.refractory..=self.fs as u64 * 3).contains(&rr) {
                self.rr.rotate_left(1);
                self.rr[MEM - 1] = rr;
                self.rr_seen += 1;
            }
        }
        self.last_emitted_at = Some(p.at);
        let sample = p.loc;
        if out.last().is_none_or(|b| sample > b.sample) {
            out.push(Beat {
                sample,
                searched_back,
            });
            self.seg.beats += 1;
            if sample >= self.shape_before {
                self.shape_waiting.push_back(sample);
            }
        }
    }

    /// The R wave: the largest |band-passed| value in the 150 ms up to the
    /// integrated peak, less the band-pass delay.
    fn locate(&self, at: u64) -> u64 {
        let len = self.loc_hist.len();
        // Only what is still in the ring (the peak may be up to 95 ms old).
        let oldest = self.n.saturating_sub(len as u64 - 1);
        let from = at.saturating_sub(self.loc_span as u64).max(oldest);
        let mut best = (at.max(from), f32::MIN);
        for k in from..=at.max(from) {
            let v = self.loc_hist[ring_idx(k, len)];
            if v > best.1 {
                best = (k, v);
            }
        }
        best.0.saturating_sub(self.delay)
    }

    fn check_searchback(&mut self) {
        let (Some(last), Some(sb)) = (self.last_qrs, self.searchback) else {
            return;
        };
        if self.learning.is_some() {
            return;
        }
        let noise = self.noise_levels.iter().sum::<f32>() / MEM as f32;
        if self.pending.is_none() && self.n - last.at > self.relearn && sb.value > 3.0 * noise {
            // A long silence with a peak well above the noise: the
            // amplitude dropped (electrode, lead). Re-learn the QRS level.
            self.qrs_levels = [sb.value; MEM];
        }
        if self.pending.is_none()
            && (self.n - last.at) as f64 > 1.5 * self.rr_mean()
            && sb.value > self.threshold() / 2.0
        {
            // Held like any QRS: the real one may still follow a P wave.
            self.accept(sb, true);
        }
    }

    fn end_learning(&mut self, out: &mut Vec<Beat>) {
        let Some(peaks) = self.learning.take() else {
            return;
        };
        let max = peaks.iter().map(|p| p.value).fold(0.0, f32::max);
        self.qrs_levels = [max; MEM];
        self.noise_levels = [0.0; MEM];
        for p in peaks {
            self.classify(p, out);
        }
    }

    /// Where sample `k` lives in the shape ring (a power of two long, so
    /// a mask; any other length, as a restored checkpoint could hold, by
    /// division).
    fn ring_pos(len: usize, k: u64) -> usize {
        let len = len.max(1);
        if len.is_power_of_two() {
            k as usize & (len - 1)
        } else {
            (k % len as u64) as usize
        }
    }

    /// Heap held by the detector (rings, beat shapes, pending reports).
    pub fn heap_bytes(&self) -> usize {
        4 * (self.bp_hist.capacity()
            + self.abs_hist.capacity()
            + self.loc_hist.capacity()
            + self.shape_hist.capacity()
            + self.shapes.capacity())
            + std::mem::size_of::<(u64, usize)>() * self.shape_r.capacity()
            + 8 * self.shape_waiting.capacity()
            + std::mem::size_of::<SegmentQuality>() * self.quality.capacity()
            + 512
    }

    /// Copies the shape of every beat whose window has ended (samples
    /// before `end` are in the ring) into the open segment's shapes; with
    /// `cut`, also those of windows still open, as far as they go.
    fn collect_shapes(&mut self, end: u64, cut: bool) {
        let len = self.shape_hist.len() as u64;
        let m = self.shape_len as u64;
        while let Some(&r) = self.shape_waiting.front() {
            let from = r - self.shape_before;
            let have = end.saturating_sub(from).min(m);
            if have < m && !cut {
                break;
            }
            self.shape_waiting.pop_front();
            if from + len < end
                || (have as usize) < self.shape_min
                || self.shape_r.len() >= MAX_SHAPES
            {
                continue; // no longer in the ring, too little of it, or the segment is full
            }
            let hist = &self.shape_hist;
            self.shapes
                .extend((from..from + have).map(|k| hist[Self::ring_pos(hist.len(), k)]));
            // laid out like the others; compared over what it has
            self.shapes
                .extend(std::iter::repeat_n(0.0, (m - have) as usize));
            self.shape_r.push((r, have as usize));
        }
    }

    /// Median over the collected shapes of each one's largest correlation
    /// with another; 1.0 with too few shapes. A shape ends where the next
    /// beat's begins (at a fast rate the window would otherwise hold the
    /// next QRS at a varying place: AF is irregular, not noisy); two shapes
    /// are compared over the shorter one's length.
    fn shape_similarity(&self) -> f32 {
        let m = self.shape_len.max(1);
        let k = self.shape_r.len().min(self.shapes.len() / m);
        if k < SHAPE_MIN_BEATS {
            return 1.0;
        }
        let next = |i: usize| {
            self.shape_r
                .get(i + 1)
                .map(|x| x.0)
                .or(self.shape_waiting.front().copied())
        };
        let lens: Vec<usize> = (0..k)
            .map(|i| {
                let (r, have) = self.shape_r[i];
                next(i)
                    .map_or(m, |nr| {
                        (nr.saturating_sub(r) as usize).clamp(self.shape_min, m)
                    })
                    .min(have)
            })
            .collect();
        let shape = |i: usize| &self.shapes[i * m..(i + 1) * m];
        // Prefix sums of each shape and of its squares: the mean and
        // energy over any prefix in O(1), so a pair costs one dot product.
        let mut pre = vec![(0.0f64, 0.0f64); k * (m + 1)];
        for i in 0..k {
            let p = &mut pre[i * (m + 1)..(i + 1) * (m + 1)];
            for (t, &x) in shape(i).iter().enumerate() {
                let x = f64::from(x);
                p[t + 1] = (p[t].0 + x, p[t].1 + x * x);
            }
        }
        let stats = |i: usize, l: usize| {
            let (s1, s2) = pre[i * (m + 1) + l];
            let mean = s1 / l as f64;
            (mean, s2 - s1 * mean)
        };
        let mut best = vec![f32::MIN; k];
        for i in 0..k {
            for j in i + 1..k {
                let l = lens[i].min(lens[j]).max(1);
                let ((ma, va), (mb, vb)) = (stats(i, l), stats(j, l));
                let c = if va <= 1e-12 || vb <= 1e-12 {
                    0.0
                } else {
                    let ab = f64::from(dot(&shape(i)[..l], &shape(j)[..l]));
                    ((ab - l as f64 * ma * mb) / (va * vb).sqrt()).clamp(-1.0, 1.0) as f32
                };
                best[i] = best[i].max(c);
                best[j] = best[j].max(c);
            }
        }
        best.sort_by(f32::total_cmp);
        if k % 2 == 1 {
            best[k / 2]
        } else {
            (best[k / 2 - 1] + best[k / 2]) / 2.0
        }
    }

    fn track_quality(&mut self, x: f32) {
        if self.seg.len == 0 {
            self.seg.start = self.n;
        }
        self.seg.len += 1;
        if x > self.seg_max {
            self.seg_max = x;
            self.at_max = 0;
        }
        if x < self.seg_min {
            self.seg_min = x;
            self.at_min = 0;
        }
        if x == self.seg_max {
            self.at_max += 1;
        }
        if x == self.seg_min {
            self.at_min += 1;
        }
    }

    fn close_segment(&mut self) {
        let mut q = std::mem::take(&mut self.seg);
        let range = self.seg_max - self.seg_min;
        q.flat = range < 0.05;
        let limit = (q.len / 50) as u32;
        q.clipped = !q.flat && (self.at_max > limit || self.at_min > limit);
        q.noisy = self.noisy_peaks > q.beats.max(1) / 2 + 2;
        let n = q.len.max(1) as f64;
        let qrs = f64::from(self.qrs_levels.iter().sum::<f32>() / MEM as f32);
        q.sqi = Sqi {
            hf_ratio: (self.acc_hf / self.acc_bp2.max(1e-12)) as f32,
            floor: if qrs > 0.0 {
                (self.acc_mwi / n / qrs) as f32
            } else {
                0.0
            },
            noise_peaks: self.noisy_peaks,
            peaks15: self.peaks15,
            peaks30: self.peaks30,
            similarity: self.shape_similarity(),
        };
        self.shapes.clear();
        // Keep room for a typical segment, not for the busiest one seen.
        self.shapes.shrink_to(TYPICAL_SHAPES * self.shape_len);
        self.shape_r.clear();
        self.shape_r.shrink_to(TYPICAL_SHAPES);
        self.peaks15 = 0;
        self.peaks30 = 0;
        let per_beat = |c: u32| c as f32 / q.beats.max(1) as f32;
        // A noise episode the beat shapes began goes on while they stay
        // below the looser limit (the other indices do not start one:
        // a lead with small, noisy-looking but readable beats would chain).
        let dissimilar = q.sqi.similarity < SQI_MIN_SIMILARITY
            || (self.prev_noisy && q.sqi.similarity < SQI_KEEP_SIMILARITY);
        q.noisy = q.noisy
            || q.sqi.hf_ratio > SQI_MAX_HF
            || q.sqi.floor > SQI_MAX_FLOOR
            || per_beat(q.sqi.peaks15) > SQI_MAX_PEAKS15
            || per_beat(q.sqi.peaks30) > SQI_MAX_PEAKS30
            || dissimilar;
        self.prev_noisy = dissimilar;
        self.last_ok = q.ok();

        self.acc_hf = 0.0;
        self.acc_bp2 = 0.0;
        self.acc_mwi = 0.0;
        self.quality.push(q);
        self.seg_min = f32::INFINITY;
        self.seg_max = f32::NEG_INFINITY;
        self.at_min = 0;
        self.at_max = 0;
        self.noisy_peaks = 0;
    }
}

/// Dot product in eight lanes (the compiler vectorises it).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn push_level(levels: &mut [f32; MEM], v: f32) {
    levels.rotate_left(1);
    levels[MEM - 1] = v;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic lead: narrow QRS and a T wave 250 ms later, at the given
    /// R times (s), 360 Hz.
    fn lead(r_times: &[f64], secs: f64) -> Vec<f32> {
        let fs = 360.0;
        let g = |t: f64, mu: f64, sd: f64| (-(t - mu).powi(2) / (2.0 * sd * sd)).exp();
        (0..(secs * fs) as usize)
            .map(|i| {
                let t = i as f64 / fs;
                r_times
                    .iter()
                    .filter(|r| (t - **r).abs() < 0.6)
                    .map(|r| {
                        g(t, *r, 0.01) - 0.2 * g(t, r + 0.03, 0.01) + 0.3 * g(t, r + 0.25, 0.04)
                    })
                    .sum::<f64>() as f32
            })
            .collect()
    }

    /// Irregular R times (AF-like: 350-800 ms apart, so the next QRS often
    /// falls inside a fixed 450-ms window).
    fn irregular(secs: f64) -> Vec<f64> {
        let mut state = 7u64;
        let mut t = 0.5;
        let mut out = Vec::new();
        while t < secs - 0.5 {
            out.push(t);
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            t += 0.35 + 0.45 * ((state >> 33) as f64 / (1u64 << 31) as f64);
        }
        out
    }

    fn quality(x: &[f32]) -> Vec<SegmentQuality> {
        let mut d = QrsDetector::new(360.0).unwrap();
        let mut beats = Vec::new();
        d.push(x, &mut beats);
        d.finish(&mut beats);
        d.take_quality()
    }

    #[test]
    fn irregular_rhythm_of_clean_beats_is_not_noise() {
        let q = quality(&lead(&irregular(60.0), 60.0));
        assert_eq!(q.len(), 6);
        for s in &q {
            assert!(s.sqi.similarity > 0.97, "{s:?}");
            assert!(s.ok(), "{s:?}");
        }
    }

    #[test]
    fn the_last_partial_segment_is_judged_too() {
        // 65 s: six whole segments and a 5-s tail, clean then noisy.
        let secs = 65.0;
        let clean = lead(&irregular(secs), secs);
        let q = quality(&clean);
        assert_eq!(q.len(), 7, "{q:?}");
        assert_eq!((q[6].start, q[6].len), (60 * 360, 5 * 360));
        assert!(q[6].ok() && q[6].beats >= 5, "{:?}", q[6]);
        let mut noisy = clean;
        let noise =
            crate::noise::synthesise(crate::noise::NoiseKind::Muscle, noisy.len(), 360.0, 5);
        for (i, v) in noisy.iter_mut().enumerate().skip(60 * 360) {
            *v += 2.0 * noise[i] as f32;
        }
        let q = quality(&noisy);
        assert!(!q[6].ok(), "{:?}", q[6]);
        // A tail under 2 s is too short to judge: it shares the verdict of
        // the segment before it.
        let q = quality(&lead(&irregular(61.0), 61.0));
        assert_eq!((q.len(), q[6].len), (7, 360));
        assert!(q[6].ok());
        let mut noisy = lead(&irregular(61.0), 61.0);
        let noise =
            crate::noise::synthesise(crate::noise::NoiseKind::Muscle, noisy.len(), 360.0, 5);
        for (i, v) in noisy.iter_mut().enumerate().skip(50 * 360) {
            *v += 2.0 * noise[i] as f32;
        }
        let q = quality(&noisy);
        assert!(!q[5].ok() && !q[6].ok(), "{q:?}");
    }

    #[test]
    fn electrode_motion_lowers_beat_similarity_and_flags() {
        let secs = 60.0;
        let mut x = lead(&irregular(secs), secs);
        // Electrode-motion noise (0.5-10 Hz bursts and steps) from 20 s on,
        // unit power: about -5 dB as the NST defines it (S = A²/8, A the
        // QRS's 1.2 mV peak to peak). These beats are narrower and taller
        // than real ones, so they resist noise better than a real lead;
        // `tests/noise_stress.rs` measures real records at 0 dB.
        let noise = crate::noise::synthesise(crate::noise::NoiseKind::Motion, x.len(), 360.0, 3);
        for (i, v) in x.iter_mut().enumerate().skip(20 * 360) {
            *v += noise[i] as f32;
        }
        let q = quality(&x);
        assert!(q[..2].iter().all(SegmentQuality::ok), "{q:?}");
        let noisy = &q[2..];
        let sims: Vec<f32> = noisy.iter().map(|s| s.sqi.similarity).collect();
        // Bursty noise spares a segment now and then: most, not all.
        assert!(
            noisy.iter().filter(|s| !s.ok()).count() >= 3,
            "{sims:?} {noisy:?}"
        );
        assert!(
            sims.iter().filter(|v| **v < SQI_MIN_SIMILARITY).count() >= 2,
            "{sims:?}"
        );
    }
}
