//! The gateway's check of the fleet key (feature `verify`): the key broker
//! must show, with the key, evidence acceptable under the gateway's own
//! copy of the controller-signed policy of a worker that was offered
//! exactly that key. The broker applies the same check
//! ([`check_evidence`]) before it releases keys to a worker.

use std::path::Path;

use aorta_attest::binding;
use aorta_attest_verify::{Format, Policy};
use aorta_envelope::{KemPublic, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::client::worker_id;
use crate::proto::{hex32, EvidenceJson, Response, Retry};
use crate::KbsError;

/// Why the gateway refuses what the broker offered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayRefusal {
    /// Nobody attested for the current epoch yet: wait for a worker.
    #[error("no attested worker holds fleet key epoch {epoch} yet: start a worker (`aorta worker --kbs ...`) first")]
    NoWorkerYet { epoch: u32 },
    /// The evidence offered belongs to another epoch (a rotation under
    /// way): ask again.
    #[error("the evidence offered is for epoch {offered}, not the current epoch {current}")]
    EvidenceForAnotherEpoch { offered: u32, current: u32 },
    /// The evidence does not satisfy this gateway's policy.
    #[error("the evidence behind fleet key epoch {epoch} does not satisfy this gateway's policy: {reason}")]
    Evidence {
        epoch: u32,
        reason: String,
        retry: Retry,
    },
    /// The key is held by a simulated TEE and this gateway does not allow it.
    #[error(
        "the fleet key is held by a SIMULATED TEE worker (pass --allow-simulated for development)"
    )]
    SimulatedHolder,
    /// The broker's answer was not a fleet key at all.
    #[error("the key broker did not answer with a fleet key")]
    NotAFleetKey,
}

impl GatewayRefusal {
    /// Whether waiting can change the answer: a worker may attest, a
    /// rotation may settle, collateral may be refreshed. A policy refusal
    /// stays a refusal.
    pub fn retry(&self) -> Retry {
        match self {
            Self::NoWorkerYet { .. } | Self::EvidenceForAnotherEpoch { .. } => Retry::Later,
            Self::Evidence { retry, .. } => *retry,
            Self::SimulatedHolder | Self::NotAFleetKey => Retry::Never,
        }
    }
}

/// Evidence refused, with whether fresh collateral could change that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRefused {
    pub reason: String,
    pub retry: Retry,
}

impl std::fmt::Display for EvidenceRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Signature label of the policy file.
pub const POLICY_LABEL: &str = "aorta/v1/attestation-policy";

/// A verified policy: its parsed form and the SHA-256 of its bytes.
#[derive(Debug, Clone)]
pub struct SignedPolicy {
    pub policy: aorta_attest_verify::Policy,
    pub sha256: [u8; 32],
}

impl SignedPolicy {
    /// Checks `sig` (hex Ed25519 over `json` under [`POLICY_LABEL`]) with
    /// the controller's key and parses the policy.
    pub fn verify(json: &[u8], sig_hex: &str, controller: &VerifyingKey) -> Result<Self, KbsError> {
        let mut sig = [0u8; 64];
        hex::decode_to_slice(sig_hex.trim(), &mut sig)
            .map_err(|_| KbsError::Policy("policy.sig is not 64 hex-encoded bytes".into()))?;
        controller.verify(POLICY_LABEL, json, &sig).map_err(|_| {
            KbsError::Policy(
                "policy.sig does not verify with the controller's key: the policy was changed or not signed by this controller".into(),
            )
        })?;
        let policy =
            aorta_attest_verify::parse_policy(json).map_err(|e| KbsError::Policy(e.to_string()))?;
        Ok(Self {
            policy,
            sha256: Sha256::digest(json).into(),
        })
    }

    /// Reads and verifies `dir/policy.json` with `dir/policy.sig`.
    pub fn load(dir: &Path, controller: &VerifyingKey) -> Result<Self, KbsError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| KbsError::Io {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        };
        let json = read("policy.json")?;
        let sig = String::from_utf8(read("policy.sig")?)
            .map_err(|_| KbsError::Policy("policy.sig is not text".into()))?;
        Self::verify(&json, &sig, controller)
    }

    pub fn short_hash(&self) -> String {
        hex::encode(&self.sha256[..8])
    }
}

/// The policy as this process applies it: the simulated section is
/// dropped unless the operator passed `--allow-simulated`.
pub fn effective_policy(p: &SignedPolicy, allow_simulated: bool) -> Policy {
    let mut policy = p.policy.clone();
    if !allow_simulated {
        policy.simulated = None;
    }
    policy
}

fn format_matches(format: Format, tee: aorta_attest::TeeKind) -> bool {
    use aorta_attest::TeeKind as T;
    matches!(
        (format, tee),
        (Format::Simulated, T::Simulated)
            | (Format::SgxDcap, T::SgxGramine)
            | (Format::TdxDcap, T::Tdx)
            | (Format::SevSnp, T::SevSnp)
            | (Format::Nitro, T::Nitro)
    )
}

/// What verified evidence is worth to a broker or a gateway.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub tee: String,
    pub measurement: String,
    pub simulated: bool,
}

