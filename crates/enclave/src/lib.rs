//! The worker's command line, shared by the enclave's binary
//! (`aorta-worker`) and `aorta worker` (which hands its arguments here):
//! arguments ([`args`]), then the worker role (`aorta_worker::role`), then
//! the operator's summary. This crate is the edge of the worker binary;
//! the behaviour is the libraries'. It is kept small on purpose: every
//! package it links is in the enclave's measurement (a test counts them).

#![forbid(unsafe_code)]

pub mod args;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

pub use args::{AttestOptions, WorkerArgs};

/// Errors at the worker binary's edge, printed as one message chain.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! bail {
    ($($t:tt)*) => { return Err(format!($($t)*).into()) };
}
use aorta_attest::select::{self, ProviderOptions, Simulation, TeeChoice};
use aorta_deploy::keydir::SharedKeys;
use aorta_deploy::Open;
use aorta_kbs_client::{Release, Transport, WorkerAttestation};
use aorta_worker::role::{report_lines, Attestation, Log, WorkerRole};
use aorta_worker::run::{RunOptions, Until};
use aorta_worker::WorkerConfig;

/// Attests under `a.tee` to the broker behind `kbs` (the simulated TEE's
/// root comes from `keys`); prints the simulated-TEE warning unless `quiet`.
pub fn attest(
    a: &AttestOptions,
    keys: &SharedKeys,
    kbs: Box<dyn Transport>,
    quiet: bool,
) -> Result<(Attestation, Release)> {
    let simulation = if a.tee == TeeChoice::Simulated {
        if !quiet {
            eprintln!("\n{}\n", aorta_attest::simulated::WARNING);
        }
        let measurement = match &a.sim_measurement {
            Some(h) => {
                let mut m = [0u8; 32];
                hex::decode_to_slice(h, &mut m)
                    .map_err(|_| "--sim-measurement takes 64 hex digits")?;
                m
            }
            None => select::self_measurement()?,
        };
        Some(Simulation {
            root: keys.sim_tee_root()?,
            measurement,
        })
    } else {
        None
    };
    let attester = select::provider(
        a.tee,
        ProviderOptions {
            endorsements: a.endorsements.clone(),
            attestation_dir: a.attestation_dir.clone(),
            simulation,
            now: None,
        },
    )?;
    let att = WorkerAttestation::new(
        aorta_envelope::KemKeypair::generate(&mut aorta_worker::role::sys_rng()),
        attester,
        kbs,
    );
    Ok(Attestation::attest_within(att, a.wait, &|l| {
        if !quiet {
            eprintln!("{l}")
        }
    })?)
}

/// A flag the first SIGTERM or SIGINT sets: a following worker commits
/// what it read, a group member also hands its partitions back at once (no
/// waiting for the lease to expire), and the process exits. A second
/// signal ends the process immediately (what was not committed is
/// processed again by whoever takes the partition).
pub fn shutdown_flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, flag.clone())?;
        signal_hook::flag::register(sig, flag.clone())?;
    }
    Ok(flag)
}

/// Starts a metrics endpoint if asked; says where it listens.
pub fn metrics(role: &str, addr: Option<&str>) -> Result<Option<aorta_metrics::Exporter>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let e = aorta_metrics::Exporter::new();
    let bound = e.serve(addr)?;
    eprintln!("{role}: metrics on http://{bound}/metrics");
    Ok(Some(e))
}

/// `aorta-worker ARGS` / `aorta worker ARGS`: parses `args` (without the
/// program name) and runs; `--help` prints the usage.
pub fn main_with(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<()> {
    match args::parse(args)? {
        args::Parsed::Run(a) => worker(*a),
        args::Parsed::Help => {
            print!("{}", args::USAGE);
            Ok(())
        }
        args::Parsed::Version => {
            println!("aorta-worker {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}

/// Runs the worker role as `a` says.
pub fn worker(a: WorkerArgs) -> Result<()> {
    let keys = SharedKeys::open(&a.keys)?;
    let Some(spec) = &a.transport else {
        bail!("give --transport spool:DIR or nats://HOST:PORT (or --spool DIR)");
    };
    let deployment = aorta_deploy::open(
        spec,
        Open::Create {
            partitions: a.partitions,
        },
    )?;
    if a.group && !deployment.holds_leases() {
        bail!(
            "--group needs a transport with leases (--transport nats://...), not {}",
            deployment.describe()
        );
    }
    let (attestation, release) = attest(
        &a.attest,
        &keys,
        Box::new(aorta_kbs_client::Client::new(a.kbs.clone())),
        false,
    )?;
    let simulated = a.attest.tee == TeeChoice::Simulated;
    eprintln!(
        "worker {}: fleet keys released for epochs {:?} (current {}){}",
        release.worker_id,
        release.keys.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        release.current_epoch,
        if simulated { " — SIMULATED TEE" } else { "" }
    );
    if a.attest_only {
        return Ok(());
    }
    let log: Log = Arc::new(|l| eprintln!("{l}"));
    let mut role = WorkerRole::new(deployment, keys.controller_pub()?, a.partitions);
    role.owned = a.partition.clone();
    role.config = WorkerConfig {
        checkpoint_every: a.checkpoint_every,
        simulated_tee: simulated,
        partitions: a.partitions,
        ..WorkerConfig::default()
    };
    role.run = RunOptions {
        commit_within: Duration::from_secs(u64::from(a.commit_secs)),
        ..Default::default()
    };
    // One re-attestation per period for the whole process, by whichever
    // partition's thread gets there first (evidence freshness, rotation).
    role.reattest_every =
        (a.follow || a.group).then(|| Duration::from_secs(release.reattest_after_secs));
    role.metrics = metrics("worker", a.metrics.as_deref())?.map(Arc::new);
    role.log = log;
    let owned = role.owned()?;
    if a.group {
        let me = format!("{}-{}", release.worker_id, std::process::id());
        eprintln!(
            "worker {me}: joining the group on {} ({} partitions, {} s leases)",
            role.deployment.describe(),
            a.partitions,
            a.lease_secs
        );
        let stop = shutdown_flag()?;
        let workers = role.run_group(
            &me,
            Duration::from_secs(u64::from(a.lease_secs)),
            &attestation,
            release,
            &stop,
        )?;
        for w in &workers {
            for l in report_lines(w, true) {
                println!("{l}");
            }
        }
        return Ok(());
    }
    let mut workers = role.open(&attestation, release)?;
    // Following: SIGTERM / SIGINT commit what was read and end the run.
    let stop = if a.follow {
        shutdown_flag()?
    } else {
        Arc::new(AtomicBool::new(false))
    };
    let until = if a.follow {
        Until::Stopped(&stop)
    } else {
        Until::Idle
    };
    let ran = role.run(&mut workers, until, Some(&attestation));
    for w in &workers {
        for l in report_lines(w, owned.len() > 1) {
            println!("{l}");
        }
    }
    Ok(ran?)
}
