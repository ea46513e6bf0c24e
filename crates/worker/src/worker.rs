use std::collections::{BTreeMap, HashMap, VecDeque};

use aorta_envelope::receive::Authentic;
use aorta_envelope::session::results_channel;
use aorta_envelope::{
    Freshness, KemPublic, Receiver, Refused, Sealed, SenderSession, VerifyingKey,
};
use aorta_hrv::HrvBands;
use aorta_runtime::ecg::WaveKind;
use aorta_runtime::{
    compute_window, Batch, ClosedWindow, EventTime, Limits, Rejection, StreamState, Verdict,
};
use aorta_transport::{CommitLog, Consumer, Offset, Polled, TransportError};
use aorta_wire::{
    Body, BodyFlags, Bucket, ContentType, EcgBatch, Enrolment, EnrolmentStatus, Header,
    ResultBatch, ResultRecord, RrBatch, RrSample, SessionId, StreamId,
};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, CheckpointRef};
use crate::keyring::{KeySource, Keyring};
use crate::registry::{Registry, RegistryUpdate};
use crate::WorkerError;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub partition: u32,
    /// Partitions in the deployment: envelopes of streams that
    /// [`StreamId::partition`] maps elsewhere are rejected
    /// ([`Rejection::WrongPartition`]).
    pub partitions: u32,
    pub limits: Limits,
    /// Commit after at least this many input records...
    pub checkpoint_every: u64,
    /// ...and once the input consumed since the last commit is at least this
    /// many times the state a checkpoint must write, so checkpoint cost stays
    /// proportional to the work done (recovery then replays at most that
    /// much input). Commit points change only when results become visible,
    /// never what they are.
    pub checkpoint_state_ratio: u64,
    /// Accept `dangerous_plaintext` envelopes (benchmark "plain" mode only).
    pub dangerous_accept_plaintext: bool,
    /// Most recent rejections kept for the report.
    pub keep_rejections: usize,
    /// This worker runs in the SIMULATED TEE: every result record carries
    /// [`aorta_wire::Quality::SIMULATED_TEE`].
    pub simulated_tee: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            partition: 0,
            partitions: 1,
            limits: Limits::default(),
            checkpoint_every: 1024,
            checkpoint_state_ratio: 4,
            dangerous_accept_plaintext: false,
            keep_rejections: 1000,
            simulated_tee: false,
        }
    }
}

/// What the worker holds after key release.
pub struct WorkerKeys {
    /// The fleet secrets, by epoch, released to this worker after attestation.
    pub fleet: Keyring,
    /// The data controller's key, which signs enrolments.
    pub controller: VerifyingKey,
    /// Asked for keys of epochs newer than any held (after a rotation).
    pub source: Option<Box<dyn KeySource>>,
}

impl std::fmt::Debug for WorkerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerKeys")
            .field("fleet", &self.fleet)
            .field("source", &self.source.is_some())
            .finish_non_exhaustive()
    }
}

/// Totals since the partition was first processed (restored from checkpoints).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub records: u64,
    pub envelopes_accepted: u64,
    pub samples: u64,
    pub windows: u64,
    pub result_records: u64,
    pub result_envelopes: u64,
    pub corrupt_records: u64,
    pub rejected: BTreeMap<Rejection, u64>,
    pub invalid_enrolments: u64,
    /// Times the input log was found shrunk, replaced, deleted or rewritten
    /// (it is then read again from its start; see [`Polled::Discontinuity`]).
    pub input_discontinuities: u64,
    /// The same for the control (enrolment) log.
    pub control_discontinuities: u64,
    /// Commits found on restart that did not open as this partition's
    /// checkpoint (forged or foreign) and were cut off.
    pub unusable_checkpoints: u64,
}

/// Something an operator should hear about as it happens: counts, offsets,
/// pseudonyms and reasons, never a sample or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Rejected(Rejected),
    Corrupt {
        offset: Offset,
        next: Offset,
        reason: aorta_transport::CorruptReason,
    },
    Discontinuity {
        log: &'static str,
        at: Offset,
        reason: aorta_transport::Discontinuity,
    },
    /// A commit that did not open as this partition's checkpoint was cut
    /// off on restart; the worker resumed from the one before it.
    UnusableCheckpoint {
        reason: String,
    },
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rejected(r) => match r.stream {
                Some(s) => write!(f, "rejected envelope at offset {} (stream {s}): {}", r.offset, r.reason.name()),
                None => write!(f, "rejected envelope at offset {}: {}", r.offset, r.reason.name()),
            },
            Self::Corrupt { offset, next, reason } => {
                write!(f, "corrupt input bytes {offset}..{next} skipped: {reason}")
            }
            Self::UnusableCheckpoint { reason } => write!(
                f,
                "the last commit of the results log is not a checkpoint of this partition ({reason}); cut off, resuming from the one before"
            ),
            Self::Discontinuity { log, at, reason } => write!(
                f,
                "{log} log discontinuity at offset {at}: {reason}; reading it again from the start (replayed envelopes are rejected)"
            ),
        }
    }
}

