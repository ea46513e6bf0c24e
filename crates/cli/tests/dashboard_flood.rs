//! Issue 21, finding 2: idle connections must not lock the ward out. Under
//! the common 1,024 open-file limit, 1,100 connections holding half a
//! request line are held against `aorta results serve`; a signed-in
//! nurse's `/api/ward` is answered within 2 s, a new sign-in works, and
//! the dashboard says what it did.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const PASSWORD: &str = "correct horse battery";

/// One request with a 2-s deadline for the whole answer.
fn within_2s(addr: &str, req: &str) -> std::io::Result<String> {
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(2)))?;
    c.write_all(req.as_bytes())?;
    let mut r = String::new();
    c.read_to_string(&mut r)?;
    Ok(r)
}

/// This test process holds 1,100 sockets: its own soft open-file limit is
/// raised toward the hard one if it is lower.
fn raise_own_open_file_limit(want: u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read or write one `rlimit` through a
    // pointer to a live, aligned local; no other memory is touched.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < want {
            r.rlim_cur = want.min(r.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

#[test]
fn idle_connections_do_not_lock_out_the_ward() {
    raise_own_open_file_limit(4096);
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    init_and_enrol_with(&keys, &spool, &["alice", "bob"], &["--algorithms", "hr"]);
    let users = dir.path().join("users");
    add_user(&users, "nurse", PASSWORD);
    // The dashboard under a 1,024 open-file limit.
    let mut child = Command::new("bash")
        .args(["-c", "ulimit -n 1024 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_aorta"))
        .args(["results", "serve", "--listen", "127.0.0.1:0", "--keys"])
        .arg(&keys)
        .arg("--spool")
        .arg(&spool)
        .arg("--users")
        .arg(&users)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .trim_start_matches("dashboard: http://")
        .trim_end_matches('/')
        .to_string();
    let cookie = session_cookie(&addr, "nurse", PASSWORD).unwrap();
    let ward = format!(
        "GET /api/ward HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    // The flood: 1,100 connections, each with half a request line.
    let mut held = Vec::new();
    for _ in 0..1100 {
        if let Ok(mut c) = TcpStream::connect(&addr) {
            let _ = c.write_all(b"GET /api/wa");
            held.push(c);
        }
    }
    assert!(held.len() >= 1000, "{}", held.len());
    for round in 0..3 {
        let r = within_2s(&addr, &ward)
            .unwrap_or_else(|e| panic!("round {round}: /api/ward not answered within 2 s: {e}"));
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("\"alice\""), "{r}");
    }
    // A new sign-in works during the flood too.
    let fresh = session_cookie(&addr, "nurse", PASSWORD);
    assert!(fresh.is_some());
    // Then 1,100 requests whose heads are complete and whose bodies never
    // come (a sign-in promising 16,000 bytes): being "answered" does not
    // make them unevictable.
    drop(std::mem::take(&mut held));
    for _ in 0..1100 {
        if let Ok(mut c) = TcpStream::connect(&addr) {
            let _ = c.write_all(
                format!("POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 16000\r\n\r\nuser=").as_bytes(),
            );
            held.push(c);
        }
    }
    assert!(held.len() >= 1000, "{}", held.len());
    for round in 0..3 {
        let r = within_2s(&addr, &ward).unwrap_or_else(|e| {
            panic!("slow bodies, round {round}: /api/ward not answered within 2 s: {e}")
        });
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }
    assert!(session_cookie(&addr, "nurse", PASSWORD).is_some());
    // The dashboard says what it did (its feed thread reports within a
    // poll); waited for line by line, not for a time.
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut told = None;
    while let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
    {
        if l.contains("waiting connections of strangers closed to make room") {
            told = Some(l);
            break;
        }
    }
    drop(held);
    let _ = child.kill();
    let _ = child.wait();
    let told = told.expect("the dashboard says what it did");
    eprintln!("{told}");
}

/// Issue 21, finding 3: password guessing is throttled per account (and
/// per address) without locking out a browser that signed in before.
#[test]
fn guessing_is_throttled_and_the_nurse_still_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let spool = dir.path().join("spool");
    init_and_enrol_with(&keys, &spool, &["alice"], &["--algorithms", "hr"]);
    let users = dir.path().join("users");
    add_user(&users, "nurse", PASSWORD);
    let s = serve(&keys, &spool, &users, &[]);
    // The nurse signed in from this browser yesterday: it holds a device
    // cookie for her.
    let (to, cookies) = sign_in(&s.addr, None, "nurse", PASSWORD);
    assert_eq!(to, "/");
    let device = cookies
        .iter()
        .find(|c| c.starts_with("aorta_device="))
        .expect("a device cookie")
        .clone();
    // 60 guesses as fast as the server answers.
    let (mut checked, mut throttled, mut wait) = (0, 0, 0u64);
    for i in 0..60 {
        let (to, _) = sign_in(&s.addr, None, "nurse", &format!("guess {i}"));
        if to == "/login?failed=1" {
            checked += 1;
        } else if let Some(w) = to.strip_prefix("/login?throttled=") {
            throttled += 1;
            wait = w.parse().unwrap();
        } else {
            panic!("{to}");
        }
    }
    eprintln!("{checked} passwords checked, {throttled} refused unchecked (try again in {wait} s)");
    // The account's bucket held 10, less the nurse's own sign-in.
    assert!(checked <= 10, "{checked} passwords checked");
    assert_eq!(checked + throttled, 60);
    assert!((1..=180).contains(&wait), "{wait}");
    // Even the right password waits, from a browser never seen...
    let (to, _) = sign_in(&s.addr, None, "nurse", PASSWORD);
    assert!(to.starts_with("/login?throttled="), "{to}");
    // ...but the nurse's browser signs in at once.
    let (to, cookies) = sign_in(&s.addr, Some(&device), "nurse", PASSWORD);
    assert_eq!(to, "/", "the nurse is not locked out");
    assert!(cookies.iter().any(|c| c.starts_with("aorta_session=")));
    // A device cookie is the nurse's only: with it, guesses at another
    // account are throttled like anyone's.
    let (status, head, _) = http(
        &s.addr,
        "POST",
        "/login",
        Some(&device),
        "user=admin&password=guess",
    );
    assert_eq!(status, 303);
    assert!(head.contains("location: /login?"), "{head}");
}
