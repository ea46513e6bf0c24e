//! Signed enrolment records: `Enrolment::encode() ‖ Ed25519 signature (64)`,
//! signed under the label `aorta/v1/enrolment`.

use aorta_wire::Enrolment;

use crate::{CryptoError, SigningKey, VerifyingKey};

const LABEL: &str = "aorta/v1/enrolment";

pub fn sign_enrolment(key: &SigningKey, e: &Enrolment) -> Vec<u8> {
    let mut out = e.encode();
    let sig = key.sign(LABEL, &out);
    out.extend_from_slice(&sig);
    out
}

/// Verifies the controller's signature, then parses the record.
pub fn verify_enrolment(
    controller: &VerifyingKey,
    signed: &[u8],
) -> Result<Enrolment, CryptoError> {
    if signed.len() < 64 {
        return Err(CryptoError::BadSignature { what: LABEL });
    }
    let (body, sig) = signed.split_at(signed.len() - 64);
    let mut s = [0u8; 64];
    s.copy_from_slice(sig);
    controller.verify(LABEL, body, &s)?;
    Ok(Enrolment::decode(body)?)
}
