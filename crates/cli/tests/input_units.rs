//! Issue 25, finding 5: paper-format input in the wrong units is refused
//! with the probable unit and the fix, naming the operator's file; bad
//! lines are named by file and counted in the summary; a run that computes
//! nothing valid exits non-zero.

mod common;

use std::path::Path;

use common::*;

/// Ten minutes of paper-format lines at about 75 bpm, RR in `rr_scale` µs.
fn write_rr(path: &Path, rr_divisor: u32, bad_lines: usize) {
    let mut text = String::new();
    let mut t_us: i64 = 1_546_300_800_000_000;
    let mut i = 0u32;
    while t_us < 1_546_300_800_000_000 + 600_000_000 {
        let rr = 800_000 + (i % 7) * 10_000;
        t_us += i64::from(rr);
        text.push_str(&format!(
            "{}.{:06},{}\n",
            t_us / 1_000_000,
            t_us % 1_000_000,
            rr / rr_divisor
        ));
        if (i as usize) < bad_lines {
            text.push_str("1546300801;not a sample\n");
        }
        i += 1;
    }
    std::fs::write(path, text).unwrap();
}

fn demo(input: &Path, out: &Path) -> std::process::Output {
    aorta()
        .args(["demo", "--quiet", "--algorithms", "hr,sdnn", "--input"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn milliseconds_are_refused_naming_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    write_rr(&input.join("alice.csv"), 1, 0);
    write_rr(&input.join("bob.csv"), 1000, 0);
    let o = demo(&input, &dir.path().join("out"));
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!("{err}");
    assert!(
        !o.status.success(),
        "nothing valid can come of milliseconds"
    );
    assert!(
        err.contains(&input.join("bob.csv").display().to_string()),
        "{err}"
    );
    assert!(err.contains("look like milliseconds"), "{err}");
    assert!(err.contains("multiply RR by 1000"), "{err}");
    assert!(
        !err.contains("alice.csv"),
        "the right file is not blamed: {err}"
    );
    // Nothing was sealed or computed.
    assert!(!dir.path().join("out/results.csv").exists());
}

#[test]
fn bad_lines_are_named_by_file_and_counted_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    write_rr(&input.join("alice.csv"), 1, 0);
    write_rr(&input.join("bob.csv"), 1, 3);
    let o = demo(&input, &dir.path().join("out"));
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    eprintln!("{out}\n{err}");
    assert!(o.status.success(), "{err}");
    let file = input.join("bob.csv").display().to_string();
    assert!(
        err.lines()
            .any(|l| l.contains(&file) && l.contains("3 lines skipped")),
        "{err}"
    );
    assert!(out.contains("3 input lines skipped"), "{out}");
    // No line content reaches the terminal or the untrusted logs.
    assert!(!err.contains("not a sample") && !out.contains("not a sample"));
    let logs = std::fs::read_to_string(dir.path().join("out/untrusted/logs/worker.log")).unwrap();
    assert!(!logs.contains("bob") && !logs.contains("alice"), "{logs}");
    // Heart rate near 72 bpm for both (RR 0.8–0.86 s).
    let csv = std::fs::read_to_string(dir.path().join("out/results.csv")).unwrap();
    let hr: Vec<f64> = csv
        .lines()
        .filter(|l| l.starts_with("bob,") && l.contains(",hr,hr,"))
        .filter_map(|l| l.split(',').nth(4)?.parse().ok())
        .filter(|v: &f64| v.is_finite())
        .collect();
    assert!(hr.len() > 50, "{}", hr.len());
    assert!(hr.iter().all(|v| (69.0..76.0).contains(v)), "{hr:?}");
}

#[test]
fn a_run_that_computes_nothing_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("carol.csv"), "garbage\nmore garbage\n").unwrap();
    let o = demo(&input, &dir.path().join("out"));
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!("{err}");
    assert!(!o.status.success());
    assert!(err.contains("carol.csv"), "{err}");
}

#[test]
fn the_gateway_refuses_milliseconds_naming_the_file_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, spool, input) = (
        dir.path().join("keys"),
        dir.path().join("spool"),
        dir.path().join("in"),
    );
    std::fs::create_dir(&input).unwrap();
    init_and_enrol(&keys, &spool, &["alice".to_string(), "bob".to_string()]);
    write_rr(&input.join("alice.csv"), 1, 2);
    write_rr(&input.join("bob.csv"), 1000, 0);
    let kbs = Kbs::start(&keys, true);
    attest_simulated_worker(&keys, &spool, &kbs);
    let gateway = || {
        let mut c = aorta();
        c.args([
            "gateway",
            "--kbs",
            &kbs.addr,
            "--allow-simulated",
            "--input",
        ])
        .arg(&input)
        .arg("--keys")
        .arg(&keys)
        .arg("--spool")
        .arg(&spool);
        c
    };
    // Into a pipe (a log collector, say): the stream's pseudonym only.
    let o = gateway().output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!("{err}");
    assert!(!o.status.success());
    assert!(err.contains("(its input file): RR values"), "{err}");
    assert!(err.contains("multiply RR by 1000"), "{err}");
    assert!(!err.contains("bob") && !err.contains("alice"), "{err}");
    // At an operator's terminal (a pty from util-linux `script`): the file.
    let cmd = gateway();
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let o = std::process::Command::new("script")
        .args(["-qec", &line.join(" "), "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&o.stdout);
    assert!(
        tty.contains(&format!("{} (stream ", input.join("bob.csv").display())),
        "{tty}"
    );
    assert!(tty.contains("multiply RR by 1000"), "{tty}");
    assert_eq!(ingest_envelopes(&spool), 0, "nothing sent");
    // Fixed, it runs and its summary counts alice's two bad lines.
    write_rr(&input.join("bob.csv"), 1, 0);
    let o = run_ok(&mut gateway());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("2 input lines skipped"), "{out}");
    assert!(ingest_envelopes(&spool) > 0, "and sent");
}
