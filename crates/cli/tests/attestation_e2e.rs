//! Acceptance (issue 4, criterion 2, end to end with real processes): a key
//! broker (`aorta kbs serve`) on a loopback port, simulated-TEE workers and
//! gateways as separate processes.
//!
//! * A worker whose measurement is not in the controller's policy gets no
//!   key, and a gateway refuses to send while no acceptable worker holds the
//!   fleet key; a worker that matches gets it and the gateway sends.
//! * The gateway refuses a simulated-TEE worker unless `--allow-simulated`.
//! * The controller rotates the fleet key between two gateway runs while the
//!   stream goes on; one worker process reads both epochs; every window is
//!   there exactly once.
//! * The audit log shows the refusal, the releases and the rotation, with an
//!   intact hash chain; no secret key, evidence or report data appears in it
//!   or in any process's output.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Output;

use common::*;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run_fails(cmd: &mut std::process::Command) -> Output {
    let out = cmd.output().expect("spawn aorta");
    assert!(
        !out.status.success(),
        "expected failure: {cmd:?}\n{}",
        text(&out)
    );
    out
}

fn gateway(
    keys: &Path,
    spool: &Path,
    kbs: &Kbs,
    start: i64,
    allow_simulated: bool,
) -> std::process::Command {
    let mut c = aorta();
    c.args([
        "gateway",
        "--kbs",
        &kbs.addr,
        "--simulate-minutes",
        "5",
        "--start",
        &start.to_string(),
        "--keys",
    ])
    .arg(keys)
    .arg("--spool")
    .arg(spool);
    if allow_simulated {
        c.arg("--allow-simulated");
    }
    c
}

fn ingest_bytes(spool: &Path) -> u64 {
    let d = spool.join("ingest");
    if !d.exists() {
        return 0;
    }
    files_under(&d)
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum()
}

