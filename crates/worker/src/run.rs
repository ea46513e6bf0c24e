//! The worker's run loop, generic over the transport traits: read input as
//! it arrives, commit (make results visible) soon after catching up, and
//! stop when told. [`run_partitions`] runs one [`Worker`] per owned
//! partition, each on its own thread: partitions share nothing but the
//! process, so they scale with cores.
//!
//! What the loop does not know: where bytes come from (spool, NATS), how
//! keys are refreshed or metrics published. Those plug in as [`RunHooks`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aorta_transport::{CommitLog, Consumer};
use rand_core::{CryptoRng, RngCore};

use crate::{Worker, WorkerError};

/// When [`run`] returns.
#[derive(Debug, Clone, Copy)]
pub enum Until<'a> {
    /// When the input is exhausted (`Idle`) for the first time.
    Idle,
    /// When the producer has set the flag and everything it appended
    /// before setting it has been read (the flag is set after the last
    /// durable append).
    InputDone(&'a AtomicBool),
    /// When the flag is set (shutdown): whatever was read is committed.
    Stopped(&'a AtomicBool),
}

/// Timing of the follow loop.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Commit within this long of catching up with the input.
    pub commit_within: Duration,
    /// Sleep this long when the input is idle (transports that block on a
    /// read, such as NATS, wait inside `poll` instead and may set zero).
    pub idle_sleep: Duration,
    /// Call [`RunHooks::periodic`] this often.
    pub periodic: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            commit_within: Duration::from_secs(1),
            idle_sleep: Duration::from_millis(20),
            periodic: Duration::from_secs(2),
        }
    }
}

/// The caller's part of the loop. Every method has a do-nothing default.
pub trait RunHooks<W> {
    /// Every 256 input records and when caught up: print notices, count.
    fn progress(&mut self, _worker: &mut W, _records: u64) {}
    /// Every [`RunOptions::periodic`]: re-attest, fetch rotated keys,
    /// publish metrics. An error ends the run without a further commit:
    /// what was not committed is processed again on restart.
    fn periodic(&mut self, _worker: &mut W) -> Result<(), WorkerError> {
        Ok(())
    }
}

/// Hooks that do nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;
impl<W> RunHooks<W> for NoHooks {}

/// What a run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    /// Input records handled by this run.
    pub records: u64,
    /// Commits made by this run's loop (the worker may commit more on its
    /// own cadence).
    pub commits: u64,
}

/// Runs `w` until `until`, committing at the end. Transport and key
/// errors end the run with the error; nothing read after the last commit
/// is visible, so a restart processes it again with identical results.
pub fn run<C, L, R, H>(
    w: &mut Worker<C, L, R>,
    until: Until<'_>,
    opts: &RunOptions,
    hooks: &mut H,
) -> Result<RunSummary, WorkerError>
where
    C: Consumer,
    L: CommitLog,
    R: RngCore + CryptoRng,
    H: RunHooks<Worker<C, L, R>> + ?Sized,
{
    let mut sum = RunSummary::default();
    let mut last_commit = Instant::now();
    let mut last_periodic = Instant::now();
    loop {
        // Read the flag before draining: everything appended before it was
        // set is then seen by this drain.
        let finishing = match until {
            Until::Idle => true,
            Until::InputDone(f) | Until::Stopped(f) => f.load(Ordering::Acquire),
        };
        if finishing {
            w.poll_control()?;
        }
        let mut idle = true;
        while w.step()? {
            idle = false;
            sum.records += 1;
            if sum.records.is_multiple_of(256) {
                hooks.progress(w, sum.records);
            }
            if let Until::Stopped(f) = until {
                if f.load(Ordering::Acquire) {
                    break;
                }
            }
        }
        hooks.progress(w, sum.records);
        if finishing {
            w.commit()?;
            sum.commits += 1;
            return Ok(sum);
        }
        if w.uncommitted() > 0 && last_commit.elapsed() >= opts.commit_within {
            w.commit()?;
            sum.commits += 1;
            last_commit = Instant::now();
        }
        if last_periodic.elapsed() >= opts.periodic {
            last_periodic = Instant::now();
            hooks.periodic(w)?;
        }
        if idle {
            w.poll_control()?;
            if !opts.idle_sleep.is_zero() {
                std::thread::sleep(opts.idle_sleep);
            }
        }
    }
}

