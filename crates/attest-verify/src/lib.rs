//! From evidence bytes to a verdict a person can read.
//!
//! [`detect`] recognises the evidence format; [`verify`] runs the matching
//! backend (cryptography, chains, validity at `now`) and then the data
//! controller's [`Policy`] (allowed measurements per TEE type, debug
//! forbidden, allowed TCB statuses, maximum evidence age). Every check is
//! reported as a [`Check`] line, passed or failed, so operators see why.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use serde::Deserialize;

/// Evidence formats Aorta understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    SgxDcap,
    TdxDcap,
    SevSnp,
    Nitro,
    /// Aorta's simulated TEE: development only, proves nothing about isolation.
    Simulated,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Self::Simulated => "Aorta SIMULATED TEE evidence (development only, NOT a TEE)",
            Self::SgxDcap => "Intel SGX DCAP quote",
            Self::TdxDcap => "Intel TDX DCAP quote",
            Self::SevSnp => "AMD SEV-SNP attestation report",
            Self::Nitro => "AWS Nitro Enclaves attestation document",
        }
    }
}

/// Recognises evidence by its structure.
pub fn detect(e: &[u8]) -> Option<Format> {
    if aorta_attest::simulated::is_simulated(e) {
        return Some(Format::Simulated);
    }
    let u16_at = |i: usize| e.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |i: usize| {
        e.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    // DCAP quote header: version (3, 4, 5), attestation key type 2 (ECDSA-256-with-P-256), tee type.
    if matches!(u16_at(0), Some(3..=5)) && u16_at(2) == Some(2) {
        return match u32_at(4) {
            Some(0) => Some(Format::SgxDcap),
            Some(0x81) => Some(Format::TdxDcap),
            _ => None,
        };
    }
    if e.len() == aorta_attest_snp::REPORT_LEN && matches!(u32_at(0), Some(2..=5)) {
        return Some(Format::SevSnp);
    }
    // COSE_Sign1: untagged array of 4, or tag 18.
    if matches!(e.first(), Some(0x84) | Some(0xd2)) {
        return Some(Format::Nitro);
    }
    None
}

/// The data controller's acceptance rules (JSON). A TEE type absent from
/// the policy is not accepted at all.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub sgx: Option<SgxPolicy>,
    pub tdx: Option<TdxPolicy>,
    pub snp: Option<SnpPolicy>,
    pub nitro: Option<NitroPolicy>,
    /// The simulated TEE (development only). Consumers accept it only when
    /// their operator also passed `--allow-simulated`.
    pub simulated: Option<SimulatedPolicy>,
    /// DCAP TCB statuses accepted; default `["UpToDate"]`.
    #[serde(default = "up_to_date")]
    pub allow_tcb_status: Vec<String>,
    /// Intel security advisories (e.g. `INTEL-SA-00615`) accepted on a
    /// platform whose TCB status is not `UpToDate`. Such a platform passes
    /// only if its status is allowed *and* every advisory it reports is
    /// listed here.
    #[serde(default)]
    pub allow_advisories: Vec<String>,
    /// Oldest acceptable evidence in seconds (Nitro carries a timestamp; 0 = no limit).
    #[serde(default)]
    pub max_age_secs: u64,
}

