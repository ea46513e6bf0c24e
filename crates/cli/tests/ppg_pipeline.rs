//! Raw PPG through the whole encrypted pipeline: a synthetic wrist PPG with
//! known pulse times (no annotated PPG recording is at hand) is streamed by
//! the gateway as fixed-size PPG envelopes, pulses are found inside the
//! (simulated) TEE worker, and the heart rate per 10-s window matches the
//! known one. The same envelopes delivered out of order (neighbours
//! swapped, within the allowed lateness) give exactly the same results.

mod common;

use std::path::Path;

use aorta_transport::{Consumer, PartitionId, Polled, Producer};
use common::*;

const START: i64 = 1_700_000_000;
const FS: f64 = 64.0;
const SECS: f64 = 600.0;

fn lcg(x: &mut u64) -> f64 {
    *x = x
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*x >> 11) as f64) / ((1u64 << 53) as f64)
}

/// Pulse times (s) and the PPG, in ADC-like units: heart rate drifting
/// 60..100 bpm with ±5 % beat-to-beat variation, a dicrotic wave, baseline
/// wander and noise.
fn synth() -> (Vec<f64>, Vec<f32>) {
    let mut x = 17u64;
    let mut peaks = Vec::new();
    let mut t = 0.5;
    while t < SECS {
        peaks.push(t);
        let hr = 80.0 + 20.0 * (t * std::f64::consts::TAU / 300.0).sin();
        t += 60.0 / hr * (1.0 + 0.1 * (lcg(&mut x) - 0.5));
    }
    let n = (SECS * FS) as usize;
    let mut sig = Vec::with_capacity(n);
    for i in 0..n {
        let ti = i as f64 / FS;
        let mut s = 0.3 * (ti * std::f64::consts::TAU * 0.2).sin() + 0.04 * (lcg(&mut x) - 0.5);
        let k = peaks.partition_point(|p| *p < ti + 1.0);
        for p in &peaks[k.saturating_sub(3)..k] {
            let d = ti - p;
            s += (-(d * d) / (2.0 * 0.07 * 0.07)).exp()
                + 0.4 * (-((d - 0.3).powi(2)) / (2.0 * 0.1 * 0.1)).exp();
        }
        sig.push((s * 1000.0) as f32);
    }
    (peaks, sig)
}

/// Rewrites `spool`'s ingest log with each pair of neighbours swapped.
fn swap_neighbours(spool: &Path) -> usize {
    let sp = aorta_spool::Spool::open(spool).unwrap();
    let mut reader = sp.ingest_reader(PartitionId(0)).unwrap();
    let mut records = Vec::new();
    while let Polled::Record { payload, .. } = reader.poll().unwrap() {
        records.push(payload.to_vec());
    }
    drop(reader);
    std::fs::remove_file(sp.ingest_path(PartitionId(0))).unwrap();
    for pair in records.chunks_mut(2) {
        pair.reverse();
    }
    let mut out = sp.ingest_appender(PartitionId(0)).unwrap();
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    out.append(&refs).unwrap();
    records.len()
}

fn worker(keys: &Path, spool: &Path, kbs: &Kbs) -> String {
    let out = run_ok(
        aorta()
            .args(["worker", "--tee", "simulated", "--kbs", &kbs.addr, "--keys"])
            .arg(keys)
            .arg("--spool")
            .arg(spool),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn synthetic_ppg_becomes_heart_rate_inside_the_worker_whatever_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    init_and_enrol_raw(&keys, &spool, "wrist", 64);
    let (peaks, sig) = synth();
    let ppg = dir.path().join("ppg.txt");
    let text: String = std::iter::once("# synthetic PPG, 64 Hz\n".to_string())
        .chain(sig.iter().map(|v| format!("{v:.1}\n")))
        .collect();
    std::fs::write(&ppg, text).unwrap();
    let kbs = Kbs::start(&keys, true);
    attest_simulated_worker(&keys, &spool, &kbs);
    let out = run_ok(
        aorta()
            .args(["gateway", "--kbs", &kbs.addr, "--allow-simulated"])
            .args(["--patient", "wrist", "--ppg-file"])
            .arg(&ppg)
            .args(["--ppg-fs", "64", "--start", &START.to_string(), "--keys"])
            .arg(&keys)
            .arg("--spool")
            .arg(&spool),
    );
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("600 s of PPG at 64 Hz"), "{t}");

    // A second spool with the same envelopes, neighbours swapped.
    let swapped = dir.path().join("swapped");
    copy_dir(&spool, &swapped);
    let n = swap_neighbours(&swapped);
    assert!(n >= 60, "{n} envelopes");

    let w = worker(&keys, &spool, &kbs);
    assert!(!w.contains("rejected"), "{w}");
    let w2 = worker(&keys, &swapped, &kbs);
    assert!(!w2.contains("rejected"), "{w2}");
    assert!(w2.contains(" 0 lost ECG/PPG samples"), "{w2}");
    assert!(!w2.contains(" 0 reordered"), "{w2}");

    let (csv, csv2) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    results_csv(&keys, &spool, &csv);
    results_csv(&keys, &swapped, &csv2);
    let text = std::fs::read_to_string(&csv).unwrap();
    // Values and every other flag identical; the quality of windows open
    // while envelopes were out of order says `reordered` and `gap`, as it
    // should (the same rule as for RR streams).
    let comparable = |t: &str| {
        let mut v: Vec<String> = t
            .lines()
            .map(|l| l.replace("gap|reordered|", "").replace("reordered|", ""))
            .collect();
        v.sort();
        v
    };
    let text2 = std::fs::read_to_string(&csv2).unwrap();
    assert!(text2.contains("gap|reordered|"));
    assert_eq!(
        comparable(&text),
        comparable(&text2),
        "arrival order changed the results"
    );

    assert_hr_close(&text, &hr_by_block(&peaks, START), 58, 9);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
