use crate::{Reader, WireError};

/// Bytes per result record.
pub const RESULT_RECORD_LEN: usize = 32;

/// An analytics algorithm a stream can be enrolled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Algorithm {
    /// The paper's `Identity`: every RR sample is returned unchanged.
    Identity = 0,
    /// The paper's `SDNN`: population standard deviation per 10-s block.
    Sdnn = 1,
    /// The paper's `HRVBands`: DFT band powers LF, HF and LF/HF per block.
    HrvBands = 2,
    /// Mean heart rate per block.
    HeartRate = 3,
    /// Root mean square of successive differences per block.
    Rmssd = 4,
    /// Clinical analytics: every minute, full HRV of the last 5 minutes
    /// after artefact correction (sliding window); AF detection and
    /// threshold alerts as events.
    Clinical = 5,
}

impl Algorithm {
    pub const ALL: [Algorithm; 6] = [
        Self::Identity,
        Self::Sdnn,
        Self::HrvBands,
        Self::HeartRate,
        Self::Rmssd,
        Self::Clinical,
    ];

    pub fn from_u8(v: u8) -> Result<Self, WireError> {
        Self::ALL
            .into_iter()
            .find(|a| *a as u8 == v)
            .ok_or(WireError::UnknownAlgorithm(v))
    }

    /// The name used on the command line and in result files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Sdnn => "sdnn",
            Self::HrvBands => "hrv-bands",
            Self::HeartRate => "hr",
            Self::Rmssd => "rmssd",
            Self::Clinical => "clinical",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// A named quantity in a result record. Units are fixed per metric (see
/// `docs/wire-format.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Metric {
    /// Number of RR samples in the window.
    N = 0,
    /// An RR interval, ms (identity).
    Rr = 1,
    /// Mean RR, ms.
    MeanRr = 2,
    /// SDNN, ms (population, as the paper).
    Sdnn = 3,
    /// LF band power, ms² (the paper's normalisation 2/n²).
    Lf = 4,
    /// HF band power, ms².
    Hf = 5,
    /// LF/HF.
    LfHf = 6,
    /// Mean heart rate, beats per minute.
    Hr = 7,
    /// RMSSD, ms.
    Rmssd = 8,
    /// SDNN with n − 1 (Task Force), ms.
    SdnnTf = 9,
    /// pNN50, %.
    Pnn50 = 10,
    /// Poincaré SD1, ms.
    Sd1 = 11,
    /// Poincaré SD2, ms.
    Sd2 = 12,
    /// Sample entropy (m = 2, r = 0.2·SDNN).
    SampEn = 13,
    /// DFA α1.
    DfaAlpha1 = 14,
    /// VLF power, ms².
    Vlf = 15,
    /// Share of the window's beats corrected or excluded by artefact correction, %.
    Corrected = 16,
    /// Share of the window covered by accepted beats, %.
    Coverage = 17,
    /// Share of the window's decisions that were AF, %.
    AfBurden = 18,
    /// Event: AF began (value 1) or ended (0) at the record's time.
    AfEvent = 19,
    /// Event: bradycardia alert raised (1) or cleared (0).
    AlertBrady = 20,
    /// Event: tachycardia alert raised (1) or cleared (0).
    AlertTachy = 21,
    /// Event: pause (RR over the threshold) raised (1) or cleared (0).
    AlertPause = 22,
    /// Event: signal loss raised (1) or cleared (0).
    AlertSignalLoss = 23,
}

impl Metric {
    pub const ALL: [Metric; 24] = [
        Self::N,
        Self::Rr,
        Self::MeanRr,
        Self::Sdnn,
        Self::Lf,
        Self::Hf,
        Self::LfHf,
        Self::Hr,
        Self::Rmssd,
        Self::SdnnTf,
        Self::Pnn50,
        Self::Sd1,
        Self::Sd2,
        Self::SampEn,
        Self::DfaAlpha1,
        Self::Vlf,
        Self::Corrected,
        Self::Coverage,
        Self::AfBurden,
        Self::AfEvent,
        Self::AlertBrady,
        Self::AlertTachy,
        Self::AlertPause,
        Self::AlertSignalLoss,
    ];

    pub fn from_u8(v: u8) -> Result<Self, WireError> {
        Self::ALL
            .into_iter()
            .find(|m| *m as u8 == v)
            .ok_or(WireError::UnknownMetric(v))
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::N => "n",
            Self::Rr => "rr",
            Self::MeanRr => "mean_rr",
            Self::Sdnn => "sdnn",
            Self::Lf => "lf",
            Self::Hf => "hf",
            Self::LfHf => "lf_hf",
            Self::Hr => "hr",
            Self::Rmssd => "rmssd",
            Self::SdnnTf => "sdnn_tf",
            Self::Pnn50 => "pnn50",
            Self::Sd1 => "sd1",
            Self::Sd2 => "sd2",
            Self::SampEn => "sampen",
            Self::DfaAlpha1 => "dfa_alpha1",
            Self::Vlf => "vlf",
            Self::Corrected => "corrected_pct",
            Self::Coverage => "coverage_pct",
            Self::AfBurden => "af_burden_pct",
            Self::AfEvent => "af",
            Self::AlertBrady => "alert_bradycardia",
            Self::AlertTachy => "alert_tachycardia",
            Self::AlertPause => "alert_pause",
            Self::AlertSignalLoss => "alert_signal_loss",
        }
    }
}

/// Data-quality flags attached to every result record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct Quality(pub u32);

