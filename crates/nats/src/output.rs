//! A partition's output: results and sealed checkpoints committed in one
//! atomic batch each, fenced against any other writer.

use std::time::{Duration, Instant};

use aorta_transport::{CommitLog, PartitionId, TransportError};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::HeaderMap;

use crate::{out_stream, out_subject, remote, Nats};

/// Header naming what a message of an output stream holds.
pub const KIND: &str = "Aorta-Kind";
/// Results: records packed as (u32 little-endian length, bytes)*.
pub const KIND_RESULTS: &str = "results";
/// A chunk of the sealed checkpoint, `Aorta-Part: i/n`; chunk n ends the batch.
pub const KIND_CHECKPOINT: &str = "checkpoint";
/// A new owner's fence, `Aorta-Owner: <worker id>`.
pub const KIND_FENCE: &str = "fence";
pub const PART: &str = "Aorta-Part";
/// The batch a message was committed in (also in `Nats-Batch-Id`, which
/// the server may not keep).
pub const BATCH: &str = "Aorta-Batch";
pub const OWNER: &str = "Aorta-Owner";
/// Messages in one atomic batch at most (the server's default limit).
pub const MAX_BATCH: usize = 1000;
/// Messages walked back at most to find the last commit.
const MAX_WALK: u64 = 100_000;

/// The output side of a partition this process owns. Opening it writes a
/// fence (so earlier owners can no longer commit) and finds the last commit.
pub struct NatsOutput {
    nats: Nats,
    partition: PartitionId,
    stream: String,
    subject: String,
    owner: String,
    /// The stream's last sequence as this owner wrote or saw it: every
    /// commit must find it unchanged.
    last_seq: u64,
    last_commit: Option<Vec<u8>>,
    /// Sequence of the first message of the last commit (for rewinding).
    last_commit_start: u64,
    pending: Vec<Vec<u8>>,
    batches: u64,
    max_chunk: usize,
    /// How long a commit keeps retrying while the broker cannot be reached.
    pub retry_for: Duration,
    /// The stream sequence after the fence this owner wrote.
    pub fenced_at: u64,
}

impl std::fmt::Debug for NatsOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsOutput")
            .field("partition", &self.partition.0)
            .field("last_seq", &self.last_seq)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

struct Stored {
    kind: String,
    part: Option<(u64, u64)>,
    owner: Option<String>,
    batch: Option<String>,
    payload: bytes::Bytes,
}

fn header(h: &Option<HeaderMap>, name: &str) -> Option<String> {
    h.as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_string())
}

fn parse_part(s: &str) -> Option<(u64, u64)> {
    let (i, n) = s.split_once('/')?;
    let (i, n) = (i.parse().ok()?, n.parse().ok()?);
    (1..=n).contains(&i).then_some((i, n))
}

impl NatsOutput {
    pub(crate) fn open(nats: Nats, p: PartitionId, owner: &str) -> Result<Self, TransportError> {
        let max_chunk = nats.max_payload().saturating_sub(8 * 1024).max(16 * 1024);
        let mut o = Self {
            stream: out_stream(p),
            subject: out_subject(p),
            nats,
            partition: p,
            owner: owner.to_string(),
            last_seq: 0,
            last_commit: None,
            last_commit_start: 0,
            pending: Vec::new(),
            batches: 0,
            max_chunk,
            retry_for: Duration::from_secs(300),
            fenced_at: 0,
        };
        o.fence()?;
        o.find_commit(o.last_seq)?;
        Ok(o)
    }

    fn last_sequence(&self) -> Result<u64, TransportError> {
        Ok(self.nats.stream_info(&self.stream)?.state.last_sequence)
    }

    fn read(&self, seq: u64) -> Result<Option<Stored>, TransportError> {
        Ok(self
            .nats
            .raw_message(&self.stream, crate::RawAt::Seq(seq))?
            .map(|m| {
                let h = Some(m.headers);
                Stored {
                    kind: header(&h, KIND).unwrap_or_default(),
                    part: header(&h, PART).as_deref().and_then(parse_part),
                    owner: header(&h, OWNER),
                    batch: header(&h, BATCH),
                    payload: m.payload,
                }
            }))
    }

