//! The ward's state, built from decrypted result rows: per patient the
//! latest values, the rhythm, active alerts, data quality and trends.
//!
//! Memory: trends keep, per patient, heart rate, SDNN and RMSSD of every
//! 10-s window and the clinical 5-minute SDNN, RMSSD and LF/HF of every
//! minute, 12 bytes a point, for [`Ward::retention_us`] (default 7 days):
//! about 360 KB per patient-day.

use std::collections::BTreeMap;

use aorta_wire::{Algorithm, Metric, Quality};
use serde::Serialize;

use crate::feed::ResultRow;

/// A plotted series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    /// Heart rate of each 10-s window, bpm.
    Hr,
    /// SDNN of each 10-s window (the paper's), ms.
    Sdnn,
    /// RMSSD of each 10-s window, ms.
    Rmssd,
    /// Clinical SDNN of the last 5 minutes, every minute, ms.
    ClinicalSdnn,
    /// Clinical RMSSD of the last 5 minutes, every minute, ms.
    ClinicalRmssd,
    /// Clinical LF/HF of the last 5 minutes, every minute.
    ClinicalLfHf,
}

impl Series {
    pub const ALL: [Series; 6] = [
        Self::Hr,
        Self::Sdnn,
        Self::Rmssd,
        Self::ClinicalSdnn,
        Self::ClinicalRmssd,
        Self::ClinicalLfHf,
    ];

    /// The result kind a series holds: algorithm, metric, window (ms).
    fn kind(self) -> (Algorithm, Metric, u32) {
        match self {
            Self::Hr => (Algorithm::HeartRate, Metric::Hr, 10_000),
            Self::Sdnn => (Algorithm::Sdnn, Metric::Sdnn, 10_000),
            Self::Rmssd => (Algorithm::Rmssd, Metric::Rmssd, 10_000),
            Self::ClinicalSdnn => (Algorithm::Clinical, Metric::SdnnTf, 300_000),
            Self::ClinicalRmssd => (Algorithm::Clinical, Metric::Rmssd, 300_000),
            Self::ClinicalLfHf => (Algorithm::Clinical, Metric::LfHf, 300_000),
        }
    }

    fn of(a: Algorithm, m: Metric) -> Option<Self> {
        Some(match (a, m) {
            (Algorithm::HeartRate, Metric::Hr) => Self::Hr,
            (Algorithm::Sdnn, Metric::Sdnn) => Self::Sdnn,
            (Algorithm::Rmssd, Metric::Rmssd) => Self::Rmssd,
            (Algorithm::Clinical, Metric::SdnnTf) => Self::ClinicalSdnn,
            (Algorithm::Clinical, Metric::Rmssd) => Self::ClinicalRmssd,
            (Algorithm::Clinical, Metric::LfHf) => Self::ClinicalLfHf,
            _ => return None,
        })
    }
}

/// One point of a trend: seconds since the ward's epoch, value, quality.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    t_s: u32,
    value: f32,
    quality: u32,
}

/// An alert or rhythm event kind shown on the ward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    AtrialFibrillation,
    Bradycardia,
    Tachycardia,
    Pause,
    SignalLoss,
}

impl Alert {
    /// How the ward and the reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::AtrialFibrillation => "atrial fibrillation",
            Self::Bradycardia => "bradycardia",
            Self::Tachycardia => "tachycardia",
            Self::Pause => "pause",
            Self::SignalLoss => "signal loss",
        }
    }

    /// The event metric a result row carries it as.
    pub fn of(m: Metric) -> Option<Self> {
        Some(match m {
            Metric::AfEvent => Self::AtrialFibrillation,
            Metric::AlertBrady => Self::Bradycardia,
            Metric::AlertTachy => Self::Tachycardia,
            Metric::AlertPause => Self::Pause,
            Metric::AlertSignalLoss => Self::SignalLoss,
            _ => return None,
        })
    }
}

/// One alert episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Episode {
    pub kind: Alert,
    pub onset_us: i64,
    pub offset_us: Option<i64>,
}

/// Episodes from event rows (onset: value >= 0.5, offset: below): the one
/// reading of alert and AF events, for the ward and the reports.
#[derive(Debug, Default, Clone)]
pub struct EpisodeLog(pub Vec<Episode>);

impl std::ops::Deref for EpisodeLog {
    type Target = [Episode];
    fn deref(&self) -> &[Episode] {
        &self.0
    }
}

