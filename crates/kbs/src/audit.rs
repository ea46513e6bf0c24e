//! The append-only audit log: one JSON object per line, each naming the
//! SHA-256 of the line before it (`prev`), so removing, reordering or
//! editing any record breaks the chain that [`verify_chain`] checks. Appends
//! take an exclusive lock and are flushed to disk before the decision they
//! record takes effect.
//!
//! Records name workers by id, TEE type and measurement, epochs and
//! reasons. They never hold key material, evidence bytes or report data.

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
        let mut f = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.err(e))?;
        f.lock().map_err(|e| self.err(e))?;
        let r = self.append_locked(&mut f, event, now);
        let _ = f.unlock();
        r
    }

    fn append_locked(&self, f: &mut File, event: Event, now: u64) -> Result<Record, KbsError> {
        let (seq, prev) = last_link(f).map_err(|e| self.err(e))?;
        let rec = Record {
            seq,
            time: now,
            prev,
            event,
        };
        let mut line = serde_json::to_vec(&rec).map_err(|e| self.err(e))?;
        line.push(b'\n');
        f.write_all(&line).map_err(|e| self.err(e))?;
        f.sync_data().map_err(|e| self.err(e))?;
        Ok(rec)
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

/// The next record's `seq` and `prev` (the hash of the last line).
fn last_link(f: &mut File) -> std::io::Result<(u64, String)> {
    let len = f.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok((0, GENESIS.to_string()));
    }
    // Records are short; read a generous tail and take its last line.
    let start = len.saturating_sub(64 * 1024);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail)?;
    let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let last = body.rsplit(|b| *b == b'\n').next().unwrap_or(body);
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
