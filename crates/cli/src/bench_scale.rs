//! `aorta bench-scale`: worker throughput against the number of worker
//! processes, on input already in a partitioned transport (no gateway
//! running while timed), for the embedded spool and NATS JetStream.
//!
//! Prepare (untimed): keys, enrolments, and the gateway's sealed envelopes
//! of the whole workload in `--partitions` partitions. Then, per worker
//! count W and repetition: fresh output (a copy of the prepared spool, or
//! NATS output streams deleted and recreated), W `aorta bench-scale-worker`
//! processes started together, each owning every W-th partition; timed
//! from the first spawn to the last exit (process start, connection,
//! reading, authenticating, decrypting, computing, sealing and committing
//! results included).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use aorta_gateway::source::PaperLoad;
use aorta_wire::AlgorithmSet;

use crate::keystore::KeyStore;
use crate::pipeline::{self, ReplayStream};
use crate::tee;
use crate::transport::{envelope_producer, Deployment, Open, TransportArgs};
use aorta_worker::role::{AnyWorker, WorkerRole};

#[derive(clap::Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub w: crate::bench::Workload,
    /// Worker process counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub workers: Vec<u32>,
    /// Partitions (a multiple of every worker count balances the load).
    #[arg(long, default_value_t = 4)]
    pub partitions: u32,
    /// Repetitions per point (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: u32,
    /// Scale by worker processes of one thread each (`processes`), or by
    /// threads of one process (`threads`).
    #[arg(long, value_delimiter = ',', default_value = "processes,threads")]
    pub by: Vec<String>,
}

#[derive(clap::Args)]
pub struct ScaleWorkerArgs {
    #[arg(long)]
    pub keys: PathBuf,
    #[command(flatten)]
    pub transport: TransportArgs,
    #[arg(long)]
    pub partitions: u32,
    #[arg(long, value_delimiter = ',')]
    pub partition: Vec<u32>,
    /// Threads; each processes its share of the partitions one after
    /// another.
    #[arg(long, default_value_t = 1)]
    pub threads: u32,
}

