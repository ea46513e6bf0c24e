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
    init_and_enrol_raw(&keys, &spool, "rec101", 360);
    let kbs = Kbs::start(&keys, true);
    attest_simulated_worker(&keys, &spool, &kbs);
    let out = run_ok(
        aorta()
            .args([
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
            .arg(&spool),
    );
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
}
