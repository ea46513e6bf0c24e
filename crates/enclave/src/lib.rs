//! The worker's command line, shared by the enclave's binary
//! (`aorta-worker`) and `aorta worker`: arguments, then the worker role
//! (`aorta_worker::role`), then the operator's summary. This crate is the
//! edge of the worker binary: `anyhow` lives here, behaviour in the
//! libraries.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use aorta_attest::select::{self, ProviderOptions, Simulation, TeeChoice};
use aorta_deploy::keydir::SharedKeys;
use aorta_deploy::{Deployment, Open, TransportSpec};
use aorta_kbs_client::{Release, Transport, WorkerAttestation};
use aorta_worker::role::{report_lines, Attestation, Log, WorkerRole};
use aorta_worker::run::{RunOptions, Until};
use aorta_worker::WorkerConfig;

/// Where envelopes, enrolments, results and checkpoints live.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TransportArgs {
    /// `spool:DIR` (the embedded spool) or
    /// `nats://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]` (NATS JetStream
    /// 2.12 or newer; `tls://` requires TLS). The password is never printed.
    #[arg(long, value_name = "spool:DIR|nats://...")]
    pub transport: Option<String>,
    /// The embedded spool's directory (the same as `--transport spool:DIR`).
    #[arg(long, conflicts_with = "transport")]
    pub spool: Option<PathBuf>,
    /// NATS credentials file (user JWT and NKEY seed).
    #[arg(long)]
    pub nats_creds: Option<PathBuf>,
    /// CA certificate (PEM) the NATS server's TLS certificate must chain to.
    #[arg(long)]
    pub nats_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS with NATS.
    #[arg(long, requires = "nats_key")]
    pub nats_cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS with NATS.
    #[arg(long, requires = "nats_cert")]
    pub nats_key: Option<PathBuf>,
    /// Replicas of the streams this process creates (3 on a 3-node cluster).
    #[arg(long, default_value_t = 1)]
    pub nats_replicas: usize,
}

impl TransportArgs {
    /// The arguments as a specification, if a transport was given.
    pub fn spec(&self) -> Option<TransportSpec> {
        let transport = match (&self.transport, &self.spool) {
            (Some(t), _) => t.clone(),
            (None, Some(d)) => format!("spool:{}", d.display()),
            (None, None) => return None,
        };
        Some(TransportSpec {
            transport,
            nats_creds: self.nats_creds.clone(),
            nats_ca: self.nats_ca.clone(),
            nats_client: self.nats_cert.clone().zip(self.nats_key.clone()),
            nats_replicas: self.nats_replicas,
        })
    }

