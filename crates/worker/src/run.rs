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
