//! Quick scoring loop over ../shared/data/mitdb (development aid; the
//! product's report is `aorta validate`).
use aorta_analytics::{score, wfdb, QrsDetector};

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mitdb");
    let mut recs: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter_map(|n| n.strip_suffix(".hea").map(String::from))
        .collect();
    recs.sort();
    let mut total = score::Score::default();
    let mut offsets = Vec::new();
    for r in &recs {
        let h = wfdb::Header::parse(&std::fs::read_to_string(format!("{dir}/{r}.hea")).unwrap())
            .unwrap();
        let sig = wfdb::decode(
            h.signals[0].format,
            h.signals.len(),
            &std::fs::read(format!("{dir}/{r}.dat")).unwrap(),
        )
        .unwrap();
        let s0 = &h.signals[0];
        let mv: Vec<f32> = sig[0]
            .iter()
            .map(|v| (*v - s0.baseline) as f32 / s0.gain as f32)
            .collect();
        let ann =
            wfdb::parse_annotations(&std::fs::read(format!("{dir}/{r}.atr")).unwrap()).unwrap();
        let reference: Vec<u64> = ann
            .iter()
            .filter(|a| a.is_beat())
            .map(|a| a.sample)
            .collect();
        // VF spans: rhythm (VFL ... next rhythm; [ ... ].
        let mut excl = Vec::new();
        let mut open: Option<u64> = None;
        for a in &ann {
            if a.code == 28 {
                if let Some(s) = open.take() {
                    excl.push((s, a.sample));
                }
                if a.aux.starts_with("(VF") {
                    open = Some(a.sample);
                }
            }
            if a.code == 32 {
                open = open.or(Some(a.sample));
            }
            if a.code == 33 {
                if let Some(s) = open.take() {
                    excl.push((s, a.sample));
                }
            }
        }
        if let Some(s) = open {
            excl.push((s, u64::MAX));
        }
        let mut det = QrsDetector::new(h.fs).unwrap();
        let mut beats = Vec::new();
        det.push(&mv, &mut beats);
        let d: Vec<u64> = beats.iter().map(|b| b.sample).collect();
        let w = (0.15 * h.fs).round() as u64;
        let s = score::score(&reference, &d, w, &excl);
        // offset stats
        for x in &d {
            if let Ok(i) = reference.binary_search(x).or_else(|i| Ok::<usize, ()>(i)) {
                for j in [i.saturating_sub(1), i] {
                    if let Some(rv) = reference.get(j) {
                        if rv.abs_diff(*x) < w {
                            offsets.push(*x as i64 - *rv as i64);
                        }
                    }
                }
            }
        }
        println!(
            "{r}: ref {} det {} TP {} FN {} FP {} Se {:.4} +P {:.4} excl {:?}",
            reference.len(),
            d.len(),
            s.true_pos,
            s.false_neg,
            s.false_pos,
            s.sensitivity(),
            s.positive_predictivity(),
            excl
        );
        total.add(&s);
    }
    offsets.sort();
    println!(
        "TOTAL TP {} FN {} FP {} Se {:.4} +P {:.4}; median offset {}",
        total.true_pos,
        total.false_neg,
        total.false_pos,
        total.sensitivity(),
        total.positive_predictivity(),
        offsets[offsets.len() / 2]
    );
}
