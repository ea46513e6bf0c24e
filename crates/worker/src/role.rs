//! The worker role: what runs in the TEE, assembled once. `aorta worker`,
//! the enclave's own binary `aorta-worker`, the demo and the benchmarks all
//! call it; the transport ([`Deployment`]), the key broker's transport
//! (through [`WorkerAttestation`]), the clock and the operator's log are
//! injected.
//!
//! 1. [`Attestation::attest`]: challenge, evidence, release.
//! 2. [`WorkerRole::open`]: one [`Worker`] per owned partition, each
//!    restoring its last commit, each holding its own copy of the released
//!    keys (fleet secrets are not `Clone`).
//! 3. [`WorkerRole::run`] or [`WorkerRole::run_group`]: the partitions on
//!    their own threads until the input is drained, a flag is set, or (in a
//!    group) the member is stopped; re-attesting periodically and as soon as
//!    the broker has rotated; publishing metrics; printing notices at most
//!    20 lines a second.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aorta_envelope::{KemSecret, VerifyingKey};
use aorta_kbs_client::{KbsError, Release, WorkerAttestation};
use aorta_metrics::Exporter;
use aorta_transport::{CommitLog, Consumer, Deployment, PartitionId, TransportError};
use rand_core::{CryptoRng, RngCore};

use crate::metrics::WorkerSnapshots;
use crate::run::{GroupEvent, PartitionOutcome, RunHooks, RunOptions, Until};
use crate::{KeyFetchError, KeySource, Keyring, Worker, WorkerConfig, WorkerError, WorkerKeys};

/// The operating system's CSPRNG (panics only if the OS cannot supply
/// randomness).
pub type SysRng = rand_core::UnwrapErr<rand_core::OsRng>;

pub fn sys_rng() -> SysRng {
    rand_core::UnwrapErr(rand_core::OsRng)
}

/// Unix time in milliseconds from the system clock.
pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A worker on any transport.
pub type AnyWorker = Worker<Box<dyn Consumer + Send>, Box<dyn CommitLog + Send>, SysRng>;

/// Where the role's operator lines go (stderr in the binaries): counters,
/// offsets, pseudonyms and reasons, never samples or names.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// Why the role could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoleError {
    #[error("worker {worker}: no fleet key")]
    NoFleetKey { worker: String, source: KbsError },
    #[error("--partition {partition} is not one of the {partitions} partitions (0..{partitions})")]
    NoSuchPartition { partition: u32, partitions: u32 },
    #[error("opening partition {partition} (is another worker running on it?)")]
    Open {
        partition: u32,
        source: TransportError,
    },
    #[error("joining the worker group: {0}")]
    Group(TransportError),
    #[error(transparent)]
    Worker(#[from] WorkerError),
    #[error("partitions {0:?} stopped with an error (above); their uncommitted input is processed again on restart")]
    Partitions(Vec<u32>),
}

/// A worker's standing with the key broker, shared between the worker
/// (which asks again for an epoch it does not hold) and the run loop
/// (which re-attests periodically).
#[derive(Clone)]
pub struct Attestation {
    inner: Arc<Mutex<WorkerAttestation>>,
    /// When the last attestation succeeded.
    attested: Arc<Mutex<Instant>>,
}

impl std::fmt::Debug for Attestation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attestation").finish_non_exhaustive()
    }
}

impl Attestation {
    /// Attests for the first time.
    pub fn attest(att: WorkerAttestation) -> Result<(Self, Release), RoleError> {
        Self::attest_within(att, Duration::ZERO, &|_| {})
    }

