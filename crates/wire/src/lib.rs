//! Aorta wire format, version 2 ([`VERSION`]).
//!
//! This crate knows the byte layout of everything that crosses the untrusted
//! side — envelope headers, the padded plaintext body inside an envelope, RR
//! sample batches and result records — and nothing else: no cryptography, no
//! I/O. `docs/wire-format.md` documents every byte; the documented test
//! vectors are checked by `crates/envelope/tests/vectors.rs` and
//! `crates/envelope/tests/doc_vectors.rs`.
//!
//! Parsing follows "parse, don't validate": every decoder returns a typed value
//! or a [`WireError`] naming what was wrong, rejects trailing bytes, and never
//! panics on any input (see the property tests).

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod body;
mod enrolment;
mod header;
mod ids;
mod reader;
mod result;
mod samples;

pub use body::{Body, BodyFlags, BODY_HEADER_LEN};
pub use enrolment::{AlertThresholds, AlgorithmSet, Enrolment, EnrolmentStatus, MAX_RECIPIENTS};
pub use header::{
    Bucket, ContentType, Header, HeaderFlags, ENC_LEN, HEADER_LEN, MAGIC, TAG_LEN, VERSION,
};
pub use ids::{SessionId, StreamId};
pub use reader::Reader;
pub use result::{Algorithm, Metric, Quality, ResultBatch, ResultRecord, RESULT_RECORD_LEN};
pub use samples::{
    EcgBatch, RrBatch, RrSample, ECG_BATCH_HEADER_LEN, ECG_UNIT_UV, RR_BATCH_HEADER_LEN,
    RR_SAMPLE_LEN,
};

/// Everything that can be wrong with bytes handed to this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("truncated: needed {needed} bytes at offset {offset}, {available} available")]
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("bad magic {found:02x?} (expected \"AORT\")")]
    BadMagic { found: [u8; 4] },
    #[error("unsupported wire or record version {0}")]
    UnsupportedVersion(u8),
    #[error("unknown content type {0:#04x}")]
    UnknownContentType(u8),
    #[error("reserved flag bits set: {0:#04x}")]
    ReservedFlags(u8),
    #[error("bucket exponent {0} outside 8..=22")]
    BadBucket(u8),
    #[error("envelope is {actual} bytes but its header declares bucket of {declared}")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("{trailing} trailing bytes after a complete {what}")]
    TrailingBytes { what: &'static str, trailing: usize },
    #[error("body declares {declared} content bytes but only {capacity} fit")]
    BodyOverflow { declared: usize, capacity: usize },
    #[error("{what} does not fit: {needed} bytes needed, {capacity} available")]
    DoesNotFit {
        what: &'static str,
        needed: usize,
        capacity: usize,
    },
    #[error("batch declares {count} samples in {len} bytes")]
    CountMismatch { count: u32, len: usize },
    #[error("unknown algorithm id {0}")]
    UnknownAlgorithm(u8),
    #[error("unknown metric id {0}")]
    UnknownMetric(u8),
    #[error("timestamp overflow in sample {index}")]
    TimeOverflow { index: usize },
}