/// Keys, enrolments and the workload's envelopes in `transport`.
fn prepare(
    w: &crate::bench::Workload,
    dir: &Path,
    transport: &dyn Deployment,
    partitions: u32,
) -> Result<u64> {
    let algos = AlgorithmSet::parse(&w.algorithms).map_err(anyhow::Error::msg)?;
    let keys = KeyStore::init(&dir.join("keys"))?;
    let patients = crate::bench::enrol_clients(&keys, w, algos, transport)?;
    let store = keys.store()?;
    let epoch = store.current()?;
    // The benchmark holds the fleet key itself: no broker, no evidence.
    let fleet = aorta_kbs::VerifiedFleet::dangerous_unverified(store.public(epoch)?, epoch);
    let mut rng = tee::sys_rng();
    let session = aorta_gateway::batcher::new_session_id(&mut rng);
    let start_us: i64 = 1_546_300_800_000_000;
    let end_us = start_us + i64::from(w.seconds) * 1_000_000;
    let mut streams = Vec::new();
    for (i, p) in patients.iter().enumerate() {
        let sender = keys.stream_sender(p, session, &fleet, &mut rng)?;
        let mut load = PaperLoad::new(i as u64 + 1, w.rate, start_us);
        let seconds = w.seconds;
        streams.push(ReplayStream::from_chunks(
            sender,
            Box::new((0..seconds).map(move |_| load.next_second())),
        ));
    }
    let mut out = envelope_producer(transport, partitions)?;
    let stats = pipeline::replay(
        &mut streams,
        &mut out,
        (start_us, end_us),
        None,
        &mut rng,
        |_| {},
    )?;
    Ok(stats.samples)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(a: ScaleArgs) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut table = Vec::new();
    // `--transport spool,nats://...`: each in turn.
    for t in
        a.w.transport
            .split(',')
            .map(str::to_string)
            .collect::<Vec<_>>()
            .iter()
    {
        let dir = a.w.tmp.join(format!(
            "aorta-scale-{}-{}",
            std::process::id(),
            tee::unix_now_ms()
        ));
        std::fs::create_dir_all(&dir)?;
        let template = dir.join("prepared");
        // `spool` is a spool of this run's own, prepared once.
        let spec = if t == "spool" {
            format!("spool:{}", template.display())
        } else {
            t.clone()
        };
        let transport = crate::transport::fresh(Some(&spec), &template, a.partitions)?;
        let label = transport.label();
        let t0 = Instant::now();
        let samples = prepare(&a.w, &dir, &*transport, a.partitions)?;
        println!(
            "{label}: prepared {samples} samples of {} clients in {} partitions ({:.1} s, untimed)",
            a.w.clients,
            a.partitions,
            t0.elapsed().as_secs_f64()
        );
        for by in &a.by {
            let threads_mode = match by.as_str() {
                "processes" => false,
                "threads" => true,
                other => bail!("--by {other}: processes or threads"),
            };
            for &workers in &a.workers {
                if workers == 0 || workers > a.partitions {
                    bail!("--workers {workers}: between 1 and --partitions");
                }
                let mut walls = Vec::new();
                for rep in 0..a.reps {
                    // Every repetition reads the same input afresh.
                    transport.dangerous_delete_outputs()?;
                    transport.prepare(a.partitions)?;
                    // Nothing dirty may be written back inside the timed
                    // region (the workers fdatasync).
                    let _ = Command::new("sync").status();
                    let run_t = vec!["--transport".to_string(), spec.clone()];
                    let started = Instant::now();
                    let (procs, threads) = if threads_mode {
                        (1, workers)
                    } else {
                        (workers, 1)
                    };
                    let children: Vec<_> = (0..procs)
                        .map(|k| {
                            let owned: Vec<String> = (0..a.partitions)
                                .filter(|p| p % procs == k)
                                .map(|p| p.to_string())
                                .collect();
                            Command::new(&exe)
                                .arg("bench-scale-worker")
                                .arg("--keys")
                                .arg(dir.join("keys"))
                                .args(&run_t)
                                .args(["--partitions", &a.partitions.to_string()])
                                .args(["--partition", &owned.join(",")])
                                .args(["--threads", &threads.to_string()])
                                .stdout(std::process::Stdio::piped())
                                .stderr(std::process::Stdio::piped())
                                .spawn()
                        })
                        .collect();
                    // `output()` waits for each in turn; all were started first.
                    let mut processed = 0u64;
                    let mut cpu = 0.0;
                    let mut rss: f64 = 0.0;
                    for c in children {
                        let o = c.context("starting a bench worker")?.wait_with_output()?;
                        if !o.status.success() {
                            bail!(
                                "bench worker failed: {}",
                                String::from_utf8_lossy(&o.stderr)
                            );
                        }
                        let text = String::from_utf8_lossy(&o.stdout);
                        let line = text
                            .lines()
                            .find(|l| l.starts_with("SCALE "))
                            .with_context(|| format!("no SCALE line: {text}"))?;
                        for kv in line.split_whitespace().skip(1) {
                            match kv.split_once('=') {
                                Some(("samples", v)) => processed += v.parse::<u64>().unwrap_or(0),
                                Some(("cpu_s", v)) => cpu += v.parse::<f64>().unwrap_or(0.0),
                                Some(("peak_rss_mb", v)) => {
                                    rss = rss.max(v.parse::<f64>().unwrap_or(0.0))
                                }
                                _ => {}
                            }
                        }
                    }
                    let wall = started.elapsed().as_secs_f64();
                    if processed != samples {
                        bail!("integrity check failed: {processed} of {samples} samples processed");
                    }
                    println!(
                    "  {label} {workers} {by} rep {}: {:.0} samples/s, wall {wall:.2} s, worker CPU {cpu:.2} s, largest worker peak RSS {rss:.0} MB",
                    rep + 1,
                    samples as f64 / wall
                );
                    walls.push(wall);
                }
                table.push((
                    format!("{label}, by {by}"),
                    workers,
                    samples as f64 / median(walls),
                ));
            }
        }
        drop(transport);
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!(
        "\n| transport, scaled by | workers | samples/s (median of {}) | speed-up vs 1 |",
        a.reps
    );
    println!("|---|---:|---:|---:|");
    for (label, workers, rate) in &table {
        let one = table
            .iter()
            .find(|(l, w, _)| l == label && *w == 1)
            .map_or(f64::NAN, |x| x.2);
        println!("| {label} | {workers} | {rate:.0} | {:.2} |", rate / one);
    }
    Ok(())
}

/// A benchmark worker process's workers, one per owned partition, with the
/// fleet key read from the keystore (as `aorta bench`'s secure mode: no
/// attestation in the timed region).
pub fn open_bench_workers(
    keys: &std::path::Path,
    transport: &TransportArgs,
    partitions: u32,
    owned: &[u32],
) -> Result<Vec<AnyWorker>> {
    let keys = KeyStore::open(keys)?;
    let store = keys.store()?;
    let role = WorkerRole::new(
        transport.open(Open::Create { partitions })?,
        keys.controller_pub()?,
        partitions,
    );
    let mut workers = Vec::with_capacity(owned.len());
    for p in owned {
        let e = store.current()?;
        let fleet = aorta_worker::Keyring::new([(e, store.secret(e)?)]);
        workers.push(role.open_one(*p, &format!("bench-{}", std::process::id()), fleet, None)?);
    }
    Ok(workers)
}

/// One worker process of `bench-scale`: the fleet key read from the
/// keystore (as `aorta bench`'s secure mode), its partitions on threads,
/// until the input is drained.
pub fn worker(a: ScaleWorkerArgs) -> Result<()> {
    let mut workers = open_bench_workers(&a.keys, &a.transport, a.partitions, &a.partition)?;
    // Thread k drains partitions k, k + N, ... one after another.
    let n = a.threads.max(1) as usize;
    let mut groups: Vec<Vec<&mut AnyWorker>> = (0..n).map(|_| Vec::new()).collect();
    for (i, w) in workers.iter_mut().enumerate() {
        groups[i % n].push(w);
    }
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let hs: Vec<_> = groups
            .into_iter()
            .map(|g| {
                s.spawn(move || -> Result<()> {
                    for w in g {
                        aorta_worker::run::run(
                            w,
                            aorta_worker::run::Until::Idle,
                            &aorta_worker::run::RunOptions::default(),
                            &mut aorta_worker::run::NoHooks,
                        )?;
                    }
                    Ok(())
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker thread panicked")))
            })
            .collect()
    });
    for r in results {
        r?;
    }
    let mut samples = 0;
    for w in &workers {
        let r = w.report();
        if r.counters.rejected.values().sum::<u64>() > 0 {
            bail!(
                "partition {}: envelopes rejected: {:?}",
                w.partition(),
                r.counters.rejected
            );
        }
        samples += r.counters.samples;
    }
    let (cpu, rss) = crate::bench::self_usage();
    println!("SCALE samples={samples} cpu_s={cpu:.2} peak_rss_mb={rss:.1}");
    Ok(())
}
