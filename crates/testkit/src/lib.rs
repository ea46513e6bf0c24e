//! Test support for Aorta. Not part of the product.
//!
//! * [`MemInput`] / [`MemLog`]: in-memory implementations of the transport
//!   traits, so worker tests can tamper with individual envelopes. The real
//!   spool is tested on its own and end to end.
//! * [`Fleet`]: deterministic keys and signed enrolments for N streams.
//! * [`Mosquitto`]: a real Mosquitto broker on a free 127.0.0.1 port, ready
//!   when its TCP port accepts connections.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aorta_envelope::enrolment::sign_enrolment;
use aorta_envelope::{KemKeypair, KemPublic, KemSecret, ReceiverSession, SigningKey};
use aorta_transport::{CommitLog, Consumer, CorruptReason, Offset, Polled, TransportError};
use aorta_wire::{
    AlgorithmSet, Body, Enrolment, EnrolmentStatus, Header, ResultBatch, ResultRecord, StreamId,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

pub mod nats;
pub mod webdriver;

/// A partition held in memory: record i has offset i.
#[derive(Debug, Default, Clone)]
pub struct MemInput {
    pub records: Vec<Vec<u8>>,
    pos: usize,
}

impl MemInput {
    pub fn new(records: Vec<Vec<u8>>) -> Self {
        Self { records, pos: 0 }
    }
}

impl Consumer for MemInput {
    fn position(&self) -> Offset {
        self.pos as Offset
    }
    fn seek(&mut self, offset: Offset) {
        self.pos = offset as usize;
    }
    fn poll(&mut self) -> Result<Polled<'_>, TransportError> {
        let at = self.pos;
        match self.records.get(at) {
            Some(r) if r.is_empty() => {
                self.pos += 1;
                Ok(Polled::Corrupt {
                    offset: at as Offset,
                    next: self.pos as Offset,
                    reason: CorruptReason::ChecksumMismatch,
                })
            }
            Some(r) => {
                self.pos += 1;
                Ok(Polled::Record {
                    offset: at as Offset,
                    next: self.pos as Offset,
                    payload: r,
                })
            }
            None => Ok(Polled::Idle),
        }
    }
}

/// A commit log in memory.
#[derive(Debug, Default, Clone)]
pub struct MemLog {
    pub committed: Vec<Vec<u8>>,
    pub pending: Vec<Vec<u8>>,
    pub checkpoint: Option<Vec<u8>>,
}

impl MemLog {
    /// The clinician's side: every committed result record, by stream,
    /// opened with `clinician` and authenticated against the fleet public
    /// key of the epoch each envelope names (`fleet_key(epoch)`).
    /// Panics on anything that does not open: tests want to know.
    pub fn decrypt_results(
        &self,
        clinician: &KemSecret,
        fleet_key: impl Fn(u32) -> KemPublic,
    ) -> BTreeMap<StreamId, Vec<ResultRecord>> {
        let mut out: BTreeMap<StreamId, Vec<ResultRecord>> = BTreeMap::new();
        let mut sessions: BTreeMap<(StreamId, u64), ReceiverSession> = BTreeMap::new();
        for env in &self.committed {
            let mut env = env.clone();
            let h = Header::parse_envelope(&env).unwrap();
            let s = sessions.entry((h.stream, h.session.0)).or_insert_with(|| {
                ReceiverSession::accept(&h, clinician, &fleet_key(h.epoch)).unwrap()
            });
            let body = s.open(&h, &mut env).unwrap();
            let (stream, recs) = ResultBatch::decode(Body::parse(body).unwrap().content).unwrap();
            out.entry(stream).or_default().extend(recs);
        }
        out
    }

    /// What a restart would see: uncommitted records dropped.
    pub fn after_crash(&self) -> Self {
        Self {
            committed: self.committed.clone(),
            pending: Vec::new(),
            checkpoint: self.checkpoint.clone(),
        }
    }
}

