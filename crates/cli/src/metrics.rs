//! Where each process's metrics endpoint starts (what it publishes is the
//! libraries': `aorta_worker::metrics`, `aorta_gateway::metrics`).

use aorta_metrics::Exporter;

/// Starts the endpoint if asked; prints where it listens.
pub fn start(role: &str, addr: Option<&str>) -> anyhow::Result<Option<Exporter>> {
    aorta_enclave::metrics(role, addr).map_err(|e| anyhow::anyhow!(e))
}
