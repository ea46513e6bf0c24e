//! Committed results, followed and decrypted.

use std::collections::HashMap;

use aorta_envelope::receive::AlreadyDelivered;
use aorta_envelope::{ExactlyOnce, KemPublic, KemSecret, Receiver, Refused, Sealed};
use aorta_transport::TransportError;
use aorta_wire::{Body, ContentType, ResultBatch, ResultRecord, StreamId};

pub use aorta_transport::CommittedRecords;

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
    /// Envelopes refused: the sum of [`ResultStats::refused`].
    pub rejected: u64,
    /// Copies of genuine envelopes or records already delivered.
    pub duplicates: u64,
    pub corrupt: u64,
    /// Result envelopes for another recipient of the same results (an
    /// enrolment may name several clinicians): not this clinician's to open,
    /// not a forgery.
    pub other_recipients: u64,
    /// Records older than what a follower keeps ([`Decryptor::forget_before`]).
    pub expired: u64,
    /// Why envelopes were refused.
    pub refused: Refusals,
}

/// Refused result envelopes by reason. None of these can come from an
/// honest worker through honest storage: each is a forgery, a result of
/// another deployment, or damage.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Refusals {
    /// The header does not parse, or its length is not its bucket's.
    pub malformed: u64,
    /// Not a result envelope.
    pub wrong_content: u64,
    /// Names a fleet key epoch this clinician does not know.
    pub unknown_epoch: u64,
    /// Did not authenticate as the fleet's to this clinician.
    pub unauthenticated: u64,
    /// An unencrypted (`dangerous_plaintext`) envelope.
    pub plaintext: u64,
    /// Authenticated, but its content does not decode.
    pub bad_content: u64,
}

