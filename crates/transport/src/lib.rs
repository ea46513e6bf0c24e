//! The seam between Aorta's logic and whatever moves ciphertext around.
//!
//! Everything that crosses a transport is already an encrypted envelope or a
//! sealed checkpoint: transports are untrusted and never see plaintext.
//!
//! * [`Producer`]: durable append. `Ok` means acknowledged: the records
//!   survive a crash of any process from then on.
//! * [`Consumer`]: ordered reading of one partition from an offset, with
//!   corruption surfaced as an event rather than an error, so one bad record
//!   never stops a worker.
//! * [`CommitLog`]: the worker's output partition. Results are appended, then
//!   a commit record carrying the sealed checkpoint (which names the input
//!   offsets) makes them visible atomically. On restart the log is cut back to
//!   its last commit and the worker resumes from the checkpoint; processing is
//!   deterministic, so the output after recovery equals a fault-free run.
//!
//! The embedded spool (`aorta-spool`) implements these on a local directory.
//! A NATS JetStream implementation maps partitions to subjects of a stream,
//! offsets to stream sequence numbers, and commits to a KV entry written with
//! an expected-revision check.

#![forbid(unsafe_code)]

/// A position in a partition. Opaque to the worker except for ordering and
/// storage in checkpoints.
pub type Offset = u64;

/// Identifies one partition of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId(pub u32);

/// What a consumer can hand back.
#[derive(Debug, PartialEq, Eq)]
pub enum Polled<'a> {
    /// A record and the offset after it.
    Record {
        offset: Offset,
        next: Offset,
        payload: &'a [u8],
    },
    /// Bytes that are not a valid record were skipped. The consumer has
    /// already resynchronised at `next`.
    Corrupt {
        offset: Offset,
        next: Offset,
        reason: CorruptReason,
    },
    /// The log no longer holds what this consumer read: it shrank, was
    /// replaced, deleted or rewritten under it (an attack, or an operator's
    /// mistake). The consumer now reads the log from its start; records it
    /// already processed come again and are rejected as replays by the
    /// worker's per-stream sequence numbers, so nothing new is skipped and
    /// nothing old is accepted twice.
    Discontinuity { at: Offset, reason: Discontinuity },
    /// Nothing more right now.
    Idle,
}

/// Why a consumer had to start its log over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Discontinuity {
    /// The log is shorter than the position already read.
    Shrunk { len: u64 },
    /// Another file now stands at the log's path.
    Replaced,
    /// The log's path no longer exists.
    Deleted,
    /// The record that ends at the position read is not the one read.
    Rewritten,
}

impl std::fmt::Display for Discontinuity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Shrunk { len } => write!(
                f,
                "the log shrank to {len} bytes (rolled back or truncated)"
            ),
            Self::Replaced => f.write_str("another file replaced the log"),
            Self::Deleted => f.write_str("the log was deleted"),
            Self::Rewritten => {
                f.write_str("the last record read was rewritten (rolled back or replaced)")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    BadMagic,
    ChecksumMismatch,
    Oversized { len: u32 },
}

impl std::fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadMagic => f.write_str("no frame magic"),
            Self::ChecksumMismatch => f.write_str("CRC-32C mismatch"),
            Self::Oversized { len } => write!(f, "frame length {len} over the limit"),
        }
    }
}

/// Transport failures. [`TransportError::retryable`] says whether trying
/// again later can help.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("I/O on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is owned by another live process (lock held)")]
    Locked { path: String },
    #[error("record of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("{0}")]
    Layout(String),
    #[error("{path} is not a regular file (a symbolic link or special file stands in a spool)")]
    NotRegular { path: String },
    /// A remote broker did not do what was asked (unreachable, timed out,
    /// or answered with an error).
    #[error("{what}: {reason}")]
    Remote {
        what: String,
        reason: String,
        retryable: bool,
    },
    /// The broker or its configuration is not acceptable (too old, no
    /// credentials, bad TLS settings): retrying will not help.
    #[error("{what}: {reason}")]
    Refused { what: String, reason: String },
    /// This process no longer owns the partition: another worker took it
    /// over and wrote after this one last looked. Nothing was committed;
    /// the partition's new owner continues from the last commit.
    #[error("partition {partition}: fenced out, this worker no longer owns it ({reason}); nothing was committed")]
    Fenced { partition: u32, reason: String },
}

impl TransportError {
    pub fn retryable(&self) -> bool {
        match self {
            Self::Io { .. } | Self::Locked { .. } => true,
            Self::Remote { retryable, .. } => *retryable,
            _ => false,
        }
    }
}

