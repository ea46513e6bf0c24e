use aorta_envelope::SealingKey;
use aorta_runtime::StreamState;
use serde::{Deserialize, Serialize};

/// HKDF purpose of the checkpoint sealing key (derived from the fleet secret,
/// so any attested worker of the fleet can take over a partition).
pub const CHECKPOINT_PURPOSE: &str = "aorta/v1/checkpoint";

/// A checkpoint as read back.
#[derive(Debug, Deserialize)]
pub(crate) struct Checkpoint {
    pub format: u32,
    pub partition: u32,
    pub input_offset: u64,
    pub control_offset: u64,
    pub streams: Vec<([u8; 16], StreamState)>,
    pub counters: crate::worker::Counters,
}

/// The same layout, borrowing the live state for writing (no copy of it).
#[derive(Debug, Serialize)]
pub(crate) struct CheckpointRef<'a> {
    pub format: u32,
    pub partition: u32,
    pub input_offset: u64,
    pub control_offset: u64,
    pub streams: Vec<(&'a [u8; 16], &'a StreamState)>,
    pub counters: &'a crate::worker::Counters,
}

fn aad(partition: u32) -> Vec<u8> {
    let mut v = b"aorta/v1/checkpoint/partition".to_vec();
    v.extend_from_slice(&partition.to_le_bytes());
    v
}

impl CheckpointRef<'_> {
    pub fn seal<R: rand_core::CryptoRng + rand_core::RngCore>(
        &self,
        key: &SealingKey,
        rng: &mut R,
    ) -> Result<Vec<u8>, crate::WorkerError> {
        let plain = postcard::to_allocvec(self)
            .map_err(|e| crate::WorkerError::Checkpoint(e.to_string()))?;
        Ok(key.seal(&aad(self.partition), &plain, rng))
    }
}

impl Checkpoint {
    pub fn open(
        key: &SealingKey,
        partition: u32,
        sealed: &[u8],
    ) -> Result<Self, crate::WorkerError> {
        let plain = key
            .open(&aad(partition), sealed)
            .map_err(|e| crate::WorkerError::Checkpoint(e.to_string()))?;
        let c: Self = postcard::from_bytes(&plain)
            .map_err(|e| crate::WorkerError::Checkpoint(e.to_string()))?;
        if c.format != 1 || c.partition != partition {
            return Err(crate::WorkerError::Checkpoint(format!(
                "checkpoint format {} for partition {}, expected format 1 for partition {partition}",
                c.format, c.partition
            )));
        }
        Ok(c)
    }
}