/// One partition's outcome in [`run_partitions`].
#[derive(Debug)]
pub struct PartitionOutcome {
    pub partition: u32,
    pub result: Result<RunSummary, WorkerError>,
}

/// Runs every worker (one per owned partition) on its own thread with
/// hooks made by `hooks(partition)`, until `until`; returns each
/// partition's outcome. One partition's failure ends only that partition.
/// A panic in a partition's thread is reported as that partition's
/// [`WorkerError::Panicked`].
pub fn run_partitions<C, L, R, H>(
    workers: &mut [Worker<C, L, R>],
    until: Until<'_>,
    opts: &RunOptions,
    hooks: impl Fn(u32) -> H + Sync,
) -> Vec<PartitionOutcome>
where
    C: Consumer + Send,
    L: CommitLog + Send,
    R: RngCore + CryptoRng + Send,
    H: RunHooks<Worker<C, L, R>>,
{
    std::thread::scope(|s| {
        let handles: Vec<_> = workers
            .iter_mut()
            .map(|w| {
                let partition = w.partition();
                let hooks = &hooks;
                let h = std::thread::Builder::new()
                    .name(format!("partition-{partition}"))
                    .spawn_scoped(s, move || {
                        let mut hk = hooks(partition);
                        run(w, until, opts, &mut hk)
                    });
                (partition, h)
            })
            .collect();
        handles
            .into_iter()
            .map(|(partition, h)| PartitionOutcome {
                partition,
                result: match h {
                    Ok(h) => h.join().unwrap_or(Err(WorkerError::Panicked { partition })),
                    Err(e) => Err(WorkerError::Thread {
                        partition,
                        reason: e.to_string(),
                    }),
                },
            })
            .collect()
    })
}

/// How a worker group shares partitions (the transport's leases).
pub use aorta_transport::Membership;

/// What happened in a group, for the operator.
#[derive(Debug)]
pub enum GroupEvent {
    /// This member took partition `partition` and restored its checkpoint.
    Acquired { partition: u32 },
    /// Handed over to another member (rebalance), after a final commit.
    Released { partition: u32 },
    /// The lease was found lost (this member was paused or cut off): the
    /// partition's thread is stopped; its commit is fenced by the transport.
    Lost { partition: u32 },
    /// A partition's thread ended.
    Ended {
        partition: u32,
        result: Result<RunSummary, WorkerError>,
    },
    /// The shared view could not be read or written (retried next period).
    Unreachable { reason: String },
    /// Acquired, but the worker could not be opened (the lease is released).
    OpenFailed { partition: u32, reason: String },
}

struct Running<W> {
    stop: std::sync::Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(W, Result<RunSummary, WorkerError>)>,
}

