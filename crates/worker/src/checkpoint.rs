use aorta_envelope::SealingKey;
use aorta_runtime::StreamState;
use serde::{Deserialize, Serialize};

/// HKDF purpose of the checkpoint sealing key (derived from the fleet secret
/// of an epoch, so any attested worker of the fleet can take over a partition).
pub const CHECKPOINT_PURPOSE: &str = "aorta/v1/checkpoint";

/// Checkpoint layout version (2: sealed under a named fleet key epoch;
/// 3: ECG/PPG reorder buffers, AF detector with lags and ectopic filtering;
/// 4: input log fingerprint, enrolment floors, discontinuity counters;
/// 5: QRS detector with a second low-pass and signal-quality indices;
/// 6: a stream's watermark is absent, not `i64::MIN`, before its first envelope;
/// 7: flagged raw-signal spans per stream, the noisy-segment counter;
/// 8: the AF detector's periodicity thresholds;
/// 9: the clinical operator remembers where the last noisy span ended;
/// 10: the QRS detector's beat-shape similarity index and its hysteresis;
/// 11: the AF detector remembers where its run of decisions began;
/// 12: the AF detector's repetition gate settings;
/// 13: the AF detector's short path, its settings and runs).
pub(crate) const FORMAT: u32 = 13;

/// A sealed checkpoint is `epoch u32 LE ‖ SealingKey::seal(aad, state)`;
/// the epoch is also in the AAD.
pub(crate) fn sealed_epoch(sealed: &[u8]) -> Result<u32, crate::WorkerError> {
    sealed
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| crate::WorkerError::Checkpoint("shorter than its epoch prefix".into()))
}

/// A checkpoint as read back.
#[derive(Debug, Deserialize)]
pub(crate) struct Checkpoint {
    pub format: u32,
    pub partition: u32,
    pub input_offset: u64,
    pub input_fingerprint: u64,
    pub control_offset: u64,
    pub streams: Vec<([u8; 16], StreamState)>,
    pub counters: crate::worker::Counters,
    /// Newest enrolment serial per stream and whether it revoked it.
    pub enrolments: Vec<([u8; 16], u32, bool)>,
}

/// The same layout, borrowing the live state for writing (no copy of it).
#[derive(Debug, Serialize)]
pub(crate) struct CheckpointRef<'a> {
    pub format: u32,
    pub partition: u32,
    pub input_offset: u64,
    pub input_fingerprint: u64,
    pub control_offset: u64,
    pub streams: Vec<(&'a [u8; 16], &'a StreamState)>,
    pub counters: &'a crate::worker::Counters,
    pub enrolments: Vec<([u8; 16], u32, bool)>,
}

fn aad(partition: u32, epoch: u32) -> Vec<u8> {
    let mut v = b"aorta/v2/checkpoint/partition".to_vec();
    v.extend_from_slice(&partition.to_le_bytes());
    v.extend_from_slice(&epoch.to_le_bytes());
    v
}

impl CheckpointRef<'_> {
    pub fn seal<R: rand_core::CryptoRng + rand_core::RngCore>(
        &self,
        epoch: u32,
        key: &SealingKey,
        rng: &mut R,
    ) -> Result<Vec<u8>, crate::WorkerError> {
        let plain = zeroize::Zeroizing::new(
            postcard::to_allocvec(self)
                .map_err(|e| crate::WorkerError::Checkpoint(e.to_string()))?,
        );
        let mut out = epoch.to_le_bytes().to_vec();
        out.extend_from_slice(&key.seal(&aad(self.partition, epoch), &plain, rng));
        Ok(out)
    }
}

impl Checkpoint {
    pub fn open(
        key: &SealingKey,
        partition: u32,
        sealed: &[u8],
    ) -> Result<Self, crate::WorkerError> {
        let epoch = sealed_epoch(sealed)?;
        let plain = zeroize::Zeroizing::new(
            key.open(&aad(partition, epoch), &sealed[4..])
                .map_err(|e| crate::WorkerError::Checkpoint(e.to_string()))?,
        );
        // The format comes first: an older layout is named, not misparsed.
        let (format, _) = postcard::take_from_bytes::<u32>(&plain)
            .map_err(|e| crate::WorkerError::Checkpoint(e.to_string()))?;
        if format != FORMAT {
            return Err(crate::WorkerError::Checkpoint(format!(
                "checkpoint format {format}, expected format {FORMAT} (written by another version)"
            )));
        }
        let c: Self = postcard::from_bytes(&plain)
            .map_err(|e| crate::WorkerError::Checkpoint(e.to_string()))?;
        if c.format != FORMAT || c.partition != partition {
            return Err(crate::WorkerError::Checkpoint(format!(
                "checkpoint format {} for partition {}, expected format {FORMAT} for partition {partition}",
                c.format, c.partition
            )));
        }
        Ok(c)
    }
}