    /// Attests for the first time, asking again for up to `wait` while the
    /// broker cannot be reached or answers "later" (busy, starting); a
    /// refusal (policy, evidence, revocation) ends it at once. `notice`
    /// hears once what it waits for.
    pub fn attest_within(
        att: WorkerAttestation,
        wait: Duration,
        notice: &dyn Fn(&str),
    ) -> Result<(Self, Release), RoleError> {
        let worker = att.worker_id();
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        let mut told = false;
        let release = loop {
            match att.fetch() {
                Ok(r) => break r,
                Err(e) if e.retryable() && started.elapsed() + pause < wait => {
                    if !told {
                        told = true;
                        notice(&format!(
                            "worker {worker}: waiting up to {} s for the key broker: {e}",
                            wait.as_secs()
                        ));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(source) => return Err(RoleError::NoFleetKey { worker, source }),
            }
        };
        Ok((
            Self {
                inner: Arc::new(Mutex::new(att)),
                attested: Arc::new(Mutex::new(Instant::now())),
            },
            release,
        ))
    }

    /// Attests again (fresh challenge, fresh evidence).
    pub fn fetch(&self) -> Result<Release, KbsError> {
        let r = self.inner.lock().map_err(|_| KbsError::Poisoned)?.fetch()?;
        if let Ok(mut t) = self.attested.lock() {
            *t = Instant::now();
        }
        Ok(r)
    }

    /// How long ago the last attestation succeeded.
    pub fn age(&self) -> Duration {
        self.attested
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or(Duration::MAX)
    }

    /// The broker's current fleet key epoch.
    pub fn broker_epoch(&self) -> Result<u32, KbsError> {
        self.inner
            .lock()
            .map_err(|_| KbsError::Poisoned)?
            .broker_epoch()
    }
}

impl KeySource for Attestation {
    fn fetch(&mut self) -> Result<Vec<(u32, KemSecret)>, KeyFetchError> {
        Attestation::fetch(self)
            .map(|r| r.keys)
            .map_err(KeyFetchError::from)
    }
}

/// How the role runs.
pub struct WorkerRole {
    pub deployment: Arc<dyn Deployment>,
    /// The controller's key, which signs enrolments.
    pub controller: VerifyingKey,
    /// Partitions in the deployment (as the gateways were given).
    pub partitions: u32,
    /// The partitions this process owns (empty: all).
    pub owned: Vec<u32>,
    /// Worker settings (partition is set per worker).
    pub config: WorkerConfig,
    pub run: RunOptions,
    /// Attest again at least this often while following.
    pub reattest_every: Option<Duration>,
    pub metrics: Option<Arc<Exporter>>,
    /// Input records handled, for a caller's progress display.
    pub processed: Option<Arc<AtomicU64>>,
    pub log: Log,
    /// Unix milliseconds (result session ids, checkpoint timing).
    pub clock: fn() -> u64,
}

impl std::fmt::Debug for WorkerRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerRole")
            .field("deployment", &self.deployment.describe())
            .field("partitions", &self.partitions)
            .field("owned", &self.owned)
            .finish_non_exhaustive()
    }
}

impl WorkerRole {
    /// A role over `deployment` with defaults: every partition, stderr-free
    /// (no log), the system clock.
    pub fn new(deployment: Arc<dyn Deployment>, controller: VerifyingKey, partitions: u32) -> Self {
        Self {
            deployment,
            controller,
            partitions,
            owned: Vec::new(),
            config: WorkerConfig {
                partitions,
                ..WorkerConfig::default()
            },
            run: RunOptions::default(),
            reattest_every: None,
            metrics: None,
            processed: None,
            log: Arc::new(|_| {}),
            clock: unix_now_ms,
        }
    }

    /// The partitions this process owns, checked.
    pub fn owned(&self) -> Result<Vec<u32>, RoleError> {
        if self.owned.is_empty() {
            return Ok((0..self.partitions).collect());
        }
        let mut v = self.owned.clone();
        v.sort_unstable();
        v.dedup();
        match v.iter().find(|p| **p >= self.partitions) {
            Some(p) => Err(RoleError::NoSuchPartition {
                partition: *p,
                partitions: self.partitions,
            }),
            None => Ok(v),
        }
    }

    /// A worker on partition `p` holding `keys`, restoring its last commit;
    /// it asks `attestation` for epochs it does not hold (benchmarks that
    /// hold the key themselves pass `None`).
    pub fn open_one(
        &self,
        p: u32,
        owner: &str,
        keys: Keyring,
        attestation: Option<&Attestation>,
    ) -> Result<AnyWorker, RoleError> {
        let open = |source| RoleError::Open {
            partition: p,
            source,
        };
        let d = &self.deployment;
        let input = d.worker_input(PartitionId(p)).map_err(open)?;
        let control = d.control_input().map_err(open)?;
        let output = d.commit_log(PartitionId(p), owner).map_err(open)?;
        Ok(Worker::new(
            WorkerConfig {
                partition: p,
                partitions: self.partitions,
                ..self.config.clone()
            },
            input,
            control,
            output,
            WorkerKeys {
                fleet: keys,
                controller: self.controller,
                source: attestation.map(|a| Box::new(a.clone()) as Box<dyn KeySource>),
            },
            sys_rng(),
            Box::new(self.clock),
        )?)
    }

    /// One worker per owned partition. The first takes `release`'s keys;
    /// the others attest for their own copies.
    pub fn open(
        &self,
        attestation: &Attestation,
        release: Release,
    ) -> Result<Vec<AnyWorker>, RoleError> {
        let mut keys = Some(release.keys);
        let mut workers = Vec::new();
        for p in self.owned()? {
            let k = match keys.take() {
                Some(k) => k,
                None => {
                    attestation
                        .fetch()
                        .map_err(|source| RoleError::NoFleetKey {
                            worker: release.worker_id.clone(),
                            source,
                        })?
                        .keys
                }
            };
            workers.push(self.open_one(
                p,
                &format!("{}-p{p}", release.worker_id),
                Keyring::new(k),
                Some(attestation),
            )?);
        }
        Ok(workers)
    }

