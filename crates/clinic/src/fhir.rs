//! HL7 FHIR R4 (4.0.1) output: one `Observation` per windowed metric, AF
//! episodes and alerts as `Observation`s with an onset/offset period, all
//! in a `Bundle` of type `collection`.
//!
//! Codes (see `docs/fhir.md`):
//! * heart rate: LOINC 8867-4 and IEEE 11073 MDC 147842
//!   (`MDC_ECG_HEART_RATE`), as the Personal Health Device IG asks;
//! * SDNN: LOINC 80404-7;
//! * AF episodes: LOINC 8884-9 (heart rate rhythm) with the value SNOMED
//!   CT 49436004 (atrial fibrillation);
//! * every metric and event, also those LOINC has no code for (RMSSD,
//!   pNN50, LF, HF, LF/HF, SD1, SD2, SampEn, DFA α1, alerts...), in the
//!   project's code system [`AORTA_METRIC`], whose codes are the result
//!   metric names of `docs/wire-format.md`.
//!
//! Units are UCUM (`ms`, `ms2`, `/min`, `%`, `1`). `effectivePeriod` is the
//! window. Data-quality flags are `meta.tag` codes of [`AORTA_QUALITY`];
//! a result computed in the simulated TEE also carries a `note` saying so.
//! The subject is identified by the stream's pseudonym (system
//! [`AORTA_PSEUDONYM`]) with the patient's name as display.

use std::collections::BTreeMap;

use aorta_wire::{Algorithm, Metric, Quality};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::feed::ResultRow;

/// The project's code system for metrics and events.
pub const AORTA_METRIC: &str = "urn:aorta:fhir:metric";
/// The project's code system for data-quality flags.
pub const AORTA_QUALITY: &str = "urn:aorta:fhir:quality";
/// Identifier system of stream pseudonyms.
pub const AORTA_PSEUDONYM: &str = "urn:aorta:fhir:pseudonym";
const LOINC: &str = "http://loinc.org";
const MDC: &str = "urn:iso:std:iso:11073:10101";
const SNOMED: &str = "http://snomed.info/sct";
const UCUM: &str = "http://unitsofmeasure.org";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const ABSENT: &str = "http://terminology.hl7.org/CodeSystem/data-absent-reason";

/// Metrics that are not observations of their own: counts of samples, the
/// beat-by-beat intervals of `identity`, and events (paired below).
fn skipped(m: Metric, a: Algorithm) -> bool {
    a == Algorithm::Identity || matches!(m, Metric::N | Metric::Rr)
}

/// (display, UCUM unit) of a metric.
fn describe(m: Metric, a: Algorithm) -> (&'static str, &'static str) {
    let clinical = a == Algorithm::Clinical;
    match m {
        Metric::Hr => ("Heart rate", "/min"),
        Metric::MeanRr => ("Mean RR interval", "ms"),
        Metric::Sdnn | Metric::SdnnTf => (
            if clinical {
                "SDNN, 5-minute window, artefact-corrected"
            } else {
                "SDNN"
            },
            "ms",
        ),
        Metric::Rmssd => (
            if clinical {
                "RMSSD, 5-minute window, artefact-corrected"
            } else {
                "RMSSD"
            },
            "ms",
        ),
        Metric::Pnn50 => ("pNN50", "%"),
        Metric::Lf => (
            if clinical {
                "LF power (0.04-0.15 Hz)"
            } else {
                "LF band power of the 10-s block's DFT (paper's index bins)"
            },
            "ms2",
        ),
        Metric::Hf => (
            if clinical {
                "HF power (0.15-0.4 Hz)"
            } else {
                "HF band power of the 10-s block's DFT (paper's index bins)"
            },
            "ms2",
        ),
        Metric::Vlf => ("VLF power (0.0033-0.04 Hz)", "ms2"),
        Metric::LfHf => (
            if clinical {
                "LF/HF ratio"
            } else {
                "LF/HF of the 10-s block's DFT (not clinical LF/HF)"
            },
            "1",
        ),
        Metric::Sd1 => ("Poincare SD1", "ms"),
        Metric::Sd2 => ("Poincare SD2", "ms"),
        Metric::SampEn => ("Sample entropy", "1"),
        Metric::DfaAlpha1 => ("DFA alpha1", "1"),
        Metric::Corrected => ("Beats corrected as artefacts", "%"),
        Metric::Coverage => ("Window covered by beats", "%"),
        Metric::AfBurden => ("AF burden", "%"),
        Metric::AfEvent => ("Atrial fibrillation episode", "1"),
        Metric::AlertBrady => ("Bradycardia alert", "1"),
        Metric::AlertTachy => ("Tachycardia alert", "1"),
        Metric::AlertPause => ("Pause alert", "1"),
        Metric::AlertSignalLoss => ("Signal loss alert", "1"),
        Metric::N => ("Beats in window", "1"),
        Metric::Rr => ("RR interval", "ms"),
    }
}

