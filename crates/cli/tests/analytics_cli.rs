//! `aorta detect` on a real WFDB record, and its errors.

mod common;

use common::*;

const MITDB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mitdb");

#[test]
fn detect_prints_one_sample_index_per_beat() {
    let out = run_ok(aorta().args(["detect", &format!("{MITDB}/101")]));
    let text = String::from_utf8(out.stdout).unwrap();
    let beats: Vec<u64> = text.lines().map(|l| l.parse().unwrap()).collect();
    // 1865 annotated beats in 30 minutes; detections strictly increasing.
    assert!((1860..=1875).contains(&beats.len()), "{}", beats.len());
    assert!(beats.windows(2).all(|w| w[0] < w[1]));
    assert!(*beats.last().unwrap() < 650_000);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("360 Hz") && err.contains("MLII"), "{err}");
    // Channel 1 works too; channel 2 does not exist.
    run_ok(aorta().args(["detect", &format!("{MITDB}/101"), "--channel", "1"]));
    let bad = aorta()
        .args(["detect", &format!("{MITDB}/101"), "--channel", "2"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no channel 2"));
    let missing = aorta()
        .args(["detect", "/nonexistent/rec"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/rec.hea"));
}

#[test]
fn hrv_of_an_rr_file_matches_the_reference_values() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../analytics/tests/reference");
    let out = run_ok(aorta().args(["hrv", "--no-clean", &format!("{dir}/healthy000_w1.txt")]));
    let text = String::from_utf8(out.stdout).unwrap();
    let value = |name: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        line[22..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    // NeuroKit2 0.2.13 on the same series (tests/reference/reference.json).
    assert!((value("SDNN") - 61.8381).abs() < 1e-3, "{text}");
    assert!((value("RMSSD") - 44.6207).abs() < 1e-3, "{text}");
    assert!((value("sample entropy") - 1.6877).abs() < 1e-3, "{text}");
    assert!(text.starts_with("323 NN intervals from 323"), "{text}");
    // A file with a stray line: skipped, counted, named.
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("rr.txt");
    let mut body: String = (0..100)
        .map(|i| format!("{}\n", 800 + (i % 7) * 10))
        .collect();
    body.push_str("garbage\n");
    std::fs::write(&f, body).unwrap();
    let out = run_ok(aorta().arg("hrv").arg(&f));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 101: 'garbage' is not a number"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 lines skipped"));
}
