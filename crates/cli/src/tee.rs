//! Clocks, randomness and the in-process key broker of the demo and the
//! benchmarks. A worker's attestation is `aorta_enclave::attest`.

use std::sync::Arc;

use anyhow::Result;

pub use aorta_worker::role::{sys_rng, unix_now_ms, SysRng};

use crate::keystore::KeyStore;

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The in-process key broker of the demo and the bench, over `keys`, with
/// the simulated TEE allowed (they run nowhere else).
pub fn local_broker(keys: &KeyStore) -> Result<Arc<aorta_kbs::Broker<SysRng>>> {
    Ok(Arc::new(aorta_kbs::Broker::new(
        keys.store()?,
        true,
        sys_rng(),
        Box::new(unix_now),
    )?))
}

/// A simulated-TEE worker attested to the in-process broker.
pub fn attest_simulated(
    keys: &KeyStore,
    broker: &Arc<aorta_kbs::Broker<SysRng>>,
    quiet: bool,
) -> Result<(aorta_worker::role::Attestation, aorta_kbs::Release)> {
    aorta_enclave::attest(
        &aorta_enclave::AttestOptions::simulated(),
        &aorta_deploy::keydir::SharedKeys::open(keys.dir())?,
        Box::new(broker.clone()),
        quiet,
    )
    .map_err(|e| anyhow::anyhow!(e))
}