    fn hooks(&self, p: u32, attestation: Option<&Attestation>, shared: &Shared) -> Hooks {
        Hooks {
            partition: p,
            notices: NoticePrinter::new(self.log.clone()),
            reattest: self
                .reattest_every
                .zip(attestation)
                .map(|(every, a)| (a.clone(), Arc::clone(&shared.reattesting), every)),
            metrics: self.metrics.clone(),
            snapshots: Arc::clone(&shared.snapshots),
            processed: self.processed.clone(),
            seen: 0,
            log: self.log.clone(),
        }
    }

    /// Runs `workers` on their own threads until `until` (re-attesting to
    /// `attestation` if [`WorkerRole::reattest_every`] is set), then
    /// publishes the last metrics. Fails if any partition stopped with an
    /// error (each is logged).
    pub fn run(
        &self,
        workers: &mut [AnyWorker],
        until: Until<'_>,
        attestation: Option<&Attestation>,
    ) -> Result<(), RoleError> {
        let shared = Shared::default();
        let outcomes: Vec<PartitionOutcome> =
            crate::run::run_partitions(workers, until, &self.run, |p| {
                self.hooks(p, attestation, &shared)
            });
        if let Some(m) = &self.metrics {
            for w in workers.iter() {
                shared.snapshots.put(w);
            }
            shared.snapshots.publish(m);
        }
        let mut failed = Vec::new();
        for o in outcomes {
            if let Err(e) = o.result {
                (self.log)(&format!("worker: partition {}: {e}", o.partition));
                failed.push(o.partition);
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(RoleError::Partitions(failed))
        }
    }

    /// Joins the worker group as `me` (leases of `lease`), runs the
    /// partitions the group assigns until `stop` is set, and returns the
    /// workers that ran last.
    pub fn run_group(
        &self,
        me: &str,
        lease: Duration,
        attestation: &Attestation,
        release: Release,
        stop: &AtomicBool,
    ) -> Result<Vec<AnyWorker>, RoleError> {
        let mut group = self
            .deployment
            .membership(me, lease, self.partitions)
            .map_err(RoleError::Group)?;
        let shared = Shared::default();
        let mut keys = Some(release.keys);
        let log = self.log.clone();
        Ok(crate::run::run_group(
            &mut group,
            |p| {
                let k = match keys.take() {
                    Some(k) => k,
                    None => KeySource::fetch(&mut attestation.clone())
                        .map_err(|e| WorkerError::key_fetch(0, e))?,
                };
                self.open_one(p, me, Keyring::new(k), Some(attestation))
                    .map_err(|e| WorkerError::Checkpoint(e.to_string()))
            },
            stop,
            &self.run,
            |p| self.hooks(p, Some(attestation), &shared),
            |e| log(&group_event_line(&e)),
        ))
    }
}

/// What the partitions of one process share: one re-attestation per
/// period for all of them, one set of metrics.
#[derive(Default)]
struct Shared {
    /// Held by the partition that re-attests for the process.
    reattesting: Arc<Mutex<()>>,
    snapshots: Arc<WorkerSnapshots>,
}

/// One line per group event (operators and tests read them).
pub fn group_event_line(e: &GroupEvent) -> String {
    use GroupEvent as G;
    match e {
        G::Acquired { partition } => format!("worker: acquired partition {partition}"),
        G::Released { partition } => {
            format!("worker: released partition {partition} (rebalanced to another member)")
        }
        G::Lost { partition } => format!(
            "worker: lost the lease of partition {partition} (paused or cut off too long); stopping it"
        ),
        G::Ended { partition, result } => match result {
            Ok(s) => format!(
                "worker: partition {partition} stopped after {} records, committed",
                s.records
            ),
            Err(e) => format!("worker: partition {partition} stopped: {e}"),
        },
        G::Unreachable { reason } => format!("worker: group state unreachable: {reason}"),
        G::OpenFailed { partition, reason } => {
            format!("worker: could not open partition {partition}: {reason}")
        }
    }
}

/// The operator's summary of a worker: counters and reasons only.
pub fn report_lines<C, L, R>(w: &Worker<C, L, R>, name_partition: bool) -> Vec<String>
where
    C: Consumer,
    L: CommitLog,
    R: RngCore + CryptoRng,
{
    let who = if name_partition {
        format!("worker partition {}", w.partition())
    } else {
        "worker".to_string()
    };
    let r = w.report();
    let mut out = vec![format!(
        "{who}: {} records, {} accepted, {} samples, {} windows, {} result envelopes, {} corrupt",
        r.counters.records,
        r.counters.envelopes_accepted,
        r.counters.samples,
        r.counters.windows,
        r.counters.result_envelopes,
        r.counters.corrupt_records
    )];
    for (reason, n) in &r.counters.rejected {
        out.push(format!("{who}: rejected {n} envelopes: {}", reason.name()));
    }
    out.push(format!(
        "{who}: {} missing envelopes (gaps), {} reordered, {} truncated sessions, {} late samples, {} out-of-range samples, {} lost ECG/PPG samples, {} noisy ECG/PPG 10-s segments",
        r.missing_envelopes, r.reordered_envelopes, r.truncated_sessions, r.late_samples, r.out_of_range_samples, r.lost_wave_samples, r.noisy_segments
    ));
    if r.counters.input_discontinuities + r.counters.control_discontinuities > 0 {
        out.push(format!(
            "{who}: input log discontinuities {}, control log discontinuities {} (logs read again from the start)",
            r.counters.input_discontinuities, r.counters.control_discontinuities
        ));
    }
    if r.rolled_back_enrolments > 0 {
        out.push(format!(
            "{who}: {} streams' newest enrolment is missing from the control log (rolled back); their envelopes are rejected",
            r.rolled_back_enrolments
        ));
    }
    out
}

/// Re-attestation shared by a process's partitions: the attestation, the
/// lock its re-attesting partition holds, and how often.
type Reattest = (Attestation, Arc<Mutex<()>>, Duration);

/// The role's part of the run loop: notices, progress, metrics and
/// re-attestation.
struct Hooks {
    partition: u32,
    notices: NoticePrinter,
    reattest: Option<Reattest>,
    metrics: Option<Arc<Exporter>>,
    snapshots: Arc<WorkerSnapshots>,
    processed: Option<Arc<AtomicU64>>,
    seen: u64,
    log: Log,
}

impl<C, L, R> RunHooks<Worker<C, L, R>> for Hooks
where
    C: Consumer,
    L: CommitLog,
    R: RngCore + CryptoRng,
{
    fn progress(&mut self, w: &mut Worker<C, L, R>, records: u64) {
        self.notices.print(w);
        if let Some(p) = &self.processed {
            p.fetch_add(records.saturating_sub(self.seen), Ordering::Relaxed);
            self.seen = records;
        }
    }

    fn periodic(&mut self, w: &mut Worker<C, L, R>) -> Result<(), WorkerError> {
        if let Some(m) = &self.metrics {
            self.snapshots.put(w);
            self.snapshots.publish(m);
        }
        let Some((att, reattesting, every)) = &self.reattest else {
            return Ok(());
        };
        // One partition's thread re-attests for the process; the others
        // fetch a rotated epoch's key when its first envelope comes.
        let Ok(_one) = reattesting.try_lock() else {
            return Ok(());
        };
        let rotated = att
            .broker_epoch()
            .is_ok_and(|epoch| !w.epochs().contains(&epoch));
        if rotated || att.age() >= *every {
            match att.fetch() {
                Ok(r) => {
                    w.add_keys(r.keys);
                }
                Err(e) => (self.log)(&format!(
                    "worker: partition {}: attesting again failed: {e}",
                    self.partition
                )),
            }
        }
        Ok(())
    }
}

/// Prints the worker's notices (rejections, corruption, log
/// discontinuities) as they happen, at most 20 lines a second; the rest are
/// counted and the count printed. Offsets, pseudonyms and reasons only.
struct NoticePrinter {
    log: Log,
    window: Option<Instant>,
    printed: u32,
    held_back: u64,
}

impl Drop for NoticePrinter {
    fn drop(&mut self) {
        self.flush();
    }
}

impl NoticePrinter {
    fn new(log: Log) -> Self {
        Self {
            log,
            window: None,
            printed: 0,
            held_back: 0,
        }
    }

    fn print<C, L, R>(&mut self, w: &mut Worker<C, L, R>)
    where
        C: Consumer,
        L: CommitLog,
        R: RngCore + CryptoRng,
    {
        let (notices, dropped) = w.take_notices();
        self.held_back += dropped;
        for n in notices {
            if self
                .window
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
            {
                self.flush();
                self.window = Some(Instant::now());
                self.printed = 0;
            }
            if self.printed < 20 {
                (self.log)(&format!("worker: {n}"));
                self.printed += 1;
            } else {
                self.held_back += 1;
            }
        }
    }

    fn flush(&mut self) {
        if self.held_back > 0 {
            (self.log)(&format!(
                "worker: {} more notices not printed singly (see the totals)",
                self.held_back
            ));
            self.held_back = 0;
        }
    }
}