/// Checkpoints committed by a worker process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CheckpointStats {
    pub commits: u64,
    pub last_bytes: u64,
    pub last_seconds: f64,
}

/// Input records between two reads of the control log while input keeps
/// coming.
pub const CONTROL_EVERY: u64 = 1024;

/// Notices kept for [`Worker::take_notices`] at most; beyond, only counted.
pub const MAX_NOTICES: usize = 10_000;

/// One rejected envelope, for operators: where, which claimed stream, why.
/// Carries no plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub offset: Offset,
    pub stream: Option<StreamId>,
    pub reason: Rejection,
}

/// What an input envelope carried, once decoded.
enum Content {
    /// RR intervals (decoded into the worker's sample buffer) and their
    /// watermark.
    Rr(i64),
    /// A raw waveform batch for the stream's beat detector.
    Wave(WaveKind, EcgBatch),
}

/// A snapshot for summaries and tests.
#[derive(Debug, Clone)]
pub struct WorkerReport {
    pub counters: Counters,
    pub streams: usize,
    pub missing_envelopes: u64,
    pub reordered_envelopes: u64,
    pub late_samples: u64,
    /// Raw ECG/PPG samples given up (gaps that did not fill in time).
    pub lost_wave_samples: u64,
    /// 10-s raw ECG/PPG segments the signal-quality check flagged.
    pub noisy_segments: u64,
    pub out_of_range_samples: u64,
    pub truncated_sessions: u64,
    pub recent_rejections: Vec<Rejected>,
    pub state_heap_bytes: usize,
    /// Streams whose newest enrolment (sealed in the checkpoint) the
    /// control log no longer holds.
    pub rolled_back_enrolments: usize,
}

/// A worker over one input partition and its output log.
pub struct Worker<C, L, R> {
    cfg: WorkerConfig,
    input: C,
    control: C,
    output: L,
    rng: R,
    keyring: Keyring,
    source: Option<Box<dyn KeySource>>,
    controller: VerifyingKey,
    registry: Registry,
    streams: BTreeMap<StreamId, StreamState>,
    /// Input sessions: one per stream (a stream has one sender).
    receiver: Receiver,
    /// One result session per recipient for the life of the process.
    result_sessions: HashMap<[u8; 32], SenderSession>,
    counters: Counters,
    recent: VecDeque<Rejected>,
    notices: Vec<Notice>,
    notices_dropped: u64,
    /// Newest enrolment serial seen per stream, and whether it revoked the
    /// stream: sealed in checkpoints so that a control log rolled back by
    /// the host cannot bring back a revoked device or an older key.
    floors: HashMap<StreamId, (u32, bool)>,
    /// Sum of the streams' `heap_bytes`, kept as they change.
    state_bytes: u64,
    /// Checkpoints committed by this process, and the last one's size and
    /// time to seal and commit (operations metrics).
    checkpoint_stats: CheckpointStats,
    bands: HrvBands,
    since_commit: u64,
    bytes_since_commit: u64,
    /// Input records since the control log was last read.
    since_control: u64,
    buf: Vec<u8>,
    samples: Vec<RrSample>,
    closed: Vec<ClosedWindow>,
    records: Vec<ResultRecord>,
    content: Vec<u8>,
    now_ms: Box<dyn Fn() -> u64 + Send>,
    /// Benchmarks only: end-to-end latency of every envelope.
    latency: Option<LatencyProbe>,
}

/// End-to-end latency, for benchmarks of a paced (real-time) gateway,
/// whose envelopes' watermarks are the wall-clock time they were sealed:
/// for every accepted envelope, the time from that watermark to the commit
/// that made its results visible.
#[derive(Debug, Default, Clone)]
pub struct LatencyProbe {
    /// Watermarks (µs) of envelopes accepted since the last commit.
    pending: Vec<i64>,
    /// (watermark µs, latency ms) of envelopes committed.
    pub committed: Vec<(i64, u32)>,
}

