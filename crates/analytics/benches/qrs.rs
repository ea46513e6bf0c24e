//! Beat detection throughput (issue 3, criterion 5): samples per second on
//! one core, over 5 minutes of a real MIT-BIH record (ECG, 360 Hz) and of a
//! synthetic PPG (64 Hz, no annotated PPG recording is at hand).

use aorta_analytics::ppg::PpgDetector;
use aorta_analytics::validate::channel_mv;
use aorta_analytics::{wfdb, QrsDetector};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mitdb");
    let hea = std::fs::read_to_string(format!("{dir}/203.hea")).unwrap();
    let dat = std::fs::read(format!("{dir}/203.dat")).unwrap();
    let h = wfdb::Header::parse(&hea).unwrap();
    let mv = channel_mv(&h, &dat, 0).unwrap();
    let five_min = &mv[..(300.0 * h.fs) as usize];
    let mut g = c.benchmark_group("ecg");
    g.throughput(Throughput::Elements(five_min.len() as u64));
    g.bench_function("qrs_detect_5min_360Hz", |b| {
        let mut beats = Vec::with_capacity(1024);
        b.iter(|| {
            let mut d = QrsDetector::new(h.fs).unwrap();
            beats.clear();
            d.push(five_min, &mut beats);
            d.finish(&mut beats);
            beats.len()
        })
    });
    g.finish();
    // PPG: a pulse every 0.8 s with a dicrotic wave, 64 Hz.
    let ppg: Vec<f32> = (0..300 * 64)
        .map(|i| {
            let d = (i as f32 / 64.0) % 0.8;
            (-(d - 0.2).powi(2) / 0.0098).exp() + 0.4 * (-(d - 0.5).powi(2) / 0.02).exp()
        })
        .collect();
    let mut g = c.benchmark_group("ppg");
    g.throughput(Throughput::Elements(ppg.len() as u64));
    g.bench_function("ppg_detect_5min_64Hz", |b| {
        let mut pulses = Vec::with_capacity(1024);
        b.iter(|| {
            let mut d = PpgDetector::new(64.0).unwrap();
            pulses.clear();
            d.push(&ppg, &mut pulses);
            d.finish(&mut pulses);
            pulses.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
