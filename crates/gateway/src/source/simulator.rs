//! A realistic, deterministic RR interval generator.
//!
//! RR(t) = mean + RSA + Mayer wave + AR(1) noise, with occasional ectopic
//! beats:
//! * respiratory sinus arrhythmia: a sine at the breathing rate (0.2–0.33 Hz,
//!   HF band) of a few tens of ms;
//! * the ~0.1 Hz Mayer wave (LF band) of baroreflex origin;
//! * AR(1) noise (φ = 0.6) for the broadband rest;
//! * premature (ectopic) beats: a short interval followed by a compensatory
//!   pause, so the two sum to about two normal intervals.
//!
//! Modulations run in *event time* (seconds), as physiology does.

use aorta_wire::RrSample;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// Parameters of one simulated patient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimParams {
    pub mean_hr_bpm: f64,
    pub rsa_amplitude_ms: f64,
    pub resp_hz: f64,
    pub lf_amplitude_ms: f64,
    pub lf_hz: f64,
    pub noise_ms: f64,
    /// Probability that a beat is premature.
    pub ectopic_prob: f64,
    /// Atrial fibrillation: intervals irregularly irregular (independent
    /// draws around the mean, ±35 %) instead of sinus rhythm.
    pub af: bool,
}

/// A simulated patient's condition (`aorta gateway --simulate-condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Resting sinus rhythm (the default).
    Normal,
    /// Atrial fibrillation at about 95 bpm.
    Af,
    /// Sinus bradycardia at about 36 bpm.
    Bradycardia,
    /// Sinus tachycardia at about 140 bpm.
    Tachycardia,
}

impl Condition {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "normal" => Some(Self::Normal),
            "af" => Some(Self::Af),
            "brady" | "bradycardia" => Some(Self::Bradycardia),
            "tachy" | "tachycardia" => Some(Self::Tachycardia),
            _ => None,
        }
    }
}

impl SimParams {
    /// A plausible resting adult, varied deterministically by `seed`.
    pub fn patient(seed: u64) -> Self {
        let mut r = ChaCha12Rng::seed_from_u64(seed ^ 0xA0A7_A0A7);
        Self {
            mean_hr_bpm: r.random_range(55.0..95.0),
            rsa_amplitude_ms: r.random_range(10.0..45.0),
            resp_hz: r.random_range(0.2..0.33),
            lf_amplitude_ms: r.random_range(8.0..30.0),
            lf_hz: r.random_range(0.08..0.12),
            noise_ms: r.random_range(5.0..15.0),
            ectopic_prob: r.random_range(0.0..0.01),
            af: false,
        }
    }

    /// This patient with `condition`.
    pub fn with_condition(self, condition: Condition) -> Self {
        match condition {
            Condition::Normal => self,
            Condition::Af => Self {
                af: true,
                mean_hr_bpm: 95.0,
                ..self
            },
            Condition::Bradycardia => Self {
                mean_hr_bpm: 36.0,
                ..self
            },
            Condition::Tachycardia => Self {
                mean_hr_bpm: 140.0,
                ..self
            },
        }
    }

    pub fn with_hr(mut self, bpm: f64) -> Self {
        self.mean_hr_bpm = bpm;
        self
    }
}

/// Infinite iterator of beats from `start_us`.
#[derive(Debug, Clone)]
pub struct RrSimulator {
    p: SimParams,
    rng: ChaCha12Rng,
    t_us: i64,
    start_us: i64,
    ar: f64,
    lf_phase: f64,
    compensate: Option<f64>,
}

impl RrSimulator {
    pub fn new(p: SimParams, seed: u64, start_us: i64) -> Self {
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        let lf_phase = rng.random_range(0.0..std::f64::consts::TAU);
        Self {
            p,
            rng,
            t_us: start_us,
            start_us,
            ar: 0.0,
            lf_phase,
            compensate: None,
        }
    }

    fn normal(&mut self) -> f64 {
        // Box–Muller transform.
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// The next RR interval in milliseconds, at event time `t` seconds.
    fn next_rr_ms(&mut self) -> f64 {
        let t = (self.t_us - self.start_us) as f64 / 1e6;
        let mean = 60_000.0 / self.p.mean_hr_bpm;
        self.ar = 0.6 * self.ar + self.p.noise_ms * self.normal();
        let base = mean
            + self.p.rsa_amplitude_ms * (std::f64::consts::TAU * self.p.resp_hz * t).sin()
            + self.p.lf_amplitude_ms
                * (std::f64::consts::TAU * self.p.lf_hz * t + self.lf_phase).sin()
            + self.ar;
        if let Some(c) = self.compensate.take() {
            return c;
        }
        if self.p.af {
            return mean * self.rng.random_range(0.65..1.35);
        }
        if self.rng.random_bool(self.p.ectopic_prob.clamp(0.0, 1.0)) {
            let short = base * self.rng.random_range(0.55..0.75);
            self.compensate = Some(2.0 * base - short);
            return short;
        }
        base
    }
}

impl Iterator for RrSimulator {
    type Item = RrSample;