/// Runs the partitions `m` assigns to this member, each on its own thread,
/// taking partitions over as members die and handing them on as members
/// join, until `stop` is set; then commits, releases and returns the
/// workers that ran last.
pub fn run_group<C, L, R, H, M>(
    m: &mut M,
    mut open: impl FnMut(u32) -> Result<Worker<C, L, R>, WorkerError>,
    stop: &AtomicBool,
    opts: &RunOptions,
    hooks: impl Fn(u32) -> H,
    mut on_event: impl FnMut(GroupEvent),
) -> Vec<Worker<C, L, R>>
where
    C: Consumer + Send + 'static,
    L: CommitLog + Send + 'static,
    R: RngCore + CryptoRng + Send + 'static,
    H: RunHooks<Worker<C, L, R>> + Send + 'static,
    M: Membership,
{
    use std::collections::BTreeMap;
    let mut running: BTreeMap<u32, Running<Worker<C, L, R>>> = BTreeMap::new();
    let mut done: BTreeMap<u32, Worker<C, L, R>> = BTreeMap::new();
    let join = |p: u32,
                r: Running<Worker<C, L, R>>,
                done: &mut BTreeMap<u32, Worker<C, L, R>>,
                on_event: &mut dyn FnMut(GroupEvent)|
     -> bool {
        match r.handle.join() {
            Ok((w, result)) => {
                let fenced = matches!(
                    result,
                    Err(WorkerError::Transport(
                        aorta_transport::TransportError::Fenced { .. }
                    ))
                );
                done.insert(p, w);
                on_event(GroupEvent::Ended {
                    partition: p,
                    result,
                });
                fenced
            }
            Err(_) => {
                on_event(GroupEvent::Ended {
                    partition: p,
                    result: Err(WorkerError::Panicked { partition: p }),
                });
                false
            }
        }
    };
    loop {
        let tick = Instant::now();
        if stop.load(Ordering::Acquire) {
            for r in running.values() {
                r.stop.store(true, Ordering::Release);
            }
            for (p, r) in std::mem::take(&mut running) {
                if join(p, r, &mut done, &mut on_event) {
                    m.forget(p);
                } else {
                    m.release(p);
                }
            }
            m.leave();
            return done.into_values().collect();
        }
        if let Err(e) = m.heartbeat() {
            on_event(GroupEvent::Unreachable {
                reason: e.to_string(),
            });
        }
        match m.renew() {
            Ok(lost) => {
                for p in lost {
                    on_event(GroupEvent::Lost { partition: p });
                    if let Some(r) = running.remove(&p) {
                        r.stop.store(true, Ordering::Release);
                        join(p, r, &mut done, &mut on_event);
                    }
                }
            }
            Err(e) => on_event(GroupEvent::Unreachable {
                reason: e.to_string(),
            }),
        }
        // Threads that ended on their own (fenced, or failed).
        let ended: Vec<u32> = running
            .iter()
            .filter(|(_, r)| r.handle.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for p in ended {
            if let Some(r) = running.remove(&p) {
                if join(p, r, &mut done, &mut on_event) {
                    m.forget(p);
                } else {
                    m.release(p);
                }
            }
        }
        match m.wanted() {
            Ok(wanted) => {
                let surplus: Vec<u32> = running
                    .keys()
                    .filter(|p| !wanted.contains(p))
                    .copied()
                    .collect();
                for p in surplus {
                    if let Some(r) = running.remove(&p) {
                        r.stop.store(true, Ordering::Release);
                        join(p, r, &mut done, &mut on_event);
                        m.release(p);
                        on_event(GroupEvent::Released { partition: p });
                    }
                }
                for p in wanted {
                    if running.contains_key(&p) {
                        continue;
                    }
                    match m.try_acquire(p) {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(e) => {
                            on_event(GroupEvent::Unreachable {
                                reason: e.to_string(),
                            });
                            continue;
                        }
                    }
                    done.remove(&p);
                    let mut w = match open(p) {
                        Ok(w) => w,
                        Err(e) => {
                            m.release(p);
                            on_event(GroupEvent::OpenFailed {
                                partition: p,
                                reason: e.to_string(),
                            });
                            continue;
                        }
                    };
                    on_event(GroupEvent::Acquired { partition: p });
                    let flag = std::sync::Arc::new(AtomicBool::new(false));
                    let (f, o, mut hk) = (flag.clone(), *opts, hooks(p));
                    let spawned = std::thread::Builder::new()
                        .name(format!("partition-{p}"))
                        .spawn(move || {
                            let r = run(&mut w, Until::Stopped(&f), &o, &mut hk);
                            (w, r)
                        });
                    match spawned {
                        Ok(handle) => {
                            running.insert(p, Running { stop: flag, handle });
                        }
                        Err(e) => {
                            m.release(p);
                            on_event(GroupEvent::OpenFailed {
                                partition: p,
                                reason: e.to_string(),
                            });
                        }
                    }
                }
            }
            Err(e) => on_event(GroupEvent::Unreachable {
                reason: e.to_string(),
            }),
        }
        let period = m.period();
        while tick.elapsed() < period && !stop.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(20).min(period));
        }
    }
}
