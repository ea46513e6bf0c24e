//! The dashboard at 1,000 patients × 24 h of results (issue 10,
//! acceptance 4): memory of the ward, time to apply one commit's results
//! (every patient's new window), `/api/ward` and 24-h `/api/patient`
//! latencies over HTTP through the real server, and a headless chromium's
//! full load of the ward page (1,000 rows) when chromium is installed.
//!
//!     cargo bench -p aorta-clinic --bench ward [-- PATIENTS HOURS]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use aorta_clinic::feed::{CommittedRecords, Decryptor, ResultRow};
use aorta_clinic::ward::Ward;
use aorta_clinic::web::{serve_ward, Config, Directory, DirectoryUpdate, Users};
use aorta_wire::{Algorithm, Metric, Quality, ResultRecord, StreamId};

struct Nothing;
impl CommittedRecords for Nothing {
    fn poll_committed(
        &mut self,
        _: &mut Vec<(u32, Vec<u8>)>,
    ) -> Result<usize, aorta_transport::TransportError> {
        Ok(0)
    }
}
struct NoDirectory;
impl Directory for NoDirectory {
    fn refresh(&mut self) -> Option<DirectoryUpdate> {
        None
    }
}

fn rows_at(patients: usize, t_s: i64, minute: bool) -> Vec<ResultRow> {
    let mut out = Vec::new();
    for p in 0..patients {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(p as u64).to_le_bytes());
        let row = |a, m, w, v| ResultRow {
            patient: format!("patient-{p:05}"),
            stream: StreamId(id),
            record: ResultRecord {
                t_us: t_s * 1_000_000,
                window_ms: w,
                algorithm: a,
                metric: m,
                value: v,
                quality: Quality(0),
                n: 10,
            },
        };
        let x = ((t_s / 10 + p as i64) % 17) as f64;
        out.push(row(Algorithm::HeartRate, Metric::Hr, 10_000, 60.0 + x));
        out.push(row(Algorithm::Sdnn, Metric::Sdnn, 10_000, 30.0 + x));
        out.push(row(Algorithm::Rmssd, Metric::Rmssd, 10_000, 25.0 + x));
        if minute {
            out.push(row(Algorithm::Clinical, Metric::SdnnTf, 300_000, 40.0 + x));
            out.push(row(Algorithm::Clinical, Metric::Rmssd, 300_000, 30.0 + x));
            out.push(row(
                Algorithm::Clinical,
                Metric::LfHf,
                300_000,
                1.0 + x / 10.0,
            ));
        }
    }
    out
}

fn http(addr: &str, path: &str, cookie: &str, body: Option<&str>) -> (u16, usize, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let req = match body {
        Some(b) => format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        ),
        None => format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
    };
    s.write_all(req.as_bytes()).expect("write");
    let mut r = Vec::new();
    s.read_to_end(&mut r).expect("read");
    let text = String::from_utf8_lossy(&r).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (status, r.len(), text)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn rss_mib() -> f64 {
    aorta_metrics::resident_bytes() as f64 / (1024.0 * 1024.0)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let patients = args.first().copied().unwrap_or(1000);
    let hours = args.get(1).copied().unwrap_or(24) as i64;
    let t0 = 1_800_000_000i64;
    let rss0 = rss_mib();
    let mut ward = Ward::default();
    let t = Instant::now();
    let windows = hours * 360;
    for w in 0..windows {
        ward.apply(&rows_at(patients, t0 + w * 10, w % 6 == 0));
    }
    let build = t.elapsed().as_secs_f64();
    let rss = rss_mib() - rss0;
    // One commit: every patient's next window.
    let next = rows_at(patients, t0 + windows * 10, true);
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        ward.apply(&next);
        let _ = ward.summaries(0);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let apply_ms = median(times);

    let mut users = Users::default();
    users.set("bench", "bench-password").expect("hash");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let decryptor = Decryptor::new(
        aorta_envelope::KemKeypair::generate(
            &mut <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(
                1,
            ),
        )
        .secret,
        Default::default(),
        Default::default(),
    );
    let cfg = Config {
        users,
        ..Config::default()
    };
    std::thread::spawn(move || {
        serve_ward(
            cfg,
            ward,
            Nothing,
            decryptor,
            Box::new(NoDirectory),
            listener,
        )
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_err() && Instant::now() < deadline {}
    let (_, _, login) = http(
        &addr,
        "/login",
        "",
        Some("user=bench&password=bench-password"),
    );
    let cookie = login
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("signed in")
        .to_string();
    let mut ward_ms = Vec::new();
    let mut ward_bytes = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let (s, n, _) = http(&addr, "/api/ward", &cookie, None);
        assert_eq!(s, 200);
        ward_ms.push(t.elapsed().as_secs_f64() * 1e3);
        ward_bytes = n;
    }
    let mut patient_ms = Vec::new();
    let mut patient_bytes = 0;
    for i in 0..21 {
        let t = Instant::now();
        let (s, n, _) = http(
            &addr,
            &format!("/api/patient?name=patient-{:05}&hours=24", i % patients),
            &cookie,
            None,
        );
        assert_eq!(s, 200);
        patient_ms.push(t.elapsed().as_secs_f64() * 1e3);
        patient_bytes = n;
    }
    println!(
        "{patients} patients x {hours} h of results ({} windows each)",
        windows
    );
    println!("ward build (apply every commit)     {build:.1} s");
    println!(
        "ward memory                         {rss:.0} MiB ({:.0} KiB per patient)",
        rss * 1024.0 / patients as f64
    );
    println!("apply one commit + ward summary     {apply_ms:.1} ms (median of 5)");
    println!(
        "GET /api/ward                       {:.1} ms, {} KiB (median of 21)",
        median(ward_ms),
        ward_bytes / 1024
    );
    println!(
        "GET /api/patient (24 h, 6 series)   {:.1} ms, {} KiB (median of 21)",
        median(patient_ms),
        patient_bytes / 1024
    );

    if let Some(driver) = aorta_testkit::webdriver::Chromedriver::start() {
        let b = aorta_testkit::webdriver::Browser::new(&driver, 1280, 900).expect("browser");
        b.goto(&format!("http://{addr}/login")).expect("login page");
        b.type_into(&b.find("#user").expect("user"), "bench")
            .expect("type");
        b.type_into(&b.find("#password").expect("pw"), "bench-password")
            .expect("type");
        b.click(&b.find("#signin").expect("button")).expect("click");
        b.wait_for(
            &format!("return document.querySelectorAll('#ward tbody tr').length === {patients}"),
            Duration::from_secs(60),
        )
        .expect("ward");
        let mut loads = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            b.goto(&format!("http://{addr}/")).expect("reload");
            b.wait_for(
                &format!(
                    "return document.querySelectorAll('#ward tbody tr').length === {patients}"
                ),
                Duration::from_secs(60),
            )
            .expect("ward");
            loads.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let mut views = Vec::new();
        for i in 0..5 {
            let t = Instant::now();
            b.goto(&format!("http://{addr}/#patient=patient-{:05}", i + 1))
                .expect("patient");
            b.wait_for(
                &format!("return document.body.dataset.patientRendered === 'patient-{:05}' && document.querySelectorAll('#charts canvas').length >= 6", i + 1),
                Duration::from_secs(60),
            )
            .expect("patient view");
            views.push(t.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "browser: ward page load ({patients} rows)  {:.0} ms (median of 5, chromium headless)",
            median(loads)
        );
        println!(
            "browser: patient view, 24 h          {:.0} ms (median of 5)",
            median(views)
        );
    } else {
        println!("browser: chromium/chromedriver not installed; page load not measured");
    }
}
