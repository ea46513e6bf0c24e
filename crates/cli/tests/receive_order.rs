//! Issue 20, acceptance 1: the clinician's receive path against the threat
//! model's adversary, who can write untrusted storage (the spool's results
//! logs) and administer the NATS server (delete an output stream, create it
//! again, republish). Before the one receiver, a single forged envelope
//! placed first in a results log erased every result of that log, and
//! reordering genuine envelopes lost most of them.
//!
//! Each attack is checked against a clean run: every genuine result row is
//! present, exactly once; forged envelopes are counted by reason; `aorta
//! results` exits non-zero when it met a forgery (and zero when storage only
//! reordered or repeated genuine envelopes); the dashboard keeps updating.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aorta_spool::frame::{self, Kind};
use aorta_testkit::nats::NatsServer;
use aorta_transport::PartitionId;
use common::*;

/// Header layout (docs/wire-format.md): session 28..36, seq 36..44, enc 44..76.
const SEQ: std::ops::Range<usize> = 36..44;
const ENC: std::ops::Range<usize> = 44..76;

/// A demo run: keys in `out/keys`, untrusted storage in `out/untrusted`
/// (or the NATS server named in `extra`).
fn demo(out: &Path, extra: &[&str]) {
    run_ok(
        aorta()
            .args(["demo", "--quiet", "--patients", "4", "--minutes", "10"])
            .args(["--start", "1700000000", "--out"])
            .arg(out)
            .args(extra),
    );
}

/// The frames of a spool log: (kind byte, payload).
fn frames(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let h: [u8; frame::HEADER_LEN] = bytes[at..at + frame::HEADER_LEN].try_into().unwrap();
        let fh = frame::parse_header(&h).unwrap();
        let end = at + frame::HEADER_LEN + fh.len as usize;
        out.push((fh.kind_byte, bytes[at + frame::HEADER_LEN..end].to_vec()));
        at = end;
    }
    out
}

fn encode(frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, p) in frames {
        let kind = if *k == Kind::Commit as u8 {
            Kind::Commit
        } else {
            Kind::Data
        };
        frame::encode(kind, p, &mut out);
    }
    out
}

/// Envelopes of the largest result session (session id at 28..36).
fn largest_session(envs: &[Vec<u8>]) -> usize {
    let mut n = std::collections::HashMap::<&[u8], usize>::new();
    for e in envs {
        *n.entry(&e[28..36]).or_default() += 1;
    }
    n.into_values().max().unwrap_or(0)
}

/// A copy of a genuine envelope claiming sequence number 2^40.
fn forged_high_seq(genuine: &[u8]) -> Vec<u8> {
    let mut f = genuine.to_vec();
    f[SEQ].copy_from_slice(&(1u64 << 40).to_le_bytes());
    f
}

/// A copy of a genuine envelope with a random encapsulated key.
fn forged_enc(genuine: &[u8]) -> Vec<u8> {
    let mut f = genuine.to_vec();
    let mut r = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut r);
    f[ENC].copy_from_slice(&r);
    f
}

struct Case {
    name: &'static str,
    forged: usize,
    rewrite: fn(Vec<Vec<u8>>) -> Vec<Vec<u8>>,
}

const CASES: [Case; 4] = [
    Case {
        name: "a forged high-sequence envelope first",
        forged: 1,
        rewrite: |mut e| {
            e.insert(0, forged_high_seq(&e[0]));
            e
        },
    },
    Case {
        name: "a forged enc first",
        forged: 1,
        rewrite: |mut e| {
            e.insert(0, forged_enc(&e[0]));
            e
        },
    },
    Case {
        name: "the genuine last envelope moved to the front",
        forged: 0,
        rewrite: |mut e| {
            let last = e.pop().unwrap();
            e.insert(0, last);
            e
        },
    },
    Case {
        name: "every envelope twice in reverse order, forgeries between",
        forged: 2,
        rewrite: |e| {
            let mut out: Vec<Vec<u8>> = e.iter().rev().cloned().collect();
            out.insert(out.len() / 2, forged_high_seq(&e[e.len() / 2]));
            out.extend(e.iter().cloned());
            out.push(forged_enc(&e[3]));
            out
        },
    },
];

fn check(case: &Case, (ok, rows, out): (bool, String, String), reference: &str) {
    let name = case.name;
    assert!(
        rows == reference,
        "{name}: the rows differ from the clean run's ({} vs {} lines)\n{out}",
        rows.lines().count(),
        reference.lines().count()
    );
    if case.forged > 0 {
        assert!(!ok, "{name}: exit 0 after meeting a forgery\n{out}");
        assert!(
            out.contains(&format!("holds {} result envelope(s)", case.forged)),
            "{name}: {out}"
        );
        assert!(out.contains("unauthenticated"), "{name}: {out}");
    } else {
        assert!(ok, "{name}: {out}");
    }
    assert!(
        out.contains(&format!("({} rejected,", case.forged)),
        "{name}: {out}"
    );
}

