//! Attestation-gated key release. The broker verifies evidence, checks that
//! it binds the worker's ephemeral key and the broker's nonce, and wraps the
//! fleet secret with HPKE Base mode (RFC 9180 §6.1 single-shot,
//! DHKEM(X25519)/HKDF-SHA256/AES-256-GCM) to that ephemeral key.

use aorta_envelope::{KemPublic, KemSecret};
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::{binding, verify, AttestError, Claims, Evidence, Policy};

const INFO: &[u8] = b"aorta/v1/fleet-key-release";

/// The fleet secret, wrapped to one worker's ephemeral key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub enc: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Verifies `evidence` under `policy` at `now`, checks its binding of
/// `worker_key` and `nonce`, and wraps `fleet` to `worker_key`.
pub fn release_fleet_key<R: RngCore + CryptoRng>(
    fleet: &KemSecret,
    evidence: &Evidence,
    worker_key: &KemPublic,
    nonce: &[u8; 32],
    policy: &Policy,
    now: u64,
    rng: &mut R,
) -> Result<(Claims, WrappedKey), AttestError> {
    let claims = verify(evidence, policy, now)?;
    if !binding::check(&claims.report_data, &worker_key.0, nonce) {
        return Err(AttestError::BindingMismatch);
    }
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&worker_key.0)
        .map_err(|_| AttestError::Wrap)?;
    let (enc, ciphertext) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, X25519HkdfSha256, _>(
        &OpModeS::Base,
        &pk,
        INFO,
        fleet.expose_secret(),
        nonce,
        rng,
    )
    .map_err(|_| AttestError::Wrap)?;
    Ok((
        claims,
        WrappedKey {
            enc: enc.to_bytes().to_vec(),
            ciphertext,
        },
    ))
}

/// The worker's side: unwraps the fleet secret with its ephemeral key.
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
            INFO,
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
    use crate::simulated::SimulatedTee;
    use crate::Attester;
    use aorta_envelope::{KemKeypair, SigningKey};
    use rand_chacha::rand_core::SeedableRng;

    fn setup() -> (rand_chacha::ChaCha20Rng, KemKeypair, SigningKey) {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let fleet = KemKeypair::generate(&mut rng);
        let root = SigningKey::generate(&mut rng);
        (rng, fleet, root)
    }

    #[test]
    fn release_to_matching_worker_and_refusals() {
        let (mut rng, fleet, root) = setup();
        let measurement = [0x11; 32];
        let tee = SimulatedTee::new(
            SigningKey::from_bytes(&root.expose_secret()),
            measurement,
            Box::new(|| 1_000),
        );
        let worker = KemKeypair::generate(&mut rng);
        let nonce = [0x42; 32];
        let ev = tee
            .evidence(binding::report_data(&worker.public.0, &nonce))
            .unwrap();
        let mut policy = Policy {
            allow_simulated: true,
            simulated_root: Some(root.verifying_key()),
            measurements: vec![measurement],
            max_age_secs: 600,
        };
        let (claims, wrapped) = release_fleet_key(
            &fleet.secret,
            &ev,
            &worker.public,
            &nonce,
            &policy,
            1_010,
            &mut rng,
        )
        .unwrap();
        assert_eq!(claims.measurement, measurement);
        let got = unwrap_fleet_key(&wrapped, &worker.secret, &nonce).unwrap();
        assert!(got == fleet.secret);

        // Wrong nonce: binding fails.
        let err = release_fleet_key(
            &fleet.secret,
            &ev,
            &worker.public,
            &[0; 32],
            &policy,
            1_010,
            &mut rng,
        );
        assert_eq!(err.unwrap_err(), AttestError::BindingMismatch);
        // Too old.
        let err = release_fleet_key(
            &fleet.secret,
            &ev,
            &worker.public,
            &nonce,
            &policy,
            5_000,
            &mut rng,
        );
        assert!(matches!(err.unwrap_err(), AttestError::Expired { .. }));
        // Measurement not in policy.
        policy.measurements = vec![[0x22; 32]];
        let err = release_fleet_key(
            &fleet.secret,
            &ev,
            &worker.public,
            &nonce,
            &policy,
            1_010,
            &mut rng,
        );
        assert!(matches!(
            err.unwrap_err(),
            AttestError::MeasurementNotAllowed { .. }
        ));
        // Simulated not allowed.
        policy.allow_simulated = false;
        let err = release_fleet_key(
            &fleet.secret,
            &ev,
            &worker.public,
            &nonce,
            &policy,
            1_010,
            &mut rng,
        );
        assert_eq!(err.unwrap_err(), AttestError::SimulatedNotAllowed);
        // Evidence signed by another root.
        let other = SigningKey::generate(&mut rng);
        policy.allow_simulated = true;
        policy.measurements.clear();
        policy.simulated_root = Some(other.verifying_key());
        let err = release_fleet_key(
            &fleet.secret,
            &ev,
            &worker.public,
            &nonce,
            &policy,
            1_010,
            &mut rng,
        );
        assert!(matches!(err.unwrap_err(), AttestError::BadSignature { .. }));
    }
}