impl CommitLog for MemLog {
    fn last_commit(&self) -> Option<&[u8]> {
        self.checkpoint.as_deref()
    }
    fn append(&mut self, records: &[&[u8]]) -> Result<(), TransportError> {
        self.pending.extend(records.iter().map(|r| r.to_vec()));
        Ok(())
    }
    fn commit(&mut self, checkpoint: &[u8]) -> Result<(), TransportError> {
        self.committed.append(&mut self.pending);
        self.checkpoint = Some(checkpoint.to_vec());
        Ok(())
    }
}

/// One enrolled stream of a [`Fleet`].
#[derive(Debug)]
pub struct Device {
    pub stream: StreamId,
    pub key: KemKeypair,
    pub signed_enrolment: Vec<u8>,
}

/// Deterministic keys for a deployment with `n` streams.
#[derive(Debug)]
pub struct Fleet {
    pub controller: SigningKey,
    pub fleet: KemKeypair,
    pub clinician: KemKeypair,
    pub devices: Vec<Device>,
    pub profile: aorta_gateway::Profile,
}

impl Fleet {
    pub fn new(seed: u64, n: usize, algorithms: AlgorithmSet) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let controller = SigningKey::generate(&mut rng);
        let fleet = KemKeypair::generate(&mut rng);
        let clinician = KemKeypair::generate(&mut rng);
        let profile = aorta_gateway::Profile::rr_default();
        let devices = (0..n)
            .map(|_| {
                let key = KemKeypair::generate(&mut rng);
                // Random pseudonyms, as enrolment assigns them.
                let mut id = [0u8; 16];
                rand_core::RngCore::fill_bytes(&mut rng, &mut id);
                let stream = StreamId(id);
                let e = Enrolment {
                    status: EnrolmentStatus::Active,
                    bucket: profile.bucket,
                    serial: 1,
                    algorithms,
                    cadence_ms: profile.cadence_ms,
                    effective_from_us: 0,
                    stream,
                    device_key: key.public.0,
                    recipients: vec![clinician.public.0],
                    alerts: Default::default(),
                };
                Device {
                    stream,
                    signed_enrolment: sign_enrolment(&controller, &e),
                    key,
                }
            })
            .collect();
        Self {
            controller,
            fleet,
            clinician,
            devices,
            profile,
        }
    }

    pub fn rng(seed: u64) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(seed)
    }

    /// Every device's envelopes for `ticks` 10-s ticks from `start_us`, in
    /// tick order (index = tick × devices + device), simulated RR from
    /// `SimParams::patient(i)`, session 1000 under fleet epoch 1. With
    /// `rotate = (tick, key, epoch)`, every stream hands over to session
    /// 2000 under `key` at that tick.
    pub fn produce(
        &self,
        start_us: i64,
        ticks: i64,
        rotate: Option<(i64, &aorta_envelope::KemPublic, u32)>,
    ) -> Vec<Vec<u8>> {
        use aorta_gateway::driver::{replay, CryptoRngDyn, KeyUpdates, Replayed};
        use aorta_gateway::source::{RrSimulator, SimParams};
        use aorta_gateway::{GatewayError, StreamSender, VerifiedFleet};
        use aorta_wire::{RrSample, SessionId};

        /// A test stream: the library's tick loop drives it; a rotation
        /// moves it to the fixed session 2000 (tests compare runs).
        struct Stream<'a> {
            sender: StreamSender,
            device: &'a aorta_envelope::KemSecret,
            sim: std::iter::Peekable<Box<dyn Iterator<Item = RrSample>>>,
        }
        impl Replayed for Stream<'_> {
            fn cadence_us(&self) -> i64 {
                i64::from(self.sender.profile().cadence_ms) * 1000
            }
            fn feed(&mut self, until_us: i64) -> u64 {
                let mut n = 0;
                while let Some(x) = self.sim.next_if(|x| x.t_us < until_us) {
                    self.sender.push(x);
                    n += 1;
                }
                n
            }
            fn tick(&mut self, end_us: i64) -> Result<Vec<u8>, GatewayError> {
                self.sender.tick(end_us)
            }
            fn rekey(
                &mut self,
                end_us: i64,
                fleet: &VerifiedFleet,
                rng: &mut dyn CryptoRngDyn,
            ) -> Result<Vec<u8>, GatewayError> {
                let mut rng = rng;
                self.sender
                    .tick_and_rekey(end_us, SessionId(2000), fleet, self.device, &mut rng)
            }
            fn finish(&mut self, end_us: i64) -> Result<Vec<Vec<u8>>, GatewayError> {
                self.sender.finish(end_us)
            }
        }
        /// Rotation at one tick (the loop counts ticks from 0).
        struct At(u64, Option<VerifiedFleet>);
        impl KeyUpdates for At {
            fn poll(
                &mut self,
                tick: u64,
            ) -> Result<Option<VerifiedFleet>, aorta_gateway::GatewayError> {
                Ok(if tick == self.0 { self.1.take() } else { None })
            }
        }
        /// Keeps what is appended, in order.
        struct Collect(Vec<Vec<u8>>);
        impl aorta_transport::Producer for Collect {
            fn append(
                &mut self,
                records: &[&[u8]],
            ) -> Result<aorta_transport::Offset, aorta_transport::TransportError> {
                self.0.extend(records.iter().map(|r| r.to_vec()));
                Ok(self.0.len() as aorta_transport::Offset)
            }
        }

        let mut rng = Self::rng(11);
        let end_us = start_us + ticks * 10_000_000;
        let fleet = VerifiedFleet::dangerous_unverified(self.fleet.public, 1);
        let mut streams: Vec<Stream> = self
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let sender = StreamSender::new(
                    d.stream,
                    SessionId(1000),
                    self.profile,
                    &fleet,
                    &d.key.secret,
                    &mut rng,
                )
                .unwrap_or_else(|e| panic!("test sender: {e}"));
                let sim: Box<dyn Iterator<Item = RrSample>> = Box::new(
                    RrSimulator::new(SimParams::patient(i as u64), i as u64, start_us)
                        .take_while(move |x| x.t_us < end_us),
                );
                Stream {
                    sender,
                    device: &d.key.secret,
                    sim: sim.peekable(),
                }
            })
            .collect();
        let mut at = rotate.map(|(t, key, epoch)| {
            At(
                (t - 1).max(0) as u64,
                Some(VerifiedFleet::dangerous_unverified(*key, epoch)),
            )
        });
        let mut out = Collect(Vec::new());
        replay(
            &mut streams,
            &mut out,
            (start_us, end_us),
            at.as_mut().map(|a| a as &mut dyn KeyUpdates),
            &mut rng,
            |_| {},
        )
        .unwrap_or_else(|e| panic!("test envelopes: {e}"));
        out.0
    }

    pub fn enrolments(&self) -> MemInput {
        MemInput::new(
            self.devices
                .iter()
                .map(|d| d.signed_enrolment.clone())
                .collect(),
        )
    }
}

/// A free TCP port on 127.0.0.1 (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// `n` distinct free TCP ports on 127.0.0.1: every listener is held until
/// all are bound, so no two can be the same (calling [`free_port`] `n` times
/// can hand out one port twice).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .filter_map(|_| TcpListener::bind("127.0.0.1:0").ok())
        .collect();
    held.iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|a| a.port())
        .collect()
}

/// Waits until `127.0.0.1:port` accepts a TCP connection.
pub fn wait_for_port(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

/// A Mosquitto broker started for one test, killed on drop.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts `mosquitto` (Debian package) on a free loopback port. `None` if
    /// the binary is missing.
    pub fn start() -> Option<Self> {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())?;
        let dir = tempfile::tempdir().ok()?;
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .ok()?;
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let m = Self {
            child,
            port,
            _dir: dir,
        };
        if wait_for_port(port, Duration::from_secs(10)) {
            Some(m)
        } else {
            None
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