impl<C, L, R> std::fmt::Debug for Worker<C, L, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("partition", &self.cfg.partition)
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

impl<C: Consumer, L: CommitLog, R: RngCore + CryptoRng> Worker<C, L, R> {
    /// Builds a worker and restores its state from the output log's last
    /// commit, if any. `fleet` is the key released after attestation.
    pub fn new(
        cfg: WorkerConfig,
        input: C,
        control: C,
        output: L,
        keys: WorkerKeys,
        rng: R,
        now_ms: Box<dyn Fn() -> u64 + Send>,
    ) -> Result<Self, WorkerError> {
        let WorkerKeys {
            fleet,
            controller,
            source,
        } = keys;
        let mut w = Self {
            cfg,
            input,
            control,
            output,
            rng,
            keyring: fleet,
            source,
            controller,
            registry: Registry::default(),
            streams: BTreeMap::new(),
            receiver: Receiver::new(1),
            result_sessions: HashMap::new(),
            counters: Counters::default(),
            recent: VecDeque::new(),
            notices: Vec::new(),
            notices_dropped: 0,
            floors: HashMap::new(),
            state_bytes: 0,
            checkpoint_stats: CheckpointStats::default(),
            bands: HrvBands::new(),
            since_commit: 0,
            bytes_since_commit: 0,
            since_control: 0,
            buf: Vec::new(),
            samples: Vec::new(),
            closed: Vec::new(),
            records: Vec::new(),
            content: Vec::new(),
            now_ms,
            latency: None,
        };
        // The newest commit that opens as this partition's checkpoint: the
        // host can append a forged commit frame (the spool's checksum has no
        // key), and that must not stop the worker for good.
        let mut unusable = Vec::new();
        let restored = loop {
            let Some(sealed) = w.output.last_commit().map(<[u8]>::to_vec) else {
                break None;
            };
            match w.open_checkpoint(&sealed)? {
                Ok(c) => break Some(c),
                Err(reason) => {
                    unusable.push(reason);
                    if !w.output.rewind_commit()? {
                        break None;
                    }
                }
            }
        };
        if let Some(c) = restored {
            w.streams = c
                .streams
                .into_iter()
                .map(|(k, v)| (StreamId(k), v))
                .collect();
            w.state_bytes = w
                .streams
                .values()
                .map(|s| s.heap_bytes() as u64 + 256)
                .sum();
            w.counters = c.counters;
            w.floors = c
                .enrolments
                .into_iter()
                .map(|(k, serial, revoked)| (StreamId(k), (serial, revoked)))
                .collect();
            if let Err(reason) = w.input.resume(c.input_offset, c.input_fingerprint) {
                // The input log is not the one this checkpoint read: start
                // it over; what was processed comes again as replays.
                w.counters.input_discontinuities += 1;
                w.notice(Notice::Discontinuity {
                    log: "input",
                    at: c.input_offset,
                    reason,
                });
            }
            // Enrolments are re-read from the start; the registry keeps the
            // highest serial, so the result is the same.
            let _ = c.control_offset;
        }
        w.counters.unusable_checkpoints += unusable.len() as u64;
        for reason in unusable {
            w.notice(Notice::UnusableCheckpoint { reason });
        }
        w.poll_control()?;
        Ok(w)
    }