/// Verifies `evidence` under `policy` at `now` and checks that it binds
/// `worker_pub` and `nonce`. The error names every failed check.
pub fn check_evidence(
    evidence: &EvidenceJson,
    worker_pub: &[u8; 32],
    nonce: &[u8; 32],
    policy: &Policy,
    now: u64,
) -> Result<Accepted, EvidenceRefused> {
    let never = |reason: String| EvidenceRefused {
        reason,
        retry: Retry::Never,
    };
    let ev = evidence.to_evidence().map_err(never)?;
    let verdict = aorta_attest_verify::verify(&ev.bytes, &ev.endorsements, Some(policy), now)
        .map_err(|e| never(e.to_string()))?;
    if !format_matches(verdict.format, ev.tee) {
        return Err(never(format!(
            "evidence is labelled '{}' but is a {}",
            ev.tee.name(),
            verdict.format.name()
        )));
    }
    if !verdict.accepted {
        let failed: Vec<String> = verdict
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        let hint = if verdict.format == Format::Simulated && policy.simulated.is_none() {
            " (simulated TEE evidence needs --allow-simulated and a policy with a `simulated` section)"
        } else {
            ""
        };
        // Evidence that is only too old is answered by the worker's next
        // attestation; stale collateral or endorsements by refreshed ones.
        let only_age = verdict
            .checks
            .iter()
            .filter(|c| !c.ok)
            .all(|c| c.name == "age");
        return Err(EvidenceRefused {
            reason: format!("{}{hint}", failed.join("; ")),
            retry: if only_age {
                Retry::Later
            } else if verdict.retryable {
                Retry::FreshCollateral
            } else {
                Retry::Never
            },
        });
    }
    let rd = verdict
        .report_data
        .ok_or_else(|| never("the evidence carries no 64-byte report data".into()))?;
    if !binding::check(&rd, worker_pub, nonce) {
        return Err(never(
            "report data does not bind this worker key and challenge".into(),
        ));
    }
    Ok(Accepted {
        tee: ev.tee.name().to_string(),
        measurement: verdict.measurement.unwrap_or_default(),
        simulated: verdict.format == Format::Simulated,
    })
}

/// A fleet key a gateway may encrypt to, and why. Only [`verify_fleet`]
/// makes one (the private field keeps struct literals out of other crates),
/// so a gateway sender built from it encrypts to a key whose holder was
/// attested; [`VerifiedFleet::dangerous_unverified`] is the named exception
/// for benchmarks and tests that hold the fleet key themselves.
///
/// Every field is private: a verified key cannot be edited into another
/// key that still claims to be verified.
#[derive(Debug, Clone)]
pub struct VerifiedFleet {
    epoch: u32,
    fleet: KemPublic,
    worker: String,
    tee: String,
    measurement: String,
    simulated: bool,
    policy_differs: bool,
    /// `false` only for [`VerifiedFleet::dangerous_unverified`].
    verified: bool,
}

impl VerifiedFleet {
    /// A fleet key nobody checked: no evidence, no policy. For benchmarks
    /// and tests that generated the key themselves; never for a gateway
    /// that sends patients' data to a worker it has not seen attested.
    pub fn dangerous_unverified(fleet: KemPublic, epoch: u32) -> Self {
        Self {
            epoch,
            fleet,
            worker: "unverified".into(),
            tee: "none".into(),
            measurement: String::new(),
            simulated: false,
            policy_differs: false,
            verified: false,
        }
    }

    /// Whether [`verify_fleet`] checked the evidence behind this key.
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The fleet public key to encrypt to.
    pub fn fleet(&self) -> &KemPublic {
        &self.fleet
    }

    /// The attested worker that holds it (id).
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// The holder's TEE kind and measurement.
    pub fn tee(&self) -> &str {
        &self.tee
    }

    pub fn measurement(&self) -> &str {
        &self.measurement
    }

    /// Held by a simulated TEE (development only).
    pub fn simulated(&self) -> bool {
        self.simulated
    }

    /// The broker runs a policy other than the gateway's own.
    pub fn policy_differs(&self) -> bool {
        self.policy_differs
    }
}

/// The gateway's check: the broker's answer to [`Request::Fleet`] must
/// carry evidence, acceptable under the gateway's own copy of the signed
/// policy at `now`, of a worker that was offered exactly this fleet key.
pub fn verify_fleet(
    resp: &Response,
    policy: &SignedPolicy,
    allow_simulated: bool,
    now: u64,
) -> Result<VerifiedFleet, KbsError> {
    let refuse = |r: GatewayRefusal| Err(KbsError::GatewayRefuses(r));
    let Response::Fleet {
        epoch,
        fleet_pub,
        policy: broker_policy,
        holder,
    } = resp
    else {
        return refuse(GatewayRefusal::NotAFleetKey);
    };
    let Some(h) = holder else {
        return refuse(GatewayRefusal::NoWorkerYet { epoch: *epoch });
    };
    if h.epoch != *epoch {
        return refuse(GatewayRefusal::EvidenceForAnotherEpoch {
            offered: h.epoch,
            current: *epoch,
        });
    }
    let fpub = hex32("fleet_pub", fleet_pub).map_err(KbsError::Protocol)?;
    let wpub = hex32("worker_pub", &h.worker_pub).map_err(KbsError::Protocol)?;
    let rand = hex32("random", &h.random).map_err(KbsError::Protocol)?;
    let nonce = binding::kbs_nonce(&rand, *epoch, &fpub);
    let effective = effective_policy(policy, allow_simulated);
    let a = check_evidence(&h.evidence, &wpub, &nonce, &effective, now).map_err(|e| {
        KbsError::GatewayRefuses(GatewayRefusal::Evidence {
            epoch: *epoch,
            reason: e.reason,
            retry: e.retry,
        })
    })?;
    Ok(VerifiedFleet {
        epoch: *epoch,
        fleet: KemPublic(fpub),
        worker: worker_id(&wpub),
        tee: a.tee,
        measurement: a.measurement,
        simulated: a.simulated,
        policy_differs: *broker_policy != policy.short_hash(),
        verified: true,
    })
}
