//! Development aid: noise stress over every record of a WFDB directory.
use aorta_analytics::noise::NoiseKind;
use aorta_analytics::validate::{channel_mv, evaluate, record_names, stress_record, StressResult};
use aorta_analytics::wfdb;

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
    let recs: Vec<_> = names
        .iter()
        .map(|name| {
            let hea = std::fs::read_to_string(format!("{dir}/{name}.hea")).unwrap();
            let dat = std::fs::read(format!("{dir}/{name}.dat")).unwrap();
            let atr = std::fs::read(format!("{dir}/{name}.atr")).unwrap();
            let h = wfdb::Header::parse(&hea).unwrap();
            let mv = channel_mv(&h, &dat, 0).unwrap();
            (evaluate(name, &hea, &dat, &atr, 0, 4096).unwrap(), mv)
        })
        .collect();
    for kind in NoiseKind::ALL {
        for snr in [24.0, 18.0, 12.0, 6.0, 0.0, -6.0] {
            let mut t = StressResult::default();
            let mut worst = Vec::new();
            for (r, mv) in &recs {
                let s = stress_record(r, mv, kind, snr, 1, |q| !q.ok()).unwrap();
                worst.push((s.score.false_pos + s.score.false_neg, r.name.clone()));
                t.add(&s);
            }
            worst.sort();
            worst.reverse();
            println!(
                "{kind:?} {snr:>5} dB: Se {:.2} +P {:.2} | noisy flagged {}/{} clean flagged {}/{}  worst {:?}",
                100.0 * t.score.sensitivity(),
                100.0 * t.score.positive_predictivity(),
                t.noisy_flagged, t.noisy_segments, t.clean_flagged, t.clean_segments, &worst[..3]
            );
        }
    }
}
