//! The key broker in-process and over TCP, with the simulated TEE:
//! releases to listed measurements only, refuses everything else with a
//! reason, audits both, never puts key material in its log; the gateway's
//! check of the fleet key; rotation and worker revocation.

use std::sync::Arc;

use aorta_attest::simulated::SimulatedTee;
use aorta_attest::{Attester, Evidence};
use aorta_envelope::{KemKeypair, SigningKey};
use aorta_kbs::proto::{Request, Response};
use aorta_kbs::verify::GatewayRefusal;
use aorta_kbs::{
    admin, verify_fleet, Broker, KbsError, Retry, SignedPolicy, Store, WorkerAttestation,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const NOW: u64 = 1_800_000_000;
const GOOD: [u8; 32] = [0x11; 32];
const BAD: [u8; 32] = [0x66; 32];

struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    controller: SigningKey,
    sim_root: SigningKey,
}

fn policy_json(sim_root: &SigningKey, measurements: &[[u8; 32]]) -> String {
    let list: Vec<String> = measurements
        .iter()
        .map(|m| format!("\"{}\"", hex::encode(m)))
        .collect();
    format!(
        r#"{{"simulated": {{"root": "{}", "measurements": [{}]}}, "max_age_secs": 300}}"#,
        sim_root.verifying_key().to_hex(),
        list.join(",")
    )
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let controller = SigningKey::generate(&mut rng);
    let sim_root = SigningKey::generate(&mut rng);
    std::fs::write(
        dir.path().join("controller.pub"),
        controller.verifying_key().to_hex(),
    )
    .unwrap();
    let store = Store::init(dir.path(), &mut rng).unwrap();
    aorta_kbs::store::install_policy(
        dir.path(),
        policy_json(&sim_root, &[GOOD]).as_bytes(),
        &controller,
    )
    .unwrap();
    Setup {
        _dir: dir,
        store,
        controller,
        sim_root,
    }
}

fn broker(s: &Setup, allow_simulated: bool) -> Arc<Broker<ChaCha20Rng>> {
    Arc::new(
        Broker::new(
            s.store.clone(),
            allow_simulated,
            ChaCha20Rng::seed_from_u64(2),
            Box::new(|| NOW),
        )
        .unwrap(),
    )
}

fn tee(s: &Setup, measurement: [u8; 32]) -> Box<dyn Attester> {
    Box::new(SimulatedTee::new(
        SigningKey::from_bytes(&s.sim_root.expose_secret()),
        measurement,
        Box::new(|| NOW - 5),
    ))
}

fn worker(
    s: &Setup,
    b: &Arc<Broker<ChaCha20Rng>>,
    measurement: [u8; 32],
    seed: u64,
) -> WorkerAttestation {
    WorkerAttestation::new(
        KemKeypair::generate(&mut ChaCha20Rng::seed_from_u64(seed)),
        tee(s, measurement),
        Box::new(b.clone()),
    )
}

/// The epochs a release holds, in order.
fn epochs(r: Result<aorta_kbs::Release, KbsError>) -> Vec<u32> {
    r.unwrap().keys.iter().map(|k| k.0).collect()
}

fn refused(r: Result<aorta_kbs::Release, KbsError>) -> String {
    match r {
        // Policy, measurement and revocation refusals: asking again cannot help.
        Err(KbsError::Refused {
            reason,
            retry: aorta_kbs::Retry::Never,
        }) => reason,
        other => panic!("expected a permanent refusal, got {other:?}"),
    }
}

#[test]
fn listed_measurement_gets_every_active_epoch_and_unlisted_gets_nothing() {
    let s = setup();
    let b = broker(&s, true);
    let good = worker(&s, &b, GOOD, 10);
    let r = good.fetch().unwrap();
    assert_eq!(r.current_epoch, 1);
    assert_eq!(r.keys.len(), 1);
    assert!(
        r.keys[0].1 == s.store.secret(1).unwrap(),
        "the released key is the fleet key"
    );
    assert_eq!(r.reattest_after_secs, 150);

    let bad = worker(&s, &b, BAD, 11);
    let why = refused(bad.fetch());
    assert!(
        why.contains("measurement") && why.contains(&hex::encode(BAD)),
        "{why}"
    );

    let audit = b.audit().read().unwrap();
    let kinds: Vec<&str> = audit.iter().map(|r| r.event.event.as_str()).collect();
    assert_eq!(kinds, ["start", "release", "refuse"]);
    assert_eq!(
        audit[1].event.worker.as_deref(),
        Some(good.worker_id().as_str())
    );
    assert_eq!(
        audit[1].event.measurement.as_deref(),
        Some(hex::encode(GOOD).as_str())
    );
    assert_eq!(
        audit[2].event.worker.as_deref(),
        Some(bad.worker_id().as_str())
    );
    // No key material, evidence or report data in the audit log.
    let text = std::fs::read_to_string(b.audit().path()).unwrap();
    let fleet_hex = hex::encode(s.store.secret(1).unwrap().expose_secret());
    assert!(!text.contains(&fleet_hex));
    assert!(!text.contains(&hex::encode(s.sim_root.expose_secret())));
    assert!(!text.contains("bytes") && !text.contains("ciphertext"));
}

