//! The broker's decisions, independent of the network: [`Broker::handle`]
//! answers one request. Every release and refusal is written to the audit
//! log before the answer leaves.

use std::collections::HashMap;
use std::sync::Mutex;

use aorta_attest::binding;
use aorta_envelope::KemPublic;
pub use aorta_kbs_client::verify::{check_evidence, effective_policy, Accepted, EvidenceRefused};
use rand_core::{CryptoRng, RngCore};

use crate::audit::{AuditLog, Event};
use crate::proto::{hex32, EvidenceJson, Holder, Request, Response, Retry, WrappedJson};
use crate::store::{worker_id, Store};
use crate::KbsError;

/// How long a challenge may be answered.
pub const CHALLENGE_TTL_SECS: u64 = 120;
/// Outstanding challenges kept at most (oldest dropped first).
pub const MAX_CHALLENGES: usize = 10_000;
/// Refusals recorded one by one in a burst; past it, refusals are counted
/// and the count goes into the next refusal record.
pub const REFUSAL_BURST: f64 = 20.0;
/// Refusals recorded one by one per second, sustained.
pub const REFUSALS_PER_SEC: f64 = 5.0;

/// Token bucket for refusal records.
struct RefusalLimiter {
    tokens: f64,
    last: std::time::Instant,
    suppressed: u64,
}

impl RefusalLimiter {
    fn new() -> Self {
        Self {
            tokens: REFUSAL_BURST,
            last: std::time::Instant::now(),
            suppressed: 0,
        }
    }

    /// `Some(suppressed since the last record)` when this refusal is to be
    /// recorded; `None` when it is only counted.
    fn admit(&mut self) -> Option<u64> {
        let now = std::time::Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * REFUSALS_PER_SEC).min(REFUSAL_BURST);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

struct Challenge {
    epoch: u32,
    fleet_pub: [u8; 32],
    issued: u64,
}

/// The key broker.
pub struct Broker<R> {
    store: Store,
    audit: AuditLog,
    allow_simulated: bool,
    challenges: Mutex<HashMap<[u8; 32], Challenge>>,
    refusals: Mutex<RefusalLimiter>,
    /// Keys released and requests refused so far (operations metrics).
    pub released: std::sync::atomic::AtomicU64,
    pub refused: std::sync::atomic::AtomicU64,
    rng: Mutex<R>,
    now: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl<R> std::fmt::Debug for Broker<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("dir", &self.store.dir())
            .field("allow_simulated", &self.allow_simulated)
            .finish_non_exhaustive()
    }
}

