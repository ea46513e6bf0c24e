//! Issue 10, acceptance 1: the ward dashboard in a real browser (Debian's
//! chromium through chromedriver, over WebDriver) against a real
//! deployment: key broker, simulated-TEE worker, a gateway with four
//! simulated patients (one in atrial fibrillation, one bradycardic), and
//! `aorta results serve`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use aorta_testkit::webdriver::{Browser, Chromedriver};
use common::*;
use serde_json::json;

const PATIENTS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const PASSWORD: &str = "correct horse battery";

fn gateway(keys: &Path, spool: &Path, kbs: &Kbs, start: i64, minutes: u32) {
    run_ok(
        aorta()
            .args(["gateway", "--kbs", &kbs.addr, "--allow-simulated"])
            .args([
                "--simulate-minutes",
                &minutes.to_string(),
                "--start",
                &start.to_string(),
            ])
            .args([
                "--simulate-condition",
                "alice=af",
                "--simulate-condition",
                "bob=brady",
            ])
            .arg("--keys")
            .arg(keys)
            .arg("--spool")
            .arg(spool),
    );
}

/// The newest `hr` value per patient in a results CSV.
fn latest_hr(csv: &str) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    let mut when = std::collections::BTreeMap::new();
    for l in csv.lines().filter(|l| l.contains(",hr,hr,")) {
        let f: Vec<&str> = l.split(',').collect();
        let t: f64 = f[1].parse().unwrap();
        if when.get(f[0]).is_none_or(|w| t >= *w) {
            when.insert(f[0].to_string(), t);
            out.insert(f[0].to_string(), f[4].parse().unwrap());
        }
    }
    out
}

