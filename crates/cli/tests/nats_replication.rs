//! Issue 9, replication: a 3-node JetStream cluster on loopback with R3
//! streams. The leader of the envelope stream is killed with SIGKILL while
//! the gateway writes, and the leader of an output stream while workers
//! commit; nothing acknowledged is lost and the clinician's results equal
//! the embedded spool's.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use aorta_nats::{Nats, NatsConfig};
use aorta_testkit::nats::NatsServer;
use common::*;

const PATIENTS: usize = 16;

fn enrol_and_start(keys: &Path, t: &[&str]) -> Kbs {
    init_enrol_attest(keys, t, PATIENTS, "hr,sdnn,rmssd,clinical")
}

fn gateway(keys: &Path, kbs: &Kbs, t: &[&str]) -> std::process::Command {
    let mut c = aorta();
    c.args([
        "gateway",
        "--allow-simulated",
        "--kbs",
        &kbs.addr,
        "--simulate-minutes",
        "480",
    ])
    .args(["--start", "1700000000", "--partitions", "4", "--keys"])
    .arg(keys)
    .args(t);
    c
}

fn results(keys: &Path, t: &[&str], csv: &Path) -> String {
    results_over(keys, t, csv)
}

fn node_of(cluster: &NatsServer, leader: &str) -> usize {
    let i: usize = leader
        .strip_prefix("aorta-test-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("leader {leader:?} is not a test node"));
    assert!(i < cluster.nodes.len());
    i
}

fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn killing_stream_leaders_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    // Reference on the embedded spool.
    let sdir = dir.path().join("spool");
    let spool = sdir.join("untrusted");
    let st = ["--spool", spool.to_str().unwrap()];
    let kbs = enrol_and_start(&sdir.join("keys"), &st);
    run_ok(&mut gateway(&sdir.join("keys"), &kbs, &st));
    run_ok(
        aorta()
            .args([
                "worker",
                "--tee",
                "simulated",
                "--partitions",
                "4",
                "--kbs",
                &kbs.addr,
            ])
            .arg("--keys")
            .arg(sdir.join("keys"))
            .args(st),
    );
    let want = results(&sdir.join("keys"), &st, &sdir.join("results.csv"));
    assert!(want.lines().count() > 1000);
    drop(kbs);

    let mut cluster = NatsServer::start_cluster().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.url();
    let t = ["--transport", url.as_str(), "--nats-replicas", "3"];
    let ndir = dir.path().join("nats");
    let keys = ndir.join("keys");
    let kbs = enrol_and_start(&keys, &t);
    let nats = Nats::connect(&NatsConfig::parse(&url).unwrap()).unwrap();

    // 1. The envelope stream's leader dies while the gateway writes.
    let gw = gateway(&keys, &kbs, &t)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the gateway to be writing", Duration::from_secs(60), || {
        nats.stream_state(aorta_nats::IN_STREAM).unwrap().0 > 2000
    });
    let (before, leader) = nats.stream_state(aorta_nats::IN_STREAM).unwrap();
    let victim = node_of(&cluster, &leader.expect("an R3 stream has a leader"));
    cluster.nodes[victim].kill9();
    eprintln!(
        "killed node {victim}, leader of {} at {before} messages",
        aorta_nats::IN_STREAM
    );
    let out = gw.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the gateway failed over the leader's death:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (stored, new_leader) = nats.stream_state(aorta_nats::IN_STREAM).unwrap();
    assert_ne!(
        new_leader.as_deref(),
        Some(format!("aorta-test-{victim}").as_str())
    );
    assert!(stored > before);

    // 2. The killed node comes back; an output stream's leader dies while
    // two group members process.
    cluster.nodes[victim].restart().unwrap();
    let logs: Vec<_> = (0..2)
        .map(|i| ndir.join(format!("member-{i}.log")))
        .collect();
    let member_logs = || {
        logs.iter()
            .map(|l| std::fs::read_to_string(l).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    let members: Vec<_> = logs
        .iter()
        .map(|log| {
            aorta()
                .args([
                    "worker",
                    "--tee",
                    "simulated",
                    "--group",
                    "--lease-secs",
                    "2",
                ])
                .args([
                    "--partitions",
                    "4",
                    "--checkpoint-every",
                    "128",
                    "--kbs",
                    &kbs.addr,
                ])
                .arg("--keys")
                .arg(&keys)
                .args(t)
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(log).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    let out0 = aorta_nats::out_stream(aorta_transport::PartitionId(0));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !nats.stream_state(&out0).map(|s| s.0 > 3).unwrap_or(false) {
        assert!(
            Instant::now() < deadline,
            "no commits on partition 0:\n{}",
            member_logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, leader) = nats.stream_state(&out0).unwrap();
    let victim = node_of(&cluster, &leader.expect("an R3 stream has a leader"));
    cluster.nodes[victim].kill9();
    eprintln!("killed node {victim}, leader of {out0}");
    let csv = ndir.join("results.csv");
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let got = results(&keys, &t, &csv);
        if got == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "results through the cluster never equalled the spool's ({} of {} lines)\n{}",
            got.lines().count(),
            want.lines().count(),
            member_logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for mut m in members {
        let _ = m.kill();
        let _ = m.wait();
    }
}
