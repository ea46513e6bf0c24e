//! Committed results, followed and decrypted.

use std::collections::{BTreeMap, HashMap};

use aorta_envelope::{KemPublic, KemSecret, ReceiverSession};
use aorta_spool::{LogReader, Spool};
use aorta_transport::{PartitionId, TransportError};
use aorta_wire::{Body, ContentType, Header, ResultBatch, ResultRecord, StreamId};

pub use aorta_transport::CommittedRecords;

/// The results logs of a spool, followed incrementally (new partitions are
/// picked up as workers create them).
#[derive(Debug)]
pub struct SpoolResults {
    spool: Spool,
    logs: BTreeMap<u32, Follow>,
    /// Corrupt regions skipped and discontinuities seen.
    pub corrupt: u64,
}

#[derive(Debug)]
struct Follow {
    reader: LogReader,
    pending: Vec<Vec<u8>>,
}

impl SpoolResults {
    pub fn new(spool: Spool) -> Self {
        Self {
            spool,
            logs: BTreeMap::new(),
            corrupt: 0,
        }
    }
}

impl CommittedRecords for SpoolResults {
    fn poll_committed(&mut self, out: &mut Vec<(u32, Vec<u8>)>) -> Result<usize, TransportError> {
        for p in self.spool.result_partitions()? {
            if let std::collections::btree_map::Entry::Vacant(v) = self.logs.entry(p.0) {
                v.insert(Follow {
                    reader: self.spool.results_reader(PartitionId(p.0))?,
                    pending: Vec::new(),
                });
            }
        }
        let before = out.len();
        let mut first_error = None;
        let mut committed = Vec::new();
        for (p, f) in &mut self.logs {
            // One unreadable partition must not hold back the others.
            match f.reader.follow_committed(&mut f.pending, &mut committed) {
                Ok(c) => self.corrupt += c,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
            out.extend(committed.drain(..).map(|r| (*p, r)));
        }
        match first_error {
            Some(e) if out.len() == before => Err(e),
            _ => Ok(out.len() - before),
        }
    }
}

/// One decrypted result, named for the clinician.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub patient: String,
    pub stream: StreamId,
    pub record: ResultRecord,
}

/// What the decryptor saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResultStats {
    pub envelopes: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub corrupt: u64,
}

/// Record identity: (stream, algorithm, metric, time, window).
type Identity = (StreamId, u8, u8, i64, u32);

/// Opens result envelopes with the clinician key, authenticating the
/// sender as the fleet key of the epoch each names.
///
/// A replayed result envelope repeats (stream, session, seq) and is
/// dropped. Results replayed under other sessions (input copied to another
/// partition, a worker run twice on the same input) repeat a record's
/// identity from another *source* (partition and result session): the
/// first source to report an identity owns it, others' copies are dropped
/// and counted. Within one source nothing is de-duplicated by value (two
/// beats may share a timestamp).
pub struct Decryptor {
    clinician: KemSecret,
    fleet: HashMap<u32, KemPublic>,
    names: HashMap<StreamId, String>,
    sessions: HashMap<(StreamId, u64), ReceiverSession>,
    /// Per result session: highest sequence number seen and a 128-entry
    /// window below it (bounded, whatever the session's length).
    seen: HashMap<(StreamId, u64), (u64, u128)>,
    owner: HashMap<Identity, (u32, u64)>,
    pub stats: ResultStats,
}

