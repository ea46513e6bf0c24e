//! The gateway's run loop, generic over the transport: every stream's
//! samples are fed to its sender on the event-time cadence, and every tick
//! the envelopes of all streams are appended together (one
//! [`Producer::append`], durable on return) to whatever transport the
//! caller plugs in: the spool, NATS JetStream, or an in-memory log.
//!
//! One loop serves replays of files, simulations, the demo and the
//! benchmarks; key rotation arrives through [`KeyUpdates`] at a tick
//! boundary, so every stream moves to the new epoch together.

use aorta_envelope::KemSecret;
use aorta_kbs_client::VerifiedFleet;
use aorta_transport::Producer;
use aorta_wire::RrSample;
use rand_core::{CryptoRng, RngCore};

use crate::batcher::next_session_id;
use crate::{GatewayError, StreamSender};

/// Samples in chunks (a generated second, a parsed file...), in time order
/// within and across chunks.
pub type Chunks = Box<dyn Iterator<Item = Vec<RrSample>> + Send>;

/// One stream being replayed by a gateway.
pub struct ReplayStream {
    pub sender: StreamSender,
    /// The device's key, needed to start a new session on key rotation.
    device: Option<KemSecret>,
    chunks: Chunks,
    buf: Vec<RrSample>,
    pos: usize,
}

impl std::fmt::Debug for ReplayStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayStream")
            .field("sender", &self.sender)
            .field("rotates", &self.device.is_some())
            .finish_non_exhaustive()
    }
}

impl ReplayStream {
    /// From a sample iterator (taken 4096 samples at a time).
    pub fn new(sender: StreamSender, source: Box<dyn Iterator<Item = RrSample> + Send>) -> Self {
        let mut source = source;
        let chunks = std::iter::from_fn(move || {
            let c: Vec<RrSample> = source.by_ref().take(4096).collect();
            (!c.is_empty()).then_some(c)
        });
        Self::from_chunks(sender, Box::new(chunks))
    }

