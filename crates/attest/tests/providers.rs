//! Evidence providers against directories that imitate Gramine's
//! `/dev/attestation` and the kernel's configfs-tsm, including their error
//! cases. The recorded real evidence serves as the imitation's output.

use std::path::Path;

use aorta_attest::providers::*;

const FIX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/attestation"
);

fn rd(seed: u8) -> [u8; 64] {
    std::array::from_fn(|i| seed.wrapping_add(i as u8))
}

fn gramine_dir(kind: &str, quote: Option<Vec<u8>>) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("attestation_type"), format!("{kind}\n")).unwrap();
    if let Some(q) = quote {
        std::fs::write(d.path().join("quote"), q).unwrap();
    }
    d
}

fn sgx_quote_with(report_data: &[u8; 64]) -> Vec<u8> {
    let mut q = std::fs::read(format!("{FIX}/dcap/sgx_quote")).unwrap();
    q[SGX_QUOTE_REPORT_DATA..SGX_QUOTE_REPORT_DATA + 64].copy_from_slice(report_data);
    q
}

#[test]
fn gramine_writes_report_data_and_returns_the_quote() {
    let want = rd(7);
    let d = gramine_dir("dcap", Some(sgx_quote_with(&want)));
    let q = Gramine::new(d.path()).quote(&want).unwrap();
    assert_eq!(&q[SGX_QUOTE_REPORT_DATA..SGX_QUOTE_REPORT_DATA + 64], &want);
    assert_eq!(
        std::fs::read(d.path().join("user_report_data")).unwrap(),
        want
    );
}

#[test]
fn gramine_error_cases() {
    let want = rd(1);
    let d = gramine_dir("none", Some(sgx_quote_with(&want)));
    assert_eq!(
        Gramine::new(d.path()).quote(&want),
        Err(ProviderError::GramineNotDcap("none".into()))
    );
    // A quote for other report data (stale, or another writer).
    let d = gramine_dir("dcap", Some(sgx_quote_with(&rd(2))));
    assert_eq!(
        Gramine::new(d.path()).quote(&want),
        Err(ProviderError::ReportDataMismatch)
    );
    // Truncated quote.
    let d = gramine_dir("dcap", Some(vec![0; 100]));
    assert_eq!(
        Gramine::new(d.path()).quote(&want),
        Err(ProviderError::TooShort(100))
    );
    // No quote file (attestation not configured on the host).
    let d = gramine_dir("dcap", None);
    assert!(matches!(
        Gramine::new(d.path()).quote(&want),
        Err(ProviderError::Io { .. })
    ));
}

/// A FIFO made without forking: a `mkfifo` child process forked while
/// another test holds a FIFO open inherits that descriptor until it execs,
/// which can let the imitation kernel's write complete against the child
/// instead of the provider, whose next open then waits forever (seen once
/// in ~190 runs).
fn mkfifo(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call;
    // mkfifo only reads it.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", p.display());
}

/// Imitates the kernel for one request: `generation` and `outblob` are FIFOs
/// served in the order the kernel would produce them; `outblob` is the
/// recorded report with the written `inblob` at its report-data offset.
fn tsm_dir(
    provider: &str,
    template: Vec<u8>,
    rd_offset: usize,
    gen_after: u64,
) -> (tempfile::TempDir, std::thread::JoinHandle<Vec<u8>>) {
    tsm_dir_with_aux(provider, template, rd_offset, gen_after, Vec::new())
}

fn tsm_dir_with_aux(
    provider: &str,
    template: Vec<u8>,
    rd_offset: usize,
    gen_after: u64,
    auxblob: Vec<u8>,
) -> (tempfile::TempDir, std::thread::JoinHandle<Vec<u8>>) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_path_buf();
    std::fs::write(p.join("provider"), format!("{provider}\n")).unwrap();
    std::fs::write(p.join("auxblob"), auxblob).unwrap();
    for f in ["generation", "inblob", "outblob"] {
        mkfifo(&p.join(f));
    }
    let kernel = std::thread::spawn(move || {
        std::fs::write(p.join("generation"), "7\n").unwrap();
        let inblob = std::fs::read(p.join("inblob")).unwrap();
        let mut out = template;
        if inblob.len() == 64 {
            out[rd_offset..rd_offset + 64].copy_from_slice(&inblob);
        }
        std::fs::write(p.join("outblob"), &out).unwrap();
        std::fs::write(p.join("generation"), format!("{gen_after}\n")).unwrap();
        inblob
    });
    (d, kernel)
}

#[test]
fn configfs_tsm_snp_request_binds_the_report_data() {
    let report = std::fs::read(format!("{FIX}/snp/trustee/test-report.bin")).unwrap();
    let (d, kernel) = tsm_dir("sev_guest", report.clone(), 0x50, 8);
    let want = rd(9);
    let ev = ConfigfsTsm::new(d.path()).request(d.path(), &want).unwrap();
    assert_eq!(
        kernel.join().unwrap(),
        want,
        "exactly 64 bytes reached inblob"
    );
    assert_eq!(ev.provider, TsmProvider::SevSnp);
    assert_eq!(&ev.outblob[0x50..0x90], &want);
    assert_eq!(&ev.outblob[..0x50], &report[..0x50]);
    assert_eq!(ev.auxblob, None, "an empty certificate table is no auxblob");
}

