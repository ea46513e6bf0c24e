//! Evidence providers against directories that imitate Gramine's
//! `/dev/attestation` and the kernel's configfs-tsm, including their error
//! cases. The recorded real evidence serves as the imitation's output.

use std::path::Path;
use std::process::Command;

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

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
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
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_path_buf();
    std::fs::write(p.join("provider"), format!("{provider}\n")).unwrap();
    std::fs::write(p.join("auxblob"), b"").unwrap();
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