fn is_event(m: Metric) -> bool {
    matches!(
        m,
        Metric::AfEvent
            | Metric::AlertBrady
            | Metric::AlertTachy
            | Metric::AlertPause
            | Metric::AlertSignalLoss
    )
}

/// RFC 3339 UTC time of Unix microseconds (millisecond precision).
pub fn instant(t_us: i64) -> String {
    let secs = t_us.div_euclid(1_000_000);
    let ms = t_us.rem_euclid(1_000_000) / 1000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A stable resource id (UUID layout) from the parts that identify it.
fn uuid(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u32).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50; // version 5-like: name-based
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn coding(m: Metric, a: Algorithm) -> Value {
    let (display, _) = describe(m, a);
    let mut codings = Vec::new();
    match m {
        Metric::Hr => {
            codings.push(json!({"system": LOINC, "code": "8867-4", "display": "Heart rate"}));
            codings.push(json!({"system": MDC, "code": "147842", "display": "MDC_ECG_HEART_RATE"}));
        }
        Metric::Sdnn | Metric::SdnnTf => codings.push(json!({
            "system": LOINC, "code": "80404-7",
            "display": "R-R interval.standard deviation (Heart rate variability)"
        })),
        Metric::AfEvent => codings.push(json!({
            "system": LOINC, "code": "8884-9", "display": "Heart rate rhythm"
        })),
        _ => {}
    }
    let project = if a == Algorithm::Clinical && !is_event(m) {
        format!("clinical.{}", m.name())
    } else {
        m.name().to_string()
    };
    codings.push(json!({"system": AORTA_METRIC, "code": project, "display": display}));
    json!({"coding": codings, "text": display})
}

fn meta(q: Quality) -> Option<Value> {
    let tags: Vec<Value> = q
        .describe()
        .split('|')
        .filter(|f| *f != "ok")
        .map(|f| json!({"system": AORTA_QUALITY, "code": f}))
        .collect();
    (!tags.is_empty()).then(|| json!({"tag": tags}))
}

fn subject(row: &ResultRow) -> Value {
    json!({
        "identifier": {"system": AORTA_PSEUDONYM, "value": row.stream.to_hex()},
        "display": row.patient,
    })
}

const SIMULATED_NOTE: &str = "Computed in a SIMULATED trusted execution environment (development only): not protected from the machine's operator.";

fn observation(row: &ResultRow) -> Value {
    let r = &row.record;
    let (_, unit) = describe(r.metric, r.algorithm);
    let end = r.t_us.saturating_add(i64::from(r.window_ms) * 1000);
    let id = uuid(&[
        &row.stream.0,
        &[r.algorithm as u8, r.metric as u8],
        &r.t_us.to_le_bytes(),
        &r.window_ms.to_le_bytes(),
    ]);
    let mut o = json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": coding(r.metric, r.algorithm),
        "subject": subject(row),
        "effectivePeriod": {"start": instant(r.t_us), "end": instant(end)},
    });
    if r.metric == Metric::Hr {
        // Heart rate is a vital sign; HRV indices are not (the category
        // would claim the vital-signs profile for them).
        o["category"] = json!([{"coding": [{"system": CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}]);
    }
    if r.value.is_finite() {
        o["valueQuantity"] = json!({"value": r.value, "unit": unit, "system": UCUM, "code": unit});
    } else {
        o["dataAbsentReason"] = json!({"coding": [{"system": ABSENT, "code": "not-a-number", "display": "Not a Number (NaN)"}],
            "text": "not computable from this window"});
    }
    if let Some(m) = meta(r.quality) {
        o["meta"] = m;
    }
    if r.quality.contains(Quality::SIMULATED_TEE) {
        o["note"] = json!([{"text": SIMULATED_NOTE}]);
    }
    o
}

/// Pairs onset (value 1) and offset (value 0) events per patient and kind
/// into episodes; an episode still open at the end has no `end`.
fn episodes(rows: &[&ResultRow]) -> Vec<Value> {
    let mut open: BTreeMap<(String, u8), &ResultRow> = BTreeMap::new();
    let mut out = Vec::new();
    let mut emit = |start: &ResultRow, end: Option<i64>| {
        let r = &start.record;
        let id = uuid(&[
            &start.stream.0,
            &[r.metric as u8, 0xEE],
            &r.t_us.to_le_bytes(),
        ]);
        let mut period = json!({"start": instant(r.t_us)});
        if let Some(e) = end {
            period["end"] = json!(instant(e));
        }
        // An episode still open has a period without an end.
        let mut o = json!({
            "resourceType": "Observation",
            "id": id,
            "status": "final",
            "code": coding(r.metric, r.algorithm),
            "subject": subject(start),
            "effectivePeriod": period,
        });
        if r.metric == Metric::AfEvent {
            o["valueCodeableConcept"] = json!({"coding": [{"system": SNOMED, "code": "49436004",
                "display": "Atrial fibrillation"}], "text": "Atrial fibrillation"});
        } else {
            o["valueBoolean"] = json!(true);
        }
        if let Some(m) = meta(r.quality) {
            o["meta"] = m;
        }
        if r.quality.contains(Quality::SIMULATED_TEE) {
            o["note"] = json!([{"text": SIMULATED_NOTE}]);
        }
        out.push(o);
    };
    for row in rows {
        let key = (row.patient.clone(), row.record.metric as u8);
        if row.record.value >= 0.5 {
            open.entry(key).or_insert(row);
        } else if let Some(start) = open.remove(&key) {
            emit(start, Some(row.record.t_us));
        }
    }
    for start in open.into_values() {
        emit(start, None);
    }
    out
}

/// The rows as a FHIR R4 `Bundle` (type `collection`). Rows should be in
/// time order per patient (as [`crate::feed::sort_rows`] leaves them).
pub fn bundle(rows: &[ResultRow]) -> Value {
    bundle_from(rows, "")
}

/// [`bundle`] with resource ids in a separate namespace `source` (the
/// dashboard's downloads hold values rounded to 32 bits, so they must not
/// share ids with the full results).
pub fn bundle_from(rows: &[ResultRow], source: &str) -> Value {
    let mut entries = Vec::new();
    let mut events = Vec::new();
    for row in rows {
        if is_event(row.record.metric) {
            events.push(row);
        } else if !skipped(row.record.metric, row.record.algorithm) {
            entries.push(observation(row));
        }
    }
    entries.extend(episodes(&events));
    if !source.is_empty() {
        for e in &mut entries {
            let id = e["id"].as_str().unwrap_or_default().to_string();
            e["id"] = json!(uuid(&[source.as_bytes(), id.as_bytes()]));
        }
    }
    let entry: Vec<Value> = entries
        .into_iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            json!({"fullUrl": format!("urn:uuid:{id}"), "resource": r})
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_rfc3339_utc() {
        assert_eq!(instant(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(instant(1_800_000_000_123_456), "2027-01-15T08:00:00.123Z");
        assert_eq!(instant(951_782_400_000_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(instant(-1_000), "1969-12-31T23:59:59.999Z");
    }
}

#[cfg(test)]
mod golden {
    use super::*;
    use aorta_wire::{ResultRecord, StreamId};

    fn row(t_s: i64, window_ms: u32, a: Algorithm, m: Metric, v: f64, q: u32) -> ResultRow {
        ResultRow {
            patient: "Ada Example".into(),
            stream: StreamId([0xab; 16]),
            record: ResultRecord {
                t_us: t_s * 1_000_000,
                window_ms,
                algorithm: a,
                metric: m,
                value: v,
                quality: Quality(q),
                n: 12,
            },
        }
    }

    /// A fixed input gives exactly `tests/golden/bundle.json` (regenerate
    /// with `AORTA_BLESS=1`); `crates/cli/tests/fhir.rs` validates that file
    /// with an independent FHIR implementation.
    #[test]
    fn golden_bundle() {
        let t = 1_800_000_000;
        let rows = vec![
            row(t, 10_000, Algorithm::HeartRate, Metric::Hr, 72.5, 0),
            row(t, 10_000, Algorithm::HeartRate, Metric::MeanRr, 827.586, 0),
            row(t, 10_000, Algorithm::HeartRate, Metric::N, 12.0, 0),
            row(
                t,
                10_000,
                Algorithm::Sdnn,
                Metric::Sdnn,
                41.25,
                Quality::GAP,
            ),
            row(t, 10_000, Algorithm::HrvBands, Metric::LfHf, 1.5, 0),
            row(t, 10_000, Algorithm::Identity, Metric::Rr, 800.0, 0),
            row(
                t + 10,
                10_000,
                Algorithm::Rmssd,
                Metric::Rmssd,
                f64::NAN,
                Quality::INSUFFICIENT,
            ),
            row(
                t + 20,
                0,
                Algorithm::Clinical,
                Metric::AfEvent,
                1.0,
                Quality::SIMULATED_TEE,
            ),
            row(t + 30, 300_000, Algorithm::Clinical, Metric::LfHf, 2.25, 0),
            row(t + 30, 300_000, Algorithm::Clinical, Metric::Pnn50, 12.5, 0),
            row(t + 90, 0, Algorithm::Clinical, Metric::AfEvent, 0.0, 0),
            row(t + 95, 0, Algorithm::Clinical, Metric::AlertBrady, 1.0, 0),
        ];
        let got = serde_json::to_string_pretty(&bundle(&rows)).unwrap() + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/bundle.json");
        if std::env::var_os("AORTA_BLESS").is_some() {
            std::fs::write(path, &got).unwrap();
        }
        // Compared as JSON values: key order depends on serde_json features.
        let want: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let v: Value = serde_json::from_str(&got).unwrap();
        assert_eq!(
            v, want,
            "golden FHIR Bundle changed (AORTA_BLESS=1 to accept)"
        );
        let entries = v["entry"].as_array().unwrap();
        // n, identity RR skipped; AF onset+offset paired; brady open.
        assert_eq!(entries.len(), 9);
        let hr = &entries[0]["resource"];
        assert_eq!(hr["code"]["coding"][0]["code"], "8867-4");
        assert_eq!(hr["code"]["coding"][1]["code"], "147842");
        assert_eq!(hr["valueQuantity"]["code"], "/min");
        assert_eq!(hr["effectivePeriod"]["start"], "2027-01-15T08:00:00.000Z");
        assert_eq!(hr["effectivePeriod"]["end"], "2027-01-15T08:00:10.000Z");
    }
}