    pub fn from_chunks(sender: StreamSender, chunks: Chunks) -> Self {
        Self {
            sender,
            device: None,
            chunks,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Lets the stream follow key rotations (see [`replay`]).
    pub fn with_device(mut self, device: KemSecret) -> Self {
        self.device = Some(device);
        self
    }

    /// Moves every sample before `until_us` from the source into the sender.
    fn feed(&mut self, until_us: i64) -> u64 {
        let mut n = 0;
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            if rest.is_empty() {
                match self.chunks.next() {
                    Some(c) => {
                        self.buf = c;
                        self.pos = 0;
                        continue;
                    }
                    None => return n,
                }
            }
            let k = rest
                .iter()
                .position(|s| s.t_us >= until_us)
                .unwrap_or(rest.len());
            self.sender.extend(&rest[..k]);
            self.pos += k;
            n += k as u64;
            if k < rest.len() {
                return n;
            }
        }
    }
}

/// A stream [`replay`] drives: fed from its source up to a time, then
/// sealed once per tick.
pub trait Replayed {
    /// The stream's cadence, µs (every stream of one replay shares it).
    fn cadence_us(&self) -> i64;
    /// Moves every sample before `until_us` from the source into the
    /// sender; returns how many.
    fn feed(&mut self, until_us: i64) -> u64;
    /// Seals the tick ending at `end_us`.
    fn tick(&mut self, end_us: i64) -> Result<Vec<u8>, GatewayError>;
    /// Seals the tick ending at `end_us` as the last of the current
    /// session and continues under `fleet` in a newer session.
    fn rekey(
        &mut self,
        end_us: i64,
        fleet: &VerifiedFleet,
        rng: &mut dyn CryptoRngDyn,
    ) -> Result<Vec<u8>, GatewayError>;
    /// Seals everything left, ending the stream.
    fn finish(&mut self, end_us: i64) -> Result<Vec<Vec<u8>>, GatewayError>;
    /// Ticks whose samples did not fit the stream's bucket (carried over).
    fn backlog_ticks(&self) -> u64 {
        0
    }
}

/// An object-safe cryptographic RNG, so that [`Replayed`] stays a trait
/// object-friendly interface.
pub trait CryptoRngDyn: RngCore + CryptoRng {}
impl<T: RngCore + CryptoRng> CryptoRngDyn for T {}

impl Replayed for ReplayStream {
    fn cadence_us(&self) -> i64 {
        i64::from(self.sender.profile().cadence_ms) * 1000
    }
    fn feed(&mut self, until_us: i64) -> u64 {
        ReplayStream::feed(self, until_us)
    }
    fn tick(&mut self, end_us: i64) -> Result<Vec<u8>, GatewayError> {
        self.sender.tick(end_us)
    }
    fn rekey(
        &mut self,
        end_us: i64,
        fleet: &VerifiedFleet,
        mut rng: &mut dyn CryptoRngDyn,
    ) -> Result<Vec<u8>, GatewayError> {
        let device = self.device.as_ref().ok_or_else(|| GatewayError::Input {
            what: format!("stream {}", self.sender.stream()),
            reason: "key rotation needs the stream's device key".into(),
        })?;
        let next = next_session_id(self.sender.session(), &mut rng);
        self.sender
            .tick_and_rekey(end_us, next, fleet, device, &mut rng)
    }
    fn finish(&mut self, end_us: i64) -> Result<Vec<Vec<u8>>, GatewayError> {
        self.sender.finish(end_us)
    }
    fn backlog_ticks(&self) -> u64 {
        self.sender.backlog_ticks()
    }
}

/// A recorded ECG or PPG waveform replayed as one stream: each tick gets
/// the samples dated before its end.
pub struct WaveReplay {
    sender: crate::WaveSender,
    device: KemSecret,
    signal: crate::Signal,
    samples: Vec<f32>,
    pos: usize,
    fs_hz: u32,
    origin_us: i64,
    cadence_us: i64,
}

impl std::fmt::Debug for WaveReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaveReplay")
            .field("fs_hz", &self.fs_hz)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl WaveReplay {
    /// `samples` (ECG in mV, PPG in sensor units) at `fs_hz`, sample 0 at
    /// the sender's origin `origin_us`.
    pub fn new(
        sender: crate::WaveSender,
        device: KemSecret,
        signal: crate::Signal,
        samples: Vec<f32>,
        (fs_hz, origin_us): (u32, i64),
        cadence_ms: u32,
    ) -> Self {
        Self {
            sender,
            device,
            signal,
            samples,
            pos: 0,
            fs_hz: fs_hz.max(1),
            origin_us,
            cadence_us: i64::from(cadence_ms) * 1000,
        }
    }

    /// Event time just past the last sample.
    pub fn end_us(&self) -> i64 {
        self.origin_us + (self.samples.len() as i128 * 1_000_000 / i128::from(self.fs_hz)) as i64
    }
}

impl Replayed for WaveReplay {
    fn cadence_us(&self) -> i64 {
        self.cadence_us
    }
    fn feed(&mut self, until_us: i64) -> u64 {
        // Samples strictly before `until_us`.
        let upto = if until_us == i64::MAX {
            self.samples.len()
        } else {
            let span = i128::from(until_us.saturating_sub(self.origin_us).max(0));
            let n = (span * i128::from(self.fs_hz) + 999_999) / 1_000_000;
            usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(self.samples.len())
        };
        let Some(chunk) = self.samples.get(self.pos..upto.max(self.pos)) else {
            return 0;
        };
        match self.signal {
            crate::Signal::Ecg => self.sender.push_mv(chunk),
            crate::Signal::Ppg => self.sender.push_units(chunk),
        }
        let n = chunk.len();
        self.pos += n;
        n as u64
    }
    fn tick(&mut self, end_us: i64) -> Result<Vec<u8>, GatewayError> {
        self.sender.tick(end_us)
    }
    fn rekey(
        &mut self,
        end_us: i64,
        fleet: &VerifiedFleet,
        mut rng: &mut dyn CryptoRngDyn,
    ) -> Result<Vec<u8>, GatewayError> {
        let next = next_session_id(self.sender.session(), &mut rng);
        self.sender
            .tick_and_rekey(end_us, next, fleet, &self.device, &mut rng)
    }
    fn finish(&mut self, end_us: i64) -> Result<Vec<Vec<u8>>, GatewayError> {
        self.sender.finish(end_us)
    }
}

/// Tells the driver, at a tick, that every stream must move to a newer
/// fleet key. The key is an [`aorta_kbs_client::VerifiedFleet`]: only
/// `aorta_kbs_client::verify_fleet` (or the explicitly named
/// `VerifiedFleet::dangerous_unverified`) makes one.
/// An error stops the driver: a gateway that can no longer learn of
/// rotations (and so of revoked workers) must not go on sending.
pub trait KeyUpdates {
    fn poll(&mut self, tick: u64) -> Result<Option<VerifiedFleet>, GatewayError>;
}

impl KeyUpdates for aorta_kbs_client::FleetWatch {
    fn poll(&mut self, tick: u64) -> Result<Option<VerifiedFleet>, GatewayError> {
        Ok(aorta_kbs_client::FleetWatch::poll(self, tick))
    }
}

/// A watch on its own thread (the live gateway's: a slow broker must not
/// hold up a tick); the key found is switched to at the next tick.
impl KeyUpdates for aorta_kbs_client::WatchThread {
    fn poll(&mut self, _tick: u64) -> Result<Option<VerifiedFleet>, GatewayError> {
        aorta_kbs_client::WatchThread::poll(self).map_err(|e| GatewayError::KeyWatch(e.to_string()))
    }
}

/// What a gateway replay did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GatewayStats {
    pub samples: u64,
    pub envelopes: u64,
    pub bytes: u64,
    pub backlog_ticks: u64,
    pub ticks: u64,
}

