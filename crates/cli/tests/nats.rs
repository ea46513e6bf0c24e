//! Issue 9 through a real nats-server (2.12+, started here on loopback):
//! results identical to the embedded spool's for every algorithm with 1, 2
//! and 4 partitions and with 1 and 2 worker processes; nothing identifying
//! in the server's store or log; hostile messages published straight to
//! the envelope subjects refused with a counted reason, costing no other
//! patient's results.

mod common;

use std::path::Path;

use aorta_nats::{Nats, NatsConfig};
use aorta_testkit::nats::NatsServer;
use aorta_transport::{PartitionId, Producer};
use common::*;

const ALL: &str = "identity,sdnn,hrv-bands,hr,rmssd,clinical";
const NAMES: [&str; 3] = [
    "Zebulon-Quixote-Farnsworth",
    "Xanthippe_Oyelaran_Vukovic",
    "Ottoline-Brightwater",
];
/// A recognisable RR pattern (µs).
const RR: [u32; 4] = [1_234_567, 765_432, 1_111_111, 987_654];

fn server() -> NatsServer {
    NatsServer::start().unwrap_or_else(|e| panic!("{e}"))
}

fn paper_input(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (k, name) in NAMES.iter().enumerate() {
        let mut text = String::new();
        let mut t = 1_600_000_000.0 + k as f64 * 0.25;
        for i in 0..900 {
            let rr = RR[(i + k) % RR.len()] + (i as u32 % 7) * 1000;
            t += rr as f64 / 1e6;
            text.push_str(&format!("{t:.3},{rr}\n"));
        }
        std::fs::write(dir.join(format!("{name}.csv")), text).unwrap();
    }
}

fn demo(out: &Path, extra: &[&str]) -> String {
    let o = run_ok(
        aorta()
            .args(["demo", "--quiet", "--algorithms", ALL, "--out"])
            .arg(out)
            .args(extra),
    );
    let log = [o.stdout, o.stderr].concat();
    String::from_utf8_lossy(&log).into_owned()
}

#[test]
fn the_demo_through_nats_equals_the_spool_for_1_2_and_4_partitions() {
    let nats = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    paper_input(&input);
    for (what, src) in [
        (
            "paper-format files",
            vec!["--input".to_string(), input.display().to_string()],
        ),
        (
            "simulator",
            [
                "--patients",
                "12",
                "--minutes",
                "20",
                "--start",
                "1700000000",
            ]
            .map(String::from)
            .to_vec(),
        ),
    ] {
        let src: Vec<&str> = src.iter().map(String::as_str).collect();
        let reference = dir.path().join(format!("spool-{}", what.len()));
        demo(&reference, &src);
        let want = std::fs::read_to_string(reference.join("results.csv")).unwrap();
        assert!(
            want.lines().count() > 1000,
            "{what}: too few results to compare"
        );
        for algo in ALL.split(',') {
            assert!(
                want.lines().any(|l| l.contains(&format!(",{algo},"))),
                "{what}: no {algo} results in the reference"
            );
        }
        for p in ["1", "2", "4"] {
            let out = dir.path().join(format!("nats-{}-{p}", what.len()));
            let url = nats.url();
            let log = demo(
                &out,
                &[&src[..], &["--workers", p, "--transport", &url]].concat(),
            );
            assert!(
                !log.contains(&nats.password),
                "the demo printed the NATS password"
            );
            let got = std::fs::read_to_string(out.join("results.csv")).unwrap();
            assert!(
                got == want,
                "{what}, {p} partitions: results differ from the spool's"
            );
            assert!(log.contains(&format!("{p} partition(s)")), "{log}");
        }
    }

    // Nothing identifying in what the broker stores or logs.
    let mut store = Vec::new();
    for node in &nats.nodes {
        store.extend(files_under(&node.store));
        store.push(node.log.clone());
    }
    assert!(store.len() > 3, "the store holds files");
    let mut needles: Vec<(String, Vec<u8>)> = NAMES
        .iter()
        .map(|n| (format!("name {n}"), n.as_bytes().to_vec()))
        .collect();
    for rr in RR {
        needles.push((format!("ascii {rr}"), rr.to_string().into_bytes()));
        needles.push((format!("u32 le {rr}"), rr.to_le_bytes().to_vec()));
        needles.push((format!("f64 le {rr}"), (rr as f64).to_le_bytes().to_vec()));
    }
    for f in store {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for (what, n) in &needles {
            assert!(
                !found_outside_msg_ids(&bytes, n),
                "{what} found in {}",
                f.display()
            );
        }
    }
}

/// Whether `needle` occurs in `hay` other than inside a de-duplication id
/// (exactly 32 lowercase hex digits: a digest, in which any 6 digits occur
/// by chance now and then).
fn found_outside_msg_ids(hay: &[u8], needle: &[u8]) -> bool {
    let hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    (0..hay.len().saturating_sub(needle.len() - 1)).any(|i| {
        if &hay[i..i + needle.len()] != needle {
            return false;
        }
        let start = hay[..i].iter().rev().take_while(|b| hex(b)).count();
        let end = hay[i..].iter().take_while(|b| hex(b)).count();
        start + end != 32
    })
}