#[test]
fn configfs_tsm_tdx_request() {
    let quote = std::fs::read(format!("{FIX}/dcap/tdx_quote")).unwrap();
    let (d, kernel) = tsm_dir("tdx_guest", quote, 48 + 520, 8);
    let want = rd(3);
    let ev = ConfigfsTsm::new(d.path()).request(d.path(), &want).unwrap();
    kernel.join().unwrap();
    assert_eq!(ev.provider, TsmProvider::Tdx);
    assert_eq!(&ev.outblob[568..632], &want);
}

#[test]
fn configfs_tsm_detects_a_concurrent_writer() {
    let report = std::fs::read(format!("{FIX}/snp/trustee/test-report.bin")).unwrap();
    let (d, kernel) = tsm_dir("sev_guest", report, 0x50, 9); // two writes happened
    let r = ConfigfsTsm::new(d.path()).request(d.path(), &rd(1));
    kernel.join().unwrap();
    assert_eq!(
        r,
        Err(ProviderError::ConcurrentWriter {
            before: 7,
            after: 9
        })
    );
}

#[test]
fn configfs_tsm_refuses_an_unknown_provider() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("provider"), "arm_cca_guest\n").unwrap();
    let r = ConfigfsTsm::new(d.path()).request(d.path(), &rd(1));
    assert!(
        matches!(r, Err(ProviderError::ProviderMismatch { .. })),
        "{r:?}"
    );
}

#[test]
fn configfs_tsm_evidence_cleans_up_its_directory() {
    // Outside configfs, mkdir gives an empty directory: the request fails
    // (no provider attribute) and the directory is removed again.
    let d = tempfile::tempdir().unwrap();
    let r = ConfigfsTsm::new(d.path()).evidence(&rd(1));
    assert!(matches!(r, Err(ProviderError::Io { .. })));
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
}

/// A GHCB certificate table as a host supplies it: entries of GUID ‖ offset
/// ‖ length, an all-zero terminator, then the certificates.
fn cert_table(certs: &[(&str, &[u8])]) -> Vec<u8> {
    let guid = |s: &str| -> [u8; 16] {
        let h: String = s.chars().filter(|c| *c != '-').collect();
        let b = hex::decode(h).unwrap();
        // GUID text → wire: first three fields little-endian.
        let mut g = [0u8; 16];
        g[..4].copy_from_slice(&[b[3], b[2], b[1], b[0]]);
        g[4..6].copy_from_slice(&[b[5], b[4]]);
        g[6..8].copy_from_slice(&[b[7], b[6]]);
        g[8..].copy_from_slice(&b[8..]);
        g
    };
    let mut table = Vec::new();
    let mut data = Vec::new();
    let header = 24 * (certs.len() + 1);
    for (g, c) in certs {
        table.extend_from_slice(&guid(g));
        table.extend_from_slice(&((header + data.len()) as u32).to_le_bytes());
        table.extend_from_slice(&(c.len() as u32).to_le_bytes());
        data.extend_from_slice(c);
    }
    table.extend_from_slice(&[0; 24]);
    table.extend_from_slice(&data);
    table
}

const ARK_GUID: &str = "c0b406a4-a803-4952-9743-3fb6014cd0ae";
const ASK_GUID: &str = "4ab7b379-bbac-4fe4-a02f-05aef327c782";
const VCEK_GUID: &str = "63da758d-e664-4564-adc5-f4b93be8accd";

