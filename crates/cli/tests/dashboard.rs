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
    // Results up to about a minute ago, so the ward shows them as current.
    let start = (now - 960) / 10 * 10;
    gateway(&keys, &spool, &kbs, start, 15);
    drain_worker(&keys, &spool, &kbs);

    let users = dir.path().join("users");
    add_user(&users, "nurse", PASSWORD);
    assert!(!std::fs::read_to_string(&users).unwrap().contains(PASSWORD));

    let s = serve(&keys, &spool, &users, &[]);

    // No session: no patient data, on the API or the FHIR endpoint.
    for path in [
        "/api/ward",
        "/api/patient?name=alice",
        "/fhir/Observation?patient=alice",
        "/api/patient.csv?name=alice",
        "/api/events",
    ] {
        let (status, _, body) = http(&s.addr, "GET", path, None, "");
        assert_eq!(status, 401, "{path}");
        assert!(PATIENTS.iter().all(|p| !body.contains(p)), "{path}: {body}");
    }
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
                hr: tr.querySelector('.hr').textContent,
                rhythm: tr.querySelector('.rhythm').textContent,
                alerts: tr.querySelector('.alerts').textContent,
                quality: tr.querySelector('.quality').textContent }))",
            json!([]),
        )
        .unwrap();
    eprintln!("ward: {rows:#}");
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
    gateway(&keys, &spool, &kbs, start + 900, 2);
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
    b.screenshot(&shots.join("patient.png")).unwrap();
    eprintln!("screenshots in {}", shots.display());

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
