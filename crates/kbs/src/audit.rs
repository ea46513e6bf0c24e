//! The append-only audit log: one JSON object per line, each naming the
//! SHA-256 of the line before it (`prev`), so removing, reordering or
//! editing any record breaks the chain that [`verify_chain`] checks. Appends
//! take an exclusive lock and are flushed to disk before the decision they
//! record takes effect.
//!
//! Records name workers by id, TEE type and measurement, epochs and
//! reasons. They never hold key material, evidence bytes or report data.
//!
//! Requests come from anyone who can reach the broker's port, so whatever
//! they control is bounded and made inert before it is recorded
//! ([`sanitize`]: control and bidirectional-formatting characters escaped,
//! each field cut to a fixed length), and the chain is read from the end
//! of the file whatever a line's length, so no record can stop the next
//! append. Refusals are rate-limited by the broker: past the limit they are
//! counted and the count is written with the next refusal record
//! (`suppressed`), so a flood of bad requests costs bounded disk.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::KbsError;

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Event {
    /// `release`, `refuse`, `rotate`, `retire`, `revoke-worker`, `policy`, `start`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epochs: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Short SHA-256 of the policy in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Refusals since the previous refusal record that were counted but not
    /// recorded one by one (the broker's refusal rate limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<u64>,
}

/// Longest recorded `reason`, in bytes.
pub const MAX_REASON: usize = 512;
/// Longest recorded `worker`, `tee`, `measurement`, `policy` or `event`.
pub const MAX_FIELD: usize = 128;

/// `s`, safe to record and to print on a terminal: control characters and
/// Unicode bidirectional/format characters are escaped (`\u{1b}`), and the
/// result is cut at a character boundary to at most `max` bytes plus a
/// marker saying how many bytes were dropped.
pub fn sanitize(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max) + 24);
    for (i, c) in s.char_indices() {
        let dangerous = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}');
        let piece_len = if dangerous { 10 } else { c.len_utf8() };
        if out.len() + piece_len > max {
            out.push_str(&format!("…[{} more bytes]", s.len() - i));
            return out;
        }
        if dangerous {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

impl Event {
    /// The event with every field bounded and sanitised.
    fn bounded(self) -> Self {
        let f = |v: Option<String>, max| v.map(|s| sanitize(&s, max));
        Self {
            event: sanitize(&self.event, MAX_FIELD),
            worker: f(self.worker, MAX_FIELD),
            tee: f(self.tee, MAX_FIELD),
            measurement: f(self.measurement, MAX_FIELD),
            epochs: self.epochs.into_iter().take(64).collect(),
            reason: f(self.reason, MAX_REASON),
            policy: f(self.policy, MAX_FIELD),
            suppressed: self.suppressed,
        }
    }
}

/// A stored record: the event plus its position in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub time: u64,
    pub prev: String,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl std::fmt::Display) -> KbsError {
        KbsError::Io {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// Appends `event` at time `now`, chained to the last record.
    pub fn append(&self, event: Event, now: u64) -> Result<Record, KbsError> {
        let mut recs = self.record_with(now, || Ok::<_, KbsError>(vec![event]))?;
        recs.pop().ok_or_else(|| self.err("no record written"))
    }

    /// Runs `op` while holding the log's lock, after checking that the log
    /// can be appended to, and records the events it returns. An operation
    /// that fails records nothing; an operation whose record cannot be
    /// written is reported as failed, so no administrative change takes
    /// effect unrecorded because of a damaged log.
    pub fn record_with<E: From<KbsError>>(
        &self,
        now: u64,
        op: impl FnOnce() -> Result<Vec<Event>, E>,
    ) -> Result<Vec<Record>, E> {
        let mut f = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.err(e))?;
        f.lock().map_err(|e| self.err(e))?;
        let r = (|| {
            cut_torn_tail(&mut f).map_err(|e| self.err(e))?;
            let (mut seq, mut prev) = last_link(&mut f).map_err(|e| self.err(e))?;
            let events = op()?;
            let mut out = Vec::with_capacity(events.len());
            let mut lines = Vec::new();
            for event in events {
                let rec = Record {
                    seq,
                    time: now,
                    prev,
                    event: event.bounded(),
                };
                let start = lines.len();
                serde_json::to_writer(&mut lines, &rec).map_err(|e| self.err(e))?;
                prev = hex::encode(Sha256::digest(&lines[start..]));
                lines.push(b'\n');
                seq += 1;
                out.push(rec);
            }
            f.write_all(&lines).map_err(|e| self.err(e))?;
            f.sync_data().map_err(|e| self.err(e))?;
            Ok(out)
        })();
        let _ = f.unlock();
        r
    }

    /// Reads and checks the whole chain.
    pub fn read(&self) -> Result<Vec<Record>, KbsError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(self.err(e)),
        };
        verify_chain(&text)
    }
}

