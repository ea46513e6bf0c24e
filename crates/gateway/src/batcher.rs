use std::collections::VecDeque;

use aorta_envelope::session::dangerous_plaintext_envelope;
use aorta_envelope::{KemSecret, SenderSession};
use aorta_kbs_client::VerifiedFleet;
use aorta_wire::{BodyFlags, Bucket, ContentType, RrBatch, RrSample, SessionId, StreamId};
use rand_core::{CryptoRng, RngCore};

use crate::GatewayError;

/// A stream's transmission profile, fixed at enrolment: how often it sends
/// and how big every envelope is. Sizes and timing depend on nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub cadence_ms: u32,
    pub bucket: Bucket,
}

impl Profile {
    /// The profile for a stream of at most `max_rate_per_s` samples per
    /// second: room for 25 % more than that per tick, rounded up to a bucket.
    pub fn for_rate(max_rate_per_s: f64, cadence_ms: u32) -> Result<Self, aorta_wire::WireError> {
        let per_tick = (max_rate_per_s * f64::from(cadence_ms) / 1000.0 * 1.25).ceil() as usize;
        let bucket = Bucket::for_content(RrBatch::encoded_len(per_tick.max(1)))?;
        Ok(Self { cadence_ms, bucket })
    }

    /// RR intervals from a wearable: up to 4 beats/s (240 bpm), every 10 s → 512-byte envelopes.
    pub fn rr_default() -> Self {
        Self {
            cadence_ms: 10_000,
            bucket: match Bucket::from_exponent(9) {
                Ok(b) => b,
                Err(_) => unreachable!("9 is a valid bucket exponent"),
            },
        }
    }

    /// Samples one envelope can carry.
    pub fn capacity(&self) -> usize {
        RrBatch::capacity(self.bucket.content_capacity())
    }
}

enum Mode {
    Sealed(Box<SenderSession>),
    /// Benchmark "plain" mode: no encryption at all.
    DangerousPlaintext {
        next_seq: u64,
    },
}

/// How far before the last watermark sent a sample may still be dated
/// (later, it is refused as [`SampleRefused::TooLate`]): keeps every batch
/// well inside the 71 minutes an RR batch can span.
pub const MAX_LATE_US: i64 = 10 * 60 * 1_000_000;

/// Ticks' worth of samples a stream buffers at most from a live source;
/// more are refused ([`SampleRefused::BufferFull`]).
pub const MAX_BUFFERED_TICKS: usize = 64;
/// Longest stretch of event time one batch spans (an RR batch can span at
/// most 71 minutes); later samples wait for the next envelope.
pub const MAX_BATCH_SPAN_US: i64 = 60 * 60 * 1_000_000;

/// Why [`StreamSender::push_checked`] refused a sample. The sample itself
/// is never part of the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SampleRefused {
    /// Dated more than [`MAX_LATE_US`] before the gateway's clock or the
    /// newest watermark the stream sent.
    TooLate,
    /// Dated further ahead of the gateway's clock than allowed.
    InFuture,
    /// The stream already buffers [`MAX_BUFFERED_TICKS`] ticks' worth.
    BufferFull,
}

impl SampleRefused {
    pub fn name(self) -> &'static str {
        match self {
            Self::TooLate => "dated over 10 min before the gateway clock or what the stream sent",
            Self::InFuture => "dated ahead of the gateway clock",
            Self::BufferFull => "the stream's buffer is full",
        }
    }
}

/// One stream's sender: buffers samples and emits one envelope per tick.
pub struct StreamSender {
    stream: StreamId,
    session: SessionId,
    profile: Profile,
    mode: Mode,
    buffer: VecDeque<RrSample>,
    content: Vec<u8>,
    batch: Vec<RrSample>,
    backlog_ticks: u64,
    /// The highest watermark sent.
    high_watermark: Option<i64>,
}