impl EpisodeLog {
    /// Takes one event row; false if the row is no event.
    pub fn record(&mut self, m: Metric, t_us: i64, value: f64) -> bool {
        let Some(kind) = Alert::of(m) else {
            return false;
        };
        let open = |e: &&mut Episode| e.kind == kind && e.offset_us.is_none();
        if value >= 0.5 {
            if !self.0.iter_mut().any(|e| open(&e)) {
                self.0.push(Episode {
                    kind,
                    onset_us: t_us,
                    offset_us: None,
                });
            }
        } else if let Some(e) = self.0.iter_mut().rev().find(open) {
            e.offset_us = Some(t_us);
        }
        true
    }

    /// Total time in episodes of `kind` (open ones up to `until_us`).
    pub fn duration_us(&self, kind: Alert, until_us: i64) -> i64 {
        self.0
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.offset_us.unwrap_or(until_us).max(e.onset_us) - e.onset_us)
            .sum()
    }
}

#[derive(Debug, Default)]
struct Patient {
    stream: String,
    series: BTreeMap<Series, Vec<Point>>,
    latest: BTreeMap<Series, (i64, f64, u32)>,
    episodes: EpisodeLog,
    last_result_us: i64,
    /// Quality flags of the newest window of each series, ORed.
    latest_quality: u32,
    /// Windows flagged `gap` / `rejected` in the last hour of results.
    recent_flags: Vec<(i64, u32)>,
}

/// What the ward view shows of one patient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub patient: String,
    pub stream: String,
    pub hr_bpm: Option<f64>,
    /// Start of the window the heart rate describes.
    pub hr_at_us: Option<i64>,
    /// End of that window: the time the value describes up to (its age is
    /// `now - hr_end_us`).
    pub hr_end_us: Option<i64>,
    /// `af` while an AF episode is open; `no af detected` otherwise;
    /// `unknown` before any rhythm result, while the signal is lost or when
    /// results are stale (an RR-only detector cannot claim sinus rhythm).
    pub rhythm: &'static str,
    pub alerts: Vec<Alert>,
    /// Quality flags of the latest windows and those seen in the last
    /// hour (`gap`, `rejected`, `SIMULATED-TEE`, ...).
    pub quality: Vec<String>,
    pub last_result_us: i64,
    /// Set when the patient's newest result ends more than
    /// [`Ward::stale_after_us`] before now: the end of that result (the
    /// patient's data stopped then).
    pub stopped_since_us: Option<i64>,
    /// Higher needs attention first.
    pub attention: u32,
}

/// A patient's trends over a period, for the patient view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trends {
    pub patient: String,
    /// The period shown: the requested span before the newest result, cut
    /// to where the patient's data starts.
    pub from_us: i64,
    pub to_us: i64,
    /// Per series: times (Unix s, each the END of the window the value
    /// describes), values, and quality flags (names).
    pub series: BTreeMap<Series, SeriesData>,
    pub episodes: Vec<Episode>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesData {
    /// Length of the window each value describes (s): a value at `t`
    /// describes `[t - window_s, t)`.
    pub window_s: u32,
    pub t: Vec<f64>,
    pub v: Vec<Option<f64>>,
    /// Indices into `t` of points whose window was flagged, with the flags.
    pub flagged: Vec<(usize, String)>,
}

/// Everything the dashboard knows.
#[derive(Debug)]
pub struct Ward {
    epoch_s: i64,
    patients: BTreeMap<String, Patient>,
    /// Trends older than this before the newest result are dropped.
    pub retention_us: i64,
    /// A patient whose newest result ends longer ago than this is shown as
    /// stopped (and the ward's feed, when no patient is newer).
    pub stale_after_us: i64,
    /// End of the newest result of any patient.
    newest_us: i64,
    /// Bumped on every change.
    pub version: u64,
}

impl Default for Ward {
    fn default() -> Self {
        Self {
            epoch_s: 0,
            patients: BTreeMap::new(),
            retention_us: 7 * 86_400_000_000,
            stale_after_us: DEFAULT_STALE_AFTER_US,
            newest_us: 0,
            version: 0,
        }
    }
}

/// 45 s: results arrive every 10-s window plus commit latency, so a live
/// feed is never this far behind, and a stopped one is named within a
/// minute.
pub const DEFAULT_STALE_AFTER_US: i64 = 45_000_000;

