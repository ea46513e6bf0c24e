//! The analytics on real recordings: the validation report
//! (`aorta validate`: R-peak detection on MIT-BIH and the noise stress
//! test, HRV against references, AF on afdb and long recordings without
//! AF, with their plots), and the readers of recordings and RR files the
//! commands share. This crate reads files; the analytics themselves
//! (`aorta-analytics`) do no I/O.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use aorta_analytics::AnalyticsError;

/// Why a report or a recording could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{0}")]
    Data(String),
    #[error(transparent)]
    Analytics(#[from] AnalyticsError),
    #[error("detections depend on chunk size")]
    ChunkDependent,
}

impl From<std::string::FromUtf8Error> for ValidationError {
    fn from(_: std::string::FromUtf8Error) -> Self {
        Self::Data("a text file is not UTF-8".into())
    }
}

impl From<std::io::Error> for ValidationError {
    fn from(e: std::io::Error) -> Self {
        Self::Io {
            path: "report".into(),
            reason: e.to_string(),
        }
    }
}

pub type Result<T, E = ValidationError> = std::result::Result<T, E>;

fn io_at(p: &Path) -> impl Fn(std::io::Error) -> ValidationError + '_ {
    move |e| ValidationError::Io {
        path: p.display().to_string(),
        reason: e.to_string(),
    }
}
use aorta_analytics::af::{classify_segment, AfConfig, Undecided};
use aorta_analytics::score::Score;
use aorta_analytics::validate::{
    af_spans, afdb_record, channel_mv, detect, evaluate, record_names, score_af, AfResult,
    RecordResult,
};
use aorta_analytics::wfdb;

fn with_ext(record: &Path, ext: &str) -> PathBuf {
    let mut s = record.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(io_at(p))
}

/// A WFDB record's header and one lead in mV.
pub fn read_lead(record: &Path, channel: usize) -> Result<(wfdb::Header, Vec<f32>)> {
    let hea = String::from_utf8(read(&with_ext(record, "hea"))?)
        .map_err(|_| ValidationError::Data("the header is not text".into()))?;
    let header = wfdb::Header::parse(&hea)?;
    let spec = header.signals.get(channel).ok_or_else(|| {
        ValidationError::Data(format!(
            "record {} has {} signals; no channel {}",
            header.name,
            header.signals.len(),
            channel
        ))
    })?;
    let dat_path = record.parent().unwrap_or(Path::new(".")).join(&spec.file);
    let mv = channel_mv(&header, &read(&dat_path)?, channel)?;
    Ok((header, mv))
}

/// A section over `data/<sub>`, or a line saying the folder is absent.
fn optional(data: &Path, sub: &str, f: impl FnOnce() -> Result<String>) -> Result<String> {
    if data.join(sub).is_dir() {
        f()
    } else {
        Ok(format!(
            "*(`{}` has no `{sub}/`: that part of the report is left out.)*\n\n",
            data.display()
        ))
    }
}

/// Reads a WFDB record set: (name, result of our detector, channel-0 mV).
fn wfdb_set(dir: &Path) -> Result<Vec<(RecordResult, Vec<f32>)>> {
    let mut out = Vec::new();
    for n in list_records(dir, "", ".atr")? {
        let hea = String::from_utf8(read(&dir.join(format!("{n}.hea")))?)?;
        let dat = read(&dir.join(format!("{n}.dat")))?;
        let atr = read(&dir.join(format!("{n}.atr")))?;
        let r = evaluate(&n, &hea, &dat, &atr, 0, 4096)?;
        let mv = channel_mv(&wfdb::Header::parse(&hea)?, &dat, 0)?;
        out.push((r, mv));
    }
    Ok(out)
}

/// Our detector beside the peers' detections in `peers/peers-<set>.json`,
/// all scored by the same scorer against the same references.
fn peers_table(set: &str, recs: &[(RecordResult, Vec<f32>)], peers: &Path) -> Result<String> {
    let ours = recs.iter().fold(Score::default(), |mut t, (r, _)| {
        t.add(&r.score);
        t
    });
    let mut rows = vec![("Aorta (`aorta-analytics::qrs`)".to_string(), ours)];
    let file = peers.join(format!("peers-{set}.json"));
    let mut note = String::new();
    match std::fs::read(&file) {
        Ok(bytes) => {
            let v: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| ValidationError::Data(format!("parsing {}: {e}", file.display())))?;
            let version = v["version"].as_str().unwrap_or("?");
            let tool = v["tool"].as_str().unwrap_or("?");
            let methods: Vec<String> = v["methods"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for m in methods {
                let mut t = Score::default();
                for (r, _) in recs {
                    let det: Vec<u64> = v["records"][&r.name][&m]
                        .as_array()
                        .ok_or_else(|| {
                            ValidationError::Data(format!(
                                "{}: no {m} detections for {}",
                                file.display(),
                                r.name
                            ))
                        })?
                        .iter()
                        .filter_map(serde_json::Value::as_u64)
                        .collect();
                    let window = (0.15 * r.fs).round() as u64;
                    t.add(&aorta_analytics::score::score(
                        &r.reference,
                        &det,
                        window,
                        &r.excluded,
                    ));
                }
                rows.push((format!("{tool} {version} `{m}`"), t));
            }
        }
        Err(_) => {
            note = format!(
                "(No `{}`: run `scripts/peer_detectors.py` to add the peers.)\n\n",
                file.display()
            )
        }
    }
    let mut out =
        String::from("| detector | TP | FN | FP | Se % | +P % |\n|---|---:|---:|---:|---:|---:|\n");
    for (name, t) in rows {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} |",
            t.true_pos,
            t.false_neg,
            t.false_pos,
            pct(t.sensitivity()),
            pct(t.positive_predictivity())
        );
    }
    out.push('\n');
    out.push_str(&note);
    Ok(out)
}

