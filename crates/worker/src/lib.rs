//! The worker: everything that runs inside the TEE after key release.
//!
//! For each envelope of its input partition, in order: parse the header,
//! find the stream's verified enrolment, pre-check session and sequence
//! number (replays are refused before any decryption), authenticate and
//! decrypt with the stream's session (one HPKE key agreement per session),
//! hand the samples to the stream's [`aorta_runtime::StreamState`], compute
//! every block that closes, and seal the results to the stream's enrolled
//! recipients. Every `checkpoint_every` envelopes it commits: the results
//! so far become visible together with a sealed checkpoint naming the input
//! offset, so a restart after `kill -9` resumes exactly there.
//!
//! Rejections are counted by reason, attributed to the claimed stream, and
//! never stop the worker or touch another stream's state.
//!
//! [`role`] assembles the whole worker role (attestation, one worker per
//! partition, threads, groups, re-attestation, metrics) over any
//! [`aorta_transport::Deployment`]: every binary that runs a worker calls it.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod checkpoint;
mod keyring;
pub mod metrics;
mod registry;
pub mod role;
pub mod run;
mod worker;

pub use checkpoint::CHECKPOINT_PURPOSE;
pub use keyring::{KeyFetchError, KeySource, Keyring};
pub use registry::{Registry, RegistryUpdate};
pub use worker::{
    result_bucket, CheckpointStats, Counters, LatencyProbe, Notice, Rejected, Worker, WorkerConfig,
    WorkerKeys, WorkerReport, MAX_NOTICES,
};

/// Worker failures. Bad *input* is never an error (it is counted); these are
/// failures of the worker's own environment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    #[error(transparent)]
    Transport(#[from] aorta_transport::TransportError),
    #[error("checkpoint cannot be opened with this fleet key: {0}")]
    Checkpoint(String),
    #[error(transparent)]
    Crypto(#[from] aorta_envelope::CryptoError),
    #[error("no key for fleet epoch {epoch}: {reason}")]
    KeyUnavailable { epoch: u32, reason: String },
    #[error("no key for fleet epoch {epoch}: the key broker refused this worker: {reason}")]
    KeyRefused { epoch: u32, reason: String },
    #[error("the worker holds no fleet key")]
    NoKeys,
    #[error("partition {partition}: the worker thread panicked")]
    Panicked { partition: u32 },
    #[error("partition {partition}: no thread could be started: {reason}")]
    Thread { partition: u32, reason: String },
}

impl WorkerError {
    /// A [`KeySource`] failure while looking for the key of `epoch`.
    pub fn key_fetch(epoch: u32, e: KeyFetchError) -> Self {
        match e {
            KeyFetchError::Unavailable { reason } => Self::KeyUnavailable { epoch, reason },
            KeyFetchError::Refused { reason } => Self::KeyRefused { epoch, reason },
        }
    }

    /// Whether running the worker again later can help (a transport or key
    /// broker that was unreachable), as opposed to a refusal or a defect.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Transport(e) => e.retryable(),
            Self::KeyUnavailable { .. } | Self::Thread { .. } => true,
            _ => false,
        }
    }
}

/// Entry points for the fuzz targets in `fuzz/`; not an API.
#[doc(hidden)]
pub mod fuzzing {
    /// Decodes `plain` as a checkpoint's plaintext layout and walks the
    /// state it holds. `true` when it decodes.
    pub fn checkpoint_plaintext(plain: &[u8]) -> bool {
        match postcard::from_bytes::<crate::checkpoint::Checkpoint>(plain) {
            Ok(c) => {
                let bytes: usize = c.streams.iter().map(|(_, s)| s.heap_bytes()).sum();
                bytes < usize::MAX
            }
            Err(_) => false,
        }
    }
}
