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
