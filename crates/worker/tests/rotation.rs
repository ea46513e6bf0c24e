//! Fleet key rotation mid-stream (issue 4, criterion 2, the worker's half):
//! gateways switch every stream to a new epoch at a tick boundary; the
//! worker fetches the new epoch's key when its first envelope arrives, and
//! the results equal a run without rotation — nothing lost, nothing
//! duplicated, no session reported as truncated. A broker that cannot be
//! asked stops the worker without committing past the envelope, and a
//! restart resumes exactly. Envelopes naming an epoch the broker does not
//! release are rejected and affect no one else.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aorta_envelope::{KemKeypair, KemPublic, KemSecret};
use aorta_runtime::Rejection;
use aorta_testkit::{Fleet, MemInput, MemLog};
use aorta_wire::{AlgorithmSet, Header, Quality, ResultRecord, StreamId};
use aorta_worker::{
    KeyFetchError, KeySource, Keyring, Worker, WorkerConfig, WorkerError, WorkerKeys,
};

const START_US: i64 = 1_700_000_000_000_000;
const TICKS: i64 = 36;
const ROTATE_AT: i64 = 17;

fn fleet() -> Fleet {
    Fleet::new(
        21,
        3,
        AlgorithmSet::parse("sdnn,hrv-bands,hr,rmssd").unwrap(),
    )
}

fn epoch2() -> KemKeypair {
    KemKeypair::generate(&mut Fleet::rng(77))
}

fn copy(k: &KemSecret) -> KemSecret {
    KemSecret::from_bytes(*k.expose_secret())
}

/// Envelopes in tick order; with `rotate`, every stream switches to
/// epoch 2 at tick [`ROTATE_AT`].
fn produce(f: &Fleet, rotate: Option<&KemPublic>) -> Vec<Vec<u8>> {
    f.produce(START_US, TICKS, rotate.map(|k| (ROTATE_AT, k, 2)))
}

/// The broker, as the worker sees it: releases `keys`, counts the asks.
struct Broker {
    keys: Vec<(u32, [u8; 32])>,
    asked: Arc<AtomicUsize>,
    fail: Option<KeyFetchError>,
}

impl KeySource for Broker {
    fn fetch(&mut self) -> Result<Vec<(u32, KemSecret)>, KeyFetchError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if let Some(e) = &self.fail {
            return Err(e.clone());
        }
        Ok(self
            .keys
            .iter()
            .map(|(e, k)| (*e, KemSecret::from_bytes(*k)))
            .collect())
    }
}

fn worker(
    f: &Fleet,
    input: MemInput,
    log: MemLog,
    source: Option<Box<dyn KeySource>>,
) -> Result<Worker<MemInput, MemLog, rand_chacha::ChaCha20Rng>, WorkerError> {
    Worker::new(
        WorkerConfig {
            checkpoint_every: 16,
            checkpoint_state_ratio: 0,
            ..WorkerConfig::default()
        },
        input,
        f.enrolments(),
        log,
        WorkerKeys {
            fleet: Keyring::new([(1, copy(&f.fleet.secret))]),
            controller: f.controller.verifying_key(),
            source,
        },
        Fleet::rng(5),
        Box::new(|| 1),
    )
}

type Results = BTreeMap<StreamId, Vec<ResultRecord>>;

/// The clinician's side: results are authenticated by the epoch they name.
fn decrypt(f: &Fleet, e2: &KemPublic, log: &MemLog) -> Results {
    let keys: BTreeMap<u32, KemPublic> = [(1, f.fleet.public), (2, *e2)].into();
    log.decrypt_results(&f.clinician.secret, |epoch| keys[&epoch])
}

fn broker(k2: &KemKeypair, fail: Option<KeyFetchError>) -> (Box<dyn KeySource>, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let f = fleet();
    let b = Broker {
        keys: vec![
            (1, *f.fleet.secret.expose_secret()),
            (2, *k2.secret.expose_secret()),
        ],
        asked: asked.clone(),
        fail,
    };
    (Box::new(b), asked)
}

/// The same data without rotation, decrypted: what every run must equal.
fn baseline(f: &Fleet, k2: &KemKeypair) -> Results {
    let mut plain = worker(f, MemInput::new(produce(f, None)), MemLog::default(), None).unwrap();
    plain.drain(|_| {}).unwrap();
    decrypt(f, &k2.public, plain.output_mut())
}

#[test]
fn rotation_mid_stream_loses_and_duplicates_nothing() {
    let f = fleet();
    let k2 = epoch2();
    let base = baseline(&f, &k2);

    let (source, asked) = broker(&k2, None);
    let mut w = worker(
        &f,
        MemInput::new(produce(&f, Some(&k2.public))),
        MemLog::default(),
        Some(source),
    )
    .unwrap();
    w.drain(|_| {}).unwrap();
    let r = w.report();
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "one fetch for the new epoch"
    );
    assert_eq!(w.epochs(), vec![1, 2]);
    assert_eq!(r.counters.rejected.values().sum::<u64>(), 0);
    assert_eq!(r.truncated_sessions, 0);
    assert_eq!(r.missing_envelopes, 0);
    let got = decrypt(&f, &k2.public, w.output_mut());
    assert_eq!(base.len(), 3);
    for (s, recs) in &base {
        assert_eq!(recs.len(), 36 * 9);
        assert_eq!(
            got.get(s),
            Some(recs),
            "stream {s}: rotation changed results"
        );
        assert!(recs.iter().all(|r| r.quality == Quality::default()));
    }
}

