//! Obtaining the fleet key through attestation.
//!
//! `--tee simulated` is the only provider so far. The worker generates an
//! ephemeral X25519 key, asks the key broker for a nonce, produces evidence
//! binding both, and receives the fleet key wrapped to its ephemeral key. In
//! this build the key broker runs in-process over the controller's key
//! directory; `aorta kbs` (issue 4) moves it behind a socket.

use anyhow::{bail, Context, Result};
use aorta_attest::simulated::{SimulatedTee, WARNING};
use aorta_attest::{binding, release_fleet_key, unwrap_fleet_key, Attester, Policy};
use aorta_envelope::{KemKeypair, KemSecret};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::keystore::KeyStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TeeChoice {
    /// Development only: NOT a trusted execution environment.
    Simulated,
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The worker's measurement under the simulated TEE: SHA-256 of its own binary.
pub fn self_measurement() -> Result<[u8; 32]> {
    let exe = std::env::current_exe().context("locating the worker binary")?;
    let bytes = std::fs::read(&exe).with_context(|| format!("reading {}", exe.display()))?;
    Ok(Sha256::digest(&bytes).into())
}

/// Attests under `tee` and obtains the fleet secret from the key broker.
pub fn obtain_fleet_key(
    tee: TeeChoice,
    keys: &KeyStore,
    quiet: bool,
) -> Result<(KemSecret, String)> {
    match tee {
        TeeChoice::Simulated => {
            if !quiet {
                eprintln!("\n{WARNING}\n");
            }
            let mut rng = crate::tee::sys_rng();
            let measurement = self_measurement()?;
            let tee = SimulatedTee::new(keys.sim_tee_root()?, measurement, Box::new(unix_now));
            // Worker side: ephemeral key; broker side: nonce.
            let ephemeral = KemKeypair::generate(&mut rng);
            let mut nonce = [0u8; 32];
            rng.fill_bytes(&mut nonce);
            let evidence = tee.evidence(binding::report_data(&ephemeral.public.0, &nonce))?;
            // Broker side: the operator chose the simulated TEE explicitly.
            let policy = Policy {
                allow_simulated: true,
                simulated_root: Some(keys.sim_tee_root()?.verifying_key()),
                measurements: Vec::new(),
                max_age_secs: 300,
            };
            let fleet = keys.fleet_secret_for_broker()?;
            let (claims, wrapped) = match release_fleet_key(
                &fleet,
                &evidence,
                &ephemeral.public,
                &nonce,
                &policy,
                unix_now(),
                &mut rng,
            ) {
                Ok(v) => v,
                Err(e) => bail!("key broker refused the fleet key: {e}"),
            };
            drop(fleet);
            let key = unwrap_fleet_key(&wrapped, &ephemeral.secret, &nonce)?;
            Ok((
                key,
                format!(
                    "simulated TEE, measurement {}",
                    hex::encode(claims.measurement)
                ),
            ))
        }
    }
}

/// The operating system's CSPRNG (panics only if the OS cannot supply randomness).
pub type SysRng = rand_core::UnwrapErr<rand_core::OsRng>;

pub fn sys_rng() -> SysRng {
    rand_core::UnwrapErr(rand_core::OsRng)
}
