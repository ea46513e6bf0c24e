//! Streaming systolic-peak detection on PPG (wrist or finger), after
//! Elgendi et al., "Systolic peak detection in acceleration
//! photoplethysmograms measured from emergency responders in tropical
//! conditions", PLoS ONE 8(10):e76585 (2013) — the two-event-related moving
//! averages ("TERMA") method:
//!
//! 1. band-pass 0.5–8 Hz (Butterworth high-pass then low-pass biquads);
//! 2. clip negative values to 0 and square;
//! 3. moving averages over 111 ms (peak) and 667 ms (beat), aligned on the
//!    same centre (so the output is delayed by ~0.33 s);
//! 4. blocks of interest where MA_peak > MA_beat + β·z̄ (β = 0.02, z̄ the
//!    running mean of the squared signal over ~10 s);
//! 5. a block at least 111 ms wide holds one beat, at the largest
//!    band-passed value inside it; beats closer than 300 ms are merged.
//!
//! Causal and sample-by-sample like [`crate::QrsDetector`], so the result
//! does not depend on chunking; memory fixed at construction. Beats are
//! placed on the band-passed signal, which lags the raw one by the filters'
//! delay; [`PpgDetector::delay_samples`] reports the constant compensated.

use crate::filter::Biquad;
use crate::AnalyticsError;

const BETA: f32 = 0.02;

/// One detected pulse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pulse {
    /// Sample index of the systolic peak.
    pub sample: u64,
}

/// Quality over 10-s segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PpgQuality {
    pub start: u64,
    pub len: u64,
    pub pulses: u32,
    /// Non-finite samples replaced by 0.
    pub invalid_samples: u32,
    /// The signal's envelope jumped over 4× its running level (motion,
    /// pressure): beats in it are unreliable.
    pub motion: bool,
    /// No pulse at all.
    pub no_pulse: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PpgDetector {
    hp: Biquad,
    lp: Biquad,
    n: u64,
    w1: usize,
    w2: usize,
    ring: Vec<f32>,
    filt: Vec<f32>,
    sum1: f32,
    sum2: f32,
    zmean: f32,
    alpha_mean: f32,
    block: Option<(u64, u64, f32)>,
    last: Option<u64>,
    pending: Option<(u64, f32)>,
    refractory: u64,
    delay: u64,
    seg_len: u64,
    seg: PpgQuality,
    quality: Vec<PpgQuality>,
}

fn at(buf: &[f32], k: u64) -> f32 {
    buf[(k % buf.len() as u64) as usize]
}

impl PpgDetector {
    /// A detector for `fs` Hz (25..=1000).
    pub fn new(fs: f64) -> Result<Self, AnalyticsError> {
        if !(25.0..=1000.0).contains(&fs) || !fs.is_finite() {
            return Err(AnalyticsError::PpgRate(fs));
        }
        let s = |x: f64| (x * fs).round().max(1.0) as usize;
        let w2 = s(0.667) | 1;
        Ok(Self {
            hp: Biquad::highpass(0.5, fs),
            lp: Biquad::lowpass(8.0, fs),
            n: 0,
            w1: s(0.111) | 1,
            w2,
            ring: vec![0.0; w2 + 1],
            filt: vec![0.0; w2 + s(1.0)],
            sum1: 0.0,
            sum2: 0.0,
            zmean: 0.0,
            alpha_mean: 1.0 / s(10.0) as f32,
            block: None,
            last: None,
            pending: None,
            refractory: s(0.3) as u64,
            delay: s(0.045) as u64,
            seg_len: s(10.0) as u64,
            seg: PpgQuality::default(),
            quality: Vec::new(),
        })
    }

    pub fn delay_samples(&self) -> u64 {
        self.delay
    }

    pub fn push(&mut self, samples: &[f32], out: &mut Vec<Pulse>) {
        for &x in samples {
            self.step(x, out);
        }
    }

