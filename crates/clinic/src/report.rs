//! What the clinician's commands print and write: the terminal summary,
//! the tidy CSV and the trend plot, rendered from decrypted rows (the
//! caller writes them where it wants).

use std::collections::{BTreeMap, HashSet};

use aorta_wire::Quality;

use crate::feed::ResultRow;
use crate::ward::{Alert, EpisodeLog};

/// What `hrv-bands` is, printed wherever its results are shown.
pub const HRV_BANDS_NOTE: &str = "note: `hrv-bands` is the paper's DFT of one 10-s block with index bins (for short blocks LF includes the mean): it reproduces MedSpark, it is not clinical LF/HF. The `clinical` algorithm reports LF, HF and LF/HF of 5-minute windows (Welch).";

/// The tidy CSV: `patient,window_start,algorithm,metric,value,quality`.
pub fn csv(rows: &[ResultRow]) -> String {
    let mut out = String::from("patient,window_start,algorithm,metric,value,quality\n");
    for r in rows {
        out.push_str(&crate::feed::csv_line(r));
    }
    out
}

/// What the terminal shows of a run: a row per patient, what was found
/// (AF episodes and alerts, named), and warnings about the deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct TerminalSummary {
    pub header: String,
    /// One line per patient, by name.
    pub rows: Vec<String>,
    /// One line per patient with an AF episode or an alert, e.g.
    /// `patient-002: atrial fibrillation 9.5 min (1 episode)`.
    pub findings: Vec<String>,
    pub warnings: Vec<String>,
}

impl TerminalSummary {
    /// The table (at most `max_rows` patient rows, then a line saying how
    /// many more and where), then every finding and every warning in full.
    pub fn render(&self, max_rows: Option<usize>, more_in: &str) -> String {
        let mut out = format!("{}\n", self.header);
        let shown = max_rows.unwrap_or(usize::MAX).min(self.rows.len());
        for r in &self.rows[..shown] {
            out.push_str(r);
            out.push('\n');
        }
        if shown < self.rows.len() {
            out.push_str(&format!(
                "... {} more patients in {more_in}\n",
                self.rows.len() - shown
            ));
        }
        if self.findings.is_empty() {
            out.push_str("findings: no AF episode and no alert\n");
        } else {
            out.push_str(&format!(
                "findings ({} of {} patients):\n",
                self.findings.len(),
                self.rows.len()
            ));
            for f in &self.findings {
                out.push_str(&format!("  {f}\n"));
            }
        }
        for w in &self.warnings {
            out.push_str(w);
            out.push('\n');
        }
        out
    }
}

