//! Attestation before keys: the producer side.
//!
//! A worker proves what it runs with *evidence* from its TEE that binds 64
//! bytes of report data to its ephemeral public key and the key broker's
//! nonce ([`binding`]). The evidence travels with its *endorsements* (DCAP
//! collateral, the SNP VCEK/VLEK) as an [`Evidence`] bundle; verification
//! against the data controller's policy lives in `aorta-attest-verify`, and
//! the key broker (`aorta-kbs`) wraps the fleet keys to the worker's
//! ephemeral key with [`broker::wrap_fleet_key`].
//!
//! Producers ([`Attester`]): [`providers::GramineAttester`] (Intel SGX via
//! Gramine `/dev/attestation`), [`providers::TsmAttester`] (Intel TDX and
//! AMD SEV-SNP via Linux configfs-tsm), [`nitro::NitroAttester`] (AWS Nitro
//! Enclaves via `/dev/nsm`, feature `nitro`) and
//! [`simulated::SimulatedTee`] for development: its root is a throwaway key
//! that verifiers accept only when the policy names it and the operator
//! passed `--allow-simulated`.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod binding;
pub mod broker;
#[cfg(feature = "nitro-api")]
pub mod nitro;
pub mod providers;
pub mod select;
pub mod simulated;

pub use binding::report_data;
pub use broker::{unwrap_fleet_key, wrap_fleet_key, WrappedKey};

/// Which kind of TEE produced evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TeeKind {
    Simulated,
    SgxGramine,
    Tdx,
    SevSnp,
    Nitro,
}

impl TeeKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Simulated => "simulated",
            Self::SgxGramine => "sgx",
            Self::Tdx => "tdx",
            Self::SevSnp => "snp",
            Self::Nitro => "nitro",
        }
    }
}

/// Endorsements that travel with evidence. They are signed by the vendor,
/// so an untrusted party may carry them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Endorsements {
    /// DCAP collateral (dcap-qvl `QuoteCollateralV3` JSON).
    pub collateral_json: Option<Vec<u8>>,
    /// SNP VCEK/VLEK (DER).
    pub vek_der: Option<Vec<u8>>,
    /// SNP ASK/ASVK + ARK (PEM); default: AMD's built-in chains.
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for Endorsements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = |v: &Option<Vec<u8>>| v.as_ref().map(Vec::len);
        f.debug_struct("Endorsements")
            .field("collateral_json_bytes", &len(&self.collateral_json))
            .field("vek_der_bytes", &len(&self.vek_der))
            .field("ca_pem_bytes", &len(&self.ca_pem))
            .finish()
    }
}

/// Evidence as produced by an [`Attester`], with its endorsements.
#[derive(Clone, PartialEq, Eq)]
pub struct Evidence {
    pub tee: TeeKind,
    pub bytes: Vec<u8>,
    pub endorsements: Endorsements,
}

impl std::fmt::Debug for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Evidence({}, {} bytes)",
            self.tee.name(),
            self.bytes.len()
        )
    }
}

/// A TEE's evidence producer.
pub trait Attester: Send {
    fn tee(&self) -> TeeKind;
    /// Evidence whose report data is exactly `report_data`.
    fn evidence(&self, report_data: [u8; 64]) -> Result<Evidence, AttestError>;
}

/// What verified simulated evidence says about the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub tee: TeeKind,
    pub measurement: [u8; 32],
    pub debug: bool,
    pub report_data: [u8; 64],
    pub issued_at: u64,
}

/// Failures of producing, checking or unwrapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    #[error("evidence signature does not verify against the {tee} root")]
    BadSignature { tee: &'static str },
    #[error("malformed evidence: {0}")]
    Malformed(&'static str),
    #[error("evidence provider failed: {0}")]
    Provider(String),
    #[error("key wrapping failed")]
    Wrap,
}

impl From<providers::ProviderError> for AttestError {
    fn from(e: providers::ProviderError) -> Self {
        Self::Provider(e.to_string())
    }
}