impl std::fmt::Debug for StreamSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSender")
            .field("stream", &self.stream)
            .field("session", &self.session.0)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl StreamSender {
    /// Starts a session: one HPKE Auth key agreement with a fleet key the
    /// gateway verified (`aorta_kbs_client::verify_fleet`). `session` must exceed
    /// every earlier session id of this stream (the worker rejects older
    /// ones); [`new_session_id`] makes one from the clock.
    pub fn new<R: RngCore + CryptoRng>(
        stream: StreamId,
        session: SessionId,
        profile: Profile,
        fleet: &VerifiedFleet,
        device: &KemSecret,
        rng: &mut R,
    ) -> Result<Self, GatewayError> {
        let s = start_session(ContentType::RrBatch, stream, session, (fleet, device), rng)?;
        Ok(Self::with_mode(
            stream,
            session,
            profile,
            Mode::Sealed(Box::new(s)),
        ))
    }

    /// A sender that does NOT encrypt, for measuring the cost of security.
    pub fn dangerous_plaintext(stream: StreamId, session: SessionId, profile: Profile) -> Self {
        Self::with_mode(
            stream,
            session,
            profile,
            Mode::DangerousPlaintext { next_seq: 0 },
        )
    }

    fn with_mode(stream: StreamId, session: SessionId, profile: Profile, mode: Mode) -> Self {
        Self {
            stream,
            session,
            profile,
            mode,
            buffer: VecDeque::new(),
            content: Vec::with_capacity(profile.bucket.content_capacity()),
            batch: Vec::with_capacity(profile.capacity()),
            backlog_ticks: 0,
            high_watermark: None,
        }
    }

    pub fn stream(&self) -> StreamId {
        self.stream
    }
    pub fn session(&self) -> SessionId {
        self.session
    }
    pub fn profile(&self) -> Profile {
        self.profile
    }
    /// Ticks that could not send everything they had.
    pub fn backlog_ticks(&self) -> u64 {
        self.backlog_ticks
    }
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Buffers a sample whose time the caller has already checked (replay
    /// of sorted files). Samples from live devices go through
    /// [`StreamSender::push_checked`].
    pub fn push(&mut self, s: RrSample) {
        self.insert(s);
    }

    /// Buffers a sample from a device if its time is plausible: not more
    /// than `max_ahead_us` after `now_us`, and not more than [`MAX_LATE_US`]
    /// before the later of `now_us` and the highest watermark sent (so
    /// backdated samples cannot walk the stream back), while the buffer
    /// holds less than [`MAX_BUFFERED_TICKS`] ticks' worth. A refused sample
    /// changes nothing, so one device's wrong clock never holds back or
    /// breaks another sample of the stream, let alone another stream.
    pub fn push_checked(
        &mut self,
        s: RrSample,
        now_us: i64,
        max_ahead_us: i64,
    ) -> Result<(), SampleRefused> {
        if s.t_us > now_us.saturating_add(max_ahead_us) {
            return Err(SampleRefused::InFuture);
        }
        let floor = self
            .high_watermark
            .map_or(now_us, |w| w.max(now_us))
            .saturating_sub(MAX_LATE_US);
        if s.t_us < floor {
            return Err(SampleRefused::TooLate);
        }
        if self.buffer.len() >= self.profile.capacity().saturating_mul(MAX_BUFFERED_TICKS) {
            return Err(SampleRefused::BufferFull);
        }
        self.insert(s);
        Ok(())
    }

    /// Keeps the buffer in time order (samples mostly arrive in order, so
    /// the place is found from the back).
    fn insert(&mut self, s: RrSample) {
        let mut i = self.buffer.len();
        while i > 0 && self.buffer.get(i - 1).is_some_and(|b| b.t_us > s.t_us) {
            i -= 1;
        }
        self.buffer.insert(i, s);
    }

    pub fn extend(&mut self, s: &[RrSample]) {
        for x in s {
            self.insert(*x);
        }
    }

    /// Seals the envelope for the tick ending at `tick_end_us`: the oldest
    /// buffered samples before that time, as many as the bucket holds, and
    /// the watermark `tick_end_us`. Always returns exactly one envelope of
    /// the stream's bucket size.
    pub fn tick(&mut self, tick_end_us: i64) -> Result<Vec<u8>, GatewayError> {
        self.emit(tick_end_us, Ending::No)
    }

    /// Key rotation: seals this tick's envelope as the last of the current
    /// session (flagged `handover`, so the worker neither reports the
    /// session as truncated nor closes open windows), then continues the
    /// stream in `session` under the verified fleet key `fleet`. Buffered
    /// samples carry over. Cadence and sizes are unchanged.
    pub fn tick_and_rekey<R: RngCore + CryptoRng>(
        &mut self,
        tick_end_us: i64,
        session: SessionId,
        fleet: &VerifiedFleet,
        device: &KemSecret,
        rng: &mut R,
    ) -> Result<Vec<u8>, GatewayError> {
        let next = next_session(
            self.session,
            session,
            ContentType::RrBatch,
            self.stream,
            (fleet, device),
            rng,
        )?;
        let env = self.emit(tick_end_us, Ending::Handover)?;
        self.mode = Mode::Sealed(Box::new(next));
        self.session = session;
        Ok(env)
    }

    /// The fleet key epoch this sender encrypts to (0 in plaintext mode).
    pub fn epoch(&self) -> u32 {
        match &self.mode {
            Mode::Sealed(s) => s.epoch(),
            Mode::DangerousPlaintext { .. } => 0,
        }
    }

    /// Seals everything still buffered, ending the session: zero or more full
    /// envelopes, then one with the final flag.
    pub fn finish(&mut self, end_us: i64) -> Result<Vec<Vec<u8>>, GatewayError> {
        let mut out = Vec::new();
        // Everything buffered goes, samples dated after `end_us` too (live
        // sources accept a little clock skew): every envelope takes at
        // least one sample, so this ends.
        let end = self
            .buffer
            .back()
            .map_or(end_us, |s| end_us.max(s.t_us.saturating_add(1)));
        while self.buffer.len() > self.profile.capacity() {
            out.push(self.emit(end, Ending::No)?);
        }
        out.push(self.emit(end, Ending::Final)?);
        Ok(out)
    }

    fn emit(&mut self, tick_end_us: i64, ending: Ending) -> Result<Vec<u8>, GatewayError> {
        let final_ = ending == Ending::Final;
        let cap = self.profile.capacity();
        self.batch.clear();
        let span_end = self
            .buffer
            .front()
            .map_or(i64::MAX, |s| s.t_us.saturating_add(MAX_BATCH_SPAN_US));
        while self.batch.len() < cap {
            match self.buffer.front() {
                Some(s) if (final_ || s.t_us < tick_end_us) && s.t_us < span_end => {
                    self.batch.push(*s);
                    self.buffer.pop_front();
                }
                _ => break,
            }
        }
        let backlog = self.buffer.front().is_some_and(|s| s.t_us < tick_end_us);
        if backlog {
            self.backlog_ticks += 1;
        }
        // With a backlog the watermark cannot advance past what was sent.
        let watermark = match (backlog, self.buffer.front()) {
            (true, Some(s)) => s.t_us,
            _ => tick_end_us,
        };
        self.high_watermark = Some(self.high_watermark.map_or(watermark, |w| w.max(watermark)));
        self.content.clear();
        RrBatch::encode(&self.batch, watermark, &mut self.content)?;
        let flags = BodyFlags {
            final_,
            backlog,
            handover: ending == Ending::Handover,
        };
        let env = match &mut self.mode {
            Mode::Sealed(s) => s.seal(self.profile.bucket, flags, &self.content)?,
            Mode::DangerousPlaintext { next_seq } => {
                let e = dangerous_plaintext_envelope(
                    ContentType::RrBatch,
                    self.stream,
                    self.session,
                    *next_seq,
                    self.profile.bucket,
                    flags,
                    &self.content,
                )?;
                *next_seq += 1;
                e
            }
        };
        Ok(env)
    }
}

/// How an envelope relates to the end of its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    No,
    /// The session and the stream end.
    Final,
    /// The session ends; the stream continues in a newer session.
    Handover,
}