const FLAGS_SHOWN: u32 = Quality::GAP
    | Quality::REJECTED
    | Quality::LATE
    | Quality::TRUNCATED
    | Quality::OUT_OF_RANGE
    | Quality::BACKLOG
    | Quality::OVERFLOW
    | Quality::NOISY
    | Quality::SIMULATED_TEE;

impl Ward {
    /// Patients known before any result (every enrolled name), so the ward
    /// lists them from the start.
    pub fn enrol(&mut self, patient: &str, stream: &str) {
        let p = self.patients.entry(patient.to_string()).or_default();
        if p.stream.is_empty() {
            p.stream = stream.to_string();
            self.version += 1;
        }
    }

    /// Adds decrypted rows (in commit order).
    pub fn apply(&mut self, rows: &[ResultRow]) {
        if rows.is_empty() {
            return;
        }
        if self.epoch_s == 0 {
            self.epoch_s = rows
                .iter()
                .map(|r| r.record.t_us.div_euclid(1_000_000))
                .min()
                .unwrap_or(0)
                - 86_400 * 365;
        }
        let mut touched: Vec<&str> = Vec::new();
        for row in rows {
            let r = &row.record;
            if touched.last() != Some(&row.patient.as_str()) {
                touched.push(&row.patient);
            }
            let p = self.patients.entry(row.patient.clone()).or_default();
            if p.stream.is_empty() {
                p.stream = row.stream.to_hex();
            }
            let end = r.t_us.saturating_add(i64::from(r.window_ms) * 1000);
            p.last_result_us = p.last_result_us.max(end);
            self.newest_us = self.newest_us.max(end);
            if p.episodes.record(r.metric, r.t_us, r.value) {
                continue;
            }
            let q = r.quality.0 & FLAGS_SHOWN;
            if q & !Quality::SIMULATED_TEE != 0 {
                p.recent_flags.push((r.t_us, q));
            }
            let Some(s) = Series::of(r.algorithm, r.metric) else {
                continue;
            };
            let newest = p.latest.get(&s).is_none_or(|(t, _, _)| r.t_us >= *t);
            if newest {
                p.latest.insert(s, (r.t_us, r.value, r.quality.0));
                p.latest_quality = p.latest.values().fold(0, |a, (_, _, q)| a | q);
            }
            let t_s = (r.t_us.div_euclid(1_000_000) - self.epoch_s).clamp(0, i64::from(u32::MAX));
            let pts = p.series.entry(s).or_default();
            let point = Point {
                t_s: t_s as u32,
                value: r.value as f32,
                quality: r.quality.0,
            };
            // Rows arrive in time order per stream; keep the vector sorted
            // if one does not.
            match pts.last() {
                Some(last) if last.t_s > point.t_s => {
                    let i = pts.partition_point(|x| x.t_s <= point.t_s);
                    pts.insert(i, point);
                }
                _ => pts.push(point),
            }
        }
        touched.sort_unstable();
        touched.dedup();
        self.trim(&touched);
        self.version += 1;
    }

    /// Drops trend points older than the retention, for the patients that
    /// just received results (cost proportional to the commit, not to the
    /// ward).
    fn trim(&mut self, patients: &[&str]) {
        let retention_s = self.retention_us / 1_000_000;
        for name in patients {
            let Some(p) = self.patients.get_mut(*name) else {
                continue;
            };
            let newest = p.last_result_us;
            p.recent_flags.retain(|(t, _)| newest - t <= 3_600_000_000);
            let cutoff = (newest / 1_000_000 - retention_s - self.epoch_s).max(0);
            for pts in p.series.values_mut() {
                let k = pts.partition_point(|x| i64::from(x.t_s) < cutoff);
                if k > 4096 {
                    pts.drain(..k);
                }
            }
        }
    }

