//! Report data binding: `SHA-512("aorta-attest-v1" ‖ worker_pubkey ‖ nonce)`.
//! A pure function over the verified report-data bytes, so tests can check it
//! independently of any TEE.

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

const LABEL: &[u8] = b"aorta-attest-v1";

pub fn report_data(worker_pubkey: &[u8; 32], nonce: &[u8; 32]) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(LABEL);
    h.update(worker_pubkey);
    h.update(nonce);
    h.finalize().into()
}

/// Constant-time check that `reported` binds `worker_pubkey` and `nonce`.
pub fn check(reported: &[u8; 64], worker_pubkey: &[u8; 32], nonce: &[u8; 32]) -> bool {
    reported.ct_eq(&report_data(worker_pubkey, nonce)).into()
}
