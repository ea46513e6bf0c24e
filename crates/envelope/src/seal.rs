//! Sealing at rest: AES-256-GCM with a random 96-bit nonce under a key derived
//! by HKDF-SHA256 from a secret that every attested worker of the fleet holds.
//! Layout of a sealed blob: `nonce (12) ‖ ciphertext ‖ tag (16)`.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::CryptoError;

/// A symmetric sealing key. Not `Clone`; key material zeroized on drop.
pub struct SealingKey {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl SealingKey {
    /// HKDF-SHA256(salt = "aorta/v1/seal", ikm = secret, info = purpose).
    pub fn derive(secret: &[u8], purpose: &str) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"aorta/v1/seal"), secret);
        let mut key = Zeroizing::new([0u8; 32]);
        // 32 bytes is always a valid HKDF-SHA256 output length.
        if hk.expand(purpose.as_bytes(), key.as_mut()).is_err() {
            unreachable!("HKDF-SHA256 can always expand 32 bytes");
        }
        let aead = match Aes256Gcm::new_from_slice(key.as_ref()) {
            Ok(a) => a,
            Err(_) => unreachable!("a 32-byte key is a valid AES-256 key"),
        };
        Self { aead }
    }

    pub fn seal<R: RngCore + CryptoRng>(
        &self,
        aad: &[u8],
        plaintext: &[u8],
        rng: &mut R,
    ) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rng.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(12 + plaintext.len() + 16);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = match self.aead.encrypt_in_place_detached(
            Nonce::from_slice(&nonce),
            aad,
            &mut out[12..],
        ) {
            Ok(t) => t,
            Err(_) => unreachable!("AES-GCM accepts plaintexts this size"),
        };
        out.extend_from_slice(&tag);
        out
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < 28 {
            return Err(CryptoError::MalformedSealed("shorter than nonce and tag"));
        }
        let (nonce, rest) = sealed.split_at(12);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        let mut buf = ct.to_vec();
        self.aead
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                aad,
                &mut buf,
                Tag::from_slice(tag),
            )
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        Ok(buf)
    }
}
