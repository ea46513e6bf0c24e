//! `aorta demo`: the whole data path on one machine with embedded defaults.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aorta_gateway::source::{read_paper_file, Condition, RrSimulator, SimParams};
use aorta_gateway::Profile;
use aorta_wire::{AlgorithmSet, RrSample};
use aorta_worker::role::WorkerRole;
use aorta_worker::run::{RunOptions, Until};
use aorta_worker::WorkerConfig;
use indicatif::{ProgressBar, ProgressStyle};

use crate::keystore::KeyStore;
use crate::pipeline::{self, ReplayStream};
use crate::tee;
use crate::transport::{envelope_producer, publish_enrolments};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Simulated patients (ignored with --input).
    #[arg(long, default_value_t = 100)]
    pub patients: u32,
    /// Minutes of event time to simulate (ignored with --input).
    #[arg(long, default_value_t = 10)]
    pub minutes: u32,
    /// A directory of paper-format CSV files (`timestamp_seconds,rr_microseconds`), one per patient.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Output directory: keys/ (trusted), untrusted/ (what the cloud stores), results.csv.
    #[arg(long, default_value = "aorta-demo")]
    pub out: PathBuf,
    /// Algorithms every patient is enrolled with.
    #[arg(long, default_value = "hr,sdnn,rmssd,clinical")]
    pub algorithms: String,
    /// Event time of the first sample, Unix seconds (default: M minutes ago).
    #[arg(long)]
    pub start: Option<i64>,
    /// Seed of the simulated patients.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress bar and no worker log lines (the summary, findings and
    /// files are still printed).
    #[arg(long)]
    pub quiet: bool,
    /// Then serve the ward dashboard on --listen, printing its address and
    /// a one-time password for the user `clinician`.
    #[arg(long)]
    pub serve: bool,
    /// Address of the dashboard with --serve.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Partitions, each processed by its own worker thread.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: u32,
    /// Run through a NATS JetStream server you started
    /// (`nats://USER:PASSWORD@HOST:PORT`, 2.12 or newer) instead of the
    /// embedded spool. The demo deletes and recreates Aorta's streams there.
    #[arg(long, value_name = "nats://...")]
    pub transport: Option<String>,
}

struct Input {
    name: String,
    samples: Vec<RrSample>,
}

/// The demo's input files, and how many of their lines were skipped.
fn load_inputs(dir: &PathBuf) -> Result<(Vec<Input>, u64)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading input directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{} holds no .csv files", dir.display());
    }
    let mut out = Vec::new();
    let mut skipped = 0u64;
    for f in &files {
        // On the operator's terminal, the operator's own file is named;
        // nothing about it goes to the untrusted side. No line is quoted.
        let label = f.display().to_string();
        // A week at most per recording; a stray date is skipped, counted.
        let file = read_paper_file(f, &label, 168 * 3_600_000_000)?;
        if let Some(problem) = file.units {
            bail!("{label}: {problem}");
        }
        if !file.skipped.is_empty() {
            skipped += file.skipped.total();
            eprintln!(
                "demo: {label}: {} lines skipped: {}",
                file.skipped.total(),
                file.skipped
            );
        }
        if file.outside_span > 0 {
            eprintln!(
                "demo: {label}: {} samples dated outside the recording's week skipped",
                file.outside_span
            );
        }
        let samples = file.samples;
        let name = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(Input { name, samples });
    }
    Ok((out, skipped))
}

/// Highest sample rate in any 10-s block of any input, per second.
fn max_rate(inputs: &[Input]) -> f64 {
    let mut best = 0usize;
    for i in inputs {
        let mut counts = std::collections::HashMap::new();
        for s in &i.samples {
            *counts
                .entry(s.t_us.div_euclid(10_000_000))
                .or_insert(0usize) += 1;
        }
        best = best.max(counts.values().copied().max().unwrap_or(0));
    }
    (best as f64 / 10.0).max(4.0)
}