/// `true` when `seq` is new for a window (highest, bitmap), which it then
/// records; older than the window counts as seen.
fn first_sight(w: &mut (u64, u128), seq: u64) -> bool {
    let (hi, bits) = w;
    if seq > *hi || (*hi == 0 && *bits == 0) {
        let shift = seq.saturating_sub(*hi);
        *bits = if shift >= 128 { 0 } else { *bits << shift };
        *bits |= 1;
        *hi = seq;
        return true;
    }
    let back = *hi - seq;
    if back >= 128 {
        return false;
    }
    let bit = 1u128 << back;
    if *bits & bit != 0 {
        return false;
    }
    *bits |= bit;
    true
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    pub fn new(
        clinician: KemSecret,
        fleet: HashMap<u32, KemPublic>,
        names: HashMap<StreamId, String>,
    ) -> Self {
        Self {
            clinician,
            fleet,
            names,
            sessions: HashMap::new(),
            seen: HashMap::new(),
            owner: HashMap::new(),
            stats: ResultStats::default(),
        }
    }

    /// Forgets record identities of windows that started before `t_us`
    /// (a follower that keeps only recent results calls this so that its
    /// memory stays bounded; older copies are then no longer recognised).
    pub fn forget_before(&mut self, t_us: i64) {
        self.owner.retain(|id, _| id.3 >= t_us);
    }

    /// Learns fleet keys and names added since (rotation, enrolment).
    pub fn update(&mut self, fleet: HashMap<u32, KemPublic>, names: HashMap<StreamId, String>) {
        self.fleet = fleet;
        self.names = names;
    }

    /// Opens one committed envelope read from `partition`, appending its
    /// rows to `out`.
    pub fn open(&mut self, partition: u32, mut env: Vec<u8>, out: &mut Vec<ResultRow>) {
        self.stats.envelopes += 1;
        let Ok(h) = Header::parse_envelope(&env) else {
            self.stats.rejected += 1;
            return;
        };
        if h.content != ContentType::Results {
            self.stats.rejected += 1;
            return;
        }
        if !first_sight(self.seen.entry((h.stream, h.session.0)).or_default(), h.seq) {
            self.stats.duplicates += 1;
            return;
        }
        let s = match self.sessions.entry((h.stream, h.session.0)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let Some(fleet) = self.fleet.get(&h.epoch) else {
                    self.stats.rejected += 1;
                    return;
                };
                match ReceiverSession::accept(&h, &self.clinician, fleet) {
                    Ok(s) => v.insert(s),
                    Err(_) => {
                        self.stats.rejected += 1;
                        return;
                    }
                }
            }
        };
        let Ok(body) = s.open(&h, &mut env) else {
            self.stats.rejected += 1;
            return;
        };
        let Ok((stream, records)) = Body::parse(body).and_then(|b| ResultBatch::decode(b.content))
        else {
            self.stats.rejected += 1;
            return;
        };
        let patient = self
            .names
            .get(&stream)
            .cloned()
            .unwrap_or_else(|| stream.to_hex());
        let source = (partition, h.session.0);
        for r in records {
            let id = (
                stream,
                r.algorithm as u8,
                r.metric as u8,
                r.t_us,
                r.window_ms,
            );
            if *self.owner.entry(id).or_insert(source) != source {
                self.stats.duplicates += 1;
                continue;
            }
            out.push(ResultRow {
                patient: patient.clone(),
                stream,
                record: r,
            });
        }
    }
}

/// Everything committed in `source`, decrypted and sorted by patient,
/// time, algorithm and metric.
pub fn read_all(
    source: &mut impl CommittedRecords,
    decryptor: &mut Decryptor,
) -> Result<Vec<ResultRow>, TransportError> {
    let mut envs = Vec::new();
    source.poll_committed(&mut envs)?;
    let mut rows = Vec::new();
    for (p, e) in envs {
        decryptor.open(p, e, &mut rows);
    }
    sort_rows(&mut rows);
    Ok(rows)
}

/// Sorts rows by patient, time, algorithm and metric.
pub fn sort_rows(rows: &mut [ResultRow]) {
    rows.sort_by(|a, b| {
        (
            &a.patient,
            a.record.t_us,
            a.record.algorithm,
            a.record.metric,
        )
            .cmp(&(
                &b.patient,
                b.record.t_us,
                b.record.algorithm,
                b.record.metric,
            ))
    });
}

/// Seconds with up to 6 decimals, trailing zeros trimmed.
pub fn fmt_time(t_us: i64) -> String {
    if t_us % 1_000_000 == 0 {
        format!("{}", t_us / 1_000_000)
    } else {
        let s = format!(
            "{}.{:06}",
            t_us.div_euclid(1_000_000),
            t_us.rem_euclid(1_000_000)
        );
        s.trim_end_matches('0').to_string()
    }
}

/// One line of the tidy CSV
/// (`patient,window_start,algorithm,metric,value,quality`), newline
/// included; names with commas or quotes are quoted.
pub fn csv_line(r: &ResultRow) -> String {
    // A name that a spreadsheet would read as a formula is prefixed with '.
    let patient = if r.patient.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{}", r.patient)
    } else {
        r.patient.clone()
    };
    let name = if patient.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", patient.replace('"', "\"\""))
    } else {
        patient
    };
    format!(
        "{name},{},{},{},{},{}\n",
        fmt_time(r.record.t_us),
        r.record.algorithm.name(),
        r.record.metric.name(),
        r.record.value,
        r.record.quality.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::first_sight;

    #[test]
    fn the_replay_window_is_bounded_and_exact() {
        let mut w = (0, 0);
        assert!(first_sight(&mut w, 0));
        assert!(!first_sight(&mut w, 0));
        assert!(first_sight(&mut w, 5));
        assert!(first_sight(&mut w, 3));
        assert!(!first_sight(&mut w, 3));
        assert!(first_sight(&mut w, 500));
        assert!(
            !first_sight(&mut w, 5),
            "older than the window counts as seen"
        );
        assert!(first_sight(&mut w, 499));
        assert!(!first_sight(&mut w, 500));
    }
}