#[test]
fn an_unreachable_broker_stops_the_worker_and_a_restart_resumes_exactly() {
    let f = fleet();
    let k2 = epoch2();
    let input = produce(&f, Some(&k2.public));
    let base = baseline(&f, &k2);

    let (down, asked) = broker(
        &k2,
        Some(KeyFetchError::Unavailable {
            reason: "connection refused".into(),
        }),
    );
    let mut w = worker(
        &f,
        MemInput::new(input.clone()),
        MemLog::default(),
        Some(down),
    )
    .unwrap();
    let err = w.drain(|_| {}).unwrap_err();
    assert!(
        matches!(err, WorkerError::KeyUnavailable { epoch: 2, .. }),
        "{err}"
    );
    assert!(err.retryable(), "an unreachable broker is worth retrying");
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    // What survives is what was committed; restart with the broker back.
    let log = w.output_mut().after_crash();
    assert!(
        !log.committed.is_empty(),
        "results before the rotation were committed"
    );
    let (up, _) = broker(&k2, None);
    let mut w = worker(&f, MemInput::new(input), log, Some(up)).unwrap();
    w.drain(|_| {}).unwrap();
    assert_eq!(decrypt(&f, &k2.public, w.output_mut()), base);
}

/// A broker that answers and refuses (revoked worker) is not the same as
/// one that is down: the error says retrying will not help, and nothing
/// past the envelope that needed the key is committed.
#[test]
fn a_broker_that_refuses_stops_the_worker_with_a_fatal_error() {
    let f = fleet();
    let k2 = epoch2();
    let input = produce(&f, Some(&k2.public));
    let (refusing, _) = broker(
        &k2,
        Some(KeyFetchError::Refused {
            reason: "worker revoked".into(),
        }),
    );
    let mut w = worker(&f, MemInput::new(input), MemLog::default(), Some(refusing)).unwrap();
    let err = w.drain(|_| {}).unwrap_err();
    assert!(
        matches!(&err, WorkerError::KeyRefused { epoch: 2, reason } if reason == "worker revoked"),
        "{err}"
    );
    assert!(!err.retryable());
    assert!(err.to_string().contains("refused this worker"), "{err}");
}

#[test]
fn a_checkpoint_sealed_under_a_new_epoch_needs_that_epoch() {
    let f = fleet();
    let k2 = epoch2();
    let input = produce(&f, Some(&k2.public));
    let (source, _) = broker(&k2, None);
    let mut w = worker(
        &f,
        MemInput::new(input.clone()),
        MemLog::default(),
        Some(source),
    )
    .unwrap();
    w.drain(|_| {}).unwrap();
    let log = w.output_mut().after_crash();
    // Only epoch 1 and no broker: the checkpoint cannot be opened.
    let err = worker(&f, MemInput::new(input.clone()), log.clone(), None).unwrap_err();
    assert!(
        matches!(err, WorkerError::KeyUnavailable { epoch: 2, .. }),
        "{err}"
    );
    // With the broker, the worker obtains epoch 2 and resumes at the end.
    let (source, asked) = broker(&k2, None);
    let mut w = worker(&f, MemInput::new(input), log, Some(source)).unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(w.drain(|_| {}).unwrap(), 0, "nothing left to process");
}

#[test]
fn an_epoch_the_broker_does_not_release_is_rejected_and_isolated() {
    let f = fleet();
    let k2 = epoch2();
    let mut input = produce(&f, None);
    let base = baseline(&f, &k2);
    // The host relabels two envelopes of stream 0 to epoch 99: the first of
    // its session (the worker asks the broker, which has no epoch 99) and a
    // later one (the session's key is already known, so it fails
    // authentication without asking anyone).
    let victim = f.devices[0].stream;
    for i in [0, 3 * 5] {
        assert_eq!(Header::parse_envelope(&input[i]).unwrap().stream, victim);
        input[i][8..12].copy_from_slice(&99u32.to_le_bytes());
    }
    let (source, asked) = broker(&k2, None);
    let mut w = worker(&f, MemInput::new(input), MemLog::default(), Some(source)).unwrap();
    w.drain(|_| {}).unwrap();
    let r = w.report();
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(r.counters.rejected.get(&Rejection::UnknownEpoch), Some(&1));
    assert_eq!(
        r.counters.rejected.get(&Rejection::Unauthenticated),
        Some(&1)
    );
    let got = decrypt(&f, &k2.public, w.output_mut());
    for (s, recs) in &base {
        if *s != victim {
            assert_eq!(got.get(s), Some(recs));
        }
    }
    assert!(got[&victim]
        .iter()
        .any(|r| r.quality.contains(Quality::GAP | Quality::REJECTED)));
}

/// Issue 20 review: a replayed envelope relabelled to an epoch nobody holds
/// is refused as a replay, before the key broker is asked anything (one
/// question per forged header would let the host make every worker attest
/// again at will).
#[test]
fn a_replay_relabelled_to_a_future_epoch_asks_no_one() {
    let f = fleet();
    let k2 = epoch2();
    let mut input = produce(&f, None);
    let mut replay = input[0].clone();
    replay[8..12].copy_from_slice(&99u32.to_le_bytes());
    input.push(replay);
    let (source, asked) = broker(&k2, None);
    let mut w = worker(&f, MemInput::new(input), MemLog::default(), Some(source)).unwrap();
    w.drain(|_| {}).unwrap();
    let r = w.report();
    assert_eq!(asked.load(Ordering::SeqCst), 0, "the broker was asked");
    assert_eq!(r.counters.rejected.get(&Rejection::Replay), Some(&1));
    assert_eq!(r.counters.rejected.get(&Rejection::UnknownEpoch), None);
}
