//! `aorta attest verify`: check real TEE evidence offline and explain the verdict.

use std::path::PathBuf;

use anyhow::{Context, Result};
use aorta_attest_verify::{detect, parse_policy, verify, Endorsements, Format};

#[derive(clap::Subcommand)]
pub enum AttestCmd {
    /// Verify SGX/TDX DCAP quotes, SEV-SNP reports or Nitro documents; exits non-zero on rejection.
    Verify {
        /// The evidence file (quote, report or COSE document).
        evidence: PathBuf,
        /// DCAP collateral JSON; for SEV-SNP the VCEK/VLEK (.der) and optionally the ASK+ARK chain (.pem).
        #[arg(long)]
        endorsements: Vec<PathBuf>,
        /// The data controller's policy (JSON). Without it only authenticity and TCB status are checked.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Verification time, Unix seconds (default: now). Recorded evidence needs its own time.
        #[arg(long)]
        at: Option<u64>,
    },
}

pub fn run(cmd: AttestCmd) -> Result<()> {
    let AttestCmd::Verify {
        evidence,
        endorsements,
        policy,
        at,
    } = cmd;
    let bytes =
        std::fs::read(&evidence).with_context(|| format!("reading {}", evidence.display()))?;
    // SNP reports are sometimes stored as hex text.
    let bytes = if detect(&bytes).is_none() {
        aorta_attest_snp::report_from_hex(&String::from_utf8_lossy(&bytes))
            .filter(|b| detect(b).is_some())
            .unwrap_or(bytes)
    } else {
        bytes
    };
    let format = detect(&bytes);
    let mut e = Endorsements::default();
    for p in &endorsements {
        let data = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        match (format, p.extension().and_then(|x| x.to_str())) {
            (Some(Format::SgxDcap | Format::TdxDcap), _) => e.collateral_json = Some(data),
            (Some(Format::SevSnp), Some("pem")) => e.ca_pem = Some(data),
            (Some(Format::SevSnp), _) => e.vek_der = Some(data),
            _ => {}
        }
    }
    let policy = match &policy {
        Some(p) => Some(parse_policy(
            &std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        )?),
        None => None,
    };
    let now = at.unwrap_or_else(crate::tee::unix_now);
    let v = verify(&bytes, &e, policy.as_ref(), now)?;
    println!(
        "evidence: {} ({} bytes), verified at Unix time {now}",
        v.format.name(),
        bytes.len()
    );
    for c in &v.checks {
        println!(
            "  {:<26} {:<4} {}",
            c.name,
            if c.ok { "ok" } else { "FAIL" },
            c.detail
        );
    }
    // A rejection is a verdict, not a failure of the command: say it, exit 1.
    match (v.accepted, v.policy_applied) {
        (true, true) => println!("verdict: ACCEPTED by the policy"),
        (true, false) => println!("verdict: AUTHENTIC (no --policy given: authenticity and TCB status only, measurements not checked)"),
        (false, _) if v.retryable => {
            println!("verdict: NOT ACCEPTED — endorsements or collateral are outside their validity at this time; fetch fresh ones and retry");
            std::process::exit(1);
        }
        (false, _) => {
            println!("verdict: REJECTED");
            std::process::exit(1);
        }
    }
    Ok(())
}
