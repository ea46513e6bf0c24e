//! The broker's protocol: one JSON object per line over TCP, one response
//! line per request. Binary fields are hex. No TLS is needed for
//! confidentiality: the only secret that crosses is the fleet key, wrapped
//! with HPKE to the attested worker's ephemeral key. Authenticity for
//! gateways comes from the evidence and the controller-signed policy, not
//! from the channel.

use aorta_attest::{Endorsements, Evidence, TeeKind, WrappedKey};
use serde::{Deserialize, Serialize};

/// Longest request line accepted (evidence with collateral is ~20–60 KiB).
pub const MAX_LINE: usize = 1 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// A worker's first step: a fresh nonce for the current fleet key.
    Challenge,
    /// A worker's evidence answering a challenge; asks for the fleet keys.
    Attest {
        worker_pub: String,
        random: String,
        evidence: EvidenceJson,
    },
    /// A gateway's question: the current fleet key and the evidence of a
    /// worker that was offered it.
    Fleet,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Response {
    Challenge {
        epoch: u32,
        fleet_pub: String,
        random: String,
    },
    Released {
        worker_id: String,
        current_epoch: u32,
        keys: Vec<WrappedJson>,
        /// Attest again before this many seconds pass, so gateways keep
        /// seeing fresh evidence.
        reattest_after_secs: u64,
    },
    Fleet {
        epoch: u32,
        fleet_pub: String,
        /// Short SHA-256 of the broker's policy.
        policy: String,
        holder: Option<Holder>,
    },
    Error {
        error: String,
        /// Whether asking again can help (absent from older brokers:
        /// never).
        #[serde(default, skip_serializing_if = "Retry::is_never")]
        retry: Retry,
    },
}

/// Whether asking again can change a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Retry {
    /// A refusal (policy, evidence, revocation) or a defect: asking again
    /// gets the same answer.
    #[default]
    Never,
    /// A passing condition (unreachable, busy, no worker attested yet, a
    /// challenge that expired): ask again later.
    Later,
    /// The evidence's collateral or endorsements are stale: fetch fresh
    /// ones and attest again.
    FreshCollateral,
}

impl Retry {
    pub fn is_never(&self) -> bool {
        *self == Self::Never
    }
}

/// Evidence of a worker that was offered the fleet key of `epoch`: the
/// gateway recomputes the nonce from `random`, the epoch and the key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub worker_pub: String,
    pub random: String,
    pub epoch: u32,
    pub evidence: EvidenceJson,
    pub attested_at: u64,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EvidenceJson {
    pub tee: String,
    pub bytes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collateral_json: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vek_der: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

impl std::fmt::Debug for EvidenceJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EvidenceJson({}, {} hex chars)",
            self.tee,
            self.bytes.len()
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WrappedJson {
    pub epoch: u32,
    pub enc: String,
    pub ciphertext: String,
}

fn tee_from_name(n: &str) -> Option<TeeKind> {
    [
        TeeKind::Simulated,
        TeeKind::SgxGramine,
        TeeKind::Tdx,
        TeeKind::SevSnp,
        TeeKind::Nitro,
    ]
    .into_iter()
    .find(|t| t.name() == n)
}

impl EvidenceJson {
    pub fn from_evidence(e: &Evidence) -> Self {
        let h = |v: &Option<Vec<u8>>| v.as_ref().map(hex::encode);
        Self {
            tee: e.tee.name().to_string(),
            bytes: hex::encode(&e.bytes),
            collateral_json: h(&e.endorsements.collateral_json),
            vek_der: h(&e.endorsements.vek_der),
            ca_pem: h(&e.endorsements.ca_pem),
        }
    }

    pub fn to_evidence(&self) -> Result<Evidence, String> {
        let d = |what: &str, v: &Option<String>| -> Result<Option<Vec<u8>>, String> {
            v.as_deref()
                .map(hex::decode)
                .transpose()
                .map_err(|_| format!("evidence.{what} is not hex"))
        };
        Ok(Evidence {
            tee: tee_from_name(&self.tee)
                .ok_or_else(|| format!("evidence.tee '{}' is not a known TEE type", self.tee))?,
            bytes: hex::decode(&self.bytes).map_err(|_| "evidence.bytes is not hex".to_string())?,
            endorsements: Endorsements {
                collateral_json: d("collateral_json", &self.collateral_json)?,
                vek_der: d("vek_der", &self.vek_der)?,
                ca_pem: d("ca_pem", &self.ca_pem)?,
            },
        })
    }
}

impl WrappedJson {
    pub fn from_wrapped(w: &WrappedKey) -> Self {
        Self {
            epoch: w.epoch,
            enc: hex::encode(&w.enc),
            ciphertext: hex::encode(&w.ciphertext),
        }
    }
    pub fn to_wrapped(&self) -> Result<WrappedKey, String> {
        Ok(WrappedKey {
            epoch: self.epoch,
            enc: hex::decode(&self.enc).map_err(|_| "wrapped key enc is not hex")?,
            ciphertext: hex::decode(&self.ciphertext)
                .map_err(|_| "wrapped key ciphertext is not hex")?,
        })
    }
}

/// Decodes exactly 32 hex-encoded bytes.
pub fn hex32(what: &str, s: &str) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| format!("{what} is not 32 hex-encoded bytes"))?;
    Ok(out)
}
