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
        use std::io::BufRead;
        let mut cmd = aorta();
        cmd.args(["kbs", "serve", "--listen", "127.0.0.1:0", "--keys"])
            .arg(keys)
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
