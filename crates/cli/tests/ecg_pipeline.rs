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
    let beats: Vec<u64> = ann
        .iter()
        .filter(|a| a.is_beat())
        .map(|a| a.sample)
        .collect();
    let mut sums: BTreeMap<i64, (f64, u32)> = BTreeMap::new();
    for w in beats.windows(2) {
        let t = START as f64 + w[1] as f64 / 360.0;
        let rr_ms = (w[1] - w[0]) as f64 * 1000.0 / 360.0;
        let block = (t as i64).div_euclid(10) * 10;
        let e = sums.entry(block).or_default();
        e.0 += rr_ms;
        e.1 += 1;
    }
    sums.into_iter()
        .map(|(b, (s, n))| (b, 60_000.0 / (s / f64::from(n))))
        .collect()
}

#[test]
fn mitdb_101_ecg_becomes_heart_rate_inside_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    run_ok(aorta().args(["keys", "init", "--dir"]).arg(&keys));
    run_ok(
        aorta()
            .args([
                "keys",
                "enrol",
                "--patient",
                "rec101",
                "--algorithms",
                "hr,clinical",
                "--max-rate",
                "360",
                "--dir",
            ])
            .arg(&keys)
            .arg("--spool")
            .arg(&spool),
    );
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
    let reference = reference_hr();
    let (mut compared, mut close) = (0, 0);
    for line in text.lines().filter(|l| l.contains(",hr,hr,")) {
        let f: Vec<&str> = line.split(',').collect();
        let (block, hr): (i64, f64) = (f[1].parse().unwrap(), f[4].parse().unwrap());
        if let Some(want) = reference.get(&block) {
            compared += 1;
            if (hr - want).abs() < 2.0 {
                close += 1;
            }
        }
    }
    eprintln!("{close} of {compared} windows within 2 bpm of the annotations");
    assert!(compared >= 175, "{compared} windows compared");
    assert!(
        close as f64 >= 0.95 * compared as f64,
        "{close} of {compared} windows within 2 bpm"
    );
    // The clinical operator ran on the detected beats too.
    assert!(
        text.lines()
            .filter(|l| l.contains(",clinical,sdnn_tf,"))
            .count()
            >= 29
    );
}
