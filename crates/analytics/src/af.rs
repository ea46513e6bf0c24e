//! Atrial fibrillation detection from RR irregularity on a short sliding
//! window, in the spirit of the low-complexity detectors of Petrėnas et al.
//! (Comput. Biol. Med. 65:184–191, 2015) and Tateno & Glass (Med. Biol.
//! Eng. Comput. 39:664–671, 2001): AF is *irregularly irregular* — beat to
//! beat changes are large, and no baseline interval dominates.
//!
//! Over the last [`AfConfig::window`] intervals:
//! * irregularity = median over beats of |RRᵢ − RRᵢ₋₁| / ((RRᵢ + RRᵢ₋₁)/2)
//!   (the median resists isolated ectopic beats, unlike RMSSD);
//! * concentration = share of intervals within ±[`AfConfig::band`] of the
//!   window's median interval. Sinus rhythm with runs of ectopic beats or
//!   missed/extra detections keeps a baseline (high concentration); AF does
//!   not. A window with concentration ≥ [`AfConfig::max_concentration`]
//!   counts as regular.
//!
//! AF starts when the irregularity exceeds [`AfConfig::onset`] and ends
//! when it falls below [`AfConfig::offset`] (hysteresis), each for
//! [`AfConfig::min_run`] consecutive beats (debouncing). A decision refers
//! to the beat at the window's centre, so it is reported half a window
//! (~32 beats) late. Memory: two windows of f64.

use std::collections::VecDeque;

/// Settings, chosen once for all records on afdb (docs/validation.md).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AfConfig {
    pub window: usize,
    pub onset: f64,
    pub offset: f64,
    pub max_concentration: f64,
    pub band: f64,
    /// Consecutive decisions that must call for a change before the state
    /// flips (debounces onset/offset events).
    pub min_run: u32,
}

impl Default for AfConfig {
    fn default() -> Self {
        Self {
            window: 64,
            onset: 0.085,
            offset: 0.065,
            max_concentration: 0.3,
            band: 0.03,
            min_run: 16,
        }
    }
}

/// A change of rhythm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AfEvent {
    /// AF begins at this beat time (s).
    Onset(f64),
    /// AF ends at this beat time (s).
    Offset(f64),
}

/// The decision for one beat (half a window late).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AfDecision {
    pub time: f64,
    pub af: bool,
    pub irregularity: f64,
    pub concentration: f64,
}

/// Streaming AF detector over RR intervals.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct AfDetector {
    cfg: AfConfig,
    prev_rr: Option<f64>,
    d: VecDeque<f64>,
    rrs: VecDeque<f64>,
    times: VecDeque<f64>,
    in_af: bool,
    /// Consecutive decisions calling for the other state.
    run: u32,
    scratch: Vec<f64>,
}

fn median(v: &mut [f64]) -> f64 {
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f64::total_cmp).1
}

impl AfDetector {
    pub fn new(cfg: AfConfig) -> Self {
        let w = cfg.window.max(4);
        Self {
            cfg: AfConfig { window: w, ..cfg },
            prev_rr: None,
            d: VecDeque::with_capacity(w),
            rrs: VecDeque::with_capacity(w),
            times: VecDeque::with_capacity(w),
            in_af: false,
            run: 0,
            scratch: Vec::with_capacity(w),
        }
    }

    pub fn in_af(&self) -> bool {
        self.in_af
    }

    /// Feeds one RR interval (ms) ending at `time` (s). Returns the decision
    /// for the window's centre once the window is full, and an event when
    /// the rhythm changes. Intervals outside 200..3000 ms (and non-finite
    /// values) are not rhythm: they restart the window.
    pub fn push(&mut self, rr_ms: f64, time: f64) -> (Option<AfDecision>, Option<AfEvent>) {
        if !(200.0..=3000.0).contains(&rr_ms) || !time.is_finite() {
            self.prev_rr = None;
            self.d.clear();
            self.rrs.clear();
            self.times.clear();
            return (None, None);
        }
        let Some(prev) = self.prev_rr.replace(rr_ms) else {
            return (None, None);
        };
        self.d
            .push_back((rr_ms - prev).abs() / ((rr_ms + prev) / 2.0));
        self.rrs.push_back(rr_ms);
        self.times.push_back(time);
        if self.d.len() > self.cfg.window {
            self.d.pop_front();
            self.rrs.pop_front();
            self.times.pop_front();
        }
        if self.d.len() < self.cfg.window {
            return (None, None);
        }
        self.scratch.clear();
        self.scratch.extend(self.d.iter().copied());
        let irregularity = median(&mut self.scratch);
        self.scratch.clear();
        self.scratch.extend(self.rrs.iter().copied());
        let base = median(&mut self.scratch);
        let near = self
            .rrs
            .iter()
            .filter(|r| (*r - base).abs() <= self.cfg.band * base)
            .count();
        let concentration = near as f64 / self.rrs.len() as f64;
        let effective = if concentration >= self.cfg.max_concentration {
            0.0
        } else {
            irregularity
        };
        let centre = self.times[self.times.len() / 2];
        let mut event = None;
        let wants_change = if self.in_af {
            effective < self.cfg.offset
        } else {
            effective > self.cfg.onset
        };
        self.run = if wants_change { self.run + 1 } else { 0 };
        if self.run >= self.cfg.min_run.max(1) {
            self.run = 0;
            self.in_af = !self.in_af;
            event = Some(if self.in_af {
                AfEvent::Onset(centre)
            } else {
                AfEvent::Offset(centre)
            });
        }
        (
            Some(AfDecision {
                time: centre,
                af: self.in_af,
                irregularity,
                concentration,
            }),
            event,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinus_with_ectopy_is_not_af_and_irregular_rhythm_is() {
        let mut d = AfDetector::new(AfConfig::default());
        let mut t = 0.0;
        let mut events = Vec::new();
        // Sinus at 800 ms with a premature beat and compensatory pause every 5 beats.
        for i in 0..300 {
            let rr = match i % 5 {
                3 => 560.0,
                4 => 1040.0,
                _ => 800.0 + (i % 3) as f64 * 5.0,
            };
            t += rr / 1000.0;
            if let (_, Some(e)) = d.push(rr, t) {
                events.push(e);
            }
        }
        assert!(events.is_empty(), "{events:?}");
        // Irregularly irregular: a deterministic pseudo-random sequence 450..1050 ms.
        let mut x = 12345u64;
        for _ in 0..300 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let rr = 450.0 + (x >> 33) as f64 % 600.0;
            t += rr / 1000.0;
            if let (_, Some(e)) = d.push(rr, t) {
                events.push(e);
            }
        }
        assert!(
            matches!(events.as_slice(), [AfEvent::Onset(_)]),
            "{events:?}"
        );
        assert!(d.in_af());
        // Garbage restarts the window without an event or a panic.
        assert_eq!(d.push(f64::NAN, t), (None, None));
        assert_eq!(d.push(-5.0, t), (None, None));
        assert_eq!(d.push(20_000.0, t), (None, None));
    }
}
