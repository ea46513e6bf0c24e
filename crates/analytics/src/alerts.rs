//! Threshold alerts for one patient, driven by beats and event time:
//! bradycardia, tachycardia, pauses, signal loss and AF. Thresholds are per
//! patient ([`AlertConfig`]); every alert needs its condition to persist
//! for [`AlertConfig::persist_s`] before it is raised, and a clear margin
//! ([`AlertConfig::hysteresis_bpm`]) for as long before it is cleared, so
//! a heart rate hovering at a threshold does not flap.

use std::collections::VecDeque;

/// Per-patient thresholds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlertConfig {
    /// Heart rate (median of the last 8 beats) below this: bradycardia.
    pub brady_bpm: f64,
    /// Above this: tachycardia.
    pub tachy_bpm: f64,
    pub hysteresis_bpm: f64,
    /// An RR interval longer than this: pause (asystole-like gap).
    pub pause_s: f64,
    /// No beat for this long (event time): signal loss.
    pub signal_loss_s: f64,
    pub persist_s: f64,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            brady_bpm: 40.0,
            tachy_bpm: 130.0,
            hysteresis_bpm: 5.0,
            pause_s: 3.0,
            signal_loss_s: 15.0,
            persist_s: 10.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertKind {
    Bradycardia,
    Tachycardia,
    Pause,
    SignalLoss,
    AtrialFibrillation,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AlertEvent {
    Raised { kind: AlertKind, at: f64 },
    Cleared { kind: AlertKind, at: f64 },
}

/// A condition with persistence and hysteresis.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize, PartialEq)]
struct Latch {
    active: bool,
    /// Since when the condition to change state has held.
    pending_since: Option<f64>,
}

impl Latch {
    /// `on`: the raise condition holds; `off`: the clear condition holds.
    fn update(&mut self, on: bool, off: bool, t: f64, persist: f64) -> Option<bool> {
        let wants_change = if self.active { off } else { on };
        if !wants_change {
            self.pending_since = None;
            return None;
        }
        let since = *self.pending_since.get_or_insert(t);
        if t - since >= persist {
            self.active = !self.active;
            self.pending_since = None;
            return Some(self.active);
        }
        None
    }
}

/// One patient's alert state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Alerts {
    cfg: AlertConfig,
    recent: VecDeque<f64>,
    brady: Latch,
    tachy: Latch,
    pause: bool,
    loss: bool,
    af: bool,
    last_beat: Option<f64>,
    scratch: Vec<f64>,
}

impl Alerts {
    pub fn new(cfg: AlertConfig) -> Self {
        Self {
            cfg,
            recent: VecDeque::with_capacity(8),
            brady: Latch::default(),
            tachy: Latch::default(),
            pause: false,
            loss: false,
            af: false,
            last_beat: None,
            scratch: Vec::with_capacity(8),
        }
    }

    pub fn config(&self) -> AlertConfig {
        self.cfg
    }

    /// New thresholds (a re-enrolment); active alerts stay until their new
    /// clear condition holds.
    pub fn set_config(&mut self, cfg: AlertConfig) {
        self.cfg = cfg;
    }

    /// Which alerts are active now.
    pub fn active(&self) -> Vec<AlertKind> {
        let mut v = Vec::new();
        for (on, k) in [
            (self.brady.active, AlertKind::Bradycardia),
            (self.tachy.active, AlertKind::Tachycardia),
            (self.pause, AlertKind::Pause),
            (self.loss, AlertKind::SignalLoss),
            (self.af, AlertKind::AtrialFibrillation),
        ] {
            if on {
                v.push(k);
            }
        }
        v
    }

    fn emit(out: &mut Vec<AlertEvent>, kind: AlertKind, raised: bool, at: f64) {
        out.push(if raised {
            AlertEvent::Raised { kind, at }
        } else {
            AlertEvent::Cleared { kind, at }
        });
    }

    /// A beat at `t` (s) ending an interval of `rr_ms`. Implausible
    /// intervals (non-finite, ≤ 0) are ignored; they count as no beat.
    pub fn on_beat(&mut self, t: f64, rr_ms: f64, out: &mut Vec<AlertEvent>) {
        if !(rr_ms.is_finite() && rr_ms > 0.0 && t.is_finite()) {
            return;
        }
        if self.loss {
            self.loss = false;
            Self::emit(out, AlertKind::SignalLoss, false, t);
        }
        let long = rr_ms / 1000.0 > self.cfg.pause_s;
        if long && !self.pause {
            self.pause = true;
            Self::emit(out, AlertKind::Pause, true, t);
        } else if !long && self.pause {
            self.pause = false;
            Self::emit(out, AlertKind::Pause, false, t);
        }
        self.last_beat = Some(t);
        if (200.0..=3000.0).contains(&rr_ms) {
            self.recent.push_back(60_000.0 / rr_ms);
            if self.recent.len() > 8 {
                self.recent.pop_front();
            }
        }
        if self.recent.len() < 4 {
            return;
        }
        self.scratch.clear();
        self.scratch.extend(self.recent.iter().copied());
        let mid = self.scratch.len() / 2;
        let hr = *self.scratch.select_nth_unstable_by(mid, f64::total_cmp).1;
        let c = self.cfg;
        if let Some(on) = self.brady.update(
            hr < c.brady_bpm,
            hr > c.brady_bpm + c.hysteresis_bpm,
            t,
            c.persist_s,
        ) {
            Self::emit(out, AlertKind::Bradycardia, on, t);
        }
        if let Some(on) = self.tachy.update(
            hr > c.tachy_bpm,
            hr < c.tachy_bpm - c.hysteresis_bpm,
            t,
            c.persist_s,
        ) {
            Self::emit(out, AlertKind::Tachycardia, on, t);
        }
    }

