//! `aorta bench`: plain vs secure vs secure + simulated TEE on one workload.
//! Each mode runs in a fresh child process so CPU time and peak memory are its own.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use aorta_gateway::source::PaperLoad;
use aorta_gateway::StreamSender;
use aorta_wire::AlgorithmSet;
use aorta_worker::WorkerConfig;

use crate::keystore::KeyStore;
use crate::pipeline::{self, ReplayStream};
use crate::tee;
use crate::transport::{envelope_producer, publish_enrolments, Deployment};
use aorta_worker::role::WorkerRole;
use aorta_worker::run::{RunOptions, Until};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// No encryption, no TEE.
    Plain,
    /// Encryption end to end, fleet key read directly (no attestation).
    Secure,
    /// Encryption end to end, fleet key released to the simulated TEE after attestation.
    SecureTee,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Secure => "secure",
            Self::SecureTee => "secure-tee",
        }
    }
}

#[derive(clap::Args, Clone)]
pub struct Workload {
    #[arg(long, default_value_t = 1024)]
    pub clients: u32,
    /// Samples per second per client (the paper's loads: 44..1424).
    #[arg(long, default_value_t = 712)]
    pub rate: u32,
    /// Seconds of event time.
    #[arg(long, default_value_t = 30)]
    pub seconds: u32,
    /// Algorithm(s), e.g. `sdnn` or `hrv-bands`.
    #[arg(long, default_value = "sdnn")]
    pub algorithms: String,
    /// Gateway cadence, ms.
    #[arg(long, default_value_t = 1000)]
    pub cadence_ms: u32,
    /// Where the throwaway keys and spool go.
    #[arg(long, default_value = "/tmp")]
    pub tmp: PathBuf,
    /// Read the workload from a directory written by the Spark baseline's
    /// `gen_workload.py` (`clients/<id>/part-<k>.csv`, paper format) instead of
    /// generating it; the files are parsed inside the timed region. Overrides
    /// --clients, --rate and --seconds.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// `spool` (a fresh embedded spool under --tmp) or
    /// `nats://USER:PASSWORD@HOST:PORT` (NATS JetStream 2.12+; Aorta's
    /// streams there are deleted and recreated for each run);
    /// `bench-scale` takes several, comma-separated.
    #[arg(long, default_value = "spool")]
    pub transport: String,
}

/// Client directories and their part files, sorted.
fn spark_layout(dir: &std::path::Path) -> Result<Vec<Vec<PathBuf>>> {
    let mut clients: Vec<PathBuf> = std::fs::read_dir(dir.join("clients"))
        .with_context(|| {
            format!(
                "{} has no clients/ directory (gen_workload.py layout)",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    clients.sort();
    let mut out = Vec::new();
    for c in clients {
        let mut parts: Vec<PathBuf> = std::fs::read_dir(&c)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        parts.sort();
        out.push(parts);
    }
    if out.is_empty() || out[0].is_empty() {
        bail!("{} holds no client part files", dir.display());
    }
    Ok(out)
}

#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub w: Workload,
    /// Modes to run, in order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "plain,secure,secure-tee"
    )]
    pub modes: Vec<Mode>,
    /// Repetitions per mode (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: u32,
}

#[derive(clap::Args)]
pub struct BenchRunArgs {
    #[command(flatten)]
    pub w: Workload,
    #[arg(long, value_enum)]
    pub mode: Mode,
}

#[derive(Debug, Clone, Default)]
struct Outcome {
    samples: u64,
    wall_s: f64,
    cpu_s: f64,
    peak_rss_mb: f64,
    envelopes: u64,
    results: u64,
}

