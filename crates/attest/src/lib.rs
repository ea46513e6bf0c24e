//! Attestation before keys.
//!
//! A worker proves what it runs with *evidence* from its TEE that binds 64
//! bytes of report data to its ephemeral public key and the verifier's nonce
//! ([`binding`]). A verifier checks the evidence offline against a
//! [`Policy`], with `now` as an argument; a key broker releases the fleet key
//! only to evidence that passes, wrapped with HPKE to the worker's ephemeral
//! key ([`broker`]).
//!
//! Providers: [`simulated::SimulatedTee`] only, for development. Its root is
//! a throwaway key, and verifiers reject it unless the policy says
//! `allow_simulated`, which every consumer prints loudly. SGX (Gramine
//! DCAP), TDX and SEV-SNP (configfs-tsm) and Nitro plug in as further
//! [`Attester`] implementations and [`Evidence`] variants.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod binding;
pub mod broker;
pub mod providers;
pub mod simulated;

pub use binding::report_data;
pub use broker::{release_fleet_key, unwrap_fleet_key, WrappedKey};

/// Which kind of TEE produced evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TeeKind {
    Simulated,
}

impl TeeKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Simulated => "simulated",
        }
    }
}

/// Evidence as produced by an [`Attester`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Evidence {
    Simulated(simulated::SimulatedEvidence),
}

impl Evidence {
    pub fn tee(&self) -> TeeKind {
        match self {
            Self::Simulated(_) => TeeKind::Simulated,
        }
    }
}

/// A TEE's evidence producer.
pub trait Attester {
    fn tee(&self) -> TeeKind;
    /// Evidence whose report data is exactly `report_data`.
    fn evidence(&self, report_data: [u8; 64]) -> Result<Evidence, AttestError>;
}

/// What the verified evidence says about the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub tee: TeeKind,
    pub measurement: [u8; 32],
    pub debug: bool,
    pub report_data: [u8; 64],
    pub issued_at: u64,
}

/// The data controller's acceptance rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Accept the simulated TEE. Development only; printed on every result.
    pub allow_simulated: bool,
    /// The simulated platform's root, when simulated evidence is allowed.
    pub simulated_root: Option<aorta_envelope::VerifyingKey>,
    /// Accepted measurements; empty means any (only meaningful in development).
    pub measurements: Vec<[u8; 32]>,
    /// Oldest acceptable evidence, seconds before `now`.
    pub max_age_secs: u64,
}

/// Why evidence or a key release was refused. Callers can tell "refresh and
/// retry" ([`AttestError::retryable`]) from "reject".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    #[error("simulated TEE evidence refused: the policy does not allow_simulated")]
    SimulatedNotAllowed,
    #[error("evidence signature does not verify against the {tee} root")]
    BadSignature { tee: &'static str },
    #[error("measurement {found} is not in the policy")]
    MeasurementNotAllowed { found: String },
    #[error("debug-mode TEE refused")]
    Debug,
    #[error("report data does not bind this key and nonce")]
    BindingMismatch,
    #[error("evidence is {age_secs} s old, policy allows {max_secs} s")]
    Expired { age_secs: u64, max_secs: u64 },
    #[error("evidence issued {skew_secs} s in the future")]
    FromTheFuture { skew_secs: u64 },
    #[error("malformed evidence: {0}")]
    Malformed(&'static str),
    #[error("evidence provider failed: {0}")]
    Provider(String),
    #[error("key wrapping failed")]
    Wrap,
}

impl AttestError {
    /// True when fresh evidence may succeed (it was only too old).
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Expired { .. } | Self::Provider(_))
    }
}

/// Verifies evidence against `policy` at time `now` (Unix seconds).
pub fn verify(evidence: &Evidence, policy: &Policy, now: u64) -> Result<Claims, AttestError> {
    let claims = match evidence {
        Evidence::Simulated(e) => {
            if !policy.allow_simulated {
                return Err(AttestError::SimulatedNotAllowed);
            }
            let root = policy
                .simulated_root
                .ok_or(AttestError::SimulatedNotAllowed)?;
            e.verify(&root)?
        }
    };
    if claims.debug {
        return Err(AttestError::Debug);
    }
    if claims.issued_at > now + 300 {
        return Err(AttestError::FromTheFuture {
            skew_secs: claims.issued_at - now,
        });
    }
    let age = now.saturating_sub(claims.issued_at);
    if policy.max_age_secs > 0 && age > policy.max_age_secs {
        return Err(AttestError::Expired {
            age_secs: age,
            max_secs: policy.max_age_secs,
        });
    }
    if !policy.measurements.is_empty() && !policy.measurements.contains(&claims.measurement) {
        return Err(AttestError::MeasurementNotAllowed {
            found: hex::encode(claims.measurement),
        });
    }
    Ok(claims)
}