/// Replays sources on the event-time cadence from `start_us` to `end_us`:
/// each tick, one envelope per stream, appended (and made durable) together.
/// With `keys`, every stream moves to a new fleet key epoch at the tick
/// where a rotation is reported (streams need [`ReplayStream::with_device`]).
/// A transport error stops the replay and is returned; nothing is dropped
/// silently (the caller learns how far it got from `on_tick`).
pub fn replay<S: Replayed, P: Producer + ?Sized, R: RngCore + CryptoRng>(
    streams: &mut [S],
    out: &mut P,
    (start_us, end_us): (i64, i64),
    mut keys: Option<&mut dyn KeyUpdates>,
    rng: &mut R,
    mut on_tick: impl FnMut(&GatewayStats),
) -> Result<GatewayStats, GatewayError> {
    let Some(first) = streams.first() else {
        return Ok(GatewayStats::default());
    };
    let cadence_us = first.cadence_us();
    if cadence_us <= 0 || streams.iter().any(|s| s.cadence_us() != cadence_us) {
        return Err(GatewayError::Input {
            what: "replay".into(),
            reason: "all streams of one replay must share a cadence".into(),
        });
    }
    let mut stats = GatewayStats::default();
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(streams.len());
    let mut tick_end = start_us + cadence_us;
    loop {
        let last = tick_end >= end_us;
        let rekey = match keys.as_deref_mut() {
            Some(w) if !last => w.poll(stats.ticks)?,
            _ => None,
        };
        batch.clear();
        for s in streams.iter_mut() {
            stats.samples += s.feed(if last { i64::MAX } else { tick_end });
            if last {
                batch.extend(s.finish(tick_end)?);
            } else if let Some(v) = &rekey {
                batch.push(s.rekey(tick_end, v, rng)?);
            } else {
                batch.push(s.tick(tick_end)?);
            }
        }
        stats.ticks += 1;
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        out.append(&refs)?;
        stats.envelopes += batch.len() as u64;
        stats.bytes += batch.iter().map(|b| b.len() as u64).sum::<u64>();
        on_tick(&stats);
        if last {
            break;
        }
        tick_end += cadence_us;
    }
    stats.backlog_ticks = streams.iter().map(|s| s.backlog_ticks()).sum();
    Ok(stats)
}

/// Where a live gateway's samples come from (MQTT devices in deployment).
pub trait LiveSource {
    /// Waits at most `timeout` for the next event.
    fn next(&mut self, timeout: std::time::Duration) -> LiveEvent;
}

/// What a [`LiveSource`] had.
#[derive(Debug)]
pub enum LiveEvent {
    /// Samples for the stream at this index of the driver's streams.
    Samples {
        stream: usize,
        samples: Vec<RrSample>,
    },
    /// Input refused before it reached a stream, and why.
    Refused(&'static str),
    /// Something for the operator (subscribed, reconnecting...).
    Notice(String),
    /// Nothing yet.
    Idle,
    /// The source is gone for good.
    Stopped,
}

/// One live stream: its sender and the device key a key rotation needs.
pub struct LiveStream {
    pub sender: StreamSender,
    device: KemSecret,
}

impl std::fmt::Debug for LiveStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStream")
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

impl LiveStream {
    pub fn new(sender: StreamSender, device: KemSecret) -> Self {
        Self { sender, device }
    }
}

/// What a live gateway did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Samples accepted into a stream.
    pub samples: u64,
    /// Samples or messages refused, by reason.
    pub refused: std::collections::BTreeMap<&'static str, u64>,
    pub ticks: u64,
    /// Envelopes sealed (one per stream per tick) and their bytes.
    pub sealed_envelopes: u64,
    pub sealed_bytes: u64,
    /// What the transport took, retried, dropped, and holds now.
    pub outbox: crate::outbox::OutboxStats,
}