/// The per-patient summary of `rows` (see [`TerminalSummary`]).
pub fn summary(rows: &[ResultRow]) -> TerminalSummary {
    use aorta_wire::Metric;
    #[derive(Default)]
    struct Acc {
        windows: HashSet<i64>,
        hr: Vec<f64>,
        sdnn: Vec<f64>,
        rmssd: Vec<f64>,
        flagged: HashSet<i64>,
        episodes: EpisodeLog,
        last_us: i64,
    }
    // Data-quality flags; SIMULATED-TEE is about the deployment, stated once below.
    let data_flags = !(Quality::INSUFFICIENT | Quality::SIMULATED_TEE);
    let mut simulated = 0usize;
    let mut by: BTreeMap<&str, Acc> = BTreeMap::new();
    for r in rows {
        let a = by.entry(&r.patient).or_default();
        let rec = &r.record;
        a.last_us = a.last_us.max(rec.t_us + i64::from(rec.window_ms) * 1000);
        if rec.quality.contains(Quality::SIMULATED_TEE) {
            simulated += 1;
        }
        if a.episodes.record(rec.metric, rec.t_us, rec.value) {
            continue;
        }
        a.windows.insert(rec.t_us);
        if rec.quality.0 & data_flags != 0 {
            a.flagged.insert(rec.t_us);
        }
        if rec.value.is_finite() {
            match rec.metric {
                Metric::Hr => a.hr.push(rec.value),
                Metric::Sdnn => a.sdnn.push(rec.value),
                Metric::Rmssd => a.rmssd.push(rec.value),
                _ => {}
            }
        }
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            format!("{:.1}", v.iter().sum::<f64>() / v.len() as f64)
        }
    };
    let header = format!(
        "{:<24} {:>8} {:>9} {:>10} {:>11} {:>8}  {}",
        "patient", "windows", "HR (bpm)", "SDNN (ms)", "RMSSD (ms)", "flagged", "AF / alerts"
    );
    let mut out = TerminalSummary {
        header,
        rows: Vec::new(),
        findings: Vec::new(),
        warnings: Vec::new(),
    };
    for (name, a) in &by {
        let mut kinds: Vec<Alert> = a.episodes.iter().map(|e| e.kind).collect();
        kinds.sort();
        kinds.dedup();
        let short: Vec<String> = kinds
            .iter()
            .map(|k| match k {
                Alert::AtrialFibrillation => {
                    format!(
                        "AF {:.1} min",
                        a.episodes.duration_us(*k, a.last_us) as f64 / 6e7
                    )
                }
                k => k.name().to_string(),
            })
            .collect();
        out.rows.push(format!(
            "{:<24} {:>8} {:>9} {:>10} {:>11} {:>8}  {}",
            name,
            a.windows.len(),
            mean(&a.hr),
            mean(&a.sdnn),
            mean(&a.rmssd),
            a.flagged.len(),
            if short.is_empty() {
                "-".to_string()
            } else {
                short.join(", ")
            }
        ));
        if !kinds.is_empty() {
            let what: Vec<String> = kinds
                .iter()
                .map(|k| {
                    let n = a.episodes.iter().filter(|e| e.kind == *k).count();
                    format!(
                        "{} {:.1} min ({n} episode{})",
                        k.name(),
                        a.episodes.duration_us(*k, a.last_us) as f64 / 6e7,
                        if n == 1 { "" } else { "s" }
                    )
                })
                .collect();
            out.findings.push(format!("{name}: {}", what.join("; ")));
        }
    }
    if simulated > 0 {
        out.warnings.push(format!(
            "WARNING: {simulated} of {} result rows were computed in a SIMULATED TEE (--allow-simulated): development only, not protected from the host",
            rows.len()
        ));
    }
    out
}

/// [`summary`] rendered whole: every patient, every finding, every warning.
pub fn summary_table(rows: &[ResultRow]) -> String {
    summary(rows).render(None, "")
}

