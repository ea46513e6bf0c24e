//! The simulated TEE: evidence signed by a throwaway Ed25519 "platform root".
//! It proves nothing about isolation; it exists so that the whole key-release
//! path runs in development and CI.
//!
//! Evidence layout: `"AOSIMEV1" ‖ measurement (32) ‖ debug (1) ‖ issued_at u64 LE
//! ‖ report_data (64) ‖ Ed25519 signature (64)` under label `aorta/v1/sim-evidence`.

use aorta_envelope::{SigningKey, VerifyingKey};

use crate::{AttestError, Attester, Claims, Evidence, TeeKind};

const LABEL: &str = "aorta/v1/sim-evidence";
const MAGIC: &[u8; 8] = b"AOSIMEV1";
const BODY_LEN: usize = 8 + 32 + 1 + 8 + 64;

pub const WARNING: &str = "WARNING: SIMULATED TEE — this is NOT a trusted execution environment. \
Patient data is protected from the network and storage but NOT from this machine's operator. \
Use only for development and testing.";

/// Is this simulated evidence (by its magic)?
pub fn is_simulated(evidence: &[u8]) -> bool {
    evidence.starts_with(MAGIC)
}

/// Verifies simulated evidence against the simulated platform `root`.
pub fn verify(evidence: &[u8], root: &VerifyingKey) -> Result<Claims, AttestError> {
    if evidence.len() != BODY_LEN + 64 {
        return Err(AttestError::Malformed("simulated evidence length"));
    }
    let (body, sig) = evidence.split_at(BODY_LEN);
    let mut s = [0u8; 64];
    s.copy_from_slice(sig);
    root.verify(LABEL, body, &s)
        .map_err(|_| AttestError::BadSignature { tee: "simulated" })?;
    let (magic, rest) = body.split_at(8);
    if magic != MAGIC {
        return Err(AttestError::Malformed("simulated evidence magic"));
    }
    let (m, rest) = rest.split_at(32);
    let (debug, rest) = rest.split_at(1);
    let (t, rd) = rest.split_at(8);
    let mut measurement = [0u8; 32];
    measurement.copy_from_slice(m);
    let mut ts = [0u8; 8];
    ts.copy_from_slice(t);
    let mut report_data = [0u8; 64];
    report_data.copy_from_slice(rd);
    Ok(Claims {
        tee: TeeKind::Simulated,
        measurement,
        debug: debug != [0],
        report_data,
        issued_at: u64::from_le_bytes(ts),
    })
}

/// A simulated TEE: a platform root key and the measurement it reports.
pub struct SimulatedTee {
    root: SigningKey,
    measurement: [u8; 32],
    debug: bool,
    now: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl std::fmt::Debug for SimulatedTee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedTee")
            .field("measurement", &hex::encode(self.measurement))
            .finish_non_exhaustive()
    }
}

impl SimulatedTee {
    pub fn new(
        root: SigningKey,
        measurement: [u8; 32],
        now: Box<dyn Fn() -> u64 + Send + Sync>,
    ) -> Self {
        Self {
            root,
            measurement,
            debug: false,
            now,
        }
    }

    /// Reports a debug-mode TEE (for testing that verifiers refuse it).
    pub fn with_debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }
}

impl Attester for SimulatedTee {
    fn tee(&self) -> TeeKind {
        TeeKind::Simulated
    }

    fn evidence(&self, report_data: [u8; 64]) -> Result<Evidence, AttestError> {
        let mut body = Vec::with_capacity(BODY_LEN + 64);
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&self.measurement);
        body.push(u8::from(self.debug));
        body.extend_from_slice(&(self.now)().to_le_bytes());
        body.extend_from_slice(&report_data);
        let sig = self.root.sign(LABEL, &body);
        body.extend_from_slice(&sig);
        Ok(Evidence {
            tee: TeeKind::Simulated,
            bytes: body,
            endorsements: Default::default(),
        })
    }
}