impl<R: RngCore + CryptoRng> Broker<R> {
    /// A broker over `store`. Fails when the policy does not verify.
    pub fn new(
        store: Store,
        allow_simulated: bool,
        rng: R,
        now: Box<dyn Fn() -> u64 + Send + Sync>,
    ) -> Result<Self, KbsError> {
        let audit = AuditLog::new(store.dir().join("audit.log"));
        let b = Self {
            store,
            audit,
            allow_simulated,
            challenges: Mutex::new(HashMap::new()),
            refusals: Mutex::new(RefusalLimiter::new()),
            released: Default::default(),
            refused: Default::default(),
            rng: Mutex::new(rng),
            now,
        };
        let policy = b.store.policy()?;
        b.audit.append(
            Event {
                event: "start".into(),
                epochs: b.store.active()?,
                policy: Some(policy.short_hash()),
                reason: b
                    .allow_simulated
                    .then(|| "--allow-simulated: simulated TEE evidence accepted".to_string()),
                ..Event::default()
            },
            (b.now)(),
        )?;
        Ok(b)
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Answers one request. Never panics on any input.
    pub fn handle(&self, req: Request) -> Response {
        let r = match req {
            Request::Challenge => self.challenge(),
            Request::Attest {
                worker_pub,
                random,
                evidence,
            } => self.attest(&worker_pub, &random, &evidence),
            Request::Fleet => self.fleet(),
        };
        r.unwrap_or_else(|e| Response::Error {
            error: crate::audit::sanitize(&e.to_string(), crate::audit::MAX_REASON),
            retry: e.retry(),
        })
    }

    /// Refusals counted but not recorded one by one since the last refusal
    /// record (the rate limit's backlog).
    pub fn suppressed_refusals(&self) -> u64 {
        self.refusals.lock().map_or(0, |r| r.suppressed)
    }

    fn challenge(&self) -> Result<Response, KbsError> {
        let epoch = self.store.current()?;
        let fleet_pub = self.store.public(epoch)?.0;
        let mut random = [0u8; 32];
        self.rng
            .lock()
            .map_err(|_| KbsError::Poisoned)?
            .fill_bytes(&mut random);
        let now = (self.now)();
        let mut ch = self.challenges.lock().map_err(|_| KbsError::Poisoned)?;
        ch.retain(|_, c| now.saturating_sub(c.issued) <= CHALLENGE_TTL_SECS);
        if ch.len() >= MAX_CHALLENGES {
            if let Some(oldest) = ch.iter().min_by_key(|(_, c)| c.issued).map(|(k, _)| *k) {
                ch.remove(&oldest);
            }
        }
        ch.insert(
            random,
            Challenge {
                epoch,
                fleet_pub,
                issued: now,
            },
        );
        Ok(Response::Challenge {
            epoch,
            fleet_pub: hex::encode(fleet_pub),
            random: hex::encode(random),
        })
    }

    fn refuse(
        &self,
        worker: Option<String>,
        tee: Option<String>,
        reason: String,
        retry: Retry,
    ) -> Result<Response, KbsError> {
        self.refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let reason = crate::audit::sanitize(&reason, crate::audit::MAX_REASON);
        let admitted = self
            .refusals
            .lock()
            .map_err(|_| KbsError::Poisoned)?
            .admit();
        if let Some(suppressed) = admitted {
            let policy = self.store.policy().ok().map(|p| p.short_hash());
            self.audit.append(
                Event {
                    event: "refuse".into(),
                    worker,
                    tee,
                    reason: Some(reason.clone()),
                    policy,
                    suppressed: (suppressed > 0).then_some(suppressed),
                    ..Event::default()
                },
                (self.now)(),
            )?;
        }
        Ok(Response::Error {
            error: format!("key release refused: {reason}"),
            retry,
        })
    }

    fn attest(
        &self,
        worker_pub: &str,
        random: &str,
        evidence: &EvidenceJson,
    ) -> Result<Response, KbsError> {
        let now = (self.now)();
        let tee = Some(evidence.tee.clone());
        let (wpub, rand) = match (hex32("worker_pub", worker_pub), hex32("random", random)) {
            (Ok(w), Ok(r)) => (w, r),
            (Err(e), _) | (_, Err(e)) => return self.refuse(None, tee, e, Retry::Never),
        };
        let id = worker_id(&wpub);
        let challenge = self
            .challenges
            .lock()
            .map_err(|_| KbsError::Poisoned)?
            .remove(&rand)
            .filter(|c| now.saturating_sub(c.issued) <= CHALLENGE_TTL_SECS);
        let Some(ch) = challenge else {
            // A fresh challenge answers this.
            return self.refuse(
                Some(id),
                tee,
                "unknown, expired or already used challenge".into(),
                Retry::Later,
            );
        };
        if self.store.revoked_workers()?.contains(&id) {
            return self.refuse(
                Some(id),
                tee,
                "this worker was revoked".into(),
                Retry::Never,
            );
        }
        let signed = self.store.policy()?;
        let policy = effective_policy(&signed, self.allow_simulated);
        let nonce = binding::kbs_nonce(&rand, ch.epoch, &ch.fleet_pub);
        let accepted = match check_evidence(evidence, &wpub, &nonce, &policy, now) {
            Ok(a) => a,
            Err(e) => return self.refuse(Some(id), tee, e.reason, e.retry),
        };
        let epochs = self.store.active()?;
        let mut keys = Vec::with_capacity(epochs.len());
        {
            let mut rng = self.rng.lock().map_err(|_| KbsError::Poisoned)?;
            for e in &epochs {
                let secret = self.store.secret(*e)?;
                let w =
                    aorta_attest::wrap_fleet_key(&secret, *e, &KemPublic(wpub), &nonce, &mut *rng)
                        .map_err(|e| KbsError::Wrap(e.to_string()))?;
                keys.push(WrappedJson::from_wrapped(&w));
            }
        }
        let holder = Holder {
            worker_pub: hex::encode(wpub),
            random: hex::encode(rand),
            epoch: ch.epoch,
            evidence: evidence.clone(),
            attested_at: now,
        };
        let json = serde_json::to_vec(&holder).map_err(|e| KbsError::Wrap(e.to_string()))?;
        self.store.save_holder(ch.epoch, &json)?;
        self.audit.append(
            Event {
                event: "release".into(),
                worker: Some(id.clone()),
                tee: Some(accepted.tee),
                measurement: Some(accepted.measurement),
                epochs: epochs.clone(),
                policy: Some(signed.short_hash()),
                reason: accepted
                    .simulated
                    .then(|| "SIMULATED TEE accepted (--allow-simulated)".to_string()),
                suppressed: None,
            },
            now,
        )?;
        self.released
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let max_age = policy.max_age_secs;
        Ok(Response::Released {
            worker_id: id,
            current_epoch: self.store.current()?,
            keys,
            reattest_after_secs: if max_age == 0 {
                3600
            } else {
                (max_age / 2).max(1)
            },
        })
    }

    fn fleet(&self) -> Result<Response, KbsError> {
        let epoch = self.store.current()?;
        let holder = match self.store.holder(epoch)? {
            Some(b) => serde_json::from_slice(&b).ok(),
            None => None,
        };
        Ok(Response::Fleet {
            epoch,
            fleet_pub: self.store.public(epoch)?.to_hex(),
            policy: self.store.policy()?.short_hash(),
            holder,
        })
    }
}

/// The in-process broker (demo, benchmarks) as a worker's transport.
impl<R: RngCore + CryptoRng + Send> aorta_kbs_client::Transport for Broker<R> {
    fn call(&self, req: &Request) -> Result<Response, KbsError> {
        match self.handle(req.clone()) {
            Response::Error { error, retry } => Err(KbsError::Refused {
                reason: error,
                retry,
            }),
            r => Ok(r),
        }
    }
}
