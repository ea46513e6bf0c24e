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
