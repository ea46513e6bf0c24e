//! `--transport spool:DIR | nats://...` is parsed by `aorta-deploy`, the
//! one place that knows the transports; the binary holds a
//! `dyn Deployment` and never asks which one it is.

use std::sync::Arc;

use anyhow::Result;
use aorta_transport::{PartitionId, Producer};

use aorta_deploy::TransportSpec;
pub use aorta_deploy::{Deployment, Open};

/// Where envelopes, enrolments, results and checkpoints live (the same
/// flags as `aorta-worker`'s).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TransportArgs {
    /// `spool:DIR` (the embedded spool) or
    /// `nats://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]` (NATS JetStream
    /// 2.12 or newer; `tls://` requires TLS). The password is never printed.
    #[arg(long, value_name = "spool:DIR|nats://...")]
    pub transport: Option<String>,
    /// The embedded spool's directory (the same as `--transport spool:DIR`).
    #[arg(long, conflicts_with = "transport")]
    pub spool: Option<std::path::PathBuf>,
    /// NATS credentials file (user JWT and NKEY seed).
    #[arg(long)]
    pub nats_creds: Option<std::path::PathBuf>,
    /// CA certificate (PEM) the NATS server's TLS certificate must chain to.
    #[arg(long)]
    pub nats_ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for mutual TLS with NATS.
    #[arg(long, requires = "nats_key")]
    pub nats_cert: Option<std::path::PathBuf>,
    /// Client key (PEM) for mutual TLS with NATS.
    #[arg(long, requires = "nats_cert")]
    pub nats_key: Option<std::path::PathBuf>,
    /// Replicas of the streams this process creates (3 on a 3-node cluster).
    #[arg(long, default_value_t = 1)]
    pub nats_replicas: usize,
}

impl TransportArgs {
    /// Opens the transport (see [`aorta_deploy::open`]).
    pub fn open(&self, how: Open) -> Result<Transport> {
        let transport = match (&self.transport, &self.spool) {
            (Some(t), _) => t.clone(),
            (None, Some(d)) => format!("spool:{}", d.display()),
            (None, None) => {
                anyhow::bail!("give --transport spool:DIR or nats://HOST:PORT (or --spool DIR)")
            }
        };
        let spec = TransportSpec {
            transport,
            nats_creds: self.nats_creds.clone(),
            nats_ca: self.nats_ca.clone(),
            nats_client: self.nats_cert.clone().zip(self.nats_key.clone()),
            nats_replicas: self.nats_replicas,
            notice: Some(|l| eprintln!("{l}")),
        };
        Ok(aorta_deploy::open(&spec, how)?)
    }
}

/// The chosen transport, open.
pub type Transport = Arc<dyn Deployment>;

/// Envelopes of every stream to its partition.
pub fn envelope_producer(
    d: &dyn Deployment,
    partitions: u32,
) -> Result<aorta_gateway::route::Partitioned<Box<dyn Producer + Send>>> {
    let parts = (0..partitions)
        .map(|p| d.producer(PartitionId(p)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(aorta_gateway::route::Partitioned::new(parts)?)
}

/// Appends signed enrolments to the control log.
pub fn publish_enrolments(d: &dyn Deployment, signed: &[Vec<u8>]) -> Result<()> {
    let refs: Vec<&[u8]> = signed.iter().map(Vec::as_slice).collect();
    d.control_producer()?.append(&refs)?;
    Ok(())
}

/// A transport for a demo or a benchmark that starts from nothing:
/// `spec` (default: the spool at `default_spool`), everything Aorta stored
/// there deleted, `partitions` prepared.
pub fn fresh(
    spec: Option<&str>,
    default_spool: &std::path::Path,
    partitions: u32,
) -> Result<Transport> {
    let spec = match spec {
        Some(s) => aorta_deploy::TransportSpec::new(s),
        None => aorta_deploy::TransportSpec::spool(default_spool),
    };
    let d = aorta_deploy::open(&spec, Open::Create { partitions })?;
    d.dangerous_reset(partitions)?;
    Ok(d)
}
