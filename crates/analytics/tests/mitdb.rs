//! Acceptance (issue 3, criterion 1): R-peak detection on the 22 MIT-BIH
//! records in ../shared/data/mitdb, channel 0, ±150 ms, all beat types,
//! ventricular flutter excluded (EC57): sensitivity and positive
//! predictivity each at least 99.5 % overall; identical detections whether
//! a record arrives sample by sample or in 37- or 4096-sample chunks.

use aorta_analytics::score::Score;
use aorta_analytics::validate::{evaluate, record_names, RecordResult};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mitdb");

fn records() -> Vec<String> {
    let files = std::fs::read_dir(DIR).unwrap().filter_map(|e| e.ok());
    record_names(
        files.map(|e| e.file_name().to_string_lossy().into_owned()),
        "",
        ".hea",
    )
}

fn run(name: &str, chunk: usize) -> RecordResult {
    let read = |ext: &str| std::fs::read(format!("{DIR}/{name}.{ext}")).unwrap();
    let hea = String::from_utf8(read("hea")).unwrap();
    evaluate(name, &hea, &read("dat"), &read("atr"), 0, chunk).unwrap()
}

#[test]
fn all_22_records_reach_995_sensitivity_and_positive_predictivity() {
    let recs = records();
    assert_eq!(recs.len(), 22);
    let mut total = Score::default();
    for r in &recs {
        let res = run(r, 4096);
        assert!(res.score.sensitivity() > 0.9, "{r}: {:?}", res.score);
        total.add(&res.score);
    }
    assert!(total.true_pos > 50_000, "{total:?}");
    assert!(
        total.sensitivity() >= 0.995,
        "Se {:.4} {total:?}",
        total.sensitivity()
    );
    assert!(
        total.positive_predictivity() >= 0.995,
        "+P {:.4} {total:?}",
        total.positive_predictivity()
    );
}

#[test]
fn chunking_does_not_change_detections() {
    for r in ["108", "203", "207"] {
        let whole = run(r, 4096).detected;
        assert!(whole.len() > 1500);
        assert_eq!(run(r, 37).detected, whole, "{r}: 37-sample chunks");
        assert_eq!(run(r, 1).detected, whole, "{r}: 1-sample chunks");
    }
}
