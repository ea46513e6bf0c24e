//! Development aid: the AF detector on afdb with settings from the
//! command line (`key=value` pairs of AfConfig fields).
use aorta_analytics::af::AfConfig;
use aorta_analytics::validate::{afdb_record, AfResult, EPISODE_BUCKETS};

fn main() {
    let mut cfg = AfConfig::default();
    for a in std::env::args().skip(1) {
        let (k, v) = a.split_once('=').unwrap();
        let f: f64 = v.parse().unwrap();
        match k {
            "window" => cfg.window = f as usize,
            "onset" => cfg.onset = f,
            "offset" => cfg.offset = f,
            "conc" => cfg.max_concentration = f,
            "band" => cfg.band = f,
            "lag" => cfg.max_lag = f as usize,
            "comp" => cfg.compensation = f,
            "run" => cfg.min_run = f as u32,
            "maxirr" => cfg.max_irregularity = f,
            _ => panic!("{k}"),
        }
    }
    let dir = "../shared/data/afdb";
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .into_string()
                .ok()?
                .strip_prefix("qrs")?
                .strip_suffix(".txt")
                .map(String::from)
        })
        .collect();
    names.sort();
    let mut t = AfResult::default();
    for n in &names {
        let qrs = std::fs::read_to_string(format!("{dir}/qrs{n}.txt")).unwrap();
        let atr = std::fs::read_to_string(format!("{dir}/atr{n}.txt")).unwrap();
        let r = afdb_record(n, &qrs, &atr, cfg).unwrap();
        t.add(&r);
    }
    let b: Vec<String> = EPISODE_BUCKETS
        .iter()
        .map(|(l, lo, hi)| {
            let (f, n) = t.episodes_found(*lo, *hi);
            format!("{l}: {f}/{n}")
        })
        .collect();
    println!(
        "Se {:.2} Sp {:.2} onsets {} unjudged {:.0} s | {}",
        100.0 * t.sensitivity(),
        100.0 * t.specificity(),
        t.onsets,
        t.unjudged_s,
        b.join("  ")
    );
}
