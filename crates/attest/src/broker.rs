//! Wrapping fleet keys to an attested worker. The key broker calls
//! [`wrap_fleet_key`] only after the evidence passed the policy and bound
//! the worker's ephemeral key and the broker's nonce; it seals the fleet
//! secret of one epoch with HPKE Base mode (RFC 9180 §6.1 single-shot,
//! DHKEM(X25519)/HKDF-SHA256/AES-256-GCM) to that ephemeral key, with the
//! epoch in `info` and the nonce as AAD.

use aorta_envelope::{KemPublic, KemSecret};
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::AttestError;

fn info(epoch: u32) -> Vec<u8> {
    let mut v = b"aorta/v2/fleet-key-release".to_vec();
    v.extend_from_slice(&epoch.to_le_bytes());
    v
}

/// One epoch's fleet secret, wrapped to one worker's ephemeral key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub epoch: u32,
    pub enc: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Wraps the fleet secret of `epoch` to `worker_key`, bound to `nonce`.
pub fn wrap_fleet_key<R: RngCore + CryptoRng>(
    fleet: &KemSecret,
    epoch: u32,
    worker_key: &KemPublic,
    nonce: &[u8; 32],
    rng: &mut R,
) -> Result<WrappedKey, AttestError> {
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&worker_key.0)
        .map_err(|_| AttestError::Wrap)?;
    let (enc, ciphertext) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, X25519HkdfSha256, _>(
        &OpModeS::Base,
        &pk,
        &info(epoch),
        fleet.expose_secret(),
        nonce,
        rng,
    )
    .map_err(|_| AttestError::Wrap)?;
    Ok(WrappedKey {
        epoch,
        enc: enc.to_bytes().to_vec(),
        ciphertext,
    })
}

/// The worker's side: unwraps a fleet secret with its ephemeral key.
pub fn unwrap_fleet_key(
    wrapped: &WrappedKey,
    worker_secret: &KemSecret,
    nonce: &[u8; 32],
) -> Result<KemSecret, AttestError> {
    let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(worker_secret.expose_secret())
        .map_err(|_| AttestError::Wrap)?;
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&wrapped.enc)
        .map_err(|_| AttestError::Wrap)?;
    let pt = Zeroizing::new(
        hpke::single_shot_open::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk,
            &enc,
            &info(wrapped.epoch),
            &wrapped.ciphertext,
            nonce,
        )
        .map_err(|_| AttestError::Wrap)?,
    );
    let bytes: [u8; 32] = pt.as_slice().try_into().map_err(|_| AttestError::Wrap)?;
    Ok(KemSecret::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aorta_envelope::KemKeypair;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn wrap_unwrap_and_every_mismatch_fails() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let fleet = KemKeypair::generate(&mut rng);
        let worker = KemKeypair::generate(&mut rng);
        let other = KemKeypair::generate(&mut rng);
        let nonce = [0x42; 32];
        let w = wrap_fleet_key(&fleet.secret, 3, &worker.public, &nonce, &mut rng).unwrap();
        let got = unwrap_fleet_key(&w, &worker.secret, &nonce).unwrap();
        assert!(got == fleet.secret);
        // Another worker's key, another nonce, a relabelled epoch, a flipped byte.
        assert_eq!(
            unwrap_fleet_key(&w, &other.secret, &nonce).unwrap_err(),
            AttestError::Wrap
        );
        assert!(unwrap_fleet_key(&w, &worker.secret, &[0; 32]).is_err());
        let relabelled = WrappedKey {
            epoch: 4,
            ..w.clone()
        };
        assert!(unwrap_fleet_key(&relabelled, &worker.secret, &nonce).is_err());
        let mut flipped = w.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(unwrap_fleet_key(&flipped, &worker.secret, &nonce).is_err());
    }
}