impl Refusals {
    /// `(reason, count)` for every reason that occurred, for reports.
    pub fn nonzero(&self) -> Vec<(&'static str, u64)> {
        [
            ("malformed", self.malformed),
            ("wrong-content", self.wrong_content),
            ("unknown-epoch", self.unknown_epoch),
            ("unauthenticated", self.unauthenticated),
            ("plaintext", self.plaintext),
            ("bad-content", self.bad_content),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// Record identity: (stream, algorithm, metric, time, window).
type Identity = (StreamId, u8, u8, i64, u32);

/// A source of records: one authenticated result session, known by what
/// its key agreement binds (epoch, session id, the first bytes of its
/// encapsulated key), never by where storage put it.
type Source = (u32, u64, u64);

/// Opens result envelopes with the clinician key, authenticating the
/// sender as the fleet key of the epoch each names, through the one
/// receiver for sealed streams ([`aorta_envelope::Receiver`]): nothing a
/// forged envelope claims moves any state here.
///
/// Every genuine envelope is delivered exactly once whatever the order
/// and however often storage hands it over ([`ExactlyOnce`]). Results
/// replayed under other sessions (input copied to another partition, a
/// worker run twice on the same input) repeat a record's identity from
/// another *source* (an authenticated result session, wherever storage put
/// it): the first source to report an identity owns it, others' copies are
/// dropped and counted. Within one source nothing is de-duplicated by
/// value (two beats may share a timestamp).
pub struct Decryptor {
    clinician: KemSecret,
    /// The clinician's results channel: envelopes on others are not theirs.
    channel: StreamId,
    fleet: HashMap<u32, KemPublic>,
    names: HashMap<StreamId, String>,
    receiver: Receiver,
    delivered: ExactlyOnce,
    owner: HashMap<Identity, Source>,
    /// Per source, its newest record's time and a header of it (to forget
    /// the source once it is older than what is kept).
    newest: HashMap<Source, (i64, aorta_wire::Header)>,
    /// Records older than this are no longer delivered.
    horizon: i64,
    pub stats: ResultStats,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Result sessions kept per results channel: every partition's worker
/// seals to the same channel, so this is about the partitions times the
/// restarts a follower sees at once. More only costs key agreements.
const SESSIONS_PER_CHANNEL: usize = 4096;

impl Decryptor {
    pub fn new(
        clinician: KemSecret,
        fleet: HashMap<u32, KemPublic>,
        names: HashMap<StreamId, String>,
    ) -> Self {
        // A key that gives no public key opens nothing: every envelope is
        // then another recipient's, and `aorta results` says none opened.
        let channel = clinician
            .public()
            .map(|p| aorta_envelope::session::results_channel(&p))
            .unwrap_or(StreamId([0; 16]));
        Self {
            clinician,
            channel,
            fleet,
            names,
            receiver: Receiver::new(SESSIONS_PER_CHANNEL),
            delivered: ExactlyOnce::default(),
            owner: HashMap::new(),
            newest: HashMap::new(),
            horizon: i64::MIN,
            stats: ResultStats::default(),
        }
    }

    /// Forgets what it knows of windows that started before `t_us`: their
    /// record identities, and the sessions whose newest record is older (a
    /// follower that keeps only recent results calls this so that its
    /// memory stays bounded). Records older than `t_us` are no longer
    /// delivered, so a copy stored again cannot bring them back.
    pub fn forget_before(&mut self, t_us: i64) {
        self.horizon = self.horizon.max(t_us);
        self.owner.retain(|id, _| id.3 >= t_us);
        let delivered = &mut self.delivered;
        self.newest.retain(|_, (newest, h)| {
            let keep = *newest >= t_us;
            if !keep {
                delivered.forget(h);
            }
            keep
        });
    }

    /// Learns fleet keys and names added since (rotation, enrolment).
    pub fn update(&mut self, fleet: HashMap<u32, KemPublic>, names: HashMap<StreamId, String>) {
        self.fleet = fleet;
        self.names = names;
    }

    /// Whether anything was refused so far (forged, foreign or damaged).
    pub fn met_forgery(&self) -> bool {
        self.stats.rejected > 0
    }

    fn refuse(&mut self, reason: impl FnOnce(&mut Refusals) -> &mut u64) {
        self.stats.rejected += 1;
        *reason(&mut self.stats.refused) += 1;
    }

    /// Opens one committed envelope, appending its rows to `out`.
    /// `partition` is where storage says it read it: trusted for nothing.
    pub fn open(&mut self, _partition: u32, mut env: Vec<u8>, out: &mut Vec<ResultRow>) {
        self.stats.envelopes += 1;
        let Ok(sealed) = Sealed::parse(&mut env) else {
            self.refuse(|r| &mut r.malformed);
            return;
        };
        let claims = sealed.claims();
        if claims.content != ContentType::Results {
            self.refuse(|r| &mut r.wrong_content);
            return;
        }
        if claims.stream != self.channel {
            // Sealed to another recipient (or claiming to be): nothing to
            // open here, at no cost.
            self.stats.other_recipients += 1;
            return;
        }
        let Some(fleet) = self.fleet.get(&claims.epoch) else {
            self.refuse(|r| &mut r.unknown_epoch);
            return;
        };
        let opened = match self
            .receiver
            .open(sealed, &self.clinician, fleet, &mut self.delivered)
        {
            Ok(o) => o,
            Err(Refused::NotFresh(AlreadyDelivered)) => {
                self.stats.duplicates += 1;
                return;
            }
            Err(Refused::Unauthenticated) => {
                self.refuse(|r| &mut r.unauthenticated);
                return;
            }
            Err(Refused::Plaintext) => {
                self.refuse(|r| &mut r.plaintext);
                return;
            }
        };
        let h = opened.header();
        let mut enc8 = [0u8; 8];
        enc8.copy_from_slice(&h.enc[..8]);
        let source: Source = (h.epoch, h.session.0, u64::from_le_bytes(enc8));
        let Ok((stream, records)) =
            Body::parse(opened.body()).and_then(|b| ResultBatch::decode(b.content))
        else {
            self.refuse(|r| &mut r.bad_content);
            return;
        };
        let patient = self
            .names
            .get(&stream)
            .cloned()
            .unwrap_or_else(|| stream.to_hex());
        let newest_here = records.iter().map(|r| r.t_us).max();
        if let Some(t) = newest_here.filter(|t| *t >= self.horizon) {
            let n = self
                .newest
                .entry(source)
                .or_insert_with(|| (t, opened.header().clone()));
            n.0 = n.0.max(t);
        }
        for r in records {
            if r.t_us < self.horizon {
                self.stats.expired += 1;
                continue;
            }
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
