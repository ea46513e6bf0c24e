//! Intel SGX and TDX DCAP quote verification, offline and pure: quote +
//! collateral + `now` in, typed claims or a typed error out.
//!
//! Cryptographic verification (PCK chain to the pinned Intel SGX Root CA,
//! CRLs, TCB info and QE identity signatures, QE report, ISV report
//! signature, TCB level matching) is done by `dcap-qvl` 0.7.1 with its
//! pure-Rust backend. This crate adds what callers need around it:
//! * a check of the collateral's own validity window *before* verifying, so
//!   "collateral out of date, fetch fresh collateral" ([`DcapError::CollateralStale`])
//!   is a distinct, retryable error rather than a string to match;
//! * typed claims: measurements, debug bit, report data, TCB status and
//!   advisories ([`DcapClaims`]);
//! * the TCB status as an enum, so policy can allow `UpToDate` by default and
//!   other statuses only by name ([`TcbStatus`]).
//!
//! Policy (which measurements and statuses are acceptable) is applied by the
//! caller on the claims; nothing here decides it.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod time;

use dcap_qvl::quote::Report;
use dcap_qvl::QuoteCollateralV3;

pub use time::parse_rfc3339_utc;

/// Intel SGX Root CA (DER), the same bytes dcap-qvl pins (SHA-256 44a0196b…74d3).
pub const INTEL_SGX_ROOT_CA_DER: &[u8] = include_bytes!("Intel_SGX_RootCA.der");

/// Which TEE produced the quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcapTee {
    Sgx,
    Tdx,
}

/// TCB status of the platform as Intel's collateral judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TcbStatus {
    UpToDate,
    SwHardeningNeeded,
    ConfigurationNeeded,
    ConfigurationAndSwHardeningNeeded,
    OutOfDate,
    OutOfDateConfigurationNeeded,
    Revoked,
    Other(String),
}

impl TcbStatus {
    fn parse(s: &str) -> Self {
        match s {
            "UpToDate" => Self::UpToDate,
            "SWHardeningNeeded" => Self::SwHardeningNeeded,
            "ConfigurationNeeded" => Self::ConfigurationNeeded,
            "ConfigurationAndSWHardeningNeeded" => Self::ConfigurationAndSwHardeningNeeded,
            "OutOfDate" => Self::OutOfDate,
            "OutOfDateConfigurationNeeded" => Self::OutOfDateConfigurationNeeded,
            "Revoked" => Self::Revoked,
            other => Self::Other(other.to_string()),
        }
    }

    /// The name Intel uses (`UpToDate`, `SWHardeningNeeded`, ...).
    pub fn name(&self) -> &str {
        match self {
            Self::UpToDate => "UpToDate",
            Self::SwHardeningNeeded => "SWHardeningNeeded",
            Self::ConfigurationNeeded => "ConfigurationNeeded",
            Self::ConfigurationAndSwHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            Self::OutOfDate => "OutOfDate",
            Self::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            Self::Revoked => "Revoked",
            Self::Other(s) => s,
        }
    }
}

/// Measurements of the attested code. (One value per attestation, so the
/// TDX variant's size is not worth a box.)
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Measurements {
    Sgx {
        mr_enclave: [u8; 32],
        mr_signer: [u8; 32],
        isv_prod_id: u16,
        isv_svn: u16,
    },
    Tdx {
        mr_td: [u8; 48],
        rtmr: [[u8; 48]; 4],
        mr_config_id: [u8; 48],
        td_attributes: [u8; 8],
    },
}

/// What a verified quote says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcapClaims {
    pub tee: DcapTee,
    pub measurements: Measurements,
    /// SGX ATTRIBUTES.DEBUG or TDX TD_ATTRIBUTES.DEBUG is set.
    pub debug: bool,
    pub report_data: [u8; 64],
    pub tcb_status: TcbStatus,
    pub advisory_ids: Vec<String>,
}

/// Why a quote was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DcapError {
    /// The collateral is outside its validity window at `now`: fetch fresh
    /// collateral (PCCS / Intel PCS) and retry. Not a verdict on the quote.
    #[error("{what} collateral valid {not_before}..{not_after} (Unix s), now is {now}: refresh the collateral")]
    CollateralStale {
        what: &'static str,
        not_before: u64,
        not_after: u64,
        now: u64,
    },
    /// The collateral itself does not parse.
    #[error("malformed collateral: {0}")]
    MalformedCollateral(String),
    /// Verification failed: bad signature, broken chain, revoked, no
    /// matching TCB level, malformed quote... The quote is rejected.
    #[error("quote rejected: {0}")]
    Rejected(String),
}

impl DcapError {
    /// True when fresh collateral may change the outcome.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::CollateralStale { .. })
    }
}

/// Parses collateral in dcap-qvl's `QuoteCollateralV3` JSON form.
pub fn parse_collateral(json: &[u8]) -> Result<QuoteCollateralV3, DcapError> {
    serde_json::from_slice(json).map_err(|e| DcapError::MalformedCollateral(e.to_string()))
}

/// `issueDate` / `nextUpdate` of a signed JSON body (TCB info, QE identity).
fn window(body: &str, what: &'static str) -> Result<(u64, u64), DcapError> {
    let v: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| DcapError::MalformedCollateral(format!("{what}: {e}")))?;
    let field = |k: &str| -> Result<u64, DcapError> {
        let s = v
            .get(k)
            .and_then(|x| x.as_str())
            .ok_or_else(|| DcapError::MalformedCollateral(format!("{what}: no {k}")))?;
        parse_rfc3339_utc(s)
            .ok_or_else(|| DcapError::MalformedCollateral(format!("{what}: bad {k} '{s}'")))
    };
    Ok((field("issueDate")?, field("nextUpdate")?))
}

