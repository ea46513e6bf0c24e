//! Acceptance (issue 2, criterion 5): `sdnn` and `hrv-bands` match an
//! independent reference computation (numpy, `shared/bench/spark/reference.py`)
//! to 1e-9 relative on fixed inputs, through the paper-format CSV path and the
//! whole encrypted pipeline. `identity` returns every input sample unchanged.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;

fn fixture() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/paper-reference"
    ))
}

/// results.csv -> (patient, window_start, algorithm, metric) -> value
fn read_results(p: &Path) -> HashMap<(String, String, String, String), f64> {
    let text = std::fs::read_to_string(p).unwrap();
    let mut out = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let v = match f[4] {
            "NaN" => f64::NAN,
            "inf" => f64::INFINITY,
            x => x.parse().unwrap(),
        };
        out.insert((f[0].into(), f[1].into(), f[2].into(), f[3].into()), v);
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[test]
fn sdnn_and_hrv_bands_match_the_numpy_reference() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(
        aorta()
            .args([
                "demo",
                "--quiet",
                "--algorithms",
                "identity,sdnn,hrv-bands",
                "--input",
            ])
            .arg(fixture().join("input"))
            .arg("--out")
            .arg(&out),
    );
    let got = read_results(&out.join("results.csv"));
    let get = |c: &str, b: &str, algo: &str, m: &str| -> f64 {
        *got.get(&(
            c.to_string(),
            b.to_string(),
            algo.to_string(),
            m.to_string(),
        ))
        .unwrap_or_else(|| panic!("no {algo}/{m} for {c} at {b}"))
    };
    let mut checked = 0;
    let sdnn = std::fs::read_to_string(fixture().join("golden_sdnn.csv")).unwrap();
    for line in sdnn.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (c, b) = (f[0], f[1]);
        assert_eq!(
            get(c, b, "sdnn", "n"),
            f[2].parse::<f64>().unwrap(),
            "{c} {b} n"
        );
        for (metric, col) in [("mean_rr", 3), ("sdnn", 4)] {
            let want = f[col].parse::<f64>().unwrap() / 1e3;
            let have = get(c, b, "sdnn", metric);
            assert!(
                close(have, want),
                "{c} {b} {metric}: aorta {have} vs numpy {want}"
            );
            checked += 1;
        }
    }
    let hrv = std::fs::read_to_string(fixture().join("golden_hrv.csv")).unwrap();
    for line in hrv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (c, b) = (f[0], f[1]);
        assert_eq!(get(c, b, "hrv-bands", "n"), f[2].parse::<f64>().unwrap());
        for (metric, col, scale) in [("lf", 3, 1e6), ("hf", 4, 1e6), ("lf_hf", 5, 1.0)] {
            let want = f[col].parse::<f64>().unwrap() / scale;
            let have = get(c, b, "hrv-bands", metric);
            assert!(
                close(have, want),
                "{c} {b} {metric}: aorta {have} vs numpy {want}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 11 + 3 * 11, "every golden block was compared");

    // identity: every input line comes back, value for value, in order
    // (including samples that share a millisecond timestamp).
    let text = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut identity: HashMap<String, Vec<(String, f64)>> = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[2] == "identity" {
            identity
                .entry(f[0].into())
                .or_default()
                .push((f[1].into(), f[4].parse().unwrap()));
        }
    }
    let mut n_in = 0;
    for e in std::fs::read_dir(fixture().join("input")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        let want: Vec<(String, f64)> = std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .map(|line| {
                let (ts, rr) = line.split_once(',').unwrap();
                let ts = ts.trim_end_matches('0').trim_end_matches('.');
                (ts.to_string(), rr.parse::<f64>().unwrap() / 1e3)
            })
            .collect();
        n_in += want.len();
        assert_eq!(
            identity.get(&name),
            Some(&want),
            "identity output of {name}"
        );
    }
    assert_eq!(n_in, 3960 + 7120);
}