/// A session id that increases across gateway restarts: milliseconds since
/// the Unix epoch in the high 44 bits, 20 random bits below.
pub fn session_id<R: RngCore>(now_ms: u64, rng: &mut R) -> SessionId {
    SessionId((now_ms << 20) | u64::from(rng.next_u32() & 0xF_FFFF))
}

/// A new session id from the system clock ([`session_id`]): the one place
/// gateways, the demo and the benchmarks get their session ids from.
pub fn new_session_id<R: RngCore>(rng: &mut R) -> SessionId {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    session_id(now_ms, rng)
}

/// The session id a stream moves to on key rotation: from the clock, and
/// above `current` even if the clock stepped back.
pub fn next_session_id<R: RngCore>(current: SessionId, rng: &mut R) -> SessionId {
    SessionId(new_session_id(rng).0.max(current.0.saturating_add(1)))
}

/// The sender session a stream moves to on key rotation: `session` must be
/// newer than `current` (the worker refuses older sessions).
pub(crate) fn next_session<R: RngCore + CryptoRng>(
    current: SessionId,
    session: SessionId,
    content: ContentType,
    stream: StreamId,
    (fleet, device): (&VerifiedFleet, &KemSecret),
    rng: &mut R,
) -> Result<SenderSession, GatewayError> {
    if session <= current {
        return Err(GatewayError::SessionNotNewer {
            current: current.0,
            proposed: session.0,
        });
    }
    start_session(content, stream, session, (fleet, device), rng)
}

