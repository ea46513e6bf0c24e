//! The role subcommands: each runs one party of the data path as its own process.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aorta_gateway::source::mqtt::{MqttEvent, MqttSource};
use aorta_gateway::source::{parse_paper_csv, RrSimulator, SimParams};
use aorta_gateway::StreamSender;
use aorta_spool::Spool;
use aorta_transport::{PartitionId, Producer};
use aorta_wire::AlgorithmSet;
use aorta_worker::WorkerConfig;

use crate::keystore::{publish, KeyStore, Patient};
use crate::pipeline::{self, ReplayStream};
use crate::tee::{self, TeeChoice};

#[derive(clap::Subcommand)]
pub enum KeysCmd {
    /// Create a deployment's keys: controller (signing), fleet, clinician.
    Init {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Enrol a patient's device (or change its algorithms) and publish the signed record.
    Enrol {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        spool: PathBuf,
        #[arg(long)]
        patient: String,
        #[arg(long, default_value = "sdnn,hrv-bands,hr,rmssd")]
        algorithms: String,
        /// Highest sample rate the device produces, per second (sizes its envelopes).
        #[arg(long, default_value_t = 4.0)]
        max_rate: f64,
        #[arg(long, default_value_t = 10_000)]
        cadence_ms: u32,
        /// Event time (Unix seconds) from which the algorithms apply.
        #[arg(long, default_value_t = 0)]
        effective_from: i64,
    },
    /// Revoke a patient's enrolment: workers reject the stream from then on.
    Revoke {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        spool: PathBuf,
        #[arg(long)]
        patient: String,
    },
}

pub fn keys(cmd: KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::Init { dir } => {
            KeyStore::init(&dir)?;
            println!(
                "created controller, fleet, clinician and simulated-TEE keys in {}",
                dir.display()
            );
        }
        KeysCmd::Enrol {
            dir,
            spool,
            patient,
            algorithms,
            max_rate,
            cadence_ms,
            effective_from,
        } => {
            let ks = KeyStore::open(&dir)?;
            let algos = AlgorithmSet::parse(&algorithms).map_err(anyhow::Error::msg)?;
            let (p, signed) = ks.enrol(
                &patient,
                algos,
                max_rate,
                cadence_ms,
                effective_from * 1_000_000,
            )?;
            publish(&Spool::open(spool)?, &[signed])?;
            println!(
                "enrolled '{}' as stream {} (serial {}, {}, {}-byte envelopes every {} ms)",
                p.name,
                p.stream,
                p.serial,
                p.algorithms.names(),
                p.profile.bucket.len(),
                p.profile.cadence_ms
            );
        }
        KeysCmd::Revoke {
            dir,
            spool,
            patient,
        } => {
            let ks = KeyStore::open(&dir)?;
            let signed = ks.revoke(&patient)?;
            publish(&Spool::open(spool)?, &[signed])?;
            println!("revoked '{patient}'");
        }
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct GatewayArgs {
    #[arg(long)]
    pub keys: PathBuf,
    #[arg(long)]
    pub spool: PathBuf,
    /// Patients this gateway serves (default: every enrolled, non-revoked patient).
    #[arg(long)]
    pub patient: Vec<String>,
    /// Simulate the patients for this many minutes of event time.
    #[arg(long, conflicts_with_all = ["input", "mqtt"])]
    pub simulate_minutes: Option<u32>,
    /// Event time of the first simulated sample, Unix seconds.
    #[arg(long)]
    pub start: Option<i64>,
    /// Directory of `<patient>.csv` files in the paper's format.
    #[arg(long, conflicts_with = "mqtt")]
    pub input: Option<PathBuf>,
    /// Subscribe to `aorta/<patient>/rr` on this MQTT broker (host:port).
    #[arg(long)]
    pub mqtt: Option<String>,
    /// MQTT: stop after this many samples.
    #[arg(long)]
    pub max_samples: Option<u64>,
    /// MQTT: stop after this many seconds.
    #[arg(long)]
    pub duration_s: Option<u64>,
    #[arg(long, default_value_t = 0)]
    pub partition: u32,
}

fn served(ks: &KeyStore, wanted: &[String]) -> Result<Vec<Patient>> {
    let all: Vec<Patient> = ks.patients()?.into_iter().filter(|p| !p.revoked).collect();
    if wanted.is_empty() {
        return Ok(all);
    }
    wanted
        .iter()
        .map(|w| {
            all.iter()
                .find(|p| &p.name == w)
                .cloned()
                .with_context(|| format!("'{w}' is not an enrolled, active patient"))
        })
        .collect()
}

pub fn gateway(a: GatewayArgs) -> Result<()> {
    let ks = KeyStore::open(&a.keys)?;
    let spool = Spool::open(&a.spool)?;
    let patients = served(&ks, &a.patient)?;
    if patients.is_empty() {
        bail!("no enrolled patients to serve");
    }
    let fleet = ks.fleet_pub()?;
    let mut rng = crate::tee::sys_rng();
    let session = aorta_gateway::batcher::session_id(tee::unix_now_ms(), &mut rng);
    let mut senders = Vec::new();
    for p in &patients {
        senders.push(ks.stream_sender(p, session, &fleet, &mut rng)?);
    }
    let mut out = spool.ingest_appender(PartitionId(a.partition))?;

    if let Some(addr) = &a.mqtt {
        return gateway_mqtt(&a, addr, &patients, senders, &mut out);
    }
    let mut streams = Vec::new();
    let (start_us, end_us) = if let Some(minutes) = a.simulate_minutes {
        let start = a
            .start
            .unwrap_or(tee::unix_now() as i64 - i64::from(minutes) * 60)
            .div_euclid(10)
            * 10_000_000;
        let end = start + i64::from(minutes) * 60_000_000;
        for (i, s) in senders.into_iter().enumerate() {
            let seed = i as u64 + 1;
            let src = RrSimulator::new(SimParams::patient(seed), seed, start)
                .take_while(move |x| x.t_us < end);
            streams.push(ReplayStream::new(s, Box::new(src)));
        }
        (start, end)
    } else if let Some(dir) = &a.input {
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for (p, s) in patients.iter().zip(senders) {
            let path = dir.join(format!("{}.csv", p.name));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let (mut samples, issues) = parse_paper_csv(&text);
            for i in &issues {
                eprintln!("{}: {i} (line skipped)", path.display());
            }
            samples.sort_by_key(|x| x.t_us);
            if let (Some(f), Some(l)) = (samples.first(), samples.last()) {
                lo = lo.min(f.t_us);
                hi = hi.max(l.t_us);
            }
            streams.push(ReplayStream::new(s, Box::new(samples.into_iter())));
        }
        if lo > hi {
            bail!("no samples in the input files");
        }
        (lo.div_euclid(10_000_000) * 10_000_000, hi + 1)
    } else {
        bail!("give a source: --simulate-minutes M, --input DIR or --mqtt HOST:PORT");
    };
    let stats = pipeline::replay(&mut streams, &mut out, start_us, end_us, |_| {})?;
    println!(
        "gateway: {} samples from {} patients in {} envelopes ({} bytes), {} backlogged ticks",
        stats.samples,
        patients.len(),
        stats.envelopes,
        stats.bytes,
        stats.backlog_ticks
    );
    Ok(())
}

/// Live MQTT ingestion: one envelope per stream every cadence of wall-clock time.
fn gateway_mqtt(
    a: &GatewayArgs,
    addr: &str,
    patients: &[Patient],
    mut senders: Vec<StreamSender>,
    out: &mut dyn Producer,
) -> Result<()> {
    let (host, port) = addr.rsplit_once(':').context("--mqtt takes HOST:PORT")?;
    let port: u16 = port.parse().context("--mqtt port")?;
    let devices: Vec<String> = patients.iter().map(|p| p.name.clone()).collect();
    let src = MqttSource::connect(
        host,
        port,
        &format!("aorta-gateway-{}", std::process::id()),
        &devices,
    )?;
    let cadence = Duration::from_millis(u64::from(
        patients.first().map_or(10_000, |p| p.profile.cadence_ms),
    ));
    let started = Instant::now();
    let mut next_tick = Instant::now() + cadence;
    let (mut samples, mut bad, mut envelopes) = (0u64, 0u64, 0u64);
    let stop = |samples: u64| {
        a.max_samples.is_some_and(|m| samples >= m)
            || a.duration_s
                .is_some_and(|d| started.elapsed().as_secs() >= d)
    };
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match src.recv_timeout(wait) {
            Some(MqttEvent::Subscribed) => {
                println!("subscribed to {} device topics on {addr}", devices.len());
            }
            Some(MqttEvent::Samples { device, samples: s }) => {
                if let Some(i) = devices.iter().position(|d| *d == device) {
                    samples += s.len() as u64;
                    s.into_iter().for_each(|x| senders[i].push(x));
                }
            }
            Some(MqttEvent::BadLine { device: _, reason }) => {
                bad += 1;
                eprintln!("mqtt: rejected line: {reason}");
            }
            None => {}
        }
        let finishing = stop(samples);
        if Instant::now() >= next_tick || finishing {
            let now_us = tee::unix_now_ms() as i64 * 1000;
            let mut batch = Vec::new();
            for s in senders.iter_mut() {
                if finishing {
                    batch.extend(s.finish(now_us)?);
                } else {
                    batch.push(s.tick(now_us)?);
                }
            }
            envelopes += batch.len() as u64;
            let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            out.append(&refs)?;
            next_tick += cadence;
        }
        if finishing {
            break;
        }
    }
    src.disconnect();
    println!("gateway: {samples} samples, {bad} rejected lines, {envelopes} envelopes");
    Ok(())
}

#[derive(clap::Args)]
pub struct WorkerArgs {
    /// Which TEE this worker runs in. Only `simulated` exists so far.
    #[arg(long, value_enum)]
    pub tee: TeeChoice,
    /// The key broker's key directory (in-process broker for now).
    #[arg(long)]
    pub keys: PathBuf,
    #[arg(long)]
    pub spool: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub partition: u32,
    /// Commit results with a sealed checkpoint every N input envelopes.
    #[arg(long, default_value_t = 1024)]
    pub checkpoint_every: u64,
    /// Keep running and polling for new input instead of exiting when idle.
    #[arg(long)]
    pub follow: bool,
}

pub fn worker(a: WorkerArgs) -> Result<()> {
    let ks = KeyStore::open(&a.keys)?;
    let spool = Spool::open(&a.spool)?;
    let (fleet, attested) = tee::obtain_fleet_key(a.tee, &ks, false)?;
    eprintln!("worker: fleet key released ({attested})");
    let cfg = WorkerConfig {
        checkpoint_every: a.checkpoint_every,
        ..WorkerConfig::default()
    };
    let mut w = pipeline::open_worker(&spool, a.partition, cfg, fleet, ks.controller_pub()?)?;
    if a.follow {
        let never = AtomicBool::new(false);
        pipeline::run_until_done(&mut w, &never, &AtomicU64::new(0))?;
    } else {
        w.drain(|_| {})?;
    }
    let r = w.report();
    println!(
        "worker: {} records, {} accepted, {} samples, {} windows, {} result envelopes, {} corrupt",
        r.counters.records,
        r.counters.envelopes_accepted,
        r.counters.samples,
        r.counters.windows,
        r.counters.result_envelopes,
        r.counters.corrupt_records
    );
    for (reason, n) in &r.counters.rejected {
        println!("worker: rejected {n} envelopes: {}", reason.name());
    }
    println!(
        "worker: {} missing envelopes (gaps), {} reordered, {} truncated sessions, {} late samples, {} out-of-range samples",
        r.missing_envelopes, r.reordered_envelopes, r.truncated_sessions, r.late_samples, r.out_of_range_samples
    );
    for x in &r.recent_rejections {
        println!(
            "worker: rejected envelope at offset {} (stream {}): {}",
            x.offset,
            x.stream
                .map(|s| s.to_hex())
                .unwrap_or_else(|| "unknown".into()),
            x.reason.name()
        );
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct ResultsArgs {
    #[arg(long)]
    pub keys: PathBuf,
    #[arg(long)]
    pub spool: PathBuf,
    /// Write the tidy CSV here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write an SVG of heart rate and SDNN traces (first 6 patients) here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

pub fn results(a: ResultsArgs) -> Result<()> {
    let ks = KeyStore::open(&a.keys)?;
    let spool = Spool::open(&a.spool)?;
    let (rows, stats) = pipeline::read_results(&ks, &spool)?;
    print!("{}", pipeline::summary_table(&rows));
    println!(
        "{} result rows from {} envelopes ({} rejected, {} duplicates dropped, {} corrupt records)",
        rows.len(),
        stats.envelopes,
        stats.rejected,
        stats.duplicates,
        stats.corrupt
    );
    if let Some(p) = a.csv {
        pipeline::write_csv(&rows, &p)?;
        println!("wrote {}", p.display());
    }
    if let Some(p) = a.plot {
        pipeline::write_trends_svg(&rows, &p, 6)?;
        println!("wrote {}", p.display());
    }
    Ok(())
}
