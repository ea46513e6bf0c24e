use std::collections::BTreeMap;

use aorta_hrv::{block_of, BlockSums, BLOCK_SECONDS};
use aorta_wire::{Algorithm, AlgorithmSet, Quality, RrSample};
use serde::{Deserialize, Serialize};

use crate::seq::{SeqTracker, SeqVerdict};
use crate::Rejection;

const BLOCK_US: i64 = BLOCK_SECONDS * 1_000_000;

/// Bounds that keep a worker's memory and output finite whatever it is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// A block closes once the watermark passes its end by more than this
    /// (so a lateness of one cadence tolerates envelopes swapped by one tick).
    pub allowed_lateness_us: i64,
    /// Samples kept per block; more are counted and flagged `overflow`.
    pub max_samples_per_block: u32,
    /// Empty blocks emitted for one watermark jump; beyond, skipped and flagged `gap`.
    pub max_empty_blocks_per_jump: u32,
    /// Accepted RR range, µs. Outside: counted, flagged `out_of_range`, excluded.
    pub rr_min_us: u32,
    pub rr_max_us: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            allowed_lateness_us: 10_000_000,
            max_samples_per_block: 1 << 20,
            max_empty_blocks_per_jump: 360,
            rr_min_us: 150_000,
            rr_max_us: 6_000_000,
        }
    }
}

/// Per-stream counters, reported in the worker's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamCounters {
    pub envelopes: u64,
    pub samples: u64,
    pub late_samples: u64,
    pub out_of_range_samples: u64,
    pub overflow_samples: u64,
    pub missing_envelopes: u64,
    pub reordered_envelopes: u64,
    /// Raw waveform samples (ECG, PPG) given up: a gap that did not fill
    /// within the allowed lateness, or a batch overtaken by such a skip.
    pub lost_wave_samples: u64,
    pub truncated_sessions: u64,
    pub rejected_envelopes: u64,
    pub windows: u64,
    /// 10-s raw-signal segments (ECG, PPG) the quality check flagged.
    pub noisy_segments: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct OpenBlock {
    sums_n: u64,
    sums_sum: u128,
    sums_sq: u128,
    /// (µs since block start, rr µs) in arrival order, when an algorithm needs them.
    samples: Vec<(u32, u32)>,
    quality: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Session {
    id: u64,
    tracker: SeqTracker,
    finalized: bool,
}

/// A closed 10-second block, ready for [`crate::compute_window`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedWindow {
    pub block: i64,
    pub sums: BlockSums,
    /// Samples in time order (ties in arrival order), if kept.
    pub samples: Vec<RrSample>,
    pub quality: Quality,
    pub algorithms: AlgorithmSet,
    /// Event-time spans [from, to) µs inside this block whose raw signal
    /// (ECG, PPG) failed the detector's quality check; beats in them are
    /// unreliable. Non-empty only with [`Quality::NOISY`] set.
    pub noisy_spans: Vec<(i64, i64)>,
}

impl ClosedWindow {
    pub fn start_us(&self) -> i64 {
        self.block * BLOCK_US
    }
}

/// A point in event time: microseconds since the Unix epoch on the
/// sender's clock (when a heartbeat happened, not when it arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventTime(pub i64);

impl EventTime {
    pub fn micros(self) -> i64 {
        self.0
    }

    /// `self` less `us` microseconds, saturating at the ends of time.
    pub fn before(self, us: i64) -> i64 {
        self.0.saturating_sub(us)
    }
}

/// One authenticated envelope's content, as a stream applies it.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The sender's session and the envelope's sequence number in it.
    pub session: u64,
    pub seq: u64,
    /// RR samples (for ECG and PPG streams: the intervals the worker's
    /// detector found in the envelope's waveform).
    pub samples: &'a [RrSample],
    /// No later sample of this stream is dated before it.
    pub watermark: EventTime,
    /// The last envelope of its session.
    pub last: bool,
    /// The gateway sent it late (it had fallen behind).
    pub backlog: bool,
}

/// The outcome of offering an authenticated envelope's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject(Rejection),
}

/// Everything the worker keeps about one stream between envelopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamState {
    /// (effective from, algorithms), ascending by time.
    algorithms: Vec<(i64, u32)>,
    keep_samples: bool,
    session: Option<Session>,
    /// The newest watermark applied (`None` before the first envelope).
    watermark: Option<EventTime>,
    /// Every block before this one has been closed (emitted); `None` until
    /// the first block closes. Samples for closed blocks are late.
    closed_before: Option<i64>,
    open: BTreeMap<i64, OpenBlock>,
    /// Flags for the next block that opens (events while none was open).
    pending: u32,
    /// The latest stretch of event time no envelope covered (the watermark
    /// jumped over it): empty blocks inside it close as `GAP`.
    uncovered: Option<(i64, i64)>,
    /// The sender's cadence (0: unknown, taken as one block).
    cadence_us: i64,
    pub counters: StreamCounters,
    /// The `clinical` operator's state, once a block with it enabled closed.
    clinical: Option<Box<crate::clinical::ClinicalState>>,
    /// R-peak detection state of a raw-ECG stream.
    ecg: Option<Box<crate::ecg::EcgState>>,
    /// Flagged raw-signal spans not yet behind every closed block, in time
    /// order: at most a few (the ECG watermark waits for each segment's
    /// verdict, so they are attached when their blocks close).
    noisy: std::collections::VecDeque<(i64, i64)>,
}