/// The noise stress table over `recs` (see `aorta_analytics::noise`).
fn noise_section(recs: &[(RecordResult, Vec<f32>)], progress: Progress) -> Result<String> {
    use aorta_analytics::noise::NoiseKind;
    use aorta_analytics::validate::{stress_record, StressResult};
    let mut out = format!(
        "## Noise stress test (issue 12, criterion 2)\n\nThe MIT-BIH Noise Stress Test's protocol (Moody, Muldrow & Mark 1984) on all {} records above: noise added to channel 0 from minute 5 on, two minutes on and two off; SNR as the NST defines it, S = A²/8 with A the median peak-to-peak QRS amplitude (±50 ms around each reference beat), N the noise's mean square. The NST's noise recordings are not in the data, so the noise is synthesised (`aorta_analytics::noise`, seed 1, documented there): *muscle* — Gaussian noise band-limited to 20–150 Hz (the surface-EMG band), amplitude-modulated by a ~1-s log-normal envelope; *electrode motion* — 0.5–10 Hz noise in random 0.5–3 s bursts plus decaying steps with a 30–60 ms spike; *baseline wander* — respiration and slower drifts below 0.5 Hz. Scored over the whole record as above (EC57 exclusions). *Flagged*: 10-s segments the detector's quality check marks not ok (signal-quality indices: energy above the QRS band, integrated-signal floor, peaks per beat, and the similarity of the beats' shapes — each beat's best correlation, from 100 ms before to 450 ms after its R wave or to the next beat, with another beat of the segment, median over the segment, with hysteresis after a noisy segment; limits in `aorta-analytics::qrs`), among the segments wholly inside noise spans and among those wholly outside.\n\n| noise | SNR dB | Se % | +P % | noisy segments flagged | clean segments flagged |\n|---|---:|---:|---:|---:|---:|\n",
        recs.len()
    );
    for kind in NoiseKind::ALL {
        for snr in [24.0, 18.0, 12.0, 6.0, 0.0, -6.0] {
            progress(&format!("noise stress {} {snr} dB", kind.name()));
            let mut t = StressResult::default();
            for (r, mv) in recs {
                t.add(&stress_record(r, mv, kind, snr, 1, |q| !q.ok())?);
            }
            let _ = writeln!(
                out,
                "| {} | {snr} | {} | {} | {} % ({}/{}) | {} % ({}/{}) |",
                kind.name(),
                pct(t.score.sensitivity()),
                pct(t.score.positive_predictivity()),
                pct(t.noisy_flagged as f64 / t.noisy_segments.max(1) as f64),
                t.noisy_flagged,
                t.noisy_segments,
                pct(t.clean_flagged as f64 / t.clean_segments.max(1) as f64),
                t.clean_flagged,
                t.clean_segments
            );
        }
    }
    out.push_str(
        "\nBaseline wander leaves the detections unchanged (the 5-Hz high-pass removes it) and is \
not flagged by design: the flag says the *beats* are unreliable, which wander does not make them. \
Electrode motion, whose spectrum overlaps the QRS band, is the hardest case, as on the real NST: \
the detector's own indices miss most of it at moderate SNR; the beat-shape similarity index \
(noise deforms the ST segment and T wave, and adds false beats of no consistent shape) is what \
flags it. Its bursts leave some 10-s segments almost untouched, which stay unflagged. The clean \
segments flagged are mostly in records 108, 203 and 207 (real noise) and 114 (channel 0 is V5, with small beats whose shapes vary more). The noise is synthetic: the \
real NST recordings may differ.\n\n",
    );
    Ok(out)
}

/// Record names in `dir` (see [`aorta_analytics::validate::record_names`]).
fn list_records(dir: &Path, prefix: &str, suffix: &str) -> Result<Vec<String>> {
    let files = std::fs::read_dir(dir).map_err(io_at(dir))?;
    Ok(record_names(
        files
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned()),
        prefix,
        suffix,
    ))
}

fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

