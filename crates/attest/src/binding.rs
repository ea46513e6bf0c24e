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

const NONCE_LABEL: &[u8] = b"aorta-kbs-nonce-v1";

/// The nonce a key broker's challenge stands for:
/// `SHA-256("aorta-kbs-nonce-v1" ‖ random ‖ epoch u32 LE ‖ fleet_pub)`.
///
/// Because the challenge names the current fleet key, evidence that binds
/// this nonce also shows gateways that a policy-matching worker was offered
/// exactly that fleet key: a gateway recomputes it from the broker's
/// published `random`, `epoch` and `fleet_pub`.
pub fn kbs_nonce(random: &[u8; 32], epoch: u32, fleet_pub: &[u8; 32]) -> [u8; 32] {
    use sha2::Sha256;
    let mut h = Sha256::new();
    h.update(NONCE_LABEL);
    h.update(random);
    h.update(epoch.to_le_bytes());
    h.update(fleet_pub);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_depends_on_every_input() {
        let rd = report_data(&[1; 32], &[2; 32]);
        assert!(check(&rd, &[1; 32], &[2; 32]));
        assert!(!check(&rd, &[1; 32], &[3; 32]));
        assert!(!check(&rd, &[0; 32], &[2; 32]));
        let n = kbs_nonce(&[7; 32], 1, &[9; 32]);
        assert_ne!(n, kbs_nonce(&[7; 32], 2, &[9; 32]));
        assert_ne!(n, kbs_nonce(&[7; 32], 1, &[8; 32]));
        assert_ne!(n, kbs_nonce(&[6; 32], 1, &[9; 32]));
    }
}
