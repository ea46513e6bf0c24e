//! Issue 20: the clinician's receive path, envelope by envelope, under
//! what untrusted storage can do (a review's findings): another recipient's
//! envelopes are not forgeries, a tampered copy of a delivered envelope is
//! one, a record's source is its authenticated session wherever storage
//! put it, and what a follower forgot is not delivered again.

use std::collections::HashMap;

use aorta_clinic::feed::{Decryptor, ResultRow};
use aorta_envelope::session::results_channel;
use aorta_envelope::{KemKeypair, KemPublic, SenderSession};
use aorta_wire::{
    Algorithm, BodyFlags, Bucket, ContentType, Metric, Quality, ResultBatch, ResultRecord,
    SessionId, StreamId,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const PATIENT: StreamId = StreamId([7; 16]);

struct Fleet {
    fleet: KemKeypair,
    clinician: KemKeypair,
    rng: ChaCha20Rng,
}

impl Fleet {
    fn new() -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(20);
        Self {
            fleet: KemKeypair::generate(&mut rng),
            clinician: KemKeypair::generate(&mut rng),
            rng,
        }
    }

    /// A worker's result session to `to`.
    fn session(&mut self, to: &KemPublic, id: u64) -> SenderSession {
        SenderSession::start(
            ContentType::Results,
            1,
            results_channel(to),
            SessionId(id),
            to,
            &self.fleet.secret,
            &mut self.rng,
        )
        .unwrap()
    }

    fn decryptor(&self) -> Decryptor {
        Decryptor::new(
            aorta_envelope::KemSecret::from_bytes(*self.clinician.secret.expose_secret()),
            HashMap::from([(1, self.fleet.public)]),
            HashMap::from([(PATIENT, "alice".to_string())]),
        )
    }
}

/// One `hr` record of the 10-s block at `t_s`.
fn envelope(s: &mut SenderSession, t_s: i64) -> Vec<u8> {
    let r = ResultRecord {
        t_us: t_s * 1_000_000,
        window_ms: 10_000,
        algorithm: Algorithm::HeartRate,
        metric: Metric::Hr,
        value: 60.0 + t_s as f64 / 10.0,
        quality: Quality::default(),
        n: 10,
    };
    let mut content = Vec::new();
    ResultBatch::encode(PATIENT, &[r], &mut content);
    s.seal(
        Bucket::from_exponent(9).unwrap(),
        BodyFlags::default(),
        &content,
    )
    .unwrap()
}

fn times(rows: &[ResultRow]) -> Vec<i64> {
    let mut t: Vec<i64> = rows.iter().map(|r| r.record.t_us / 1_000_000).collect();
    t.sort_unstable();
    t
}

#[test]
fn another_recipients_envelopes_are_not_forgeries_and_cost_nothing() {
    let mut f = Fleet::new();
    let colleague = KemKeypair::generate(&mut f.rng);
    let me = f.clinician.public;
    let mut mine = f.session(&me, 1);
    let mut theirs = f.session(&colleague.public, 2);
    let mut d = f.decryptor();
    let mut rows = Vec::new();
    for t in [0, 10, 20] {
        d.open(0, envelope(&mut theirs, t), &mut rows);
        d.open(0, envelope(&mut mine, t), &mut rows);
    }
    assert_eq!(times(&rows), [0, 10, 20]);
    assert_eq!(d.stats.other_recipients, 3);
    assert_eq!(d.stats.rejected, 0, "{:?}", d.stats);
    assert!(!d.met_forgery());
}

#[test]
fn a_tampered_copy_of_a_delivered_envelope_is_a_forgery_not_a_repeat() {
    let mut f = Fleet::new();
    let me = f.clinician.public;
    let mut s = f.session(&me, 1);
    let genuine = envelope(&mut s, 0);
    let mut d = f.decryptor();
    let mut rows = Vec::new();
    d.open(0, genuine.clone(), &mut rows);
    d.open(0, genuine.clone(), &mut rows);
    assert_eq!(
        (rows.len(), d.stats.duplicates, d.stats.rejected),
        (1, 1, 0)
    );
    let mut tampered = genuine;
    let last = tampered.len() - 20;
    tampered[last] ^= 1;
    d.open(0, tampered, &mut rows);
    assert_eq!(rows.len(), 1);
    assert_eq!(d.stats.refused.unauthenticated, 1, "{:?}", d.stats);
    assert!(d.met_forgery());
}

#[test]
fn a_source_is_its_session_wherever_storage_puts_it() {
    let mut f = Fleet::new();
    let me = f.clinician.public;
    let mut s = f.session(&me, 1);
    // Two envelopes of one session carry records with one identity (a
    // window reported twice by its worker, e.g. two beats at one time).
    let a = envelope(&mut s, 0);
    let b = envelope(&mut s, 0);
    let mut d = f.decryptor();
    let mut rows = Vec::new();
    // Storage puts them in different partitions' logs: still one source.
    d.open(0, a.clone(), &mut rows);
    d.open(5, b, &mut rows);
    assert_eq!(rows.len(), 2, "{:?}", d.stats);
    // A copy in yet another partition is the same envelope: delivered once.
    d.open(9, a, &mut rows);
    assert_eq!((rows.len(), d.stats.duplicates), (2, 1));
    // The same window from another session (a second run) is a copy.
    let mut again = f.session(&me, 2);
    d.open(0, envelope(&mut again, 0), &mut rows);
    assert_eq!((rows.len(), d.stats.duplicates), (2, 2));
}

#[test]
fn what_a_follower_forgot_is_not_delivered_again() {
    let mut f = Fleet::new();
    let me = f.clinician.public;
    let mut s = f.session(&me, 1);
    let old = envelope(&mut s, 0);
    let mut d = f.decryptor();
    let mut rows = Vec::new();
    d.open(0, old.clone(), &mut rows);
    d.forget_before(100 * 1_000_000);
    d.open(0, old, &mut rows);
    assert_eq!(rows.len(), 1);
    assert_eq!(d.stats.expired, 1);
    // Newer results of the forgotten session still arrive.
    d.open(0, envelope(&mut s, 200), &mut rows);
    assert_eq!(times(&rows), [0, 200]);
}
