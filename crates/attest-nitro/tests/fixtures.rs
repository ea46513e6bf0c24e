//! The real Nitro attestation document from `shared/fixtures/attestation/nitro`
//! (see MANIFEST.md: leaf valid 2025-01-06T16:07:02Z..19:07:05Z).

use aorta_attest_nitro::*;
use x509_cert::der::DecodePem;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/attestation"
);
const AT: u64 = 1_736_179_625; // the document's own timestamp

fn doc() -> Vec<u8> {
    std::fs::read(format!("{DIR}/nitro/attestation.cose")).unwrap()
}

#[test]
fn recorded_document_verifies() {
    let c = verify(&doc(), AT).unwrap();
    assert!(c.module_id.starts_with("i-0bee92034f3d60691-enc"));
    assert_eq!(c.pcrs.len(), 16);
    assert_eq!(c.public_key.as_ref().map(Vec::len), Some(294));
    assert!(c.user_data.is_none() && c.nonce.is_none());
    assert!(!c.debug());
    assert_eq!(c.timestamp_ms / 1000, AT);
}

/// Index of the first occurrence of `needle` after `from`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

#[test]
fn flipped_public_key_or_pcr_is_rejected() {
    let d = doc();
    // "public_key" as a CBOR text key, then a 294-byte string (59 01 26).
    let pk = find(&d, b"public_key") + 10 + 3;
    let mut t = d.clone();
    t[pk + 5] ^= 0x01;
    assert_eq!(verify(&t, AT), Err(NitroError::BadSignature));
    // PCR0's 48-byte value follows `00 58 30` inside the pcrs map.
    let pcr0 = find(&d, b"pcrs") + 4;
    let at = pcr0 + find(&d[pcr0..], &[0x00, 0x58, 0x30]) + 3;
    let mut t = d.clone();
    t[at] ^= 0x01;
    assert_eq!(verify(&t, AT), Err(NitroError::BadSignature));
}

#[test]
fn a_day_later_the_leaf_has_expired() {
    let e = verify(&doc(), AT + 86_400).unwrap_err();
    assert!(
        matches!(e, NitroError::CertificateNotValidNow { .. }),
        "{e:?}"
    );
    assert!(e.retryable());
}

#[test]
fn another_root_is_refused() {
    // AMD's Milan ARK in place of the AWS root.
    let pem = std::fs::read(format!("{DIR}/snp/go-sev-guest/ask_ark_milan.pem")).unwrap();
    let text = String::from_utf8(pem).unwrap();
    let ark_start = text.rfind("-----BEGIN CERTIFICATE-----").unwrap();
    let ark = x509_cert::Certificate::from_pem(&text.as_bytes()[ark_start..]).unwrap();
    assert_eq!(
        verify_with_root(&doc(), AT, &ark),
        Err(NitroError::UnknownRoot)
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bad in [&b""[..], b"\x84", &doc()[..100]] {
        assert!(verify(bad, AT).is_err());
    }
}
