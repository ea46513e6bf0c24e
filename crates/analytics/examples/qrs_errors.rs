//! Development aid: runs the QRS detector on every record of a WFDB
//! directory (default ../shared/data/mitdb) and prints per-record counts
//! and, with `-v`, the time of every false negative and false positive.
//! `cargo run --release -p aorta-analytics --example qrs_errors -- [DIR] [-v]`

use aorta_analytics::score::score;
use aorta_analytics::validate::evaluate;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let dir = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .cloned()
        .unwrap_or_else(|| "../shared/data/mitdb".into());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("data dir")
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            n.strip_suffix(".atr").map(str::to_string)
        })
        .collect();
    names.sort();
    let mut total = aorta_analytics::score::Score::default();
    for name in names {
        let p = |ext: &str| format!("{dir}/{name}.{ext}");
        let hea = std::fs::read_to_string(p("hea")).expect("hea");
        let dat = std::fs::read(p("dat")).expect("dat");
        let atr = std::fs::read(p("atr")).expect("atr");
        let r = evaluate(&name, &hea, &dat, &atr, 0, 4096).expect("evaluate");
        total.add(&r.score);
        println!(
            "{name}: TP {} FN {} FP {}",
            r.score.true_pos, r.score.false_neg, r.score.false_pos
        );
        if verbose {
            let w = (0.15 * r.fs).round() as u64;
            let fs = r.fs;
            let near = |t: u64, set: &[u64]| set.iter().any(|x| x.abs_diff(t) <= w);
            let inside = |t: u64| r.excluded.iter().any(|(a, b)| t >= *a && t < *b);
            let _ = score;
            for &t in &r.reference {
                if !inside(t) && !near(t, &r.detected) {
                    println!("  FN {:.3}", t as f64 / fs);
                }
            }
            for &t in &r.detected {
                if !inside(t) && !near(t, &r.reference) {
                    println!("  FP {:.3}", t as f64 / fs);
                }
            }
        }
    }
    println!(
        "TOTAL TP {} FN {} FP {} Se {:.3} +P {:.3}",
        total.true_pos,
        total.false_neg,
        total.false_pos,
        100.0 * total.sensitivity(),
        100.0 * total.positive_predictivity()
    );
}