    fn next(&mut self) -> Option<RrSample> {
        let rr_ms = self.next_rr_ms().clamp(250.0, 2500.0);
        let rr_us = (rr_ms * 1000.0).round() as u32;
        self.t_us += i64::from(rr_us);
        Some(RrSample {
            t_us: self.t_us,
            rr_us,
        })
    }
}

/// The paper's synthetic load: exactly `rate` samples in every second of
/// event time, at sorted uniform-random millisecond offsets (as MedSpark's
/// sensor), carrying physiological RR values.
///
/// Built for benchmarks, where the sensor must cost little next to the
/// pipeline: the RR values are a table of [`PaperLoad::TABLE`] beats from an
/// [`RrSimulator`] computed up front and replayed cyclically, and each
/// second's offsets come from a small non-cryptographic PRNG sorted by
/// counting (1000 millisecond bins).
#[derive(Debug, Clone)]
pub struct PaperLoad {
    table: Vec<u32>,
    next_rr: usize,
    rng: rand::rngs::SmallRng,
    rate: u32,
    second_us: i64,
    bins: Vec<u16>,
    bin: usize,
}

impl PaperLoad {
    pub const TABLE: usize = 4096;

    pub fn new(seed: u64, rate: u32, start_us: i64) -> Self {
        let table = RrSimulator::new(SimParams::patient(seed), seed, start_us)
            .take(Self::TABLE)
            .map(|s| s.rr_us)
            .collect();
        Self {
            table,
            next_rr: 0,
            rng: rand::rngs::SmallRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            rate,
            second_us: start_us,
            bins: vec![0; 1000],
            bin: 1000,
        }
    }

    /// The next whole second of samples, in time order (the bulk form of the
    /// iterator, for benchmarks).
    pub fn next_second(&mut self) -> Vec<RrSample> {
        self.refill();
        let mut out = Vec::with_capacity(self.rate as usize);
        let base = self.second_us;
        for (ms, &count) in self.bins.iter().enumerate() {
            for _ in 0..count {
                let rr_us = self.table.get(self.next_rr).copied().unwrap_or(800_000);
                self.next_rr = (self.next_rr + 1) % self.table.len().max(1);
                out.push(RrSample {
                    t_us: base + 1000 * ms as i64,
                    rr_us,
                });
            }
        }
        self.bins.fill(0);
        self.bin = self.bins.len();
        self.second_us += 1_000_000;
        out
    }

    fn refill(&mut self) {
        self.bins.fill(0);
        for _ in 0..self.rate {
            let ms = ((u64::from(self.rng.next_u32()) * 1000) >> 32) as usize;
            if let Some(b) = self.bins.get_mut(ms) {
                *b += 1;
            }
        }
        self.bin = 0;
    }
}

impl Iterator for PaperLoad {
    type Item = RrSample;

    fn next(&mut self) -> Option<RrSample> {
        if self.rate == 0 {
            return None;
        }
        loop {
            if self.bin >= self.bins.len() {
                self.refill();
                continue;
            }
            match self.bins.get_mut(self.bin) {
                Some(c) if *c > 0 => {
                    *c -= 1;
                    let t_us = self.second_us + 1000 * self.bin as i64;
                    let rr_us = self.table.get(self.next_rr).copied().unwrap_or(800_000);
                    self.next_rr = (self.next_rr + 1) % self.table.len().max(1);
                    return Some(RrSample { t_us, rr_us });
                }
                _ => {
                    self.bin += 1;
                    if self.bin == self.bins.len() {
                        self.second_us += 1_000_000;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_has_target_rate_and_variability() {
        let p = SimParams::patient(3).with_hr(72.0);
        let beats: Vec<_> = RrSimulator::new(p, 3, 0)
            .take_while(|s| s.t_us < 600_000_000)
            .collect();
        let n = beats.len() as f64;
        assert!(
            (n / 10.0 - 72.0).abs() < 3.0,
            "beats per minute {}",
            n / 10.0
        );
        let mean = beats.iter().map(|b| b.rr_us as f64).sum::<f64>() / n;
        let sd = (beats
            .iter()
            .map(|b| (b.rr_us as f64 - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        assert!(sd > 10_000.0 && sd < 120_000.0, "SDNN {sd} µs");
        // Deterministic.
        let again: Vec<_> = RrSimulator::new(p, 3, 0).take(100).collect();
        assert_eq!(&beats[..100], &again[..]);
    }

    #[test]
    fn next_second_equals_the_iterator() {
        let mut a = PaperLoad::new(5, 300, 1_000_000);
        let b: Vec<_> = PaperLoad::new(5, 300, 1_000_000).take(900).collect();
        let mut bulk = Vec::new();
        for _ in 0..3 {
            bulk.extend(a.next_second());
        }
        assert_eq!(bulk, b);
    }

    #[test]
    fn paper_load_puts_rate_samples_in_each_second() {
        let v: Vec<_> = PaperLoad::new(1, 44, 1_546_300_800_000_000)
            .take(44 * 3)
            .collect();
        for sec in 0..3 {
            let lo = 1_546_300_800_000_000 + sec * 1_000_000;
            assert_eq!(
                v.iter()
                    .filter(|s| s.t_us >= lo && s.t_us < lo + 1_000_000)
                    .count(),
                44
            );
        }
        assert!(v.windows(2).all(|w| w[0].t_us <= w[1].t_us));
    }
}
