//! Issue 10, acceptance 2: every Observation of a deployment's results
//! validates as FHIR R4 in an independent implementation (the
//! `fhir.resources` models, run by `scripts/fhir_validate.py` in the
//! virtualenv `scripts/test` makes), with codes, units and periods checked
//! against the decrypted CSV; the golden Bundle validates too.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn python() -> PathBuf {
    let p = std::env::var_os("AORTA_FHIR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fhir-venv/bin/python")
        });
    assert!(
        p.exists(),
        "{} missing: scripts/test makes it (python3 -m venv target/fhir-venv && target/fhir-venv/bin/pip install fhir.resources==6.5.0 'pydantic<2')",
        p.display()
    );
    p
}

fn validate(files: &[&Path]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fhir_validate.py");
    let out = Command::new(python())
        .arg(script)
        .args(files)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "FHIR validation failed:\n{text}");
    text
}

#[test]
fn results_as_fhir_r4_validate_independently() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    init_and_enrol_with(
        &keys,
        &spool,
        &["alice", "bob"],
        &["--algorithms", "hr,sdnn,rmssd,hrv-bands,clinical"],
    );
    let kbs = Kbs::start(&keys, true);
    attest_simulated_worker(&keys, &spool, &kbs);
    run_ok(
        aorta()
            .args(["gateway", "--kbs", &kbs.addr, "--allow-simulated"])
            .args(["--simulate-minutes", "12", "--start", "1800000000"])
            .args(["--simulate-condition", "alice=af", "--keys"])
            .arg(&keys)
            .arg("--spool")
            .arg(&spool),
    );
    drain_worker(&keys, &spool, &kbs);
    let (csv, fhir) = (dir.path().join("r.csv"), dir.path().join("r.json"));
    run_ok(
        aorta()
            .args(["results", "--keys"])
            .arg(&keys)
            .arg("--spool")
            .arg(&spool)
            .arg("--csv")
            .arg(&csv)
            .arg("--fhir")
            .arg(&fhir),
    );
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../clinic/tests/golden/bundle.json");
    let report = validate(&[&fhir, &golden]);
    eprintln!("{report}");

    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&fhir).unwrap()).unwrap();
    let entries = bundle["entry"].as_array().unwrap();
    let csv = std::fs::read_to_string(&csv).unwrap();
    let mut checked = 0;
    let mut af = 0;
    for e in entries {
        let r = &e["resource"];
        let codes: Vec<&str> = r["code"]["coding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap())
            .collect();
        assert!(r["subject"]["display"] == "alice" || r["subject"]["display"] == "bob");
        assert!(r["meta"]["tag"].to_string().contains("SIMULATED-TEE"));
        let vital = r["category"].to_string().contains("vital-signs");
        assert_eq!(
            vital,
            codes.contains(&"8867-4"),
            "only heart rate is a vital sign"
        );
        if codes.contains(&"8884-9") {
            assert_eq!(r["subject"]["display"], "alice");
            assert_eq!(r["valueCodeableConcept"]["coding"][0]["code"], "49436004");
            af += 1;
        }
        if codes.contains(&"8867-4") {
            assert!(codes.contains(&"147842"), "MDC code beside LOINC");
        }
        // The 10-s `hr` windows (the clinical 5-minute heart rate is coded
        // `clinical.hr` in the project system beside the same LOINC code).
        if codes.contains(&"8867-4") && codes.contains(&"hr") {
            assert_eq!(r["valueQuantity"]["code"], "/min");
            assert_eq!(r["valueQuantity"]["system"], "http://unitsofmeasure.org");
            // The same value as the CSV row of that patient and window.
            let start = r["effectivePeriod"]["start"].as_str().unwrap();
            let end = r["effectivePeriod"]["end"].as_str().unwrap();
            let secs = |s: &str| -> i64 {
                // 2027-01-15THH:MM:SS.000Z; 1800000000 is 2027-01-15T08:00:00Z.
                let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
                (n(11..13) - 8) * 3600 + n(14..16) * 60 + n(17..19)
            };
            assert_eq!(secs(end) - secs(start), 10, "{start} .. {end}");
            let t = 1_800_000_000 + secs(start);
            let who = r["subject"]["display"].as_str().unwrap();
            let line = csv
                .lines()
                .find(|l| l.starts_with(&format!("{who},{t},hr,hr,")))
                .unwrap_or_else(|| panic!("no CSV row for {who} at {t}"));
            let v: f64 = line.split(',').nth(4).unwrap().parse().unwrap();
            // serde_json's default float parsing may differ in the last bit.
            let got = r["valueQuantity"]["value"].as_f64().unwrap();
            assert!((got - v).abs() <= 1e-12 * v.abs(), "{got} vs {v}");
            checked += 1;
        }
        if codes.contains(&"80404-7") {
            assert_eq!(r["valueQuantity"]["code"], "ms");
        }
    }
    assert_eq!(
        checked,
        2 * 72,
        "12 minutes of 10-s heart rate for two patients"
    );
    assert!(af >= 1, "alice's AF episode is an Observation");
}

/// Every Observation of a demo run (the demo's default algorithms, an AF
/// and a bradycardic patient) validates as R4.
#[test]
fn a_demo_runs_results_validate_as_fhir_r4() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    run_ok(
        aorta()
            .args([
                "demo",
                "--quiet",
                "--patients",
                "4",
                "--minutes",
                "8",
                "--out",
            ])
            .arg(&out),
    );
    let fhir = dir.path().join("demo.json");
    run_ok(
        aorta()
            .args(["results", "--keys"])
            .arg(out.join("keys"))
            .arg("--spool")
            .arg(out.join("untrusted"))
            .arg("--fhir")
            .arg(&fhir),
    );
    let report = validate(&[&fhir]);
    let n: usize = report
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or(0);
    assert!(n > 500, "{report}");
    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&fhir).unwrap()).unwrap();
    let af = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["valueCodeableConcept"]["coding"][0]["code"] == "49436004")
        .count();
    assert!(af >= 1, "the demo's AF patient has an AF episode");
}