/// Durable, acknowledged append to one partition.
pub trait Producer {
    /// Appends records in order; when this returns `Ok` they are durable.
    fn append(&mut self, records: &[&[u8]]) -> Result<Offset, TransportError>;
}

/// Ordered reading of one partition.
pub trait Consumer {
    fn position(&self) -> Offset;
    /// A fingerprint of the record that ends at [`Consumer::position`] (0
    /// at the start), kept with the position in checkpoints so that a
    /// restarted consumer recognises its log.
    fn fingerprint(&self) -> u64 {
        0
    }
    fn seek(&mut self, offset: Offset);
    /// Seeks to `offset` if the record that ends there still has
    /// `fingerprint`; otherwise positions at the log's start and says why.
    fn resume(&mut self, offset: Offset, fingerprint: u64) -> Result<(), Discontinuity> {
        let _ = fingerprint;
        self.seek(offset);
        Ok(())
    }
    /// The next record, a corruption report, or `Idle`.
    fn poll(&mut self) -> Result<Polled<'_>, TransportError>;
    /// How far this consumer is behind its log's end, in bytes, when the
    /// transport can tell without a round trip (operations metrics).
    fn lag_bytes(&self) -> Option<u64> {
        None
    }
}

/// A worker's exclusively owned output partition with atomic commits.
pub trait CommitLog {
    /// The payload of the last commit (the sealed checkpoint), if any. Opening
    /// a commit log discards records appended after that commit.
    fn last_commit(&self) -> Option<&[u8]>;
    /// Appends output records (not yet visible to committed readers).
    fn append(&mut self, records: &[&[u8]]) -> Result<(), TransportError>;
    /// Makes everything appended so far visible, with `checkpoint` as the
    /// recovery point. Durable on `Ok`.
    fn commit(&mut self, checkpoint: &[u8]) -> Result<(), TransportError>;
    /// Drops the last commit (and what follows it), making the one before
    /// it the last: for a last commit that does not open (forged by the
    /// host, or sealed under a key no longer released). `Ok(false)` when
    /// there is no commit to drop.
    fn rewind_commit(&mut self) -> Result<bool, TransportError> {
        Ok(false)
    }
}

/// A transport's committed output, as the clinician's side reads it:
/// records become visible only with the commit that made them durable, as
/// the worker wrote them, across every partition.
pub trait CommittedRecords {
    /// Appends to `out` every record committed since the last call, with
    /// the partition it was read from. Returns how many were appended.
    fn poll_committed(&mut self, out: &mut Vec<(u32, Vec<u8>)>) -> Result<usize, TransportError>;
}

/// How a worker group shares partitions: every live member holds leases on
/// some, taken over when a member dies and rebalanced when one joins. Only
/// the transport's fence decides who can commit; leases decide who should
/// try.
pub trait Membership {
    type Error: std::fmt::Display;
    /// Announces this member as alive.
    fn heartbeat(&mut self) -> Result<(), Self::Error>;
    /// The partitions this member should process now.
    fn wanted(&mut self) -> Result<Vec<u32>, Self::Error>;
    /// Takes partition `p` if nobody holds it.
    fn try_acquire(&mut self, p: u32) -> Result<bool, Self::Error>;
    /// Renews what is held; returns partitions lost meanwhile.
    fn renew(&mut self) -> Result<Vec<u32>, Self::Error>;
    /// Gives `p` up (after its final commit).
    fn release(&mut self, p: u32);
    /// Drops `p` without giving it up (someone else owns it already).
    fn forget(&mut self, p: u32);
    /// Leaves the group on purpose, after releasing every partition.
    fn leave(&mut self) {}
    /// How often to heartbeat and renew.
    fn period(&self) -> std::time::Duration;
}

/// A group member on any transport.
pub type AnyMembership = Box<dyn Membership<Error = TransportError> + Send>;

