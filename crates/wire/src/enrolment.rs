use crate::{Algorithm, Bucket, Reader, StreamId, WireError};

/// The set of algorithms a stream runs, as a bitmask of [`Algorithm`] ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AlgorithmSet(pub u32);

impl AlgorithmSet {
    pub fn of(algos: &[Algorithm]) -> Self {
        Self(algos.iter().fold(0, |m, a| m | (1 << (*a as u32))))
    }
    pub fn contains(self, a: Algorithm) -> bool {
        self.0 & (1 << (a as u32)) != 0
    }
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
    pub fn names(self) -> String {
        self.iter().map(|a| a.name()).collect::<Vec<_>>().join(",")
    }
    /// Parses `sdnn,hrv-bands,...`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            out.push(Algorithm::from_name(name).ok_or_else(|| {
                let known: Vec<_> = Algorithm::ALL.iter().map(|a| a.name()).collect();
                format!("unknown algorithm '{name}' (known: {})", known.join(", "))
            })?);
        }
        if out.is_empty() {
            return Err("no algorithm given".into());
        }
        Ok(Self::of(&out))
    }
    fn from_u32(v: u32) -> Result<Self, WireError> {
        let known = Self::of(&Algorithm::ALL).0;
        if v & !known != 0 {
            return Err(WireError::UnknownAlgorithm(
                (v & !known).trailing_zeros() as u8
            ));
        }
        Ok(Self(v))
    }
}

/// A patient's alert thresholds, chosen at enrolment (the `clinical`
/// algorithm raises alerts from them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertThresholds {
    /// Bradycardia below this heart rate, bpm.
    pub brady_bpm: u8,
    /// Tachycardia above this heart rate, bpm.
    pub tachy_bpm: u8,
    /// A pause: an RR interval longer than this, in tenths of a second.
    pub pause_ds: u8,
    /// Signal loss: no beat for this many seconds.
    pub signal_loss_s: u8,
}

impl Default for AlertThresholds {
    fn default() -> Self {
        Self {
            brady_bpm: 40,
            tachy_bpm: 130,
            pause_ds: 30,
            signal_loss_s: 15,
        }
    }
}

impl AlertThresholds {
    /// Rejects thresholds that cannot make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.brady_bpm < 20 || self.tachy_bpm <= self.brady_bpm.saturating_add(10) {
            return Err(format!(
                "alert thresholds: bradycardia {} bpm must be at least 20 and 10 below tachycardia {} bpm",
                self.brady_bpm, self.tachy_bpm
            ));
        }
        if self.pause_ds < 15 || self.signal_loss_s < 5 {
            return Err("alert thresholds: pause at least 1.5 s, signal loss at least 5 s".into());
        }
        Ok(())
    }
}

/// Whether an enrolment is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EnrolmentStatus {
    Active = 0,
    Revoked = 1,
}

/// A data controller's enrolment of one device stream. Signed by the
/// controller (the signature is appended by `aorta-envelope`); a record with
/// a higher `serial` supersedes lower ones for the same stream.
///
/// ```text
/// 0..4    "AENR"
/// 4       record format = 2 (1: without the alert thresholds, which default)
/// 5       status: 0 active, 1 revoked
/// 6       bucket exponent of the stream's envelopes
/// 7       recipient count r (1..=8)
/// 8..12   serial, u32 LE
/// 12..16  algorithm bitmask, u32 LE
/// 16..20  cadence, ms, u32 LE
/// 20..28  effective from (event time, Unix µs), i64 LE
/// 28..44  stream id
/// 44..76  device public key (X25519)
/// 76..    r × recipient public key (X25519, 32 bytes)
/// then    alert thresholds: bradycardia bpm, tachycardia bpm, pause in
///         0.1 s, signal loss in s (4 × u8; format 2 only)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub status: EnrolmentStatus,
    pub bucket: Bucket,
    pub serial: u32,
    pub algorithms: AlgorithmSet,
    pub cadence_ms: u32,
    pub effective_from_us: i64,
    pub stream: StreamId,
    pub device_key: [u8; 32],
    pub recipients: Vec<[u8; 32]>,
    pub alerts: AlertThresholds,
}

const ENR_MAGIC: [u8; 4] = *b"AENR";
/// Most recipients one enrolment may name.
pub const MAX_RECIPIENTS: usize = 8;

impl Enrolment {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(76 + 32 * self.recipients.len());
        out.extend_from_slice(&ENR_MAGIC);
        out.push(2);
        out.push(self.status as u8);
        out.push(self.bucket.exponent());
        out.push(self.recipients.len() as u8);
        out.extend_from_slice(&self.serial.to_le_bytes());
        out.extend_from_slice(&self.algorithms.0.to_le_bytes());
        out.extend_from_slice(&self.cadence_ms.to_le_bytes());
        out.extend_from_slice(&self.effective_from_us.to_le_bytes());
        out.extend_from_slice(&self.stream.0);
        out.extend_from_slice(&self.device_key);
        for r in &self.recipients {
            out.extend_from_slice(r);
        }
        let a = self.alerts;
        out.extend_from_slice(&[a.brady_bpm, a.tachy_bpm, a.pause_ds, a.signal_loss_s]);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let magic = r.array::<4>()?;
        if magic != ENR_MAGIC {
            return Err(WireError::BadMagic { found: magic });
        }
        let format = r.u8()?;
        if format != 1 && format != 2 {
            return Err(WireError::UnsupportedVersion(format));
        }
        let status = match r.u8()? {
            0 => EnrolmentStatus::Active,
            1 => EnrolmentStatus::Revoked,
            other => return Err(WireError::ReservedFlags(other)),
        };
        let bucket = Bucket::from_exponent(r.u8()?)?;
        let count = r.u8()? as usize;
        if count == 0 || count > MAX_RECIPIENTS {
            return Err(WireError::DoesNotFit {
                what: "recipient list (1..=8)",
                needed: count,
                capacity: MAX_RECIPIENTS,
            });
        }
        let serial = r.u32()?;
        let algorithms = AlgorithmSet::from_u32(r.u32()?)?;
        let cadence_ms = r.u32()?;
        let effective_from_us = r.i64()?;
        let stream = StreamId(r.array()?);
        let device_key = r.array()?;
        let mut recipients = Vec::with_capacity(count);
        for _ in 0..count {
            recipients.push(r.array()?);
        }
        let alerts = if format == 2 {
            let [brady_bpm, tachy_bpm, pause_ds, signal_loss_s] = r.array::<4>()?;
            AlertThresholds {
                brady_bpm,
                tachy_bpm,
                pause_ds,
                signal_loss_s,
            }
        } else {
            AlertThresholds::default()
        };
        r.finish("enrolment")?;
        Ok(Self {
            status,
            bucket,
            serial,
            algorithms,
            cadence_ms,
            effective_from_us,
            stream,
            device_key,
            recipients,
            alerts,
        })
    }
}