fn span_text(fs: f64, spans: &[(u64, u64)]) -> String {
    if spans.is_empty() {
        return "—".into();
    }
    spans
        .iter()
        .map(|(a, b)| {
            let t = |s: u64| {
                let s = s as f64 / fs;
                format!("{}:{:04.1}", (s / 60.0) as u64, s % 60.0)
            };
            if *b == u64::MAX {
                format!("{}–end", t(*a))
            } else {
                format!("{}–{}", t(*a), t(*b))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An SVG of `secs` seconds of `mv` from `from_s`, with reference beats
/// (green ticks above) and detections (red ticks below).
fn excerpt_svg(r: &RecordResult, mv: &[f32], from_s: f64, secs: f64) -> String {
    let (w, h) = (1000.0, 260.0);
    let a = (from_s * r.fs) as usize;
    let b = ((from_s + secs) * r.fs) as usize;
    let seg = &mv[a.min(mv.len())..b.min(mv.len())];
    let (lo, hi) = seg
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    let span = f64::from((hi - lo).max(0.1));
    let x = |i: usize| 40.0 + (i as f64) / (seg.len().max(1) as f64) * (w - 60.0);
    let y = |v: f32| 40.0 + (f64::from(hi - v)) / span * (h - 90.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"40\" y=\"20\">MIT-BIH {} channel 0, {:.0}–{:.0} s: ECG (mV); reference beats green (top), detections red (bottom)</text>\n<polyline fill=\"none\" stroke=\"#333\" stroke-width=\"1\" points=\"",
        r.name,
        from_s,
        from_s + secs
    );
    for (i, v) in seg.iter().enumerate().step_by(1.max(seg.len() / 2000)) {
        let _ = write!(s, "{:.1},{:.1} ", x(i), y(*v));
    }
    s.push_str("\"/>\n");
    for (list, y0, color) in [
        (&r.reference, 28.0, "#1a9850"),
        (&r.detected, h - 40.0, "#d73027"),
    ] {
        for t in list.iter().filter(|t| (a as u64..b as u64).contains(t)) {
            let xx = x(*t as usize - a);
            let _ = writeln!(
                s,
                "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{y0}\" y2=\"{}\" stroke=\"{color}\" stroke-width=\"2\"/>",
                y0 + 12.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

fn pct_or_dash(num: f64, den: f64) -> String {
    if den > 0.0 {
        pct(num / den)
    } else {
        "—".into()
    }
}

/// A stacked timeline of reference (top bar) and detected (bottom bar) AF.
fn af_timeline_svg(results: &[AfResult]) -> String {
    let (w, row) = (1000.0, 34.0);
    let h = 40.0 + row * results.len() as f64;
    let tmax = results
        .iter()
        .filter_map(|r| r.timeline.last().map(|x| x.0))
        .fold(1.0, f64::max);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"60\" y=\"16\">AF over time ({:.1} h): reference (upper bar, dark) vs detected (lower bar, red), per afdb record</text>\n",
        tmax / 3600.0
    );
    for (i, r) in results.iter().enumerate() {
        let y = 30.0 + row * i as f64;
        let _ = writeln!(s, "<text x=\"4\" y=\"{:.1}\">{}</text>", y + 14.0, r.name);
        for (k, bar, color) in [(1usize, 0.0, "#4575b4"), (2usize, 13.0, "#d73027")] {
            let mut start: Option<f64> = None;
            let x = |t: f64| 60.0 + t / tmax * (w - 70.0);
            for (t, truth, det) in r.timeline.iter().copied().chain([(tmax, false, false)]) {
                let on = if k == 1 { truth } else { det };
                match (on, start) {
                    (true, None) => start = Some(t),
                    (false, Some(a)) => {
                        let _ = writeln!(
                            s,
                            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"11\" fill=\"{color}\"/>",
                            x(a),
                            y + bar,
                            (x(t) - x(a)).max(0.5)
                        );
                        start = None;
                    }
                    _ => {}
                }
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

/// NN intervals (ms) and their end times (s, from the first beat, as the
/// toolbox counts) from a record's beat annotations: intervals between two
/// consecutive normal (`N`) beats.
fn nn_from_annotations(ann: &[wfdb::Annotation], fs: f64) -> Vec<(f64, f64)> {
    let beats: Vec<&wfdb::Annotation> = ann.iter().filter(|a| a.is_beat()).collect();
    let first = beats.first().map_or(0, |b| b.sample);
    beats
        .windows(2)
        .filter(|w| w[0].code == 1 && w[1].code == 1)
        .map(|w| {
            (
                (w[1].sample - first) as f64 / fs,
                (w[1].sample - w[0].sample) as f64 * 1000.0 / fs,
            )
        })
        .collect()
}

fn median_abs_rel(pairs: &[(f64, f64)]) -> f64 {
    let mut v: Vec<f64> = pairs
        .iter()
        .filter(|(_, r)| r.is_finite() && *r != 0.0)
        .map(|(a, r)| ((a - r) / r).abs())
        .collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// An SVG of SDNN, RMSSD (ms, left scale) and LF/HF (right) per window over a day.
fn hrv_trend_svg(name: &str, rows: &[(f64, f64, f64, f64)]) -> String {
    let (w, h) = (1000.0, 320.0);
    let tmax = rows.last().map_or(1.0, |r| r.0).max(1.0);
    let ymax = rows
        .iter()
        .map(|r| r.1.max(r.2))
        .fold(1.0, f64::max)
        .min(300.0);
    let lfmax = rows
        .iter()
        .map(|r| r.3)
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max)
        .min(20.0);
    let x = |t: f64| 50.0 + t / tmax * (w - 100.0);
    let y = |v: f64, m: f64| 40.0 + (1.0 - (v / m).min(1.0)) * (h - 80.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"50\" y=\"20\">{name}: SDNN (blue) and RMSSD (green), ms, left, up to {ymax:.0}; LF/HF (orange), right, up to {lfmax:.1}; 5-min windows over {:.1} h</text>\n",
        tmax / 3600.0
    );
    for (k, color, m) in [
        (1usize, "#2166ac", ymax),
        (2, "#1a9850", ymax),
        (3, "#f46d43", lfmax),
    ] {
        s.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.2\" points=\""
        ));
        for r in rows {
            let v = [r.0, r.1, r.2, r.3][k];
            if v.is_finite() {
                let _ = write!(s, "{:.1},{:.1} ", x(r.0), y(v, m));
            }
        }
        s.push_str("\"/>\n");
    }
    for hour in (0..=(tmax / 3600.0) as u32).step_by(2) {
        let xx = x(f64::from(hour) * 3600.0);
        let _ = writeln!(
            s,
            "<text x=\"{xx:.0}\" y=\"{}\" text-anchor=\"middle\">{hour} h</text>",
            h - 15.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// HRV: the reference comparison (criterion 2), a day-long trend, and
/// agreement with the PhysioNet Cardiovascular Signal Toolbox's windows.
fn hrv_sections(data: &Path, plots: &Path) -> Result<String> {
    use aorta_analytics::{clean, hrv};
    let mut out = String::from(
        "## HRV metrics (issue 3, criterion 2)\n\n\
`aorta-analytics::hrv` (Task Force 1996; Shaffer & Ginsberg 2017) is compared, on four real \
5-minute NN series (nsr2db nsr001 and nsr004, chf2db chf201, rr-healthy 000), with NeuroKit2 0.2.13 \
(time domain, Poincaré, sample entropy, DFA) and with SciPy's `welch` and `lombscargle` on the \
documented pipeline (frequency domain) by `crates/analytics/tests/hrv_reference.rs`; reference values \
and their provenance: `scripts/hrv_reference.py`, `crates/analytics/tests/reference/`. Every metric \
agrees to within 1e-14 relative (tolerances required: 0.1 % time domain and Poincaré, 5 % spectral, \
2 % SampEn and DFA). Two documented differences: pNN50/pNN20 use the Task Force denominator n − 1 \
(NeuroKit2 divides by n; the test rescales), and TINN is an exhaustive least-squares search \
(NeuroKit2 0.2.13 never resets M after the first N, so it only tries one N).\n\n",
    );
    // Day-long trend on nsr001 and agreement with the PCST windows.
    let pcst = String::from_utf8(read(
        &data
            .join("pcst-reference")
            .join("NSR_HRV_allwindows_allpatients.csv"),
    )?)?;
    let mut table = String::new();
    for rec in ["nsr001", "nsr004", "nsr009"] {
        let dir = data.join("nsr2db");
        let hea = String::from_utf8(read(&dir.join(format!("{rec}.hea")))?)?;
        let header = wfdb::Header::parse(&hea)?;
        let ann = wfdb::parse_annotations(&read(&dir.join(format!("{rec}.ecg")))?)?;
        let nn = nn_from_annotations(&ann, header.fs);
        let (mut sdnn, mut rmssd, mut sd1, mut sd2, mut beats) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut trend = Vec::new();
        for line in pcst.lines().skip(1).filter(|l| l.starts_with(rec)) {
            let f: Vec<&str> = line.split(',').collect();
            let num = |i: usize| {
                f.get(i)
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(f64::NAN)
            };
            let (t0, t1) = (num(1), num(2));
            let w: Vec<f64> = nn
                .iter()
                .filter(|(t, _)| *t >= t0 && *t < t1)
                .map(|(_, r)| *r)
                .collect();
            if w.len() < 100 {
                continue;
            }
            let c = clean::clean(&w);
            let td = hrv::time_domain(&c.nn);
            let (a1, a2) = hrv::poincare(&c.nn);
            sdnn.push((td.sdnn, num(10)));
            rmssd.push((td.rmssd, num(11)));
            sd1.push((a1, num(25)));
            sd2.push((a2, num(26)));
            beats.push((w.len() as f64, num(13)));
        }
        if rec == "nsr001" {
            let end = nn.last().map_or(0.0, |x| x.0);
            let mut t0 = 0.0;
            while t0 + 300.0 <= end {
                let w: Vec<f64> = nn
                    .iter()
                    .filter(|(t, _)| *t >= t0 && *t < t0 + 300.0)
                    .map(|(_, r)| *r)
                    .collect();
                if w.len() >= 100 {
                    let c = clean::clean(&w);
                    let td = hrv::time_domain(&c.nn);
                    let f = hrv::frequency_domain(&c.nn, &c.t, hrv::Spectrum::Welch);
                    trend.push((t0, td.sdnn, td.rmssd, f.lf_hf));
                }
                t0 += 300.0;
            }
            std::fs::write(
                plots.join("hrv-nsr001.svg"),
                hrv_trend_svg("nsr2db nsr001", &trend),
            )?;
        }
        let _ = write!(
            table,
            "{}{rec}: NN intervals per window {} %, SDNN {} %, RMSSD {} %, SD1 {} %, SD2 {} % over {} windows",
            if table.is_empty() { "" } else { "; " },
            pct(median_abs_rel(&beats)),
            pct(median_abs_rel(&sdnn)),
            pct(median_abs_rel(&rmssd)),
            pct(median_abs_rel(&sd1)),
            pct(median_abs_rel(&sd2)),
            sdnn.len()
        );
    }
    let _ = write!(
        out,
        "### A day of HRV\n\n\
nsr2db nsr001 (24 h, healthy): NN intervals between consecutive normal beats of the record's \
annotations, artefact correction, 5-minute windows every 5 minutes. The PhysioNet Cardiovascular \
Signal Toolbox's results for these records (`../shared/data/pcst-reference/`) were not used as a \
reference: the toolbox's windows do not hold the annotated beats. In nsr001's first window it \
counts 443 beats (`btsdet`) with mean NN 675 ms, where the record's RR list \
(`nsr2db/nsr001_rr_secs.txt`) has 456 intervals with mean 657 ms; in the few windows where the \
counts agree, SDNN from the RR list still differs by 20–40 % (checked by hand with NumPy). The \
toolbox works on its own beat series and artefact rules, which the shared data (annotations \
only, no ECG signal) cannot reproduce. Median differences per window against our NN series: \
{table}.\n\n\
![HRV over a day](validation/hrv-nsr001.svg)\n\n\
### Artefact correction and PPG\n\n\
RR cleaning (Lipponen & Tarvainen 2019, NeuroKit2's constants) is tested on synthetic sinus rhythm \
with an inserted ectopic beat, a missed and an extra detection (each found and handled) and leaves a \
clean series untouched (`crates/analytics/src/clean.rs`). PPG pulse detection (Elgendi 2013) has no \
annotated recording here; on synthetic PPG with known systolic peaks (HR 50–130 bpm, dicrotic wave, \
wander, noise, two motion bursts) at 25, 64, 100 and 250 Hz it finds every pulse outside the bursts \
with at most one false detection in ten minutes, and flags both bursts \
(`crates/analytics/tests/ppg.rs`). Through the encrypted pipeline (`aorta gateway --ppg-file`, \
pulses found in the worker), 10 minutes of synthetic 64-Hz wrist PPG give a 10-s heart rate within \
2 bpm of the known pulses in 60 of 60 windows, and the same envelopes delivered with neighbours \
swapped give the same values (`crates/cli/tests/ppg_pipeline.rs`).\n\n"
    );
    Ok(out)
}

/// The AF sections of the report: afdb (criterion 3), MIT-BIH AF and
/// non-AF records, CinC 2017.
fn af_sections(data: &Path, plots: &Path, mit: &[AfResult], progress: Progress) -> Result<String> {
    let cfg = AfConfig::default();
    let dir = data.join("afdb");
    let names = list_records(&dir, "qrs", ".txt")?;
    let mut rows = String::new();
    let mut total = AfResult::default();
    let mut all = Vec::new();
    for n in &names {
        progress(&format!("afdb {n}"));
        let qrs = String::from_utf8(read(&dir.join(format!("qrs{n}.txt")))?)?;
        let atr = String::from_utf8(read(&dir.join(format!("atr{n}.txt")))?)?;
        let r = afdb_record(n, &qrs, &atr, cfg)?;
        let _ = writeln!(
            rows,
            "| {n} | {:.2} | {:.2} | {} | {} | {} |",
            (r.tp_s + r.fn_s) / 3600.0,
            (r.tn_s + r.fp_s) / 3600.0,
            pct_or_dash(r.tp_s, r.tp_s + r.fn_s),
            pct_or_dash(r.tn_s, r.tn_s + r.fp_s),
            r.onsets
        );
        total.add(&r);
        all.push(r);
    }
    std::fs::write(plots.join("af-afdb.svg"), af_timeline_svg(&all))?;
    let mut out = format!(
        "## Atrial fibrillation (issues 3 and 12)\n\n\
Detector: `aorta-analytics::af` — over a {}-beat window, premature beats with a compensatory pause \
(short then long interval summing to two median intervals ±{:.0} %) are replaced by their mean; \
irregularity = median relative RR difference at lag 1, 2 or 3, whichever is smallest (bigeminy \
and trigeminy repeat at lag 2 or 3; AF repeats at no lag); windows with ≥ {:.0} % of intervals \
within ±{:.0} % of the window median are regular; windows above {} are noise and change nothing; \
onset above {}, offset below {}, each for {} consecutive beats, the onset or offset dated at the \
first of them (where the rhythm changed; the run only confirms it); a window whose periodicity \
(the larger lag-2/lag-3 autocorrelation of the successive differences of the last 33 intervals: \
bigeminy, trigeminy and PVC runs repeat their pattern, AF does not) exceeds {} cannot start AF, \
and above {} it counts towards ending it; likewise a window whose repetition (the share of its \
3-interval patterns that another of its patterns matches within ±{:.0} % in every interval — \
sample entropy's template matching, counted: ectopy in changing patterns and flutter with \
varying block keep returning to a few patterns, AF's intervals do not) exceeds {} cannot start \
AF, and above {} it counts towards ending it. A short path finds paroxysms too brief to move the \
64-beat median: {} intervals centred on the same beat, measured the same way, start AF after {} \
decisions above {} (and below the concentration bound, not noise, the long window not periodic) \
when none of their 3-interval patterns recurs in the long window, none is \
shorter than {:.0} % of the long median (a double detection) and the beats before them were \
regular (below {}); such an episode ends after {} decisions of a short window below {} or \
whose patterns mostly recur, while the long window does not call for AF (when it confirms AF, \
the episode goes on as an ordinary one). Intervals outside 200–3000 ms are left out and counted; the window goes on across them. \
One setting for all records, chosen on afdb and the MIT-BIH non-AF records \
(the same data it is reported on: read these figures as a fit, the held-out data as the check; \
the periodicity and repetition gates, the offset threshold and the short path were chosen by 13-fold leave-records-out cross-validation, see the settings table). \
Scored by duration, as EC57 scores AF duration from a detector's rhythm annotations: every \
decision (one per beat, for the beat at the window centre) counts its RR interval's length, as AF \
when it lies in one of the detector's episodes (from an onset event to the next offset event); \
reference AF = `(AFIB` rhythm spans; `(N`, `(AFL`, `(J` are not AF. (Before the events were \
dated at the start of their run, on 2026-11-27, the detector of that day (without the repetition gate and the short path) scored Se 96.60 %, Sp 97.31 %, \
10–30 s episodes 9/17: each event came 16 decisions late.)\n\n\
### MIT-BIH Atrial Fibrillation Database (13 records, ~10 h each)\n\n\
Beat times: the database's own (unaudited, automatic) `qrs` annotations, as distributed.\n\n\
**Overall: sensitivity {} %, specificity {} %** ({:.1} h AF, {:.1} h not AF).\n\n\
| record | AF h | non-AF h | Se % | Sp % | onsets |\n|---|---:|---:|---:|---:|---:|\n{rows}\
| **total** | {:.1} | {:.1} | **{}** | **{}** | {} |\n\n\
![AF timelines](validation/af-afdb.svg)\n\n{}",
        cfg.window,
        cfg.compensation * 100.0,
        cfg.max_concentration * 100.0,
        cfg.band * 100.0,
        cfg.max_irregularity,
        cfg.onset,
        cfg.offset,
        cfg.min_run,
        cfg.periodic_onset,
        cfg.periodic_offset,
        cfg.repeat_tolerance * 100.0,
        cfg.repeat_onset,
        cfg.repeat_offset,
        cfg.short_window,
        cfg.short_run,
        cfg.short_onset,
        cfg.short_min_rr * 100.0,
        cfg.short_before,
        cfg.short_end_run,
        cfg.short_offset,
        pct(total.sensitivity()),
        pct(total.specificity()),
        (total.tp_s + total.fn_s) / 3600.0,
        (total.tn_s + total.fp_s) / 3600.0,
        (total.tp_s + total.fn_s) / 3600.0,
        (total.tn_s + total.fp_s) / 3600.0,
        pct(total.sensitivity()),
        pct(total.specificity()),
        total.onsets,
        af_episodes_text(&total)
    );
    let _ = write!(
        out,
        "### MIT-BIH Arrhythmia Database (the 22 records above)\n\n\
Beat times: this project's own R-peak detections (channel 0) — the whole chain from raw ECG. \
As in the clinical operator, beats whose interval touches a 10-s segment the R-peak detector's \
quality check flagged are left out (noise is not rhythm) and the AF detector's window goes on \
across them; that time is judged by nobody, and its column says how much it is. \
Reference AF: `(AFIB` rhythm annotations (records 201 and 203); AF min and Se count judged time.\n\n\
| record | AF min (reference) | Se % | false AF min | AF onsets | left out for signal quality, min |\n|---|---:|---:|---:|---:|---:|\n"
    );
    for r in mit {
        let _ = writeln!(
            out,
            "| {} | {:.1} | {} | {:.1} | {} | {:.1} |",
            r.name,
            (r.tp_s + r.fn_s) / 60.0,
            pct_or_dash(r.tp_s, r.tp_s + r.fn_s),
            r.fp_s / 60.0,
            r.onsets,
            r.quality_excluded_s / 60.0
        );
    }
    let non_af: Vec<&AfResult> = mit.iter().filter(|r| r.tp_s + r.fn_s == 0.0).collect();
    let false_alarms = non_af.iter().filter(|r| r.onsets > 0).count();
    let fa_min: f64 = non_af.iter().map(|r| r.fp_s).sum::<f64>() / 60.0;
    let _ = write!(
        out,
        "\nOn the {} records without AF, {} raise an AF alarm ({:.1} min flagged in {:.1} h).\n\n",
        non_af.len(),
        false_alarms,
        fa_min,
        non_af.iter().map(|r| r.tn_s + r.fp_s).sum::<f64>() / 3600.0
    );
    out.push_str(&rr_false_alarms(data, cfg, progress)?);
    out.push_str(&optional(data, "cinc2017", || cinc2017(data, cfg))?);
    Ok(out)
}

/// Episode sensitivity by duration, and the time left unjudged.
fn af_episodes_text(t: &AfResult) -> String {
    use aorta_analytics::validate::EPISODE_BUCKETS;
    let mut out = String::from(
        "Reference AF episodes found (an episode counts as found when a decision inside it says AF, \
as EC57 scores episodes):\n\n| episode duration | found | episodes | % |\n|---|---:|---:|---:|\n",
    );
    for (label, lo, hi) in EPISODE_BUCKETS {
        let (f, n) = t.episodes_found(lo, hi);
        let _ = writeln!(
            out,
            "| {label} | {f} | {n} | {} |",
            pct_or_dash(f as f64, n as f64)
        );
    }
    let _ = write!(
        out,
        "\nTime no decision covers: {:.0} s of {:.1} h ({} %): the first and last half window \
(32 beats) of each record, which the window-centred decisions cannot reach, and the \
intervals outside 200–3000 ms, which are left out (their neighbours are judged).\n\n{}",
        t.unjudged_s,
        (t.tp_s + t.fn_s + t.tn_s + t.fp_s + t.unjudged_s) / 3600.0,
        pct(t.unjudged_s / (t.tp_s + t.fn_s + t.tn_s + t.fp_s + t.unjudged_s).max(1.0)),
        AF_TRIED
    );
    out
}

/// Designs evaluated against this detector and not adopted (figures from
/// the research scripts, 13-fold leave-records-out cross-validation on
/// afdb with the MIT-BIH, nsr2db and chf2db records as constraints;
/// centre-beat weighting, so the shipped detector reads Se 96.66 / Sp
/// 97.23 there and MIT-BIH false AF 16.25 min on reference beats).
const AF_TRIED: &str = "Designs tried against the detector *before the repetition gate* and not adopted (scripts, logs and method: \
`docs/validation/af-research/`; 13-fold leave-records-out \
cross-validation on afdb, the MIT-BIH, nsr2db and chf2db records as constraints; in that scoring \
the shipped detector reads Se 96.66 %, Sp 97.23 %, 10–30 s episodes 9/17, MIT-BIH non-AF false AF \
16.25 min on reference beats, nsr2db/chf2db 0.76 min):\n\n\
| design | Se % | Sp % | 10–30 s | MIT-BIH false min | nsr/chf false min | why not |\n\
|---|---:|---:|---:|---:|---:|---|\n\
| a 12-beat companion window OR-ed with this one (its own threshold, periodicity and concentration gates) | 96.87 | 97.19 | 11/17 | 16.62 | 1.53 | short episodes still < 70 %; more false AF on held-out records; 16 % more alarm onsets |\n\
| Petrėnas, Marozas & Sörnmo 2015 (8-beat irregularity, exponential averaging), fitted | 91.82 | 98.31 | 5/17 | 21.48 | 0.00 | loses sensitivity and short episodes: the smoothing that keeps bigeminy out delays onsets |\n\
| the same OR-ed with this detector | 97.13 | 97.12 | 11/17 | 17.97 | 0.76 | specificity and MIT-BIH false AF worse |\n\
| the same AND-ed with this detector | 95.51 | 97.89 | 7/17 | 14.90 | 0.59 | loses 1.1 points of sensitivity and short episodes |\n\
| Zhou et al. 2014/2015 (symbolic dynamics, Shannon entropy of 3-symbol words over 127 beats), fitted | 93.70 | 97.36 | 5/17 | 35.71 | 9.15 | the long window misses short episodes; bigeminy and ectopy read as entropy |\n\
| the same AND-ed with this detector | 95.33 | 98.21 | 8/17 | 14.07 | 0.00 | loses 1.3 points of sensitivity |\n\
| the same OR-ed with this detector | 97.28 | 96.97 | 11/17 | 18.22 | 2.85 | specificity and false AF worse |\n\
| correcting detection artefacts first (merge extra, split missed beats: Lipponen & Tarvainen's classes, or a local-median rule; 46 settings) | 96.60 | 97.31 | 9/17 | 16.27 | 0.76 | every fold chose no correction; the false AF is premature beats and irregular rhythms, not artefacts |\n\
| with the events dated at the start of their run (shipped): onset/offset thresholds and debounce re-fitted (227 settings) | 96.95 | 97.69 | 11/17 | 16.67 | 0.76 | every fold kept the shipped setting; a longer debounce loses short episodes |\n\
| a couplet rule beside the premature-beat filter (two short intervals and a pause summing to three medians; 16 settings) | 96.95 | 97.69 | 11/17 | 16.67 | 0.76 | every fold chose none: each variant lost a 10–30 s episode for at most 2 min less false AF |\n\n\
The last two rows are scored as this page scores (events dated at the start of their run; MIT-BIH on reference beats), so their baseline is the detector before the repetition gate as this page scored it: Se 96.95 %, Sp 97.69 %, 10–30 s episodes 11/17, MIT-BIH false AF 16.67 min on reference beats. The constants of both papers were taken from their abstracts and from public re-implementations (their full texts were not at hand), and the undocumented details were chosen by the cross-validation. None of these designs reached sensitivity ≥ 97 % and specificity ≥ 98 % together, or 70 % of the 10–30 s episodes, under cross-validation. The repetition gate that followed (`docs/validation/af-research/af-s3/`) reached the first under cross-validation (Se 97.07 %, Sp 98.09 %, scored as this page scores) and not the second (11/17); the short path after it reached both (see the settings table).\n\n";

/// False AF on the long RR-only recordings without AF (nsr2db healthy,
/// chf2db heart failure): minutes per hour, and time unjudged.
fn rr_false_alarms(data: &Path, cfg: AfConfig, progress: Progress) -> Result<String> {
    let mut out = String::from(
        "### Long recordings without AF (RR intervals only)\n\n\
The AF detector on every RR series of `nsr2db/` (healthy, 24 h) and `chf2db/` (congestive heart \
failure, ~20 h; these patients' rhythm is not annotated: their false-AF figure is an upper \
bound). Intervals as distributed (the file's first value, the first beat's time, is skipped).\n\n\
| record | hours | false AF min | per hour | AF onsets | intervals left out | unjudged s |\n\
|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut any = false;
    for set in ["nsr2db", "chf2db"] {
        let dir = data.join(set);
        if !dir.is_dir() {
            continue;
        }
        for n in list_records(&dir, "", "_rr_secs.txt")? {
            any = true;
            progress(&format!("{set} {n}"));
            let text = String::from_utf8(read(&dir.join(format!("{n}_rr_secs.txt")))?)?;
            let (rr, _) = parse_rr_text(&text);
            let mut t = 0.0;
            let beats: Vec<(f64, f64)> = rr
                .iter()
                .skip(1)
                .map(|r| {
                    t += r / 1000.0;
                    (t, *r)
                })
                .collect();
            let left_out = beats
                .iter()
                .filter(|b| !(200.0..=3000.0).contains(&b.1))
                .count();
            let r = score_af(&n, &beats, |_| false, cfg);
            let hours = t / 3600.0;
            let _ = writeln!(
                out,
                "| {set}/{n} | {hours:.1} | {:.1} | {:.2} | {} | {left_out} | {:.0} |",
                r.fp_s / 60.0,
                r.fp_s / 60.0 / hours.max(1e-9),
                r.onsets,
                r.unjudged_s
            );
        }
    }
    if !any {
        return Ok(String::new());
    }
    out.push('\n');
    Ok(out)
}

/// CinC 2017 short single-lead records: our QRS detector, then the
/// whole-strip AF classifier.
fn cinc2017(data: &Path, cfg: AfConfig) -> Result<String> {
    let dir = data.join("cinc2017");
    let labels = String::from_utf8(read(&dir.join("REFERENCE.csv"))?)?;
    let mut rows = String::new();
    // (AF label, called AF) counts: [tp, fn, tn, fp], undecided.
    let (mut counts, mut undecided) = ([0u32; 4], 0u32);
    for l in labels.lines() {
        let Some((name, label)) = l.trim().split_once(',') else {
            continue;
        };
        let hea = String::from_utf8(read(&dir.join(format!("{name}.hea")))?)?;
        let header = wfdb::Header::parse(&hea)?;
        let dat = read(&dir.join(&header.signals[0].file))?;
        let mv = channel_mv(&header, &dat, 0)?;
        let (beats, flagged, segments) = detect(&mv, header.fs, 4096)?;
        let flagged = flagged.len();
        let rr: Vec<f64> = beats
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64 * 1000.0 / header.fs)
            .collect();
        let readable = 2 * flagged <= segments;
        let decision = if readable {
            classify_segment(&rr, &cfg).map_err(|e| match e {
                Undecided::TooFewBeats => "too few beats",
                Undecided::Noise => "noise (irregularity > max)",
            })
        } else {
            Err("signal quality")
        };
        let (called, irr, conc) = match decision {
            Err(why) => {
                undecided += 1;
                (why, "—".into(), "—".into())
            }
            Ok(d) => {
                let slot = match (label == "A", d.af) {
                    (true, true) => 0,
                    (true, false) => 1,
                    (false, false) => 2,
                    (false, true) => 3,
                };
                counts[slot] += 1;
                (
                    if d.af { "AF" } else { "not AF" },
                    format!("{:.3}", d.irregularity),
                    format!("{:.0}", d.concentration * 100.0),
                )
            }
        };
        let _ = writeln!(
            rows,
            "| {name} | {label} | {:.0} | {} | {flagged}/{segments} | {irr} | {conc} | {called} |",
            mv.len() as f64 / header.fs,
            beats.len()
        );
    }
    let [tp, fneg, tn, fp] = counts;
    Ok(format!(
        "### PhysioNet/CinC Challenge 2017 (20 short single-lead records, 300 Hz)\n\n\
Our R-peak detector on the raw ECG, then — the strips being shorter than the streaming window — \
`af::classify_segment`: the same features over the whole strip (at least {} intervals). A strip \
whose 10-s segments are mostly flagged by the R-peak detector's quality check is not classified \
(\"signal quality\"). Labels: \
A = AF; N (normal), O (other rhythm) and ~ (noisy) count as not AF.\n\n\
**Records: sensitivity {} % ({tp} of {}), specificity {} % ({tn} of {})**, {undecided} not \
classified. A strip whose irregularity exceeds {} (0.006 % of afdb's AF decisions do) is noise, not \
rhythm, and is not classified either; a noisy strip below that bound is called AF — an RR-only \
detector cannot tell; a morphology-based noise check would.\n\n\
| record | label | duration s | beats | flagged segments | irregularity | concentration % | called |\n\
|---|---|---:|---:|---:|---:|---:|---|\n{rows}\n",
        aorta_analytics::af::MIN_SEGMENT + cfg.max_lag,
        pct_or_dash(tp as f64, (tp + fneg) as f64),
        tp + fneg,
        pct_or_dash(tn as f64, (tn + fp) as f64),
        tn + fp,
        cfg.max_irregularity,
    ))
}

/// Where a report's progress goes (one short line per step).
pub type Progress<'a> = &'a dyn Fn(&str);

/// What [`write_report`] measured, for the operator's summary line.
#[derive(Debug, Clone)]
pub struct Summary {
    pub sensitivity: f64,
    pub positive_predictivity: f64,
    pub samples: u64,
}

/// Where the data, the report and the peers' detections are.
#[derive(Debug, Clone)]
pub struct ReportPaths {
    /// The shared data directory (holds mitdb/).
    pub data: PathBuf,
    /// The report to write (plots go beside it, under validation/).
    pub out: PathBuf,
    /// Peer detections (`peers-<set>.json`), scored beside ours when present.
    pub peers: PathBuf,
}

/// Runs the detectors over every data set present and writes the report.
pub fn write_report(a: &ReportPaths, progress: Progress) -> Result<Summary> {
    let dir = a.data.join("mitdb");
    let names = list_records(&dir, "", ".hea")?;
    let plots = a.out.parent().unwrap_or(Path::new(".")).join("validation");
    std::fs::create_dir_all(&plots)?;
    let mut rows = String::new();
    let (mut total, mut total_all) = (Score::default(), Score::default());
    let mut chunk_ok = true;
    let mut mit_af: Vec<AfResult> = Vec::new();
    let mut recs: Vec<(RecordResult, Vec<f32>)> = Vec::new();
    let t0 = std::time::Instant::now();
    let mut samples = 0u64;
    for (i, n) in names.iter().enumerate() {
        progress(&format!("MIT-BIH {n} ({}/{})", i + 1, names.len()));
        let hea = String::from_utf8(read(&dir.join(format!("{n}.hea")))?)?;
        let dat = read(&dir.join(format!("{n}.dat")))?;
        let atr = read(&dir.join(format!("{n}.atr")))?;
        let r = evaluate(n, &hea, &dat, &atr, 0, 4096)?;
        for chunk in [1, 37] {
            let again = evaluate(n, &hea, &dat, &atr, 0, chunk)?;
            chunk_ok &= again.detected == r.detected;
        }
        let header = wfdb::Header::parse(&hea)?;
        let mv = channel_mv(&header, &dat, 0)?;
        samples += mv.len() as u64;
        let ann = wfdb::parse_annotations(&atr)?;
        let spans = af_spans(&ann, header.fs);
        // As the clinical operator does: a beat whose interval touches a
        // segment the quality check flagged is not rhythm, and the AF
        // detector goes on across it.
        let noisy = |w: &[u64]| r.flagged.iter().any(|&(a, b)| w[0] < b && w[1] >= a);
        let beats: Vec<(f64, f64)> = r
            .detected
            .windows(2)
            .filter(|w| !noisy(w))
            .map(|w| {
                (
                    w[1] as f64 / header.fs,
                    (w[1] - w[0]) as f64 * 1000.0 / header.fs,
                )
            })
            .collect();
        let mut af = score_af(
            n,
            &beats,
            |t| spans.iter().any(|(a, b)| t >= *a && t < *b),
            AfConfig::default(),
        );
        af.quality_excluded_s = r
            .detected
            .windows(2)
            .filter(|w| noisy(w))
            .map(|w| (w[1] - w[0]) as f64 / header.fs)
            .fold(0.0, |a, b| a + b);
        mit_af.push(af);
        if n == "108" || n == "203" {
            std::fs::write(
                plots.join(format!("ecg-{n}.svg")),
                excerpt_svg(&r, &mv, 60.0, 12.0),
            )?;
        }
        let (s, sa) = (r.score, r.score_all);
        let _ = writeln!(
            rows,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {} |",
            n,
            r.reference.len(),
            s.true_pos,
            s.false_neg,
            s.false_pos,
            pct(s.sensitivity()),
            pct(s.positive_predictivity()),
            pct(sa.sensitivity()),
            pct(sa.positive_predictivity()),
            r.flagged.len(),
            r.segments,
            span_text(r.fs, &r.excluded)
        );
        total.add(&s);
        total_all.add(&sa);
        recs.push((r, mv));
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut md = String::new();
    let _ = write!(
        md,
        "# Validation on real recordings\n\n\
Generated by `aorta validate --data {} --out {}` ({} records, {:.1} s for the detector run \
three times per record). Data: MIT-BIH Arrhythmia Database, the records of `{}/mitdb/`, \
channel 0 (MLII except where the header says otherwise); reference: the `.atr` beat annotations of every beat type \
(N L R a V F J A S E j / Q B e n f r).\n\n\
## R-peak detection (issue 3, criterion 1)\n\n\
Detector: `aorta-analytics::qrs` (Hamilton–Tompkins 1986 / OSEA 2002 with search-back, \
refractory and T-wave rules, plus the held-decision and re-learning rules described in its \
documentation), one setting for all records. Matching: a detection within ±150 ms of a \
reference beat, each used once (`aorta_analytics::score`, as WFDB `bxb`). Exclusions as \
ANSI/AAMI EC57 prescribes: ventricular flutter/fibrillation episodes (from `[` or a `(VFL` \
rhythm annotation to the next `]` or rhythm change); the spans are listed below. No learning period is excluded: the whole 30 minutes count.\n\n\
**Overall, VF excluded: sensitivity {} %, positive predictivity {} %** \
(TP {}, FN {}, FP {}). Without exclusions: {} % / {} %.\n\n\
For scale: Hamilton & Tompkins published 99.69 % / 99.77 % on the whole database; open peers \
on these records are in the table after this one.\n\n\
Chunking: every record was also fed 1 and 37 samples at a time: detections {} the 4096-sample run.\n\n\
| record | beats | TP | FN | FP | Se % | +P % | Se % (no excl.) | +P % (no excl.) | flagged 10-s segments | excluded (VF) |\n\
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n{rows}\
| **total** | {} | {} | {} | {} | **{}** | **{}** | {} | {} | | |\n\n\
Excerpts (reference beats green on top, detections red below): \
[108, tall P waves](validation/ecg-108.svg), [203, multiform PVCs and AF](validation/ecg-203.svg).\n\n\
![108](validation/ecg-108.svg)\n\n![203](validation/ecg-203.svg)\n\n\
{{af}}",
        a.data.display(),
        a.out.display(),
        names.len(),
        secs,
        a.data.display(),
        pct(total.sensitivity()),
        pct(total.positive_predictivity()),
        total.true_pos,
        total.false_neg,
        total.false_pos,
        pct(total_all.sensitivity()),
        pct(total_all.positive_predictivity()),
        if chunk_ok { "were identical to" } else { "DIFFERED from" },
        total.true_pos + total.false_neg,
        total.true_pos,
        total.false_neg,
        total.false_pos,
        pct(total.sensitivity()),
        pct(total.positive_predictivity()),
        pct(total_all.sensitivity()),
        pct(total_all.positive_predictivity()),
    );
    let peers = format!(
        "### Beside open peers\n\nThe same records, the same scorer and exclusions; peer detections by `scripts/peer_detectors.py` \
(NeuroKit2's default and Pan–Tompkins methods, called as its users call them), read from `{}`.\n\n{}### Records never used for tuning\n\n{}",
        a.peers.display(),
        peers_table("mitdb", &recs, &a.peers)?,
        optional(&a.data, "svdb", || {
            let sv = wfdb_set(&a.data.join("svdb"))?;
            Ok(format!(
                "MIT-BIH Supraventricular Arrhythmia Database (`svdb/`, {} record(s), 128 Hz, channel 0): \
no setting of the detector was chosen on it.\n\n{}",
                sv.len(),
                peers_table("svdb", &sv, &a.peers)?
            ))
        })?
    );
    let md = md.replace(
        "{af}",
        &format!(
            "{peers}{}{}{}",
            noise_section(&recs, progress)?,
            optional(&a.data, "nsr2db", || hrv_sections(&a.data, &plots))?,
            optional(&a.data, "afdb", || af_sections(
                &a.data, &plots, &mit_af, progress
            ))?
        ),
    );
    let md = md + PROVENANCE;
    std::fs::write(&a.out, md).map_err(io_at(&a.out))?;
    if !chunk_ok {
        return Err(ValidationError::ChunkDependent);
    }
    Ok(Summary {
        sensitivity: total.sensitivity(),
        positive_predictivity: total.positive_predictivity(),
        samples,
    })
}

/// Where each setting came from (issue 12, criterion 4). Kept beside the
/// code that prints the figures so the two change together.
const PROVENANCE: &str = "## Where each setting comes from\n\n\
No setting is chosen per record: each detector runs with one setting on every record.\n\n\
| setting | value | chosen on |\n|---|---|---|\n\
| QRS band-pass, integration window, thresholds TH, refractory, T-wave rule, search-back (1.5 RR) | 5–15 Hz, 80 ms, 0.3125, 200 ms, 360 ms, 1.5 | published (Hamilton & Tompkins 1986; OSEA 2002), not refitted |\n\
| QRS second low-pass | 25 Hz | the surface-EMG band (20–150 Hz, muscle noise) from the literature; checked on the 22 mitdb records (clean detections unchanged or better) |\n\
| QRS hold-and-replace (a later peak within 300 ms, higher *and* steeper, replaces the held one) | 300 ms, both larger | the rule's form from physiology (P precedes the QRS, T follows, both slower); the 22 mitdb records (record 108's tall P waves) — no factor was fitted (a margin of 1.0–1.05 gives the same result) |\n\
| QRS re-learning after 2.5 s without a QRS; 2-s learning period | 2.5 s, 3× noise; 2 s | the 22 mitdb records (earlier issue) |\n\
| quality limits (energy above the QRS band, floor, peaks per beat) | 0.8, 0.32, 3.4 and 2.3 | just above the 99th percentile of each index over the *clean* 10-s segments of the 22 mitdb records; not fitted to noise |\n\
| beat-shape similarity limit; after a noisy segment | 0.93; 0.97 | near the 1st (0.938) and 5th (0.972) percentiles of the index over the same clean segments (`cargo run --release -p aorta-analytics --example sqi_explore`); the window's end (450 ms after R) and the median were chosen on synthetic noise of the 22 records in a prototype, so the noise table is not independent of that choice; its start (100 ms before R) leaves out the atrial activity, which AF makes unrelated to the QRS, and it ends where the next beat's begins (at AF's fast, irregular rates the next QRS fell into it): both chosen after the first version flagged clean AF with multiform PVCs in record 203 |\n\
| synthetic noise | see `aorta_analytics::noise` | literature descriptions of the NST's `ma`, `em`, `bw` recordings; not tuned to a detector |\n\
| AF window, onset, concentration, lags, ectopic filter, debounce, noise bound | 64 beats, 0.07, 35 % within ±3 %, 1–3, ±10 %, 16 beats, 0.35 | afdb (13 records) and the 20 mitdb records without AF, by hand, earlier issue (a fit: the held-out records are the check); onset and debounce re-checked by the cross-validations below, which kept them |\n\
| AF repetition gate (3-interval patterns, tolerance; onset ≤, offset >) and offset threshold | ±3 %; 0.45, 0.6; 0.045 (was 0.05) | the pattern length and tolerance from a first look at afdb (the share of repeating patterns over true-AF, false-AF and MIT-BIH false-AF decisions at lengths 2–4 and tolerances 3–5 %: length 3 at 3 % separated them best), then 13-fold leave-records-out cross-validation over the gate thresholds with the onset/offset thresholds (384 settings), the same folds and strict admission rule as the periodicity gate; 11 of 13 folds chose the shipped setting. Cross-validated: afdb Se 97.07 %, Sp 98.09 %, episode buckets 5/14, 11/17, 16/17, 53/53, 56/56, mitdb non-AF false AF 16.58 min on reference beats (the detector without the gate: 16.67), nsr2db/chf2db 0.65 min (0.76). A second grid adding the debounce (1,350 settings) gave no better cross-validated figures. `docs/validation/af-research/af-s3/` |\n\
| AF short path (window; onset, decisions; offset, decisions; recurring patterns; shortest interval; regularity before) | 12 intervals; 0.12, 6; 0.096, 12; ≤ 0.05 (none); 35 % of the long median; < 0.05 | 13-fold leave-records-out cross-validation over 1,296 settings (window 12 or 16; onset 0.08–0.12; offset 0.6–1.0 × onset; onset decisions 6, 8, 12; pattern bound none, ≤ 1 or ≤ 2 of the window's; shortest-interval bound off or 35 %; regularity-before bound off or 0.05; a rate-rise bound off or on; the end after 12 decisions), the same folds. The onset is dated at the first decision of its run, as the long path's is: that convention was fixed, not fitted (a grid that also moved the dating, 8 or 4 decisions earlier or 3 or 6 later, was run too). Admission: a setting had to be no worse than the detector without the short path on every training figure except specificity, which only had to stay ≥ 98 % (the target); under the strict rule (specificity no lower either) no setting with that dating was admitted, and the strict rule's own choice dated onsets 6 decisions late (CV Se 97.13 %, Sp 98.10 %, 10–30 s 12/17). Cross-validated (semi-strict): afdb Se 97.29 %, Sp 98.07 %, buckets 5/14, 16/17, 16/17, 53/53, 56/56, mitdb non-AF false AF 14.55 min on reference beats and nsr2db/chf2db 0.65 min, the same as the detector without the short path at its shipped settings (the repetition row's 16.58 min is that gate's own cross-validation, whose folds chose other settings); 9 of 13 folds chose a short path, 6 of them this one. After the cross-validation, a review found that ectopy in recurring patterns right after a burst could keep a short-path episode going for minutes; it now also ends when most of the short window's patterns recur (above the long window's offset bound, 0.6; a test pins it). That changed one afdb record's specificity by 0.01 point and no total. `docs/validation/af-research/af-s4/` (the study, first on single-precision features) and `af-s5/` (its double-precision re-run, which the Rust detector reproduces exactly) |\n\
| AF periodicity gate (onset ≤, offset >; last 33 intervals, lags 2–3) | 0.70, 0.85 | 13-fold leave-records-out cross-validation over afdb (each fold holds out one afdb record with a share of the mitdb, nsr2db and chf2db records), a setting admitted only if no worse than the detector without the gate on every training figure; mitdb scored on the reference beat annotations. Cross-validated: afdb Se 96.60 % (−0.06 points, about 2 min of AF in 04936 and 08405), Sp 97.22 % (+0.02), every episode bucket unchanged, mitdb non-AF false AF 23.0 → 17.1 min (all in 208), nsr2db/chf2db unchanged. Onset gates that would fix 106 (bigeminy) and COSEn (Lake & Moorman 2011) cost afdb sensitivity under cross-validation and were not adopted |\n\
| AF out-of-range rule (left out, window continues) | 200–3000 ms | physiology (30–300 bpm); not fitted |\n\n\
Records never used to choose anything: `svdb/` (above) and the held-out halves of each database, \
kept aside for independent checks.\n";

/// Beat times (s), one per line (a CSV line's first column): the intervals
/// between successive times, as `(time of the later beat, RR ms)`. Lines
/// that are not a finite number, or not later than the previous beat, are
/// skipped and reported.
pub fn parse_beat_times(text: &str) -> (Vec<(f64, f64)>, Vec<String>) {
    let mut beats = Vec::new();
    let mut rejected = Vec::new();
    let mut prev: Option<f64> = None;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let field = l.split([',', '\t', ' ']).next().unwrap_or(l);
        match field.parse::<f64>() {
            Ok(t) if t.is_finite() && prev.is_none_or(|p| t > p) => {
                if let Some(p) = prev {
                    beats.push((t, (t - p) * 1000.0));
                }
                prev = Some(t);
            }
            Ok(_) => rejected.push(format!(
                "line {}: not a finite time after the previous beat",
                i + 1
            )),
            Err(_) => rejected.push(format!("line {}: not a number", i + 1)),
        }
    }
    (beats, rejected)
}

/// Parses an RR file: returns intervals in ms and the rejected lines.
pub fn parse_rr_text(text: &str) -> (Vec<f64>, Vec<String>) {
    let mut values = Vec::new();
    let mut rejected = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let field = l.rsplit([',', '\t', ' ']).next().unwrap_or(l);
        match field.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => values.push(v),
            Ok(v) => rejected.push(format!("line {}: {v} is not a positive interval", i + 1)),
            Err(_) => rejected.push(format!("line {}: '{}' is not a number", i + 1, l)),
        }
    }
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    if median < 10.0 {
        values.iter_mut().for_each(|v| *v *= 1000.0);
    }
    (values, rejected)
}
