//! Talking to the broker: the worker's side (attest, unwrap) and the
//! gateway's side (obtain the fleet key and check the evidence behind it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use aorta_attest::{binding, unwrap_fleet_key, Attester};
use aorta_envelope::{KemKeypair, KemPublic, KemSecret};

use crate::broker::{check_evidence, effective_policy};
use crate::proto::{hex32, EvidenceJson, Request, Response, MAX_LINE};
use crate::store::{worker_id, SignedPolicy};
use crate::KbsError;

/// A connection-per-request client.
#[derive(Debug, Clone)]
pub struct Client {
    addr: String,
}

impl Client {
    pub fn new(addr: impl Into<String>) -> Self {
        Self { addr: addr.into() }
    }

    pub fn request(&self, req: &Request) -> Result<Response, KbsError> {
        let unreachable = |e: std::io::Error| KbsError::Unreachable {
            addr: self.addr.clone(),
            reason: e.to_string(),
        };
        let addr = self
            .addr
            .to_socket_addrs()
            .map_err(unreachable)?
            .next()
            .ok_or_else(|| KbsError::Unreachable {
                addr: self.addr.clone(),
                reason: "no address".into(),
            })?;
        let mut s =
            TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(unreachable)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(unreachable)?;
        let mut line = serde_json::to_vec(req).map_err(|e| KbsError::Protocol(e.to_string()))?;
        line.push(b'\n');
        s.write_all(&line).map_err(unreachable)?;
        let mut resp = Vec::new();
        BufReader::new(s)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut resp)
            .map_err(unreachable)?;
        if resp.is_empty() {
            // Closed at its connection cap or timeout: try again later.
            return Err(KbsError::Unreachable {
                addr: self.addr.clone(),
                reason: "the broker closed the connection without answering".into(),
            });
        }
        let r: Response = serde_json::from_slice(&resp)
            .map_err(|e| KbsError::Protocol(format!("unreadable answer: {e}")))?;
        if let Response::Error { error } = r {
            return Err(KbsError::Refused(error));
        }
        Ok(r)
    }
}

/// How a worker reaches the broker: over TCP, or in-process (the demo).
pub trait Transport: Send {
    fn call(&self, req: &Request) -> Result<Response, KbsError>;
}

impl Transport for Client {
    fn call(&self, req: &Request) -> Result<Response, KbsError> {
        self.request(req)
    }
}

impl<R: rand_core::RngCore + rand_core::CryptoRng + Send> Transport
    for std::sync::Arc<crate::Broker<R>>
{
    fn call(&self, req: &Request) -> Result<Response, KbsError> {
        match self.handle(req.clone()) {
            Response::Error { error } => Err(KbsError::Refused(error)),
            r => Ok(r),
        }
    }
}

/// What a worker got from the broker.
pub struct Release {
    pub worker_id: String,
    pub current_epoch: u32,
    pub keys: Vec<(u32, KemSecret)>,
    pub reattest_after_secs: u64,
}

impl std::fmt::Debug for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Release")
            .field("worker_id", &self.worker_id)
            .field("current_epoch", &self.current_epoch)
            .field(
                "epochs",
                &self.keys.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A worker's attestation identity: one ephemeral key for the life of the
/// process, attesting afresh (new challenge, new evidence) on each fetch.
pub struct WorkerAttestation {
    ephemeral: KemKeypair,
    attester: Box<dyn Attester>,
    transport: Box<dyn Transport>,
}

impl std::fmt::Debug for WorkerAttestation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerAttestation")
            .field("worker_id", &self.worker_id())
            .field("tee", &self.attester.tee())
            .finish_non_exhaustive()
    }
}

impl WorkerAttestation {
    pub fn new(
        ephemeral: KemKeypair,
        attester: Box<dyn Attester>,
        transport: Box<dyn Transport>,
    ) -> Self {
        Self {
            ephemeral,
            attester,
            transport,
        }
    }

    pub fn worker_id(&self) -> String {
        worker_id(&self.ephemeral.public.0)
    }

    /// Challenge, evidence, release, unwrap.
    pub fn fetch(&self) -> Result<Release, KbsError> {
        let Response::Challenge {
            epoch,
            fleet_pub,
            random,
        } = self.transport.call(&Request::Challenge)?
        else {
            return Err(KbsError::Protocol("expected a challenge".into()));
        };
        let rand = hex32("random", &random).map_err(KbsError::Protocol)?;
        let fpub = hex32("fleet_pub", &fleet_pub).map_err(KbsError::Protocol)?;
        let nonce = binding::kbs_nonce(&rand, epoch, &fpub);
        let evidence = self
            .attester
            .evidence(binding::report_data(&self.ephemeral.public.0, &nonce))
            .map_err(|e| KbsError::Evidence(e.to_string()))?;
        let r = self.transport.call(&Request::Attest {
            worker_pub: self.ephemeral.public.to_hex(),
            random,
            evidence: EvidenceJson::from_evidence(&evidence),
        })?;
        let Response::Released {
            worker_id,
            current_epoch,
            keys,
            reattest_after_secs,
        } = r
        else {
            return Err(KbsError::Protocol("expected released keys".into()));
        };
        let mut out = Vec::with_capacity(keys.len());
        for k in &keys {
            let w = k.to_wrapped().map_err(KbsError::Protocol)?;
            let secret = unwrap_fleet_key(&w, &self.ephemeral.secret, &nonce)
                .map_err(|e| KbsError::Wrap(e.to_string()))?;
            out.push((k.epoch, secret));
        }
        if !out.iter().any(|(e, _)| *e == current_epoch) {
            return Err(KbsError::Protocol(format!(
                "the broker did not release its current epoch {current_epoch}"
            )));
        }
        Ok(Release {
            worker_id,
            current_epoch,
            keys: out,
            reattest_after_secs,
        })
    }
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
    let refuse = |m: String| Err(KbsError::GatewayRefuses(m));
    let Response::Fleet {
        epoch,
        fleet_pub,
        policy: broker_policy,
        holder,
    } = resp
    else {
        return refuse("the key broker did not answer with a fleet key".into());
    };
    let Some(h) = holder else {
        return refuse(format!(
            "no attested worker holds fleet key epoch {epoch} yet: start a worker (`aorta worker --kbs ...`) first"
        ));
    };
    if h.epoch != *epoch {
        return refuse(format!(
            "the evidence offered is for epoch {}, not the current epoch {epoch}",
            h.epoch
        ));
    }
    let fpub = hex32("fleet_pub", fleet_pub).map_err(KbsError::Protocol)?;
    let wpub = hex32("worker_pub", &h.worker_pub).map_err(KbsError::Protocol)?;
    let rand = hex32("random", &h.random).map_err(KbsError::Protocol)?;
    let nonce = binding::kbs_nonce(&rand, *epoch, &fpub);
    let effective = effective_policy(policy, allow_simulated);
    let a = check_evidence(&h.evidence, &wpub, &nonce, &effective, now).map_err(|e| {
        KbsError::GatewayRefuses(format!(
            "the evidence behind fleet key epoch {epoch} does not satisfy this gateway's policy: {e}"
        ))
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
