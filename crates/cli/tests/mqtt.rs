//! The gateway's MQTT source against a real Mosquitto broker started by the
//! test: samples published by "devices" arrive encrypted at the worker and
//! come back as the right per-block results; a malformed line is reported and
//! counted without losing the rest.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use aorta_testkit::Mosquitto;
use common::*;

#[test]
fn mqtt_samples_flow_through_the_encrypted_pipeline() {
    let Some(broker) = Mosquitto::start() else {
        panic!("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)");
    };
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    run_ok(aorta().args(["keys", "init", "--dir"]).arg(&keys));
    for d in ["dev-a", "dev-b"] {
        run_ok(
            aorta()
                .args([
                    "keys",
                    "enrol",
                    "--algorithms",
                    "sdnn,hr",
                    "--cadence-ms",
                    "1000",
                    "--patient",
                    d,
                    "--dir",
                ])
                .arg(&keys)
                .arg("--spool")
                .arg(&spool),
        );
    }
    let per_device = 120u64;
    let kbs = Kbs::start(&keys, true);
    attest_simulated_worker(&keys, &spool, &kbs);
    let mut gw = aorta()
        .args(["gateway", "--mqtt", &format!("127.0.0.1:{}", broker.port)])
        .args(["--kbs", &kbs.addr, "--allow-simulated"])
        .args([
            "--max-samples",
            &(2 * per_device).to_string(),
            "--duration-s",
            "120",
            "--keys",
        ])
        .arg(&keys)
        .arg("--spool")
        .arg(&spool)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(gw.stdout.take().unwrap()).lines();
    // Readiness: the gateway says when its subscriptions are acknowledged.
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.starts_with("subscribed"));
    assert!(ready, "gateway never subscribed");

    // Samples from two minutes ago, 10-s aligned, 0.5 s apart.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t0 = (now - 180) / 10 * 10;
    let mut expected: std::collections::BTreeMap<(String, i64), Vec<u32>> = Default::default();
    for (k, dev) in ["dev-a", "dev-b"].iter().enumerate() {
        let mut payload = String::new();
        for i in 0..per_device {
            let rr = 700_000 + ((i * 7919 + k as u64 * 31) % 200_000) as u32;
            let t_ms = t0 * 1000 + i as i64 * 500;
            payload.push_str(&format!("{}.{:03},{rr}\n", t_ms / 1000, t_ms % 1000));
            expected
                .entry((dev.to_string(), t_ms / 10_000 * 10))
                .or_default()
                .push(rr);
            if i % 40 == 39 {
                if k == 0 && i == 39 {
                    payload.push_str("not,a-sample\n");
                }
                let st = Command::new("mosquitto_pub")
                    .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"])
                    .args(["-t", &format!("aorta/{dev}/rr"), "-m", &payload])
                    .status()
                    .unwrap();
                assert!(st.success());
                payload.clear();
            }
        }
    }
    let out = gw.wait_with_output().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        out.status.success(),
        "gateway failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = rest.join("\n");
    assert!(
        summary.contains(&format!("{} samples, 1 refused", 2 * per_device)),
        "{summary}"
    );
    assert!(summary.contains("1 × malformed line"), "{summary}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("not,a-sample") && !summary.contains("not,a-sample"),
        "a refused line is counted, never echoed: {err}"
    );

    drain_worker(&keys, &spool, &kbs);
    let csv = dir.path().join("r.csv");
    results_csv(&keys, &spool, &csv);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut checked = 0;
    for ((dev, block), rr) in &expected {
        let sums = aorta_hrv::BlockSums::from_slice(rr);
        let find = |metric: &str| -> f64 {
            let prefix = format!("{dev},{block},sdnn,{metric},");
            let line = text
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("missing {prefix}"));
            line.split(',').nth(4).unwrap().parse().unwrap()
        };
        assert_eq!(find("n"), rr.len() as f64);
        assert!((find("sdnn") - sums.sdnn_us() / 1e3).abs() < 1e-9 * sums.sdnn_us());
        checked += 1;
    }
    assert_eq!(checked, 12, "6 blocks per device");
}

/// The gateway's `aorta_gateway_samples_accepted_total` metric.
fn samples_accepted(port: u16) -> Option<u64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("aorta_gateway_samples_accepted_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// SIGTERM (a pod stopped, an operator's Ctrl-C) ends a live gateway
/// cleanly: every stream's session ends with its final envelope (so the
/// worker closes the windows still open, which it would otherwise only do
/// 10 s of ticks later), what is held is sent, the summary is printed, and
/// the exit status is success.
#[test]
fn sigterm_ends_a_live_gateway_with_every_session_closed() {
    let Some(broker) = Mosquitto::start() else {
        panic!("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)");
    };
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    run_ok(aorta().args(["keys", "init", "--dir"]).arg(&keys));
    let devices = ["dev-a", "dev-b", "dev-c"];
    for d in devices {
        run_ok(
            aorta()
                .args([
                    "keys",
                    "enrol",
                    "--algorithms",
                    "sdnn",
                    "--cadence-ms",
                    "1000",
                ])
                .args(["--patient", d, "--dir"])
                .arg(&keys)
                .arg("--spool")
                .arg(&spool),
        );
    }
    let kbs = Kbs::start(&keys, true);
    attest_simulated_worker(&keys, &spool, &kbs);
    let port = aorta_testkit::free_port();
    let mut gw = aorta()
        .args(["gateway", "--mqtt", &format!("127.0.0.1:{}", broker.port)])
        .args(["--metrics", &format!("127.0.0.1:{port}")])
        .args(["--kbs", &kbs.addr, "--allow-simulated", "--keys"])
        .arg(&keys)
        .arg("--spool")
        .arg(&spool)
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
    // Ten beats per device, dated in the last few seconds.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let from = now_ms - 8_000;
    for d in devices {
        let payload: String = (0..10)
            .map(|i| {
                let t = from + i * 800;
                format!("{}.{:03},800000\n", t / 1000, t % 1000)
            })
            .collect();
        let st = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"])
            .args(["-t", &format!("aorta/{d}/rr"), "-m", &payload])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while samples_accepted(port) != Some(30) {
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway never took the 30 samples: {:?}",
            samples_accepted(port)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    run_ok(Command::new("kill").args(["-TERM", &gw.id().to_string()]));
    let out = gw.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: String = lines.map_while(Result::ok).collect::<Vec<_>>().join("\n");
    assert!(summary.contains("30 samples, 0 refused"), "{summary}");
    assert!(summary.contains(" 0 not sent"), "{summary}");
    // Every beat is in a closed window: the final envelopes closed them.
    drain_worker(&keys, &spool, &kbs);
    let csv = dir.path().join("r.csv");
    results_csv(&keys, &spool, &csv);
    let text = std::fs::read_to_string(&csv).unwrap();
    for d in devices {
        let n: f64 = text
            .lines()
            .filter(|l| l.starts_with(&format!("{d},")) && l.contains(",sdnn,n,"))
            .map(|l| l.split(',').nth(4).unwrap().parse::<f64>().unwrap())
            .sum();
        assert_eq!(n, 10.0, "{d}: beats in closed windows\n{text}");
    }
}
