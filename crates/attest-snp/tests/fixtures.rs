//! Real SEV-SNP evidence from `shared/fixtures/attestation/snp` (see its
//! MANIFEST.md for origin, licence and the fixed verification time).

use aorta_attest_snp::*;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/attestation/snp"
);
const JULY_2025: u64 = 1_751_328_000;

fn read(p: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{p}")).unwrap()
}

struct Sample {
    name: &'static str,
    report: Vec<u8>,
    vek: Vec<u8>,
    chain: Vec<u8>,
}

fn samples() -> Vec<Sample> {
    let virtee =
        report_from_hex(&String::from_utf8(read("virtee/report_milan.hex")).unwrap()).unwrap();
    vec![
        Sample {
            name: "virtee",
            report: virtee,
            vek: read("virtee/vcek_milan.der"),
            chain: read("virtee/cert_chain_milan"),
        },
        Sample {
            name: "go-sev-guest",
            report: read("go-sev-guest/attestation.bin"),
            vek: read("go-sev-guest/vcek.der"),
            chain: read("go-sev-guest/ask_ark_milan.pem"),
        },
        Sample {
            name: "trustee",
            report: read("trustee/test-report.bin"),
            vek: read("trustee/test-vcek.der"),
            chain: read("go-sev-guest/ask_ark_milan.pem"),
        },
        Sample {
            name: "trustee-vlek",
            report: read("trustee/test-vlek-report.bin"),
            vek: read("trustee/test-vlek.der"),
            chain: read("go-sev-guest/ask_ark_milan_vlek.pem"),
        },
    ]
}

#[test]
fn every_recorded_report_verifies() {
    for s in samples() {
        let c = verify(&s.report, &s.vek, &s.chain, JULY_2025)
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert_eq!(
            &c.measurement[..],
            &s.report[OFF_MEASUREMENT..OFF_MEASUREMENT + 48]
        );
        // go-sev-guest's sample comes from a debug-enabled guest (policy
        // 0xb0000, bit 19): verifiable, and to be refused by policy.
        assert_eq!(c.debug, s.name == "go-sev-guest", "{}", s.name);
        match s.name {
            "go-sev-guest" => assert_eq!(&c.report_data[..6], &[1, 2, 3, 4, 5, 0]),
            "trustee-vlek" => {
                assert_eq!((c.vek, c.vmpl, c.version), (Vek::Vlek, 1, 3));
                assert_eq!(c.chip_id, [0; 64], "VLEK reports mask the chip id");
            }
            _ => assert_eq!((c.vek, c.vmpl), (Vek::Vcek, 0)),
        }
    }
}

#[test]
fn flipped_report_data_or_measurement_is_rejected() {
    for s in samples() {
        for at in [
            OFF_REPORT_DATA,
            OFF_REPORT_DATA + 63,
            OFF_MEASUREMENT,
            OFF_MEASUREMENT + 47,
        ] {
            let mut r = s.report.clone();
            r[at] ^= 0x01;
            assert_eq!(
                verify(&r, &s.vek, &s.chain, JULY_2025),
                Err(SnpError::BadSignature),
                "{} byte {at:#x}",
                s.name
            );
        }
    }
}

#[test]
fn now_outside_the_vek_validity_is_rejected_and_retryable() {
    let s = samples()
        .into_iter()
        .find(|s| s.name == "trustee-vlek")
        .unwrap();
    // The VLEK expired on 2025-12-10.
    let e = verify(&s.report, &s.vek, &s.chain, 1_767_225_600).unwrap_err();
    assert!(
        matches!(e, SnpError::CertificateNotValidNow { which: "VEK", .. }),
        "{e:?}"
    );
    assert!(e.retryable());
    let s = samples().into_iter().find(|s| s.name == "virtee").unwrap();
    let e = verify(&s.report, &s.vek, &s.chain, 1_901_500_000).unwrap_err(); // 2030-04-04, after the VCEK's notAfter
    assert!(
        matches!(e, SnpError::CertificateNotValidNow { .. }),
        "{e:?}"
    );
}

#[test]
fn wrong_vendor_chain_is_rejected() {
    let genoa = read("go-sev-guest/ask_ark_genoa.pem");
    let vlek_chain = read("go-sev-guest/ask_ark_milan_vlek.pem");
    let milan = read("go-sev-guest/ask_ark_milan.pem");
    for s in samples() {
        let e = verify(&s.report, &s.vek, &genoa, JULY_2025).unwrap_err();
        assert!(matches!(e, SnpError::ChainInvalid(_)), "{}: {e:?}", s.name);
        // VCEKs under the VLEK signing key's chain, and the VLEK under the VCEK chain.
        let other = if s.name == "trustee-vlek" {
            &milan
        } else {
            &vlek_chain
        };
        let e = verify(&s.report, &s.vek, other, JULY_2025).unwrap_err();
        assert!(matches!(e, SnpError::ChainInvalid(_)), "{}: {e:?}", s.name);
    }
}

#[test]
fn another_chips_vcek_does_not_verify() {
    let all = samples();
    let e = verify(&all[1].report, &all[2].vek, &all[2].chain, JULY_2025).unwrap_err();
    assert_eq!(e, SnpError::BadSignature);
}

#[test]
fn an_unpinned_root_is_refused() {
    // A self-made "ARK" is not AMD's: use the AWS Nitro root in its place.
    let s = &samples()[0];
    let chain = String::from_utf8(s.chain.clone()).unwrap();
    let ask_end =
        chain.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
    let nitro = String::from_utf8(read("../nitro/aws_nitro_root_g1.pem")).unwrap();
    let forged = format!("{}\n{}", &chain[..ask_end], nitro);
    assert_eq!(
        verify(&s.report, &s.vek, forged.as_bytes(), JULY_2025),
        Err(SnpError::UnknownRoot)
    );
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let s = &samples()[0];
    assert_eq!(
        verify(&s.report[..100], &s.vek, &s.chain, JULY_2025),
        Err(SnpError::BadLength(100))
    );
    assert!(matches!(
        verify(&s.report, &s.vek[..50], &s.chain, JULY_2025),
        Err(SnpError::BadCertificate { .. })
    ));
    assert!(matches!(
        verify(&s.report, &s.vek, b"not pem", JULY_2025),
        Err(SnpError::BadCertificate { .. })
    ));
    let mut r = s.report.clone();
    r[0] = 9;
    assert_eq!(
        verify(&r, &s.vek, &s.chain, JULY_2025),
        Err(SnpError::UnsupportedVersion(9))
    );
}
