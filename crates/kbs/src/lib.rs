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
pub mod server;
pub mod store;

// The client side (protocol, worker attestation, the gateway's check of the
// fleet key and its watcher) is `aorta-kbs-client`, which gateways and
// workers link without this server, its store or its audit log.
pub use aorta_kbs_client::{
    client, proto, verify, verify_fleet, watch, Client, FleetWatch, KbsError, Release, Retry,
    SignedPolicy, Transport, VerifiedFleet, WatchThread, WorkerAttestation,
};
pub use broker::Broker;
pub use store::Store;