    /// Every patient, those needing attention first. `now_us` is the
    /// server's clock: a patient without a result for 2 minutes is stale.
    pub fn summaries(&self, now_us: i64) -> Vec<Summary> {
        let mut out: Vec<Summary> = self
            .patients
            .iter()
            .map(|(name, p)| {
                let alerts: Vec<Alert> = {
                    let mut a: Vec<Alert> = p
                        .episodes
                        .iter()
                        .filter(|e| e.offset_us.is_none())
                        .map(|e| e.kind)
                        .collect();
                    a.sort();
                    a.dedup();
                    a
                };
                let recent = p.recent_flags.iter().fold(0, |a, (_, q)| a | q);
                let quality = Quality((p.latest_quality | recent) & FLAGS_SHOWN);
                let mut qnames: Vec<String> = if quality.0 == 0 {
                    Vec::new()
                } else {
                    quality.describe().split('|').map(str::to_string).collect()
                };
                let stale =
                    p.last_result_us == 0 || now_us - p.last_result_us > self.stale_after_us;
                if stale {
                    qnames.push("no recent results".into());
                }
                let rhythm = if alerts.contains(&Alert::AtrialFibrillation) {
                    "af"
                } else if stale
                    || alerts.contains(&Alert::SignalLoss)
                    || (p.episodes.is_empty() && !p.latest.contains_key(&Series::ClinicalSdnn))
                {
                    "unknown"
                } else {
                    "no af detected"
                };
                let hr = p.latest.get(&Series::Hr);
                let attention = alerts.len() as u32 * 100
                    + u32::from(alerts.contains(&Alert::AtrialFibrillation)) * 50
                    + u32::from(quality.0 & (Quality::GAP | Quality::REJECTED) != 0) * 10
                    // A silent monitor is a technical alarm of its own.
                    + u32::from(stale) * 60;
                Summary {
                    patient: name.clone(),
                    stream: p.stream.clone(),
                    hr_bpm: hr.map(|h| h.1).filter(|v| v.is_finite()),
                    hr_at_us: hr.map(|h| h.0),
                    hr_end_us: hr.map(|h| h.0 + i64::from(Series::Hr.kind().2) * 1000),
                    rhythm,
                    alerts,
                    quality: qnames,
                    last_result_us: p.last_result_us,
                    stopped_since_us: (stale && p.last_result_us > 0).then_some(p.last_result_us),
                    attention,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.attention
                .cmp(&a.attention)
                .then_with(|| a.patient.cmp(&b.patient))
        });
        out
    }

    /// End of the newest result of any patient (0 before any).
    pub fn newest_us(&self) -> i64 {
        self.newest_us
    }

    /// `Some(end of the newest result)` when even that is older than
    /// [`Ward::stale_after_us`]: the feed has stopped bringing results.
    pub fn stopped_since(&self, now_us: i64) -> Option<i64> {
        (self.newest_us > 0 && now_us - self.newest_us > self.stale_after_us)
            .then_some(self.newest_us)
    }

    pub fn knows(&self, patient: &str) -> bool {
        self.patients.contains_key(patient)
    }

    /// The patient's trends over the `period_us` before their newest
    /// result, at most `max_points` per series (averaged buckets; a
    /// bucket's flags are the union of its windows').
    pub fn trends(&self, patient: &str, period_us: i64, max_points: usize) -> Option<Trends> {
        let p = self.patients.get(patient)?;
        let to_us = p.last_result_us;
        // Where the data starts: the earliest plotted time (a window's end)
        // less one 10-s window, or an episode's onset. (Not a clinical
        // window's start: its first 5 minutes reach back before the first
        // sample.)
        let first_us = p
            .series
            .iter()
            .filter_map(|(s, pts)| Some((s.kind().2, pts.first()?)))
            .map(|(window_ms, x)| {
                (i64::from(x.t_s) + self.epoch_s) * 1_000_000
                    + (i64::from(window_ms) - i64::from(window_ms.min(10_000))) * 1000
            })
            .chain(p.episodes.iter().map(|e| e.onset_us))
            .min()
            .unwrap_or(to_us);
        let from_us = (to_us - period_us).max(first_us.min(to_us));
        let from_s = (from_us / 1_000_000 - self.epoch_s).max(0);
        let mut series = BTreeMap::new();
        for (s, pts) in &p.series {
            let window_s = s.kind().2 / 1000;
            // Shown where it ends: every window that ends in the view.
            let lo = pts.partition_point(|x| i64::from(x.t_s) + i64::from(window_s) <= from_s);
            let pts = pts.get(lo..).unwrap_or_default();
            let per = pts.len().div_ceil(max_points.max(1)).max(1);
            let mut d = SeriesData {
                window_s,
                t: Vec::new(),
                v: Vec::new(),
                flagged: Vec::new(),
            };
            for chunk in pts.chunks(per) {
                let finite: Vec<f64> = chunk
                    .iter()
                    .map(|x| f64::from(x.value))
                    .filter(|v| v.is_finite())
                    .collect();
                // A bucket sits at the end of its last window.
                let t = chunk.last().map_or(0, |x| i64::from(x.t_s))
                    + self.epoch_s
                    + i64::from(window_s);
                d.t.push(t as f64);
                d.v.push(
                    (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64),
                );
                let q = chunk.iter().fold(0, |a, x| a | x.quality)
                    & (FLAGS_SHOWN | Quality::INSUFFICIENT)
                    & !Quality::SIMULATED_TEE;
                if q != 0 {
                    d.flagged.push((d.t.len() - 1, Quality(q).describe()));
                }
            }
            series.insert(*s, d);
        }
        let episodes = p
            .episodes
            .iter()
            .filter(|e| e.offset_us.is_none_or(|o| o >= from_us))
            .cloned()
            .collect();
        Some(Trends {
            patient: patient.to_string(),
            from_us,
            to_us,
            series,
            episodes,
        })
    }
}

impl Ward {
    /// The rows behind what the patient view shows over the `period_us`
    /// before the patient's newest result (the plotted series at full
    /// resolution, values as stored in 32 bits, and the alert episodes as
    /// onset/offset events), in time order. For the dashboard's downloads;
    /// `aorta results` writes every result.
    pub fn rows(&self, patient: &str, period_us: i64) -> Option<Vec<ResultRow>> {
        let p = self.patients.get(patient)?;
        let stream =
            aorta_wire::StreamId::from_hex(&p.stream).unwrap_or(aorta_wire::StreamId([0; 16]));
        let from_us = p.last_result_us - period_us;
        let from_s = (from_us / 1_000_000 - self.epoch_s).max(0);
        let mut out = Vec::new();
        let row = |t_us: i64, a, m, window_ms, value: f64, q: u32| ResultRow {
            patient: patient.to_string(),
            stream,
            record: aorta_wire::ResultRecord {
                t_us,
                window_ms,
                algorithm: a,
                metric: m,
                value,
                quality: Quality(q),
                n: 0,
            },
        };
        for (s, pts) in &p.series {
            let (a, m, window_ms) = s.kind();
            let lo = pts.partition_point(|x| i64::from(x.t_s) < from_s);
            for x in pts.get(lo..).unwrap_or_default() {
                let t_us = (i64::from(x.t_s) + self.epoch_s) * 1_000_000;
                out.push(row(t_us, a, m, window_ms, f64::from(x.value), x.quality));
            }
        }
        for e in p.episodes.iter() {
            if e.offset_us.is_some_and(|o| o < from_us) {
                continue;
            }
            let m = match e.kind {
                Alert::AtrialFibrillation => Metric::AfEvent,
                Alert::Bradycardia => Metric::AlertBrady,
                Alert::Tachycardia => Metric::AlertTachy,
                Alert::Pause => Metric::AlertPause,
                Alert::SignalLoss => Metric::AlertSignalLoss,
            };
            out.push(row(e.onset_us, Algorithm::Clinical, m, 0, 1.0, 0));
            if let Some(o) = e.offset_us {
                out.push(row(o, Algorithm::Clinical, m, 0, 0.0, 0));
            }
        }
        crate::feed::sort_rows(&mut out);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aorta_wire::{ResultRecord, StreamId};

    fn row(p: &str, t_s: i64, a: Algorithm, m: Metric, v: f64, q: u32) -> ResultRow {
        ResultRow {
            patient: p.into(),
            stream: StreamId([p.len() as u8; 16]),
            record: ResultRecord {
                t_us: t_s * 1_000_000,
                window_ms: 10_000,
                algorithm: a,
                metric: m,
                value: v,
                quality: Quality(q),
                n: 10,
            },
        }
    }

    #[test]
    fn alerts_and_af_come_first_and_episodes_close() {
        let mut w = Ward::default();
        w.enrol("carol", "cc");
        w.apply(&[
            row("alice", 1000, Algorithm::HeartRate, Metric::Hr, 96.0, 0),
            row("alice", 1005, Algorithm::Clinical, Metric::AfEvent, 1.0, 0),
            row("bob", 1000, Algorithm::HeartRate, Metric::Hr, 36.0, 0),
            row("bob", 1003, Algorithm::Clinical, Metric::AlertBrady, 1.0, 0),
            row(
                "carol",
                1000,
                Algorithm::HeartRate,
                Metric::Hr,
                70.0,
                Quality::GAP,
            ),
            row("dave", 1000, Algorithm::HeartRate, Metric::Hr, 65.0, 0),
        ]);
        let now = 1_020_000_000;
        let s = w.summaries(now);
        let order: Vec<&str> = s.iter().map(|x| x.patient.as_str()).collect();
        assert_eq!(order, ["alice", "bob", "carol", "dave"]);
        assert_eq!(s[3].rhythm, "unknown", "no rhythm result yet");
        assert_eq!(s[0].rhythm, "af");
        assert_eq!(s[1].alerts, vec![Alert::Bradycardia]);
        assert_eq!(s[1].hr_bpm, Some(36.0));
        assert_eq!(s[2].quality, vec!["gap".to_string()]);
        w.apply(&[row(
            "alice",
            1100,
            Algorithm::Clinical,
            Metric::AfEvent,
            0.0,
            0,
        )]);
        let a = w
            .summaries(now)
            .into_iter()
            .find(|x| x.patient == "alice")
            .unwrap();
        assert!(a.alerts.is_empty());
        assert_eq!(a.rhythm, "no af detected");
        // Ten minutes of silence: every patient is stale, and says so.
        for x in w.summaries(now + 600_000_000) {
            assert!(
                x.quality.contains(&"no recent results".to_string()),
                "{x:?}"
            );
            assert_eq!(x.rhythm, "unknown");
        }
        let t = w.trends("alice", 3_600_000_000, 100).unwrap();
        assert_eq!(t.episodes[0].offset_us, Some(1_100_000_000));
        assert_eq!(t.series[&Series::Hr].v, vec![Some(96.0)]);
    }

    #[test]
    fn trends_are_bucketed_to_the_point_limit_with_flags_kept() {
        let mut w = Ward::default();
        let rows: Vec<ResultRow> = (0..1000)
            .map(|i| {
                let q = if i == 500 { Quality::GAP } else { 0 };
                row("p", 10 * i, Algorithm::HeartRate, Metric::Hr, i as f64, q)
            })
            .collect();
        w.apply(&rows);
        let t = w.trends("p", 86_400_000_000, 100).unwrap();
        let hr = &t.series[&Series::Hr];
        assert_eq!(hr.t.len(), 100);
        assert_eq!(hr.v[0], Some(4.5));
        assert_eq!(hr.flagged, vec![(50, "gap".to_string())]);
    }

    #[test]
    fn values_sit_at_their_window_s_end_and_the_view_starts_with_the_data() {
        let mut w = Ward::default();
        let mut clinical = row("p", 1000, Algorithm::Clinical, Metric::SdnnTf, 42.0, 0);
        clinical.record.window_ms = 300_000;
        w.apply(&[
            row("p", 1000, Algorithm::HeartRate, Metric::Hr, 60.0, 0),
            row("p", 1290, Algorithm::HeartRate, Metric::Hr, 61.0, 0),
            clinical,
        ]);
        let t = w.trends("p", 3_600_000_000, 100).unwrap();
        let c = &t.series[&Series::ClinicalSdnn];
        assert_eq!((c.window_s, c.t.clone()), (300, vec![1300.0]));
        let hr = &t.series[&Series::Hr];
        assert_eq!((hr.window_s, hr.t.clone()), (10, vec![1010.0, 1300.0]));
        // An hour asked for, 5 minutes of data: the view is the data's.
        assert_eq!((t.from_us, t.to_us), (1_000_000_000, 1_300_000_000));
        let mut only = Ward::default();
        let mut c = row("q", 1000, Algorithm::Clinical, Metric::SdnnTf, 42.0, 0);
        c.record.window_ms = 300_000;
        only.apply(&[c]);
        let t = only.trends("q", 3_600_000_000, 100).unwrap();
        assert_eq!(t.from_us, 1_290_000_000, "not 5 minutes before the data");
        assert_eq!(
            t.series[&Series::ClinicalSdnn].t,
            vec![1300.0],
            "and its point is shown"
        );
        // Live 45 s after the newest result ends; stopped since then after.
        assert_eq!(w.stopped_since(1_345_000_000), None);
        assert_eq!(w.stopped_since(1_346_000_000), Some(1_300_000_000));
        let s = &w.summaries(1_346_000_000)[0];
        assert_eq!(s.stopped_since_us, Some(1_300_000_000));
        assert_eq!(s.hr_end_us, Some(1_300_000_000));
    }
}
