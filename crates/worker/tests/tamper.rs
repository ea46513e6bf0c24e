//! Acceptance (issue 2, criterion 3): flipping any byte of a stored envelope,
//! replaying one, reordering, dropping one, and injecting one built with the
//! fleet public key but without the enrolled device key are each rejected or
//! reported with a reason, counted, and leave every other patient's results
//! unchanged. Also: restart from any checkpoint gives the same results.

use std::collections::BTreeMap;

use aorta_envelope::KemKeypair;
use aorta_gateway::StreamSender;
use aorta_runtime::Rejection;
use aorta_testkit::{Fleet, MemInput, MemLog};
use aorta_wire::{AlgorithmSet, Quality, ResultRecord, SessionId, StreamId};
use aorta_worker::{Keyring, Worker, WorkerConfig, WorkerKeys, WorkerReport};

const START_US: i64 = 1_700_000_000_000_000;
const TICKS: i64 = 36; // 6 minutes at the default 10-s cadence

fn fleet() -> Fleet {
    Fleet::new(
        7,
        3,
        AlgorithmSet::parse("sdnn,hrv-bands,hr,rmssd").unwrap(),
    )
}

/// Envelopes in tick order, devices interleaved: index = tick * n + device.
fn produce(f: &Fleet) -> Vec<Vec<u8>> {
    f.produce(START_US, TICKS, None)
}

type Results = BTreeMap<StreamId, Vec<ResultRecord>>;

fn decrypt(f: &Fleet, log: &MemLog) -> Results {
    log.decrypt_results(&f.clinician.secret, |_| f.fleet.public)
}

fn worker(
    f: &Fleet,
    input: MemInput,
    control: MemInput,
    log: MemLog,
    every: u64,
) -> Worker<MemInput, MemLog, rand_chacha::ChaCha20Rng> {
    let fleet_secret = aorta_envelope::KemSecret::from_bytes(*f.fleet.secret.expose_secret());
    let cfg = WorkerConfig {
        checkpoint_every: every,
        ..WorkerConfig::default()
    };
    let keys = WorkerKeys {
        fleet: Keyring::new([(1, fleet_secret)]),
        controller: f.controller.verifying_key(),
        source: None,
    };
    Worker::new(
        cfg,
        input,
        control,
        log,
        keys,
        Fleet::rng(5),
        Box::new(|| 1),
    )
    .unwrap()
}

/// Runs the worker over `input` with `control` (signed enrolments) to the end.
fn run_with_control(f: &Fleet, input: Vec<Vec<u8>>, control: MemInput) -> (Results, WorkerReport) {
    let mut w = worker(f, MemInput::new(input), control, MemLog::default(), 1024);
    w.drain(|_| {}).unwrap();
    let report = w.report();
    let log = std::mem::take(w.output_mut());
    (decrypt(f, &log), report)
}

fn run(f: &Fleet, input: Vec<Vec<u8>>) -> (Results, WorkerReport) {
    run_with_control(f, input, f.enrolments())
}

fn values(r: &[ResultRecord]) -> Vec<(i64, u8, u8, u64)> {
    r.iter()
        .map(|x| (x.t_us, x.algorithm as u8, x.metric as u8, x.value.to_bits()))
        .collect()
}

fn rejected(r: &WorkerReport) -> u64 {
    r.counters.rejected.values().sum()
}

/// Every other stream equals the baseline exactly; the victim keeps its
/// values and carries `flag`.
fn same_values_flagged(base: &Results, got: &Results, victim: StreamId, flag: u32) {
    others_unchanged(base, got, victim);
    assert_eq!(values(&got[&victim]), values(&base[&victim]));
    assert!(got[&victim].iter().any(|r| r.quality.contains(flag)));
}

/// Results of every stream but `victim` equal the baseline exactly (flags too).
fn others_unchanged(base: &Results, got: &Results, victim: StreamId) {
    for (s, recs) in base {
        if *s != victim {
            assert_eq!(got.get(s), Some(recs), "stream {s} changed");
        }
    }
}

#[test]
fn baseline_is_complete_and_clean() {
    let f = fleet();
    let input = produce(&f);
    let (base, rep) = run(&f, input);
    assert_eq!(rejected(&rep), 0);
    assert_eq!(rep.missing_envelopes, 0);
    assert_eq!(base.len(), 3);
    for recs in base.values() {
        // 36 blocks x (3 sdnn + 4 bands + hr + rmssd)
        assert_eq!(recs.len(), 36 * 9);
        assert!(
            recs.iter().all(|r| r.quality == Quality::default()),
            "unexpected flags"
        );
    }
}