#[test]
fn genuine_results_survive_forgery_and_reordering_in_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("demo");
    demo(&d, &[]);
    let keys = d.join("keys");
    let spool = d.join("untrusted");
    let t = ["--spool", spool.to_str().unwrap()];
    let csv = dir.path().join("r.csv");
    let (ok, reference, out) = results_any(&keys, &t, &csv);
    assert!(ok, "{out}");
    assert!(reference.lines().count() > 1000, "{out}");
    let log = spool.join("results").join("w0000.log");
    let original = std::fs::read(&log).unwrap();
    let fs = frames(&original);
    let commit = fs
        .iter()
        .rfind(|(k, _)| *k == Kind::Commit as u8)
        .cloned()
        .unwrap();
    let data: Vec<Vec<u8>> = fs
        .iter()
        .filter(|(k, _)| *k == Kind::Data as u8)
        .map(|(_, p)| p.clone())
        .collect();
    // Moving the last envelope first loses results only with a replay
    // window: at least 130 envelopes in one result session.
    assert!(
        largest_session(&data) > 130,
        "{} result envelopes",
        data.len()
    );
    assert!(out.contains(" 0 duplicates dropped"), "{out}");
    for case in &CASES {
        let mut rewritten: Vec<(u8, Vec<u8>)> = (case.rewrite)(data.clone())
            .into_iter()
            .map(|p| (Kind::Data as u8, p))
            .collect();
        rewritten.push(commit.clone());
        std::fs::write(&log, encode(&rewritten)).unwrap();
        check(case, results_any(&keys, &t, &csv), &reference);
    }
    std::fs::write(&log, &original).unwrap();
}

#[test]
fn genuine_results_survive_a_recreated_and_republished_nats_stream() {
    let nats = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("demo");
    demo(&d, &["--transport", &url]);
    let keys = d.join("keys");
    let t = ["--transport", url.as_str()];
    let csv = dir.path().join("r.csv");
    let (ok, reference, out) = results_any(&keys, &t, &csv);
    assert!(ok, "{out}");
    assert!(reference.lines().count() > 1000, "{out}");
    let admin = aorta_nats::Nats::connect(&aorta_nats::NatsConfig::parse(&url).unwrap()).unwrap();
    let mut genuine = Vec::new();
    admin
        .dangerous_republish_results(PartitionId(0), |e| {
            genuine = e.clone();
            e
        })
        .unwrap();
    assert!(
        largest_session(&genuine) > 130,
        "{} result envelopes",
        genuine.len()
    );
    assert!(out.contains(" 0 duplicates dropped"), "{out}");
    for case in &CASES {
        let g = genuine.clone();
        let n = admin
            .dangerous_republish_results(PartitionId(0), |_| (case.rewrite)(g))
            .unwrap();
        assert!(n >= genuine.len(), "{}: {n}", case.name);
        check(case, results_any(&keys, &t, &csv), &reference);
    }
}

/// Newest `hr` time (µs) the ward shows for each patient.
fn ward_hr_at(addr: &str, cookie: &str) -> Vec<Option<i64>> {
    let (status, _, body) = http(addr, "GET", "/api/ward", Some(cookie), "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["patients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["hr_at_us"].as_i64())
        .collect()
}

fn wait_until_all_at_least(addr: &str, cookie: &str, t_us: i64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let at = ward_hr_at(addr, cookie);
        if at.len() == 3 && at.iter().all(|t| t.is_some_and(|t| t >= t_us)) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: the ward shows {at:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_dashboard_shows_every_patient_and_keeps_updating_among_forged_frames() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    let names = ["alice", "bob", "carol"];
    init_and_enrol_with(&keys, &spool, &names, &["--algorithms", "hr"]);
    let kbs = Kbs::start(&keys, true);
    attest_simulated_worker(&keys, &spool, &kbs);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now - 600) / 10 * 10;
    let gateway = |from: i64| {
        run_ok(
            aorta()
                .args(["gateway", "--kbs", &kbs.addr, "--allow-simulated"])
                .args(["--simulate-minutes", "2", "--start", &from.to_string()])
                .arg("--keys")
                .arg(&keys)
                .arg("--spool")
                .arg(&spool),
        )
    };
    gateway(start);
    drain_worker(&keys, &spool, &kbs);

    // The attack before the dashboard starts: forged envelopes (a copy of
    // the first with sequence number 2^40, one with a forged enc) placed
    // first in every results log.
    let results_dir = spool.join("results");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&results_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    logs.sort();
    let forgeries = |log: &Path| {
        let fs = frames(&std::fs::read(log).unwrap());
        let genuine = &fs.iter().find(|(k, _)| *k == Kind::Data as u8).unwrap().1;
        encode(&[
            (Kind::Data as u8, forged_high_seq(genuine)),
            (Kind::Data as u8, forged_enc(genuine)),
        ])
    };
    for log in &logs {
        let mut bytes = forgeries(log);
        bytes.extend(std::fs::read(log).unwrap());
        std::fs::write(log, bytes).unwrap();
    }

    let users = dir.path().join("users");
    add_user(&users, "nurse", "a long enough password");
    let serve = serve(&keys, &spool, &users, &[]);
    let cookie = session_cookie(&serve.addr, "nurse", "a long enough password").unwrap();
    let first_end = (start + 100) * 1_000_000;
    wait_until_all_at_least(&serve.addr, &cookie, first_end, "forgeries first");

    // Again while the dashboard follows: forged envelopes committed where
    // the worker will append next.
    for log in &logs {
        let mut forged = forgeries(log);
        let last = frames(&std::fs::read(log).unwrap()).pop().unwrap();
        frame::encode(Kind::Commit, &last.1, &mut forged);
        std::fs::OpenOptions::new()
            .append(true)
            .open(log)
            .unwrap()
            .write_all(&forged)
            .unwrap();
    }
    // Genuine results after the forgeries: the ward shows them.
    gateway(start + 120);
    drain_worker(&keys, &spool, &kbs);
    wait_until_all_at_least(
        &serve.addr,
        &cookie,
        first_end + 120_000_000,
        "forgeries appended while following",
    );
    drop(serve);
    drop(kbs);
}