#[test]
fn simulated_evidence_needs_allow_simulated() {
    let s = setup();
    let b = broker(&s, false);
    let why = refused(worker(&s, &b, GOOD, 12).fetch());
    assert!(why.contains("--allow-simulated"), "{why}");
}

#[test]
fn debug_stale_rebound_and_replayed_evidence_is_refused() {
    let s = setup();
    let b = broker(&s, true);
    let call = |req: &Request| b.handle(req.clone());
    let challenge = || match call(&Request::Challenge) {
        Response::Challenge {
            epoch,
            fleet_pub,
            random,
        } => (epoch, fleet_pub, random),
        r => panic!("{r:?}"),
    };
    let wk = KemKeypair::generate(&mut ChaCha20Rng::seed_from_u64(3));
    let attest = |ev: Evidence, random: &str| {
        call(&Request::Attest {
            worker_pub: wk.public.to_hex(),
            random: random.to_string(),
            evidence: aorta_kbs::proto::EvidenceJson::from_evidence(&ev),
        })
    };
    let bound = |epoch: u32, fleet: &str, random: &str| {
        let mut r = [0u8; 32];
        hex::decode_to_slice(random, &mut r).unwrap();
        let mut f = [0u8; 32];
        hex::decode_to_slice(fleet, &mut f).unwrap();
        aorta_attest::report_data(
            &wk.public.0,
            &aorta_attest::binding::kbs_nonce(&r, epoch, &f),
        )
    };
    let error = |r: Response| match r {
        Response::Error { error, .. } => error,
        r => panic!("expected an error, got {r:?}"),
    };

    // Debug mode.
    let (e, f, r) = challenge();
    let dbg = SimulatedTee::new(
        SigningKey::from_bytes(&s.sim_root.expose_secret()),
        GOOD,
        Box::new(|| NOW),
    )
    .with_debug(true);
    assert!(error(attest(dbg.evidence(bound(e, &f, &r)).unwrap(), &r)).contains("debug"));
    // Too old (policy: 300 s).
    let (e, f, r) = challenge();
    let old = SimulatedTee::new(
        SigningKey::from_bytes(&s.sim_root.expose_secret()),
        GOOD,
        Box::new(|| NOW - 3600),
    );
    assert!(error(attest(old.evidence(bound(e, &f, &r)).unwrap(), &r)).contains("age"));
    // Evidence bound to another nonce.
    let (_, _, r) = challenge();
    let ev = tee(&s, GOOD).evidence([7; 64]).unwrap();
    assert!(error(attest(ev, &r)).contains("does not bind"));
    // Signed by another "platform".
    let (e, f, r) = challenge();
    let forged = SimulatedTee::new(
        SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(9)),
        GOOD,
        Box::new(|| NOW),
    );
    assert!(error(attest(forged.evidence(bound(e, &f, &r)).unwrap(), &r)).contains("signature"));
    // A good answer works once; the same challenge again is refused.
    let (e, f, r) = challenge();
    let ev = tee(&s, GOOD).evidence(bound(e, &f, &r)).unwrap();
    assert!(matches!(attest(ev.clone(), &r), Response::Released { .. }));
    assert!(error(attest(ev, &r)).contains("already used"));
    // Malformed fields.
    assert!(error(call(&Request::Attest {
        worker_pub: "zz".into(),
        random: r.clone(),
        evidence: aorta_kbs::proto::EvidenceJson::from_evidence(
            &tee(&s, GOOD).evidence([0; 64]).unwrap()
        ),
    }))
    .contains("worker_pub"));
    let refusals = b
        .audit()
        .read()
        .unwrap()
        .iter()
        .filter(|x| x.event.event == "refuse")
        .count();
    assert_eq!(refusals, 6, "every refusal is audited");
}