fn needs_samples(set: AlgorithmSet) -> bool {
    [
        Algorithm::Identity,
        Algorithm::HrvBands,
        Algorithm::Rmssd,
        Algorithm::Clinical,
    ]
    .into_iter()
    .any(|a| set.contains(a))
}

impl StreamState {
    pub fn new(algorithms: AlgorithmSet, effective_from_us: i64) -> Self {
        Self {
            algorithms: vec![(effective_from_us, algorithms.0)],
            keep_samples: needs_samples(algorithms),
            session: None,
            watermark: None,
            closed_before: None,
            open: BTreeMap::new(),
            pending: 0,
            uncovered: None,
            cadence_us: 0,
            counters: StreamCounters::default(),
            clinical: None,
            ecg: None,
            noisy: std::collections::VecDeque::new(),
        }
    }

    /// The sender's cadence, from the enrolment: a watermark step of more
    /// than one cadence (or block) means envelopes are missing.
    pub fn set_cadence(&mut self, cadence_ms: u32) {
        self.cadence_us = i64::from(cadence_ms) * 1000;
    }

    /// Changes the algorithm set for blocks starting at or after `from_us`
    /// (event time, so the change is deterministic whatever the arrival time).
    pub fn set_algorithms(&mut self, algorithms: AlgorithmSet, from_us: i64) {
        self.algorithms.retain(|(t, _)| *t < from_us);
        self.algorithms.push((from_us, algorithms.0));
        self.keep_samples = self
            .algorithms
            .iter()
            .any(|(_, a)| needs_samples(AlgorithmSet(*a)));
    }

    fn algorithms_at(&self, t_us: i64) -> AlgorithmSet {
        self.algorithms
            .iter()
            .rev()
            .find(|(from, _)| *from <= t_us)
            .or(self.algorithms.first())
            .map_or(AlgorithmSet::default(), |(_, a)| AlgorithmSet(*a))
    }

    /// Raises `flag` on every open block, or on the next one if none is open.
    fn flag(&mut self, flag: u32) {
        if self.open.is_empty() {
            self.pending |= flag;
        } else {
            self.open.values_mut().for_each(|b| b.quality |= flag);
        }
    }

    /// Can an envelope with this session and sequence number be used? Does
    /// not change state: call before spending effort on decryption.
    pub fn precheck(&self, session: u64, seq: u64) -> Verdict {
        match &self.session {
            Some(s) if session < s.id => Verdict::Reject(Rejection::Stale),
            Some(s) if session == s.id => match s.tracker.check(seq) {
                SeqVerdict::Replay => Verdict::Reject(Rejection::Replay),
                SeqVerdict::TooOld => Verdict::Reject(Rejection::Stale),
                _ if s.finalized && seq >= s.tracker.next_expected() => {
                    Verdict::Reject(Rejection::Stale)
                }
                _ => Verdict::Accept,
            },
            _ => Verdict::Accept,
        }
    }

    /// Records an envelope that claimed this stream but was rejected.
    pub fn on_rejected(&mut self) {
        self.counters.rejected_envelopes += 1;
        self.flag(Quality::REJECTED);
    }

    /// Applies an authenticated envelope: its sequence number, samples,
    /// watermark and flags. Appends every block that closes to `out`.
    pub fn on_envelope(
        &mut self,
        limits: &Limits,
        batch: &Batch<'_>,
        out: &mut Vec<ClosedWindow>,
    ) -> Verdict {
        let Batch {
            session,
            seq,
            samples,
            watermark,
            last: final_,
            backlog,
        } = *batch;
        if let Verdict::Reject(r) = self.precheck(session, seq) {
            return Verdict::Reject(r);
        }
        // Session bookkeeping.
        let new_session = self.session.as_ref().is_none_or(|s| s.id != session);
        if new_session {
            if self.session.as_ref().is_some_and(|s| !s.finalized) {
                self.counters.truncated_sessions += 1;
                self.flag(Quality::TRUNCATED);
            }
            self.session = Some(Session {
                id: session,
                tracker: SeqTracker::default(),
                finalized: false,
            });
        }
        let verdict = match self.session.as_mut() {
            Some(s) => s.tracker.accept(seq),
            None => SeqVerdict::Ahead { missing: 0 },
        };
        match verdict {
            SeqVerdict::Ahead { missing } if missing > 0 => {
                self.counters.missing_envelopes =
                    self.counters.missing_envelopes.saturating_add(missing);
                self.flag(Quality::GAP);
            }
            SeqVerdict::FillsHole => {
                self.counters.reordered_envelopes += 1;
                self.counters.missing_envelopes = self.counters.missing_envelopes.saturating_sub(1);
                self.flag(Quality::REORDERED);
            }
            _ => {}
        }
        self.counters.envelopes += 1;
        if backlog {
            self.flag(Quality::BACKLOG);
        }
        self.add_samples(limits, samples);
        self.advance(limits, watermark, out);
        if final_ {
            if let Some(s) = self.session.as_mut() {
                s.finalized = true;
            }
            self.flush(out);
        }
        Verdict::Accept
    }

