use aorta_hrv::{rmssd_us, BlockSums, HrvBands};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("block");
    for n in [100usize, 7120] {
        let x: Vec<u32> = (0..n)
            .map(|j| 800_000 + ((j * 7919) % 50_000) as u32)
            .collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("sdnn_{n}"), |b| {
            b.iter(|| BlockSums::from_slice(&x).sdnn_us())
        });
        g.bench_function(format!("rmssd_{n}"), |b| b.iter(|| rmssd_us(&x)));
        let mut bands = HrvBands::new();
        g.bench_function(format!("hrv_bands_{n}"), |b| b.iter(|| bands.compute(&x)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