/// One deployment's transport, whichever it is: what every role (gateway,
/// worker, clinician, controller) asks of it. The embedded spool and NATS
/// JetStream implement it; roles and binaries hold a `dyn Deployment` and
/// never ask which one it is.
pub trait Deployment: Send + Sync + std::fmt::Debug {
    /// Where it is, for messages (never a password).
    fn describe(&self) -> String;
    /// A short name for tables (`spool`, `NATS 2.12.1`).
    fn label(&self) -> String;
    /// Creates what `partitions` partitions need, where missing.
    fn prepare(&self, partitions: u32) -> Result<(), TransportError>;
    /// Deletes everything Aorta stored there and prepares `partitions`
    /// afresh: for demos and benchmarks that start from nothing.
    fn dangerous_reset(&self, partitions: u32) -> Result<(), TransportError>;
    /// Deletes every partition's results and checkpoints, keeping the
    /// input: for benchmarks that process the same input again.
    fn dangerous_delete_outputs(&self) -> Result<(), TransportError>;
    /// Durable append of envelopes to partition `p`.
    fn producer(&self, p: PartitionId) -> Result<Box<dyn Producer + Send>, TransportError>;
    /// Durable append of signed enrolments to the control log.
    fn control_producer(&self) -> Result<Box<dyn Producer + Send>, TransportError>;
    /// Partition `p`'s envelopes, in order.
    fn worker_input(&self, p: PartitionId) -> Result<Box<dyn Consumer + Send>, TransportError>;
    /// The control log, for a worker (read to its end, then idle at once).
    fn control_input(&self) -> Result<Box<dyn Consumer + Send>, TransportError>;
    /// Partition `p`'s output, owned by `owner` (a worker id, never a
    /// person): opening it cuts it back to its last commit and, where the
    /// transport fences, fences out any earlier owner.
    fn commit_log(
        &self,
        p: PartitionId,
        owner: &str,
    ) -> Result<Box<dyn CommitLog + Send>, TransportError>;
    /// Every partition's committed results, for the clinician.
    fn committed_results(&self) -> Box<dyn CommittedRecords + Send>;
    /// Whether [`Deployment::membership`] can succeed here.
    fn holds_leases(&self) -> bool {
        false
    }
    /// Joins the worker group as `me`, with leases that expire `lease`
    /// after a member stops renewing them. Transports that cannot hold
    /// leases refuse.
    fn membership(
        &self,
        me: &str,
        lease: std::time::Duration,
        partitions: u32,
    ) -> Result<AnyMembership, TransportError> {
        let _ = (me, lease, partitions);
        Err(TransportError::Refused {
            what: self.describe(),
            reason: "worker groups need a transport with leases (--transport nats://...)".into(),
        })
    }
}

// Boxed transports (a binary choosing spool or NATS at run time) are
// transports too.
impl<T: Producer + ?Sized> Producer for Box<T> {
    fn append(&mut self, records: &[&[u8]]) -> Result<Offset, TransportError> {
        (**self).append(records)
    }
}

impl<T: Consumer + ?Sized> Consumer for Box<T> {
    fn position(&self) -> Offset {
        (**self).position()
    }
    fn fingerprint(&self) -> u64 {
        (**self).fingerprint()
    }
    fn seek(&mut self, offset: Offset) {
        (**self).seek(offset)
    }
    fn resume(&mut self, offset: Offset, fingerprint: u64) -> Result<(), Discontinuity> {
        (**self).resume(offset, fingerprint)
    }
    fn poll(&mut self) -> Result<Polled<'_>, TransportError> {
        (**self).poll()
    }
    fn lag_bytes(&self) -> Option<u64> {
        (**self).lag_bytes()
    }
}

impl<T: CommitLog + ?Sized> CommitLog for Box<T> {
    fn last_commit(&self) -> Option<&[u8]> {
        (**self).last_commit()
    }
    fn append(&mut self, records: &[&[u8]]) -> Result<(), TransportError> {
        (**self).append(records)
    }
    fn commit(&mut self, checkpoint: &[u8]) -> Result<(), TransportError> {
        (**self).commit(checkpoint)
    }
    fn rewind_commit(&mut self) -> Result<bool, TransportError> {
        (**self).rewind_commit()
    }
}

impl<T: CommittedRecords + ?Sized> CommittedRecords for Box<T> {
    fn poll_committed(&mut self, out: &mut Vec<(u32, Vec<u8>)>) -> Result<usize, TransportError> {
        (**self).poll_committed(out)
    }
}

impl<T: Membership + ?Sized> Membership for Box<T> {
    type Error = T::Error;
    fn heartbeat(&mut self) -> Result<(), Self::Error> {
        (**self).heartbeat()
    }
    fn wanted(&mut self) -> Result<Vec<u32>, Self::Error> {
        (**self).wanted()
    }
    fn try_acquire(&mut self, p: u32) -> Result<bool, Self::Error> {
        (**self).try_acquire(p)
    }
    fn renew(&mut self) -> Result<Vec<u32>, Self::Error> {
        (**self).renew()
    }
    fn release(&mut self, p: u32) {
        (**self).release(p)
    }
    fn forget(&mut self, p: u32) {
        (**self).forget(p)
    }
    fn leave(&mut self) {
        (**self).leave()
    }
    fn period(&self) -> std::time::Duration {
        (**self).period()
    }
}
