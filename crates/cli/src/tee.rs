//! Attestation on the worker's side and the gateway's check of the fleet key.
//!
//! A worker picks its evidence provider with `--tee`, keeps one ephemeral
//! X25519 key for its life, and obtains the fleet keys from the key broker
//! (`--kbs HOST:PORT`, or the in-process broker of the demo and bench) by
//! answering a challenge with evidence. It attests again when it meets an
//! epoch it does not hold (rotation) and periodically in `--follow` mode.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use aorta_attest::providers::{
    endorsements_from_files, ConfigfsTsm, Gramine, GramineAttester, TsmAttester, TsmProvider,
};
use aorta_attest::simulated::{SimulatedTee, WARNING};
use aorta_attest::Attester;
use aorta_envelope::{KemKeypair, KemSecret};
use aorta_kbs::{Release, Transport, WorkerAttestation};
use sha2::{Digest, Sha256};

use crate::keystore::KeyStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TeeChoice {
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

/// How the worker produces evidence.
#[derive(clap::Args, Debug, Clone)]
pub struct AttestArgs {
    /// Which TEE this worker runs in.
    #[arg(long, value_enum)]
    pub tee: TeeChoice,
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

/// The evidence provider for `a.tee`.
pub fn attester(a: &AttestArgs, keys: &KeyStore) -> Result<Box<dyn Attester>> {
    let endorsements = endorsements_from_files(&a.endorsements)?;
    let dir = |default: &str| a.attestation_dir.clone().unwrap_or_else(|| default.into());
    Ok(match a.tee {
        TeeChoice::Simulated => {
            let measurement = match &a.sim_measurement {
                Some(h) => {
                    let mut m = [0u8; 32];
                    hex::decode_to_slice(h, &mut m)
                        .context("--sim-measurement takes 64 hex digits")?;
                    m
                }
                None => self_measurement()?,
            };
            Box::new(SimulatedTee::new(
                keys.sim_tee_root()?,
                measurement,
                Box::new(unix_now),
            ))
        }
        TeeChoice::Sgx => Box::new(GramineAttester {
            gramine: Gramine::new(dir("/dev/attestation")),
            endorsements,
        }),
        TeeChoice::Tdx | TeeChoice::Snp => Box::new(TsmAttester {
            tsm: ConfigfsTsm::new(dir("/sys/kernel/config/tsm/report")),
            expect: if a.tee == TeeChoice::Tdx {
                TsmProvider::Tdx
            } else {
                TsmProvider::SevSnp
            },
            endorsements,
        }),
        TeeChoice::Nitro => nitro()?,
    })
}

#[cfg(feature = "nitro")]
fn nitro() -> Result<Box<dyn Attester>> {
    Ok(Box::new(aorta_attest::nitro::NitroAttester::default()))
}

#[cfg(not(feature = "nitro"))]
fn nitro() -> Result<Box<dyn Attester>> {
    bail!("this build has no Nitro support: build with `cargo build --release --features nitro`")
}

/// A worker's standing with the key broker, shared between the worker
/// (which asks again for a new epoch) and its run loop (which re-attests
/// periodically).
#[derive(Clone)]
pub struct KbsKeys {
    attestation: Arc<Mutex<WorkerAttestation>>,
}

impl KbsKeys {
    /// Attests under `a.tee` to the broker behind `transport`.
    pub fn attest(
        a: &AttestArgs,
        keys: &KeyStore,
        transport: Box<dyn Transport>,
        quiet: bool,
    ) -> Result<(Self, Release)> {
        if a.tee == TeeChoice::Simulated && !quiet {
            eprintln!("\n{WARNING}\n");
        }
        let att = WorkerAttestation::new(
            KemKeypair::generate(&mut sys_rng()),
            attester(a, keys)?,
            transport,
        );
        let id = att.worker_id();
        let release = att
            .fetch()
            .with_context(|| format!("worker {id}: no fleet key"))?;
        Ok((
            Self {
                attestation: Arc::new(Mutex::new(att)),
            },
            release,
        ))
    }

    pub fn fetch(&self) -> Result<Release, aorta_kbs::KbsError> {
        let att = self
            .attestation
            .lock()
            .map_err(|_| aorta_kbs::KbsError::Poisoned)?;
        att.fetch()
    }
}

impl aorta_worker::KeySource for KbsKeys {
    fn fetch(&mut self) -> Result<Vec<(u32, KemSecret)>, aorta_worker::KeyFetchError> {
        KbsKeys::fetch(self).map(|r| r.keys).map_err(|e| {
            let reason = e.to_string();
            if e.retryable() {
                aorta_worker::KeyFetchError::Unavailable { reason }
            } else {
                aorta_worker::KeyFetchError::Refused { reason }
            }
        })
    }
}

/// The operating system's CSPRNG (panics only if the OS cannot supply randomness).
pub type SysRng = rand_core::UnwrapErr<rand_core::OsRng>;

pub fn sys_rng() -> SysRng {
    rand_core::UnwrapErr(rand_core::OsRng)
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

/// Attestation arguments for the simulated TEE with this binary's measurement.
pub fn simulated() -> AttestArgs {
    AttestArgs {
        tee: TeeChoice::Simulated,
        endorsements: Vec::new(),
        attestation_dir: None,
        sim_measurement: None,
    }
}
