//! Raw ECG through the whole encrypted pipeline: a real MIT-BIH lead is
//! streamed by the gateway as fixed-size ECG envelopes, R peaks are found
//! inside the (simulated) TEE worker, and the heart rate per 10-s window
//! matches the one derived from the record's reference beat annotations.

mod common;

use std::collections::BTreeMap;

use common::*;

const MITDB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mitdb");
const START: i64 = 1_700_000_000;

/// Reference heart rate per 10-s block from the annotated beats (360 Hz).
fn reference_hr() -> BTreeMap<i64, f64> {
    let ann = aorta_analytics::wfdb::parse_annotations(
        &std::fs::read(format!("{MITDB}/101.atr")).unwrap(),
    )
    .unwrap();
    let beats: Vec<f64> = ann
        .iter()
        .filter(|a| a.is_beat())
        .map(|a| a.sample as f64 / 360.0)
        .collect();
    hr_by_block(&beats, START)
}

#[test]
fn mitdb_101_ecg_becomes_heart_rate_inside_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    // Enrolled as the README's first steps do (an RR device's defaults):
    // the gateway refuses the 360-Hz lead at the start, with the fix, and
    // sends nothing.
    run_ok(aorta().args(["keys", "init", "--dir"]).arg(&keys));
    run_ok(
        aorta()
            .args(["keys", "enrol", "--patient", "rec101", "--dir"])
            .arg(&keys)
            .arg("--spool")
            .arg(&spool),
    );
    let kbs = Kbs::start(&keys, true);
    attest_simulated_worker(&keys, &spool, &kbs);
    let gateway = || {
        let mut c = aorta();
        c.args([
            "gateway",
            "--kbs",
            &kbs.addr,
            "--allow-simulated",
            "--patient",
            "rec101",
        ])
        .args([
            "--ecg-wfdb",
            &format!("{MITDB}/101"),
            "--start",
            &START.to_string(),
            "--keys",
        ])
        .arg(&keys)
        .arg("--spool")
        .arg(&spool);
        c
    };
    let refused = gateway().output().unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{err}");
    assert!(
        err.contains("aorta keys enrol --patient rec101 --max-rate 360"),
        "the exact fix: {err}"
    );
    assert!(err.contains("3600 samples every 10000 ms"), "{err}");
    assert_eq!(ingest_envelopes(&spool), 0, "nothing sent");
    // The fix as the message says it (with this test's algorithms).
    run_ok(
        aorta()
            .args(["keys", "enrol", "--patient", "rec101", "--max-rate", "360"])
            .args(["--algorithms", "hr,clinical", "--dir"])
            .arg(&keys)
            .arg("--spool")
            .arg(&spool),
    );
    let out = run_ok(&mut gateway());
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("1806 s of ECG (lead 0 MLII) at 360 Hz"), "{t}");
    // Every ECG envelope has the same size: nothing about the heart leaks by size.
    let mut reader = aorta_spool::Spool::open(&spool)
        .unwrap()
        .ingest_reader(aorta_transport::PartitionId(0))
        .unwrap();
    let mut sizes = std::collections::BTreeMap::new();
    while let aorta_transport::Polled::Record { payload, .. } =
        aorta_transport::Consumer::poll(&mut reader).unwrap()
    {
        *sizes.entry(payload.len()).or_insert(0u32) += 1;
    }
    assert_eq!(sizes.len(), 1, "{sizes:?}");
    assert!(sizes.values().sum::<u32>() >= 181, "{sizes:?}");
    let out = run_ok(
        aorta()
            .args(["worker", "--tee", "simulated", "--kbs", &kbs.addr, "--keys"])
            .arg(&keys)
            .arg("--spool")
            .arg(&spool),
    );
    let w = String::from_utf8_lossy(&out.stdout);
    assert!(!w.contains("rejected"), "{w}");
    let csv = dir.path().join("r.csv");
    results_csv(&keys, &spool, &csv);
    let text = std::fs::read_to_string(&csv).unwrap();
    // Most 10-s windows within 2 bpm of the annotations; the clinical
    // operator ran on the detected beats too.
    assert_hr_close(&text, &reference_hr(), 175, 29);
    // One envelope a tick carried the lead on time: no window is late.
    let backlogged = text.lines().filter(|l| l.contains("backlog")).count();
    assert_eq!(backlogged, 0, "windows flagged backlog");
}
