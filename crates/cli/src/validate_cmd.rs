//! `aorta detect`, `hrv`, `af` and `validate`: arguments and printing;
//! the work is `aorta-validation`'s and `aorta-analytics`'.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use aorta_analytics::validate::detect;
use aorta_validation::{parse_beat_times, parse_rr_text, read_lead, ReportPaths};

#[derive(clap::Args)]
pub struct DetectArgs {
    /// WFDB record path without extension (as PhysioNet tools take it), e.g. mitdb/100.
    pub record: PathBuf,
    /// Signal (lead) number.
    #[arg(long, default_value_t = 0)]
    pub channel: usize,
}

pub fn detect_cmd(a: DetectArgs) -> Result<()> {
    let (header, mv) = read_lead(&a.record, a.channel)?;
    let spec = &header.signals[a.channel];
    let (beats, flagged, segments) = detect(&mv, header.fs, 4096)?;
    let flagged = flagged.len();
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
    /// Peer detections (`peers-<set>.json`, written by
    /// scripts/peer_detectors.py) to score beside ours, when present.
    #[arg(long, default_value = "docs/validation")]
    pub peers: PathBuf,
}

/// Runs the detectors over every data set present and writes the report.
pub fn validate(a: ValidateArgs) -> Result<()> {
    let progress = |m: &str| eprint!("\rvalidate: {m:<40}");
    let paths = ReportPaths {
        data: a.data,
        out: a.out,
        peers: a.peers,
    };
    let s = aorta_validation::write_report(&paths, &progress);
    eprintln!();
    let s = s?;
    println!(
        "MIT-BIH R-peaks: Se {:.2} % +P {:.2} % (VF excluded), {} samples; chunking invariant; wrote {}",
        100.0 * s.sensitivity,
        100.0 * s.positive_predictivity,
        s.samples,
        paths.out.display()
    );
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

#[derive(clap::Args)]
pub struct AfArgs {
    /// RR intervals, one per line, in the formats `aorta hrv` reads (the
    /// first beat is at 0 s); with --beat-times, beat times in seconds.
    pub file: PathBuf,
    /// FILE holds beat times (s), one per line, not RR intervals.
    #[arg(long)]
    pub beat_times: bool,
}

/// `aorta af`: the streaming AF detector over one recording's beats.
/// Standard output carries only the episodes; skipped lines and counts go
/// to standard error.
pub fn af_cmd(a: AfArgs) -> Result<()> {
    use aorta_analytics::af::{episodes, AfConfig};
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("reading {}", a.file.display()))?;
    let (beats, rejected) = if a.beat_times {
        parse_beat_times(&text)
    } else {
        let (rr, rejected) = parse_rr_text(&text);
        let mut t = 0.0;
        let beats = rr
            .iter()
            .map(|r| {
                t += r / 1000.0;
                (t, *r)
            })
            .collect();
        (beats, rejected)
    };
    report_skipped(&a.file, &rejected);
    let found = episodes(&beats, AfConfig::default());
    let out_of_range = beats
        .iter()
        .filter(|b| !(200.0..=3000.0).contains(&b.1))
        .count();
    eprintln!(
        "{} intervals ({} outside 200..3000 ms left out), {} AF episodes",
        beats.len(),
        out_of_range,
        found.len()
    );
    let mut out = String::new();
    for (on, off) in found {
        out.push_str(&format!("{on:.3},{off:.3}\n"));
    }
    print!("{out}");
    Ok(())
}

fn report_skipped(file: &Path, rejected: &[String]) {
    for r in rejected.iter().take(5) {
        eprintln!("{}: {r} (skipped)", file.display());
    }
    if rejected.len() > 5 {
        eprintln!(
            "{}: {} more lines skipped",
            file.display(),
            rejected.len() - 5
        );
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SpectrumArg {
    Welch,
    Lomb,
}

pub fn hrv_cmd(a: HrvArgs) -> Result<()> {
    use aorta_analytics::hrv::{hrv, Spectrum};
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("reading {}", a.file.display()))?;
    let (mut rr, rejected) = parse_rr_text(&text);
    report_skipped(&a.file, &rejected);
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
