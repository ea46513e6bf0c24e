//! `aorta attest verify` on the recorded real evidence (issue 4): detection,
//! field-by-field verdicts, policies, and exit codes.

mod common;

use common::*;

const F: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/attestation"
);

fn verify(args: &[&str]) -> (bool, String) {
    let out = aorta()
        .args(["attest", "verify"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn f(p: &str) -> String {
    format!("{F}/{p}")
}

#[test]
fn every_recorded_sample_is_authentic_at_its_time() {
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                f("dcap/sgx_quote"),
                "--endorsements".into(),
                f("dcap/sgx_quote_collateral.json"),
                "--at".into(),
                "1751328000".into(),
            ],
            "Intel SGX DCAP quote",
        ),
        (
            vec![
                f("dcap/tdx_quote_td15ex"),
                "--endorsements".into(),
                f("dcap/tdx_quote_td15ex_collateral.json"),
                "--at".into(),
                "1792454400".into(),
            ],
            "Intel TDX DCAP quote",
        ),
        (
            vec![
                f("snp/virtee/report_milan.hex"),
                "--endorsements".into(),
                f("snp/virtee/vcek_milan.der"),
                "--at".into(),
                "1751328000".into(),
            ],
            "AMD SEV-SNP",
        ),
        (
            vec![
                f("snp/trustee/test-vlek-report.bin"),
                "--endorsements".into(),
                f("snp/trustee/test-vlek.der"),
                "--endorsements".into(),
                f("snp/go-sev-guest/ask_ark_milan_vlek.pem"),
                "--at".into(),
                "1751328000".into(),
            ],
            "AMD SEV-SNP",
        ),
        (
            vec![
                f("nitro/attestation.cose"),
                "--at".into(),
                "1736179625".into(),
            ],
            "AWS Nitro",
        ),
    ];
    for (args, kind) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out) = verify(&args);
        assert!(out.contains(kind), "{out}");
        if kind == "Intel SGX DCAP quote" {
            // ConfigurationAndSWHardeningNeeded is not UpToDate: refused by default.
            assert!(
                !ok && out.contains("TCB status                 FAIL"),
                "{out}"
            );
        } else {
            assert!(ok, "{args:?}\n{out}");
            assert!(
                out.contains("verdict: AUTHENTIC (no --policy given"),
                "{out}"
            );
        }
    }
}

#[test]
fn policy_accepts_the_listed_measurement_and_rejects_others() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    let bad = dir.path().join("bad.json");
    let mrtd = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
    std::fs::write(&good, format!(r#"{{"tdx": {{"mrtd": ["{mrtd}"]}}}}"#)).unwrap();
    std::fs::write(
        &bad,
        format!(r#"{{"tdx": {{"mrtd": ["{}"]}}}}"#, "00".repeat(48)),
    )
    .unwrap();
    let base = [
        f("dcap/tdx_quote"),
        "--endorsements".into(),
        f("dcap/tdx_quote_collateral.json"),
        "--at".into(),
        "1751328000".into(),
        "--policy".into(),
    ];
    let mut args: Vec<String> = base.to_vec();
    args.push(good.display().to_string());
    let (ok, out) = verify(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok && out.contains("ACCEPTED by the policy"), "{out}");
    args.pop();
    args.push(bad.display().to_string());
    let (ok, out) = verify(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        !ok && out.contains("MRTD                       FAIL"),
        "{out}"
    );
    // A policy without an SNP section refuses SNP evidence.
    let (ok, out) = verify(&[
        &f("snp/trustee/test-report.bin"),
        "--endorsements",
        &f("snp/trustee/test-vcek.der"),
        "--at",
        "1751328000",
        "--policy",
        good.to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("SEV-SNP is not in the policy"), "{out}");
}

#[test]
fn rejections_name_their_reason() {
    // Outdated TDX TCB.
    let (ok, out) = verify(&[
        &f("dcap/tdx_quote_outdated"),
        "--endorsements",
        &f("dcap/tdx_quote_outdated_collateral.json"),
        "--at",
        "1772323200",
    ]);
    assert!(
        !ok && out.contains("authenticity               FAIL") && out.contains("verdict: REJECTED"),
        "{out}"
    );
    // Stale collateral: retryable, said so.
    let (ok, out) = verify(&[
        &f("dcap/tdx_quote"),
        "--endorsements",
        &f("dcap/tdx_quote_collateral.json"),
        "--at",
        "1790000000",
    ]);
    assert!(
        !ok && out.contains("refresh the collateral") && out.contains("fetch fresh ones"),
        "{out}"
    );
    // A debug-enabled SNP guest.
    let (ok, out) = verify(&[
        &f("snp/go-sev-guest/attestation.bin"),
        "--endorsements",
        &f("snp/go-sev-guest/vcek.der"),
        "--at",
        "1751328000",
    ]);
    assert!(!ok && out.contains("debugging allowed (bit 19)"), "{out}");
    // Not evidence at all.
    let out = aorta()
        .args(["attest", "verify", &f("MANIFEST.md")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognised evidence"));
}

/// A platform that is not UpToDate passes only when the policy opts in to
/// its status *and* to every advisory it reports.
#[test]
fn non_up_to_date_tcb_needs_its_status_and_every_advisory_opted_in() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, advisories: &str| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!(
                r#"{{"sgx": {{"mrenclave": []}}, "allow_tcb_status": ["UpToDate", "ConfigurationAndSWHardeningNeeded"], "allow_advisories": [{advisories}]}}"#
            ),
        )
        .unwrap();
        p.display().to_string()
    };
    let all = write("all.json", r#""INTEL-SA-00289", "INTEL-SA-00615""#);
    let one = write("one.json", r#""INTEL-SA-00289""#);
    let run = |policy: &str| {
        verify(&[
            &f("dcap/sgx_quote"),
            "--endorsements",
            &f("dcap/sgx_quote_collateral.json"),
            "--at",
            "1751328000",
            "--policy",
            policy,
        ])
    };
    let (ok, out) = run(&all);
    assert!(ok && out.contains("ACCEPTED by the policy"), "{out}");
    let (ok, out) = run(&one);
    assert!(
        !ok && out.contains("not in allow_advisories: INTEL-SA-00615"),
        "{out}"
    );
}
