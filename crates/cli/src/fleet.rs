//! The gateway's fleet key watcher lives in the key broker's library
//! (`aorta_kbs_client::FleetWatch`); this module connects it the way the CLI
//! prints: notices on stderr, the simulated-TEE warning first.

use aorta_attest::simulated::WARNING;
use aorta_kbs::{SignedPolicy, Transport};

pub use aorta_kbs::FleetWatch;

/// Obtains and checks the current fleet key (see `aorta_kbs_client::FleetWatch`),
/// waiting up to `wait` for what can change, with notices on stderr unless
/// `quiet`.
pub fn connect_within(
    transport: Box<dyn Transport>,
    policy: SignedPolicy,
    allow_simulated: bool,
    check_every: u64,
    quiet: bool,
    wait: std::time::Duration,
) -> Result<FleetWatch, aorta_kbs::KbsError> {
    let notices: aorta_kbs::watch::Notices = if quiet {
        Box::new(|_| {})
    } else {
        Box::new(|m| eprintln!("gateway: {m}"))
    };
    let w = FleetWatch::connect_within(
        transport,
        policy,
        allow_simulated,
        check_every,
        Box::new(crate::tee::unix_now),
        notices,
        wait,
    )?;
    if w.current().simulated() && !quiet {
        eprintln!(
            "\n{WARNING}\ngateway: --allow-simulated: data will be sent to a SIMULATED TEE\n"
        );
    }
    Ok(w)
}

/// [`connect_within`] without waiting.
pub fn connect(
    transport: Box<dyn Transport>,
    policy: SignedPolicy,
    allow_simulated: bool,
    check_every: u64,
    quiet: bool,
) -> Result<FleetWatch, aorta_kbs::KbsError> {
    connect_within(
        transport,
        policy,
        allow_simulated,
        check_every,
        quiet,
        std::time::Duration::ZERO,
    )
}

#[cfg(test)]
mod tests {
    //! Rotation inside one running gateway (issue 4, criterion 2): the
    //! broker rotates while the gateway is replaying; the gateway sees it at
    //! its next check, moves every stream to the new epoch at a tick
    //! boundary, and the worker's results equal a run without rotation.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aorta_gateway::source::{RrSimulator, SimParams};
    use aorta_kbs::proto::Response;
    use aorta_spool::Spool;
    use aorta_transport::{Consumer, PartitionId, Polled, Producer};
    use aorta_wire::{AlgorithmSet, Header};
    use aorta_worker::{Keyring, WorkerConfig};

    use super::*;
    use crate::keystore::KeyStore;
    use crate::pipeline::{self, ReplayStream};
    use crate::tee;
    use crate::tee::unix_now;
    use crate::transport::publish_enrolments as publish;
    use aorta_kbs::proto::Request;

    const START_US: i64 = 1_700_000_000_000_000;
    const TICKS: i64 = 30;

    /// The broker, with the controller rotating it at the `at`-th fleet
    /// request, after which the worker attests again (as `--follow` does).
    struct RotatingBroker {
        broker: Arc<aorta_kbs::Broker<tee::SysRng>>,
        keys: KeyStore,
        worker: aorta_worker::role::Attestation,
        calls: AtomicUsize,
        at: usize,
    }

    struct Rot(Arc<RotatingBroker>);

    impl Transport for Rot {
        fn call(&self, req: &Request) -> Result<Response, aorta_kbs::KbsError> {
            let this = &self.0;
            if matches!(req, Request::Fleet)
                && this.calls.fetch_add(1, Ordering::SeqCst) + 1 == this.at
            {
                let store = this
                    .keys
                    .store()
                    .map_err(|e| aorta_kbs::KbsError::Policy(e.to_string()))?;
                aorta_kbs::admin::rotate(&store, &mut tee::sys_rng(), unix_now())?;
                this.worker.fetch()?;
            }
            this.broker.call(req)
        }
    }

    type Rows = Vec<(String, i64, u8, u8, u64, u32)>;

