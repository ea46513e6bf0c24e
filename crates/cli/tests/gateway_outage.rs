//! Issue 9, ingestion with backpressure: a live MQTT gateway whose NATS
//! server dies (kill -9) keeps sealing on its cadence, holds what it can
//! (here a deliberately small outbox of 3 ticks), drops the oldest beyond
//! that, and says so; when the server is back everything held is sent.
//! Nothing is lost silently: the envelopes the gateway reports as not sent
//! are exactly the envelopes the worker reports missing, and every sample
//! published after the server came back reaches the clinician.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use aorta_testkit::nats::NatsServer;
use aorta_testkit::Mosquitto;
use common::*;

fn number_before(text: &str, suffix: &str) -> u64 {
    let i = text
        .find(suffix)
        .unwrap_or_else(|| panic!("'{suffix}' not in: {text}"));
    text[..i]
        .split_whitespace()
        .last()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number before '{suffix}' in: {text}"))
}

fn publish(port: u16, device: &str, from_ms: i64, n: u64) {
    let mut payload = String::new();
    for i in 0..n {
        let t = from_ms + i as i64 * 800;
        payload.push_str(&format!("{}.{:03},800000\n", t / 1000, t % 1000));
    }
    let st = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args(["-t", &format!("aorta/{device}/rr"), "-m", &payload])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn a_broker_outage_is_buffered_within_a_bound_and_every_loss_is_counted() {
    let Some(mqtt) = Mosquitto::start() else {
        panic!("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)");
    };
    let mut nats = NatsServer::start().expect("nats-server (scripts/test installs it)");
    let url = nats.url();
    let t = ["--transport", url.as_str()];
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    run_ok(aorta().args(["keys", "init", "--dir"]).arg(&keys));
    for d in ["dev-a", "dev-b"] {
        run_ok(
            aorta()
                .args([
                    "keys",
                    "enrol",
                    "--algorithms",
                    "hr",
                    "--cadence-ms",
                    "1000",
                ])
                .args(["--patient", d, "--dir"])
                .arg(&keys)
                .args(t),
        );
    }
    let kbs = Kbs::start(&keys, true);
    run_ok(
        aorta()
            .args(["worker", "--tee", "simulated", "--attest-only"])
            .args(["--kbs", &kbs.addr, "--keys"])
            .arg(&keys)
            .args(t),
    );
    let per_batch = 50u64;
    let mut gw = aorta()
        .args(["gateway", "--mqtt", &format!("127.0.0.1:{}", mqtt.port)])
        .args(["--kbs", &kbs.addr, "--allow-simulated"])
        .args(["--outbox-ticks", "3", "--duration-s", "300"])
        .args(["--max-samples", &(4 * per_batch).to_string(), "--keys"])
        .arg(&keys)
        .args(t)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(gw.stdout.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.starts_with("subscribed")),
        "gateway never subscribed"
    );
    let (err_tx, err_rx) = mpsc::channel::<String>();
    let stderr = gw.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut all = String::new();
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&l);
            all.push('\n');
            let _ = err_tx.send(l);
        }
        all
    });

    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Before the outage: four minutes ago.
    let early = (now_ms - 240_000) / 10_000 * 10_000;
    for d in ["dev-a", "dev-b"] {
        publish(mqtt.port, d, early, per_batch);
    }
    // The server dies; the gateway holds 3 ticks, then drops the oldest.
    nats.nodes[0].kill9();
    let dropping = err_rx
        .iter()
        .find(|l| l.contains("not keeping up") && !l.contains(" 0 envelopes dropped"));
    assert!(dropping.is_some(), "the gateway never reported dropping");
    nats.nodes[0].restart().unwrap();
    assert!(
        err_rx.iter().any(|l| l.contains("caught up")),
        "the gateway never caught up"
    );
    // After the outage: samples from now on (earlier ones would be late:
    // the ticks sent meanwhile moved the stream's watermark to the present),
    // up to 50 s ahead, within the gateway's 60-s limit.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let late = (now_ms / 10_000 + 1) * 10_000;
    for d in ["dev-a", "dev-b"] {
        publish(mqtt.port, d, late, per_batch);
    }
    let out = gw.wait_with_output().unwrap();
    let stderr = err_thread.join().unwrap();
    assert!(out.status.success(), "gateway failed: {stderr}");
    let summary: String = lines.map_while(Result::ok).collect::<Vec<_>>().join("\n");
    assert!(
        summary.contains(&format!("{} samples, 0 refused", 4 * per_batch)),
        "{summary}"
    );
    let sealed = number_before(&summary, " envelopes, ");
    let sent = number_before(&summary, " envelopes sent");
    let unsent = number_before(&summary, " not sent");
    assert!(unsent >= 2, "the outage outlasted the bound: {summary}");
    assert_eq!(sent + unsent, sealed, "{summary}");

    // The worker sees exactly the unsent envelopes as missing.
    let w = run_ok(
        aorta()
            .args(["worker", "--tee", "simulated", "--kbs", &kbs.addr, "--keys"])
            .arg(&keys)
            .args(t),
    );
    let report = String::from_utf8_lossy(&w.stdout).to_string();
    assert_eq!(
        number_before(&report, " missing envelopes (gaps)"),
        unsent,
        "{report}\n{summary}"
    );
    // Every sample published after the server came back is in a result:
    // 800-ms intervals are 75 bpm.
    let csv = results_over(&keys, &t, &dir.path().join("r.csv"));
    // CSV rows: patient, window start (s), algorithm, metric, value, ...
    for d in ["dev-a", "dev-b"] {
        let mut windows = 0;
        for l in csv.lines() {
            let f: Vec<&str> = l.split(',').collect();
            let [patient, start, "hr", "hr", value, ..] = f[..] else {
                continue;
            };
            let start_ms = start.parse::<i64>().unwrap() * 1000;
            if patient == d && start_ms >= late && start_ms + 10_000 <= late + 40_000 {
                let hr: f64 = value.parse().unwrap();
                assert!((hr - 75.0).abs() < 1e-9, "{l}");
                windows += 1;
            }
        }
        assert_eq!(windows, 4, "{d}: windows after the outage:\n{csv}");
    }
    drop(kbs);
}
