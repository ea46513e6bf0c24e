//! Acceptance (issue 3, criterion 3): AF detection on the 13 afdb records
//! in ../shared/data/afdb, scored by duration against the reference rhythm
//! (AFIB = AF; N, AFL, J = not AF): overall sensitivity and specificity
//! each at least 95 %.

use aorta_analytics::af::AfConfig;
use aorta_analytics::validate::{afdb_record, record_names, AfResult};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/afdb");

#[test]
fn afdb_overall_sensitivity_and_specificity_reach_95() {
    let files = std::fs::read_dir(DIR).unwrap().filter_map(|e| e.ok());
    let names = record_names(
        files.map(|e| e.file_name().to_string_lossy().into_owned()),
        "qrs",
        ".txt",
    );
    assert_eq!(names.len(), 13);
    let mut total = AfResult::default();
    for n in &names {
        let qrs = std::fs::read_to_string(format!("{DIR}/qrs{n}.txt")).unwrap();
        let atr = std::fs::read_to_string(format!("{DIR}/atr{n}.txt")).unwrap();
        let r = afdb_record(n, &qrs, &atr, AfConfig::default()).unwrap();
        assert!(
            r.tp_s + r.fn_s + r.tn_s + r.fp_s > 30_000.0,
            "{n}: ~10 h scored"
        );
        total.add(&r);
    }
    assert!(total.sensitivity() >= 0.95, "Se {:.4}", total.sensitivity());
    assert!(total.specificity() >= 0.95, "Sp {:.4}", total.specificity());
}
