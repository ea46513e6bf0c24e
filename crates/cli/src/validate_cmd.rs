//! `aorta detect` and `aorta validate`: the analytics on real recordings.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use aorta_analytics::af::AfConfig;
use aorta_analytics::score::Score;
use aorta_analytics::validate::{
    af_spans, afdb_record, channel_mv, detect, evaluate, score_af, AfResult, RecordResult,
};
use aorta_analytics::wfdb;

#[derive(clap::Args)]
pub struct DetectArgs {
    /// WFDB record path without extension (as PhysioNet tools take it), e.g. mitdb/100.
    pub record: PathBuf,
    /// Signal (lead) number.
    #[arg(long, default_value_t = 0)]
    pub channel: usize,
}

fn with_ext(record: &Path, ext: &str) -> PathBuf {
    let mut s = record.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

/// Prints detected R-peak positions as sample indices, one per line.
pub fn detect_cmd(a: DetectArgs) -> Result<()> {
    let hea =
        String::from_utf8(read(&with_ext(&a.record, "hea"))?).context("the header is not text")?;
    let header = wfdb::Header::parse(&hea)?;
    let spec = header.signals.get(a.channel).with_context(|| {
        format!(
            "record {} has {} signals; no channel {}",
            header.name,
            header.signals.len(),
            a.channel
        )
    })?;
    let dat_path = a.record.parent().unwrap_or(Path::new(".")).join(&spec.file);
    let mv = channel_mv(&header, &read(&dat_path)?, a.channel)?;
    let (beats, flagged, segments) = detect(&mv, header.fs, 4096)?;
    let mut out = String::with_capacity(beats.len() * 8);
    for b in &beats {
        let _ = writeln!(out, "{b}");
    }
    print!("{out}");
    eprintln!(
        "{}: {} beats in {:.1} s at {} Hz (channel {} {}); {} of {} 10-s segments flagged for signal quality",
        header.name,
        beats.len(),
        mv.len() as f64 / header.fs,
        header.fs,
        a.channel,
        spec.description,
        flagged,
        segments
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The shared data directory (holds mitdb/).
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Report to write (plots go beside it, under validation/).
    #[arg(long, default_value = "docs/validation.md")]
    pub out: PathBuf,
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

/// The AF sections of the report: afdb (criterion 3), MIT-BIH AF and
/// non-AF records, CinC 2017.
fn af_sections(data: &Path, plots: &Path, mit: &[AfResult]) -> Result<String> {
    let cfg = AfConfig::default();
    let dir = data.join("afdb");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.strip_prefix("qrs")
                .and_then(|x| x.strip_suffix(".txt"))
                .map(String::from)
        })
        .collect();
    names.sort();
    let mut rows = String::new();
    let mut total = AfResult::default();
    let mut all = Vec::new();
    for n in &names {
        eprint!("\rvalidate: afdb {n}      ");
        let qrs = String::from_utf8(read(&dir.join(format!("qrs{n}.txt")))?)?;
        let atr = String::from_utf8(read(&dir.join(format!("atr{n}.txt")))?)?;
        let r = afdb_record(n, &qrs, &atr)?;
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
    eprintln!();
    std::fs::write(plots.join("af-afdb.svg"), af_timeline_svg(&all))?;
    let mut out = format!(
        "## Atrial fibrillation (issue 3, criterion 3)\n\n\
Detector: `aorta-analytics::af` — median relative successive RR difference over a {}-beat \
window, gated by the share of intervals within ±{:.0} % of the window median (< {:.0} % for AF), \
onset above {}, offset below {}; one setting for all records, chosen on afdb. Scored by \
duration: every decision (one per beat, for the beat at the window centre) counts its RR \
interval's length; reference AF = `(AFIB` rhythm spans; `(N`, `(AFL`, `(J` are not AF.\n\n\
### MIT-BIH Atrial Fibrillation Database (13 records, ~10 h each)\n\n\
Beat times: the database's own (unaudited, automatic) `qrs` annotations, as distributed.\n\n\
**Overall: sensitivity {} %, specificity {} %** ({:.1} h AF, {:.1} h not AF).\n\n\
| record | AF h | non-AF h | Se % | Sp % | onsets |\n|---|---:|---:|---:|---:|---:|\n{rows}\
| **total** | {:.1} | {:.1} | **{}** | **{}** | {} |\n\n\
![AF timelines](validation/af-afdb.svg)\n\n",
        cfg.window,
        cfg.band * 100.0,
        cfg.max_concentration * 100.0,
        cfg.onset,
        cfg.offset,
        pct(total.sensitivity()),
        pct(total.specificity()),
        (total.tp_s + total.fn_s) / 3600.0,
        (total.tn_s + total.fp_s) / 3600.0,
        (total.tp_s + total.fn_s) / 3600.0,
        (total.tn_s + total.fp_s) / 3600.0,
        pct(total.sensitivity()),
        pct(total.specificity()),
        total.onsets
    );
    let _ = write!(
        out,
        "### MIT-BIH Arrhythmia Database (the 22 records above)\n\n\
Beat times: this project's own R-peak detections (channel 0) — the whole chain from raw ECG. \
Reference AF: `(AFIB` rhythm annotations (records 201 and 203).\n\n\
| record | AF min (reference) | Se % | false AF min | AF onsets |\n|---|---:|---:|---:|---:|\n"
    );
    for r in mit {
        let _ = writeln!(
            out,
            "| {} | {:.1} | {} | {:.1} | {} |",
            r.name,
            (r.tp_s + r.fn_s) / 60.0,
            pct_or_dash(r.tp_s, r.tp_s + r.fn_s),
            r.fp_s / 60.0,
            r.onsets
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
    out.push_str(&cinc2017(data, cfg)?);
    Ok(out)
}

/// CinC 2017 short single-lead records: our QRS detector, then AF.
fn cinc2017(data: &Path, cfg: AfConfig) -> Result<String> {
    let dir = data.join("cinc2017");
    let labels = String::from_utf8(read(&dir.join("REFERENCE.csv"))?)?;
    let mut out = String::from(
        "### PhysioNet/CinC Challenge 2017 (20 short single-lead records, 300 Hz)\n\n\
Our R-peak detector on the raw ECG, then the AF detector. Most records are shorter than the \
detector's window plus its delay, so a decision exists only for the longer ones; a record is \
called AF if any decision is AF.\n\n\
| record | label | duration s | beats | decisions | called |\n|---|---|---:|---:|---:|---|\n",
    );
    for l in labels.lines() {
        let Some((name, label)) = l.trim().split_once(',') else {
            continue;
        };
        let hea = String::from_utf8(read(&dir.join(format!("{name}.hea")))?)?;
        let header = wfdb::Header::parse(&hea)?;
        let dat = read(&dir.join(&header.signals[0].file))?;
        let mv = channel_mv(&header, &dat, 0)?;
        let (beats, _, _) = detect(&mv, header.fs, 4096)?;
        let rr: Vec<(f64, f64)> = beats
            .windows(2)
            .map(|w| {
                (
                    w[1] as f64 / header.fs,
                    (w[1] - w[0]) as f64 * 1000.0 / header.fs,
                )
            })
            .collect();
        let r = score_af(name, &rr, |_| label == "A", cfg);
        let decisions = r.timeline.len();
        let called = if decisions == 0 {
            "too short".to_string()
        } else if r.timeline.iter().any(|x| x.2) {
            "AF".to_string()
        } else {
            "not AF".to_string()
        };
        let _ = writeln!(
            out,
            "| {name} | {label} | {:.0} | {} | {decisions} | {called} |",
            mv.len() as f64 / header.fs,
            beats.len()
        );
    }
    out.push('\n');
    Ok(out)
}

/// Runs the detector over mitdb and writes the report.
pub fn validate(a: ValidateArgs) -> Result<()> {
    let dir = a.data.join("mitdb");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_suffix(".hea")
                .map(String::from)
        })
        .collect();
    names.sort();
    let plots = a.out.parent().unwrap_or(Path::new(".")).join("validation");
    std::fs::create_dir_all(&plots)?;
    let mut rows = String::new();
    let (mut total, mut total_all) = (Score::default(), Score::default());
    let mut chunk_ok = true;
    let mut mit_af: Vec<AfResult> = Vec::new();
    let t0 = std::time::Instant::now();
    let mut samples = 0u64;
    for (i, n) in names.iter().enumerate() {
        eprint!("\rvalidate: MIT-BIH {n} ({}/{})", i + 1, names.len());
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
        let beats: Vec<(f64, f64)> = r
            .detected
            .windows(2)
            .map(|w| {
                (
                    w[1] as f64 / header.fs,
                    (w[1] - w[0]) as f64 * 1000.0 / header.fs,
                )
            })
            .collect();
        mit_af.push(score_af(
            n,
            &beats,
            |t| spans.iter().any(|(a, b)| t >= *a && t < *b),
            AfConfig::default(),
        ));
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
            r.flagged_segments,
            r.segments,
            span_text(r.fs, &r.excluded)
        );
        total.add(&s);
        total_all.add(&sa);
    }
    eprintln!();
    let secs = t0.elapsed().as_secs_f64();
    let mut md = String::new();
    let _ = write!(
        md,
        "# Validation on real recordings\n\n\
Generated by `aorta validate` (from the repository root, with `../shared/data` beside it; \
{} records, {:.1} s for the detector run three times per record). Data: MIT-BIH Arrhythmia \
Database, the 22 records of `../shared/data/mitdb/` (DS1 half), 360 Hz, channel 0 (MLII except \
where the header says otherwise); reference: the `.atr` beat annotations of every beat type \
(N L R a V F J A S E j / Q B e n f r).\n\n\
## R-peak detection (issue 3, criterion 1)\n\n\
Detector: `aorta-analytics::qrs` (Hamilton–Tompkins 1986 / OSEA 2002 with search-back, \
refractory and T-wave rules, plus the held-decision and re-learning rules described in its \
documentation), one setting for all records. Matching: a detection within ±150 ms of a \
reference beat, each used once (`aorta_analytics::score`, as WFDB `bxb`). Exclusions as \
ANSI/AAMI EC57 prescribes: ventricular flutter/fibrillation episodes (from `[` or a `(VFL` \
rhythm annotation to the next `]` or rhythm change) — in these records only 207 has them; the \
spans are listed below. No learning period is excluded: the whole 30 minutes count.\n\n\
**Overall, VF excluded: sensitivity {} %, positive predictivity {} %** \
(TP {}, FN {}, FP {}). Without exclusions: {} % / {} %.\n\n\
For scale, on these same 22 records: NeuroKit2's default detector 97.9 % / 99.3 %, its \
Pan–Tompkins 98.9 % / 98.4 % (as measured for the issue); Hamilton & Tompkins published \
99.69 % / 99.77 % on the whole database.\n\n\
Chunking: every record was also fed 1 and 37 samples at a time: detections {} the 4096-sample run.\n\n\
| record | beats | TP | FN | FP | Se % | +P % | Se % (no excl.) | +P % (no excl.) | flagged 10-s segments | excluded (VF) |\n\
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n{rows}\
| **total** | {} | {} | {} | {} | **{}** | **{}** | {} | {} | | |\n\n\
Excerpts (reference beats green on top, detections red below): \
[108, tall P waves](validation/ecg-108.svg), [203, multiform PVCs and AF](validation/ecg-203.svg).\n\n\
![108](validation/ecg-108.svg)\n\n![203](validation/ecg-203.svg)\n\n\
{{af}}",
        names.len(),
        secs,
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
    let md = md.replace("{af}", &af_sections(&a.data, &plots, &mit_af)?);
    std::fs::write(&a.out, md)?;
    println!(
        "MIT-BIH R-peaks: Se {} % +P {} % (VF excluded), {} samples; chunking {}; wrote {}",
        pct(total.sensitivity()),
        pct(total.positive_predictivity()),
        samples,
        if chunk_ok {
            "invariant"
        } else {
            "NOT invariant"
        },
        a.out.display()
    );
    if !chunk_ok {
        anyhow::bail!("detections depend on chunk size");
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct HrvArgs {
    /// RR intervals, one per line (ms, or s when the values are under 10);
    /// a CSV line's last column is taken. Non-numeric lines are skipped and counted.
    pub file: PathBuf,
    /// Spectral estimate.
    #[arg(long, value_enum, default_value = "welch")]
    pub spectrum: SpectrumArg,
    /// Only the first N seconds (default: the whole file).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Skip artefact correction (Lipponen & Tarvainen 2019); default: correct.
    #[arg(long)]
    pub no_clean: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SpectrumArg {
    Welch,
    Lomb,
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

pub fn hrv_cmd(a: HrvArgs) -> Result<()> {
    use aorta_analytics::hrv::{hrv, Spectrum};
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("reading {}", a.file.display()))?;
    let (mut rr, rejected) = parse_rr_text(&text);
    for r in rejected.iter().take(5) {
        eprintln!("{}: {r} (skipped)", a.file.display());
    }
    if rejected.len() > 5 {
        eprintln!(
            "{}: {} more lines skipped",
            a.file.display(),
            rejected.len() - 5
        );
    }
    if let Some(secs) = a.seconds {
        let mut t = 0.0;
        rr.retain(|v| {
            if (250.0..=3000.0).contains(v) {
                t += v / 1000.0;
            }
            t <= secs
        });
    }
    let cleaned = if a.no_clean {
        let before = rr.len();
        rr.retain(|v| (250.0..=3000.0).contains(v));
        aorta_analytics::clean::Cleaned {
            t: aorta_analytics::hrv::cumulative_times(&rr),
            report: aorta_analytics::clean::CleaningReport {
                intervals_in: before,
                out_of_range: before - rr.len(),
                intervals_out: rr.len(),
                ..Default::default()
            },
            nn: rr,
        }
    } else {
        aorta_analytics::clean::clean(&rr)
    };
    let (rr, times, rep) = (&cleaned.nn, &cleaned.t, &cleaned.report);
    if rr.len() < 10 {
        anyhow::bail!("{}: only {} NN intervals", a.file.display(), rr.len());
    }
    let h = hrv(
        rr,
        Some(times),
        match a.spectrum {
            SpectrumArg::Welch => Spectrum::Welch,
            SpectrumArg::Lomb => Spectrum::LombScargle,
        },
    );
    let (t, f, n) = (h.time, h.frequency, h.nonlinear);
    println!(
        "{} NN intervals from {} ({} outside 250..3000 ms, {} ectopic beats, {} missed, {} extra, {} long/short corrected or excluded; {} lines skipped), {:.1} min",
        rr.len(),
        rep.intervals_in,
        rep.out_of_range,
        rep.ectopic,
        rep.missed,
        rep.extra,
        rep.long_short,
        rejected.len(),
        rr.iter().sum::<f64>() / 60_000.0
    );
    let rows: [(&str, f64, &str); 27] = [
        ("mean NN", t.mean_nn, "ms"),
        ("SDNN", t.sdnn, "ms"),
        ("RMSSD", t.rmssd, "ms"),
        ("SDSD", t.sdsd, "ms"),
        ("NN50", t.nn50 as f64, ""),
        ("pNN50", t.pnn50, "%"),
        ("NN20", t.nn20 as f64, ""),
        ("pNN20", t.pnn20, "%"),
        ("mean HR", t.mean_hr, "bpm"),
        ("min HR", t.min_hr, "bpm"),
        ("max HR", t.max_hr, "bpm"),
        ("HRV triangular index", t.tri_index, ""),
        ("TINN", t.tinn, "ms"),
        ("VLF", f.vlf, "ms²"),
        ("LF", f.lf, "ms²"),
        ("HF", f.hf, "ms²"),
        ("total power", f.total, "ms²"),
        ("LF/HF", f.lf_hf, ""),
        ("LF", f.lf_nu, "n.u."),
        ("HF", f.hf_nu, "n.u."),
        ("LF peak", f.lf_peak, "Hz"),
        ("HF peak", f.hf_peak, "Hz"),
        ("SD1", n.sd1, "ms"),
        ("SD2", n.sd2, "ms"),
        ("sample entropy", n.sampen, ""),
        ("DFA α1", n.dfa_alpha1, ""),
        ("DFA α2", n.dfa_alpha2, ""),
    ];
    for (name, v, unit) in rows {
        println!("{name:<22} {v:>12.4} {unit}");
    }
    println!("{:<22} {:>12.4}", "SD1/SD2", n.sd1_sd2);
    Ok(())
}
