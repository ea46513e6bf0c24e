//! The key broker's clients, apart from the broker (`aorta-kbs`): what
//! gateways and workers link.
//!
//! * [`proto`]: the JSON-lines protocol (docs/wire-format.md, "Key broker
//!   protocol").
//! * [`client`]: a connection-per-request [`Client`], and the worker's
//!   attestation ([`WorkerAttestation`]: challenge, evidence bound to an
//!   ephemeral key, release, unwrap), repeated for re-attestation.
//! * With the `verify` feature (gateways): [`verify`], the gateway's check
//!   that the fleet key it is offered is held by a worker whose evidence
//!   satisfies its own copy of the controller-signed policy
//!   ([`verify_fleet`]), and [`watch`], which follows rotations. This pulls
//!   in the vendor evidence verifiers; the worker's enclave binary builds
//!   without it.
//!
//! Errors say whether waiting or retrying can help ([`KbsError::retry`]).

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod client;
pub mod proto;
#[cfg(feature = "verify")]
pub mod verify;
#[cfg(feature = "verify")]
pub mod watch;

pub use client::{worker_id, Client, Release, Transport, WorkerAttestation};
pub use proto::Retry;
#[cfg(feature = "verify")]
pub use verify::{verify_fleet, GatewayRefusal, SignedPolicy, VerifiedFleet};
#[cfg(feature = "verify")]
pub use watch::{FleetWatch, WatchThread};

/// Failures along the trust chain: reaching the broker, its refusals, the
/// gateway's own refusals, and the broker's own environment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KbsError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("policy: {0}")]
    Policy(String),
    #[error("fleet key epoch {0} does not exist")]
    NoSuchEpoch(u32),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("key wrapping failed: {0}")]
    Wrap(String),
    #[error("producing evidence failed: {0}")]
    Evidence(String),
    #[error("the key broker at {addr} cannot be reached: {reason}")]
    Unreachable { addr: String, reason: String },
    #[error("unexpected answer from the key broker: {0}")]
    Protocol(String),
    /// The broker answered with a refusal; `retry` is its word on whether
    /// asking again can help.
    #[error("the key broker refused: {reason}")]
    Refused { reason: String, retry: Retry },
    /// The gateway's own check of what the broker offered failed.
    #[cfg(feature = "verify")]
    #[error("refusing to send: {0}")]
    GatewayRefuses(GatewayRefusal),
    #[error("audit log line {line}: {reason}")]
    AuditChain { line: usize, reason: String },
    #[error("internal lock poisoned")]
    Poisoned,
    /// The thread checking for rotated keys ended unexpectedly: rotations
    /// (and revocations) would no longer reach the gateway.
    #[error("the fleet-key watch stopped unexpectedly; rotations would no longer be seen")]
    WatchStopped,
}

impl KbsError {
    /// Whether, and how, trying again can help.
    pub fn retry(&self) -> Retry {
        match self {
            Self::Unreachable { .. } | Self::Io { .. } => Retry::Later,
            Self::Refused { retry, .. } => *retry,
            #[cfg(feature = "verify")]
            Self::GatewayRefuses(g) => g.retry(),
            _ => Retry::Never,
        }
    }

    /// Whether asking again later can help (the broker unreachable or busy,
    /// no worker attested yet, collateral to refresh), as opposed to a
    /// refusal (policy, evidence, revocation), a malformed answer or a
    /// defect.
    pub fn retryable(&self) -> bool {
        self.retry() != Retry::Never
    }
}