#[test]
fn ward_dashboard_in_a_real_browser() {
    let driver = Chromedriver::start().expect(
        "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
    );
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    init_and_enrol_with(
        &keys,
        &spool,
        &PATIENTS,
        &["--algorithms", "hr,sdnn,rmssd,clinical"],
    );
    let kbs = Kbs::start(&keys, true);
    attest_simulated_worker(&keys, &spool, &kbs);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Results up to about half a minute from now, so the ward shows them
    // as current while the test looks, and as stopped soon after.
    let start = (now - 870) / 10 * 10;
    gateway(&keys, &spool, &kbs, start, 15);
    drain_worker(&keys, &spool, &kbs);

    let users = dir.path().join("users");
    add_user(&users, "nurse", PASSWORD);
    assert!(!std::fs::read_to_string(&users).unwrap().contains(PASSWORD));

    let s = serve(&keys, &spool, &users, &[]);

    // No session: no patient data, on the API or the FHIR endpoint.
    for path in [
        "/api/ward",
        "/api/status",
        "/api/session",
        // Missing or malformed parameters: still 401, never a 400 that
        // tells a stranger what the route takes (issue 21, finding 4).
        "/api/patient",
        "/api/patient?hours=x",
        "/api/patient.csv",
        "/fhir/Observation",
        "/fhir/Observation?patient=alice&hours=-1&_count=x",
        "/api/patient?name=alice",
        "/fhir/Observation?patient=alice",
        "/api/patient.csv?name=alice",
        "/api/events",
    ] {
        let (status, _, body) = http(&s.addr, "GET", path, None, "");
        assert_eq!(status, 401, "{path}");
        assert!(PATIENTS.iter().all(|p| !body.contains(p)), "{path}: {body}");
    }
    let (status, _, body) = http(&s.addr, "POST", "/logout", None, "");
    assert_eq!(status, 401, "{body}");
    // A sign-in without its fields fails as any other, naming nothing.
    let (status, _, body) = http(&s.addr, "POST", "/login", None, "user=nurse");
    assert!(status == 303 || status == 302, "{status} {body}");
    assert!(
        !body.contains("password") && !body.contains("field"),
        "{body}"
    );
    assert_eq!(session_cookie(&s.addr, "nurse", "wrong password"), None);
    let (status, _, body) = http(&s.addr, "GET", "/api/ward", Some("aorta_session=00ff"), "");
    assert_eq!(status, 401, "a forged session: {body}");

    let b = Browser::new(&driver, 1280, 1000).unwrap();
    b.goto(&s.url).unwrap();
    assert!(b.url().unwrap().ends_with("/login"), "{}", b.url().unwrap());
    // Wrong password: back to the form, no patient in the page.
    b.type_into(&b.find("#user").unwrap(), "nurse").unwrap();
    b.type_into(&b.find("#password").unwrap(), "not the password")
        .unwrap();
    b.click(&b.find("#signin").unwrap()).unwrap();
    if let Err(e) = b.wait_for(
        "return location.search.includes('failed') && !document.getElementById('failed').hidden",
        Duration::from_secs(20),
    ) {
        let where_ = b
            .execute(
                "return location.href + ' | ' + document.body.innerText",
                json!([]),
            )
            .unwrap();
        panic!("{e}: {where_}");
    }
    let page = b
        .execute("return document.documentElement.outerHTML", json!([]))
        .unwrap();
    assert!(PATIENTS.iter().all(|p| !page.as_str().unwrap().contains(p)));

    b.type_into(&b.find("#user").unwrap(), "nurse").unwrap();
    b.type_into(&b.find("#password").unwrap(), PASSWORD)
        .unwrap();
    b.click(&b.find("#signin").unwrap()).unwrap();
    b.wait_for(
        "return document.querySelectorAll('#ward tbody tr').length === 4",
        Duration::from_secs(30),
    )
    .unwrap();
    let rows = b
        .execute(
            "return [...document.querySelectorAll('#ward tbody tr')].map(tr => ({
                patient: tr.dataset.patient,
                hr: tr.querySelector('.hr .value').textContent, age: tr.querySelector('.hr .age') && tr.querySelector('.hr .age').textContent,
                rhythm: tr.querySelector('.rhythm').textContent,
                alerts: tr.querySelector('.alerts').textContent,
                quality: tr.querySelector('.quality').textContent }))",
            json!([]),
        )
        .unwrap();
    eprintln!("ward: {rows:#}");
    assert_eq!(
        b.execute("return document.body.dataset.feedState + ' | ' + document.getElementById('live').textContent", json!([])).unwrap().as_str().unwrap().split(" | ").next(),
        Some("live"),
        "the header of a current feed"
    );
    let csv = dir.path().join("r.csv");
    results_csv(&keys, &spool, &csv);
    let want = latest_hr(&std::fs::read_to_string(&csv).unwrap());
    let rows = rows.as_array().unwrap();
    for r in rows {
        let name = r["patient"].as_str().unwrap();
        let shown: f64 = r["hr"]
            .as_str()
            .unwrap()
            .trim_end_matches(" bpm")
            .parse()
            .unwrap();
        assert!(
            (shown - want[name]).abs() <= 0.5 + 1e-9,
            "{name}: shown {shown}, CSV {}",
            want[name]
        );
    }
    // Attention first: the AF and bradycardic patients lead, flagged.
    assert_eq!(rows[0]["patient"], "alice");
    assert_eq!(rows[0]["rhythm"], "AF");
    assert_eq!(rows[1]["patient"], "bob");
    assert!(rows[1]["alerts"].as_str().unwrap().contains("bradycardia"));
    for r in &rows[2..] {
        assert_eq!(r["alerts"], "none", "{r}");
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    b.screenshot(&shots.join("ward.png")).unwrap();

    // A result committed while the page is open appears without a reload.
    b.execute("window.__noReload = 42", json!([])).unwrap();
    let before = b
        .execute("return document.body.dataset.wardVersion", json!([]))
        .unwrap();
    gateway(&keys, &spool, &kbs, start + 900, 1);
    drain_worker(&keys, &spool, &kbs);
    let committed = Instant::now();
    b.wait_for(
        &format!(
            "return document.body.dataset.wardVersion !== {before} && window.__noReload === 42"
        ),
        Duration::from_secs(30),
    )
    .unwrap();
    eprintln!(
        "new results shown {:.0} ms after the worker committed them",
        committed.elapsed().as_secs_f64() * 1e3
    );

    // The patient view: trends, AF episode timeline, alert log.
    b.click(&b.find("#ward tbody tr[data-patient='alice']").unwrap())
        .unwrap();
    b.wait_for(
        "return document.body.dataset.patientRendered === 'alice' && document.querySelectorAll('#charts canvas').length >= 6",
        Duration::from_secs(30),
    )
    .unwrap();
    let af = b
        .execute(
            "return document.querySelectorAll('#timeline .seg.atrial_fibrillation').length",
            json!([]),
        )
        .unwrap();
    assert!(af.as_u64().unwrap() >= 1, "AF episode on the timeline");
    let log = b
        .execute(
            "return document.querySelector('#alerts tbody').textContent",
            json!([]),
        )
        .unwrap();
    assert!(log.as_str().unwrap().contains("AF"), "{log}");
    results_csv(&keys, &spool, &csv);
    patient_view_is_true(&b, &s.addr, &csv, start);
    b.screenshot(&shots.join("patient.png")).unwrap();
    eprintln!("screenshots in {}", shots.display());

    // The feed stops (no gateway writes any more): within a minute of the
    // newest result's end, the header and every row say since when.
    b.execute("location.hash = ''", json!([])).unwrap();
    let newest_end = start + 900 + 60;
    let wait = (newest_end + 75
        - std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64)
        .max(5);
    b.wait_for(
        "return document.body.dataset.feedState === 'stopped' && !document.getElementById('ward-view').hidden \
         && document.querySelectorAll('#ward tbody tr').length === 4 \
         && [...document.querySelectorAll('#ward td.last')].every(td => td.textContent.startsWith('stopped since '))",
        Duration::from_secs(wait as u64),
    )
    .unwrap();
    let header = b
        .execute("return document.getElementById('live').textContent + ' | ' + document.getElementById('stalled').textContent", json!([]))
        .unwrap();
    let header = header.as_str().unwrap();
    eprintln!("stopped feed: {header}");
    assert!(header.starts_with("stopped since 20"), "{header}");
    assert!(header.contains("not current"), "{header}");
    b.screenshot(&shots.join("ward-stopped.png")).unwrap();
    // The patient view's header says so too.
    b.execute("location.hash = 'patient=bob'", json!([]))
        .unwrap();
    b.wait_for(
        "return document.body.dataset.patientRendered === 'bob' \
         && document.getElementById('live').textContent.startsWith('stopped since 20')",
        Duration::from_secs(30),
    )
    .unwrap();

    // Sign out: the session is gone for the API too.
    let cookie = session_cookie(&s.addr, "nurse", PASSWORD).unwrap();
    assert_eq!(http(&s.addr, "GET", "/api/ward", Some(&cookie), "").0, 200);
    b.click(&b.find("#logout").unwrap()).unwrap();
    b.wait_for(
        "return location.pathname === '/login'",
        Duration::from_secs(20),
    )
    .unwrap();
    b.goto(&s.url).unwrap();
    assert!(b.url().unwrap().ends_with("/login"));

    // An expired session gets no patient data.
    let short = serve(&keys, &spool, &users, &["--session-secs", "2"]);
    let cookie = session_cookie(&short.addr, "nurse", PASSWORD).unwrap();
    assert_eq!(
        http(&short.addr, "GET", "/api/ward", Some(&cookie), "").0,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, body) = http(&short.addr, "GET", "/api/ward", Some(&cookie), "");
        if status == 401 {
            assert!(PATIENTS.iter().all(|p| !body.contains(p)));
            break;
        }
        assert!(Instant::now() < deadline, "the session never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The patient view says what is true: each chart has at least 4 labelled
/// y ticks; a clinical value sits at the end of its 5-minute window; the
/// view starts where the data does; the timeline labels every episode as
/// the alert log does; time is written one way, with its zone.
fn patient_view_is_true(b: &Browser, addr: &str, csv: &Path, start: i64) {
    let charts = b
        .execute(
            "return [...document.querySelectorAll('#charts .chart')].map(c => ({
                id: c.id, ticks: JSON.parse(c.dataset.yticks || '[]'),
                window: Number(c.dataset.windowS), last: Number(c.dataset.lastT) }))",
            json!([]),
        )
        .unwrap();
    let charts = charts.as_array().unwrap();
    assert_eq!(charts.len(), 6, "{charts:?}");
    for c in charts {
        let ticks = c["ticks"].as_array().unwrap();
        assert!(ticks.len() >= 4, "{c}");
        assert!(
            ticks.iter().all(|t| {
                let t = t.as_str().unwrap();
                t.ends_with(" bpm") || t.ends_with(" ms") || t.ends_with(" ratio")
            }),
            "{c}"
        );
    }
    // The newest clinical SDNN in the results: plotted at its window's end.
    let text = std::fs::read_to_string(csv).unwrap();
    let newest_clinical = text
        .lines()
        .filter(|l| l.starts_with("alice,") && l.contains(",clinical,sdnn_tf,"))
        .map(|l| l.split(',').nth(1).unwrap().parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max);
    let clinical = charts
        .iter()
        .find(|c| c["id"] == "chart-clinical_sdnn")
        .unwrap();
    assert_eq!(clinical["window"], 300);
    assert!(
        (clinical["last"].as_f64().unwrap() - (newest_clinical + 300.0)).abs() < 1.0,
        "clinical SDNN of the window starting {newest_clinical} plotted at {}",
        clinical["last"]
    );
    let cookie = session_cookie(addr, "nurse", PASSWORD).unwrap();
    let (_, _, body) = http(
        addr,
        "GET",
        "/api/patient?name=alice&hours=1",
        Some(&cookie),
        "",
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["from_us"].as_i64().unwrap(),
        start * 1_000_000,
        "an hour asked for, 16 minutes of data: the view starts with the data"
    );
    let labels = b
        .execute(
            "return [[...document.querySelectorAll('#timeline .seg')].map(s => s.dataset.label).sort(),
                     [...document.querySelectorAll('#alerts tbody tr')].map(r => r.dataset.label).sort(),
                     [...document.querySelectorAll('#timeline .seg-label')].map(s => s.textContent).sort(),
                     [...document.querySelectorAll('#timeline .lane-name')].map(s => s.textContent)]",
            json!([]),
        )
        .unwrap();
    eprintln!("timeline: {labels}");
    assert!(!labels[0].as_array().unwrap().is_empty());
    assert_eq!(labels[0], labels[1], "timeline and alert log");
    assert_eq!(labels[0], labels[2], "every segment shows its label");
    assert!(labels[3].as_array().unwrap().iter().any(|n| n == "AF"));
    // One way of writing time: "YYYY-MM-DD HH:MM:SS ZONE" everywhere;
    // axis ticks (HH:MM) sit under an axis title naming the zone.
    let leftover = b
        .execute(
            "const c = document.body.cloneNode(true);
             c.querySelectorAll('.tick').forEach(t => t.remove());
             document.body.appendChild(c); c.hidden = false;
             const t = c.innerText; c.remove();
             const full = /\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} [A-Z][A-Za-z0-9+:-]*/g;
             const n = (t.match(full) || []).length;
             const rest = t.replace(full, '');
             return [n, (rest.match(/\\d{1,2}:\\d{2}|\\b[AP]M\\b|\\b[ap]m\\b/g) || []), (t.match(full) || []).slice(0, 3)]",
            json!([]),
        )
        .unwrap();
    eprintln!("times on the page: {leftover}");
    assert!(leftover[0].as_u64().unwrap() >= 3, "{leftover}");
    assert_eq!(
        leftover[1],
        json!([]),
        "times written another way: {leftover}"
    );
    let ticks = b
        .execute(
            "return [...document.querySelectorAll('#timeline .tick')].length + ' ' + document.querySelector('#timeline .axis .lane-name').textContent",
            json!([]),
        )
        .unwrap();
    assert!(ticks.as_str().unwrap().starts_with("5 time ("), "{ticks}");
}
