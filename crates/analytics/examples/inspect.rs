use aorta_analytics::{wfdb, QrsDetector};
fn main() {
    let r = std::env::args().nth(1).unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mitdb");
    let h =
        wfdb::Header::parse(&std::fs::read_to_string(format!("{dir}/{r}.hea")).unwrap()).unwrap();
    let sig = wfdb::decode(
        212,
        h.signals.len(),
        &std::fs::read(format!("{dir}/{r}.dat")).unwrap(),
    )
    .unwrap();
    let s0 = &h.signals[0];
    let mv: Vec<f32> = sig[0]
        .iter()
        .map(|v| (*v - s0.baseline) as f32 / s0.gain as f32)
        .collect();
    let ann = wfdb::parse_annotations(&std::fs::read(format!("{dir}/{r}.atr")).unwrap()).unwrap();
    let reference: Vec<u64> = ann
        .iter()
        .filter(|a| a.is_beat())
        .map(|a| a.sample)
        .collect();
    let mut det = QrsDetector::new(h.fs).unwrap();
    let mut beats = Vec::new();
    det.push(&mv, &mut beats);
    let mut shown = 0;
    for b in &beats {
        let i = reference.partition_point(|x| *x < b.sample);
        let prev = i.checked_sub(1).map(|j| reference[j]);
        let next = reference.get(i).copied();
        let dp = prev.map(|p| b.sample as i64 - p as i64).unwrap_or(99999);
        let dn = next.map(|n| n as i64 - b.sample as i64).unwrap_or(99999);
        if dp.min(dn) > 54 && shown < 30 {
            println!(
                "FP at {} ({:.2}s): {} after prev ref, {} before next ref, sb={}",
                b.sample,
                b.sample as f64 / 360.0,
                dp,
                dn,
                b.searched_back
            );
            shown += 1;
        }
    }
    let ds: Vec<u64> = beats.iter().map(|b| b.sample).collect();
    let mut shown = 0;
    for r in &reference {
        let i = ds.partition_point(|x| *x < *r);
        let near = [i.checked_sub(1).map(|j| ds[j]), ds.get(i).copied()]
            .iter()
            .flatten()
            .any(|d| d.abs_diff(*r) <= 54);
        if !near && shown < 25 {
            println!("FN at {} ({:.2}s)", r, *r as f64 / 360.0);
            shown += 1;
        }
    }
    let q = det.take_quality();
    println!(
        "segments {} not ok {}",
        q.len(),
        q.iter().filter(|s| !s.ok()).count()
    );
}
// FN listing appended via env var
