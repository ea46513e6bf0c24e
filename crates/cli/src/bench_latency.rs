//! `aorta bench-latency`: end-to-end latency and whether the pipeline keeps
//! up in real time. A live gateway (the library's `driver::live`, the loop
//! the MQTT gateway runs) seals every patient's envelope on its cadence in
//! wall-clock time, fed by simulated devices whose beats are dated when they
//! happen; `--workers` worker processes follow the transport and commit
//! every `--commit-secs`. Each worker measures, for every envelope it
//! accepts, the time from the envelope's watermark (the wall-clock time the
//! gateway sealed it) to the commit that made its results visible
//! (`aorta_worker::LatencyProbe`). The latency of a window's result is the
//! latency of the envelope that closed it.
//!
//! Reported: latency p50 / p99 / max over all envelopes and per minute (a
//! pipeline that does not keep up shows latency growing minute by minute),
//! what the gateway could not send, worker CPU and peak RSS.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aorta_gateway::driver::{
    live, LiveEvent, LiveHooks, LiveOptions, LiveSource, LiveStats, LiveStream,
};
use aorta_gateway::outbox::{Outbox, OutboxLimits};
use aorta_wire::{AlgorithmSet, RrSample};

use crate::keystore::KeyStore;
use crate::tee;
use crate::transport::{envelope_producer, TransportArgs};

#[derive(clap::Args)]
pub struct LatencyArgs {
    /// Patients.
    #[arg(long, default_value_t = 1000)]
    pub clients: u32,
    /// Beats per second per patient.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Seconds the gateway runs (wall clock).
    #[arg(long, default_value_t = 120)]
    pub seconds: u64,
    #[arg(long, default_value = "hr,clinical")]
    pub algorithms: String,
    /// Gateway cadence, ms.
    #[arg(long, default_value_t = 10_000)]
    pub cadence_ms: u32,
    #[arg(long, default_value_t = 16)]
    pub partitions: u32,
    /// Worker processes (partitions are dealt round-robin; one thread per
    /// partition).
    #[arg(long, default_value_t = 2)]
    pub workers: u32,
    /// Workers commit within this many seconds of catching up.
    #[arg(long, default_value_t = 1.0)]
    pub commit_secs: f64,
    /// After the gateway stops, seconds the workers get to catch up.
    #[arg(long, default_value_t = 30)]
    pub drain_secs: u64,
    /// `spool` (under --tmp) or `nats://USER:PASSWORD@HOST:PORT` (Aorta's
    /// streams there are deleted and recreated).
    #[arg(long, default_value = "spool")]
    pub transport: String,
    #[arg(long, default_value = "/tmp")]
    pub tmp: PathBuf,
}

#[derive(clap::Args)]
pub struct LatencyWorkerArgs {
    #[arg(long)]
    pub keys: PathBuf,
    #[command(flatten)]
    pub transport: TransportArgs,
    #[arg(long)]
    pub partitions: u32,
    #[arg(long, value_delimiter = ',')]
    pub partition: Vec<u32>,
    #[arg(long)]
    pub commit_secs: f64,
    /// Where the (watermark µs, latency ms) pairs go (12 bytes each, LE).
    #[arg(long)]
    pub out: PathBuf,
}

/// Devices whose beats happen in wall-clock time: each patient beats every
/// `1/rate` s ± 10 % (a small PRNG per patient; 16 bytes of state each, so
/// 100,000 patients cost 1.6 MB). One patient's due beats per event.
struct PacedDevices {
    /// (next beat µs, PRNG state) per patient.
    next: Vec<(i64, u64)>,
    period_us: f64,
    cursor: usize,
    horizon_us: i64,
}

impl PacedDevices {
    fn new(n: usize, rate: f64, start_us: i64) -> Self {
        let period_us = 1e6 / rate.max(0.01);
        let next = (0..n as u64)
            .map(|i| {
                let seed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                // Spread first beats over one period.
                let offset = (seed >> 11) as f64 / (1u64 << 53) as f64 * period_us;
                (start_us + offset as i64, seed)
            })
            .collect();
        Self {
            next,
            period_us,
            cursor: 0,
            horizon_us: start_us,
        }
    }
}

