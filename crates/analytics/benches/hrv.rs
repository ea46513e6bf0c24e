//! Full HRV of a 5-minute window (time + frequency + non-linear) in µs
//! (issue 3, criterion 5; target under 1 ms), on a real NN series.

use aorta_analytics::af::{AfConfig, AfDetector};
use aorta_analytics::hrv::{self, Spectrum};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let nn: Vec<f64> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/nsr001_w1.txt"
    ))
    .unwrap()
    .lines()
    .map(|l| l.trim().parse().unwrap())
    .collect();
    let t = hrv::cumulative_times(&nn);
    let mut g = c.benchmark_group("hrv_5min");
    g.bench_function(format!("full_welch_{}_beats", nn.len()), |b| {
        b.iter(|| hrv::hrv(&nn, Some(&t), Spectrum::Welch))
    });
    g.bench_function(format!("full_lomb_{}_beats", nn.len()), |b| {
        b.iter(|| hrv::hrv(&nn, Some(&t), Spectrum::LombScargle))
    });
    g.bench_function("time_domain", |b| b.iter(|| hrv::time_domain(&nn)));
    g.bench_function("nonlinear", |b| b.iter(|| hrv::nonlinear(&nn)));
    g.bench_function("welch", |b| {
        b.iter(|| hrv::frequency_domain(&nn, &t, Spectrum::Welch))
    });
    g.finish();
    // AF detection: the streaming detector over the same series, per beat.
    let mut g = c.benchmark_group("af");
    g.throughput(criterion::Throughput::Elements(nn.len() as u64));
    g.bench_function(format!("af_detector_{}_beats", nn.len()), |b| {
        b.iter(|| {
            let mut d = AfDetector::new(AfConfig::default());
            nn.iter()
                .zip(&t)
                .filter_map(|(rr, t)| d.push(*rr, *t).0)
                .count()
        })
    });
    // The pattern search's hard case: every other interval the same, so
    // half the templates share one band, and the others at random, so
    // few of them match (each scans its band).
    let mut x = 1u64;
    let hard: Vec<f64> = (0..nn.len())
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i % 2 == 0 {
                800.0
            } else {
                400.0 + (x >> 33) as f64 % 800.0
            }
        })
        .collect();
    let th = hrv::cumulative_times(&hard);
    g.bench_function(format!("af_detector_hard_{}_beats", hard.len()), |b| {
        b.iter(|| {
            let mut d = AfDetector::new(AfConfig::default());
            hard.iter()
                .zip(&th)
                .filter_map(|(rr, t)| d.push(*rr, *t).0)
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