    /// Opens a sealed checkpoint. `Ok(Err(reason))`: it is not a checkpoint
    /// of this partition that this worker can open (forged, another
    /// partition's, or sealed under an epoch no longer released);
    /// `Err`: the worker's environment failed (key broker unreachable).
    fn open_checkpoint(
        &mut self,
        sealed: &[u8],
    ) -> Result<Result<Checkpoint, String>, WorkerError> {
        let epoch = match crate::checkpoint::sealed_epoch(sealed) {
            Ok(e) => e,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if self.keyring.get(epoch).is_none() && self.source.is_none() {
            // Nobody to ask: the environment's failure, not the commit's.
            return Err(WorkerError::KeyUnavailable {
                epoch,
                reason: "the checkpoint is sealed under an epoch this worker does not hold".into(),
            });
        }
        if !self.ensure_epoch(epoch)? {
            return Ok(Err(format!(
                "sealed under fleet key epoch {epoch}, which the key broker does not release"
            )));
        }
        let Some(key) = self.keyring.sealing(epoch) else {
            return Ok(Err(format!("no sealing key for epoch {epoch}")));
        };
        Ok(Checkpoint::open(key, self.cfg.partition, sealed).map_err(|e| e.to_string()))
    }

    /// Reads new signed enrolment records.
    pub fn poll_control(&mut self) -> Result<usize, WorkerError> {
        let mut n = 0;
        loop {
            let signed = match self.control.poll()? {
                Polled::Record { payload, .. } => payload.to_vec(),
                Polled::Corrupt { .. } => {
                    self.counters.invalid_enrolments += 1;
                    continue;
                }
                Polled::Discontinuity { at, reason } => {
                    // Re-reading is harmless: the registry keeps the highest
                    // serial, and the floors catch a rollback.
                    self.counters.control_discontinuities += 1;
                    self.notice(Notice::Discontinuity {
                        log: "control",
                        at,
                        reason,
                    });
                    continue;
                }
                Polled::Idle => return Ok(n),
            };
            n += 1;
            match self.registry.offer(&self.controller, &signed) {
                RegistryUpdate::Invalid(_) => self.counters.invalid_enrolments += 1,
                RegistryUpdate::Replaced {
                    stream,
                    device_changed,
                } => {
                    if device_changed {
                        self.receiver.forget_stream(&stream);
                    }
                    if let (Some(e), Some(s)) =
                        (self.registry.get(&stream), self.streams.get_mut(&stream))
                    {
                        s.set_algorithms(e.algorithms, e.effective_from_us);
                    }
                }
                RegistryUpdate::Added(_) | RegistryUpdate::Ignored(_) => {}
            }
        }
    }

    /// Records the newest enrolment serial of every stream (and whether it
    /// revoked the stream) as the floor below which the registry is not
    /// trusted.
    fn raise_floors(&mut self) {
        for (stream, e) in self.registry.iter() {
            let f = self.floors.entry(*stream).or_insert((0, false));
            if e.serial >= f.0 {
                *f = (e.serial, e.status == EnrolmentStatus::Revoked);
            }
        }
    }

    /// Processes input until it is exhausted (`Idle`), committing as
    /// configured and once more at the end. Returns records processed.
    pub fn drain(&mut self, mut progress: impl FnMut(&Counters)) -> Result<u64, WorkerError> {
        let mut processed = 0;
        loop {
            if !self.step()? {
                break;
            }
            processed += 1;
            if processed % 256 == 0 {
                progress(&self.counters);
            }
        }
        self.commit()?;
        progress(&self.counters);
        Ok(processed)
    }

    /// Handles one input record. `Ok(false)` when there is nothing to read.
    /// Reads new enrolment records every [`CONTROL_EVERY`] input records,
    /// so a busy input (a backlog, or a flood of forged envelopes) never
    /// holds back a revocation.
    pub fn step(&mut self) -> Result<bool, WorkerError> {
        self.since_control += 1;
        if self.since_control >= CONTROL_EVERY {
            self.since_control = 0;
            self.poll_control()?;
        }
        let mut buf = std::mem::take(&mut self.buf);
        let offset;
        match self.input.poll()? {
            Polled::Record {
                offset: o, payload, ..
            } => {
                offset = o;
                buf.clear();
                buf.extend_from_slice(payload);
            }
            Polled::Corrupt {
                offset,
                next,
                reason,
            } => {
                self.counters.corrupt_records += 1;
                self.counters.records += 1;
                self.notice(Notice::Corrupt {
                    offset,
                    next,
                    reason,
                });
                self.buf = buf;
                return Ok(true);
            }
            Polled::Discontinuity { at, reason } => {
                self.counters.input_discontinuities += 1;
                self.notice(Notice::Discontinuity {
                    log: "input",
                    at,
                    reason,
                });
                self.buf = buf;
                return Ok(true);
            }
            Polled::Idle => {
                self.buf = buf;
                return Ok(false);
            }
        }
        self.counters.records += 1;
        self.bytes_since_commit += buf.len() as u64;
        let r = self.handle(offset, &mut buf);
        self.buf = buf;
        r?;
        self.since_commit += 1;
        if self.since_commit >= self.cfg.checkpoint_every
            && self.bytes_since_commit
                >= self
                    .cfg
                    .checkpoint_state_ratio
                    .saturating_mul(self.state_bytes)
        {
            self.commit()?;
        }
        Ok(true)
    }

    fn notice(&mut self, n: Notice) {
        if self.notices.len() < MAX_NOTICES {
            self.notices.push(n);
        } else {
            self.notices_dropped += 1;
        }
    }

    /// What happened since the last call (rejections, corruption, log
    /// discontinuities), for reporting as it happens, and how many more
    /// notices there were than could be kept.
    pub fn take_notices(&mut self) -> (Vec<Notice>, u64) {
        (
            std::mem::take(&mut self.notices),
            std::mem::take(&mut self.notices_dropped),
        )
    }

    fn reject(&mut self, offset: Offset, stream: Option<StreamId>, reason: Rejection) {
        *self.counters.rejected.entry(reason).or_insert(0) += 1;
        if let Some(s) = stream.and_then(|s| self.streams.get_mut(&s)) {
            s.on_rejected();
        }
        let r = Rejected {
            offset,
            stream,
            reason,
        };
        self.notice(Notice::Rejected(r.clone()));
        if self.cfg.keep_rejections > 0 {
            if self.recent.len() == self.cfg.keep_rejections {
                self.recent.pop_front();
            }
            self.recent.push_back(r);
        }
    }

    fn handle(&mut self, offset: Offset, env: &mut [u8]) -> Result<(), WorkerError> {
        let Ok(sealed) = Sealed::parse(env) else {
            self.reject(offset, None, Rejection::Malformed);
            return Ok(());
        };
        // Claims, not yet authenticated: used to find keys and state only.
        let header = sealed.claims().clone();
        let stream = header.stream;
        if !matches!(
            header.content,
            ContentType::RrBatch | ContentType::EcgBatch | ContentType::PpgBatch
        ) {
            self.reject(offset, Some(stream), Rejection::WrongContentType);
            return Ok(());
        }
        if stream.partition(self.cfg.partitions) != self.cfg.partition {
            self.reject(offset, None, Rejection::WrongPartition);
            return Ok(());
        }
        let floor = self.floors.get(&stream).copied();
        let enrolment = match (self.registry.get(&stream), floor) {
            (_, Some((_, true))) => {
                self.reject(offset, Some(stream), Rejection::Revoked);
                return Ok(());
            }
            (Some(e), Some((serial, false))) if e.serial < serial => {
                self.reject(offset, Some(stream), Rejection::EnrolmentRolledBack);
                return Ok(());
            }
            (None, Some(_)) => {
                self.reject(offset, Some(stream), Rejection::EnrolmentRolledBack);
                return Ok(());
            }
            (Some(e), _) if e.status == EnrolmentStatus::Revoked => {
                self.reject(offset, Some(stream), Rejection::Revoked);
                return Ok(());
            }
            (Some(e), _) => e.clone(),
            (None, None) => {
                self.reject(offset, None, Rejection::UnknownStream);
                return Ok(());
            }
        };
        let registry = &self.registry;
        let state = self.streams.entry(stream).or_insert_with(|| {
            let mut history = registry.algorithm_history(&stream).iter();
            let mut st = match history.next() {
                Some((from, algos)) => StreamState::new(*algos, *from),
                None => StreamState::new(enrolment.algorithms, enrolment.effective_from_us),
            };
            for (from, algos) in history {
                st.set_algorithms(*algos, *from);
            }
            st.set_cadence(enrolment.cadence_ms);
            st
        });
        // Stale and replayed claims are refused before anything costs a key
        // agreement or a question to the key broker (the receiver checks
        // again; the stream's sequence state moves only in `apply`, with the
        // authenticated header).
        if let Err(r) = Precheck(state).check(&header) {
            self.reject(offset, Some(stream), r);
            return Ok(());
        }
        let opened = if header.flags.dangerous_plaintext {
            if !self.cfg.dangerous_accept_plaintext {
                self.reject(offset, Some(stream), Rejection::Plaintext);
                return Ok(());
            }
            self.receiver
                .dangerous_open_plaintext(sealed, &Precheck(state))
        } else {
            if self.keyring.get(header.epoch).is_none()
                && self.receiver.holds_session(&stream, header.session)
            {
                // A known session relabelled to an epoch not held: not
                // genuine, and not worth asking the key broker about.
                self.reject(offset, Some(stream), Rejection::Unauthenticated);
                return Ok(());
            }
            if !self.ensure_epoch(header.epoch)? {
                self.reject(offset, Some(stream), Rejection::UnknownEpoch);
                return Ok(());
            }
            let Some(fleet) = self.keyring.get(header.epoch) else {
                self.reject(offset, Some(stream), Rejection::UnknownEpoch);
                return Ok(());
            };
            let Some(state) = self.streams.get(&stream) else {
                return Ok(());
            };
            self.receiver.open(
                sealed,
                fleet,
                &KemPublic(enrolment.device_key),
                &mut Precheck(state),
            )
        };
        let opened = match opened {
            Ok(o) => o,
            Err(Refused::NotFresh(r)) => {
                self.reject(offset, Some(stream), r);
                return Ok(());
            }
            Err(Refused::Unauthenticated) => {
                self.reject(offset, Some(stream), Rejection::Unauthenticated);
                return Ok(());
            }
            Err(Refused::Plaintext) => {
                self.reject(offset, Some(stream), Rejection::Malformed);
                return Ok(());
            }
        };
        let header = opened.header().clone();
        let body = opened.body();
        self.samples.clear();
        // RR batches decode straight into `self.samples`; raw ECG/PPG first
        // goes through the stream's beat detector, inside the TEE.
        let parsed = Body::parse(body).and_then(|b| {
            let content = match header.content {
                ContentType::EcgBatch => {
                    EcgBatch::decode(b.content).map(|e| Content::Wave(WaveKind::Ecg, e))
                }
                ContentType::PpgBatch => {
                    EcgBatch::decode(b.content).map(|e| Content::Wave(WaveKind::Ppg, e))
                }
                _ => RrBatch::decode_into(b.content, &mut self.samples).map(Content::Rr),
            };
            content.map(|c| (c, b.flags))
        });
        let (content, flags) = match parsed {
            Ok(v) => v,
            Err(_) => {
                self.reject(offset, Some(stream), Rejection::BadContent);
                return Ok(());
            }
        };
        let Some(state) = self.streams.get_mut(&stream) else {
            return Ok(());
        };
        let before = state.heap_bytes() as u64 + 256;
        let r = self.apply(offset, stream, &header, &enrolment, content, flags);
        let after = self
            .streams
            .get(&stream)
            .map_or(0, |s| s.heap_bytes() as u64 + 256);
        self.state_bytes = (self.state_bytes + after).saturating_sub(before);
        r
    }

    /// Gives an authenticated, decoded envelope to its stream's state and
    /// emits the windows that close.
    fn apply(
        &mut self,
        offset: Offset,
        stream: StreamId,
        header: &Header,
        enrolment: &Enrolment,
        content: Content,
        flags: BodyFlags,
    ) -> Result<(), WorkerError> {
        let Some(state) = self.streams.get_mut(&stream) else {
            return Ok(());
        };
        let watermark = match content {
            Content::Rr(wm) => EventTime(wm),
            Content::Wave(kind, wave) => {
                let limits = &self.cfg.limits;
                match state.wave_to_rr(limits, kind, &wave, flags.final_, &mut self.samples) {
                    Ok(wm) => wm,
                    Err(r) => {
                        self.reject(offset, Some(stream), r);
                        return Ok(());
                    }
                }
            }
        };
        self.closed.clear();
        let batch = Batch {
            session: header.session.0,
            seq: header.seq,
            samples: &self.samples,
            watermark,
            last: flags.final_,
            backlog: flags.backlog,
        };
        let verdict = state.on_envelope(&self.cfg.limits, &batch, &mut self.closed);
        if let Verdict::Reject(r) = verdict {
            self.reject(offset, Some(stream), r);
            return Ok(());
        }
        if flags.handover {
            state.end_session_handover();
        }
        self.counters.envelopes_accepted += 1;
        self.counters.samples += self.samples.len() as u64;
        if let Some(p) = &mut self.latency {
            p.pending.push(watermark.micros());
        }
        let closed = std::mem::take(&mut self.closed);
        for w in &closed {
            self.emit(enrolment, w)?;
        }
        self.closed = closed;
        Ok(())
    }

    /// Computes a closed window's results and seals them to each recipient.
    fn emit(&mut self, enrolment: &Enrolment, w: &ClosedWindow) -> Result<(), WorkerError> {
        self.counters.windows += 1;
        self.records.clear();
        compute_window(w, &mut self.bands, &mut self.records);
        if let Some(state) = self.streams.get_mut(&enrolment.stream) {
            state.clinical_step(w, &enrolment.alerts, &mut self.records);
        }
        if self.records.is_empty() {
            return Ok(());
        }
        if self.cfg.simulated_tee {
            for r in &mut self.records {
                r.quality.0 |= aorta_wire::Quality::SIMULATED_TEE;
            }
        }
        self.counters.result_records += self.records.len() as u64;
        let bucket = result_bucket(enrolment);
        let per_envelope = ResultBatch::capacity(bucket.content_capacity()).max(1);
        let records = std::mem::take(&mut self.records);
        let mut sealed = Vec::new();
        for chunk in records.chunks(per_envelope) {
            self.content.clear();
            ResultBatch::encode(enrolment.stream, chunk, &mut self.content);
            for recipient in &enrolment.recipients {
                let key = *recipient;
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    self.result_sessions.entry(key)
                {
                    let session = SessionId(
                        ((self.now_ms)() << 20) | u64::from(self.rng.next_u32() & 0xF_FFFF),
                    );
                    let (epoch, fleet) = self.keyring.newest().ok_or(WorkerError::NoKeys)?;
                    slot.insert(SenderSession::start(
                        ContentType::Results,
                        epoch,
                        results_channel(&KemPublic(*recipient)),
                        session,
                        &KemPublic(*recipient),
                        fleet,
                        &mut self.rng,
                    )?);
                }
                if let Some(s) = self.result_sessions.get_mut(&key) {
                    sealed.push(s.seal(bucket, BodyFlags::default(), &self.content)?);
                }
            }
        }
        self.records = records;
        self.counters.result_envelopes += sealed.len() as u64;
        let refs: Vec<&[u8]> = sealed.iter().map(Vec::as_slice).collect();
        self.output.append(&refs)?;
        Ok(())
    }

    /// Makes the results so far visible with a sealed checkpoint.
    pub fn commit(&mut self) -> Result<(), WorkerError> {
        let started = std::time::Instant::now();
        // Serialised straight from the live state: no copy of the streams.
        self.raise_floors();
        let c = CheckpointRef {
            format: crate::checkpoint::FORMAT,
            partition: self.cfg.partition,
            input_offset: self.input.position(),
            input_fingerprint: self.input.fingerprint(),
            control_offset: self.control.position(),
            streams: self.streams.iter().map(|(k, v)| (&k.0, v)).collect(),
            counters: &self.counters,
            enrolments: self
                .floors
                .iter()
                .map(|(k, (serial, revoked))| (k.0, *serial, *revoked))
                .collect(),
        };
        let (epoch, _) = self.keyring.newest().ok_or(WorkerError::NoKeys)?;
        let key = self.keyring.sealing(epoch).ok_or(WorkerError::NoKeys)?;
        let sealed = c.seal(epoch, key, &mut self.rng)?;
        self.output
            .commit(&sealed)
            .map_err(|e: TransportError| WorkerError::Transport(e))?;
        self.checkpoint_stats = CheckpointStats {
            commits: self.checkpoint_stats.commits + 1,
            last_bytes: sealed.len() as u64,
            last_seconds: started.elapsed().as_secs_f64(),
        };
        self.since_commit = 0;
        self.bytes_since_commit = 0;
        if let Some(p) = &mut self.latency {
            let now_us = i64::try_from((self.now_ms)()).unwrap_or(i64::MAX) * 1000;
            for wm in p.pending.drain(..) {
                let ms = now_us.saturating_sub(wm).max(0) / 1000;
                p.committed
                    .push((wm, u32::try_from(ms).unwrap_or(u32::MAX)));
            }
        }
        Ok(())
    }

    /// Starts measuring end-to-end latency ([`LatencyProbe`]; benchmarks).
    pub fn probe_latency(&mut self) {
        self.latency.get_or_insert_with(LatencyProbe::default);
    }

    /// The latencies measured so far (empty unless probing).
    pub fn take_latencies(&mut self) -> Vec<(i64, u32)> {
        self.latency
            .as_mut()
            .map(|p| std::mem::take(&mut p.committed))
            .unwrap_or_default()
    }

    /// Makes sure the keyring holds `epoch` if the key broker releases it.
    /// Asks the broker only for epochs newer than every one held (older
    /// ones not held were retired). `Ok(false)`: no such epoch is released.
    fn ensure_epoch(&mut self, epoch: u32) -> Result<bool, WorkerError> {
        if self.keyring.get(epoch).is_some() {
            return Ok(true);
        }
        if self.keyring.newest().is_some_and(|(n, _)| epoch < n) {
            return Ok(false);
        }
        let Some(source) = self.source.as_mut() else {
            return Ok(false);
        };
        let keys = source
            .fetch()
            .map_err(|e| WorkerError::key_fetch(epoch, e))?;
        self.keyring.extend(keys);
        Ok(self.keyring.get(epoch).is_some())
    }

    /// Adds fleet keys obtained from the key broker (periodic re-attestation).
    pub fn add_keys(&mut self, keys: impl IntoIterator<Item = (u32, aorta_envelope::KemSecret)>) {
        self.keyring.extend(keys);
    }

    /// Input records handled since the last commit (their results are not
    /// visible yet).
    /// The input partition this worker processes.
    pub fn partition(&self) -> u32 {
        self.cfg.partition
    }

    pub fn uncommitted(&self) -> u64 {
        self.since_commit
    }

    /// The fleet key epochs this worker holds.
    pub fn epochs(&self) -> Vec<u32> {
        self.keyring.epochs()
    }

    pub fn report(&self) -> WorkerReport {
        let sum = |f: fn(&StreamState) -> u64| self.streams.values().map(f).sum();
        WorkerReport {
            counters: self.counters.clone(),
            streams: self.streams.len(),
            missing_envelopes: sum(|s| s.counters.missing_envelopes),
            reordered_envelopes: sum(|s| s.counters.reordered_envelopes),
            late_samples: sum(|s| s.counters.late_samples),
            lost_wave_samples: sum(|s| s.counters.lost_wave_samples),
            noisy_segments: sum(|s| s.counters.noisy_segments),
            out_of_range_samples: sum(|s| s.counters.out_of_range_samples),
            truncated_sessions: sum(|s| s.counters.truncated_sessions),
            recent_rejections: self.recent.iter().cloned().collect(),
            state_heap_bytes: self.streams.values().map(StreamState::heap_bytes).sum(),
            rolled_back_enrolments: self
                .floors
                .iter()
                .filter(|(s, (serial, _))| self.registry.get(s).is_none_or(|e| e.serial < *serial))
                .count(),
        }
    }

    /// Checkpoints committed by this process so far.
    pub fn checkpoint_stats(&self) -> CheckpointStats {
        self.checkpoint_stats
    }

    /// The input consumer (its position, for lag metrics).
    pub fn input(&self) -> &C {
        &self.input
    }

    /// The output log (tests inspect what was committed).
    pub fn output_mut(&mut self) -> &mut L {
        &mut self.output
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn stream_state(&self, s: &StreamId) -> Option<&StreamState> {
        self.streams.get(s)
    }
}

/// The stream's sequence state as the receiver's freshness rule: read
/// before authentication; it moves afterwards, in [`StreamState::on_envelope`].
struct Precheck<'s>(&'s StreamState);

impl Freshness for Precheck<'_> {
    type Reason = Rejection;
    fn check(&self, claims: &Header) -> Result<(), Rejection> {
        match self.0.precheck(claims.session.0, claims.seq) {
            Verdict::Reject(r) => Err(r),
            Verdict::Accept => Ok(()),
        }
    }
    fn record(&mut self, _: Authentic<'_>) {}
}

/// The fixed size of a stream's result envelopes, from its enrolment alone:
/// room for one window of every enrolled algorithm (identity: as many
/// samples as the profile allows per window).
pub fn result_bucket(e: &Enrolment) -> Bucket {
    use aorta_wire::Algorithm::*;
    let mut records = 0usize;
    for a in e.algorithms.iter() {
        records += match a {
            Identity => {
                let per_tick = RrBatch::capacity(e.bucket.content_capacity());
                let ticks = (10_000usize).div_ceil(e.cadence_ms.max(1) as usize) + 1;
                per_tick * ticks
            }
            Sdnn => 3,
            HrvBands => 4,
            HeartRate | Rmssd => 1,
            Clinical => aorta_runtime::clinical::MAX_RECORDS_PER_BLOCK,
        };
    }
    Bucket::for_content(ResultBatch::encoded_len(records)).unwrap_or(
        match Bucket::from_exponent(Bucket::MAX_EXP) {
            Ok(b) => b,
            Err(_) => unreachable!("MAX_EXP is valid"),
        },
    )
}
