//! The `clinical` operator: per stream, a sliding 5-minute window advanced
//! every minute (event time, built from the closed 10-second blocks, so it
//! inherits their watermark and lateness semantics), AF detection and
//! threshold alerts over the beats as they close.
//!
//! Every minute boundary (blocks ending at a multiple of 60 s) emits the
//! window [t − 300 s, t): NN count, mean NN, SDNN (n − 1), RMSSD, pNN50,
//! mean HR, VLF/LF/HF and LF/HF (Welch), SD1, SD2, sample entropy, DFA α1,
//! the share of beats corrected by artefact correction, coverage (accepted
//! RR time / window) and AF burden. Quality: the OR of the blocks' flags,
//! `insufficient` under 60 NN intervals. Events (AF onset/offset, alerts)
//! are records at their own event time with value 1 (raised) or 0.
//!
//! Beats of an ECG or PPG stream whose interval touches a span the
//! detector's signal-quality check flagged ([`ClosedWindow::noisy_spans`])
//! are left out of everything here — HRV, AF detection, rate and pause
//! alerts — because noise is not rhythm; the window keeps the `noisy` flag,
//! and the AF detector's window goes on across the gap. A stream noisy for
//! longer than the signal-loss limit raises the signal-loss alert.
//!
//! State is bounded: the last 30 blocks' samples (capped per block by
//! [`crate::Limits`]), the AF detector's two 64-beat windows and the alert
//! latches — about 7 KiB at 90 bpm.

use std::collections::VecDeque;

use aorta_analytics::af::{AfConfig, AfDetector, AfEvent};
use aorta_analytics::alerts::{AlertConfig, AlertEvent, AlertKind, Alerts};
use aorta_analytics::{clean, hrv};
use aorta_wire::{Algorithm, Metric, Quality, ResultRecord};
use serde::{Deserialize, Serialize};

use crate::ClosedWindow;

const BLOCKS: usize = 30;
const HOP_BLOCKS: i64 = 6;
const BLOCK_US: i64 = aorta_hrv::BLOCK_SECONDS * 1_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Block {
    block: i64,
    /// (time µs, rr µs), time order.
    beats: Vec<(i64, u32)>,
    quality: u32,
    af_decisions: u32,
    af_positive: u32,
}

/// One stream's clinical state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClinicalState {
    blocks: VecDeque<Block>,
    af: AfDetector,
    alerts: Alerts,
    /// End (µs) of the latest flagged raw-signal span seen: a beat whose
    /// interval began before it, even in a later block, is not rhythm.
    noisy_until: Option<i64>,
}

impl Default for ClinicalState {
    fn default() -> Self {
        Self::new(alert_config(&aorta_wire::AlertThresholds::default()))
    }
}

fn event(t_s: f64, metric: Metric, on: bool) -> ResultRecord {
    ResultRecord {
        t_us: (t_s * 1e6).round() as i64,
        window_ms: 0,
        algorithm: Algorithm::Clinical,
        metric,
        value: if on { 1.0 } else { 0.0 },
        quality: Quality::default(),
        n: 0,
    }
}

/// The alert configuration an enrolment's thresholds stand for.
pub fn alert_config(t: &aorta_wire::AlertThresholds) -> AlertConfig {
    AlertConfig {
        brady_bpm: f64::from(t.brady_bpm),
        tachy_bpm: f64::from(t.tachy_bpm),
        pause_s: f64::from(t.pause_ds) / 10.0,
        signal_loss_s: f64::from(t.signal_loss_s),
        ..AlertConfig::default()
    }
}

impl ClinicalState {
    pub fn new(alerts: AlertConfig) -> Self {
        Self {
            blocks: VecDeque::with_capacity(BLOCKS),
            af: AfDetector::new(AfConfig::default()),
            alerts: Alerts::new(alerts),
            noisy_until: None,
        }
    }

    /// Approximate heap size.
    pub fn heap_bytes(&self) -> usize {
        self.blocks
            .iter()
            .map(|b| b.beats.capacity() * 16 + 48)
            .sum::<usize>()
            + self.af.heap_bytes()
            + 256
    }

