//! Streaming a raw ECG lead: one envelope per tick with the samples before
//! the tick's end, in the stream's fixed bucket, like RR streams. Samples
//! are quantised to 5 µV in i16 (±163 mV; out-of-range values saturate).

use aorta_envelope::{KemPublic, KemSecret, SenderSession};
use aorta_wire::{BodyFlags, ContentType, EcgBatch, SessionId, StreamId, ECG_UNIT_UV};
use rand_core::{CryptoRng, RngCore};

use crate::{GatewayError, Profile};

/// One ECG stream's sender.
pub struct EcgSender {
    session: SenderSession,
    profile: Profile,
    fs_hz: u32,
    origin_us: i64,
    /// Index of the next sample to send.
    next_index: u64,
    buffer: Vec<i16>,
    content: Vec<u8>,
}

impl std::fmt::Debug for EcgSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcgSender")
            .field("fs_hz", &self.fs_hz)
            .field("next_index", &self.next_index)
            .finish_non_exhaustive()
    }
}

impl EcgSender {
    /// A sender for a lead sampled at `fs_hz`, whose sample 0 is at `origin_us`.
    #[allow(clippy::too_many_arguments)]
    pub fn new<R: RngCore + CryptoRng>(
        stream: StreamId,
        session: SessionId,
        profile: Profile,
        fleet: &KemPublic,
        epoch: u32,
        device: &KemSecret,
        fs_hz: u32,
        origin_us: i64,
        rng: &mut R,
    ) -> Result<Self, GatewayError> {
        let session = SenderSession::start(
            ContentType::EcgBatch,
            epoch,
            stream,
            session,
            fleet,
            device,
            rng,
        )?;
        Ok(Self {
            session,
            profile,
            fs_hz: fs_hz.max(1),
            origin_us,
            next_index: 0,
            buffer: Vec::new(),
            content: Vec::with_capacity(profile.bucket.content_capacity()),
        })
    }

    /// Queues samples in mV.
    pub fn push_mv(&mut self, samples: &[f32]) {
        let unit = ECG_UNIT_UV / 1000.0;
        self.buffer.extend(samples.iter().map(|v| {
            if v.is_finite() {
                (v / unit)
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
        self.emit(tick_end_us, false)
    }

    /// Sends everything still buffered, ending the session.
    pub fn finish(&mut self, end_us: i64) -> Result<Vec<Vec<u8>>, GatewayError> {
        let mut out = Vec::new();
        let cap = EcgBatch::capacity(self.profile.bucket.content_capacity());
        while self.buffer.len() > cap {
            out.push(self.emit(i64::MAX, false)?);
        }
        out.push(self.emit(
            end_us.max(self.time_of(self.next_index + self.buffer.len() as u64)),
            true,
        )?);
        Ok(out)
    }

    fn emit(&mut self, tick_end_us: i64, final_: bool) -> Result<Vec<u8>, GatewayError> {
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
            handover: false,
        };
        Ok(self
            .session
            .seal(self.profile.bucket, flags, &self.content)?)
    }
}
