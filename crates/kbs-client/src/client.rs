//! Talking to the broker: the worker's side (attest, unwrap) and the
//! gateway's side (obtain the fleet key and check the evidence behind it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use aorta_attest::{binding, unwrap_fleet_key, Attester};
use aorta_envelope::{KemKeypair, KemSecret};
use sha2::{Digest, Sha256};

use crate::proto::{hex32, EvidenceJson, Request, Response, MAX_LINE};
use crate::KbsError;

/// A worker's identity at the broker: the first 8 bytes of
/// SHA-256(ephemeral public key), hex. Stable for the worker process's life.
pub fn worker_id(worker_pub: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(worker_pub)[..8])
}

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
        if let Response::Error { error, retry } = r {
            return Err(KbsError::Refused {
                reason: error,
                retry,
            });
        }
        Ok(r)
    }
}

/// How a worker reaches the broker: over TCP, or in-process (the demo).
pub trait Transport: Send {
    fn call(&self, req: &Request) -> Result<Response, KbsError>;
}

/// A shared transport (the in-process broker of the demo and benchmarks).
impl<T: Transport + Sync + ?Sized> Transport for std::sync::Arc<T> {
    fn call(&self, req: &Request) -> Result<Response, KbsError> {
        (**self).call(req)
    }
}

impl Transport for Client {
    fn call(&self, req: &Request) -> Result<Response, KbsError> {
        self.request(req)
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

    /// The broker's current fleet key epoch (to notice a rotation).
    pub fn broker_epoch(&self) -> Result<u32, KbsError> {
        match self.transport.call(&Request::Fleet)? {
            Response::Fleet { epoch, .. } => Ok(epoch),
            _ => Err(KbsError::Protocol("expected a fleet key".into())),
        }
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