    /// RR streams of every enrolled patient, simulated for `TICKS` ticks.
    fn rr_gateway(ks: &KeyStore, watch: &mut FleetWatch, out: &mut dyn Producer) {
        let fleet = watch.current().clone();
        let mut rng = tee::sys_rng();
        let session = aorta_gateway::batcher::new_session_id(&mut rng);
        let mut streams = Vec::new();
        for (i, p) in ks.patients().unwrap().iter().enumerate() {
            let sender = ks.stream_sender(p, session, &fleet, &mut rng).unwrap();
            let end = START_US + TICKS * 10_000_000;
            let src = RrSimulator::new(SimParams::patient(i as u64), i as u64, START_US)
                .take_while(move |s| s.t_us < end);
            streams.push(
                ReplayStream::new(sender, Box::new(src))
                    .with_device(ks.device_secret(p.stream).unwrap()),
            );
        }
        pipeline::replay(
            &mut streams,
            out,
            (START_US, START_US + TICKS * 10_000_000),
            Some(watch),
            &mut tee::sys_rng(),
            |_| {},
        )
        .unwrap();
    }

    /// Runs `gateway` (with the broker rotating at the `rotate_at`-th fleet
    /// request), then a worker; returns the sorted results, the epoch of
    /// every envelope sent and the number of fleet requests.
    fn run(
        ks: &KeyStore,
        spool: &Spool,
        rotate_at: Option<usize>,
        gateway: impl FnOnce(&KeyStore, &mut FleetWatch, &mut dyn Producer),
    ) -> (Rows, Vec<u32>, u64) {
        let broker = tee::local_broker(ks).unwrap();
        let (worker_keys, release) = tee::attest_simulated(ks, &broker, true).unwrap();
        let rot = Arc::new(RotatingBroker {
            broker: broker.clone(),
            keys: KeyStore::open(ks.store().unwrap().dir()).unwrap(),
            worker: worker_keys.clone(),
            calls: AtomicUsize::new(0),
            at: rotate_at.unwrap_or(usize::MAX),
        });
        let mut watch = connect(
            Box::new(Rot(rot.clone())),
            ks.policy().unwrap(),
            true,
            3,
            true,
        )
        .unwrap();
        let mut out = spool.ingest_appender(PartitionId(0)).unwrap();
        gateway(ks, &mut watch, &mut out);
        let mut role = aorta_worker::role::WorkerRole::new(
            Arc::new(spool.clone()),
            ks.controller_pub().unwrap(),
            1,
        );
        role.config = WorkerConfig {
            simulated_tee: true,
            ..WorkerConfig::default()
        };
        let mut w = role
            .open_one(0, "test", Keyring::new(release.keys), Some(&worker_keys))
            .unwrap();
        w.drain(|_| {}).unwrap();
        let rep = w.report();
        assert_eq!(rep.counters.rejected.values().sum::<u64>(), 0);
        assert_eq!((rep.truncated_sessions, rep.missing_envelopes), (0, 0));
        let (rows, stats) = pipeline::testing::read_spool_results(ks, spool).unwrap();
        assert_eq!(stats.rejected, 0);
        let mut rows: Rows = rows
            .into_iter()
            .map(|r| {
                let x = r.record;
                (
                    r.patient,
                    x.t_us,
                    x.algorithm as u8,
                    x.metric as u8,
                    x.value.to_bits(),
                    x.quality.0,
                )
            })
            .collect();
        rows.sort();
        // The fleet key epoch of every envelope the gateway sent, in order.
        let mut input = spool.ingest_reader(PartitionId(0)).unwrap();
        let mut epochs = Vec::new();
        while let Polled::Record { payload, .. } = input.poll().unwrap() {
            epochs.push(Header::parse_envelope(payload).unwrap().epoch);
        }
        (rows, epochs, rot.calls.load(Ordering::SeqCst) as u64)
    }

