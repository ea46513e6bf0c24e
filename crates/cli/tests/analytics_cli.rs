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

/// Five minutes of sinus rhythm, three of AF, five of sinus rhythm again,
/// as RR intervals (ms) with the beat times (s) that end them.
fn sinus_af_sinus() -> Vec<(f64, f64)> {
    let mut x = 12345u64;
    let mut uniform = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as f64 / (1u64 << 31) as f64
    };
    let (mut t, mut out) = (0.0, Vec::new());
    while t < 780.0 {
        let af = (300.0..480.0).contains(&t);
        let rr = if af {
            350.0 + 600.0 * uniform()
        } else {
            820.0 + 20.0 * (uniform() - 0.5)
        };
        t += rr / 1000.0;
        out.push((t, rr));
    }
    out
}

#[test]
fn af_prints_one_episode_per_line_in_the_files_time_base() {
    let beats = sinus_af_sinus();
    let dir = tempfile::tempdir().unwrap();
    // Beat times, offset by 1000 s: episodes come back in that time base.
    let times = dir.path().join("beats.txt");
    let mut text = format!("{:.4}\n", 1000.0);
    for (t, _) in &beats {
        text.push_str(&format!("{:.4}\n", 1000.0 + t));
    }
    text.push_str("not a time\n");
    std::fs::write(&times, text).unwrap();
    let out = run_ok(aorta().args(["af", "--beat-times", times.to_str().unwrap()]));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<(f64, f64)> = stdout
        .lines()
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let (on, off) = lines[0];
    assert!((1300.0 - on).abs() < 30.0, "onset {on}");
    assert!((1480.0 - off).abs() < 30.0, "offset {off}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("line"));
    // The same beats as RR intervals: the first beat at 0, same episode.
    let rr = dir.path().join("rr.txt");
    let text: String = beats.iter().map(|b| format!("{:.1}\n", b.1)).collect();
    std::fs::write(&rr, text).unwrap();
    let out = run_ok(aorta().args(["af", rr.to_str().unwrap()]));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (a, b) = stdout.trim().split_once(',').unwrap();
    assert!(
        (a.parse::<f64>().unwrap() - (on - 1000.0)).abs() < 1.0,
        "{stdout}"
    );
    assert!(
        (b.parse::<f64>().unwrap() - (off - 1000.0)).abs() < 1.0,
        "{stdout}"
    );
    // Sinus rhythm alone: no line at all.
    let sinus = dir.path().join("sinus.txt");
    std::fs::write(&sinus, "820\n".repeat(500)).unwrap();
    let out = run_ok(aorta().args(["af", sinus.to_str().unwrap()]));
    assert!(out.stdout.is_empty());
}