    /// Writes this owner's fence after the stream's current end.
    fn fence(&mut self) -> Result<(), TransportError> {
        for _ in 0..10 {
            let last = self.last_sequence()?;
            let mut h = HeaderMap::new();
            h.insert(KIND, KIND_FENCE);
            h.insert(OWNER, self.owner.as_str());
            h.insert(
                async_nats::header::NATS_EXPECTED_LAST_SEQUENCE,
                last.to_string().as_str(),
            );
            let (nats, subject) = (self.nats.clone(), self.subject.clone());
            let r = self.nats.block(async move {
                nats.js()
                    .publish_with_headers(subject, h, bytes::Bytes::new())
                    .await?
                    .await
            });
            match r {
                Ok(ack) => {
                    self.last_seq = ack.sequence;
                    self.fenced_at = ack.sequence;
                    return Ok(());
                }
                // Someone wrote between our look and our fence: look again.
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => continue,
                Err(e) => return Err(remote(&format!("fencing {}", self.stream), e, true)),
            }
        }
        Err(remote(
            &format!("fencing {}", self.stream),
            "other writers kept writing; is another worker taking this partition at the same time?",
            true,
        ))
    }

    /// Finds the newest commit that ends at or before `from`, walking back
    /// over fences (and anything that is not a complete checkpoint).
    fn find_commit(&mut self, from: u64) -> Result<(), TransportError> {
        self.last_commit = None;
        self.last_commit_start = 0;
        let mut seq = from;
        let floor = from.saturating_sub(MAX_WALK);
        while seq > floor {
            let Some(m) = self.read(seq)? else {
                seq -= 1;
                continue;
            };
            if m.kind == KIND_CHECKPOINT {
                if let Some((i, n)) = m.part {
                    if i == n && n <= seq {
                        if let Some(c) = self.assemble(seq + 1 - n, n, m.batch.as_deref())? {
                            self.last_commit = Some(c);
                            self.last_commit_start = self.batch_start(seq + 1 - n, &m.batch)?;
                            return Ok(());
                        }
                    }
                }
            }
            seq -= 1;
        }
        Ok(())
    }

    /// The first sequence of the batch whose checkpoint starts at `ckpt_start`.
    fn batch_start(&self, ckpt_start: u64, batch: &Option<String>) -> Result<u64, TransportError> {
        let mut s = ckpt_start;
        while s > 1 {
            match self.read(s - 1)? {
                Some(m) if m.kind == KIND_RESULTS && &m.batch == batch => s -= 1,
                _ => break,
            }
        }
        Ok(s)
    }