    /// Adds a batch's samples. Consecutive samples of one block (the usual
    /// case) cost one block lookup per run, not one per sample.
    fn add_samples(&mut self, limits: &Limits, samples: &[RrSample]) {
        let mut rest = samples;
        while let Some(first) = rest.first() {
            let block = block_of(first.t_us);
            let lo = block * BLOCK_US;
            let hi = lo + BLOCK_US;
            let len = rest
                .iter()
                .position(|s| s.t_us < lo || s.t_us >= hi)
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(len);
            rest = tail;
            self.counters.samples += run.len() as u64;
            if self.closed_before.is_some_and(|c| block < c) {
                self.counters.late_samples += run.len() as u64;
                self.flag(Quality::LATE);
                continue;
            }
            let keep = self.keep_samples;
            let pending = std::mem::take(&mut self.pending);
            let b = self.open.entry(block).or_insert_with(|| OpenBlock {
                quality: pending,
                ..OpenBlock::default()
            });
            if keep {
                b.samples.reserve(run.len());
            }
            for s in run {
                if s.rr_us < limits.rr_min_us || s.rr_us > limits.rr_max_us {
                    self.counters.out_of_range_samples += 1;
                    b.quality |= Quality::OUT_OF_RANGE;
                    continue;
                }
                if b.sums_n >= u64::from(limits.max_samples_per_block) {
                    self.counters.overflow_samples += 1;
                    b.quality |= Quality::OVERFLOW;
                    continue;
                }
                let x = u128::from(s.rr_us);
                b.sums_n += 1;
                b.sums_sum += x;
                b.sums_sq += x * x;
                if keep {
                    // lo <= t < hi, so the offset fits in u32.
                    b.samples.push(((s.t_us - lo) as u32, s.rr_us));
                }
            }
        }
    }

    /// Moves the watermark and closes every block it has passed.
    fn advance(&mut self, limits: &Limits, watermark: EventTime, out: &mut Vec<ClosedWindow>) {
        if self.watermark.is_some_and(|w| watermark <= w) {
            return;
        }
        let watermark_us = watermark.micros();
        // Envelopes come every tick, data or not: an empty block that lies
        // wholly after the previous watermark and more than a block before
        // this one was covered by no envelope at all (a deleted session, a
        // gateway that was off) and is a gap, not a quiet block.
        let tick = self.cadence_us.max(BLOCK_US);
        if let Some(previous) = self.watermark {
            if watermark_us.saturating_sub(previous.micros()) > tick {
                self.uncovered = Some((previous.micros(), watermark.before(tick)));
            }
        }
        let uncovered = self.uncovered;
        self.watermark = Some(watermark);
        // Close from the first unclosed block; before anything has closed,
        // from the earliest block holding data (none: nothing to close yet).
        let Some(mut next) = self
            .closed_before
            .or_else(|| self.open.keys().next().copied())
        else {
            return;
        };
        let start = next;
        let horizon = watermark.before(limits.allowed_lateness_us);
        let mut emitted_empty = 0u32;
        while (next + 1).saturating_mul(BLOCK_US) < horizon {
            match self.open.remove(&next) {
                Some(b) => out.push(self.close(next, b)),
                None => {
                    if emitted_empty >= limits.max_empty_blocks_per_jump {
                        // Skip to the next open block, or to the horizon.
                        let resume = self
                            .open
                            .keys()
                            .next()
                            .copied()
                            .unwrap_or(horizon.div_euclid(BLOCK_US));
                        self.pending |= Quality::GAP;
                        next = resume;
                        continue;
                    }
                    emitted_empty += 1;
                    let lo = next.saturating_mul(BLOCK_US);
                    let hole = uncovered
                        .is_some_and(|(from, to)| lo >= from && lo.saturating_add(BLOCK_US) <= to);
                    let b = OpenBlock {
                        quality: std::mem::take(&mut self.pending)
                            | if hole {
                                Quality::GAP
                            } else {
                                Quality::INSUFFICIENT
                            },
                        ..OpenBlock::default()
                    };
                    out.push(self.close(next, b));
                }
            }
            next += 1;
        }
        if next != start || self.closed_before.is_some() {
            self.closed_before = Some(next);
        }
    }