#[test]
fn only_attested_workers_get_keys_gateways_check_and_rotation_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    let mut logs: Vec<String> = Vec::new();
    logs.push(text(&run_ok(
        aorta().args(["keys", "init", "--dir"]).arg(&keys),
    )));
    for i in 0..4 {
        run_ok(
            aorta()
                .args(["keys", "enrol", "--patient", &format!("p{i}"), "--dir"])
                .arg(&keys)
                .arg("--spool")
                .arg(&spool),
        );
    }
    // Each role gets only what it needs: the worker the controller's public
    // key (and the simulated platform root); the gateway also the signed
    // policy, the patient list and its device keys. Neither gets a fleet key.
    let worker_keys = dir.path().join("worker-keys");
    let gateway_keys = dir.path().join("gateway-keys");
    for (d, files) in [
        (&worker_keys, &["controller.pub", "sim-tee-root.key"][..]),
        (
            &gateway_keys,
            &[
                "controller.pub",
                "policy.json",
                "policy.sig",
                "patients.tsv",
            ][..],
        ),
    ] {
        std::fs::create_dir_all(d).unwrap();
        for f in files {
            std::fs::copy(keys.join(f), d.join(f)).unwrap();
        }
    }
    std::fs::create_dir_all(gateway_keys.join("devices")).unwrap();
    for f in files_under(&keys.join("devices")) {
        std::fs::copy(
            &f,
            gateway_keys.join("devices").join(f.file_name().unwrap()),
        )
        .unwrap();
    }
    let kbs = Kbs::start(&keys, true);
    let worker = |extra: &[&str]| {
        let mut c = aorta();
        c.args(["worker", "--tee", "simulated", "--kbs", &kbs.addr])
            .args(extra)
            .arg("--keys")
            .arg(&worker_keys)
            .arg("--spool")
            .arg(&spool);
        c
    };

    // A build whose measurement the policy does not list: no key.
    let rogue = "ab".repeat(32);
    let out = run_fails(&mut worker(&["--attest-only", "--sim-measurement", &rogue]));
    let t = text(&out);
    assert!(
        t.contains("key release refused") && t.contains(&format!("measurement: {rogue}")),
        "{t}"
    );
    logs.push(t);

    // No acceptable worker holds the fleet key: the gateway sends nothing.
    let start = 1_700_000_000;
    let out = run_fails(&mut gateway(&gateway_keys, &spool, &kbs, start, true));
    let t = text(&out);
    assert!(
        t.contains("refusing to send") && t.contains("no attested worker holds fleet key epoch 1"),
        "{t}"
    );
    assert_eq!(ingest_bytes(&spool), 0, "nothing was sent");
    logs.push(t);

    // The listed build (this binary) gets the key.
    let out = run_ok(&mut worker(&["--attest-only"]));
    let t = text(&out);
    assert!(t.contains("fleet keys released for epochs [1]"), "{t}");
    logs.push(t);

    // Held by a simulated TEE: refused unless the gateway allows it.
    let out = run_fails(&mut gateway(&gateway_keys, &spool, &kbs, start, false));
    let t = text(&out);
    assert!(t.contains("--allow-simulated"), "{t}");
    assert_eq!(ingest_bytes(&spool), 0);
    logs.push(t);

    let out = run_ok(&mut gateway(&gateway_keys, &spool, &kbs, start, true));
    let t = text(&out);
    assert!(
        t.contains("fleet key epoch 1 verified") && t.contains("SIMULATED"),
        "{t}"
    );
    logs.push(t);
    let after_first = ingest_bytes(&spool);
    assert!(after_first > 0);

    // Rotation while the stream goes on: the next gateway run uses epoch 2
    // once a worker holds it.
    logs.push(text(&run_ok(
        aorta().args(["kbs", "rotate", "--keys"]).arg(&keys),
    )));
    logs.push(text(&run_ok(&mut worker(&["--attest-only"]))));
    let out = run_ok(&mut gateway(&gateway_keys, &spool, &kbs, start + 300, true));
    let t = text(&out);
    assert!(t.contains("fleet key epoch 2 verified"), "{t}");
    logs.push(t);

    // One worker reads both epochs.
    let out = run_ok(&mut worker(&[]));
    let t = text(&out);
    assert!(t.contains("epochs [1, 2]"), "{t}");
    assert!(!t.contains("rejected"), "{t}");
    logs.push(t);
    let csv = dir.path().join("r.csv");
    let out = results_csv(&keys, &spool, &csv);
    let t = text(&out);
    assert!(t.contains("SIMULATED TEE"), "the summary says so: {t}");
    logs.push(t);
    let csv = std::fs::read_to_string(&csv).unwrap();
    let mut seen = HashSet::new();
    let mut windows = HashSet::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert!(
            seen.insert((f[0], f[1], f[2], f[3])),
            "duplicate result {line}"
        );
        assert!(
            f[5].contains("SIMULATED-TEE"),
            "every result says SIMULATED-TEE: {line}"
        );
        if f[2] == "hr" {
            windows.insert((f[0], f[1]));
        }
    }
    // 4 patients x 10 minutes of 10-s windows, each exactly once.
    assert_eq!(windows.len(), 4 * 60);

    // The audit log: refusal, releases, rotation; the chain verifies.
    let out = run_ok(aorta().args(["kbs", "audit", "--keys"]).arg(&keys));
    let audit = text(&out);
    assert!(audit.contains("hash chain intact"), "{audit}");
    let lines: Vec<&str> = audit.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" refuse ") && l.contains(&rogue)),
        "{audit}"
    );
    let own = lines
        .iter()
        .filter(|l| l.contains(" release ") && l.contains("tee=simulated"))
        .count();
    assert_eq!(own, 3, "each listed worker's release is audited: {audit}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" rotate ") && l.contains("[1, 2]")),
        "{audit}"
    );
    let raw_audit = std::fs::read_to_string(keys.join("audit.log")).unwrap();

    // No key material, evidence or report data in any output or the audit log.
    drop(kbs);
    let mut secrets: Vec<String> = [
        "fleet/1.key",
        "fleet/2.key",
        "sim-tee-root.key",
        "clinician.key",
        "controller.key",
    ]
    .iter()
    .map(|f| {
        std::fs::read_to_string(keys.join(f))
            .unwrap()
            .trim()
            .to_string()
    })
    .collect();
    for h in ["holders/1.json", "holders/2.json"] {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(keys.join(h)).unwrap()).unwrap();
        let ev = v["evidence"]["bytes"].as_str().unwrap().to_string();
        // Simulated evidence: magic (8) measurement (32) debug (1) time (8) report data (64) signature (64).
        secrets.push(ev[..64].to_string());
        secrets.push(ev[2 * 49..2 * (49 + 64)].to_string());
        secrets.push(ev[ev.len() - 128..].to_string());
    }
    let everything = logs.join("\n") + &raw_audit;
    for s in &secrets {
        assert_eq!(s.len() % 2, 0);
        assert!(
            !everything.contains(s.as_str()),
            "secret or evidence material logged: {s}"
        );
        let bytes = hex::decode(s).unwrap();
        assert!(!contains(everything.as_bytes(), &bytes));
    }
}