fn parse_outcome(line: &str) -> Option<Outcome> {
    let kv: std::collections::HashMap<&str, &str> = line
        .strip_prefix("BENCH ")?
        .split_whitespace()
        .filter_map(|t| t.split_once('='))
        .collect();
    Some(Outcome {
        samples: kv.get("samples")?.parse().ok()?,
        wall_s: kv.get("wall_s")?.parse().ok()?,
        cpu_s: kv.get("cpu_s")?.parse().ok()?,
        peak_rss_mb: kv.get("peak_rss_mb")?.parse().ok()?,
        envelopes: kv.get("envelopes")?.parse().ok()?,
        results: kv.get("results")?.parse().ok()?,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(a: BenchArgs) -> Result<()> {
    let exe = std::env::current_exe()?;
    let w = &a.w;
    match &w.input {
        Some(d) => println!(
            "workload: {} (gen_workload.py layout, parsed in the timed region), algorithms {}, {} rep(s) per mode",
            d.display(),
            w.algorithms,
            a.reps
        ),
        None => println!(
            "workload: {} clients x {} samples/s x {} s = {} RR samples, algorithms {}, {} rep(s) per mode",
            w.clients,
            w.rate,
            w.seconds,
            u64::from(w.clients) * u64::from(w.rate) * u64::from(w.seconds),
            w.algorithms,
            a.reps
        ),
    }
    let mut table = Vec::new();
    for rep in 0..a.reps {
        for &mode in &a.modes {
            let out = Command::new(&exe)
                .args(["bench-run", "--mode", mode.name()])
                .args([
                    "--clients",
                    &w.clients.to_string(),
                    "--rate",
                    &w.rate.to_string(),
                ])
                .args([
                    "--seconds",
                    &w.seconds.to_string(),
                    "--algorithms",
                    &w.algorithms,
                ])
                .args(["--cadence-ms", &w.cadence_ms.to_string()])
                .args(["--transport", &w.transport])
                .arg("--tmp")
                .arg(&w.tmp)
                .args(
                    w.input
                        .iter()
                        .flat_map(|p| [std::ffi::OsStr::new("--input"), p.as_os_str()]),
                )
                .output()
                .context("running bench-run")?;
            if !out.status.success() {
                bail!(
                    "bench-run {} failed: {}",
                    mode.name(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let o = text
                .lines()
                .find_map(parse_outcome)
                .with_context(|| format!("no BENCH line from {}: {text}", mode.name()))?;
            println!(
                "  rep {} {:<10} {:>12.0} samples/s  wall {:>6.2} s  cpu {:>6.2} s  peak {:>7.1} MB  ({} envelopes, {} result records)",
                rep + 1,
                mode.name(),
                o.samples as f64 / o.wall_s,
                o.wall_s,
                o.cpu_s,
                o.peak_rss_mb,
                o.envelopes,
                o.results
            );
            table.push((mode, o));
        }
    }
    let total = table.first().map_or(0, |(_, o)| o.samples);
    println!("\nmedians ({} reps, {} samples per run):", a.reps, total);
    println!("| mode | samples/s | wall s | CPU s | peak RSS MB | time / plain |");
    println!("|---|---:|---:|---:|---:|---:|");
    let med = |m: Mode, f: fn(&Outcome) -> f64| {
        median(
            table
                .iter()
                .filter(|(x, _)| *x == m)
                .map(|(_, o)| f(o))
                .collect(),
        )
    };
    let plain_wall = med(Mode::Plain, |o| o.wall_s);
    for &m in &a.modes {
        let wall = med(m, |o| o.wall_s);
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.1} | {} |",
            m.name(),
            total as f64 / wall,
            wall,
            med(m, |o| o.cpu_s),
            med(m, |o| o.peak_rss_mb),
            if plain_wall.is_finite() {
                format!("{:.3}", wall / plain_wall)
            } else {
                "-".into()
            }
        );
    }
    Ok(())
}

/// (utime + stime) seconds and peak RSS in MB of this process, from /proc.
pub fn self_usage() -> (f64, f64) {
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(f64::NAN);
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            l.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0);
    (cpu, rss)
}

pub fn run_one(a: BenchRunArgs) -> Result<()> {
    let mut w = a.w;
    let layout = match &w.input {
        Some(dir) => {
            let l = spark_layout(dir)?;
            // Rate from the first file (one file = 10 s), duration from the part count.
            let lines = std::fs::read_to_string(&l[0][0])?.lines().count() as u32;
            w.clients = l.len() as u32;
            w.rate = lines.div_ceil(10);
            w.seconds = 10 * l[0].len() as u32;
            Some(l)
        }
        None => None,
    };
    let algos = AlgorithmSet::parse(&w.algorithms).map_err(anyhow::Error::msg)?;
    let dir = tempfile_dir(&w.tmp)?;
    let keys = KeyStore::init(&dir.join("keys"))?;
    let transport = crate::transport::fresh(
        (w.transport != "spool").then_some(w.transport.as_str()),
        &dir.join("spool"),
        1,
    )?;
    let patients = enrol_clients(&keys, &w, algos, &*transport)?;
    let store = keys.store()?;
    let (fleet, source, fleet_pub, epoch) = match a.mode {
        Mode::SecureTee => {
            let broker = tee::local_broker(&keys)?;
            let (source, release) = tee::attest_simulated(&keys, &broker, true)?;
            let w = crate::fleet::connect(Box::new(broker), keys.policy()?, true, 0, true)?;
            let (fp, e) = (*w.current().fleet(), w.current().epoch());
            (
                aorta_worker::Keyring::new(release.keys),
                Some(source),
                fp,
                e,
            )
        }
        Mode::Plain | Mode::Secure => {
            let e = store.current()?;
            (
                aorta_worker::Keyring::new([(e, store.secret(e)?)]),
                None,
                store.public(e)?,
                e,
            )
        }
    };
    let mut rng = crate::tee::sys_rng();
    let session = aorta_gateway::batcher::new_session_id(&mut rng);
    let start_us: i64 = 1_546_300_800_000_000;
    let end_us = start_us + i64::from(w.seconds) * 1_000_000;
    let mut streams = Vec::new();
    for (i, p) in patients.iter().enumerate() {
        let sender = match a.mode {
            Mode::Plain => StreamSender::dangerous_plaintext(p.stream, session, p.profile),
            _ => keys.stream_sender(
                p,
                session,
                &aorta_kbs::VerifiedFleet::dangerous_unverified(fleet_pub, epoch),
                &mut rng,
            )?,
        };
        // The sensor hands over a second (generated) or a file (parsed) at a time.
        let chunks: crate::pipeline::Chunks = match &layout {
            Some(l) => Box::new(l[i].clone().into_iter().map(|f| {
                let text = std::fs::read_to_string(&f).unwrap_or_default();
                aorta_gateway::source::parse_paper_csv(&text).0
            })),
            None => {
                let mut load = PaperLoad::new(i as u64 + 1, w.rate, start_us);
                let seconds = w.seconds;
                Box::new((0..seconds).map(move |_| load.next_second()))
            }
        };
        streams.push(ReplayStream::from_chunks(sender, chunks));
    }
    let mut role = WorkerRole::new(transport.clone(), keys.controller_pub()?, 1);
    role.config = WorkerConfig {
        dangerous_accept_plaintext: a.mode == Mode::Plain,
        ..WorkerConfig::default()
    };
    // A failing partition says why on stderr (the bench's parent shows it).
    role.log = std::sync::Arc::new(|l| eprintln!("{l}"));
    role.run = RunOptions {
        idle_sleep: std::time::Duration::from_millis(2),
        ..Default::default()
    };
    let owner = format!("bench-{}", std::process::id());
    let mut workers = [role.open_one(0, &owner, fleet, source.as_ref())?];
    let mut appender = envelope_producer(&*transport, 1)?;
    let done = AtomicBool::new(false);
    let t0 = Instant::now();
    let (gw, wk) = std::thread::scope(|s| {
        let h = s.spawn(|| role.run(&mut workers, Until::InputDone(&done), source.as_ref()));
        let g = pipeline::replay(
            &mut streams,
            &mut appender,
            (start_us, end_us),
            None,
            &mut crate::tee::sys_rng(),
            |_| {},
        );
        done.store(true, Ordering::Release);
        (g, h.join())
    });
    let wall = t0.elapsed().as_secs_f64();
    let gw = gw?;
    match wk {
        Ok(r) => {
            r?;
        }
        Err(_) => bail!("worker thread panicked"),
    }
    let [worker] = workers;
    let rep = worker.report();
    let rejected: u64 = rep.counters.rejected.values().sum();
    if rejected > 0 || rep.counters.samples != gw.samples {
        bail!(
            "bench integrity check failed: {} of {} samples processed, {} envelopes rejected",
            rep.counters.samples,
            gw.samples,
            rejected
        );
    }
    let (cpu, rss) = self_usage();
    println!(
        "BENCH mode={} samples={} wall_s={:.4} cpu_s={:.2} peak_rss_mb={:.1} envelopes={} results={}",
        a.mode.name(),
        gw.samples,
        wall,
        cpu,
        rss,
        gw.envelopes,
        rep.counters.result_records
    );
    drop(worker);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Enrols the workload's clients (`client-00000`, ...) in a fresh key
/// directory and publishes their enrolments.
pub fn enrol_clients(
    keys: &KeyStore,
    w: &Workload,
    algos: AlgorithmSet,
    transport: &dyn Deployment,
) -> Result<Vec<crate::keystore::Patient>> {
    let mut signed = Vec::with_capacity(w.clients as usize);
    let mut patients = Vec::with_capacity(w.clients as usize);
    for c in 0..w.clients {
        let (p, s) = keys.enrol_new(
            &format!("client-{c:05}"),
            algos,
            f64::from(w.rate),
            w.cadence_ms,
        )?;
        signed.push(s);
        patients.push(p);
    }
    publish_enrolments(transport, &signed)?;
    Ok(patients)
}

fn tempfile_dir(base: &std::path::Path) -> Result<PathBuf> {
    let d = base.join(format!(
        "aorta-bench-{}-{}",
        std::process::id(),
        tee::unix_now_ms()
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
