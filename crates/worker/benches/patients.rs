//! Worker cost against the number of enrolled patients (issue 11, finding
//! 9): N patients, 2 minutes of RR each (12 ten-second envelopes, `hr`),
//! in-memory transports, default checkpoint policy. Before the fix, the
//! commit decision walked every stream on every record once 1,024 records
//! had passed: 20,000 patients took 242 s where 2,000 took 1.4 s.
//!
//!     cargo bench -p aorta-worker --bench patients [-- N N ...]
//!
//! Prints, per N: envelopes, worker seconds (median of runs), microseconds
//! per envelope, and time relative to the smallest N scaled by N (1.0 =
//! linear).

use std::time::Instant;

use aorta_testkit::{Fleet, MemInput, MemLog};
use aorta_wire::{Algorithm, AlgorithmSet};
use aorta_worker::{Keyring, Worker, WorkerConfig, WorkerKeys};

fn run(f: &Fleet, input: &[Vec<u8>]) -> f64 {
    let secret = aorta_envelope::KemSecret::from_bytes(*f.fleet.secret.expose_secret());
    let keys = WorkerKeys {
        fleet: Keyring::new([(1, secret)]),
        controller: f.controller.verifying_key(),
        source: None,
    };
    let mut w = Worker::new(
        WorkerConfig::default(),
        MemInput::new(input.to_vec()),
        f.enrolments(),
        MemLog::default(),
        keys,
        Fleet::rng(5),
        Box::new(|| 1),
    )
    .expect("worker");
    let t = Instant::now();
    w.drain(|_| {}).expect("drain");
    let s = t.elapsed().as_secs_f64();
    assert_eq!(w.report().counters.envelopes_accepted, input.len() as u64);
    s
}

fn main() {
    let ns: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let ns = if ns.is_empty() {
        vec![2_000, 20_000, 100_000]
    } else {
        ns
    };
    println!("patients  envelopes  worker_s  us_per_envelope  time/N vs smallest");
    let mut base = None;
    for n in ns {
        let f = Fleet::new(7, n, AlgorithmSet::of(&[Algorithm::HeartRate]));
        let input = f.produce(1_800_000_000_000_000, 12, None);
        let runs = if n >= 50_000 { 1 } else { 3 };
        let mut t: Vec<f64> = (0..runs).map(|_| run(&f, &input)).collect();
        t.sort_by(f64::total_cmp);
        let s = t[t.len() / 2];
        let per_n = s / n as f64;
        let rel = per_n / *base.get_or_insert(per_n);
        println!(
            "{n:>8}  {:>9}  {s:>8.2}  {:>15.2}  {rel:>18.2}",
            input.len(),
            s * 1e6 / input.len() as f64
        );
    }
}