#[test]
fn snp_certificate_table_yields_the_vcek_and_rejects_bad_tables() {
    let vcek = std::fs::read(format!("{FIX}/snp/trustee/test-vcek.der")).unwrap();
    let t = cert_table(&[(ARK_GUID, b"ark"), (ASK_GUID, b"ask"), (VCEK_GUID, &vcek)]);
    assert_eq!(snp_vek_from_cert_table(&t).unwrap(), Some(vcek.clone()));
    // No VCEK or VLEK in the table.
    let t = cert_table(&[(ARK_GUID, b"ark")]);
    assert_eq!(snp_vek_from_cert_table(&t).unwrap(), None);
    // No terminator; an entry pointing past the end.
    assert!(snp_vek_from_cert_table(&[1; 30]).is_err());
    let mut t = cert_table(&[(VCEK_GUID, &vcek)]);
    t[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(snp_vek_from_cert_table(&t).is_err());
}

/// The whole SNP producer path: the imitated kernel returns the recorded
/// report with the host's certificate table; the attester bundles report
/// and VCEK; the offline verifier accepts it and reads back the bound data.
#[test]
fn tsm_attester_evidence_verifies_end_to_end() {
    let report = std::fs::read(format!("{FIX}/snp/trustee/test-report.bin")).unwrap();
    let vcek = std::fs::read(format!("{FIX}/snp/trustee/test-vcek.der")).unwrap();
    let mut bound = [0u8; 64];
    bound.copy_from_slice(&report[0x50..0x90]); // what this recorded report binds
    let (d, kernel) = tsm_dir_with_aux(
        "sev_guest",
        report,
        0x50,
        8,
        cert_table(&[(VCEK_GUID, &vcek)]),
    );
    let ev = ConfigfsTsm::new(d.path())
        .request(d.path(), &bound)
        .unwrap();
    kernel.join().unwrap();
    let att = TsmAttester {
        tsm: ConfigfsTsm::new(d.path()),
        expect: TsmProvider::SevSnp,
        endorsements: Default::default(),
    };
    let e = att.bundle(ev.clone()).unwrap();
    assert_eq!(e.tee, aorta_attest::TeeKind::SevSnp);
    assert_eq!(e.endorsements.vek_der.as_deref(), Some(&vcek[..]));
    let v = aorta_attest_verify::verify(&e.bytes, &e.endorsements, None, 1_751_328_000).unwrap();
    assert!(v.accepted, "{:?}", v.checks);
    assert_eq!(v.report_data, Some(bound));
    // A TDX attester refuses SNP evidence.
    let tdx = TsmAttester {
        expect: TsmProvider::Tdx,
        ..att
    };
    assert!(tdx.bundle(ev).is_err());
}

#[test]
fn gramine_attester_evidence_verifies_end_to_end() {
    use aorta_attest::Attester;
    let quote = std::fs::read(format!("{FIX}/dcap/sgx_quote")).unwrap();
    let mut bound = [0u8; 64];
    bound.copy_from_slice(&quote[SGX_QUOTE_REPORT_DATA..SGX_QUOTE_REPORT_DATA + 64]);
    let d = gramine_dir("dcap", Some(quote));
    let att = GramineAttester {
        gramine: Gramine::new(d.path()),
        endorsements: endorsements_from_files(&[
            format!("{FIX}/dcap/sgx_quote_collateral.json").into()
        ])
        .unwrap(),
    };
    let e = att.evidence(bound).unwrap();
    assert!(e.endorsements.collateral_json.is_some());
    let v = aorta_attest_verify::verify(&e.bytes, &e.endorsements, None, 1_751_328_000).unwrap();
    // Authentic; its TCB status is not UpToDate, which the default refuses.
    assert!(
        v.checks.iter().any(|c| c.name == "authenticity" && c.ok),
        "{:?}",
        v.checks
    );
    assert!(v.checks.iter().any(|c| c.name == "TCB status" && !c.ok));
    // Bound data is reported only for accepted evidence.
    assert_eq!(v.report_data, None);
    let policy = aorta_attest_verify::parse_policy(
        br#"{"sgx": {"mrenclave": [], "mrsigner": []},
             "allow_tcb_status": ["UpToDate", "ConfigurationAndSWHardeningNeeded"],
             "allow_advisories": ["INTEL-SA-00289", "INTEL-SA-00615"]}"#,
    )
    .unwrap();
    let v = aorta_attest_verify::verify(&e.bytes, &e.endorsements, Some(&policy), 1_751_328_000)
        .unwrap();
    assert!(v.accepted, "{:?}", v.checks);
    assert_eq!(v.report_data, Some(bound));
}

/// Nitro: the request carries the report data as `user_data` and the
/// worker key; the answer's document is the recorded one, which verifies.
#[test]
fn nitro_request_and_response_handling() {
    use aorta_attest::nitro::{document_from_response, request};
    use aws_nitro_enclaves_nsm_api::api::{ErrorCode, Request, Response};
    match request(&rd(5), Some(&[9; 32])) {
        Request::Attestation {
            user_data,
            nonce,
            public_key,
        } => {
            assert_eq!(user_data.unwrap().as_slice(), &rd(5));
            assert_eq!(nonce, None);
            assert_eq!(public_key.unwrap().as_slice(), &[9; 32]);
        }
        other => panic!("{other:?}"),
    }
    let doc = std::fs::read(format!("{FIX}/nitro/attestation.cose")).unwrap();
    let got = document_from_response(Response::Attestation {
        document: doc.clone(),
    })
    .unwrap();
    assert_eq!(got, doc);
    let v = aorta_attest_verify::verify(&got, &Default::default(), None, 1_736_179_625).unwrap();
    assert!(
        v.checks.iter().any(|c| c.name == "authenticity" && c.ok),
        "{:?}",
        v.checks
    );
    let err = document_from_response(Response::Error(ErrorCode::InvalidArgument)).unwrap_err();
    assert!(err.to_string().contains("invalid argument"), "{err}");
    assert!(document_from_response(Response::Attestation { document: vec![] }).is_err());
    assert!(document_from_response(Response::DescribePCR {
        lock: false,
        data: vec![]
    })
    .is_err());
}