    fn assemble(
        &self,
        first: u64,
        n: u64,
        batch: Option<&str>,
    ) -> Result<Option<Vec<u8>>, TransportError> {
        let mut out = Vec::new();
        for (k, seq) in (first..first + n).enumerate() {
            match self.read(seq)? {
                Some(m)
                    if m.kind == KIND_CHECKPOINT
                        && m.part == Some((k as u64 + 1, n))
                        && m.batch.as_deref() == batch =>
                {
                    out.extend_from_slice(&m.payload)
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    fn messages(&self, checkpoint: &[u8]) -> Vec<(HeaderMap, bytes::Bytes)> {
        let mut out = Vec::new();
        let mut chunk: Vec<u8> = Vec::new();
        for r in &self.pending {
            if !chunk.is_empty() && chunk.len() + 4 + r.len() > self.max_chunk {
                out.push(results_msg(std::mem::take(&mut chunk)));
            }
            chunk.extend_from_slice(&(r.len() as u32).to_le_bytes());
            chunk.extend_from_slice(r);
        }
        if !chunk.is_empty() {
            out.push(results_msg(chunk));
        }
        let parts: Vec<&[u8]> = if checkpoint.is_empty() {
            vec![&[][..]]
        } else {
            checkpoint.chunks(self.max_chunk).collect()
        };
        let n = parts.len();
        for (i, c) in parts.into_iter().enumerate() {
            let mut h = HeaderMap::new();
            h.insert(KIND, KIND_CHECKPOINT);
            h.insert(PART, format!("{}/{n}", i + 1).as_str());
            out.push((h, bytes::Bytes::copy_from_slice(c)));
        }
        out
    }

    /// What follows `last_seq` now, if anything: who fenced us out.
    fn fenced_reason(&self) -> String {
        match self.last_sequence() {
            Ok(last) if last > self.last_seq => {
                let owner = self
                    .read(last)
                    .ok()
                    .flatten()
                    .and_then(|m| m.owner.or(m.batch))
                    .unwrap_or_else(|| "unknown".into());
                format!(
                    "its output stream was written after sequence {} by {owner} (now at {last})",
                    self.last_seq
                )
            }
            _ => format!(
                "its output stream no longer ends at sequence {}",
                self.last_seq
            ),
        }
    }

    async fn publish_batch(
        nats: Nats,
        subject: String,
        msgs: Vec<(HeaderMap, bytes::Bytes)>,
    ) -> Result<u64, async_nats::jetstream::context::PublishError> {
        let n = msgs.len();
        let mut ack = None;
        for (i, (h, payload)) in msgs.into_iter().enumerate() {
            if i + 1 < n {
                nats.client()
                    .publish_with_headers(subject.clone(), h, payload)
                    .await
                    .map_err(|e| {
                        async_nats::jetstream::context::PublishError::with_source(
                            PublishErrorKind::BrokenPipe,
                            e,
                        )
                    })?;
            } else {
                ack = Some(
                    nats.js()
                        .publish_with_headers(subject.clone(), h, payload)
                        .await?
                        .await?,
                );
            }
        }
        Ok(ack.map_or(0, |a| a.sequence))
    }
}

fn results_msg(chunk: Vec<u8>) -> (HeaderMap, bytes::Bytes) {
    let mut h = HeaderMap::new();
    h.insert(KIND, KIND_RESULTS);
    (h, bytes::Bytes::from(chunk))
}

/// Splits a results message into its records; `None` if it is malformed.
pub fn unpack(payload: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        if tail.len() < len {
            return None;
        }
        let (rec, tail) = tail.split_at(len);
        out.push(rec);
        rest = tail;
    }
    Some(out)
}

impl CommitLog for NatsOutput {
    fn last_commit(&self) -> Option<&[u8]> {
        self.last_commit.as_deref()
    }

    fn append(&mut self, records: &[&[u8]]) -> Result<(), TransportError> {
        self.pending.extend(records.iter().map(|r| r.to_vec()));
        Ok(())
    }

    fn commit(&mut self, checkpoint: &[u8]) -> Result<(), TransportError> {
        let mut msgs = self.messages(checkpoint);
        if msgs.len() > MAX_BATCH {
            return Err(TransportError::TooLarge {
                len: msgs.iter().map(|m| m.1.len()).sum(),
                max: MAX_BATCH * self.max_chunk,
            });
        }
        self.batches += 1;
        let batch_id = format!("{}-{}-{}", self.owner, self.fenced_at, self.batches);
        let n = msgs.len();
        for (i, (h, _)) in msgs.iter_mut().enumerate() {
            h.insert("Nats-Batch-Id", batch_id.as_str());
            h.insert(BATCH, batch_id.as_str());
            h.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
            if i == 0 {
                h.insert(
                    async_nats::header::NATS_EXPECTED_LAST_SEQUENCE,
                    self.last_seq.to_string().as_str(),
                );
            }
            if i + 1 == n {
                h.insert("Nats-Batch-Commit", "1");
            }
        }
        let started = Instant::now();
        let mut wait = Duration::from_millis(100);
        loop {
            let (nats, subject, batch) = (self.nats.clone(), self.subject.clone(), msgs.clone());
            match self.nats.block(Self::publish_batch(nats, subject, batch)) {
                Ok(seq) => {
                    self.last_commit_start = self.last_seq + 1;
                    self.last_seq = seq;
                    self.last_commit = Some(checkpoint.to_vec());
                    self.pending.clear();
                    return Ok(());
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    return Err(TransportError::Fenced {
                        partition: self.partition.0,
                        reason: self.fenced_reason(),
                    });
                }
                Err(e) => {
                    // Did the batch land before the answer was lost?
                    if let Ok(last) = self.last_sequence() {
                        if last > self.last_seq {
                            match self.read(last) {
                                Ok(Some(m)) if m.batch.as_deref() == Some(batch_id.as_str()) => {
                                    self.last_commit_start = self.last_seq + 1;
                                    self.last_seq = last;
                                    self.last_commit = Some(checkpoint.to_vec());
                                    self.pending.clear();
                                    return Ok(());
                                }
                                Ok(Some(_)) => {
                                    return Err(TransportError::Fenced {
                                        partition: self.partition.0,
                                        reason: self.fenced_reason(),
                                    })
                                }
                                _ => {}
                            }
                        }
                    }
                    if started.elapsed() >= self.retry_for {
                        return Err(remote(&format!("committing to {}", self.stream), e, true));
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    fn rewind_commit(&mut self) -> Result<bool, TransportError> {
        if self.last_commit.is_none() {
            return Ok(false);
        }
        // Nothing is deleted (the stream denies it); this owner just looks
        // further back. Readers skip checkpoints, and a forged commit's
        // results do not open for clinicians.
        let before = self.last_commit_start.saturating_sub(1);
        self.find_commit(before)?;
        Ok(true)
    }
}
