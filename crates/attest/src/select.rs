//! Choosing the evidence provider a worker runs under (`--tee`).

use std::path::PathBuf;

use aorta_envelope::SigningKey;

use crate::providers::{
    endorsements_from_files, ConfigfsTsm, Gramine, GramineAttester, ProviderError, TsmAttester,
    TsmProvider,
};
use crate::simulated::SimulatedTee;
use crate::Attester;

/// Which TEE a worker runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The simulated TEE's inputs: the deployment's throwaway platform root
/// and the measurement it reports.
pub struct Simulation {
    pub root: SigningKey,
    pub measurement: [u8; 32],
}

/// What a provider needs besides its kind.
#[derive(Default)]
pub struct ProviderOptions {
    /// Endorsements sent with the evidence: DCAP collateral JSON (SGX, TDX)
    /// or the VCEK/VLEK certificate (SNP).
    pub endorsements: Vec<PathBuf>,
    /// Where the provider's interface lives (default `/dev/attestation`
    /// for SGX, `/sys/kernel/config/tsm/report` for TDX and SNP).
    pub attestation_dir: Option<PathBuf>,
    /// Required for [`TeeChoice::Simulated`].
    pub simulation: Option<Simulation>,
    /// Unix seconds (the simulated TEE dates its evidence).
    pub now: Option<fn() -> u64>,
}

/// Why no provider could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("the simulated TEE needs its platform root (sim-tee-root.key) and a measurement")]
    NoSimulation,
    #[error("this build has no Nitro support: build with `--features nitro`")]
    NoNitro,
}

/// The SHA-256 of this process's own executable: the measurement the
/// simulated TEE reports for it.
pub fn self_measurement() -> Result<[u8; 32], ProviderError> {
    use sha2::{Digest, Sha256};
    let exe = std::env::current_exe().map_err(|e| ProviderError::Io {
        path: "the running executable".into(),
        reason: e.to_string(),
    })?;
    let bytes = std::fs::read(&exe).map_err(|e| ProviderError::Io {
        path: exe.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(Sha256::digest(&bytes).into())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The evidence provider for `tee`.
pub fn provider(tee: TeeChoice, o: ProviderOptions) -> Result<Box<dyn Attester>, SelectError> {
    let endorsements = endorsements_from_files(&o.endorsements)?;
    let dir = |default: &str| o.attestation_dir.clone().unwrap_or_else(|| default.into());
    Ok(match tee {
        TeeChoice::Simulated => {
            let s = o.simulation.ok_or(SelectError::NoSimulation)?;
            Box::new(SimulatedTee::new(
                s.root,
                s.measurement,
                Box::new(o.now.unwrap_or(unix_now)),
            ))
        }
        TeeChoice::Sgx => Box::new(GramineAttester {
            gramine: Gramine::new(dir("/dev/attestation")),
            endorsements,
        }),
        TeeChoice::Tdx | TeeChoice::Snp => Box::new(TsmAttester {
            tsm: ConfigfsTsm::new(dir("/sys/kernel/config/tsm/report")),
            expect: if tee == TeeChoice::Tdx {
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
fn nitro() -> Result<Box<dyn Attester>, SelectError> {
    Ok(Box::new(crate::nitro::NitroAttester::default()))
}

#[cfg(not(feature = "nitro"))]
fn nitro() -> Result<Box<dyn Attester>, SelectError> {
    Err(SelectError::NoNitro)
}