pub fn run(a: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let algorithms = AlgorithmSet::parse(&a.algorithms).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&a.out)?;
    for sub in ["keys", "untrusted"] {
        let p = a.out.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p).with_context(|| format!("clearing {}", p.display()))?;
        }
    }
    let keys = KeyStore::init(&a.out.join("keys"))?;
    if let (Some(t), false) = (&a.transport, a.quiet) {
        eprintln!(
            "demo: starting from nothing on {}: deleting what Aorta stored there",
            aorta_deploy::TransportSpec::new(t.clone()).redacted()
        );
    }
    let transport =
        crate::transport::fresh(a.transport.as_deref(), &a.out.join("untrusted"), a.workers)?;
    let log_dir = a.out.join("untrusted").join("logs");
    std::fs::create_dir_all(&log_dir)?;

    // Sources.
    let (inputs, skipped_lines) = match &a.input {
        Some(dir) => {
            let (i, n) = load_inputs(dir)?;
            (Some(i), n)
        }
        None => (None, 0),
    };
    let (names, rate): (Vec<String>, f64) = match &inputs {
        Some(i) => (i.iter().map(|x| x.name.clone()).collect(), max_rate(i)),
        None => (
            (1..=a.patients)
                .map(|i| format!("patient-{i:03}"))
                .collect(),
            4.0,
        ),
    };
    if names.is_empty() {
        bail!("no patients to run (--patients 0?)");
    }
    let profile = Profile::for_rate(rate, 10_000)?;
    let now_s = tee::unix_now() as i64;
    let (start_us, end_us) = match &inputs {
        Some(i) => {
            let lo = i
                .iter()
                .filter_map(|x| x.samples.first())
                .map(|s| s.t_us)
                .min()
                .unwrap_or(0);
            let hi = i
                .iter()
                .filter_map(|x| x.samples.last())
                .map(|s| s.t_us)
                .max()
                .unwrap_or(0);
            if hi - lo > 168 * 3_600_000_000 {
                bail!(
                    "the input files together span {:.1} h, more than a week: run them in separate demos",
                    (hi - lo) as f64 / 3.6e9
                );
            }
            (lo.div_euclid(10_000_000) * 10_000_000, hi + 1)
        }
        None => {
            let s = a.start.unwrap_or(now_s - i64::from(a.minutes) * 60);
            let s = s.div_euclid(10) * 10 * 1_000_000;
            (s, s + i64::from(a.minutes) * 60_000_000)
        }
    };

    // Controller: enrol every patient, publish the signed records.
    let enrol_bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(names.len() as u64)
    };
    enrol_bar.set_style(
        ProgressStyle::with_template("{spinner} enrolling [{bar:40}] {pos}/{len} patients ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut signed = Vec::new();
    let mut patients = Vec::new();
    for n in &names {
        let (p, s) = keys.enrol_new(n, algorithms, rate, profile.cadence_ms)?;
        signed.push(s);
        patients.push(p);
        enrol_bar.inc(1);
    }
    publish_enrolments(&*transport, &signed)?;
    enrol_bar.finish_and_clear();

    // Worker, in the simulated TEE.
    // The key broker runs in-process; the worker attests to it first, so
    // that the gateway finds evidence behind the fleet key.
    let broker = tee::local_broker(&keys)?;
    let (attestation, release) = tee::attest_simulated(&keys, &broker, a.quiet)?;
    let attested = format!(
        "simulated TEE worker {}, fleet key epoch {}",
        release.worker_id, release.current_epoch
    );
    let handled = Arc::new(AtomicU64::new(0));
    let mut role = WorkerRole::new(transport.clone(), keys.controller_pub()?, a.workers);
    role.config = WorkerConfig {
        simulated_tee: true,
        partitions: a.workers,
        ..WorkerConfig::default()
    };
    if !a.quiet {
        role.log = Arc::new(|l| eprintln!("{l}"));
    }
    role.run = RunOptions {
        idle_sleep: Duration::from_millis(2),
        ..Default::default()
    };
    role.processed = Some(handled.clone());
    let mut workers = role.open(&attestation, release)?;
    let done = AtomicBool::new(false);

    // Gateway streams.
    let watch = crate::fleet::connect(Box::new(broker.clone()), keys.policy()?, true, 0, true)?;
    let fleet = watch.current().clone();
    let mut rng = crate::tee::sys_rng();
    let session = aorta_gateway::batcher::new_session_id(&mut rng);
    let mut streams = Vec::new();
    let mut inputs = inputs;
    for (i, p) in patients.iter().enumerate() {
        let sender = keys.stream_sender(p, session, &fleet, &mut rng)?;
        let source: Box<dyn Iterator<Item = RrSample> + Send> = match inputs.as_mut() {
            Some(v) => Box::new(std::mem::take(&mut v[i].samples).into_iter()),
            None => {
                let seed = a.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
                // Something for the ward to flag: patient-002 is in atrial
                // fibrillation, patient-003 bradycardic.
                let condition = match i {
                    1 => Condition::Af,
                    2 => Condition::Bradycardia,
                    _ => Condition::Normal,
                };
                Box::new(
                    RrSimulator::new(
                        SimParams::patient(seed).with_condition(condition),
                        seed,
                        start_us,
                    )
                    .take_while(move |s| s.t_us < end_us),
                )
            }
        };
        streams.push(ReplayStream::new(sender, source));
    }
    let ticks = ((end_us - start_us) as u64).div_ceil(u64::from(profile.cadence_ms) * 1000);
    let total = ticks * streams.len() as u64;
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    // The bar counts envelopes the worker has processed (the last step);
    // the message says how far the gateway is.
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} processed [{bar:40}] {pos}/{len} envelopes ({per_sec}, {left}) {msg}",
        )
        .map(|s| s.with_key("left", eta_from_the_whole_run))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));

    let mut appender = envelope_producer(&*transport, a.workers)?;
    let (gw, wk) = std::thread::scope(|s| {
        let w = s.spawn(|| role.run(&mut workers, Until::InputDone(&done), Some(&attestation)));
        let g = pipeline::replay(
            &mut streams,
            &mut appender,
            (start_us, end_us),
            None,
            &mut crate::tee::sys_rng(),
            |st| {
                bar.set_position(handled.load(Ordering::Relaxed).min(total));
                bar.set_message(format!("gateway sealed {}", st.envelopes));
            },
        );
        done.store(true, Ordering::Release);
        bar.set_message("gateway done; worker catching up");
        while !w.is_finished() {
            let n = handled.load(Ordering::Relaxed).min(total);
            bar.set_position(n);
            if n == total {
                bar.set_message("worker committing the last results");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (g, w.join())
    });
    let gw = gw?;
    match wk {
        Ok(r) => r?,
        Err(_) => bail!("worker thread panicked"),
    }
    bar.finish_and_clear();
    if !a.quiet {
        eprintln!("demo: reading the committed results as the clinician, writing CSV and plot");
    }

    // The operator's log: counters and pseudonyms only.
    let mut log = String::new();
    let (mut rejected, mut missing) = (0u64, 0u64);
    for w in &workers {
        let report = w.report();
        rejected += report.counters.rejected.values().sum::<u64>();
        missing += report.missing_envelopes;
        log.push_str(&format!(
            "worker partition {} ({attested})\nrecords {} accepted {} samples {} windows {} result_envelopes {} corrupt {}\n",
            w.partition(),
            report.counters.records,
            report.counters.envelopes_accepted,
            report.counters.samples,
            report.counters.windows,
            report.counters.result_envelopes,
            report.counters.corrupt_records
        ));
        for r in &report.recent_rejections {
            log.push_str(&format!(
                "rejected offset {} stream {} reason {}\n",
                r.offset,
                r.stream.map(|s| s.to_hex()).unwrap_or_else(|| "-".into()),
                r.reason.name()
            ));
        }
    }
    std::fs::write(log_dir.join("worker.log"), log)?;

    // Clinician.
    let (rows, rstats) = pipeline::read_results(&keys, &mut transport.committed_results())?;
    let csv = a.out.join("results.csv");
    pipeline::write_csv(&rows, &csv)?;
    let plot = a.out.join("hrv-trends.svg");
    pipeline::write_trends_svg(&rows, &plot, 6)?;
    let wall = started.elapsed().as_secs_f64();

    // The table (first 10 patients), then every finding and warning in
    // full: --quiet hides only the progress bar.
    print!(
        "{}",
        aorta_clinic::report::summary(&rows).render(Some(10), &csv.display().to_string())
    );
    println!(
        "\n{} patients, {} samples in {} envelopes ({} bytes each), {skipped_lines} input lines skipped, {} envelopes rejected, {} gaps; {} result rows -> {}",
        patients.len(),
        gw.samples,
        gw.envelopes,
        profile.bucket.len(),
        rejected,
        missing,
        rows.len(),
        csv.display()
    );
    println!(
        "throughput {:.0} samples/s; wall time {:.2} s; untrusted storage in {}; {} partition(s); {}",
        gw.samples as f64 / wall,
        wall,
        match &a.transport {
            None => a.out.join("untrusted").display().to_string(),
            Some(_) => transport.describe(),
        },
        a.workers,
        attested
    );
    if rstats.rejected > 0 || rstats.corrupt > 0 {
        println!(
            "clinician side: {} result envelopes rejected, {} corrupt records",
            rstats.rejected, rstats.corrupt
        );
    }
    println!(
        "trend plot (patients with AF or alerts first, episodes marked): {}",
        plot.display()
    );
    if algorithms.contains(aorta_wire::Algorithm::HrvBands) {
        println!("{}", crate::pipeline::HRV_BANDS_NOTE);
    }
    // Windows without a value (no beats, or none in range) are reported
    // as NaN: a run where every value is one computed nothing.
    let valued = |r: &&aorta_clinic::feed::ResultRow| {
        r.record.value.is_finite() && aorta_clinic::ward::Alert::of(r.record.metric).is_none()
    };
    if !rows.iter().any(|r| valued(&r)) {
        bail!(
            "nothing valid was computed: {} result rows, none with a value ({} samples read, {skipped_lines} input lines skipped)",
            rows.len(),
            gw.samples
        );
    }
    if a.serve {
        let users_path = a.out.join("dashboard-users");
        let mut users = aorta_clinic::web::Users::default();
        let password = one_time_password()?;
        users.set("clinician", &password)?;
        crate::roles::save_users(&users_path, &users)?;
        crate::roles::serve_dashboard(
            keys,
            transport.committed_results(),
            users,
            &a.listen,
            (8 * 3600, 168),
            false,
            Some(("clinician", &password)),
        )?;
    }
    Ok(())
}

/// 16 random characters from an unambiguous alphabet.
fn one_time_password() -> Result<String> {
    use rand_core::TryRngCore;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 16];
    rand_core::OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(b.iter()
        .map(|x| ALPHABET[usize::from(*x) % ALPHABET.len()] as char)
        .collect())
}

/// Time left at the whole run's average rate so far (indicatif's own ETA
/// follows the last seconds' rate, which swings as the worker's clinical
/// windows come due, and reads "0s" while the last results commit).
fn eta_from_the_whole_run(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let (pos, len) = (state.pos(), state.len().unwrap_or(0));
    let secs = state.elapsed().as_secs_f64();
    if pos == 0 || secs < 1.0 {
        let _ = write!(w, "estimating");
    } else if pos >= len {
        let _ = write!(w, "finishing");
    } else {
        let left = (len - pos) as f64 * secs / pos as f64;
        let _ = write!(w, "about {:.0} s left", left.ceil());
    }
}
