//! `--transport spool:DIR | nats://...`: the one place the binary picks
//! the transport; everything after it is generic over the transport traits.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use aorta_envelope::VerifyingKey;
use aorta_nats::{Nats, NatsConfig};
use aorta_spool::Spool;
use aorta_transport::{CommitLog, CommittedRecords, Consumer, PartitionId, Producer};
use aorta_worker::{Worker, WorkerConfig};

use crate::metrics::InputLag;

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

/// The chosen transport, open.
#[derive(Debug, Clone)]
pub enum Transport {
    Spool(Spool),
    Nats(Box<Nats>),
}

/// A worker's input, whatever the transport.
pub trait WorkerInput: Consumer + InputLag + Send {}
impl<T: Consumer + InputLag + Send> WorkerInput for T {}

impl InputLag for Box<dyn WorkerInput> {
    fn lag_bytes(&self) -> Option<u64> {
        (**self).lag_bytes()
    }
}

impl InputLag for aorta_nats::NatsInput {
    fn lag_bytes(&self) -> Option<u64> {
        None
    }
}

/// A worker on any transport.
pub type AnyWorker = Worker<Box<dyn WorkerInput>, Box<dyn CommitLog + Send>, crate::tee::SysRng>;

impl TransportArgs {
    /// Opens the transport (a spool directory is created if absent; NATS is
    /// connected, its version checked, and the streams for `partitions`
    /// created if missing).
    pub fn open(&self, partitions: u32) -> Result<Transport> {
        let spec = match (&self.transport, &self.spool) {
            (Some(t), _) => t.clone(),
            (None, Some(d)) => format!("spool:{}", d.display()),
            (None, None) => {
                bail!("give --transport spool:DIR or nats://HOST:PORT (or --spool DIR)")
            }
        };
        if let Some(dir) = spec.strip_prefix("spool:") {
            if dir.is_empty() {
                bail!("--transport spool:DIR needs a directory");
            }
            return Ok(Transport::Spool(Spool::open(dir)?));
        }
        let mut cfg = NatsConfig::parse(&spec)?;
        cfg.creds_file = self.nats_creds.clone();
        cfg.tls_ca = self.nats_ca.clone();
        if let (Some(c), Some(k)) = (&self.nats_cert, &self.nats_key) {
            cfg.tls_client = Some((c.clone(), k.clone()));
        }
        if !matches!(self.nats_replicas, 1 | 3 | 5) {
            bail!("--nats-replicas must be 1, 3 or 5");
        }
        cfg.replicas = self.nats_replicas;
        let nats = Nats::connect(&cfg).with_context(|| format!("NATS at {}", cfg.redacted()))?;
        nats.ensure_layout(partitions)?;
        Ok(Transport::Nats(Box::new(nats)))
    }
}

impl Transport {
    /// Where this transport is, for messages (no password).
    pub fn describe(&self) -> String {
        match self {
            Self::Spool(s) => format!("spool {}", s.root().display()),
            Self::Nats(n) => format!(
                "NATS {} (server {})",
                n.config().redacted(),
                n.server_version()
            ),
        }
    }

    /// Envelopes of every stream to its partition.
    pub fn envelope_producer(
        &self,
        partitions: u32,
    ) -> Result<aorta_gateway::route::Partitioned<Box<dyn Producer + Send>>> {
        let parts = (0..partitions)
            .map(|p| -> Result<Box<dyn Producer + Send>> {
                Ok(match self {
                    Self::Spool(s) => Box::new(s.ingest_appender(PartitionId(p))?),
                    Self::Nats(n) => Box::new(n.producer(PartitionId(p))),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(aorta_gateway::route::Partitioned::new(parts)?)
    }

    /// Appends signed enrolments to the control log.
    pub fn publish_enrolments(&self, signed: &[Vec<u8>]) -> Result<()> {
        let refs: Vec<&[u8]> = signed.iter().map(Vec::as_slice).collect();
        match self {
            Self::Spool(s) => s.control_appender()?.append(&refs)?,
            Self::Nats(n) => n.control_producer().append(&refs)?,
        };
        Ok(())
    }

    /// Every partition's committed results, for the clinician.
    pub fn results(&self) -> Box<dyn CommittedRecords + Send> {
        match self {
            Self::Spool(s) => Box::new(aorta_clinic::SpoolResults::new(s.clone())),
            Self::Nats(n) => Box::new(n.results()),
        }
    }

    /// A worker on partition `p` (restoring its last checkpoint). On NATS,
    /// opening the partition's output fences out any earlier owner;
    /// `owner` names this worker there (a worker id, never a person).
    pub fn open_worker(
        &self,
        p: u32,
        owner: &str,
        cfg: WorkerConfig,
        fleet: aorta_worker::Keyring,
        source: Option<Box<dyn aorta_worker::KeySource>>,
        controller: VerifyingKey,
    ) -> Result<AnyWorker> {
        let (input, control, output): (
            Box<dyn WorkerInput>,
            Box<dyn WorkerInput>,
            Box<dyn CommitLog + Send>,
        ) = match self {
            Self::Spool(s) => (
                Box::new(s.ingest_reader(PartitionId(p))?),
                Box::new(s.control_reader()?),
                Box::new(s.results_owner(PartitionId(p)).with_context(|| {
                    format!("opening results partition {p} (is another worker running on it?)")
                })?),
            ),
            Self::Nats(n) => {
                let mut control = n.control_input()?;
                control.idle_wait = std::time::Duration::ZERO;
                (
                    Box::new(n.input(PartitionId(p))?),
                    Box::new(control),
                    Box::new(n.output(PartitionId(p), owner)?),
                )
            }
        };
        Ok(Worker::new(
            WorkerConfig {
                partition: p,
                ..cfg
            },
            input,
            control,
            output,
            aorta_worker::WorkerKeys {
                fleet,
                controller,
                source,
            },
            crate::tee::sys_rng(),
            Box::new(crate::tee::unix_now_ms),
        )?)
    }
}
