//! AMD SEV-SNP attestation report verification, offline and pure: report,
//! endorsement certificates and `now` in, typed claims or a typed error out.
//!
//! Steps, each with its own error:
//! 1. the CA chain's ARK is one of AMD's pinned roots (Milan, Genoa, Turin,
//!    as shipped by the `sev` crate);
//! 2. ARK is self-signed and signs the ASK (or ASVK for VLEKs), which signs
//!    the VEK — RSA-PSS, checked by `sev`;
//! 3. every certificate is valid at `now` (the `sev` crate does not check);
//! 4. the report's ECDSA P-384 signature over its raw bytes 0..0x2A0 verifies
//!    with the VEK's key (checked here on the bytes as received, not on a
//!    re-encoding);
//! 5. REPORTED_TCB equals the VEK's TCB extensions, and for a VCEK the
//!    report's CHIP_ID equals the certificate's hwID.
//!
//! Layout of the report (AMD SEV-SNP ABI, Table "ATTESTATION_REPORT"): all
//! little-endian; see the offsets below.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use sev::certs::snp::{ca, Certificate, Verifiable};
use x509_cert::der::{Decode, DecodePem, Encode};

/// Size of an SNP attestation report.
pub const REPORT_LEN: usize = 0x4A0;
pub const OFF_POLICY: usize = 0x08;
pub const OFF_VMPL: usize = 0x30;
pub const OFF_SIGNING_KEY: usize = 0x48;
pub const OFF_REPORT_DATA: usize = 0x50;
pub const OFF_MEASUREMENT: usize = 0x90;
pub const OFF_REPORTED_TCB: usize = 0x180;
pub const OFF_CHIP_ID: usize = 0x1A0;
pub const OFF_SIGNATURE: usize = 0x2A0;

/// The endorsement key that signed the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vek {
    /// Versioned Chip Endorsement Key (per chip, per TCB).
    Vcek,
    /// Versioned Loaded Endorsement Key (per cloud provider).
    Vlek,
}

/// TCB version components (Milan/Genoa layout of the u64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TcbVersion {
    pub bootloader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
}

impl TcbVersion {
    fn from_u64(v: u64) -> Self {
        let b = v.to_le_bytes();
        Self {
            bootloader: b[0],
            tee: b[1],
            snp: b[6],
            microcode: b[7],
        }
    }
}

/// What a verified report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpClaims {
    pub version: u32,
    pub measurement: [u8; 48],
    pub report_data: [u8; 64],
    pub policy: u64,
    /// Guest policy bit 19: debugging allowed.
    pub debug: bool,
    pub vmpl: u32,
    pub reported_tcb: TcbVersion,
    pub chip_id: [u8; 64],
    pub vek: Vek,
}

/// Why a report was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnpError {
    #[error("report is {0} bytes, expected 1184")]
    BadLength(usize),
    #[error("unsupported report version {0}")]
    UnsupportedVersion(u32),
    #[error("certificate {which} does not parse: {reason}")]
    BadCertificate { which: &'static str, reason: String },
    #[error("the chain's ARK is not one of AMD's pinned roots")]
    UnknownRoot,
    #[error("certificate chain does not verify: {0}")]
    ChainInvalid(String),
    /// `now` is outside a certificate's validity. For the VEK this usually
    /// means fetching a current VCEK/VLEK from AMD's KDS or the host.
    #[error("certificate {which} valid {not_before}..{not_after} (Unix s), now is {now}")]
    CertificateNotValidNow {
        which: &'static str,
        not_before: u64,
        not_after: u64,
        now: u64,
    },
    #[error("the VEK does not sign this report")]
    BadSignature,
    #[error("reported TCB {reported:?} differs from the VEK's {certified:?}")]
    TcbMismatch {
        reported: TcbVersion,
        certified: TcbVersion,
    },
    #[error("CHIP_ID differs from the VCEK's hwID")]
    ChipIdMismatch,
}