/// Cuts an unterminated last line: a record whose write a crash
/// interrupted before its fsync, so its decision never took effect.
fn cut_torn_tail(f: &mut File) -> std::io::Result<()> {
    const CHUNK: u64 = 64 * 1024;
    let len = f.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    f.seek(SeekFrom::Start(len - 1))?;
    f.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    let mut end = len;
    loop {
        let from = end.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; (end - from) as usize];
        f.seek(SeekFrom::Start(from))?;
        f.read_exact(&mut chunk)?;
        if let Some(nl) = chunk.iter().rposition(|b| *b == b'\n') {
            f.set_len(from + nl as u64 + 1)?;
            return f.sync_data();
        }
        if from == 0 {
            f.set_len(0)?;
            return f.sync_data();
        }
        end = from;
    }
}

/// The next record's `seq` and `prev` (the hash of the last line). Reads
/// backwards from the end in chunks until the line before the last one
/// ends, so a line of any length is found whole.
fn last_link(f: &mut File) -> std::io::Result<(u64, String)> {
    const CHUNK: u64 = 64 * 1024;
    let len = f.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok((0, GENESIS.to_string()));
    }
    let mut tail: Vec<u8> = Vec::new();
    let mut start = len;
    let last = loop {
        let from = start.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; (start - from) as usize];
        f.seek(SeekFrom::Start(from))?;
        f.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        start = from;
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(nl) = body.iter().rposition(|b| *b == b'\n') {
            break body.get(nl + 1..).unwrap_or_default();
        }
        if start == 0 {
            break body;
        }
    };
    let seq = serde_json::from_slice::<Record>(last)
        .map(|r| r.seq + 1)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok((seq, hex::encode(Sha256::digest(last))))
}

/// Parses `text` and checks that every record chains to the one before.
pub fn verify_chain(text: &str) -> Result<Vec<Record>, KbsError> {
    let mut prev = GENESIS.to_string();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let r: Record = serde_json::from_str(line).map_err(|e| KbsError::AuditChain {
            line: i + 1,
            reason: format!("not a record: {e}"),
        })?;
        if r.prev != prev || r.seq != i as u64 {
            return Err(KbsError::AuditChain {
                line: i + 1,
                reason: "does not follow the record before it (a record was removed, reordered or edited)".into(),
            });
        }
        prev = hex::encode(Sha256::digest(line.as_bytes()));
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_and_appends_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.log"));
        log.append(
            Event {
                event: "start".into(),
                ..Event::default()
            },
            1,
        )
        .unwrap();
        let mut f = OpenOptions::new().append(true).open(log.path()).unwrap();
        f.write_all(b"{\"seq\":1,\"time\":2,\"prev\":\"ab").unwrap();
        log.append(
            Event {
                event: "rotate".into(),
                ..Event::default()
            },
            3,
        )
        .unwrap();
        let recs = log.read().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].event.event, "rotate");
    }

    #[test]
    fn chain_detects_edit_removal_and_reorder() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.log"));
        for (i, e) in ["start", "release", "refuse", "rotate"].iter().enumerate() {
            log.append(
                Event {
                    event: e.to_string(),
                    epochs: vec![i as u32],
                    ..Event::default()
                },
                100 + i as u64,
            )
            .unwrap();
        }
        let recs = log.read().unwrap();
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[2].event.event, "refuse");
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let edited = text.replace("\"refuse\"", "\"release\"");
        assert!(matches!(
            verify_chain(&edited),
            Err(KbsError::AuditChain { line: 4, .. })
        ));
        let removed = [lines[0], lines[2], lines[3]].join("\n");
        assert!(verify_chain(&removed).is_err());
        let reordered = [lines[0], lines[2], lines[1], lines[3]].join("\n");
        assert!(verify_chain(&reordered).is_err());
    }
}