#[test]
fn flipping_any_byte_of_an_envelope_is_rejected_and_isolated() {
    let f = fleet();
    let input = produce(&f);
    let (base, _) = run(&f, input.clone());
    let k = 10 * 3 + 1; // tick 10 of device 1
    let victim = f.devices[1].stream;
    let len = input[k].len();
    for pos in 0..len {
        let mut tampered = input.clone();
        tampered[k][pos] ^= 0x01;
        let (got, rep) = run(&f, tampered);
        assert_eq!(
            rejected(&rep),
            1,
            "byte {pos}: flip not rejected exactly once"
        );
        let reason = *rep.counters.rejected.keys().next().unwrap();
        assert!(
            matches!(
                reason,
                Rejection::Malformed
                    | Rejection::Unauthenticated
                    | Rejection::UnknownStream
                    | Rejection::Stale
                    | Rejection::Plaintext
                    | Rejection::WrongContentType
            ),
            "byte {pos}: reason {reason:?}"
        );
        others_unchanged(&base, &got, victim);
        assert_eq!(
            rep.missing_envelopes, 1,
            "byte {pos}: the lost envelope is reported as a gap"
        );
        let v = &got[&victim];
        assert!(
            v.iter().any(|r| r.quality.contains(Quality::GAP)),
            "byte {pos}: no gap flag"
        );
    }
}

#[test]
fn replay_is_rejected_and_changes_no_value() {
    let f = fleet();
    let input = produce(&f);
    let (base, _) = run(&f, input.clone());
    let k = 5 * 3 + 2;
    let victim = f.devices[2].stream;
    let mut replayed = input.clone();
    replayed.insert(k + 7, input[k].clone());
    let (got, rep) = run(&f, replayed);
    assert_eq!(rep.counters.rejected.get(&Rejection::Replay), Some(&1));
    assert_eq!(rejected(&rep), 1);
    same_values_flagged(&base, &got, victim, Quality::REJECTED);
}

#[test]
fn reordering_is_reported_and_changes_no_value() {
    let f = fleet();
    let input = produce(&f);
    let (base, _) = run(&f, input.clone());
    let k = 12 * 3; // device 0, ticks 12 and 13 swapped
    let victim = f.devices[0].stream;
    let mut swapped = input.clone();
    swapped.swap(k, k + 3);
    let (got, rep) = run(&f, swapped);
    assert_eq!(rejected(&rep), 0);
    assert_eq!(rep.reordered_envelopes, 1);
    assert_eq!(rep.missing_envelopes, 0, "a filled hole is no longer a gap");
    same_values_flagged(&base, &got, victim, Quality::REORDERED);
}

#[test]
fn dropping_an_envelope_is_reported_as_a_gap() {
    let f = fleet();
    let input = produce(&f);
    let (base, _) = run(&f, input.clone());
    let k = 20 * 3 + 1;
    let victim = f.devices[1].stream;
    let mut dropped = input.clone();
    dropped.remove(k);
    let (got, rep) = run(&f, dropped);
    assert_eq!(rep.missing_envelopes, 1);
    assert_eq!(rejected(&rep), 0);
    others_unchanged(&base, &got, victim);
    let gap: Vec<_> = got[&victim]
        .iter()
        .filter(|r| r.quality.contains(Quality::GAP))
        .collect();
    assert!(!gap.is_empty());
}

#[test]
fn injection_with_only_the_fleet_public_key_is_rejected() {
    let f = fleet();
    let input = produce(&f);
    let (base, _) = run(&f, input.clone());
    let victim = f.devices[0].stream;
    // The attacker knows the fleet public key and the victim's pseudonym, but
    // not the device key: it signs with a key of its own.
    let mut rng = Fleet::rng(666);
    let attacker = KemKeypair::generate(&mut rng);
    // A sequence number ahead of the live one, so the envelope reaches
    // authentication instead of being refused as a replay.
    let mut forged_for = |session: u64| {
        let mut s = StreamSender::new(
            victim,
            SessionId(session),
            f.profile,
            &aorta_gateway::VerifiedFleet::dangerous_unverified(f.fleet.public, 1),
            &attacker.secret,
            &mut rng,
        )
        .unwrap();
        for _ in 0..29 {
            s.tick(START_US).unwrap();
        }
        s.push(aorta_wire::RrSample {
            t_us: START_US + 200_000_000,
            rr_us: 400_000,
        });
        s.tick(START_US + 210_000_000).unwrap()
    };
    let mut injected = input.clone();
    injected.insert(40, forged_for(1000)); // the live session id
    injected.insert(50, forged_for(5000)); // a newer session id
    let (got, rep) = run(&f, injected);
    assert_eq!(
        rep.counters.rejected.get(&Rejection::Unauthenticated),
        Some(&2)
    );
    assert_eq!(rejected(&rep), 2);
    assert_eq!(
        rep.truncated_sessions, 0,
        "a forged session must not replace the real one"
    );
    others_unchanged(&base, &got, victim);
    assert_eq!(values(&got[&victim]), values(&base[&victim]));
}

