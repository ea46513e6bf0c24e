//! Ed25519 signatures of the data controller, with domain separation:
//! the signed message is `label ‖ 0x00 ‖ payload`.

use ed25519_dalek::{Signature, Signer};
use rand_core::{CryptoRng, RngCore};

use crate::CryptoError;

/// The data controller's signing key. Zeroized on drop (ed25519-dalek),
/// redacted `Debug`, not `Clone`.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

fn message(label: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(label.len() + 1 + payload.len());
    m.extend_from_slice(label.as_bytes());
    m.push(0);
    m.extend_from_slice(payload);
    m
}

impl SigningKey {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }
    pub fn from_bytes(b: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(b))
    }
    pub fn expose_secret(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.verifying_key().to_bytes())
    }
    pub fn sign(&self, label: &str, payload: &[u8]) -> [u8; 64] {
        self.0.sign(&message(label, payload)).to_bytes()
    }
}

/// A public Ed25519 key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifyingKey(pub [u8; 32]);

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifyingKey({})", hex::encode(self.0))
    }
}

impl VerifyingKey {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| CryptoError::BadKey {
            what: "Ed25519 public (hex)",
        })?;
        Ok(Self(out))
    }
    /// Verifies with `verify_strict` (rejects small-order keys and
    /// non-canonical signatures).
    pub fn verify(
        &self,
        label: &'static str,
        payload: &[u8],
        sig: &[u8; 64],
    ) -> Result<(), CryptoError> {
        let vk =
            ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| CryptoError::BadKey {
                what: "Ed25519 public",
            })?;
        vk.verify_strict(&message(label, payload), &Signature::from_bytes(sig))
            .map_err(|_| CryptoError::BadSignature { what: label })
    }
}
