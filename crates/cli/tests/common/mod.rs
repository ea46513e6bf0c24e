#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn aorta() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aorta"))
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn aorta");
    assert!(
        out.status.success(),
        "command failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every file below `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// A key broker process (`aorta kbs serve`) on a free loopback port, killed
/// on drop. Ready once it prints its address.
pub struct Kbs {
    child: std::process::Child,
    pub addr: String,
}

impl Kbs {
    pub fn start(keys: &Path, allow_simulated: bool) -> Self {
        Self::start_with(keys, allow_simulated, &[])
    }

    pub fn start_with(keys: &Path, allow_simulated: bool, extra: &[&str]) -> Self {
        use std::io::BufRead;
        let mut cmd = aorta();
        cmd.args(["kbs", "serve", "--listen", "127.0.0.1:0", "--keys"])
            .arg(keys)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        if allow_simulated {
            cmd.arg("--allow-simulated");
        }
        let mut child = cmd.spawn().expect("spawn aorta kbs serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read kbs stdout");
        let addr = line
            .trim()
            .strip_prefix("kbs: listening on ")
            .unwrap_or_else(|| panic!("kbs did not start: {line:?}"))
            .to_string();
        Self { child, addr }
    }
}

impl Kbs {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the broker process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Kbs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `aorta worker --tee simulated --attest-only`: attests to `kbs`, so that
/// gateways find evidence behind the fleet key, and exits.
pub fn attest_simulated_worker(keys: &Path, spool: &Path, kbs: &Kbs) {
    run_ok(
        aorta()
            .args([
                "worker",
                "--tee",
                "simulated",
                "--attest-only",
                "--kbs",
                &kbs.addr,
                "--keys",
            ])
            .arg(keys)
            .arg("--spool")
            .arg(spool),
    );
}

/// `aorta keys init` in `keys`, then `aorta keys enrol` of every name
/// (publishing to `spool`).
pub fn init_and_enrol(keys: &Path, spool: &Path, names: &[String]) {
    run_ok(aorta().args(["keys", "init", "--dir"]).arg(keys));
    for n in names {
        run_ok(
            aorta()
                .args(["keys", "enrol", "--patient", n, "--dir"])
                .arg(keys)
                .arg("--spool")
                .arg(spool),
        );
    }
}

/// `aorta keys init` in `keys`, then `aorta keys enrol ARGS --patient NAME`
/// of every name (publishing to `spool`).
pub fn init_and_enrol_with(keys: &Path, spool: &Path, names: &[&str], args: &[&str]) {
    run_ok(aorta().args(["keys", "init", "--dir"]).arg(keys));
    for n in names {
        run_ok(
            aorta()
                .args(["keys", "enrol"])
                .args(args)
                .args(["--patient", n, "--dir"])
                .arg(keys)
                .arg("--spool")
                .arg(spool),
        );
    }
}

/// `aorta worker --tee simulated` over `spool` until its input is drained.
pub fn drain_worker(keys: &Path, spool: &Path, kbs: &Kbs) -> Output {
    run_ok(
        aorta()
            .args(["worker", "--tee", "simulated", "--kbs", &kbs.addr, "--keys"])
            .arg(keys)
            .arg("--spool")
            .arg(spool),
    )
}

/// `aorta keys init`, then one patient enrolled for `hr,clinical` on a raw
/// signal of at most `max_rate` samples per second.
#[allow(dead_code)]
pub fn init_and_enrol_raw(keys: &Path, spool: &Path, patient: &str, max_rate: u32) {
    run_ok(aorta().args(["keys", "init", "--dir"]).arg(keys));
    run_ok(
        aorta()
            .args(["keys", "enrol", "--patient", patient])
            .args(["--algorithms", "hr,clinical", "--max-rate"])
            .arg(max_rate.to_string())
            .arg("--dir")
            .arg(keys)
            .arg("--spool")
            .arg(spool),
    );
}

/// `aorta results --csv CSV`: the clinician's decryption of `spool`.
pub fn results_csv(keys: &Path, spool: &Path, csv: &Path) -> Output {
    run_ok(
        aorta()
            .arg("results")
            .arg("--keys")
            .arg(keys)
            .arg("--spool")
            .arg(spool)
            .arg("--csv")
            .arg(csv),
    )
}

/// Mean heart rate per 10-s block (bpm) from beat times in seconds since
/// `start` (Unix s): each interval counts in the block where it ends.
#[allow(dead_code)]
pub fn hr_by_block(beats_s: &[f64], start: i64) -> std::collections::BTreeMap<i64, f64> {
    let mut sums: std::collections::BTreeMap<i64, (f64, u32)> = Default::default();
    for w in beats_s.windows(2) {
        let block = (start as f64 + w[1]) as i64 / 10 * 10;
        let e = sums.entry(block).or_default();
        e.0 += (w[1] - w[0]) * 1000.0;
        e.1 += 1;
    }
    sums.into_iter()
        .map(|(b, (s, n))| (b, 60_000.0 / (s / f64::from(n))))
        .collect()
}

/// Checks the `hr` windows of a results CSV against `reference`: at least
/// `min_windows` compared, 95 % of them within 2 bpm; and at least
/// `min_clinical` 5-minute `clinical` windows.
#[allow(dead_code)]
pub fn assert_hr_close(
    csv: &str,
    reference: &std::collections::BTreeMap<i64, f64>,
    min_windows: usize,
    min_clinical: usize,
) {
    let (mut compared, mut close) = (0usize, 0usize);
    for line in csv.lines().filter(|l| l.contains(",hr,hr,")) {
        let f: Vec<&str> = line.split(',').collect();
        let (block, hr): (i64, f64) = (f[1].parse().unwrap(), f[4].parse().unwrap());
        if let Some(want) = reference.get(&block) {
            compared += 1;
            close += usize::from((hr - want).abs() < 2.0);
        }
    }
    eprintln!("{close} of {compared} windows within 2 bpm of the reference");
    assert!(compared >= min_windows, "{compared} windows compared");
    assert!(
        close as f64 >= 0.95 * compared as f64,
        "{close} of {compared} windows within 2 bpm"
    );
    let clinical = csv
        .lines()
        .filter(|l| l.contains(",clinical,sdnn_tf,"))
        .count();
    assert!(clinical >= min_clinical, "{clinical} clinical windows");
}

/// `aorta keys init` in `keys`, then `n` patients (`patient-00`, ...)
/// enrolled for `algorithms` over the transport arguments `t`, a key broker,
/// and a simulated-TEE worker attested to it (so gateways may send).
pub fn init_enrol_attest(keys: &Path, t: &[&str], n: usize, algorithms: &str) -> Kbs {
    run_ok(aorta().args(["keys", "init", "--dir"]).arg(keys));
    for i in 0..n {
        run_ok(
            aorta()
                .args(["keys", "enrol", "--algorithms", algorithms, "--patient"])
                .arg(format!("patient-{i:02}"))
                .arg("--dir")
                .arg(keys)
                .args(t),
        );
    }
    let kbs = Kbs::start(keys, true);
    run_ok(
        aorta()
            .args(["worker", "--tee", "simulated", "--attest-only"])
            .args(["--kbs", &kbs.addr, "--keys"])
            .arg(keys)
            .args(t),
    );
    kbs
}

/// `aorta results --csv CSV` over the transport arguments `t`; the CSV.
pub fn results_over(keys: &Path, t: &[&str], csv: &Path) -> String {
    run_ok(
        aorta()
            .args(["results", "--keys"])
            .arg(keys)
            .args(t)
            .arg("--csv")
            .arg(csv),
    );
    std::fs::read_to_string(csv).unwrap()
}

/// One HTTP/1.1 request: (status, response headers, body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    std::io::Write::write_all(&mut s, req.as_bytes()).unwrap();
    let mut resp = String::new();
    std::io::Read::read_to_string(&mut s, &mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

pub fn session_cookie(addr: &str, user: &str, password: &str) -> Option<String> {
    let (_, cookies) = sign_in(addr, None, user, password);
    cookies
        .into_iter()
        .find(|c| c.starts_with("aorta_session="))
}

/// `aorta results --csv CSV` over transport arguments `t`, whatever its
/// exit: (exit ok, the CSV or "", standard output and error).
pub fn results_any(keys: &Path, t: &[&str], csv: &Path) -> (bool, String, String) {
    let _ = std::fs::remove_file(csv);
    let o = aorta()
        .args(["results", "--keys"])
        .arg(keys)
        .args(t)
        .arg("--csv")
        .arg(csv)
        .output()
        .unwrap();
    (
        o.status.success(),
        std::fs::read_to_string(csv).unwrap_or_default(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// `aorta results serve` on a free loopback port, killed on drop; ready
/// once it has printed its address.
pub struct Serve {
    pub child: std::process::Child,
    pub url: String,
    pub addr: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(keys: &Path, spool: &Path, users: &Path, extra: &[&str]) -> Serve {
    use std::io::BufRead;
    use std::process::Stdio;
    let mut child = aorta()
        .args(["results", "serve", "--listen", "127.0.0.1:0", "--keys"])
        .arg(keys)
        .arg("--spool")
        .arg(spool)
        .arg("--users")
        .arg(users)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("dashboard: ")
        .unwrap_or_else(|| panic!("dashboard did not start: {line:?}"))
        .to_string();
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    Serve { child, url, addr }
}

/// `aorta results passwd`: adds `user` with `password` to the users file.
pub fn add_user(users: &Path, user: &str, password: &str) {
    use std::io::Write;
    let mut p = aorta()
        .args(["results", "passwd", "--user", user, "--users"])
        .arg(users)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    p.stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    assert!(p.wait().unwrap().success());
}

/// Envelopes the gateways wrote to partition 0 of `spool` (0 before any).
#[allow(dead_code)]
pub fn ingest_envelopes(spool: &Path) -> usize {
    let mut reader = aorta_spool::Spool::open(spool)
        .unwrap()
        .ingest_reader(aorta_transport::PartitionId(0))
        .unwrap();
    let mut n = 0;
    while let aorta_transport::Polled::Record { .. } =
        aorta_transport::Consumer::poll(&mut reader).unwrap()
    {
        n += 1;
    }
    n
}

/// A sign-in as `user`: where the answer sends the browser, and the
/// cookies it sets (name=value).
#[allow(dead_code)]
pub fn sign_in(
    addr: &str,
    cookie: Option<&str>,
    user: &str,
    password: &str,
) -> (String, Vec<String>) {
    let (status, head, _) = http(
        addr,
        "POST",
        "/login",
        cookie,
        &format!("user={user}&password={}", password.replace(' ', "+")),
    );
    assert_eq!(status, 303, "{head}");
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_default()
        .to_string();
    let cookies = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .filter_map(|c| c.split(';').next())
        .map(str::to_string)
        .collect();
    (location, cookies)
}
