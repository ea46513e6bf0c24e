//! ECG beat detection throughput (issue 3, criterion 5): samples per second
//! on one core, over 5 minutes of a real MIT-BIH record (360 Hz).

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
}

criterion_group!(benches, bench);
criterion_main!(benches);
