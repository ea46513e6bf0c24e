//! Aorta's cryptography, built only from standard constructions:
//!
//! * **Sessions** ([`session`]): HPKE (RFC 9180) in *Auth* mode with
//!   DHKEM(X25519, HKDF-SHA256) and HKDF-SHA256, set up once per sender
//!   session. The sender is authenticated by its enrolled static key, so the
//!   public fleet key alone does not let anyone inject data. The session's
//!   AES-256-GCM key and nonce base come from the HPKE secret exporter
//!   (RFC 9180 §5.3, export-only AEAD id 0xFFFF); each envelope is sealed with
//!   nonce = base ⊕ seq (the RFC's §5.2 nonce rule) and the 72-byte cleartext
//!   header as associated data.
//! * **Signatures** ([`sign`]): Ed25519 for the data controller's enrolment
//!   and revocation records, domain-separated.
//! * **Sealing** ([`seal`]): AES-256-GCM under an HKDF-derived key for
//!   checkpoints and key wrapping at rest.
//!
//! Secret keys are zeroized on drop, never `Clone`, compared in constant time,
//! and their `Debug` output is redacted.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod enrolment;
pub mod keys;
pub mod receive;
pub mod seal;
pub mod session;
pub mod sign;

pub use keys::{KemKeypair, KemPublic, KemSecret};
pub use receive::{ExactlyOnce, Freshness, Opened, Receiver, Refused, Sealed};
pub use seal::SealingKey;
pub use session::{ReceiverSession, SenderSession};
pub use sign::{SigningKey, VerifyingKey};

/// Cryptographic failures. Opening errors deliberately carry no detail about
/// *why* authentication failed (no oracle).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("envelope authentication failed (wrong key, forged sender, or modified bytes)")]
    AuthenticationFailed,
    #[error("HPKE key agreement failed")]
    KeyAgreement,
    #[error("invalid {what} key encoding")]
    BadKey { what: &'static str },
    #[error("signature verification failed for {what}")]
    BadSignature { what: &'static str },
    #[error("envelope is for session {found}, this receiver holds session {expected}")]
    WrongSession { expected: u64, found: u64 },
    #[error("envelope's encapsulated key differs from the one that opened session {session}")]
    EncMismatch { session: u64 },
    #[error("sealed blob is malformed: {0}")]
    MalformedSealed(&'static str),
    #[error("sequence numbers exhausted for this session")]
    SequenceExhausted,
    #[error("plaintext envelope refused: this receiver does not accept dangerous_plaintext")]
    PlaintextRefused,
    #[error(transparent)]
    Wire(#[from] aorta_wire::WireError),
}
