use crate::{Reader, WireError};

/// Bytes before the first sample of an RR batch.
pub const RR_BATCH_HEADER_LEN: usize = 20;
/// Bytes per RR sample.
pub const RR_SAMPLE_LEN: usize = 8;

/// One beat-to-beat interval: the time of the beat that ends it (Unix
/// microseconds, event time) and its length in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RrSample {
    pub t_us: i64,
    pub rr_us: u32,
}

/// An RR batch as carried in an envelope body:
///
/// ```text
/// 0..4    sample count n, u32 LE
/// 4..12   t0: time of the earliest sample, Unix µs, i64 LE (0 when n = 0)
/// 12..20  watermark: the sender promises no later batch holds a sample
///         before this time, Unix µs, i64 LE
/// 20..    n × { dt: u32 LE µs since t0, rr: u32 LE µs }
/// ```
///
/// Samples keep the sender's order (which need not be time order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RrBatch {
    pub watermark_us: i64,
    pub samples: Vec<RrSample>,
}

impl RrBatch {
    pub fn encoded_len(n: usize) -> usize {
        RR_BATCH_HEADER_LEN + n * RR_SAMPLE_LEN
    }

    /// How many samples fit in `capacity` bytes of content.
    pub fn capacity(capacity: usize) -> usize {
        capacity.saturating_sub(RR_BATCH_HEADER_LEN) / RR_SAMPLE_LEN
    }

    /// Appends the encoding of `samples` to `out`. Fails if the samples span
    /// more than u32::MAX µs (71 minutes), which no cadence allows.
    pub fn encode(
        samples: &[RrSample],
        watermark_us: i64,
        out: &mut Vec<u8>,
    ) -> Result<(), WireError> {
        let t0 = samples.iter().map(|s| s.t_us).min().unwrap_or(0);
        out.reserve(Self::encoded_len(samples.len()));
        out.extend_from_slice(&(samples.len() as u32).to_le_bytes());
        out.extend_from_slice(&t0.to_le_bytes());
        out.extend_from_slice(&watermark_us.to_le_bytes());
        for (index, s) in samples.iter().enumerate() {
            let dt = s
                .t_us
                .checked_sub(t0)
                .and_then(|d| u32::try_from(d).ok())
                .ok_or(WireError::TimeOverflow { index })?;
            out.extend_from_slice(&dt.to_le_bytes());
            out.extend_from_slice(&s.rr_us.to_le_bytes());
        }
        Ok(())
    }

    /// Decodes a batch, appending its samples to `out` (reused across calls
    /// on the hot path) and returning the watermark. Rejects trailing bytes.
    pub fn decode_into(content: &[u8], out: &mut Vec<RrSample>) -> Result<i64, WireError> {
        let mut r = Reader::new(content);
        let count = r.u32()?;
        let t0 = r.i64()?;
        let watermark = r.i64()?;
        let body = r.remaining();
        if (count as usize).checked_mul(RR_SAMPLE_LEN) != Some(body) {
            return Err(WireError::CountMismatch {
                count,
                len: content.len(),
            });
        }
        let raw = r.take(body)?;
        out.reserve(count as usize);
        for (index, chunk) in raw.chunks_exact(RR_SAMPLE_LEN).enumerate() {
            let mut dt = [0u8; 4];
            let mut rr = [0u8; 4];
            dt.copy_from_slice(&chunk[..4]);
            rr.copy_from_slice(&chunk[4..]);
            let t_us = t0
                .checked_add(i64::from(u32::from_le_bytes(dt)))
                .ok_or(WireError::TimeOverflow { index })?;
            out.push(RrSample {
                t_us,
                rr_us: u32::from_le_bytes(rr),
            });
        }
        r.finish("RR batch")?;
        Ok(watermark)
    }
}

/// Bytes before the first sample of an ECG batch.
pub const ECG_BATCH_HEADER_LEN: usize = 32;
/// Microvolts per ECG sample unit (i16: ±163 mV).
pub const ECG_UNIT_UV: f32 = 5.0;

/// A chunk of one ECG lead as carried in an envelope body (content type
/// `EcgBatch`):
///
/// ```text
/// 0..4    sample count n, u32 LE
/// 4..8    sampling rate, Hz, u32 LE
/// 8..16   index of the first sample since the stream began, u64 LE
/// 16..24  time of sample index 0 (the stream's start), Unix µs, i64 LE
/// 24..32  watermark: no later batch holds a sample before this time, Unix µs, i64 LE
/// 32..    n × i16 LE samples, units of 5 µV
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EcgBatch {
    pub fs_hz: u32,
    pub first_index: u64,
    pub origin_us: i64,
    pub watermark_us: i64,
    pub samples: Vec<i16>,
}

impl EcgBatch {
    pub fn encoded_len(n: usize) -> usize {
        ECG_BATCH_HEADER_LEN + 2 * n
    }

    /// How many samples fit in `capacity` bytes of content.
    pub fn capacity(capacity: usize) -> usize {
        capacity.saturating_sub(ECG_BATCH_HEADER_LEN) / 2
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(Self::encoded_len(self.samples.len()));
        out.extend_from_slice(&(self.samples.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.fs_hz.to_le_bytes());
        out.extend_from_slice(&self.first_index.to_le_bytes());
        out.extend_from_slice(&self.origin_us.to_le_bytes());
        out.extend_from_slice(&self.watermark_us.to_le_bytes());
        for s in &self.samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let n = r.u32()? as usize;
        let fs_hz = r.u32()?;
        let first_index = r.u64()?;
        let origin_us = r.i64()?;
        let watermark_us = r.i64()?;
        if n > bytes.len() / 2 {
            return Err(WireError::DoesNotFit {
                what: "ECG samples",
                needed: n * 2,
                capacity: bytes.len(),
            });
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let b = r.array::<2>()?;
            samples.push(i16::from_le_bytes(b));
        }
        r.finish("ECG batch")?;
        Ok(Self {
            fs_hz,
            first_index,
            origin_us,
            watermark_us,
            samples,
        })
    }
}
