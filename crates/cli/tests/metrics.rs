//! Issue 10, acceptance 3: `--metrics` on the key broker, a following
//! worker and an MQTT gateway serve Prometheus/OpenMetrics text that an
//! independent parser reads; counters move as envelopes are accepted and
//! rejected (a tampered one) and as the broker releases and refuses; no
//! label or sample carries a patient name or pseudonym.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aorta_testkit::{free_port, wait_for_port, Mosquitto};
use common::*;

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scrape(port: u16) -> (String, prometheus_parse::Scrape) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    let body = r.split_once("\r\n\r\n").unwrap().1.to_string();
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("exposition format parses");
    (body, parsed)
}

fn value(s: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .filter(|x| label.is_none_or(|(k, v)| x.labels.get(k) == Some(v)))
        .map(|x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

/// Scrapes until `ok` holds (metrics refresh every second).
fn until(
    port: u16,
    what: &str,
    ok: impl Fn(&prometheus_parse::Scrape) -> bool,
) -> (String, prometheus_parse::Scrape) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (text, s) = scrape(port);
        if ok(&s) {
            return (text, s);
        }
        let seen: Vec<_> = s
            .samples
            .iter()
            .map(|x| {
                (
                    x.metric.clone(),
                    format!("{:?}", x.value),
                    x.labels.get("reason").map(str::to_string),
                )
            })
            .collect();
        assert!(
            Instant::now() < deadline,
            "{what} never held:\n{text}\n{seen:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn no_identities(text: &str, s: &prometheus_parse::Scrape, names: &[&str], pseudonyms: &[String]) {
    for n in names {
        assert!(!text.contains(n), "a name in the metrics: {n}");
    }
    for p in pseudonyms {
        assert!(
            !text.contains(p.as_str()),
            "a pseudonym in the metrics: {p}"
        );
    }
    for x in &s.samples {
        for (_, v) in x.labels.iter() {
            assert!(
                v.len() < 40 && !v.chars().all(|c| c.is_ascii_hexdigit()) || v.is_empty(),
                "{v}"
            );
        }
    }
}

#[test]
fn metrics_of_broker_worker_and_gateway() {
    let names = ["dev-a", "dev-b"];
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    init_and_enrol_with(
        &keys,
        &spool,
        &names,
        &["--algorithms", "hr", "--cadence-ms", "1000"],
    );
    let pseudonyms: Vec<String> = std::fs::read_to_string(keys.join("patients.tsv"))
        .unwrap()
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();

    // The key broker: a release and refusals.
    let kbs_port = free_port();
    let kbs = Kbs::start_with(
        &keys,
        true,
        &["--metrics", &format!("127.0.0.1:{kbs_port}")],
    );
    assert!(wait_for_port(kbs_port, Duration::from_secs(10)));
    attest_simulated_worker(&keys, &spool, &kbs);
    let mut c = TcpStream::connect(&kbs.addr).unwrap();
    c.write_all(b"{\"op\":\"attest\",\"worker_pub\":\"00\",\"random\":\"00\",\"evidence\":{\"tee\":\"x\",\"bytes\":\"00\"}}\n").unwrap();
    let mut line = String::new();
    BufReader::new(c).read_line(&mut line).unwrap();
    let mut m = TcpStream::connect(&kbs.addr).unwrap();
    m.write_all(b"not json\n").unwrap();
    let (text, s) = until(kbs_port, "broker counters", |s| {
        value(s, "aorta_kbs_key_releases_total", None) >= 1.0
            && value(s, "aorta_kbs_refusals_total", None) >= 1.0
            && value(
                s,
                "aorta_kbs_turned_away_total",
                Some(("reason", "malformed")),
            ) >= 1.0
    });
    assert!(
        value(&s, "process_resident_memory_bytes", None) > 1e6,
        "{:?}",
        s.samples
            .iter()
            .map(|x| (&x.metric, &x.value))
            .collect::<Vec<_>>()
    );
    no_identities(&text, &s, &names, &pseudonyms);

    // A following worker.
    let worker_port = free_port();
    let _worker = Killed(
        aorta()
            .args([
                "worker",
                "--tee",
                "simulated",
                "--follow",
                "--kbs",
                &kbs.addr,
            ])
            .args(["--metrics", &format!("127.0.0.1:{worker_port}"), "--keys"])
            .arg(&keys)
            .arg("--spool")
            .arg(&spool)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for_port(worker_port, Duration::from_secs(30)));

    // An MQTT gateway feeding it.
    let broker = Mosquitto::start().expect("mosquitto is not installed");
    let gw_port = free_port();
    let mut gw = Killed(
        aorta()
            .args(["gateway", "--mqtt", &format!("127.0.0.1:{}", broker.port)])
            .args([
                "--kbs",
                &kbs.addr,
                "--allow-simulated",
                "--duration-s",
                "120",
            ])
            .args(["--metrics", &format!("127.0.0.1:{gw_port}"), "--keys"])
            .arg(&keys)
            .arg("--spool")
            .arg(&spool)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ready = BufReader::new(gw.0.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("subscribed"));
    assert!(ready);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let payload: String = (0..20)
        .map(|i| format!("{}.{},800000\n", now - 30 + i, 0))
        .collect();
    for n in names {
        let st = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"])
            .args([
                "-t",
                &format!("aorta/{n}/rr"),
                "-m",
                &format!("{payload}bad,line\n"),
            ])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let (text, s) = until(gw_port, "gateway counters", |s| {
        value(s, "aorta_gateway_envelopes_sent_total", None) >= 2.0
            && value(
                s,
                "aorta_gateway_refused_total",
                Some(("reason", "malformed line")),
            ) >= 2.0
    });
    no_identities(&text, &s, &names, &pseudonyms);

    let (_, s) = until(worker_port, "accepted envelopes", |s| {
        value(s, "aorta_worker_envelopes_accepted_total", None) >= 2.0
    });
    let before = value(
        &s,
        "aorta_worker_envelopes_rejected_total",
        Some(("reason", "malformed")),
    );
    // A tampered record: a valid spool frame whose envelope is garbage.
    let mut frame = Vec::new();
    aorta_spool::frame::encode(aorta_spool::frame::Kind::Data, &[0x5a; 512], &mut frame);
    std::fs::OpenOptions::new()
        .append(true)
        .open(spool.join("ingest").join("p0000.log"))
        .unwrap()
        .write_all(&frame)
        .unwrap();
    let (text, s) = until(worker_port, "a rejection", |s| {
        value(
            s,
            "aorta_worker_envelopes_rejected_total",
            Some(("reason", "malformed")),
        ) > before
    });
    assert!(value(&s, "aorta_worker_checkpoints_total", None) >= 1.0);
    assert!(value(&s, "aorta_worker_streams", None) >= 1.0);
    // Nothing that counts beats or clinical events leaves the TEE.
    for leaky in ["samples", "result_records", "state_bytes"] {
        assert!(!text.contains(leaky), "{leaky} exported:\n{text}");
    }
    no_identities(&text, &s, &names, &pseudonyms);
}
