//! Scoring a detector on an annotated WFDB record, from its bytes: what
//! `aorta validate` reports and the tests check.

use crate::score::{score, Score};
use crate::wfdb::{self, Annotation};
use crate::{AnalyticsError, QrsDetector};

/// One record's outcome.
#[derive(Debug, Clone)]
pub struct RecordResult {
    pub name: String,
    pub fs: f64,
    /// Reference beats (all beat types).
    pub reference: Vec<u64>,
    pub detected: Vec<u64>,
    /// Ventricular flutter/fibrillation spans `[from, to)`, in samples.
    pub excluded: Vec<(u64, u64)>,
    /// With the spans excluded (EC57).
    pub score: Score,
    /// Without exclusions.
    pub score_all: Score,
    /// 10-s segments flagged for quality (not ok), `[from, to)` in samples.
    pub flagged: Vec<(u64, u64)>,
    pub segments: usize,
}

/// Ventricular flutter/fibrillation spans, as EC57 excludes them: from a
/// `[` (VF onset) or a rhythm annotation `(VFL`/`(VF` to the next `]` or
/// rhythm change.
pub fn vf_spans(ann: &[Annotation]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut open: Option<u64> = None;
    for a in ann {
        match a.code {
            28 => {
                if let Some(s) = open.take() {
                    out.push((s, a.sample));
                }
                if a.aux.starts_with("(VF") {
                    open = Some(a.sample);
                }
            }
            32 => open = open.or(Some(a.sample)),
            33 => {
                if let Some(s) = open.take() {
                    out.push((s, a.sample));
                }
            }
            _ => {}
        }
    }
    if let Some(s) = open {
        out.push((s, u64::MAX));
    }
    // Merge touching spans.
    out.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in out {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Samples of `channel` in mV.
pub fn channel_mv(
    header: &wfdb::Header,
    dat: &[u8],
    channel: usize,
) -> Result<Vec<f32>, AnalyticsError> {
    let spec = header.signals.get(channel).ok_or_else(|| {
        AnalyticsError::Wfdb(format!(
            "no channel {channel} (the record has {})",
            header.signals.len()
        ))
    })?;
    let body = dat.get(spec.byte_offset..).unwrap_or_default();
    let sig = wfdb::decode(spec.format, header.signals.len(), body)?;
    let raw = sig
        .get(channel)
        .ok_or_else(|| AnalyticsError::Wfdb(format!("no channel {channel}")))?;
    Ok(raw
        .iter()
        .map(|v| (v - spec.baseline) as f32 / spec.gain as f32)
        .collect())
}

/// `[from, to)` in samples.
pub type SampleSpan = (u64, u64);

/// Runs the detector over `mv` fed in chunks of `chunk` samples: the
/// beats, the 10-s segments its quality check flagged (`[from, to)` in
/// samples), and the number of segments.
pub fn detect(
    mv: &[f32],
    fs: f64,
    chunk: usize,
) -> Result<(Vec<u64>, Vec<SampleSpan>, usize), AnalyticsError> {
    let mut det = QrsDetector::new(fs)?;
    let mut beats = Vec::new();
    for c in mv.chunks(chunk.max(1)) {
        det.push(c, &mut beats);
    }
    det.finish(&mut beats);
    let q = det.take_quality();
    Ok((
        beats.iter().map(|b| b.sample).collect(),
        q.iter()
            .filter(|s| !s.ok())
            .map(|s| (s.start, s.start + s.len))
            .collect(),
        q.len(),
    ))
}

/// Detects beats on `channel` of a record and scores them against its
/// beat annotations with a ±150 ms window.
pub fn evaluate(
    name: &str,
    hea: &str,
    dat: &[u8],
    atr: &[u8],
    channel: usize,
    chunk: usize,
) -> Result<RecordResult, AnalyticsError> {
    let header = wfdb::Header::parse(hea)?;
    let mv = channel_mv(&header, dat, channel)?;
    let ann = wfdb::parse_annotations(atr)?;
    let reference: Vec<u64> = ann
        .iter()
        .filter(|a| a.is_beat())
        .map(|a| a.sample)
        .collect();
    let excluded = vf_spans(&ann);
    let (detected, flagged, segments) = detect(&mv, header.fs, chunk)?;
    let window = (0.15 * header.fs).round() as u64;
    Ok(RecordResult {
        name: name.to_string(),
        fs: header.fs,
        score: score(&reference, &detected, window, &excluded),
        score_all: score(&reference, &detected, window, &[]),
        reference,
        detected,
        excluded,
        flagged,
        segments,
    })
}

/// AF detection scored against reference rhythm labels, by duration.
#[derive(Debug, Clone, Default)]
pub struct AfResult {
    pub name: String,
    /// Seconds of reference AF detected / missed; of non-AF correctly
    /// passed / flagged.
    pub tp_s: f64,
    pub fn_s: f64,
    pub tn_s: f64,
    pub fp_s: f64,
    pub onsets: usize,
    /// Seconds of the record no decision covers (the first half window,
    /// the last half window).
    pub unjudged_s: f64,
    /// Time of beats left out because the R-peak detector's quality check
    /// flagged their segment (noise), s.
    pub quality_excluded_s: f64,
    /// Reference AF episodes: (start s, duration s, found): found when a
    /// decision inside the episode says AF (EC57 episode sensitivity).
    pub episodes: Vec<(f64, f64, bool)>,
    /// (time s, reference AF, detected AF) per decision, for plots.
    pub timeline: Vec<(f64, bool, bool)>,
}

/// Episode-duration buckets of the AF report.
pub const EPISODE_BUCKETS: [(&str, f64, f64); 5] = [
    ("< 10 s", 0.0, 10.0),
    ("10–30 s", 10.0, 30.0),
    ("30–60 s", 30.0, 60.0),
    ("1–5 min", 60.0, 300.0),
    ("≥ 5 min", 300.0, f64::INFINITY),
];

/// Marks each reference episode `[start, end)` found or not from the
/// decisions of `r.timeline`.
pub fn mark_episodes(r: &mut AfResult, spans: &[(f64, f64)]) {
    r.episodes = spans
        .iter()
        .map(|&(a, b)| {
            let i = r.timeline.partition_point(|d| d.0 < a);
            let found = r.timeline[i..].iter().take_while(|d| d.0 < b).any(|d| d.2);
            (a, b - a, found)
        })
        .collect();
}

impl AfResult {
    pub fn sensitivity(&self) -> f64 {
        self.tp_s / (self.tp_s + self.fn_s)
    }
    pub fn specificity(&self) -> f64 {
        self.tn_s / (self.tn_s + self.fp_s)
    }
    pub fn add(&mut self, o: &AfResult) {
        self.tp_s += o.tp_s;
        self.fn_s += o.fn_s;
        self.tn_s += o.tn_s;
        self.fp_s += o.fp_s;
        self.onsets += o.onsets;
        self.unjudged_s += o.unjudged_s;
        self.quality_excluded_s += o.quality_excluded_s;
        self.episodes.extend_from_slice(&o.episodes);
    }

    /// (found, total) reference episodes with durations in `[lo, hi)` s.
    pub fn episodes_found(&self, lo: f64, hi: f64) -> (usize, usize) {
        let in_bucket = self.episodes.iter().filter(|e| e.1 >= lo && e.1 < hi);
        let total = in_bucket.clone().count();
        (in_bucket.filter(|e| e.2).count(), total)
    }
}

/// Runs the AF detector over beats (`(time s, rr ms)`) and scores each
/// decision, weighted by its interval's duration, against `is_af(time)`.
pub fn score_af(
    name: &str,
    beats: &[(f64, f64)],
    is_af: impl Fn(f64) -> bool,
    cfg: crate::af::AfConfig,
) -> AfResult {
    let mut det = crate::af::AfDetector::new(cfg);
    let mut r = AfResult {
        name: name.to_string(),
        ..AfResult::default()
    };
    let mut total_s = 0.0;
    // Decisions (time, interval s), and the detector's AF episodes from its
    // onset and offset events: as EC57 scores AF duration, from the
    // detector's rhythm annotations (an event is dated where the change
    // began, up to `min_run` decisions before it is confirmed).
    let mut decided = Vec::with_capacity(beats.len());
    let mut spans: Vec<(f64, f64)> = Vec::new();
    let mut open: Option<f64> = None;
    for &(t, rr) in beats {
        total_s += rr / 1000.0;
        let (dec, ev) = det.push(rr, t);
        match ev {
            Some(crate::af::AfEvent::Onset(t0)) => {
                r.onsets += 1;
                open = Some(t0);
            }
            Some(crate::af::AfEvent::Offset(t1)) => {
                if let Some(t0) = open.take() {
                    spans.push((t0, t1));
                }
            }
            None => {}
        }
        if let Some(d) = dec {
            decided.push((d.time, rr / 1000.0));
        }
    }
    if let Some(t0) = open {
        spans.push((t0, f64::INFINITY));
    }
    let mut k = 0;
    for (time, w) in decided {
        while k < spans.len() && spans[k].1 <= time {
            k += 1;
        }
        let called = spans.get(k).is_some_and(|s| s.0 <= time);
        let truth = is_af(time);
        match (truth, called) {
            (true, true) => r.tp_s += w,
            (true, false) => r.fn_s += w,
            (false, false) => r.tn_s += w,
            (false, true) => r.fp_s += w,
        }
        r.timeline.push((time, truth, called));
    }
    r.unjudged_s = (total_s - (r.tp_s + r.fn_s + r.tn_s + r.fp_s)).max(0.0);
    r
}

/// afdb as distributed in ../shared/data/afdb: `qrsNNNNN.txt` (ann2rr
/// dump: start sample, RR s, end sample; first row is not an RR) and
/// `atrNNNNN.txt` (rdann dump with rhythm labels), 250 Hz.
pub fn afdb_record(
    name: &str,
    qrs: &str,
    atr: &str,
    cfg: crate::af::AfConfig,
) -> Result<AfResult, AnalyticsError> {
    const FS: f64 = 250.0;
    let bad = |w: &str| AnalyticsError::Wfdb(format!("afdb {name}: {w}"));
    let mut beats = Vec::new();
    for (i, l) in qrs.lines().enumerate().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (Some(rr), Some(end)) = (f.get(1), f.get(2)) else {
            return Err(bad(&format!("qrs line {}", i + 1)));
        };
        let rr: f64 = rr
            .parse()
            .map_err(|_| bad(&format!("qrs line {}: RR", i + 1)))?;
        let end: f64 = end
            .parse()
            .map_err(|_| bad(&format!("qrs line {}: sample", i + 1)))?;
        beats.push((end / FS, rr * 1000.0));
    }
    let end = beats.last().map_or(0.0, |b| b.0);
    let mut rhythm: Vec<(f64, bool)> = Vec::new();
    for l in atr.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let (Some(s), Some(label)) = (f.get(1), f.last()) {
            if let Ok(s) = s.parse::<f64>() {
                rhythm.push((s / FS, label.starts_with("(AFIB")));
            }
        }
    }
    let is_af = |t: f64| {
        let i = rhythm.partition_point(|x| x.0 <= t);
        i > 0 && rhythm[i - 1].1
    };
    let mut r = score_af(name, &beats, is_af, cfg);
    let mut spans = Vec::new();
    for (i, &(t, af)) in rhythm.iter().enumerate() {
        if af {
            let to = rhythm.get(i + 1).map_or(end, |x| x.0);
            spans.push((t, to));
        }
    }
    mark_episodes(&mut r, &spans);
    Ok(r)
}