fn up_to_date() -> Vec<String> {
    vec!["UpToDate".into()]
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgxPolicy {
    #[serde(default)]
    pub mrenclave: Vec<String>,
    #[serde(default)]
    pub mrsigner: Vec<String>,
    pub isv_prod_id: Option<u16>,
    #[serde(default)]
    pub min_isv_svn: u16,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TdxPolicy {
    pub mrtd: Vec<String>,
    /// Per RTMR index, the accepted values (absent = any).
    #[serde(default)]
    pub rtmr: [Option<Vec<String>>; 4],
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnpPolicy {
    pub measurement: Vec<String>,
    #[serde(default)]
    pub vmpl: Option<u32>,
    /// Minimum (bootloader, tee, snp, microcode).
    #[serde(default)]
    pub min_tcb: Option<[u8; 4]>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NitroPolicy {
    pub pcr0: Vec<String>,
    #[serde(default)]
    pub pcr1: Vec<String>,
    #[serde(default)]
    pub pcr2: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedPolicy {
    /// The simulated platform root's Ed25519 public key (hex).
    pub root: String,
    /// Accepted measurements (SHA-256 of the worker binary, hex).
    pub measurements: Vec<String>,
}

/// One line of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub format: Format,
    pub checks: Vec<Check>,
    /// Authentic and, when a policy was given, acceptable.
    pub accepted: bool,
    /// A retry with fresh collateral/endorsements may change the outcome.
    pub retryable: bool,
    pub policy_applied: bool,
    /// The 64 bytes the evidence binds (REPORT_DATA; Nitro `user_data`),
    /// once authenticity is established.
    pub report_data: Option<[u8; 64]>,
    /// The main measurement (MRENCLAVE, MRTD, SNP MEASUREMENT, PCR0, or the
    /// simulated binary hash), hex, once authenticity is established.
    pub measurement: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error(
        "unrecognised evidence: not a DCAP quote, SNP report, Nitro document or simulated evidence"
    )]
    Unrecognised,
    #[error("missing endorsements: {0}")]
    MissingEndorsements(&'static str),
    #[error("bad policy: {0}")]
    BadPolicy(String),
}

pub fn parse_policy(json: &[u8]) -> Result<Policy, VerifyError> {
    serde_json::from_slice(json).map_err(|e| VerifyError::BadPolicy(e.to_string()))
}

pub use aorta_attest::Endorsements;

fn check(checks: &mut Vec<Check>, name: &str, ok: bool, detail: impl Into<String>) {
    checks.push(Check {
        name: name.into(),
        ok,
        detail: detail.into(),
    });
}

/// Evidence that carries its issue time must be younger than the policy's
/// `max_age_secs` (0: no limit) and not from the future (5 minutes of skew).
fn age_check(checks: &mut Vec<Check>, policy: Option<&Policy>, issued_at: u64, now: u64) {
    let max = policy.map_or(0, |p| p.max_age_secs);
    if issued_at > now + 300 {
        check(
            checks,
            "age",
            false,
            format!("issued {} s in the future", issued_at - now),
        );
        return;
    }
    let age = now.saturating_sub(issued_at);
    let limit = if max == 0 {
        "none".to_string()
    } else {
        format!("{max} s")
    };
    check(
        checks,
        "age",
        max == 0 || age <= max,
        format!("{age} s (limit {limit})"),
    );
}

fn allowed(list: &[String], value: &[u8]) -> bool {
    let h = hex::encode(value);
    list.iter().any(|x| x.eq_ignore_ascii_case(&h))
}

/// Verifies `evidence` at `now` (Unix seconds); applies `policy` if given.
pub fn verify(
    evidence: &[u8],
    endorsements: &Endorsements,
    policy: Option<&Policy>,
    now: u64,
) -> Result<Verdict, VerifyError> {
    let format = detect(evidence).ok_or(VerifyError::Unrecognised)?;
    let mut checks = Vec::new();
    let mut retryable = false;
    let mut report_data = None;
    let mut measurement = None;
    match format {
        Format::Simulated => {
            let sp = policy.and_then(|p| p.simulated.as_ref());
            let root = sp.and_then(|s| aorta_envelope::VerifyingKey::from_hex(&s.root).ok());
            match root {
                None => check(
                    &mut checks,
                    "authenticity",
                    false,
                    "simulated evidence needs a policy whose `simulated.root` names the simulated platform root",
                ),
                Some(root) => match aorta_attest::simulated::verify(evidence, &root) {
                    Err(e) => check(&mut checks, "authenticity", false, e.to_string()),
                    Ok(c) => {
                        check(
                            &mut checks,
                            "authenticity",
                            true,
                            "Ed25519 by the policy's simulated platform root — NOT a TEE",
                        );
                        check(
                            &mut checks,
                            "debug",
                            !c.debug,
                            if c.debug { "debug mode" } else { "off" },
                        );
                        age_check(&mut checks, policy, c.issued_at, now);
                        check(
                            &mut checks,
                            "measurement",
                            sp.is_some_and(|s| allowed(&s.measurements, &c.measurement)),
                            hex::encode(c.measurement),
                        );
                        report_data = Some(c.report_data);
                        measurement = Some(hex::encode(c.measurement));
                    }
                },
            }
        }
        Format::SgxDcap | Format::TdxDcap => {
            let json =
                endorsements
                    .collateral_json
                    .as_deref()
                    .ok_or(VerifyError::MissingEndorsements(
                        "DCAP collateral JSON (--endorsements)",
                    ))?;
            let col = aorta_attest_dcap::parse_collateral(json)
                .map_err(|_| VerifyError::MissingEndorsements("parseable DCAP collateral JSON"))?;
            match aorta_attest_dcap::verify(evidence, &col, now) {
                Err(e) => {
                    retryable = e.retryable();
                    check(&mut checks, "authenticity", false, e.to_string());
                }
                Ok(c) => {
                    check(&mut checks, "authenticity", true, "PCK chain to the Intel SGX Root CA, CRLs, TCB info, QE identity, quote signature (dcap-qvl)");
                    let statuses = policy.map_or_else(up_to_date, |p| p.allow_tcb_status.clone());
                    let advisories_ok: &[String] = policy.map_or(&[], |p| &p.allow_advisories);
                    let unlisted: Vec<&String> = c
                        .advisory_ids
                        .iter()
                        .filter(|a| !advisories_ok.contains(a))
                        .collect();
                    let status_ok = statuses.iter().any(|s| s == c.tcb_status.name())
                        && (c.tcb_status.name() == "UpToDate" || unlisted.is_empty());
                    let adv = if c.advisory_ids.is_empty() {
                        String::new()
                    } else {
                        format!(" (advisories {})", c.advisory_ids.join(", "))
                    };
                    let missing = if unlisted.is_empty() || c.tcb_status.name() == "UpToDate" {
                        String::new()
                    } else {
                        format!(
                            "; advisories not in allow_advisories: {}",
                            unlisted
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    check(
                        &mut checks,
                        "TCB status",
                        status_ok,
                        format!(
                            "{}{adv}; allowed: {}{missing}",
                            c.tcb_status.name(),
                            statuses.join(", ")
                        ),
                    );
                    check(
                        &mut checks,
                        "debug",
                        !c.debug,
                        if c.debug {
                            "DEBUG attribute set"
                        } else {
                            "off"
                        },
                    );
                    check(&mut checks, "report data", true, hex::encode(c.report_data));
                    report_data = Some(c.report_data);
                    measurement = Some(match &c.measurements {
                        aorta_attest_dcap::Measurements::Sgx { mr_enclave, .. } => {
                            hex::encode(mr_enclave)
                        }
                        aorta_attest_dcap::Measurements::Tdx { mr_td, .. } => hex::encode(mr_td),
                    });
                    match (&c.measurements, policy) {
                        (
                            aorta_attest_dcap::Measurements::Sgx {
                                mr_enclave,
                                mr_signer,
                                isv_prod_id,
                                isv_svn,
                            },
                            p,
                        ) => {
                            let sp = p.and_then(|p| p.sgx.as_ref());
                            let enclave_ok = sp.is_none_or(|s| {
                                s.mrenclave.is_empty() || allowed(&s.mrenclave, mr_enclave)
                            });
                            let signer_ok = sp.is_none_or(|s| {
                                (s.mrsigner.is_empty() || allowed(&s.mrsigner, mr_signer))
                                    && s.isv_prod_id.is_none_or(|id| id == *isv_prod_id)
                                    && *isv_svn >= s.min_isv_svn
                            });
                            if p.is_some() && sp.is_none() {
                                check(&mut checks, "TEE type", false, "SGX is not in the policy");
                            }
                            check(
                                &mut checks,
                                "MRENCLAVE",
                                enclave_ok,
                                hex::encode(mr_enclave),
                            );
                            check(
                                &mut checks,
                                "MRSIGNER / product / SVN",
                                signer_ok,
                                format!("{} / {isv_prod_id} / {isv_svn}", hex::encode(mr_signer)),
                            );
                        }
                        (aorta_attest_dcap::Measurements::Tdx { mr_td, rtmr, .. }, p) => {
                            let tp = p.and_then(|p| p.tdx.as_ref());
                            if p.is_some() && tp.is_none() {
                                check(&mut checks, "TEE type", false, "TDX is not in the policy");
                            }
                            check(
                                &mut checks,
                                "MRTD",
                                tp.is_none_or(|t| allowed(&t.mrtd, mr_td)),
                                hex::encode(mr_td),
                            );
                            for (i, r) in rtmr.iter().enumerate() {
                                let ok = tp.is_none_or(|t| {
                                    t.rtmr[i].as_ref().is_none_or(|l| allowed(l, r))
                                });
                                check(&mut checks, &format!("RTMR{i}"), ok, hex::encode(r));
                            }
                        }
                    }
                }
            }
        }
        Format::SevSnp => {
            let vek = endorsements
                .vek_der
                .as_deref()
                .ok_or(VerifyError::MissingEndorsements(
                    "the VCEK or VLEK certificate (DER) as --endorsements",
                ))?;
            let chains: Vec<Vec<u8>> = match &endorsements.ca_pem {
                Some(p) => vec![p.clone()],
                None => {
                    use sev::certs::snp::builtin::{genoa, milan, turin};
                    [
                        (milan::ASK, milan::ARK),
                        (genoa::ASK, genoa::ARK),
                        (turin::ASK, turin::ARK),
                    ]
                    .iter()
                    .map(|(ask, ark)| [*ask, b"\n", *ark].concat())
                    .collect()
                }
            };
            let mut result = Err(aorta_attest_snp::SnpError::UnknownRoot);
            for chain in &chains {
                result = aorta_attest_snp::verify(evidence, vek, chain, now);
                if !matches!(result, Err(aorta_attest_snp::SnpError::ChainInvalid(_))) {
                    break;
                }
            }
            match result {
                Err(e) => {
                    retryable = e.retryable();
                    check(&mut checks, "authenticity", false, e.to_string());
                }
                Ok(c) => {
                    check(&mut checks, "authenticity", true, format!("{:?} → ASK → pinned AMD ARK, validity at now, report signature, TCB and chip id consistency", c.vek));
                    check(
                        &mut checks,
                        "debug",
                        !c.debug,
                        format!(
                            "guest policy {:#x}{}",
                            c.policy,
                            if c.debug {
                                " — debugging allowed (bit 19)"
                            } else {
                                ""
                            }
                        ),
                    );
                    check(&mut checks, "report data", true, hex::encode(c.report_data));
                    report_data = Some(c.report_data);
                    measurement = Some(hex::encode(c.measurement));
                    let sp = policy.and_then(|p| p.snp.as_ref());
                    if policy.is_some() && sp.is_none() {
                        check(
                            &mut checks,
                            "TEE type",
                            false,
                            "SEV-SNP is not in the policy",
                        );
                    }
                    check(
                        &mut checks,
                        "MEASUREMENT",
                        sp.is_none_or(|s| allowed(&s.measurement, &c.measurement)),
                        hex::encode(c.measurement),
                    );
                    check(
                        &mut checks,
                        "VMPL",
                        sp.and_then(|s| s.vmpl).is_none_or(|v| v == c.vmpl),
                        c.vmpl.to_string(),
                    );
                    let t = c.reported_tcb;
                    let tcb_ok = sp.and_then(|s| s.min_tcb).is_none_or(|[b, te, sn, mc]| {
                        t.bootloader >= b && t.tee >= te && t.snp >= sn && t.microcode >= mc
                    });
                    check(
                        &mut checks,
                        "reported TCB",
                        tcb_ok,
                        format!(
                            "bootloader {} tee {} snp {} microcode {}",
                            t.bootloader, t.tee, t.snp, t.microcode
                        ),
                    );
                }
            }
        }
        Format::Nitro => match aorta_attest_nitro::verify(evidence, now) {
            Err(e) => {
                retryable = e.retryable();
                check(&mut checks, "authenticity", false, e.to_string());
            }
            Ok(c) => {
                check(
                    &mut checks,
                    "authenticity",
                    true,
                    "COSE ES384 by a chain from the pinned AWS Nitro Root-G1, valid at now",
                );
                check(
                    &mut checks,
                    "debug",
                    !c.debug(),
                    if c.debug() {
                        "PCR0-2 all zero (debug mode)"
                    } else {
                        "off"
                    },
                );
                age_check(&mut checks, policy, c.timestamp_ms / 1000, now);
                let np = policy.and_then(|p| p.nitro.as_ref());
                if policy.is_some() && np.is_none() {
                    check(&mut checks, "TEE type", false, "Nitro is not in the policy");
                }
                for (i, list) in [
                    (0u64, np.map(|n| &n.pcr0)),
                    (1, np.map(|n| &n.pcr1)),
                    (2, np.map(|n| &n.pcr2)),
                ] {
                    let v = c.pcrs.get(&i).cloned().unwrap_or_default();
                    let ok = list.is_none_or(|l| (l.is_empty() && i > 0) || allowed(l, &v));
                    check(&mut checks, &format!("PCR{i}"), ok, hex::encode(&v));
                }
                report_data = c
                    .user_data
                    .as_deref()
                    .and_then(|u| <[u8; 64]>::try_from(u).ok());
                measurement = Some(hex::encode(c.pcrs.get(&0).cloned().unwrap_or_default()));
                if let Some(pk) = &c.public_key {
                    check(
                        &mut checks,
                        "public key",
                        true,
                        format!("{} bytes", pk.len()),
                    );
                }
            }
        },
    }
    let accepted = checks.iter().all(|c| c.ok);
    Ok(Verdict {
        format,
        checks,
        accepted,
        retryable,
        policy_applied: policy.is_some(),
        report_data: report_data.filter(|_| accepted),
        measurement,
    })
}
