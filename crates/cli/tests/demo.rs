//! Issue 25: what the demo shows a newcomer is what it found. Its summary
//! names the patient in AF and the bradycardic one (with --quiet too: that
//! hides only progress), and its plot marks both, carries the date and says
//! how many patients it shows.

mod common;

use common::*;

#[test]
fn the_demo_names_and_marks_what_it_found() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = run_ok(
        aorta()
            .args([
                "demo",
                "--patients",
                "12",
                "--minutes",
                "10",
                "--quiet",
                "--start",
                "1700000000",
            ])
            .arg("--out")
            .arg(&out),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    eprintln!("{text}");
    // The table is printed even with --quiet, with a findings block that
    // names exactly the two simulated conditions.
    assert!(text.contains("HR (bpm)"), "{text}");
    let findings: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("findings ("))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .collect();
    assert_eq!(findings.len(), 2, "{text}");
    assert!(
        findings[0].starts_with("patient-002: atrial fibrillation "),
        "{findings:?}"
    );
    assert!(
        findings[1].starts_with("patient-003: bradycardia "),
        "{findings:?}"
    );
    assert!(text.contains("findings (2 of 12 patients):"), "{text}");
    // The AF patient's row says so in the table too.
    let row = text
        .lines()
        .find(|l| l.starts_with("patient-002 "))
        .unwrap();
    assert!(row.contains("AF ") && row.contains(" min"), "{row}");

    let svg = std::fs::read_to_string(out.join("hrv-trends.svg")).unwrap();
    assert!(
        svg.contains("6 of 12 patients: those with AF or alerts first"),
        "title says how many"
    );
    assert!(svg.contains("2023-11-14"), "the date of --start");
    assert!(svg.contains("time of day (UTC"), "x axis named");
    // Both findings are drawn, each in both of its patient's panels, and
    // their patients come first.
    assert_eq!(
        svg.matches("class=\"episode AF\"").count(),
        2 * svg_episodes(&svg, "patient-002", "AF")
    );
    assert!(svg.matches("class=\"episode bradycardia\"").count() >= 2);
    let first = svg.find(">patient-002<").unwrap();
    let second = svg.find(">patient-003<").unwrap();
    let other = svg.find(">patient-001<").unwrap();
    assert!(
        first < second && second < other,
        "patients with findings first"
    );
}

/// How many `kind` episodes the plot draws for `patient` (per panel).
fn svg_episodes(svg: &str, patient: &str, kind: &str) -> usize {
    let at = svg.find(&format!(">{patient}<")).unwrap();
    let rest = &svg[at..];
    let end = rest[1..].find(">patient-").map_or(rest.len(), |i| i + 1);
    let n = rest[..end]
        .matches(&format!("class=\"episode {kind}\""))
        .count();
    assert!(n >= 2, "{patient}: {n}");
    n / 2
}