    /// Consumes one closed block; appends events and, at minute
    /// boundaries, the 5-minute window's metrics.
    pub fn on_block(
        &mut self,
        w: &ClosedWindow,
        thresholds: &aorta_wire::AlertThresholds,
        out: &mut Vec<ResultRecord>,
    ) {
        let cfg = alert_config(thresholds);
        if self.alerts.config() != cfg {
            self.alerts.set_config(cfg);
        }
        let before = self.noisy_until;
        let noisy = |t: i64, rr: u32| {
            let from = t.saturating_sub(i64::from(rr));
            before.is_some_and(|end| from < end)
                || w.noisy_spans.iter().any(|&(a, b)| from < b && t >= a)
        };
        let mut b = Block {
            block: w.block,
            beats: w
                .samples
                .iter()
                .filter(|s| !noisy(s.t_us, s.rr_us))
                .map(|s| (s.t_us, s.rr_us))
                .collect(),
            quality: w.quality.0,
            af_decisions: 0,
            af_positive: 0,
        };
        if let Some(end) = w.noisy_spans.iter().map(|s| s.1).max() {
            self.noisy_until = Some(self.noisy_until.map_or(end, |u| u.max(end)));
        }
        let mut alerts = Vec::new();
        for (t_us, rr_us) in &b.beats {
            let t = *t_us as f64 / 1e6;
            let rr = f64::from(*rr_us) / 1e3;
            let (decision, ev) = self.af.push(rr, t);
            if let Some(d) = decision {
                b.af_decisions += 1;
                b.af_positive += u32::from(d.af);
            }
            if let Some(e) = ev {
                let (t, on) = match e {
                    AfEvent::Onset(t) => (t, true),
                    AfEvent::Offset(t) => (t, false),
                };
                out.push(event(t, Metric::AfEvent, on));
                self.alerts.on_af(e, &mut alerts);
            }
            self.alerts.on_beat(t, rr, &mut alerts);
        }
        self.alerts
            .on_time(((w.block + 1) * BLOCK_US) as f64 / 1e6, &mut alerts);
        for a in alerts {
            let (kind, at, on) = match a {
                AlertEvent::Raised { kind, at } => (kind, at, true),
                AlertEvent::Cleared { kind, at } => (kind, at, false),
            };
            let metric = match kind {
                AlertKind::Bradycardia => Metric::AlertBrady,
                AlertKind::Tachycardia => Metric::AlertTachy,
                AlertKind::Pause => Metric::AlertPause,
                AlertKind::SignalLoss => Metric::AlertSignalLoss,
                // Reported once, as the AF event above.
                AlertKind::AtrialFibrillation => continue,
            };
            out.push(event(at, metric, on));
        }
        self.blocks.push_back(b);
        while self
            .blocks
            .front()
            .is_some_and(|f| f.block <= w.block - BLOCKS as i64)
        {
            self.blocks.pop_front();
        }
        if (w.block + 1).rem_euclid(HOP_BLOCKS) == 0 {
            self.window(w.block, out);
        }
    }

    fn window(&self, last_block: i64, out: &mut Vec<ResultRecord>) {
        let start_us = (last_block + 1 - BLOCKS as i64) * BLOCK_US;
        let rr: Vec<f64> = self
            .blocks
            .iter()
            .flat_map(|b| b.beats.iter().map(|(_, r)| f64::from(*r) / 1e3))
            .collect();
        let mut quality = self.blocks.iter().fold(0, |q, b| q | b.quality);
        let cleaned = clean::clean(&rr);
        let nn = &cleaned.nn;
        if nn.len() < 60 {
            quality |= Quality::INSUFFICIENT;
        }
        let h = hrv::hrv(nn, Some(&cleaned.t), hrv::Spectrum::Welch);
        let covered: f64 = rr.iter().filter(|v| (250.0..=3000.0).contains(*v)).sum();
        let (dec, pos) = self.blocks.iter().fold((0u32, 0u32), |(d, p), b| {
            (d + b.af_decisions, p + b.af_positive)
        });
        let n = u32::try_from(nn.len()).unwrap_or(u32::MAX);
        let rec = |metric, value: f64| ResultRecord {
            t_us: start_us,
            window_ms: (BLOCKS as i64 * BLOCK_US / 1000) as u32,
            algorithm: Algorithm::Clinical,
            metric,
            value,
            quality: Quality(quality),
            n,
        };
        let (t, f, nl) = (h.time, h.frequency, h.nonlinear);
        for (m, v) in [
            (Metric::N, nn.len() as f64),
            (Metric::MeanRr, t.mean_nn),
            (Metric::SdnnTf, t.sdnn),
            (Metric::Rmssd, t.rmssd),
            (Metric::Pnn50, t.pnn50),
            (Metric::Hr, t.mean_hr),
            (Metric::Vlf, f.vlf),
            (Metric::Lf, f.lf),
            (Metric::Hf, f.hf),
            (Metric::LfHf, f.lf_hf),
            (Metric::Sd1, nl.sd1),
            (Metric::Sd2, nl.sd2),
            (Metric::SampEn, nl.sampen),
            (Metric::DfaAlpha1, nl.dfa_alpha1),
            (Metric::Corrected, 100.0 * cleaned.report.corrected_share()),
            (Metric::Coverage, 100.0 * covered / 300_000.0),
            (
                Metric::AfBurden,
                if dec == 0 {
                    f64::NAN
                } else {
                    100.0 * f64::from(pos) / f64::from(dec)
                },
            ),
        ] {
            out.push(rec(m, v));
        }
    }
}

/// Records the clinical operator can add for one block: the 17 window
/// metrics and up to 8 events (sizes the stream's result envelopes).
pub const MAX_RECORDS_PER_BLOCK: usize = 17 + 8;