    #[test]
    fn a_running_gateway_follows_a_rotation_and_results_are_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeyStore::init(&dir.path().join("keys")).unwrap();
        let algos = AlgorithmSet::parse("sdnn,hrv-bands,hr,rmssd").unwrap();
        let signed: Vec<Vec<u8>> = (0..3)
            .map(|i| ks.enrol(&format!("p{i}"), algos, 4.0, 10_000, 0).unwrap().1)
            .collect();
        let rotated = Spool::open(dir.path().join("rotated")).unwrap();
        let plain = Spool::open(dir.path().join("plain")).unwrap();
        publish(&rotated, &signed).unwrap();
        publish(&plain, &signed).unwrap();

        // Fleet requests: 1 at connect, then every 3 ticks; the 4th comes at tick 9.
        let (got, epochs, calls) = run(&ks, &rotated, Some(4), rr_gateway);
        assert!(calls >= 4);
        let switch = epochs
            .iter()
            .position(|e| *e == 2)
            .expect("the gateway switched to epoch 2");
        assert_eq!(
            switch,
            3 * 10,
            "every stream switched at tick 10 (after its tick-9 handover)"
        );
        assert!(
            epochs[..switch].iter().all(|e| *e == 1) && epochs[switch..].iter().all(|e| *e == 2)
        );

        // The same data with no rotation (epoch 2 throughout, it is current now).
        let (want, epochs, _) = run(&ks, &plain, None, rr_gateway);
        assert!(epochs.iter().all(|e| *e == 2));
        assert_eq!(want.len(), 3 * 30 * 9);
        assert!(want
            .iter()
            .all(|r| r.5 == aorta_wire::Quality::SIMULATED_TEE));
        assert_eq!(got, want, "rotation changed, lost or duplicated results");
    }

    #[test]
    fn a_running_ecg_gateway_follows_a_rotation_and_results_are_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeyStore::init(&dir.path().join("keys")).unwrap();
        let algos = AlgorithmSet::parse("hr,clinical").unwrap();
        let signed = vec![ks.enrol("ecg", algos, 360.0, 10_000, 0).unwrap().1];
        let rotated = Spool::open(dir.path().join("rotated")).unwrap();
        let plain = Spool::open(dir.path().join("plain")).unwrap();
        publish(&rotated, &signed).unwrap();
        publish(&plain, &signed).unwrap();
        let record = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/mitdb/101"
        );
        let (_, mv) = aorta_validation::read_lead(std::path::Path::new(record), 0).unwrap();
        let scratch = dir.path().join("scratch");
        let ecg = |ks: &KeyStore, watch: &mut FleetWatch, out: &mut dyn Producer| {
            let wave = aorta_gateway::role::Wave {
                signal: aorta_gateway::Signal::Ecg,
                fs_hz: 360,
                samples: mv[..360 * 300].to_vec(),
                what: "ECG".into(),
            };
            let served = ks
                .patients()
                .unwrap()
                .into_iter()
                .map(|p| aorta_gateway::role::Served {
                    name: p.name,
                    stream: p.stream,
                    profile: p.profile,
                    device: ks.device_secret(p.stream).unwrap(),
                })
                .collect();
            let role = aorta_gateway::role::GatewayRole {
                deployment: Arc::new(Spool::open(&scratch).unwrap()),
                partitions: 1,
                output: aorta_gateway::role::Output {
                    say: Arc::new(|_| {}),
                    log: Arc::new(|_| {}),
                    names_files: false,
                },
                metrics: None,
                clock: unix_now,
            };
            role.wave(
                served,
                wave,
                Some(START_US / 1_000_000),
                watch,
                out,
                &mut tee::sys_rng(),
            )
            .unwrap();
        };
        let (got, epochs, _) = run(&ks, &rotated, Some(4), ecg);
        let switch = epochs
            .iter()
            .position(|e| *e == 2)
            .expect("switched to epoch 2");
        assert_eq!(switch, 10, "switched after the tick-9 handover");
        assert!(epochs[switch..].iter().all(|e| *e == 2));
        let (want, epochs, _) = run(&ks, &plain, None, ecg);
        assert!(epochs.iter().all(|e| *e == 2));
        // 30 10-s windows of heart rate and the 5-min clinical windows.
        assert!(want.len() > 30 + 4 * 16, "{}", want.len());
        assert_eq!(got, want, "rotation changed, lost or duplicated results");
    }
}
