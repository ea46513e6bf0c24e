//! Issue 21, finding 9: a gateway started while its NATS server is down
//! waits for it (bounded, saying so) instead of giving up; the server comes
//! back 5 s later and everything is delivered.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use aorta_testkit::nats::NatsServer;
use common::*;

const PATIENTS: usize = 4;

#[test]
fn a_gateway_started_while_nats_is_down_delivers_everything_once_it_is_back() {
    let mut nats = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let url = nats.url();
    let t = ["--transport", url.as_str()];
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let kbs = init_enrol_attest(&keys, &t, PATIENTS, "hr");
    nats.nodes[0].kill9();
    let mut gw = aorta()
        .args(["gateway", "--allow-simulated", "--kbs", &kbs.addr])
        .args([
            "--simulate-minutes",
            "10",
            "--start",
            "1700000000",
            "--keys",
        ])
        .arg(&keys)
        .args(t)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The gateway says what it waits for (read, not slept on).
    let mut err = BufReader::new(gw.stderr.take().unwrap());
    let mut said = String::new();
    loop {
        let mut l = String::new();
        assert!(
            err.read_line(&mut l).unwrap() > 0,
            "the gateway ended: {said}"
        );
        said.push_str(&l);
        if l.contains("waiting up to") && l.contains("NATS server") {
            break;
        }
    }
    assert!(!said.contains(&nats.password), "no password in: {said}");
    // The outage lasts 5 s (the scenario's length, not a wait for
    // readiness), then the server is back with its store.
    std::thread::sleep(Duration::from_secs(5));
    nats.nodes[0].restart().unwrap();
    let rest: Vec<String> = err.lines().map_while(Result::ok).collect();
    let status = gw.wait().unwrap();
    assert!(status.success(), "{said}{}", rest.join("\n"));
    assert!(
        rest.iter()
            .any(|l| l.contains("connected to the NATS server")),
        "{rest:?}"
    );
    // Everything the gateway sealed is processed and committed.
    run_ok(
        aorta()
            .args(["worker", "--tee", "simulated", "--kbs", &kbs.addr, "--keys"])
            .arg(&keys)
            .args(t),
    );
    let csv = results_over(&keys, &t, &dir.path().join("r.csv"));
    let hr = csv.lines().filter(|l| l.contains(",hr,hr,")).count();
    assert_eq!(hr, PATIENTS * 60, "every 10-s window of every patient");
}