/// Settings of [`live`].
#[derive(Debug, Clone, Copy)]
pub struct LiveOptions {
    /// Time between ticks (the streams' cadence).
    pub cadence: std::time::Duration,
    /// Samples dated further than this ahead of the gateway clock are refused.
    pub max_ahead_us: i64,
}

/// The caller's view into [`live`]: progress, notices and when to stop.
pub trait LiveHooks {
    /// After every tick.
    fn tick(&mut self, _stats: &LiveStats) {}
    fn notice(&mut self, _message: &str) {}
    /// Checked after every event: `true` ends the streams' sessions and
    /// returns.
    fn stop(&mut self, _stats: &LiveStats) -> bool {
        false
    }
}

/// A live gateway: samples from `src` go to their streams as they come
/// (refused ones counted by reason); every `cadence` of wall-clock time
/// every stream seals one envelope, and the tick goes to `outbox`, which
/// never blocks (see [`crate::outbox`]). Key rotation as in [`replay`].
/// Returns when `hooks.stop` says so or the source stops, after sealing
/// each stream's final envelope; the caller then closes the outbox.
pub fn live<S: LiveSource + ?Sized, R: RngCore + CryptoRng>(
    streams: &mut [LiveStream],
    src: &mut S,
    outbox: &crate::outbox::Outbox,
    mut keys: Option<&mut dyn KeyUpdates>,
    opts: &LiveOptions,
    rng: &mut R,
    hooks: &mut dyn LiveHooks,
) -> Result<LiveStats, GatewayError> {
    use std::time::Instant;
    let mut stats = LiveStats::default();
    let mut next_tick = Instant::now() + opts.cadence;
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        let mut stopped = false;
        match src.next(wait) {
            LiveEvent::Samples { stream, samples } => {
                if let Some(s) = streams.get_mut(stream) {
                    let now_us = now_us();
                    for x in samples {
                        match s.sender.push_checked(x, now_us, opts.max_ahead_us) {
                            Ok(()) => stats.samples += 1,
                            Err(r) => *stats.refused.entry(r.name()).or_insert(0) += 1,
                        }
                    }
                }
            }
            LiveEvent::Refused(why) => *stats.refused.entry(why).or_insert(0) += 1,
            LiveEvent::Notice(m) => hooks.notice(&m),
            LiveEvent::Idle => {}
            LiveEvent::Stopped => stopped = true,
        }
        let finishing = stopped || hooks.stop(&stats);
        if Instant::now() < next_tick && !finishing {
            continue;
        }
        let now = now_us();
        let rekey = match keys.as_deref_mut() {
            Some(k) if !finishing => k.poll(stats.ticks)?,
            _ => None,
        };
        let mut batch = Vec::with_capacity(streams.len());
        for s in streams.iter_mut() {
            if finishing {
                batch.extend(s.sender.finish(now)?);
            } else if let Some(v) = &rekey {
                let session = next_session_id(s.sender.session(), rng);
                batch.push(s.sender.tick_and_rekey(now, session, v, &s.device, rng)?);
            } else {
                batch.push(s.sender.tick(now)?);
            }
        }
        stats.ticks += 1;
        stats.sealed_envelopes += batch.len() as u64;
        stats.sealed_bytes += batch.iter().map(|b| b.len() as u64).sum::<u64>();
        outbox.push(batch)?;
        stats.outbox = outbox.stats();
        hooks.tick(&stats);
        if stopped {
            // Every session was ended properly, but the source is gone:
            // not a clean shutdown.
            return Err(GatewayError::Input {
                what: "live source".into(),
                reason: "the device source stopped (its reader thread is gone)".into(),
            });
        }
        if finishing {
            return Ok(stats);
        }
        // A gateway that fell behind (suspended, overloaded) ticks once and
        // carries on from now: envelopes stay one per cadence.
        next_tick += opts.cadence;
        let now = Instant::now();
        if next_tick <= now {
            next_tick = now + opts.cadence;
        }
    }
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