impl SnpError {
    /// True when fresher endorsements may change the outcome.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::CertificateNotValidNow { which: "VEK", .. })
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn parse_pem_bundle(pem: &[u8]) -> Result<Vec<x509_cert::Certificate>, SnpError> {
    let text = std::str::from_utf8(pem).map_err(|_| SnpError::BadCertificate {
        which: "CA bundle",
        reason: "not UTF-8".into(),
    })?;
    let mut out = Vec::new();
    for block in text.split_inclusive("-----END CERTIFICATE-----") {
        if !block.contains("-----BEGIN CERTIFICATE-----") {
            continue;
        }
        let start = block.find("-----BEGIN").unwrap_or(0);
        out.push(
            x509_cert::Certificate::from_pem(&block[start..]).map_err(|e| {
                SnpError::BadCertificate {
                    which: "CA bundle",
                    reason: e.to_string(),
                }
            })?,
        );
    }
    Ok(out)
}

fn validity(c: &x509_cert::Certificate) -> (u64, u64) {
    let v = &c.tbs_certificate.validity;
    (
        v.not_before.to_unix_duration().as_secs(),
        v.not_after.to_unix_duration().as_secs(),
    )
}

/// The integer (or octet string) value of a certificate extension by OID.
fn extension<'a>(c: &'a x509_cert::Certificate, oid: &str) -> Option<&'a [u8]> {
    c.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| e.extn_value.as_bytes())
}

/// A small DER INTEGER (as AMD encodes SPL values) or a raw byte.
fn small_int(v: &[u8]) -> Option<u8> {
    match v {
        [0x02, 1, x] => Some(*x),
        [0x02, 2, 0, x] => Some(*x),
        [x] => Some(*x),
        _ => None,
    }
}

fn certified_tcb(vek: &x509_cert::Certificate) -> Option<TcbVersion> {
    let get = |n: u32| extension(vek, &format!("1.3.6.1.4.1.3704.1.3.{n}")).and_then(small_int);
    Some(TcbVersion {
        bootloader: get(1)?,
        tee: get(2)?,
        snp: get(3)?,
        microcode: get(8)?,
    })
}

/// The pinned AMD roots (ARK-Milan, ARK-Genoa, ARK-Turin) as DER.
fn pinned_arks() -> Vec<Vec<u8>> {
    use sev::certs::snp::builtin::{genoa, milan, turin};
    [milan::ARK, genoa::ARK, turin::ARK]
        .iter()
        .filter_map(|pem| x509_cert::Certificate::from_pem(pem).ok())
        .filter_map(|c| c.to_der().ok())
        .collect()
}

