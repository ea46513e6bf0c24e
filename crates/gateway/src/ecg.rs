//! Streaming a raw waveform — an ECG lead or a PPG signal: one envelope per
//! tick with the samples before the tick's end, in the stream's fixed
//! bucket, like RR streams. ECG samples are quantised to 5 µV in i16
//! (±163 mV); PPG samples are the sensor's own units rounded to i16 (the
//! worker's detector is scale-free). Out-of-range values saturate,
//! non-finite ones become 0.

use aorta_envelope::{KemSecret, SenderSession};
use aorta_kbs_client::VerifiedFleet;
use aorta_wire::{BodyFlags, ContentType, EcgBatch, SessionId, StreamId, ECG_UNIT_UV};
use rand_core::{CryptoRng, RngCore};

use crate::{GatewayError, Profile};

/// Which raw signal a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// An ECG lead, in mV (sent in units of 5 µV).
    Ecg,
    /// A PPG signal, in the sensor's units.
    Ppg,
}

/// One ECG or PPG stream's sender.
pub struct WaveSender {
    session: SenderSession,
    content_type: ContentType,
    stream: StreamId,
    session_id: SessionId,
    profile: Profile,
    fs_hz: u32,
    origin_us: i64,
    /// Index of the next sample to send.
    next_index: u64,
    buffer: Vec<i16>,
    content: Vec<u8>,
}

impl std::fmt::Debug for WaveSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaveSender")
            .field("fs_hz", &self.fs_hz)
            .field("next_index", &self.next_index)
            .finish_non_exhaustive()
    }
}

impl WaveSender {
    /// A sender for a `signal` sampled at `fs_hz`, whose sample 0 is at
    /// `origin_us`.
    #[allow(clippy::too_many_arguments)]
    pub fn new<R: RngCore + CryptoRng>(
        signal: Signal,
        stream: StreamId,
        session: SessionId,
        profile: Profile,
        (fleet, device): (&VerifiedFleet, &KemSecret),
        fs_hz: u32,
        origin_us: i64,
        rng: &mut R,
    ) -> Result<Self, GatewayError> {
        let content = match signal {
            Signal::Ecg => ContentType::EcgBatch,
            Signal::Ppg => ContentType::PpgBatch,
        };
        let sealed = crate::batcher::start_session(content, stream, session, (fleet, device), rng)?;
        Ok(Self {
            session: sealed,
            content_type: content,
            stream,
            session_id: session,
            profile,
            fs_hz: fs_hz.max(1),
            origin_us,
            next_index: 0,
            buffer: Vec::new(),
            content: Vec::with_capacity(profile.bucket.content_capacity()),
        })
    }

    /// Queues ECG samples in mV.
    pub fn push_mv(&mut self, samples: &[f32]) {
        self.push_scaled(samples, 1000.0 / ECG_UNIT_UV);
    }

    /// Queues PPG samples in the sensor's units.
    pub fn push_units(&mut self, samples: &[f32]) {
        self.push_scaled(samples, 1.0);
    }

    fn push_scaled(&mut self, samples: &[f32], scale: f32) {
        self.buffer.extend(samples.iter().map(|v| {
            if v.is_finite() {
                (v * scale)
                    .round()
                    .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
            } else {
                0
            }
        }));
    }

    /// Time of sample `index`, Unix µs.
    fn time_of(&self, index: u64) -> i64 {
        self.origin_us + (index as i128 * 1_000_000 / i128::from(self.fs_hz)) as i64
    }

    /// Seals the samples before `tick_end_us` (as many as the bucket holds).
    pub fn tick(&mut self, tick_end_us: i64) -> Result<Vec<u8>, GatewayError> {
        self.emit(tick_end_us, false, false)
    }

    /// The current session.
    pub fn session(&self) -> SessionId {
        self.session_id
    }

    /// Key rotation at a tick boundary, as for RR streams
    /// ([`crate::StreamSender::tick_and_rekey`]): the tick's envelope ends
    /// the current session (flagged `handover`), then the stream continues
    /// in `session` under the verified fleet key `fleet`. Sample indices
    /// carry on, so the worker's detector does not restart.
    pub fn tick_and_rekey<R: RngCore + CryptoRng>(
        &mut self,
        tick_end_us: i64,
        session: SessionId,
        fleet: &VerifiedFleet,
        device: &KemSecret,
        rng: &mut R,
    ) -> Result<Vec<u8>, GatewayError> {
        let next = crate::batcher::next_session(
            self.session_id,
            session,
            self.content_type,
            self.stream,
            (fleet, device),
            rng,
        )?;
        let env = self.emit(tick_end_us, false, true)?;
        self.session = next;
        self.session_id = session;
        Ok(env)
    }

    /// Sends everything still buffered, ending the session.
    pub fn finish(&mut self, end_us: i64) -> Result<Vec<Vec<u8>>, GatewayError> {
        let mut out = Vec::new();
        let cap = EcgBatch::capacity(self.profile.bucket.content_capacity());
        while self.buffer.len() > cap {
            out.push(self.emit(i64::MAX, false, false)?);
        }
        out.push(self.emit(
            end_us.max(self.time_of(self.next_index + self.buffer.len() as u64)),
            true,
            false,
        )?);
        Ok(out)
    }

    fn emit(
        &mut self,
        tick_end_us: i64,
        final_: bool,
        handover: bool,
    ) -> Result<Vec<u8>, GatewayError> {
        let cap = EcgBatch::capacity(self.profile.bucket.content_capacity());
        let mut n = 0usize;
        while n < self.buffer.len()
            && n < cap
            && self.time_of(self.next_index + n as u64) < tick_end_us
        {
            n += 1;
        }
        let backlog =
            n < self.buffer.len() && self.time_of(self.next_index + n as u64) < tick_end_us;
        let batch = EcgBatch {
            fs_hz: self.fs_hz,
            first_index: self.next_index,
            origin_us: self.origin_us,
            watermark_us: if backlog {
                self.time_of(self.next_index + n as u64)
            } else {
                tick_end_us.min(i64::MAX / 2)
            },
            samples: self.buffer.drain(..n).collect(),
        };
        self.next_index += n as u64;
        self.content.clear();
        batch.encode(&mut self.content);
        let flags = BodyFlags {
            final_,
            backlog,
            handover,
        };
        Ok(self
            .session
            .seal(self.profile.bucket, flags, &self.content)?)
    }
}
