//! The gateway: the trusted edge box between a patient's sensors and the
//! untrusted cloud.
//!
//! It takes RR samples from a [`source`], cuts them into batches on a fixed
//! event-time cadence ([`batcher`]), pads every batch to the stream's fixed
//! bucket, and seals it in the stream's HPKE session so that only an attested
//! worker can open it and only this device could have sent it. Every tick
//! produces exactly one envelope per stream, of exactly the same size, with or
//! without beats in it: an observer of the transport learns neither heart
//! rate nor whether a beat happened. It decrypts nothing.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod batcher;
pub mod driver;
pub mod ecg;
pub mod metrics;
pub mod outbox;
pub mod role;
pub mod source;

pub mod route;

pub use aorta_kbs_client::VerifiedFleet;
pub use batcher::{Profile, SampleRefused, StreamSender};
pub use ecg::{Signal, WaveSender};

/// Gateway failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    #[error(transparent)]
    Crypto(#[from] aorta_envelope::CryptoError),
    #[error(transparent)]
    Wire(#[from] aorta_wire::WireError),
    #[error(transparent)]
    Transport(#[from] aorta_transport::TransportError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("MQTT: {0}")]
    Mqtt(String),
    /// An input source of one stream that cannot be used (named by a
    /// label such as the stream's pseudonym, never by a patient's name).
    #[error("{what}: {reason}")]
    Input { what: String, reason: String },
    #[error(
        "a new session must have a larger id than the current one ({current}), got {proposed}"
    )]
    SessionNotNewer { current: u64, proposed: u64 },
    /// Rotations can no longer be learnt (see `driver::KeyUpdates`).
    #[error("key watch: {0}")]
    KeyWatch(String),
}