/// Verifies `report` (1184 bytes as received) signed by `vek_der`, whose CA
/// chain `ask_ark_pem` (ASK or ASVK, then ARK) must end in a pinned AMD root,
/// at `now` (Unix seconds).
pub fn verify(
    report: &[u8],
    vek_der: &[u8],
    ask_ark_pem: &[u8],
    now: u64,
) -> Result<SnpClaims, SnpError> {
    if report.len() != REPORT_LEN {
        return Err(SnpError::BadLength(report.len()));
    }
    let version = u32_at(report, 0);
    if !(2..=5).contains(&version) {
        return Err(SnpError::UnsupportedVersion(version));
    }
    // 1. Certificates and the pinned root.
    let vek = x509_cert::Certificate::from_der(vek_der).map_err(|e| SnpError::BadCertificate {
        which: "VEK",
        reason: e.to_string(),
    })?;
    let cas = parse_pem_bundle(ask_ark_pem)?;
    let [ask, ark] =
        <[x509_cert::Certificate; 2]>::try_from(cas).map_err(|v| SnpError::BadCertificate {
            which: "CA bundle",
            reason: format!("{} certificates, expected ASK then ARK", v.len()),
        })?;
    let ark_der = ark.to_der().map_err(|e| SnpError::BadCertificate {
        which: "ARK",
        reason: e.to_string(),
    })?;
    if !pinned_arks().contains(&ark_der) {
        return Err(SnpError::UnknownRoot);
    }
    // 3. Validity at `now`.
    for (which, c) in [("ARK", &ark), ("ASK", &ask), ("VEK", &vek)] {
        let (not_before, not_after) = validity(c);
        if now < not_before || now > not_after {
            return Err(SnpError::CertificateNotValidNow {
                which,
                not_before,
                not_after,
                now,
            });
        }
    }
    // 2. ARK -> ASK -> VEK signatures (RSA-PSS / SHA-384).
    let chain = ca::Chain {
        ark: Certificate::from(ark),
        ask: Certificate::from(ask),
    };
    let ask_ref = (&chain)
        .verify()
        .map_err(|e| SnpError::ChainInvalid(e.to_string()))?;
    let vek_cert = Certificate::from(vek.clone());
    (ask_ref, &vek_cert)
        .verify()
        .map_err(|e| SnpError::ChainInvalid(e.to_string()))?;
    // 4. The report's signature on its raw bytes.
    let key =
        p384::ecdsa::VerifyingKey::from_sec1_bytes(vek_cert.public_key_sec1()).map_err(|_| {
            SnpError::BadCertificate {
                which: "VEK",
                reason: "not a P-384 key".into(),
            }
        })?;
    // r and s are 72-byte little-endian fields; P-384 uses the low 48 bytes.
    // Their high bytes and the reserved rest of the signature are unsigned, so
    // they must be zero (as in every real report) rather than ignored.
    let sig_area = &report[OFF_SIGNATURE..];
    let padding_zero = sig_area[48..72].iter().all(|b| *b == 0)
        && sig_area[72 + 48..144].iter().all(|b| *b == 0)
        && sig_area[144..].iter().all(|b| *b == 0);
    if !padding_zero {
        return Err(SnpError::BadSignature);
    }
    let mut rs = [0u8; 96];
    for (i, dst) in rs[..48].iter_mut().enumerate() {
        *dst = report[OFF_SIGNATURE + 47 - i];
    }
    for (i, dst) in rs[48..].iter_mut().enumerate() {
        *dst = report[OFF_SIGNATURE + 72 + 47 - i];
    }
    let sig = p384::ecdsa::Signature::from_slice(&rs).map_err(|_| SnpError::BadSignature)?;
    use p384::ecdsa::signature::Verifier;
    key.verify(&report[..OFF_SIGNATURE], &sig)
        .map_err(|_| SnpError::BadSignature)?;
    // 5. TCB and chip id consistency.
    let reported_tcb = TcbVersion::from_u64(u64_at(report, OFF_REPORTED_TCB));
    let certified = certified_tcb(&vek).ok_or(SnpError::BadCertificate {
        which: "VEK",
        reason: "TCB extensions 1.3.6.1.4.1.3704.1.3.{1,2,3,8} missing".into(),
    })?;
    if reported_tcb != certified {
        return Err(SnpError::TcbMismatch {
            reported: reported_tcb,
            certified,
        });
    }
    // Signing key selector, bits 2..4 of the word at 0x48: 0 VCEK, 1 VLEK.
    let vek_kind = if (u32_at(report, OFF_SIGNING_KEY) >> 2) & 0b111 == 1 {
        Vek::Vlek
    } else {
        Vek::Vcek
    };
    let mut chip_id = [0u8; 64];
    chip_id.copy_from_slice(&report[OFF_CHIP_ID..OFF_CHIP_ID + 64]);
    if vek_kind == Vek::Vcek {
        let hwid = extension(&vek, "1.3.6.1.4.1.3704.1.4").ok_or(SnpError::ChipIdMismatch)?;
        let hwid = match hwid {
            [0x04, 0x40, rest @ ..] if rest.len() == 64 => rest,
            raw => raw,
        };
        if hwid != chip_id {
            return Err(SnpError::ChipIdMismatch);
        }
    }
    let policy = u64_at(report, OFF_POLICY);
    let mut measurement = [0u8; 48];
    measurement.copy_from_slice(&report[OFF_MEASUREMENT..OFF_MEASUREMENT + 48]);
    let mut report_data = [0u8; 64];
    report_data.copy_from_slice(&report[OFF_REPORT_DATA..OFF_REPORT_DATA + 64]);
    Ok(SnpClaims {
        version,
        measurement,
        report_data,
        policy,
        debug: policy & (1 << 19) != 0,
        vmpl: u32_at(report, OFF_VMPL),
        reported_tcb,
        chip_id,
        vek: vek_kind,
    })
}

/// Hex text of a report (as `virtee/report_milan.hex`) to bytes.
pub fn report_from_hex(text: &str) -> Option<Vec<u8>> {
    let clean: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    hex::decode(clean).ok()
}