/// AF spans of a MIT-BIH record from its rhythm annotations (`(AFIB` to the
/// next rhythm change), in seconds.
pub fn af_spans(ann: &[Annotation], fs: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut open: Option<f64> = None;
    for a in ann.iter().filter(|a| a.code == 28) {
        let t = a.sample as f64 / fs;
        if let Some(s) = open.take() {
            out.push((s, t));
        }
        if a.aux.starts_with("(AFIB") {
            open = Some(t);
        }
    }
    if let Some(s) = open {
        out.push((s, f64::INFINITY));
    }
    out
}

/// Record names from a directory listing: the file names with `prefix` and
/// `suffix` (e.g. "" and ".hea", or "qrs" and ".txt") stripped, sorted.
pub fn record_names(
    file_names: impl IntoIterator<Item = String>,
    prefix: &str,
    suffix: &str,
) -> Vec<String> {
    let mut v: Vec<String> = file_names
        .into_iter()
        .filter_map(|n| {
            n.strip_prefix(prefix)
                .and_then(|x| x.strip_suffix(suffix))
                .map(String::from)
        })
        .collect();
    v.sort();
    v
}

/// One record under the noise stress test.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StressResult {
    /// Detections against the reference over the whole record (EC57
    /// exclusions applied), as the NST scores it.
    pub score: Score,
    /// 10-s segments wholly inside noise spans, and those flagged (not ok).
    pub noisy_segments: usize,
    pub noisy_flagged: usize,
    /// 10-s segments wholly outside noise spans, and those flagged.
    pub clean_segments: usize,
    pub clean_flagged: usize,
}

