//! The clinician's side of Aorta, on the hospital's premises: the only
//! place besides the TEE where results exist in plaintext.
//!
//! * [`feed`]: follows the results that workers have *committed* on a
//!   transport ([`feed::CommittedRecords`]; the spool implements it), opens
//!   them with the clinician key, authenticating the sender as the fleet,
//!   and drops replays and copies ([`feed::Decryptor`]).
//! * [`ward`]: the ward's state built from those rows: latest values,
//!   rhythm, active alerts, data quality per patient, and trends.
//! * [`fhir`]: HL7 FHIR R4 `Observation`s in a `Bundle`.
//! * [`web`]: the dashboard (`aorta results serve`): sign-in with Argon2id
//!   password hashes, expiring sessions, CSRF-safe forms, the ward and
//!   patient views with live updates, FHIR and CSV downloads.
//!
//! Names: rows carry the controller's patient names, given by the caller;
//! nothing here knows where the name ↔ pseudonym map is kept.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod conn;
pub mod feed;
pub mod fhir;
pub mod report;
pub mod throttle;
pub mod ward;
pub mod web;

pub use feed::{CommittedRecords, Decryptor, ResultRow, ResultStats};

/// Failures of the clinician's side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClinicError {
    #[error(transparent)]
    Transport(#[from] aorta_transport::TransportError),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("password hashing: {0}")]
    Password(String),
    #[error("credentials file {path} line {line}: {reason}")]
    Credentials {
        path: String,
        line: usize,
        reason: String,
    },
}