    /// Event time has reached `now` (the stream's watermark): raises signal
    /// loss when no beat came for [`AlertConfig::signal_loss_s`].
    pub fn on_time(&mut self, now: f64, out: &mut Vec<AlertEvent>) {
        let silent = self
            .last_beat
            .is_some_and(|b| now - b >= self.cfg.signal_loss_s);
        if silent && !self.loss {
            self.loss = true;
            Self::emit(out, AlertKind::SignalLoss, true, now);
        }
    }

    /// The AF detector's verdict changed.
    pub fn on_af(&mut self, event: crate::af::AfEvent, out: &mut Vec<AlertEvent>) {
        match event {
            crate::af::AfEvent::Onset(t) if !self.af => {
                self.af = true;
                Self::emit(out, AlertKind::AtrialFibrillation, true, t);
            }
            crate::af::AfEvent::Offset(t) if self.af => {
                self.af = false;
                Self::emit(out, AlertKind::AtrialFibrillation, false, t);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        a: &mut Alerts,
        bpm: impl Fn(usize) -> f64,
        beats: usize,
        t0: f64,
    ) -> (Vec<AlertEvent>, f64) {
        let mut out = Vec::new();
        let mut t = t0;
        for i in 0..beats {
            let rr = 60_000.0 / bpm(i);
            t += rr / 1000.0;
            a.on_beat(t, rr, &mut out);
            a.on_time(t, &mut out);
        }
        (out, t)
    }

    #[test]
    fn bradycardia_hovering_at_the_threshold_raises_once_and_does_not_flap() {
        let mut a = Alerts::new(AlertConfig::default());
        let (ev, t) = run(&mut a, |_| 70.0, 60, 0.0);
        assert!(ev.is_empty());
        // Heart rate drifting slowly between 37.5 and 42.5 bpm for 5 minutes:
        // without hysteresis this would raise and clear every minute.
        let (ev, t) = run(
            &mut a,
            |i| 40.0 - 2.5 * (i as f64 * std::f64::consts::TAU / 40.0).sin(),
            200,
            t,
        );
        let raised = ev
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    AlertEvent::Raised {
                        kind: AlertKind::Bradycardia,
                        ..
                    }
                )
            })
            .count();
        let cleared = ev
            .iter()
            .filter(|e| matches!(e, AlertEvent::Cleared { .. }))
            .count();
        assert_eq!((raised, cleared), (1, 0), "{ev:?}");
        // Back to 60 bpm: cleared once, after the persistence time.
        let (ev, _) = run(&mut a, |_| 60.0, 60, t);
        assert!(
            matches!(ev.as_slice(), [AlertEvent::Cleared { kind: AlertKind::Bradycardia, at }] if *at - t >= 10.0),
            "{ev:?}"
        );
    }

    #[test]
    fn tachycardia_pause_signal_loss_and_af() {
        let mut a = Alerts::new(AlertConfig {
            tachy_bpm: 120.0,
            ..AlertConfig::default()
        });
        let (ev, mut t) = run(&mut a, |_| 150.0, 100, 0.0);
        assert!(
            matches!(
                ev.as_slice(),
                [AlertEvent::Raised {
                    kind: AlertKind::Tachycardia,
                    ..
                }]
            ),
            "{ev:?}"
        );
        let mut out = Vec::new();
        // A 4-second pause, then beats again.
        t += 4.0;
        a.on_beat(t, 4000.0, &mut out);
        t += 0.5;
        a.on_beat(t, 500.0, &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(matches!(
            out[0],
            AlertEvent::Raised {
                kind: AlertKind::Pause,
                ..
            }
        ));
        // Silence for 20 s of event time: signal loss; a beat clears it.
        out.clear();
        a.on_time(t + 20.0, &mut out);
        a.on_time(t + 21.0, &mut out);
        a.on_beat(t + 21.5, 21_500.0, &mut out);
        assert!(
            matches!(
                out[0],
                AlertEvent::Raised {
                    kind: AlertKind::SignalLoss,
                    ..
                }
            ),
            "{out:?}"
        );
        assert!(out.iter().any(|e| matches!(
            e,
            AlertEvent::Cleared {
                kind: AlertKind::SignalLoss,
                ..
            }
        )));
        out.clear();
        a.on_af(crate::af::AfEvent::Onset(100.0), &mut out);
        a.on_af(crate::af::AfEvent::Onset(101.0), &mut out);
        a.on_af(crate::af::AfEvent::Offset(200.0), &mut out);
        assert_eq!(out.len(), 2);
        // Garbage is ignored.
        a.on_beat(f64::NAN, 800.0, &mut out);
        a.on_beat(1.0, -5.0, &mut out);
        assert_eq!(out.len(), 2);
    }
}