    /// Opens the transport (see [`aorta_deploy::open`]).
    pub fn open(&self, how: Open) -> Result<Arc<dyn Deployment>> {
        let Some(spec) = self.spec() else {
            bail!("give --transport spool:DIR or nats://HOST:PORT (or --spool DIR)")
        };
        Ok(aorta_deploy::open(&spec, how)?)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TeeArg {
    /// Development only: NOT a trusted execution environment.
    Simulated,
    /// Intel SGX under Gramine (`/dev/attestation`, DCAP).
    Sgx,
    /// Intel TDX confidential VM (configfs-tsm).
    Tdx,
    /// AMD SEV-SNP confidential VM (configfs-tsm).
    Snp,
    /// AWS Nitro Enclaves (`/dev/nsm`; needs the `nitro` build feature).
    Nitro,
}

impl From<TeeArg> for TeeChoice {
    fn from(t: TeeArg) -> Self {
        match t {
            TeeArg::Simulated => Self::Simulated,
            TeeArg::Sgx => Self::Sgx,
            TeeArg::Tdx => Self::Tdx,
            TeeArg::Snp => Self::Snp,
            TeeArg::Nitro => Self::Nitro,
        }
    }
}

/// How the worker produces evidence.
#[derive(clap::Args, Debug, Clone)]
pub struct AttestArgs {
    /// Which TEE this worker runs in.
    #[arg(long, value_enum)]
    pub tee: TeeArg,
    /// Endorsements sent with the evidence: DCAP collateral JSON (SGX, TDX)
    /// or the VCEK/VLEK certificate (SNP, when the host's auxblob lacks it).
    #[arg(long)]
    pub endorsements: Vec<PathBuf>,
    /// Where the provider's interface lives (default `/dev/attestation`
    /// for SGX, `/sys/kernel/config/tsm/report` for TDX and SNP).
    #[arg(long)]
    pub attestation_dir: Option<PathBuf>,
    /// Simulated TEE only: report this measurement instead of the SHA-256
    /// of this binary (to rehearse what an unlisted build meets).
    #[arg(long)]
    pub sim_measurement: Option<String>,
}

impl AttestArgs {
    /// The simulated TEE with this binary's measurement.
    pub fn simulated() -> Self {
        Self {
            tee: TeeArg::Simulated,
            endorsements: Vec::new(),
            attestation_dir: None,
            sim_measurement: None,
        }
    }
}

/// Attests under `a.tee` to the broker behind `kbs` (the simulated TEE's
/// root comes from `keys`); prints the simulated-TEE warning unless `quiet`.
pub fn attest(
    a: &AttestArgs,
    keys: &SharedKeys,
    kbs: Box<dyn Transport>,
    quiet: bool,
) -> Result<(Attestation, Release)> {
    let simulation = if a.tee == TeeArg::Simulated {
        if !quiet {
            eprintln!("\n{}\n", aorta_attest::simulated::WARNING);
        }
        let measurement = match &a.sim_measurement {
            Some(h) => {
                let mut m = [0u8; 32];
                hex::decode_to_slice(h, &mut m).context("--sim-measurement takes 64 hex digits")?;
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
        a.tee.into(),
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
    Ok(Attestation::attest(att)?)
}

#[derive(clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub attest: AttestArgs,
    /// The key broker (HOST:PORT).
    #[arg(long)]
    pub kbs: String,
    /// The deployment's directory: the controller's public key (which signs
    /// enrolments) and, for the simulated TEE only, its platform root.
    #[arg(long)]
    pub keys: PathBuf,
    #[command(flatten)]
    pub transport: TransportArgs,
    /// The partitions this worker process owns (0 .. --partitions; repeat
    /// the flag or separate by commas; default: all), each processed on its
    /// own thread.
    #[arg(long, value_delimiter = ',')]
    pub partition: Vec<u32>,
    /// Partitions in the deployment, as given to the gateways: envelopes
    /// of streams that belong to another partition are rejected.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub partitions: u32,
    /// Commit results with a sealed checkpoint every N input envelopes.
    #[arg(long, default_value_t = 1024)]
    pub checkpoint_every: u64,
    /// Keep running and polling for new input instead of exiting when idle.
    #[arg(long)]
    pub follow: bool,
    /// Attest, report which fleet key epochs were released, and exit
    /// (a deployment check; it also shows gateways a worker holds the key).
    #[arg(long)]
    pub attest_only: bool,
    /// Serve Prometheus/OpenMetrics metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Join the worker group on NATS: partitions are shared among live
    /// group members by leases, taken over when a member dies and
    /// rebalanced when one joins (implies following the input).
    #[arg(long, conflicts_with = "partition")]
    pub group: bool,
    /// Group leases expire this many seconds after a member stops
    /// renewing them (takeover within about twice this).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=300))]
    pub lease_secs: u32,
    /// Following (`--follow`, `--group`): make results visible within this
    /// many seconds of catching up with the input. Each commit writes every
    /// stream's checkpoint: longer means less checkpoint volume, later
    /// results.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub commit_secs: u32,
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

/// `aorta-worker` / `aorta worker`.
pub fn worker(a: WorkerArgs) -> Result<()> {
    let keys = SharedKeys::open(&a.keys)?;
    let deployment = a.transport.open(Open::Create {
        partitions: a.partitions,
    })?;
    let (attestation, release) = attest(
        &a.attest,
        &keys,
        Box::new(aorta_kbs_client::Client::new(a.kbs.clone())),
        false,
    )?;
    let simulated = a.attest.tee == TeeArg::Simulated;
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
