//! Bounded mutation fuzzing of evidence parsing and verification (runs in CI
//! on the stable toolchain): real SGX/TDX quotes, SNP reports and the Nitro
//! document with random byte flips, truncations, extensions and splices must
//! yield a verdict or an error — never a panic — and no mutation may change
//! what authenticated evidence claims. (Some bytes carry no meaning: the
//! separators between PEM blocks in a quote's certificate data, for example.
//! Changing those may still verify, with identical claims.)

use aorta_attest_verify::*;
use proptest::prelude::*;

const F: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/attestation"
);

struct Sample {
    evidence: Vec<u8>,
    endorsements: Endorsements,
    now: u64,
}

fn samples() -> Vec<Sample> {
    let r = |p: &str| std::fs::read(format!("{F}/{p}")).unwrap();
    vec![
        Sample {
            evidence: r("dcap/tdx_quote"),
            endorsements: Endorsements {
                collateral_json: Some(r("dcap/tdx_quote_collateral.json")),
                ..Default::default()
            },
            now: 1_751_328_000,
        },
        Sample {
            evidence: r("dcap/sgx_quote"),
            endorsements: Endorsements {
                collateral_json: Some(r("dcap/sgx_quote_collateral.json")),
                ..Default::default()
            },
            now: 1_751_328_000,
        },
        Sample {
            evidence: r("snp/trustee/test-report.bin"),
            endorsements: Endorsements {
                vek_der: Some(r("snp/trustee/test-vcek.der")),
                ..Default::default()
            },
            now: 1_751_328_000,
        },
        Sample {
            evidence: r("nitro/attestation.cose"),
            endorsements: Endorsements::default(),
            now: 1_736_179_625,
        },
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate(usize),
    Extend(Vec<u8>),
    Splice { at: usize, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(Mutation::Truncate),
        proptest::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Extend),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..32)
        )
            .prop_map(|(at, bytes)| Mutation::Splice { at, bytes }),
    ]
}

fn apply(e: &[u8], m: &Mutation) -> Vec<u8> {
    let mut v = e.to_vec();
    match m {
        Mutation::Flip { at, mask } => {
            let i = at % v.len();
            v[i] ^= mask;
        }
        Mutation::Truncate(n) => v.truncate(n % v.len()),
        Mutation::Extend(b) => v.extend_from_slice(b),
        Mutation::Splice { at, bytes } => {
            let i = at % v.len();
            let end = (i + bytes.len()).min(v.len());
            v[i..end].copy_from_slice(&bytes[..end - i]);
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_evidence_is_never_accepted_and_never_panics(which in 0usize..4, m in mutation()) {
        let s = &samples()[which];
        let mutated = apply(&s.evidence, &m);
        if mutated == s.evidence {
            return Ok(());
        }
        // Zero padding after a DCAP quote's declared end is the same evidence.
        if which < 2 {
            if let Some(n) = aorta_attest_dcap::declared_quote_len(&mutated) {
                if n <= mutated.len() && mutated[..n] == s.evidence[..n.min(s.evidence.len())]
                    && mutated[n..].iter().all(|b| *b == 0) {
                    return Ok(());
                }
            }
        }
        if let Ok(v) = verify(&mutated, &s.endorsements, None, s.now) {
            let authentic = v.checks.iter().find(|c| c.name == "authenticity").is_some_and(|c| c.ok);
            if authentic {
                let original = verify(&s.evidence, &s.endorsements, None, s.now).unwrap();
                prop_assert_eq!(&v.checks, &original.checks, "modified evidence ({:?}) changed its claims", m);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
        let _ = detect(&bytes);
        let _ = verify(&bytes, &Endorsements::default(), None, 1_751_328_000);
    }
}