/// The length a quote declares through its own length fields: v3/v4
/// `header (48) ‖ body (384 SGX, 584 TDX) ‖ sig_len u32 ‖ sig`; v5 `header ‖
/// body_type u16 ‖ body_size u32 ‖ body ‖ sig_len u32 ‖ sig`.
pub fn declared_quote_len(q: &[u8]) -> Option<usize> {
    let u16_at = |i: usize| {
        q.get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |i: usize| {
        q.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let body_end = match (u16_at(0)?, u32_at(4)?) {
        (3 | 4, 0) => 48 + 384,
        (4, 0x81) => 48 + 584,
        (5, _) => 54usize.checked_add(u32_at(50)?)?,
        _ => return None,
    };
    body_end.checked_add(4)?.checked_add(u32_at(body_end)?)
}

/// The DER of the last PEM certificate in the quote's certification data.
fn last_embedded_certificate(quote: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let start = quote.windows(BEGIN.len()).rposition(|w| w == BEGIN)? + BEGIN.len();
    let len = quote
        .get(start..)?
        .windows(END.len())
        .position(|w| w == END)?;
    let b64: Vec<u8> = quote
        .get(start..start + len)?
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default(),
    )
}

/// A root is self-issued: its issuer and subject names are the same. Checked
/// on the DER loosely (the name "Intel SGX Root CA" appears twice), which is
/// enough to tell the chain's root copy from an intermediate.
fn embedded_is_root(der: &[u8]) -> bool {
    const NAME: &[u8] = b"Intel SGX Root CA";
    der.is_empty() || der.windows(NAME.len()).filter(|w| *w == NAME).count() >= 2
}

/// Verifies a DCAP quote against its collateral at `now` (Unix seconds),
/// trusting Intel's production SGX Root CA.
pub fn verify(
    quote: &[u8],
    collateral: &QuoteCollateralV3,
    now: u64,
) -> Result<DcapClaims, DcapError> {
    verify_with_root(quote, collateral, now, None)
}

/// As [`verify`], with another root CA (DER) for tests of the chain check.
pub fn verify_with_root(
    quote: &[u8],
    collateral: &QuoteCollateralV3,
    now: u64,
    root_der: Option<Vec<u8>>,
) -> Result<DcapClaims, DcapError> {
    for (body, what) in [
        (&collateral.tcb_info, "TCB info"),
        (&collateral.qe_identity, "QE identity"),
    ] {
        let (not_before, not_after) = window(body, what)?;
        if now < not_before || now > not_after {
            return Err(DcapError::CollateralStale {
                what,
                not_before,
                not_after,
                now,
            });
        }
    }
    // Bytes past the declared end are tolerated only as zero padding (real
    // quotes arrive in fixed-size buffers: the recorded TDX v4 quote carries
    // 70 zero bytes); anything else there is rejected, never ignored.
    match declared_quote_len(quote) {
        Some(n) if n <= quote.len() && quote[n..].iter().all(|b| *b == 0) => {}
        Some(n) => {
            return Err(DcapError::Rejected(format!(
                "quote is {} bytes but its length fields declare {n} (and what follows is not zero padding)",
                quote.len()
            )))
        }
        None => return Err(DcapError::Rejected("not a DCAP quote v3, v4 or v5".into())),
    }
    // The quote's certification data may carry a copy of the root. It is not
    // what is trusted (the pinned root is), so it must equal the pinned root
    // byte for byte rather than be silently ignored.
    let pinned = root_der
        .clone()
        .unwrap_or_else(|| INTEL_SGX_ROOT_CA_DER.to_vec());
    if let Some(embedded) = last_embedded_certificate(quote) {
        if embedded != pinned && embedded_is_root(&embedded) {
            return Err(DcapError::Rejected(
                "the root certificate embedded in the quote differs from the pinned Intel root"
                    .into(),
            ));
        }
    }
    let result = match root_der {
        None => dcap_qvl::verify::rustcrypto::verify(quote, collateral, now),
        Some(root) => dcap_qvl::verify::QuoteVerifier::new(root)
            .with_config::<dcap_qvl::configs::RustCryptoConfig>()
            .verify(quote, collateral, now),
    };
    let verified = result.map_err(|e| DcapError::Rejected(format!("{e:#}")))?;
    let (tee, measurements, debug, report_data) = match &verified.report {
        Report::SgxEnclave(r) => (
            DcapTee::Sgx,
            Measurements::Sgx {
                mr_enclave: r.mr_enclave,
                mr_signer: r.mr_signer,
                isv_prod_id: r.isv_prod_id,
                isv_svn: r.isv_svn,
            },
            // SGX ATTRIBUTES.FLAGS bit 1 = DEBUG.
            r.attributes[0] & 0x02 != 0,
            r.report_data,
        ),
        other => {
            let Some(td) = other.as_td10() else {
                return Err(DcapError::Rejected("unknown report body".into()));
            };
            (
                DcapTee::Tdx,
                Measurements::Tdx {
                    mr_td: td.mr_td,
                    rtmr: [td.rt_mr0, td.rt_mr1, td.rt_mr2, td.rt_mr3],
                    mr_config_id: td.mr_config_id,
                    td_attributes: td.td_attributes,
                },
                // TDX TD_ATTRIBUTES bit 0 = DEBUG.
                td.td_attributes[0] & 0x01 != 0,
                td.report_data,
            )
        }
    };
    Ok(DcapClaims {
        tee,
        measurements,
        debug,
        report_data,
        tcb_status: TcbStatus::parse(&verified.status),
        advisory_ids: verified.advisory_ids,
    })
}
