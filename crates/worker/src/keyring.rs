//! The fleet keys a worker holds, by epoch, and where it gets more.

use std::collections::BTreeMap;

use aorta_envelope::{KemSecret, SealingKey};

use crate::checkpoint::CHECKPOINT_PURPOSE;

/// Fleet secrets by epoch, as released by the key broker. The newest epoch
/// authenticates results and seals checkpoints; older ones still open
/// envelopes sent before a rotation.
#[derive(Default)]
pub struct Keyring {
    keys: BTreeMap<u32, (KemSecret, SealingKey)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("epochs", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    pub fn new(keys: impl IntoIterator<Item = (u32, KemSecret)>) -> Self {
        let mut k = Self::default();
        k.extend(keys);
        k
    }

    /// Adds keys (a key already held for an epoch is kept).
    pub fn extend(&mut self, keys: impl IntoIterator<Item = (u32, KemSecret)>) {
        for (epoch, secret) in keys {
            self.keys.entry(epoch).or_insert_with(|| {
                let seal = SealingKey::derive(secret.expose_secret(), CHECKPOINT_PURPOSE);
                (secret, seal)
            });
        }
    }

    pub fn get(&self, epoch: u32) -> Option<&KemSecret> {
        self.keys.get(&epoch).map(|(k, _)| k)
    }

    pub(crate) fn sealing(&self, epoch: u32) -> Option<&SealingKey> {
        self.keys.get(&epoch).map(|(_, s)| s)
    }

    /// The newest epoch held and its secret.
    pub fn newest(&self) -> Option<(u32, &KemSecret)> {
        self.keys.iter().next_back().map(|(e, (k, _))| (*e, k))
    }

    pub fn epochs(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Where a worker obtains fleet keys it does not hold: in deployment, by
/// attesting again to the key broker.
pub trait KeySource: Send {
    /// Every epoch the broker currently releases to this worker. An error
    /// means the broker could not be asked or refused this worker; the
    /// worker then stops without committing past the envelope that needed
    /// the key, so nothing is lost.
    fn fetch(&mut self) -> Result<Vec<(u32, KemSecret)>, KeyFetchError>;
}

/// Why a [`KeySource`] gave no keys: whether asking again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFetchError {
    /// The broker could not be reached (down, overloaded, network): retry.
    #[error("the key broker is unavailable: {reason}")]
    Unavailable { reason: String },
    /// The broker answered and refused this worker (evidence no longer
    /// satisfies the policy, worker revoked): asking again will not help
    /// until an operator acts.
    #[error("the key broker refused this worker: {reason}")]
    Refused { reason: String },
}

impl From<aorta_kbs_client::KbsError> for KeyFetchError {
    /// Waiting can help when the broker was unreachable or busy; a refusal
    /// of this worker stays a refusal, and so does stale collateral (the
    /// worker sends the endorsements it was started with: an operator
    /// refreshes them and restarts it).
    fn from(e: aorta_kbs_client::KbsError) -> Self {
        let reason = e.to_string();
        if e.retry() == aorta_kbs_client::Retry::Later {
            Self::Unavailable { reason }
        } else {
            Self::Refused { reason }
        }
    }
}