impl Quality {
    /// Envelopes of this stream were missing (sequence gap) while the window was open.
    pub const GAP: u32 = 1 << 0;
    /// Envelopes claiming this stream were rejected (forged, corrupt, replayed).
    pub const REJECTED: u32 = 1 << 1;
    /// Samples arrived after the window had closed and were not included.
    pub const LATE: u32 = 1 << 2;
    /// Envelopes arrived out of order (accepted).
    pub const REORDERED: u32 = 1 << 3;
    /// The previous session ended without its final envelope.
    pub const TRUNCATED: u32 = 1 << 4;
    /// Samples outside the physiological range were excluded.
    pub const OUT_OF_RANGE: u32 = 1 << 5;
    /// The gateway carried samples over (more data than the stream's profile).
    pub const BACKLOG: u32 = 1 << 6;
    /// Too few samples for the metric (value is NaN or not meaningful).
    pub const INSUFFICIENT: u32 = 1 << 7;
    /// The window held more samples than the per-window cap; extras excluded.
    pub const OVERFLOW: u32 = 1 << 8;
    /// Computed by a worker in the SIMULATED TEE (development only: the
    /// deployment was started with `--allow-simulated`).
    pub const SIMULATED_TEE: u32 = 1 << 9;
    /// The worker's signal-quality check flagged the raw ECG or PPG in this
    /// window (noise, motion, flat line, clipping): its beats are
    /// unreliable. The `clinical` operator leaves them out of HRV, AF
    /// detection and rate alerts.
    pub const NOISY: u32 = 1 << 10;

    const NAMES: [(u32, &'static str); 11] = [
        (Self::GAP, "gap"),
        (Self::REJECTED, "rejected"),
        (Self::LATE, "late"),
        (Self::REORDERED, "reordered"),
        (Self::TRUNCATED, "truncated"),
        (Self::OUT_OF_RANGE, "out_of_range"),
        (Self::BACKLOG, "backlog"),
        (Self::INSUFFICIENT, "insufficient"),
        (Self::OVERFLOW, "overflow"),
        (Self::SIMULATED_TEE, "SIMULATED-TEE"),
        (Self::NOISY, "noisy"),
    ];

    pub fn contains(self, flag: u32) -> bool {
        self.0 & flag == flag
    }

    /// `ok`, or the set flags joined by `|`.
    pub fn describe(self) -> String {
        if self.0 == 0 {
            return "ok".to_string();
        }
        let names: Vec<&str> = Self::NAMES
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, n)| *n)
            .collect();
        names.join("|")
    }
}

/// One result value:
///
/// ```text
/// 0..8    time, Unix µs, i64 LE: window start (the sample's own time for identity)
/// 8..12   window length, ms, u32 LE
/// 12      algorithm id
/// 13      metric id
/// 14..16  reserved, zero
/// 16..24  value, f64 LE
/// 24..28  quality flags, u32 LE
/// 28..32  samples in the window, u32 LE
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResultRecord {
    pub t_us: i64,
    pub window_ms: u32,
    pub algorithm: Algorithm,
    pub metric: Metric,
    pub value: f64,
    pub quality: Quality,
    pub n: u32,
}

impl ResultRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.t_us.to_le_bytes());
        out.extend_from_slice(&self.window_ms.to_le_bytes());
        out.push(self.algorithm as u8);
        out.push(self.metric as u8);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.value.to_le_bytes());
        out.extend_from_slice(&self.quality.0.to_le_bytes());
        out.extend_from_slice(&self.n.to_le_bytes());
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let t_us = r.i64()?;
        let window_ms = r.u32()?;
        let algorithm = Algorithm::from_u8(r.u8()?)?;
        let metric = Metric::from_u8(r.u8()?)?;
        let reserved = r.u16()?;
        if reserved != 0 {
            return Err(WireError::ReservedFlags(
                reserved as u8 | (reserved >> 8) as u8,
            ));
        }
        Ok(Self {
            t_us,
            window_ms,
            algorithm,
            metric,
            value: r.f64()?,
            quality: Quality(r.u32()?),
            n: r.u32()?,
        })
    }
}

/// A result batch: the stream the results belong to (16 bytes), `count: u32
/// LE`, then `count` records. The stream id travels inside the encryption:
/// result envelopes are addressed to a recipient's results channel, not to a
/// stream.
pub struct ResultBatch;

impl ResultBatch {
    pub fn encoded_len(n: usize) -> usize {
        16 + 4 + n * RESULT_RECORD_LEN
    }

    pub fn capacity(content_capacity: usize) -> usize {
        content_capacity.saturating_sub(20) / RESULT_RECORD_LEN
    }

    pub fn encode(stream: crate::StreamId, records: &[ResultRecord], out: &mut Vec<u8>) {
        out.reserve(Self::encoded_len(records.len()));
        out.extend_from_slice(&stream.0);
        out.extend_from_slice(&(records.len() as u32).to_le_bytes());
        for r in records {
            r.encode(out);
        }
    }

    pub fn decode(content: &[u8]) -> Result<(crate::StreamId, Vec<ResultRecord>), WireError> {
        let mut r = Reader::new(content);
        let stream = crate::StreamId(r.array()?);
        let count = r.u32()?;
        if (count as usize).checked_mul(RESULT_RECORD_LEN) != Some(r.remaining()) {
            return Err(WireError::CountMismatch {
                count,
                len: content.len(),
            });
        }
        let mut out = Vec::with_capacity(count as usize);
        for _ in 0..count {
            out.push(ResultRecord::decode(&mut r)?);
        }
        r.finish("result batch")?;
        Ok((stream, out))
    }
}
