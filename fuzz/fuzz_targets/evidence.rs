//! Evidence parsing and verification on arbitrary bytes: format detection,
//! the DCAP, SEV-SNP, Nitro and simulated backends, and the policy, with the
//! recorded endorsements. Any input must give a verdict or an error.
//! Seeds: `../shared/fixtures/attestation` (see scripts/fuzz).
#![no_main]

use std::sync::OnceLock;

use aorta_attest_verify::{parse_policy, verify, Endorsements, Policy};
use libfuzzer_sys::fuzz_target;

const F: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/attestation"
);

struct Fixed {
    endorsements: Vec<(Endorsements, u64)>,
    policy: Policy,
}

fn fixed() -> &'static Fixed {
    static F_: OnceLock<Fixed> = OnceLock::new();
    F_.get_or_init(|| {
        let r = |p: &str| std::fs::read(format!("{F}/{p}")).ok();
        Fixed {
            endorsements: vec![
                (Endorsements { collateral_json: r("dcap/sgx_quote_collateral.json"), ..Default::default() }, 1_751_328_000),
                (Endorsements { collateral_json: r("dcap/tdx_quote_collateral.json"), ..Default::default() }, 1_751_328_000),
                (Endorsements { vek_der: r("snp/trustee/test-vcek.der"), ..Default::default() }, 1_751_328_000),
                (Endorsements::default(), 1_736_179_625),
            ],
            policy: parse_policy(
                br#"{"sgx": {"mrenclave": []}, "tdx": {"mrtd": []}, "snp": {"measurement": []},
                    "nitro": {"pcr0": []},
                    "simulated": {"root": "0000000000000000000000000000000000000000000000000000000000000000", "measurements": []},
                    "max_age_secs": 300}"#,
            )
            .unwrap_or_default(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixed();
    let _ = aorta_attest_verify::detect(data);
    for (e, now) in &f.endorsements {
        let _ = verify(data, e, None, *now);
        let _ = verify(data, e, Some(&f.policy), *now);
    }
    let root = aorta_envelope::VerifyingKey([7; 32]);
    let _ = aorta_attest::simulated::verify(data, &root);
    let _ = aorta_attest::providers::snp_vek_from_cert_table(data);
});
