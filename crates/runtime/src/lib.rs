//! Aorta's streaming core, as pure decision logic.
//!
//! The worker decrypts an envelope and hands this crate what it learned:
//! which stream, which session and sequence number, the samples, the
//! sender's watermark. This crate decides what that means — accepted,
//! replayed, a gap, a new session after a truncated one, which 10-second
//! blocks close — and computes the results of closed blocks. It does no I/O,
//! no cryptography and never reads a clock: event time and watermarks arrive
//! as arguments, so the same input always yields the same output, which is
//! what makes recovery from a checkpoint exact.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod clinical;
mod compute;
pub mod ecg;
mod seq;
mod stream;

pub use compute::compute_window;
pub use seq::{SeqTracker, SeqVerdict, REPLAY_WINDOW};
pub use stream::{Batch, ClosedWindow, EventTime, Limits, StreamCounters, StreamState, Verdict};

/// Why an envelope was not used. Counted per reason; never fatal.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Rejection {
    /// Not a parseable envelope (bad magic, version, length...).
    Malformed,
    /// Names a stream with no valid enrolment.
    UnknownStream,
    /// The stream's enrolment was revoked.
    Revoked,
    /// Failed authentication: forged sender, wrong key or modified bytes.
    Unauthenticated,
    /// A sequence number already accepted in this session.
    Replay,
    /// Older than the replay window, or a session older than the current one.
    Stale,
    /// Authenticated, but the content does not parse.
    BadContent,
    /// Not the content type this partition carries.
    WrongContentType,
    /// A plaintext envelope reached a worker that does not accept them.
    Plaintext,
    /// Encrypted to a fleet key epoch the key broker does not release
    /// (never existed, or retired).
    UnknownEpoch,
    /// The stream belongs to another partition (`wire::StreamId::partition`): an
    /// envelope copied from another partition's log.
    WrongPartition,
    /// The newest enrolment this worker had seen for the stream (sealed in
    /// its checkpoint) is missing from the control log: the log was rolled
    /// back, and an older enrolment (perhaps an older device key, perhaps
    /// before a revocation) must not be trusted again.
    EnrolmentRolledBack,
}

impl Rejection {
    pub const ALL: [Rejection; 12] = [
        Self::Malformed,
        Self::UnknownStream,
        Self::Revoked,
        Self::Unauthenticated,
        Self::Replay,
        Self::Stale,
        Self::BadContent,
        Self::WrongContentType,
        Self::Plaintext,
        Self::UnknownEpoch,
        Self::WrongPartition,
        Self::EnrolmentRolledBack,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownStream => "unknown-stream",
            Self::Revoked => "revoked",
            Self::Unauthenticated => "unauthenticated",
            Self::Replay => "replay",
            Self::Stale => "stale",
            Self::BadContent => "bad-content",
            Self::WrongContentType => "wrong-content-type",
            Self::Plaintext => "plaintext",
            Self::UnknownEpoch => "unknown-epoch",
            Self::WrongPartition => "wrong-partition",
            Self::EnrolmentRolledBack => "enrolment-rolled-back",
        }
    }
}

/// State could not be restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("checkpoint state does not decode: {0}")]
    Decode(#[from] postcard::Error),
}
