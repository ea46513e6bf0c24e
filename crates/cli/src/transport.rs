//! `--transport spool:DIR | nats://...` is parsed by `aorta-deploy`, the
//! one place that knows the transports; the binary holds a
//! `dyn Deployment` and never asks which one it is.

use std::sync::Arc;

use anyhow::Result;
use aorta_transport::{PartitionId, Producer};

pub use aorta_deploy::{Deployment, Open};
pub use aorta_enclave::TransportArgs;

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