/// `--follow` workers in production: a gateway started first waits for an
/// attested worker; after a rotation the running worker attests again on its
/// own, the next gateway run waits for that, and the worker's results
/// (committed within a second of catching up) cover every window once.
#[test]
fn a_following_worker_follows_a_rotation_and_commits_as_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    init_and_enrol(&keys, &spool, &["f0".to_string(), "f1".to_string()]);
    let kbs = Kbs::start(&keys, true);
    let gw = |start: i64| {
        let mut c = gateway(&keys, &spool, &kbs, start, true);
        c.args(["--wait-secs", "60"]);
        c
    };
    let gw1 = gw(1_700_000_000)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let worker_err = std::fs::File::create(dir.path().join("worker.err")).unwrap();
    let mut worker = KillOnDrop(
        aorta()
            .args([
                "worker",
                "--tee",
                "simulated",
                "--follow",
                "--kbs",
                &kbs.addr,
                "--keys",
            ])
            .arg(&keys)
            .arg("--spool")
            .arg(&spool)
            .stdout(std::process::Stdio::null())
            .stderr(worker_err)
            .spawn()
            .unwrap(),
    );
    let out = gw1.wait_with_output().unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("waiting up to 60 s") || t.contains("epoch 1 verified"),
        "{t}"
    );
    assert!(t.contains("fleet key epoch 1 verified"), "{t}");

    run_ok(aorta().args(["kbs", "rotate", "--keys"]).arg(&keys));
    let out = run_ok(&mut gw(1_700_000_300));
    let t = text(&out);
    assert!(t.contains("fleet key epoch 2 verified"), "{t}");

    // Results appear without stopping the worker.
    let csv = dir.path().join("r.csv");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let windows = loop {
        results_csv(&keys, &spool, &csv);
        let text = std::fs::read_to_string(&csv).unwrap();
        let hr: Vec<&str> = text.lines().filter(|l| l.contains(",hr,hr,")).collect();
        let unique: HashSet<&str> = hr.iter().copied().collect();
        assert_eq!(unique.len(), hr.len(), "duplicated results");
        if hr.len() >= 2 * 60 || std::time::Instant::now() > deadline {
            break hr.len();
        }
        assert!(worker.0.try_wait().unwrap().is_none(), "the worker exited");
    };
    assert_eq!(windows, 2 * 60, "2 patients x 10 minutes, each window once");
    drop(worker);
    let err = std::fs::read_to_string(dir.path().join("worker.err")).unwrap();
    assert!(err.contains("epochs [1]"), "{err}");
    assert!(!err.contains("failed"), "{err}");
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
