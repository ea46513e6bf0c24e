//! The key broker (`aorta kbs`): the only holder of the fleet keys.
//!
//! * Workers ask for a [challenge](proto::Request::Challenge) naming the
//!   current fleet key epoch, answer with evidence whose report data binds
//!   their ephemeral key and the challenge's nonce, and receive every active
//!   epoch's fleet secret wrapped to that key — only if the evidence
//!   satisfies the data controller's signed policy ([`store::SignedPolicy`]).
//! * Gateways ask for the [fleet key](proto::Request::Fleet) and get, with
//!   it, the evidence of a worker that was offered exactly that key; they
//!   check it against their own copy of the policy
//!   ([`client::verify_fleet`]) and refuse to send otherwise.
//! * Epochs rotate without stopping streams ([`admin::rotate`]); workers can
//!   be revoked ([`admin::revoke_worker`]); every decision is in a
//!   hash-chained audit log ([`audit`]).
//!
//! The broker is trusted: it runs on the hospital's premises or in its own
//! TEE. It never logs key material, evidence bytes or report data.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod admin;
pub mod audit;
pub mod broker;
pub mod client;
pub mod proto;
pub mod server;
pub mod store;
pub mod watch;

pub use broker::Broker;
pub use client::{verify_fleet, Client, Release, Transport, VerifiedFleet, WorkerAttestation};
pub use store::{SignedPolicy, Store};
pub use watch::{FleetWatch, WatchThread};

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
    #[error("the key broker refused: {0}")]
    Refused(String),
    #[error("refusing to send: {0}")]
    GatewayRefuses(String),
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
    /// Whether asking again later can help: the broker could not be
    /// reached or a file could not be read, as opposed to a refusal (policy,
    /// evidence, revocation), a malformed answer or a defect.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Io { .. })
    }
}