    /// End of the recording: emits a pulse still held.
    pub fn finish(&mut self, out: &mut Vec<Pulse>) {
        if let Some((k, _)) = self.pending.take() {
            self.emit(k, out);
        }
        // The recording's last, partial segment is judged too (when it is
        // long enough to hold a pulse or two).
        if self.seg.len >= self.seg_len / 5 {
            self.close_segment();
        }
    }

    /// First sample of the segment whose quality is not reported yet.
    pub fn open_segment_start(&self) -> u64 {
        self.n - self.n % self.seg_len.max(1)
    }

    pub fn take_quality(&mut self) -> Vec<PpgQuality> {
        std::mem::take(&mut self.quality)
    }

    fn emit(&mut self, k: u64, out: &mut Vec<Pulse>) {
        let sample = k.saturating_sub(self.delay);
        if out.last().is_none_or(|p| sample > p.sample) {
            out.push(Pulse { sample });
            self.seg.pulses += 1;
        }
        self.last = Some(k);
    }

    fn step(&mut self, raw: f32, out: &mut Vec<Pulse>) {
        if self.seg.len == 0 {
            self.seg.start = self.n;
        }
        self.seg.len += 1;
        let x = if raw.is_finite() {
            raw
        } else {
            self.seg.invalid_samples += 1;
            0.0
        };
        let n = self.n;
        let y = self.lp.step(self.hp.step(x));
        let fl = self.filt.len() as u64;
        self.filt[(n % fl) as usize] = y;
        let z = if y > 0.0 { y * y } else { 0.0 };
        if self.n > self.seg_len && z > 25.0 * self.zmean {
            self.seg.motion = true;
        }
        self.zmean += self.alpha_mean * (z - self.zmean);
        // Beat average: the last w2 samples; peak average: the w1 samples
        // centred on the same point (w2/2 samples back).
        let rl = self.ring.len() as u64;
        let old2 = self.ring[(n % rl) as usize];
        self.ring[(n % rl) as usize] = z;
        self.sum2 += z - if n >= self.w2 as u64 { old2 } else { 0.0 };
        let h2 = (self.w2 / 2) as u64;
        let h1 = (self.w1 / 2) as u64;
        if n >= h2 - h1 {
            let enter = n - (h2 - h1);
            self.sum1 += at(&self.ring, enter);
            if enter >= self.w1 as u64 {
                self.sum1 -= at(&self.ring, enter - self.w1 as u64);
            }
        }
        self.n += 1;
        if n < self.w2 as u64 {
            return self.segment();
        }
        let centre = n - h2;
        let ma_peak = self.sum1 / self.w1 as f32;
        let ma_beat = self.sum2 / self.w2 as f32;
        let inside = ma_peak > ma_beat + BETA * self.zmean;
        let yc = at(&self.filt, centre);
        match (&mut self.block, inside) {
            (Some(b), true) => {
                b.1 = centre;
                b.2 = b.2.max(yc);
            }
            (None, true) => self.block = Some((centre, centre, yc)),
            (Some(b), false) => {
                let (start, end) = (b.0, b.1);
                self.block = None;
                if end + 1 - start >= self.w1 as u64 {
                    // The largest band-passed value in the block.
                    let mut best = (start, f32::MIN);
                    for k in start..=end {
                        let v = at(&self.filt, k);
                        if v > best.1 {
                            best = (k, v);
                        }
                    }
                    match self.pending {
                        Some((pk, pv)) if best.0 < pk + self.refractory => {
                            if best.1 > pv {
                                self.pending = Some(best);
                            }
                        }
                        Some((pk, _)) => {
                            self.emit(pk, out);
                            self.pending = Some(best);
                        }
                        None => self.pending = Some(best),
                    }
                }
            }
            (None, false) => {}
        }
        if let Some((pk, _)) = self.pending {
            if centre > pk + self.refractory {
                self.pending = None;
                self.emit(pk, out);
            }
        }
        self.segment();
    }

    fn segment(&mut self) {
        if self.n.is_multiple_of(self.seg_len) {
            self.close_segment();
        }
    }

    fn close_segment(&mut self) {
        let mut q = std::mem::take(&mut self.seg);
        q.no_pulse = q.pulses == 0;
        self.quality.push(q);
    }
}