#[test]
fn gateway_check_of_the_fleet_key() {
    let s = setup();
    let b = broker(&s, true);
    let policy = SignedPolicy::load(s.store.dir(), &s.controller.verifying_key()).unwrap();
    // Nobody attested yet: refuse.
    let resp = b.handle(Request::Fleet);
    // Nobody attested yet: a gateway waits for this one.
    let err = verify_fleet(&resp, &policy, true, NOW).unwrap_err();
    assert!(
        matches!(
            err,
            KbsError::GatewayRefuses(GatewayRefusal::NoWorkerYet { epoch: 1 })
        ),
        "{err:?}"
    );
    assert_eq!(err.retry(), Retry::Later);
    // A listed worker attests: accept, and the key is the broker's.
    let w = worker(&s, &b, GOOD, 20);
    w.fetch().unwrap();
    let resp = b.handle(Request::Fleet);
    let v = verify_fleet(&resp, &policy, true, NOW).unwrap();
    assert!(v.is_verified());
    assert!(!aorta_kbs::VerifiedFleet::dangerous_unverified(*v.fleet(), 1).is_verified());
    assert_eq!(v.epoch(), 1);
    assert_eq!(*v.fleet(), s.store.public(1).unwrap());
    assert_eq!(v.worker(), w.worker_id());
    assert!(v.simulated() && !v.policy_differs());
    // Without --allow-simulated the gateway refuses the same answer, for good.
    let err = verify_fleet(&resp, &policy, false, NOW).unwrap_err();
    assert!(
        matches!(
            err,
            KbsError::GatewayRefuses(GatewayRefusal::Evidence {
                epoch: 1,
                retry: Retry::Never,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(!err.retryable());
    // Evidence older than the policy allows (the worker must re-attest).
    assert!(verify_fleet(&resp, &policy, true, NOW + 3600).is_err());
    // A substituted fleet key (say, the host's own) breaks the binding.
    let mut forged = resp.clone();
    if let Response::Fleet { fleet_pub, .. } = &mut forged {
        *fleet_pub = KemKeypair::generate(&mut ChaCha20Rng::seed_from_u64(5))
            .public
            .to_hex();
    }
    let err = verify_fleet(&forged, &policy, true, NOW).unwrap_err();
    assert!(err.to_string().contains("does not bind"), "{err}");
    // A broker whose policy was widened to a rogue build: the gateway's own
    // (controller-signed) policy still refuses that worker's evidence.
    aorta_kbs::store::install_policy(
        s.store.dir(),
        policy_json(&s.sim_root, &[GOOD, BAD]).as_bytes(),
        &s.controller,
    )
    .unwrap();
    worker(&s, &b, BAD, 21).fetch().unwrap();
    let resp = b.handle(Request::Fleet);
    let err = verify_fleet(&resp, &policy, true, NOW).unwrap_err();
    assert!(err.to_string().contains(&hex::encode(BAD)), "{err}");
    assert_eq!(err.retry(), Retry::Never, "a policy refusal is final");
    // A policy file not signed by the controller does not load.
    std::fs::write(
        s.store.dir().join("policy.json"),
        policy_json(&s.sim_root, &[BAD]),
    )
    .unwrap();
    assert!(SignedPolicy::load(s.store.dir(), &s.controller.verifying_key()).is_err());
}

#[test]
fn rotation_and_worker_revocation() {
    let s = setup();
    let b = broker(&s, true);
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let w1 = worker(&s, &b, GOOD, 30);
    assert_eq!(w1.fetch().unwrap().keys.len(), 1);
    assert_eq!(admin::rotate(&s.store, &mut rng, NOW).unwrap(), 2);
    // Both epochs are released; the gateway moves on once a worker holds 2.
    let r = w1.fetch().unwrap();
    assert_eq!(
        (
            r.current_epoch,
            r.keys.iter().map(|k| k.0).collect::<Vec<_>>()
        ),
        (2, vec![1, 2])
    );
    let policy = SignedPolicy::load(s.store.dir(), &s.controller.verifying_key()).unwrap();
    assert_eq!(
        verify_fleet(&b.handle(Request::Fleet), &policy, true, NOW)
            .unwrap()
            .epoch(),
        2
    );
    // Revoking w1 rotates to 3, which w1 never receives.
    assert_eq!(
        admin::revoke_worker(&s.store, &w1.worker_id(), &mut rng, NOW).unwrap(),
        3
    );
    assert!(refused(w1.fetch()).contains("revoked"));
    let w2 = worker(&s, &b, GOOD, 31);
    assert_eq!(epochs(w2.fetch()), vec![1, 2, 3]);
    // Retiring epoch 1: no longer released.
    admin::retire(&s.store, 1, NOW).unwrap();
    assert_eq!(epochs(w2.fetch()), vec![2, 3]);
    assert!(admin::retire(&s.store, 9, NOW).is_err());
    let kinds: Vec<String> = b
        .audit()
        .read()
        .unwrap()
        .iter()
        .map(|r| r.event.event.clone())
        .collect();
    for k in ["rotate", "revoke-worker", "retire", "refuse", "release"] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
}

#[test]
fn over_tcp_bad_requests_get_errors_and_the_broker_keeps_serving() {
    use std::io::{BufRead, BufReader, Write};
    let s = setup();
    let b = broker(&s, true);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (b2, st) = (b.clone(), stop.clone());
    std::thread::spawn(move || aorta_kbs::server::serve(listener, b2, st));
    let ask = |bytes: &[u8]| {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.write_all(bytes).unwrap();
        let mut line = String::new();
        BufReader::new(c).read_line(&mut line).unwrap();
        line
    };
    assert!(ask(b"{\"op\":\"launch-missiles\"}\n").contains("not a key broker request"));
    assert!(ask(b"\xff\xfe\n").contains("error"));
    let mut huge = vec![b'x'; aorta_kbs::proto::MAX_LINE + 10];
    huge.push(b'\n');
    let answer = ask(&huge);
    assert!(answer.contains("longer than"), "{answer}");
    // A real worker over TCP still gets its keys.
    let w = WorkerAttestation::new(
        KemKeypair::generate(&mut ChaCha20Rng::seed_from_u64(40)),
        tee(&s, GOOD),
        Box::new(aorta_kbs::Client::new(addr.clone())),
    );
    assert_eq!(w.fetch().unwrap().current_epoch, 1);
    let v = aorta_kbs::Client::new(addr.clone())
        .request(&Request::Fleet)
        .unwrap();
    let policy = SignedPolicy::load(s.store.dir(), &s.controller.verifying_key()).unwrap();
    assert_eq!(
        verify_fleet(&v, &policy, true, NOW)
            .unwrap()
            .worker()
            .to_string(),
        w.worker_id()
    );
}

/// A transport that holds every call after the first until the test opens
/// its gate: a broker that hangs.
struct Gated {
    inner: Arc<Broker<ChaCha20Rng>>,
    gate: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    calls: Arc<std::sync::atomic::AtomicU32>,
}

impl aorta_kbs::Transport for Gated {
    fn call(&self, req: &Request) -> Result<Response, KbsError> {
        use std::sync::atomic::Ordering;
        if self.calls.fetch_add(1, Ordering::SeqCst) > 0 {
            let (open, cv) = &*self.gate;
            let mut g = open.lock().unwrap();
            while !*g {
                g = cv.wait(g).unwrap();
            }
        }
        Ok(self.inner.handle(req.clone()))
    }
}

/// A gateway's watch (checking every tick) connected at epoch 1 through
/// the transport `via` makes of the broker, after which the controller has
/// rotated to epoch 2 and a worker holds it. The `Setup` keeps the store.
fn watch_across_a_rotation(
    via: impl FnOnce(Arc<Broker<ChaCha20Rng>>) -> Box<dyn aorta_kbs::Transport>,
    notices: aorta_kbs::watch::Notices,
) -> (Setup, aorta_kbs::FleetWatch) {
    let s = setup();
    let b = broker(&s, true);
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let w = worker(&s, &b, GOOD, 30);
    w.fetch().unwrap();
    let policy = SignedPolicy::load(s.store.dir(), &s.controller.verifying_key()).unwrap();
    let watch =
        aorta_kbs::FleetWatch::connect(via(b), policy, true, 1, Box::new(|| NOW), notices).unwrap();
    assert_eq!(watch.current().epoch(), 1);
    assert_eq!(admin::rotate(&s.store, &mut rng, NOW).unwrap(), 2);
    w.fetch().unwrap(); // a worker holds epoch 2
    (s, watch)
}

#[test]
fn a_hanging_broker_never_holds_up_the_watching_gateway() {
    let gate = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let (_s, watch) = watch_across_a_rotation(
        |b| {
            Box::new(Gated {
                inner: b,
                gate: gate.clone(),
                calls: calls.clone(),
            })
        },
        Box::new(|_| {}),
    );
    let mut t = watch.spawn(std::time::Duration::from_millis(10)).unwrap();
    // The checking thread is stuck in the broker call: polling returns at
    // once with nothing (a blocking poll would hang this test).
    while calls.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        std::thread::yield_now();
    }
    for _ in 0..100 {
        assert!(t.poll().unwrap().is_none());
    }
    // The broker answers: the rotated, verified key arrives.
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let v = loop {
        if let Some(v) = t.poll().unwrap() {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "no rotated key");
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert_eq!(v.epoch(), 2);
    drop(t);
}

#[test]
fn a_watch_thread_that_dies_is_an_error_not_silence() {
    let mut notices = 0;
    let (_s, watch) = watch_across_a_rotation(
        |b| Box::new(b),
        // The operator's log breaks after the first line (a closed pipe
        // makes eprintln! panic): the checking thread dies with it.
        Box::new(move |_| {
            notices += 1;
            assert!(notices < 2, "log pipe closed");
        }),
    );
    let mut t = watch.spawn(std::time::Duration::from_millis(10)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let err = loop {
        match t.poll() {
            Err(e) => break e,
            Ok(v) => assert!(v.is_none(), "the key came through a dead thread"),
        }
        assert!(std::time::Instant::now() < deadline, "no error");
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert!(matches!(err, KbsError::WatchStopped), "{err}");
}

/// Counts the requests it passes to the broker; after `attest_at` of them,
/// a listed worker attests (as one started after the gateway would).
struct Counting {
    broker: Arc<Broker<ChaCha20Rng>>,
    calls: Arc<std::sync::atomic::AtomicUsize>,
    attest_at: usize,
    worker: Option<WorkerAttestation>,
}

impl aorta_kbs::Transport for Counting {
    fn call(&self, req: &Request) -> Result<Response, KbsError> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if n == self.attest_at {
            if let Some(w) = &self.worker {
                w.fetch()?;
            }
        }
        self.broker.handle(req.clone()).pipe()
    }
}

trait Pipe {
    fn pipe(self) -> Result<Response, KbsError>;
}

impl Pipe for Response {
    fn pipe(self) -> Result<Response, KbsError> {
        match self {
            Response::Error { error, retry } => Err(KbsError::Refused {
                reason: error,
                retry,
            }),
            r => Ok(r),
        }
    }
}

/// Issue 20: a gateway waits only on what can change. With no worker yet
/// it asks again until one has attested; a refusal of its own policy (the
/// holder is simulated and the gateway does not allow it) fails at the
/// first answer, however long it was told to wait.
#[test]
fn a_gateway_waits_for_a_worker_but_not_for_a_policy_refusal() {
    let s = setup();
    let b = broker(&s, true);
    let policy = SignedPolicy::load(s.store.dir(), &s.controller.verifying_key()).unwrap();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = Counting {
        broker: b.clone(),
        calls: calls.clone(),
        attest_at: 3,
        worker: Some(worker(&s, &b, GOOD, 30)),
    };
    let w = aorta_kbs::FleetWatch::connect_within(
        Box::new(t),
        policy.clone(),
        true,
        0,
        Box::new(|| NOW),
        Box::new(|_| {}),
        std::time::Duration::from_secs(600),
    )
    .unwrap();
    assert_eq!(w.current().epoch(), 1);
    assert!(
        calls.load(std::sync::atomic::Ordering::SeqCst) >= 3,
        "it asked again"
    );
    // Now the key is held by a simulated TEE: refused at once by a gateway
    // that does not allow one.
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = Counting {
        broker: b,
        calls: calls.clone(),
        attest_at: 0,
        worker: None,
    };
    let err = aorta_kbs::FleetWatch::connect_within(
        Box::new(t),
        policy,
        false,
        0,
        Box::new(|| NOW),
        Box::new(|_| {}),
        std::time::Duration::from_secs(600),
    )
    .unwrap_err();
    assert!(!err.retryable(), "{err}");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}