/// An SVG of heart rate and SDNN per window for up to `max` patients,
/// one panel each, those with AF episodes or alerts first (the title says
/// how many of how many it shows); each value at its window's end; windows
/// with quality flags other than `insufficient` marked in red; AF episodes
/// and alerts drawn as labelled bands; the date and zone on the axis.
pub fn trends_svg(rows: &[ResultRow], max: usize) -> String {
    use aorta_wire::{Algorithm, Metric};
    use std::fmt::Write as _;
    type Series = Vec<(i64, f64, bool)>;
    // Per patient: heart rate and SDNN of the 10-s windows, episodes.
    let mut by: BTreeMap<&str, (Series, Series)> = BTreeMap::new();
    let mut episodes: BTreeMap<&str, EpisodeLog> = BTreeMap::new();
    for r in rows {
        let rec = &r.record;
        if episodes
            .entry(&r.patient)
            .or_default()
            .record(rec.metric, rec.t_us, rec.value)
        {
            continue;
        }
        if !rec.value.is_finite() {
            continue;
        }
        let flagged = rec.quality.0 & !(Quality::INSUFFICIENT | Quality::SIMULATED_TEE) != 0;
        let e = by.entry(&r.patient).or_default();
        match (rec.algorithm, rec.metric) {
            (Algorithm::HeartRate, Metric::Hr) => e.0.push((rec.t_us, rec.value, flagged)),
            (Algorithm::Sdnn, Metric::Sdnn) => e.1.push((rec.t_us, rec.value, flagged)),
            _ => {}
        }
    }
    let total = by
        .values()
        .filter(|(hr, sd)| !hr.is_empty() || !sd.is_empty())
        .count();
    let has_findings = |name: &str| episodes.get(name).is_some_and(|e| !e.is_empty());
    let mut panels: Vec<_> = by
        .into_iter()
        .filter(|(_, (hr, sd))| !hr.is_empty() || !sd.is_empty())
        .collect();
    // Stable: by name within each group.
    panels.sort_by_key(|(name, _)| !has_findings(name));
    panels.truncate(max);
    // One time axis and one scale per metric, shared by every patient.
    let all = || {
        panels
            .iter()
            .flat_map(|(_, (a, b))| a.iter().chain(b.iter()))
    };
    let t_min = all().map(|p| p.0).min().unwrap_or(0);
    let t_max = all()
        .map(|p| p.0 + WINDOW_US)
        .max()
        .unwrap_or(t_min + 1)
        .max(t_min + 1);
    let range = |f: fn(&(Series, Series)) -> &Series| {
        let v: Vec<f64> = panels
            .iter()
            .flat_map(|(_, s)| f(s).iter().map(|p| p.1))
            .collect();
        nice_range(
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let scales = [range(|s| &s.0), range(|s| &s.1)];
    let (w, row_h, top, label_w) = (1000.0f64, 150.0f64, 74.0f64, 110.0f64);
    let panel_w = (w - label_w - 30.0) / 2.0;
    let h = top + row_h * panels.len().max(1) as f64 + 30.0;
    let which = if panels.len() == total {
        format!("all {total} patients")
    } else {
        format!(
            "{} of {total} patients: those with AF or alerts first, then by name (every patient is in the CSV)",
            panels.len()
        )
    };
    let dates = {
        let d0 = utc_date(t_min);
        let d1 = utc_date(t_max - 1);
        if d0 == d1 {
            d0
        } else {
            format!("{d0} to {d1}")
        }
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">Heart rate and SDNN per 10-s window, {dates}: {}</text>\n\
         <text x=\"{}\" y=\"38\" text-anchor=\"middle\" fill=\"#555\">x: time of day (UTC, HH:MM), each value at the end of its window; one scale per metric for all patients</text>\n\
         <text x=\"{}\" y=\"54\" text-anchor=\"middle\" fill=\"#555\">red dots: windows flagged for data quality (gap, rejected, late, backlog...); <tspan fill=\"{AF_BAND}\">red band: atrial fibrillation</tspan>; <tspan fill=\"#c77800\">orange band: alert (named)</tspan></text>\n",
        w / 2.0,
        xml_escape(&which),
        w / 2.0,
        w / 2.0
    );
    let time_ticks = time_ticks(t_min, t_max);
    for (i, (name, series)) in panels.iter().enumerate() {
        let y0 = top + row_h * i as f64;
        let _ = writeln!(
            svg,
            "<text x=\"8\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            y0 + row_h / 2.0,
            xml_escape(name)
        );
        for (k, (data, (lo, hi, step), colour, unit, title)) in [
            (&series.0, scales[0], "#3182bd", "bpm", "heart rate"),
            (&series.1, scales[1], "#e6550d", "ms", "SDNN"),
        ]
        .into_iter()
        .enumerate()
        {
            let px0 = label_w + k as f64 * (panel_w + 10.0) + 42.0;
            let px1 = label_w + k as f64 * (panel_w + 10.0) + panel_w;
            let (py_hi, py_lo) = (y0 + 16.0, y0 + row_h - 34.0);
            let x = |t: i64| px0 + (px1 - px0) * (t - t_min) as f64 / (t_max - t_min) as f64;
            let y = |v: f64| py_lo - (py_lo - py_hi) * (v - lo) / (hi - lo).max(1e-9);
            let _ = write!(
                svg,
                "<text x=\"{px0:.1}\" y=\"{:.1}\" fill=\"{colour}\">{title} ({unit})</text>\n\
                 <rect x=\"{px0:.1}\" y=\"{py_hi:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#999\"/>\n",
                y0 + 11.0,
                px1 - px0,
                py_lo - py_hi
            );
            let mut v = lo;
            while v <= hi + step / 2.0 {
                let yy = y(v);
                let _ = write!(
                    svg,
                    "<line x1=\"{:.1}\" y1=\"{yy:.1}\" x2=\"{px1:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\n\
                     <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>\n",
                    px0 - 3.0,
                    px0 - 5.0,
                    yy + 4.0,
                    fmt_tick(v, step)
                );
                v += step;
            }
            // Episodes first, under the lines: a band over their span.
            let none = EpisodeLog::default();
            for e in episodes.get(name).unwrap_or(&none).iter() {
                let (a, b) = (
                    e.onset_us.clamp(t_min, t_max),
                    e.offset_us.unwrap_or(t_max).clamp(t_min, t_max),
                );
                let (fill, label) = match e.kind {
                    Alert::AtrialFibrillation => (AF_BAND, "AF".to_string()),
                    k => ("#e08a00", k.name().to_string()),
                };
                let _ = write!(
                    svg,
                    "<rect class=\"episode {}\" x=\"{:.1}\" y=\"{py_hi:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" fill-opacity=\"0.15\"/>\n\
                     <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{fill}\" font-size=\"10\">{label}</text>\n",
                    label.replace(' ', "-"),
                    x(a),
                    (x(b) - x(a)).max(1.5),
                    py_lo - py_hi,
                    x(a) + 2.0,
                    py_hi + 10.0
                );
            }
            for (t, label) in &time_ticks {
                let xx = x(*t);
                let _ = write!(
                    svg,
                    "<line x1=\"{xx:.1}\" y1=\"{py_lo:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>\n\
                     <text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{label}</text>\n",
                    py_lo + 4.0,
                    py_lo + 16.0
                );
            }
            if data.is_empty() {
                let _ = writeln!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#999\">not enrolled for {title}</text>",
                    (px0 + px1) / 2.0,
                    (py_lo + py_hi) / 2.0
                );
                continue;
            }
            // Break the line where windows are missing (over 15 s apart).
            let mut path = String::new();
            let mut prev: Option<i64> = None;
            for p in data.iter() {
                let cmd = if prev.is_some_and(|t| p.0 - t <= 15_000_000) {
                    'L'
                } else {
                    'M'
                };
                let _ = write!(path, "{cmd}{:.1},{:.1} ", x(p.0 + WINDOW_US), y(p.1));
                prev = Some(p.0);
            }
            let _ = writeln!(
                svg,
                "<path fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.2\" d=\"{}\"/>",
                path.trim_end()
            );
            for p in data.iter().filter(|p| p.2) {
                let _ = writeln!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#d62728\"/>",
                    x(p.0 + WINDOW_US),
                    y(p.1)
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// The 10-s window of the plotted series.
const WINDOW_US: i64 = 10_000_000;
const AF_BAND: &str = "#d62728";

/// `YYYY-MM-DD` (UTC) of a time in µs.
fn utc_date(t_us: i64) -> String {
    let (y, m, d) = crate::fhir::civil_from_days(t_us.div_euclid(86_400_000_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// A range covering `lo..hi` with round ends, and its tick step.
fn nice_range(lo: f64, hi: f64) -> (f64, f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0, 0.25);
    }
    let span = (hi - lo).max(1e-6);
    let raw = span / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((lo / step).floor() * step, (hi / step).ceil() * step, step)
}

fn fmt_tick(v: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Clock-time ticks (UTC `HH:MM`) at a round step, at most 6.
fn time_ticks(t_min: i64, t_max: i64) -> Vec<(i64, String)> {
    let span_min = (t_max - t_min) as f64 / 60e6;
    let step_min = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440]
        .into_iter()
        .find(|s| span_min / f64::from(*s) <= 6.0)
        .unwrap_or(1440);
    let step_us = i64::from(step_min) * 60_000_000;
    let mut t = (t_min + step_us - 1).div_euclid(step_us) * step_us;
    let mut out = Vec::new();
    while t <= t_max {
        let s = t.div_euclid(1_000_000).rem_euclid(86_400);
        out.push((t, format!("{:02}:{:02}", s / 3600, s / 60 % 60)));
        t += step_us;
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