/// One HPKE Auth key agreement with a verified fleet key, authenticated by
/// the device key: every sender's session starts here.
pub(crate) fn start_session<R: RngCore + CryptoRng>(
    content: ContentType,
    stream: StreamId,
    session: SessionId,
    (fleet, device): (&VerifiedFleet, &KemSecret),
    rng: &mut R,
) -> Result<SenderSession, GatewayError> {
    Ok(SenderSession::start(
        content,
        fleet.epoch(),
        stream,
        session,
        fleet.fleet(),
        device,
        rng,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aorta_envelope::KemKeypair;
    use rand_chacha::rand_core::SeedableRng;

    fn sender() -> StreamSender {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let fleet = KemKeypair::generate(&mut rng);
        let device = KemKeypair::generate(&mut rng);
        StreamSender::new(
            StreamId([1; 16]),
            SessionId(1),
            Profile::rr_default(),
            &VerifiedFleet::dangerous_unverified(fleet.public, 1),
            &device.secret,
            &mut rng,
        )
        .unwrap()
    }

    /// Review finding: backdated samples published every tick used to walk
    /// the "too late" floor back until a batch spanned over 71 minutes and
    /// the gateway exited. The floor follows the gateway clock and the
    /// highest watermark sent; batches never fail.
    #[test]
    fn backdated_samples_cannot_walk_a_stream_back_or_break_it() {
        let mut s = sender();
        let cap = s.profile().capacity();
        let mut now = 1_800_000_000_000_000i64;
        let mut refused = 0;
        for tick in 0..20 {
            for k in 0..=cap {
                let back = 9 * 60_000_000 + tick * 60_000_000 + k as i64;
                let x = RrSample {
                    t_us: now - back,
                    rr_us: 800_000,
                };
                refused += usize::from(s.push_checked(x, now, 60_000_000).is_err());
            }
            let ok = RrSample {
                t_us: now - 1000,
                rr_us: 800_000,
            };
            s.push_checked(ok, now, 60_000_000).unwrap();
            now += 10_000_000;
            s.tick(now).unwrap();
        }
        assert!(refused > 15 * cap, "{refused}");
        assert_eq!(
            s.push_checked(
                RrSample {
                    t_us: now + 61_000_000,
                    rr_us: 1
                },
                now,
                60_000_000
            ),
            Err(SampleRefused::InFuture)
        );
        for _ in 0..cap * MAX_BUFFERED_TICKS {
            let _ = s.push_checked(
                RrSample {
                    t_us: now,
                    rr_us: 1,
                },
                now,
                60_000_000,
            );
        }
        assert_eq!(
            s.push_checked(
                RrSample {
                    t_us: now,
                    rr_us: 1
                },
                now,
                60_000_000
            ),
            Err(SampleRefused::BufferFull)
        );
        assert_eq!(s.finish(now).unwrap().len(), MAX_BUFFERED_TICKS);
    }
}
