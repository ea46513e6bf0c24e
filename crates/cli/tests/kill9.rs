//! Acceptance (issue 2, criterion 4): `kill -9` of the worker at random
//! points, then restart: the decrypted results are identical to an
//! uninterrupted run.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use rand::Rng;

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

#[test]
fn worker_killed_at_random_points_produces_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    init_and_enrol(
        &keys,
        &spool,
        &(0..150).map(|i| format!("p{i:03}")).collect::<Vec<_>>(),
    );
    let kbs = Kbs::start(&keys, true);
    attest_simulated_worker(&keys, &spool, &kbs);
    run_ok(
        aorta()
            .args([
                "gateway",
                "--kbs",
                &kbs.addr,
                "--allow-simulated",
                "--simulate-minutes",
                "60",
                "--start",
                "1700000000",
                "--keys",
            ])
            .arg(&keys)
            .arg("--spool")
            .arg(&spool),
    );
    let reference = dir.path().join("reference");
    let crashed = dir.path().join("crashed");
    copy_dir(&spool, &reference);
    copy_dir(&spool, &crashed);

    let worker = |spool: &std::path::Path| {
        let mut c = aorta();
        c.args(["worker", "--kbs", &kbs.addr, "--tee", "simulated"])
            .args(["--checkpoint-every", "97", "--keys"])
            .arg(&keys)
            .arg("--spool")
            .arg(spool);
        c
    };
    // Uninterrupted; the size of its results log scales the kill points.
    run_ok(&mut worker(&reference));
    let results_log = |spool: &std::path::Path| {
        aorta_spool::Spool::open(spool)
            .unwrap()
            .results_path(aorta_transport::PartitionId(0))
    };
    let full_size = std::fs::metadata(results_log(&reference)).unwrap().len();
    let ref_csv = dir.path().join("reference.csv");
    results_csv(&keys, &reference, &ref_csv);

    // Killed at random points until a run finishes by itself.
    let mut rng = rand::rng();
    let mut kills = 0;
    let started = Instant::now();
    loop {
        let mut child = worker(&crashed)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The fault is injected at a random point of the run's progress:
        // once the results log (cut back to the last commit on restart)
        // has grown a random share of the way to its final size. Progress,
        // not time, so a fast machine cannot finish before the kill. After
        // 6 kills the run may finish.
        let log = results_log(&crashed);
        let size = || std::fs::metadata(&log).map_or(0, |m| m.len());
        let now = size();
        let target = if kills < 6 {
            now + ((full_size.saturating_sub(now)) as f64 * rng.random_range(0.05..0.9)) as u64
        } else {
            u64::MAX
        };
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "worker failed on its own: {status}");
                break true;
            }
            if size() >= target {
                break false;
            }
            std::thread::yield_now();
        };
        if finished {
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no run finished in 5 minutes"
        );
    }
    let got_csv = dir.path().join("crashed.csv");
    results_csv(&keys, &crashed, &got_csv);
    let want = std::fs::read(&ref_csv).unwrap();
    let got = std::fs::read(&got_csv).unwrap();
    assert!(want.len() > 100_000, "reference results too small");
    assert!(
        kills >= 1,
        "the worker was never killed mid-run; make the workload larger"
    );
    assert!(got == want, "results differ after {kills} kills");
    eprintln!("identical results after {kills} kill -9");
}