#[test]
fn the_id_filter_still_sees_plain_values() {
    let id = b"Nats-Msg-Id: 0f76543210aa0f76543210aa0f765432\r\n";
    assert!(!found_outside_msg_ids(id, b"765432"));
    assert!(found_outside_msg_ids(b"rr=765432,", b"765432"));
    assert!(found_outside_msg_ids(b"x765432", b"765432"));
}

fn role(keys: &Path, t: &[&str], args: &[&str]) -> String {
    let o = run_ok(aorta().args(args).arg("--keys").arg(keys).args(t));
    String::from_utf8_lossy(&[o.stdout, o.stderr].concat()).into_owned()
}

/// Keys, 6 enrolled patients, a key broker, an attested worker, and a
/// 5-minute simulated gateway run over `t` with `partitions`.
fn deploy(dir: &Path, t: &[&str], partitions: &str) -> common::Kbs {
    let keys = dir.join("keys");
    let kbs = init_enrol_attest(&keys, t, 6, ALL);
    role(
        &keys,
        t,
        &[
            "gateway",
            "--allow-simulated",
            "--kbs",
            &kbs.addr,
            "--simulate-minutes",
            "5",
            "--start",
            "1700000000",
            "--partitions",
            partitions,
        ],
    );
    kbs
}

fn results(dir: &Path, t: &[&str]) -> String {
    results_over(&dir.join("keys"), t, &dir.join("results.csv"))
}

#[test]
fn two_worker_processes_on_nats_equal_one_on_the_spool_and_hostile_messages_cost_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Reference: the embedded spool, one partition, one worker process.
    let sdir = dir.path().join("spool");
    let spool = sdir.join("untrusted");
    let st = ["--spool", spool.to_str().unwrap()];
    let kbs = deploy(&sdir, &st, "1");
    role(
        &sdir.join("keys"),
        &st,
        &["worker", "--tee", "simulated", "--kbs", &kbs.addr],
    );
    let want = results(&sdir, &st);
    assert!(want.lines().count() > 100);
    drop(kbs);

    // NATS, two partitions, two worker processes, with hostile messages
    // published straight to the envelope subjects first.
    let nats = server();
    let url = nats.url();
    let ndir = dir.path().join("nats");
    let nt = ["--transport", url.as_str()];
    let kbs = deploy(&ndir, &nt, "2");
    let n = Nats::connect(&NatsConfig::parse(&url).unwrap()).unwrap();
    let mut p0 = n.producer(PartitionId(0));
    // Garbage, a truncated header, and (to partition 1) a copy of a real
    // envelope of partition 0: a replay into a foreign partition.
    let mut in0 = n.input(PartitionId(0)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let genuine = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no envelope read back from partition 0"
        );
        if let aorta_transport::Polled::Record { payload, .. } =
            aorta_transport::Consumer::poll(&mut in0).unwrap()
        {
            break payload.to_vec();
        }
    };
    p0.append(&[b"not an envelope", &[0xA0; 40][..]]).unwrap();
    // The gateway's own ids make the server drop a copy of a stored
    // envelope; a hostile publisher sends none.
    n.dangerous_publish_raw(PartitionId(0), &genuine).unwrap();
    n.dangerous_publish_raw(PartitionId(1), &genuine).unwrap();
    // Oversized: the transport refuses it before the broker.
    let e = p0
        .append(&[&vec![0u8; aorta_nats::MAX_RECORD + 1][..]])
        .unwrap_err();
    assert!(
        matches!(e, aorta_transport::TransportError::TooLarge { .. }),
        "{e}"
    );

    let keys = ndir.join("keys");
    let spawn = |p: &str| {
        aorta()
            .args([
                "worker",
                "--tee",
                "simulated",
                "--kbs",
                &kbs.addr,
                "--partitions",
                "2",
            ])
            .args(["--partition", p, "--keys"])
            .arg(&keys)
            .args(nt)
            .output()
            .unwrap()
    };
    let (o0, o1) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn("0"));
        let b = s.spawn(|| spawn("1"));
        (a.join().unwrap(), b.join().unwrap())
    });
    let log0 =
        String::from_utf8_lossy(&[o0.stdout.clone(), o0.stderr.clone()].concat()).into_owned();
    let log1 =
        String::from_utf8_lossy(&[o1.stdout.clone(), o1.stderr.clone()].concat()).into_owned();
    assert!(o0.status.success(), "{log0}");
    assert!(o1.status.success(), "{log1}");
    // Each refusal counted with its reason, by the partition it hit.
    assert!(log0.contains("rejected 2 envelopes: malformed"), "{log0}");
    assert!(log0.contains("rejected 1 envelopes: replay"), "{log0}");
    assert!(
        log1.contains("rejected 1 envelopes: wrong-partition"),
        "{log1}"
    );
    assert!(!log0.contains(&nats.password) && !log1.contains(&nats.password));
    let got = results(&ndir, &nt);
    assert!(
        got == want,
        "NATS with 2 worker processes differs from the spool"
    );
}
