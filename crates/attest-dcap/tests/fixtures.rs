//! Real DCAP evidence from `shared/fixtures/attestation/dcap` (see its
//! MANIFEST.md for origin, licence and the fixed verification times).

use aorta_attest_dcap::*;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/attestation/dcap"
);
const JULY_2025: u64 = 1_751_328_000; // 2025-07-01, inside the sgx/tdx collateral windows
const MARCH_2026: u64 = 1_772_323_200; // for tdx_quote_outdated
const OCT_2026: u64 = 1_792_454_400; // for tdx_quote_td15ex

fn load(name: &str) -> (Vec<u8>, dcap_qvl::QuoteCollateralV3) {
    let q = std::fs::read(format!("{DIR}/{name}")).unwrap();
    let c =
        parse_collateral(&std::fs::read(format!("{DIR}/{name}_collateral.json")).unwrap()).unwrap();
    (q, c)
}

/// Offset of the report body in a quote (48-byte header) and of fields in it.
const BODY: usize = 48;
const SGX_MRENCLAVE: usize = BODY + 64;
const SGX_REPORT_DATA: usize = BODY + 320;
const TDX_MRTD: usize = BODY + 136;
const TDX_REPORT_DATA: usize = BODY + 520;

#[test]
fn sgx_quote_verifies_with_its_claims() {
    let (q, c) = load("sgx_quote");
    let claims = verify(&q, &c, JULY_2025).unwrap();
    assert_eq!(claims.tee, DcapTee::Sgx);
    assert_eq!(&claims.report_data[..13], b"Hello, world!");
    assert_eq!(
        claims.tcb_status,
        TcbStatus::ConfigurationAndSwHardeningNeeded
    );
    assert_eq!(
        claims.advisory_ids,
        vec!["INTEL-SA-00289", "INTEL-SA-00615"]
    );
    let Measurements::Sgx { mr_enclave, .. } = claims.measurements else {
        panic!()
    };
    assert_eq!(&mr_enclave[..], &q[SGX_MRENCLAVE..SGX_MRENCLAVE + 32]);
    assert!(!claims.debug);
}

#[test]
fn tdx_quotes_verify() {
    let (q, c) = load("tdx_quote");
    let claims = verify(&q, &c, JULY_2025).unwrap();
    assert_eq!(
        (claims.tee, claims.tcb_status.clone()),
        (DcapTee::Tdx, TcbStatus::UpToDate)
    );
    let Measurements::Tdx { mr_td, .. } = claims.measurements else {
        panic!()
    };
    assert_eq!(&mr_td[..], &q[TDX_MRTD..TDX_MRTD + 48]);
    assert_eq!(
        &claims.report_data[..],
        &q[TDX_REPORT_DATA..TDX_REPORT_DATA + 64]
    );

    let (q, c) = load("tdx_quote_td15ex");
    let claims = verify(&q, &c, OCT_2026).unwrap();
    assert_eq!(
        (claims.tee, claims.tcb_status),
        (DcapTee::Tdx, TcbStatus::UpToDate)
    );
}

fn assert_rejected(r: Result<DcapClaims, DcapError>, what: &str) {
    match r {
        Err(DcapError::Rejected(_)) => {}
        other => panic!("{what}: expected a rejection, got {other:?}"),
    }
}

#[test]
fn flipped_report_data_or_measurement_is_rejected() {
    for (name, now, rd, m) in [
        ("sgx_quote", JULY_2025, SGX_REPORT_DATA, SGX_MRENCLAVE),
        ("tdx_quote", JULY_2025, TDX_REPORT_DATA, TDX_MRTD),
    ] {
        let (q, c) = load(name);
        for (label, at) in [
            ("report data byte 0", rd),
            ("report data byte 63", rd + 63),
            ("measurement", m),
        ] {
            let mut t = q.clone();
            t[at] ^= 0x01;
            assert_rejected(verify(&t, &c, now), &format!("{name} {label}"));
        }
    }
}

#[test]
fn stale_collateral_is_a_retryable_error_not_a_verdict() {
    let (q, c) = load("sgx_quote");
    let later = JULY_2025 + 30 * 86_400;
    match verify(&q, &c, later) {
        Err(e @ DcapError::CollateralStale { .. }) => assert!(e.retryable()),
        other => panic!("expected CollateralStale, got {other:?}"),
    }
    match verify(&q, &c, JULY_2025 - 60 * 86_400) {
        Err(DcapError::CollateralStale { .. }) => {}
        other => panic!("before issue: {other:?}"),
    }
}

#[test]
fn wrong_root_is_rejected() {
    use base64::Engine;
    let (q, c) = load("tdx_quote");
    let intel = std::fs::read(format!("{DIR}/Intel_SGX_RootCA.der")).unwrap();
    // The pinned root verifies...
    assert!(verify_with_root(&q, &c, JULY_2025, Some(intel.clone())).is_ok());
    // ...another vendor's real root CA does not (AWS Nitro Enclaves G1)...
    let pem = std::fs::read_to_string(format!("{DIR}/../nitro/aws_nitro_root_g1.pem")).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let aws = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let r = verify_with_root(&q, &c, JULY_2025, Some(aws));
    assert!(matches!(r, Err(DcapError::Rejected(_))), "{r:?}");
    // ...nor the Intel root with a different public key. (A trust anchor is
    // its subject and key; its self-signature is not what is trusted.)
    let p256_point = [0x03, 0x42, 0x00, 0x04];
    let at = intel.windows(4).position(|w| w == p256_point).unwrap() + 4;
    let mut other_key = intel.clone();
    other_key[at + 10] ^= 0x01;
    let r = verify_with_root(&q, &c, JULY_2025, Some(other_key));
    assert!(matches!(r, Err(DcapError::Rejected(_))), "{r:?}");
}

#[test]
fn outdated_tdx_tcb_is_rejected() {
    let (q, c) = load("tdx_quote_outdated");
    assert_rejected(verify(&q, &c, MARCH_2026), "tdx_quote_outdated");
}

#[test]
fn collateral_of_another_quote_does_not_verify() {
    let (q, _) = load("sgx_quote");
    let (_, c) = load("tdx_quote");
    assert!(verify(&q, &c, JULY_2025).is_err());
}
