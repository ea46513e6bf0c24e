//! Streaming cost and memory per patient (issue 3, criterion 5): one
//! patient's `clinical` stream over 30 minutes of real RR intervals
//! (../shared/data/rr-healthy/000.txt), 10-s envelopes, every window
//! computed; and a raw-ECG stream (MIT-BIH 101, 5 minutes, 1-s batches).
//!
//! Memory is reported before the timings (criterion measures time only):
//! the largest `heap_bytes()` estimate seen over the run and the size of
//! the serialised state (what a checkpoint holds for that patient).

use aorta_analytics::validate::channel_mv;
use aorta_analytics::wfdb;
use aorta_hrv::HrvBands;
use aorta_runtime::ecg::WaveKind;
use aorta_runtime::{compute_window, ClosedWindow, Limits, StreamState};
use aorta_wire::{AlertThresholds, AlgorithmSet, EcgBatch, RrSample};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "../tests/common/mod.rs"]
mod common;
use common::{envelopes, Envelope, T0};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

fn rr_envelopes() -> Vec<Envelope> {
    let text = std::fs::read_to_string(format!("{DATA}/rr-healthy/000.txt")).unwrap();
    let mut t = T0;
    let mut samples = Vec::new();
    for v in text.lines().filter_map(|l| l.trim().parse::<i64>().ok()) {
        t += v * 1000;
        if t >= T0 + 1_800_000_000 {
            break;
        }
        samples.push(RrSample {
            t_us: t,
            rr_us: (v * 1000) as u32,
        });
    }
    envelopes(&samples, 180)
}

/// One patient's stream with `hr` and `clinical`, computing every window.
struct Patient {
    st: StreamState,
    limits: Limits,
    thresholds: AlertThresholds,
    bands: HrvBands,
    closed: Vec<ClosedWindow>,
    out: Vec<aorta_wire::ResultRecord>,
    max_heap: usize,
}

impl Patient {
    fn new() -> Self {
        Self {
            st: StreamState::new(AlgorithmSet::parse("hr,clinical").unwrap(), 0),
            limits: Limits::default(),
            thresholds: AlertThresholds::default(),
            bands: HrvBands::new(),
            closed: Vec::new(),
            out: Vec::new(),
            max_heap: 0,
        }
    }

    fn envelope(&mut self, seq: u64, s: &[RrSample], wm: i64, last: bool) {
        self.closed.clear();
        let (st, closed) = (&mut self.st, &mut self.closed);
        st.on_envelope(
            &self.limits,
            &aorta_runtime::Batch {
                session: 1,
                seq,
                samples: s,
                watermark: aorta_runtime::EventTime(wm),
                last,
                backlog: false,
            },
            closed,
        );
        for w in closed.iter() {
            compute_window(w, &mut self.bands, &mut self.out);
            st.clinical_step(w, &self.thresholds, &mut self.out);
        }
        self.max_heap = self.max_heap.max(st.heap_bytes());
    }
}

fn run_rr(envs: &[Envelope]) -> Patient {
    let mut p = Patient::new();
    for (i, (seq, s, wm)) in envs.iter().enumerate() {
        p.envelope(*seq, s, *wm, i + 1 == envs.len());
    }
    p
}

fn ecg_batches() -> Vec<EcgBatch> {
    let hea = std::fs::read_to_string(format!("{DATA}/mitdb/101.hea")).unwrap();
    let dat = std::fs::read(format!("{DATA}/mitdb/101.dat")).unwrap();
    let h = wfdb::Header::parse(&hea).unwrap();
    let mv = channel_mv(&h, &dat, 0).unwrap();
    mv[..360 * 300]
        .chunks(360)
        .enumerate()
        .map(|(k, c)| EcgBatch {
            fs_hz: 360,
            first_index: k as u64 * 360,
            origin_us: T0,
            watermark_us: T0 + (k as i64 + 1) * 1_000_000,
            samples: c.iter().map(|v| (v * 200.0).round() as i16).collect(),
        })
        .collect()
}

fn run_ecg(batches: &[EcgBatch]) -> Patient {
    let mut p = Patient::new();
    let mut rr = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        rr.clear();
        let last = i + 1 == batches.len();
        let wm =
            p.st.wave_to_rr(&p.limits, WaveKind::Ecg, b, last, &mut rr)
                .unwrap();
        p.envelope(i as u64, &rr, wm.micros(), last);
    }
    p
}

fn bench(c: &mut Criterion) {
    let envs = rr_envelopes();
    let p = run_rr(&envs);
    println!(
        "memory per patient, RR stream with `clinical` (5-min windows): max heap {} B, \
         checkpointed state {} B ({} result records in 30 min)",
        p.max_heap,
        p.st.to_bytes().unwrap().len(),
        p.out.len()
    );
    let batches = ecg_batches();
    let p = run_ecg(&batches);
    println!(
        "memory per patient, raw ECG stream at 360 Hz with `clinical`: max heap {} B, \
         checkpointed state {} B ({} result records in 5 min)",
        p.max_heap,
        p.st.to_bytes().unwrap().len(),
        p.out.len()
    );
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Elements(1));
    g.bench_function("clinical_patient_30min_rr", |b| {
        b.iter(|| run_rr(&envs).out.len())
    });
    g.throughput(Throughput::Elements((360 * 300) as u64));
    g.bench_function("ecg_patient_5min_360Hz", |b| {
        b.iter(|| run_ecg(&batches).out.len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
