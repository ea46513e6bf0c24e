//! Development aid: the distribution of the beat-shape similarity index on
//! the clean records of a WFDB directory (to set its limit), and how much
//! of the noise stress spans it and the whole quality check flag.
use aorta_analytics::noise::NoiseKind;
use aorta_analytics::validate::{channel_mv, evaluate, record_names, stress_record, StressResult};
use aorta_analytics::{wfdb, QrsDetector};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/mitdb".into());
    let names = record_names(
        std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok()),
        "",
        ".atr",
    );
    let lim: f32 = std::env::var("SIM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.93);
    let mut sims = Vec::new();
    let mut recs = Vec::new();
    for name in &names {
        let hea = std::fs::read_to_string(format!("{dir}/{name}.hea")).unwrap();
        let dat = std::fs::read(format!("{dir}/{name}.dat")).unwrap();
        let atr = std::fs::read(format!("{dir}/{name}.atr")).unwrap();
        let h = wfdb::Header::parse(&hea).unwrap();
        let mv = channel_mv(&h, &dat, 0).unwrap();
        let mut det = QrsDetector::new(h.fs).unwrap();
        let mut beats = Vec::new();
        det.push(&mv, &mut beats);
        det.finish(&mut beats);
        let q = det.take_quality();
        if std::env::var("DUMP").is_ok_and(|d| d == *name) {
            for (i, s) in q.iter().enumerate() {
                println!("{name} segment {i}: ok {} {:?}", s.ok(), s.sqi);
            }
        }
        let ann = wfdb::parse_annotations(&atr).unwrap();
        let af = aorta_analytics::validate::af_spans(&ann, h.fs);
        if !af.is_empty() {
            let inside: Vec<_> = q
                .iter()
                .filter(|q| {
                    let (a, b) = (q.start as f64 / h.fs, (q.start + q.len) as f64 / h.fs);
                    af.iter().any(|(x, y)| a >= *x && b <= *y)
                })
                .collect();
            let sim = inside.iter().filter(|q| q.sqi.similarity < lim).count();
            let all = inside.iter().filter(|q| !q.ok()).count();
            println!(
                "{name}: AF segments {} flagged by similarity {sim}, in all {all}",
                inside.len()
            );
        }
        let low = q.iter().filter(|q| q.sqi.similarity < lim).count();
        println!("{name}: {low}/{} segments below the limit", q.len());
        sims.extend(q.iter().map(|q| q.sqi.similarity));
        recs.push((evaluate(name, &hea, &dat, &atr, 0, 4096).unwrap(), mv));
    }
    sims.sort_by(f32::total_cmp);
    let pct = |p: f64| sims[((sims.len() - 1) as f64 * p / 100.0).round() as usize];
    println!(
        "similarity over {} clean segments: p0.5 {:.3} p1 {:.3} p2 {:.3} p5 {:.3} p50 {:.3}",
        sims.len(),
        pct(0.5),
        pct(1.0),
        pct(2.0),
        pct(5.0),
        pct(50.0)
    );
    for (kind, snr) in [
        (NoiseKind::Motion, 0.0),
        (NoiseKind::Motion, 6.0),
        (NoiseKind::Muscle, 0.0),
        (NoiseKind::Muscle, 12.0),
        (NoiseKind::Wander, -6.0),
    ] {
        let (mut a, mut b) = (StressResult::default(), StressResult::default());
        for (r, mv) in &recs {
            a.add(&stress_record(r, mv, kind, snr, 1, |q| q.sqi.similarity < lim).unwrap());
            b.add(&stress_record(r, mv, kind, snr, 1, |q| !q.ok()).unwrap());
        }
        println!(
            "{kind:?} {snr} dB: Se {:.2} +P {:.2}; similarity flags noisy {}/{} clean {}/{}; all flags noisy {}/{} clean {}/{}",
            100.0 * b.score.sensitivity(),
            100.0 * b.score.positive_predictivity(),
            a.noisy_flagged, a.noisy_segments, a.clean_flagged, a.clean_segments,
            b.noisy_flagged, b.noisy_segments, b.clean_flagged, b.clean_segments
        );
    }
}
