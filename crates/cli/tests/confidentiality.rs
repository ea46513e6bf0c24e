//! Acceptance (issue 2, criterion 2): distinctive patient names and a
//! recognisable RR sequence appear nowhere in the untrusted storage or the
//! logs, in any plain encoding; a 40 bpm and a 180 bpm patient produce
//! identical sequences of envelope sizes.

mod common;

use common::*;

/// A recognisable RR sequence (µs) and the encodings someone might grep for.
const RR: [u32; 8] = [
    1_234_567, 765_432, 1_111_111, 987_654, 1_234_567, 765_432, 1_111_111, 987_654,
];

fn encodings() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for rr in [RR[0], RR[1], RR[3]] {
        v.push((format!("ascii {rr}"), rr.to_string().into_bytes()));
        v.push((
            format!("ascii ms {}", rr as f64 / 1000.0),
            format!("{}", rr as f64 / 1000.0).into_bytes(),
        ));
        v.push((format!("u32 le {rr}"), rr.to_le_bytes().to_vec()));
        v.push((format!("u32 be {rr}"), rr.to_be_bytes().to_vec()));
        v.push((
            format!("f64 le µs {rr}"),
            (rr as f64).to_le_bytes().to_vec(),
        ));
        v.push((
            format!("f64 le ms {rr}"),
            (rr as f64 / 1000.0).to_le_bytes().to_vec(),
        ));
        v.push((
            format!("f32 le µs {rr}"),
            (rr as f32).to_le_bytes().to_vec(),
        ));
    }
    // Two consecutive samples as the batch encodes them (dt, rr) would need
    // the key; also look for the raw pair of RR values back to back.
    let mut pair = RR[0].to_le_bytes().to_vec();
    pair.extend_from_slice(&RR[1].to_le_bytes());
    v.push(("u32 le pair".into(), pair));
    v
}

const NAMES: [&str; 2] = ["Zebulon-Quixote-Farnsworth", "Xanthippe_Oyelaran_Vukovic"];

#[test]
fn nothing_identifying_reaches_untrusted_storage_or_logs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let t0 = 1_600_000_000i64;
    for (k, name) in NAMES.iter().enumerate() {
        let mut text = String::new();
        let mut t = t0 as f64 + k as f64 * 0.25;
        for i in 0..600 {
            let rr = RR[i % RR.len()];
            t += rr as f64 / 1e6;
            text.push_str(&format!("{t:.3},{rr}\n"));
        }
        std::fs::write(input.join(format!("{name}.csv")), text).unwrap();
    }
    let out = dir.path().join("out");
    let o = run_ok(
        aorta()
            .args(["demo", "--quiet", "--input"])
            .arg(&input)
            .arg("--out")
            .arg(&out),
    );
    // Standard error carries the parties' notices (a deployment's logs);
    // standard output is the clinician's summary, which names patients as
    // `aorta results` does (and is checked for the RR values below).
    let logs = o.stderr.clone();
    let summary = String::from_utf8_lossy(&o.stdout).into_owned();
    for n in NAMES {
        assert!(summary.contains(n), "the clinician's summary names {n}");
    }

    // The clinician sees the names and values...
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    for n in NAMES {
        assert!(csv.contains(n), "results.csv lacks {n}");
    }
    // ...nothing else does.
    let untrusted = files_under(&out.join("untrusted"));
    assert!(
        untrusted.len() >= 4,
        "expected spool files, got {untrusted:?}"
    );
    let mut blobs: Vec<(String, Vec<u8>)> = untrusted
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read(p).unwrap()))
        .collect();
    blobs.push(("stderr".into(), logs));
    let total: usize = blobs.iter().map(|(_, b)| b.len()).sum();
    assert!(
        total > 100_000,
        "suspiciously little was stored: {total} bytes"
    );
    for (what, blob) in &blobs {
        for n in NAMES {
            for enc in [
                n.as_bytes().to_vec(),
                n.to_lowercase().into_bytes(),
                n.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
            ] {
                assert!(!contains(blob, &enc), "patient name {n} found in {what}");
            }
        }
        for (label, enc) in encodings() {
            assert!(!contains(blob, &enc), "RR value ({label}) found in {what}");
        }
    }
    for (label, enc) in encodings() {
        assert!(
            !contains(summary.as_bytes(), &enc),
            "RR value ({label}) found in the summary"
        );
    }

    // No secret key — fleet, clinician, controller, simulated-TEE root or any
    // device key — appears in untrusted storage or the logs, raw or as hex.
    let mut secrets = Vec::new();
    for p in files_under(&out.join("keys")) {
        if p.extension().is_some_and(|e| e == "key") {
            let hexed = std::fs::read_to_string(&p).unwrap();
            let hexed = hexed.trim().to_string();
            let raw: Vec<u8> = (0..hexed.len() / 2)
                .map(|i| u8::from_str_radix(&hexed[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            secrets.push((p.display().to_string(), hexed.into_bytes(), raw));
        }
    }
    assert!(
        secrets.len() >= 6,
        "controller, fleet, clinician, sim root and two devices: {}",
        secrets.len()
    );
    for (what, blob) in &blobs {
        for (name, hexed, raw) in &secrets {
            assert!(
                !contains(blob, hexed) && !contains(blob, raw),
                "secret {name} found in {what}"
            );
            assert!(
                !contains(blob, &raw[..16]),
                "half of secret {name} found in {what}"
            );
        }
    }
}

/// Envelope sizes of the ingest log, in order, from the spool's frame headers.
fn envelope_sizes(log: &std::path::Path) -> Vec<u32> {
    let bytes = std::fs::read(log).unwrap();
    let mut at = 0;
    let mut sizes = Vec::new();
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap());
        sizes.push(len);
        at += 16 + len as usize;
    }
    sizes
}

#[test]
fn forty_and_one_eighty_bpm_give_identical_envelope_sizes() {
    let mut runs = Vec::new();
    for bpm in [40.0f64, 180.0] {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("input");
        std::fs::create_dir_all(&input).unwrap();
        let rr = (60e6 / bpm) as u32;
        let mut text = String::new();
        let mut t = 1_600_000_000.0f64;
        while t < 1_600_000_000.0 + 1800.0 {
            t += rr as f64 / 1e6;
            text.push_str(&format!("{t:.3},{rr}\n"));
        }
        std::fs::write(input.join("p.csv"), text).unwrap();
        let out = dir.path().join("out");
        run_ok(
            aorta()
                .args(["demo", "--quiet", "--input"])
                .arg(&input)
                .arg("--out")
                .arg(&out),
        );
        let ingest = envelope_sizes(&out.join("untrusted/ingest/p0000.log"));
        let results = envelope_sizes(&out.join("untrusted/results/w0000.log"));
        runs.push((ingest, results));
    }
    let (a, b) = (&runs[0], &runs[1]);
    assert!(
        a.0.len() >= 180,
        "30 minutes at a 10-s cadence: {} envelopes",
        a.0.len()
    );
    assert_eq!(
        a.0, b.0,
        "ingest envelope sizes differ between 40 and 180 bpm"
    );
    assert!(
        a.0.iter().all(|&s| s == a.0[0]),
        "ingest sizes vary: {:?}",
        a.0
    );
    // Result envelopes (commit frames aside) are of one size too.
    let data =
        |v: &Vec<u32>| -> Vec<u32> { v.iter().copied().filter(|&s| s.is_power_of_two()).collect() };
    assert_eq!(data(&a.1), data(&b.1), "result envelope sizes differ");
}