impl StressResult {
    pub fn add(&mut self, o: &StressResult) {
        self.score.add(&o.score);
        self.noisy_segments += o.noisy_segments;
        self.noisy_flagged += o.noisy_flagged;
        self.clean_segments += o.clean_segments;
        self.clean_flagged += o.clean_flagged;
    }
}

/// Adds `kind` noise at `snr_db` to a record (NST schedule, see
/// [`crate::noise`]), detects and scores, and checks the quality flag
/// against the noise spans. `flagged` decides whether a segment counts as
/// flagged (the detector's `ok()`, or a kind-specific flag).
pub fn stress_record(
    rec: &RecordResult,
    mv: &[f32],
    kind: crate::noise::NoiseKind,
    snr_db: f64,
    seed: u64,
    flagged: impl Fn(&crate::SegmentQuality) -> bool,
) -> Result<StressResult, AnalyticsError> {
    let (noisy, spans) = crate::noise::stress(mv, rec.fs, &rec.reference, kind, snr_db, seed);
    let mut det = QrsDetector::new(rec.fs)?;
    let mut beats = Vec::new();
    det.push(&noisy, &mut beats);
    det.finish(&mut beats);
    let detected: Vec<u64> = beats.iter().map(|b| b.sample).collect();
    let window = (0.15 * rec.fs).round() as u64;
    let mut out = StressResult {
        score: score(&rec.reference, &detected, window, &rec.excluded),
        ..StressResult::default()
    };
    for q in det.take_quality() {
        let end = q.start + q.len;
        let inside = spans.iter().any(|(a, b)| q.start >= *a && end <= *b);
        let outside = spans.iter().all(|(a, b)| end <= *a || q.start >= *b);
        if inside {
            out.noisy_segments += 1;
            out.noisy_flagged += usize::from(flagged(&q));
        } else if outside {
            out.clean_segments += 1;
            out.clean_flagged += usize::from(flagged(&q));
        }
    }
    Ok(out)
}