#[test]
fn restart_from_any_checkpoint_gives_identical_results() {
    let f = fleet();
    let input = produce(&f);
    let (base, _) = run(&f, input.clone());
    for crash_after in [1usize, 7, 30, 55, 80, 107] {
        let mut w = worker(
            &f,
            MemInput::new(input.clone()),
            f.enrolments(),
            MemLog::default(),
            7,
        );
        for _ in 0..crash_after {
            w.step().unwrap();
        }
        // kill -9: uncommitted output is lost; a new worker resumes.
        let survived = w.output_mut().after_crash();
        drop(w);
        let mut w2 = worker(
            &f,
            MemInput::new(input.clone()),
            f.enrolments(),
            survived,
            7,
        );
        w2.drain(|_| {}).unwrap();
        let got = decrypt(&f, w2.output_mut());
        assert_eq!(got, base, "crash after {crash_after} records");
    }
}

fn re_enrol(
    f: &Fleet,
    device: usize,
    serial: u32,
    status: aorta_wire::EnrolmentStatus,
    algorithms: AlgorithmSet,
    from_us: i64,
) -> Vec<u8> {
    let d = &f.devices[device];
    let e = aorta_wire::Enrolment {
        status,
        bucket: f.profile.bucket,
        serial,
        algorithms,
        cadence_ms: f.profile.cadence_ms,
        effective_from_us: from_us,
        stream: d.stream,
        device_key: d.key.public.0,
        recipients: vec![f.clinician.public.0],
        alerts: Default::default(),
    };
    aorta_envelope::enrolment::sign_enrolment(&f.controller, &e)
}

#[test]
fn a_revoked_stream_is_rejected_and_others_are_untouched() {
    let f = fleet();
    let input = produce(&f);
    let (base, _) = run(&f, input.clone());
    let mut control: Vec<Vec<u8>> = f
        .devices
        .iter()
        .map(|d| d.signed_enrolment.clone())
        .collect();
    control.push(re_enrol(
        &f,
        0,
        2,
        aorta_wire::EnrolmentStatus::Revoked,
        AlgorithmSet::parse("sdnn").unwrap(),
        0,
    ));
    let (got, rep) = run_with_control(&f, input, MemInput::new(control));
    assert_eq!(
        rep.counters.rejected.get(&Rejection::Revoked),
        Some(&(TICKS as u64))
    );
    assert!(
        !got.contains_key(&f.devices[0].stream),
        "no results for a revoked stream"
    );
    others_unchanged(&base, &got, f.devices[0].stream);
}

#[test]
fn a_forged_enrolment_is_ignored() {
    let f = fleet();
    let input = produce(&f);
    let (base, _) = run(&f, input.clone());
    let mut control: Vec<Vec<u8>> = f
        .devices
        .iter()
        .map(|d| d.signed_enrolment.clone())
        .collect();
    let mut forged = re_enrol(
        &f,
        1,
        9,
        aorta_wire::EnrolmentStatus::Revoked,
        AlgorithmSet::parse("sdnn").unwrap(),
        0,
    );
    forged[10] ^= 1; // any change breaks the controller's signature
    control.push(forged);
    let (got, rep) = run_with_control(&f, input, MemInput::new(control));
    assert_eq!(rep.counters.invalid_enrolments, 1);
    assert_eq!(got, base);
}

#[test]
fn algorithms_change_at_run_time_from_an_event_time() {
    let f = fleet();
    let input = produce(&f);
    let switch = START_US + 120_000_000;
    let mut control: Vec<Vec<u8>> = f
        .devices
        .iter()
        .map(|d| d.signed_enrolment.clone())
        .collect();
    control.push(re_enrol(
        &f,
        2,
        2,
        aorta_wire::EnrolmentStatus::Active,
        AlgorithmSet::parse("hr").unwrap(),
        switch,
    ));
    let (got, rep) = run_with_control(&f, input, MemInput::new(control));
    assert_eq!(rejected(&rep), 0);
    let recs = &got[&f.devices[2].stream];
    let before = recs.iter().filter(|r| r.t_us < switch).count();
    assert_eq!(
        before,
        12 * 9,
        "before the switch: four algorithms, nine values per block"
    );
    assert!(
        recs.iter()
            .filter(|r| r.t_us >= switch)
            .all(|r| r.algorithm == aorta_wire::Algorithm::HeartRate),
        "after the switch only hr runs"
    );
    let after = got[&f.devices[2].stream]
        .iter()
        .filter(|r| r.t_us >= switch)
        .count();
    assert_eq!(
        after,
        (TICKS as usize) - 12,
        "one hr value per block after the switch"
    );
    // Other streams keep their four algorithms.
    assert_eq!(got[&f.devices[0].stream].len(), 36 * 9);
}
