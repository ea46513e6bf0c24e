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
    /// 10-s segments flagged for quality (not ok).
    pub flagged_segments: usize,
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
    let sig = wfdb::decode(spec.format, header.signals.len(), dat)?;
    let raw = sig
        .get(channel)
        .ok_or_else(|| AnalyticsError::Wfdb(format!("no channel {channel}")))?;
    Ok(raw
        .iter()
        .map(|v| (v - spec.baseline) as f32 / spec.gain as f32)
        .collect())
}

/// Runs the detector over `mv` fed in chunks of `chunk` samples.
pub fn detect(
    mv: &[f32],
    fs: f64,
    chunk: usize,
) -> Result<(Vec<u64>, usize, usize), AnalyticsError> {
    let mut det = QrsDetector::new(fs)?;
    let mut beats = Vec::new();
    for c in mv.chunks(chunk.max(1)) {
        det.push(c, &mut beats);
    }
    det.finish(&mut beats);
    let q = det.take_quality();
    Ok((
        beats.iter().map(|b| b.sample).collect(),
        q.iter().filter(|s| !s.ok()).count(),
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
    let (detected, flagged_segments, segments) = detect(&mv, header.fs, chunk)?;
    let window = (0.15 * header.fs).round() as u64;
    Ok(RecordResult {
        name: name.to_string(),
        fs: header.fs,
        score: score(&reference, &detected, window, &excluded),
        score_all: score(&reference, &detected, window, &[]),
        reference,
        detected,
        excluded,
        flagged_segments,
        segments,
    })
}