    /// Turns a raw ECG or PPG batch into RR intervals (beat detection inside
    /// the TEE); returns the RR watermark. Lost samples are counted; they,
    /// and a change of sampling rate, flag the open windows `GAP`. See
    /// [`crate::ecg`].
    pub fn wave_to_rr(
        &mut self,
        limits: &Limits,
        kind: crate::ecg::WaveKind,
        batch: &aorta_wire::EcgBatch,
        last: bool,
        out: &mut Vec<RrSample>,
    ) -> Result<EventTime, Rejection> {
        let o = crate::ecg::ecg_to_rr(
            &mut self.ecg,
            kind,
            batch,
            last,
            limits.allowed_lateness_us,
            out,
        )?;
        self.counters.lost_wave_samples += o.lost_samples;
        if o.lost_samples > 0 || o.restarted {
            self.flag(Quality::GAP);
        }
        for span in o.noisy_spans {
            self.counters.noisy_segments += 1;
            // Adjacent flagged segments merge into one span.
            match self.noisy.back_mut() {
                Some(last) if last.1 >= span.0 => last.1 = last.1.max(span.1),
                _ => self.noisy.push_back(span),
            }
        }
        Ok(EventTime(o.watermark_us))
    }

    /// Runs the `clinical` operator on a closed block of this stream (if the
    /// block's algorithms include it), appending its records.
    pub fn clinical_step(
        &mut self,
        w: &ClosedWindow,
        thresholds: &aorta_wire::AlertThresholds,
        out: &mut Vec<aorta_wire::ResultRecord>,
    ) {
        if !w.algorithms.contains(Algorithm::Clinical) {
            return;
        }
        self.clinical
            .get_or_insert_with(Default::default)
            .on_block(w, thresholds, out);
    }

    /// The sender ended the current session with a handover (key rotation):
    /// later envelopes of that session are refused, and the next session is
    /// not reported as truncating it. Open blocks stay open.
    pub fn end_session_handover(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.finalized = true;
        }
    }

    /// Closes every open block (end of a session).
    fn flush(&mut self, out: &mut Vec<ClosedWindow>) {
        let open = std::mem::take(&mut self.open);
        let mut last = None;
        for (block, b) in open {
            out.push(self.close(block, b));
            last = Some(block);
        }
        if let Some(l) = last {
            self.closed_before = Some(self.closed_before.map_or(l + 1, |c| c.max(l + 1)));
        }
    }

    fn close(&mut self, block: i64, b: OpenBlock) -> ClosedWindow {
        self.counters.windows += 1;
        let start = block * BLOCK_US;
        let end = start + BLOCK_US;
        // Spans wholly before this block can touch no later one.
        while self.noisy.front().is_some_and(|s| s.1 <= start) {
            self.noisy.pop_front();
        }
        let noisy_spans: Vec<(i64, i64)> = self
            .noisy
            .iter()
            .take_while(|s| s.0 < end)
            .map(|s| (s.0.max(start), s.1.min(end)))
            .collect();
        let noisy_flag = if noisy_spans.is_empty() {
            0
        } else {
            Quality::NOISY
        };
        let mut samples: Vec<RrSample> = b
            .samples
            .iter()
            .map(|&(off, rr)| RrSample {
                t_us: start + i64::from(off),
                rr_us: rr,
            })
            .collect();
        // Stable: ties keep arrival order, as the paper's per-file order.
        samples.sort_by_key(|s| s.t_us);
        ClosedWindow {
            block,
            sums: BlockSums {
                n: b.sums_n,
                sum: b.sums_sum,
                sum_sq: b.sums_sq,
            },
            samples,
            quality: Quality(b.quality | noisy_flag),
            algorithms: self.algorithms_at(start),
            noisy_spans,
        }
    }

    /// Serialises the state for a checkpoint.
    pub fn to_bytes(&self) -> Result<Vec<u8>, crate::StateError> {
        Ok(postcard::to_allocvec(self)?)
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, crate::StateError> {
        Ok(postcard::from_bytes(b)?)
    }

    /// Approximate heap bytes held (for the memory report).
    pub fn heap_bytes(&self) -> usize {
        self.open
            .values()
            .map(|b| b.samples.capacity() * 8 + 64)
            .sum::<usize>()
            + self.algorithms.capacity() * 16
            + self.clinical.as_ref().map_or(0, |c| c.heap_bytes())
            + self.ecg.as_ref().map_or(0, |e| e.heap_bytes())
            + self.noisy.capacity() * 16
    }
}