fn xorshift(s: &mut u64) -> f64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    (*s >> 11) as f64 / (1u64 << 53) as f64
}

impl LiveSource for PacedDevices {
    fn next(&mut self, timeout: Duration) -> LiveEvent {
        if self.cursor >= self.next.len() {
            // A sweep is done: wait for the next beats to fall due.
            let now = tee::unix_now_ms() as i64 * 1000;
            if now < self.horizon_us + 50_000 {
                std::thread::sleep(timeout.min(Duration::from_millis(50)));
                return LiveEvent::Idle;
            }
            self.horizon_us = now;
            self.cursor = 0;
        }
        let i = self.cursor;
        self.cursor += 1;
        let (t, seed) = &mut self.next[i];
        let mut samples = Vec::new();
        while *t <= self.horizon_us {
            let rr = (self.period_us * (0.9 + 0.2 * xorshift(seed))) as u32;
            *t += i64::from(rr);
            samples.push(RrSample {
                t_us: *t - i64::from(rr),
                rr_us: rr,
            });
        }
        if samples.is_empty() {
            LiveEvent::Idle
        } else {
            LiveEvent::Samples { stream: i, samples }
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let k = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[k.min(sorted.len() - 1)]
}

pub fn run(a: LatencyArgs) -> Result<()> {
    let exe = std::env::current_exe()?;
    let dir = a.tmp.join(format!(
        "aorta-latency-{}-{}",
        std::process::id(),
        tee::unix_now_ms()
    ));
    std::fs::create_dir_all(&dir)?;
    let spec = if a.transport == "spool" {
        format!("spool:{}", dir.join("spool").display())
    } else {
        a.transport.clone()
    };
    let transport = crate::transport::fresh(Some(&spec), &dir.join("spool"), a.partitions)?;
    let t_args = vec!["--transport".to_string(), spec];
    let label = transport.label();
    let algos = AlgorithmSet::parse(&a.algorithms).map_err(anyhow::Error::msg)?;
    let keys = KeyStore::init(&dir.join("keys"))?;
    let w = crate::bench::Workload {
        clients: a.clients,
        rate: a.rate.ceil() as u32,
        seconds: a.seconds as u32,
        algorithms: a.algorithms.clone(),
        cadence_ms: a.cadence_ms,
        tmp: a.tmp.clone(),
        input: None,
        transport: a.transport.clone(),
    };
    let t0 = Instant::now();
    let patients = crate::bench::enrol_clients(&keys, &w, algos, &*transport)?;
    let store = keys.store()?;
    let epoch = store.current()?;
    // The benchmark holds the fleet key itself: no broker, no evidence.
    let fleet = aorta_kbs::VerifiedFleet::dangerous_unverified(store.public(epoch)?, epoch);
    let mut rng = tee::sys_rng();
    let session = aorta_gateway::batcher::new_session_id(&mut rng);
    let mut streams = Vec::with_capacity(patients.len());
    for p in &patients {
        streams.push(LiveStream::new(
            keys.stream_sender(p, session, &fleet, &mut rng)?,
            keys.device_secret(p.stream)?,
        ));
    }
    eprintln!(
        "{label}: {} patients enrolled, senders ready ({:.1} s)",
        a.clients,
        t0.elapsed().as_secs_f64()
    );

    // Workers first, following the (empty) input.
    let procs = a.workers.clamp(1, a.partitions);
    let mut children = Vec::new();
    for k in 0..procs {
        let owned: Vec<String> = (0..a.partitions)
            .filter(|p| p % procs == k)
            .map(|p| p.to_string())
            .collect();
        let out = dir.join(format!("latency-{k}.bin"));
        let child = Command::new(&exe)
            .arg("bench-latency-worker")
            .arg("--keys")
            .arg(dir.join("keys"))
            .args(&t_args)
            .args(["--partitions", &a.partitions.to_string()])
            .args(["--partition", &owned.join(",")])
            .args(["--commit-secs", &a.commit_secs.to_string()])
            .arg("--out")
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting a latency worker")?;
        children.push((child, out));
    }

    // The paced gateway.
    let out = envelope_producer(&*transport, a.partitions)?;
    let outbox = Outbox::new(out, OutboxLimits::default())?;
    let mut src = PacedDevices::new(patients.len(), a.rate, tee::unix_now_ms() as i64 * 1000);
    struct Progress {
        started: Instant,
        seconds: u64,
        last: Instant,
    }
    impl LiveHooks for Progress {
        fn stop(&mut self, _: &LiveStats) -> bool {
            self.started.elapsed().as_secs() >= self.seconds
        }
        fn tick(&mut self, s: &LiveStats) {
            if self.last.elapsed() >= Duration::from_secs(10) {
                self.last = Instant::now();
                eprintln!(
                    "  {:>4.0} s: {} samples, {} envelopes sealed, {} sent, {} waiting, {} dropped",
                    self.started.elapsed().as_secs_f64(),
                    s.samples,
                    s.sealed_envelopes,
                    s.outbox.sent_envelopes,
                    s.outbox.queued_ticks,
                    s.outbox.dropped_envelopes
                );
            }
        }
    }
    let mut hooks = Progress {
        started: Instant::now(),
        seconds: a.seconds,
        last: Instant::now(),
    };
    eprintln!(
        "{label}: gateway live for {} s ({} patients × {} beats/s, cadence {} ms), {} worker processes on {} partitions",
        a.seconds, a.clients, a.rate, a.cadence_ms, procs, a.partitions
    );
    let opts = LiveOptions {
        cadence: Duration::from_millis(u64::from(a.cadence_ms)),
        max_ahead_us: 60_000_000,
    };
    let (g_cpu0, _) = crate::bench::self_usage();
    let stats = live(
        &mut streams,
        &mut src,
        &outbox,
        None,
        &opts,
        &mut rng,
        &mut hooks,
    )?;
    let sent = outbox.close(Duration::from_secs(a.drain_secs))?;
    let (g_cpu1, g_rss) = crate::bench::self_usage();
    eprintln!(
        "{label}: gateway done: {} samples, {} envelopes sealed, {} sent, {} not sent; draining {} s",
        stats.samples, stats.sealed_envelopes, sent.sent_envelopes, sent.dropped_envelopes, a.drain_secs
    );
    std::thread::sleep(Duration::from_secs(a.drain_secs));

    // Stop the workers (closing stdin), gather their measurements.
    let mut lat: Vec<(i64, u32)> = Vec::new();
    let mut cpu = 0.0;
    let mut rss: f64 = 0.0;
    let mut envelopes = 0u64;
    let (mut ckpt_mb, mut ckpt_s, mut commits) = (0f64, 0f64, 0u64);
    for (mut child, file) in children {
        drop(child.stdin.take());
        let o = child.wait_with_output()?;
        if !o.status.success() {
            bail!("latency worker failed");
        }
        let text = String::from_utf8_lossy(&o.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("LATENCY "))
            .with_context(|| format!("no LATENCY line: {text}"))?;
        for kv in line.split_whitespace().skip(1) {
            match kv.split_once('=') {
                Some(("cpu_s", v)) => cpu += v.parse::<f64>().unwrap_or(0.0),
                Some(("peak_rss_mb", v)) => rss = rss.max(v.parse::<f64>().unwrap_or(0.0)),
                Some(("envelopes", v)) => envelopes += v.parse::<u64>().unwrap_or(0),
                Some(("checkpoint_mb", v)) => ckpt_mb += v.parse::<f64>().unwrap_or(0.0),
                Some(("checkpoint_s", v)) => ckpt_s += v.parse::<f64>().unwrap_or(0.0),
                Some(("commits", v)) => commits += v.parse::<u64>().unwrap_or(0),
                _ => {}
            }
        }
        let mut bytes = Vec::new();
        std::fs::File::open(&file)?.read_to_end(&mut bytes)?;
        for c in bytes.chunks_exact(12) {
            let wm = i64::from_le_bytes(c[..8].try_into()?);
            let ms = u32::from_le_bytes(c[8..].try_into()?);
            lat.push((wm, ms));
        }
    }
    if lat.is_empty() {
        bail!("no envelope was committed");
    }
    let first = lat.iter().map(|x| x.0).min().unwrap_or(0);
    let mut all: Vec<u32> = lat.iter().map(|x| x.1).collect();
    all.sort_unstable();
    println!(
        "\n{label}: {} patients × {} beats/s, {} s, cadence {} ms, {} partitions, {} worker processes, commit every {} s",
        a.clients, a.rate, a.seconds, a.cadence_ms, a.partitions, procs, a.commit_secs
    );
    println!(
        "envelopes sealed {}, sent {}, not sent {}, committed {} (accepted by workers {envelopes})",
        stats.sealed_envelopes,
        sent.sent_envelopes,
        sent.dropped_envelopes,
        all.len()
    );
    println!(
        "latency from sealing to committed result: p50 {} ms, p99 {} ms, max {} ms",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(0)
    );
    println!(
        "gateway CPU {:.1} s (RSS {g_rss:.0} MB); workers CPU {cpu:.1} s, largest peak RSS {rss:.0} MB; wall {} s",
        g_cpu1 - g_cpu0,
        a.seconds
    );
    println!(
        "checkpoints: {commits} commits; the last of every partition together {ckpt_mb:.1} MB, sealed and committed in {ckpt_s:.2} s"
    );
    println!("\n| minute | envelopes | p50 ms | p99 ms | max ms |\n|---:|---:|---:|---:|---:|");
    let minutes = (lat.iter().map(|x| x.0).max().unwrap_or(first) - first) / 60_000_000 + 1;
    for m in 0..minutes {
        let mut v: Vec<u32> = lat
            .iter()
            .filter(|x| (x.0 - first) / 60_000_000 == m)
            .map(|x| x.1)
            .collect();
        v.sort_unstable();
        println!(
            "| {} | {} | {} | {} | {} |",
            m + 1,
            v.len(),
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            v.last().copied().unwrap_or(0)
        );
    }
    drop(transport);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// One worker process of `bench-latency`: its partitions on threads,
/// following the input until standard input closes.
pub fn worker(a: LatencyWorkerArgs) -> Result<()> {
    let mut workers =
        crate::bench_scale::open_bench_workers(&a.keys, &a.transport, a.partitions, &a.partition)?;
    for w in &mut workers {
        w.probe_latency();
    }
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let opts = aorta_worker::run::RunOptions {
        commit_within: Duration::from_secs_f64(a.commit_secs.max(0.0)),
        ..aorta_worker::run::RunOptions::default()
    };
    // Standard input closes when the benchmark is done.
    std::thread::spawn({
        let stop = stop.clone();
        move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            stop.store(true, Ordering::Release);
        }
    });
    let outcomes = aorta_worker::run::run_partitions(
        &mut workers,
        aorta_worker::run::Until::Stopped(&stop),
        &opts,
        |_| aorta_worker::run::NoHooks,
    );
    for o in outcomes {
        if let Err(e) = o.result {
            bail!("partition {}: {e}", o.partition);
        }
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(&a.out)?);
    let mut envelopes = 0;
    let (mut ckpt_bytes, mut ckpt_secs, mut commits) = (0u64, 0f64, 0u64);
    for w in &mut workers {
        envelopes += w.report().counters.envelopes_accepted;
        let c = w.checkpoint_stats();
        ckpt_bytes += c.last_bytes;
        ckpt_secs += c.last_seconds;
        commits += c.commits;
        for (wm, ms) in w.take_latencies() {
            f.write_all(&wm.to_le_bytes())?;
            f.write_all(&ms.to_le_bytes())?;
        }
    }
    f.flush()?;
    let (cpu, rss) = crate::bench::self_usage();
    println!(
        "LATENCY envelopes={envelopes} cpu_s={cpu:.2} peak_rss_mb={rss:.1} checkpoint_mb={:.1} checkpoint_s={ckpt_secs:.2} commits={commits}",
        ckpt_bytes as f64 / 1e6
    );
    Ok(())
}
