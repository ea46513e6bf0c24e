//! The data controller's operations on the broker's directory, each
//! recorded in the audit log. They act on a running broker at once (it
//! re-reads the directory on every request).

use rand_core::{CryptoRng, RngCore};

use crate::audit::{AuditLog, Event};
use crate::store::Store;
use crate::KbsError;

fn audit(store: &Store) -> AuditLog {
    AuditLog::new(store.dir().join("audit.log"))
}

/// Creates the next epoch: gateways switch to it at their next check,
/// workers fetch it when its first envelope arrives. Older epochs stay
/// released until retired, so nothing sent before the switch is lost.
pub fn rotate<R: RngCore + CryptoRng>(
    store: &Store,
    rng: &mut R,
    now: u64,
) -> Result<u32, KbsError> {
    let epoch = store.rotate(rng)?;
    audit(store).append(
        Event {
            event: "rotate".into(),
            epochs: store.active()?,
            reason: Some(format!("epoch {epoch} is now current")),
            ..Event::default()
        },
        now,
    )?;
    Ok(epoch)
}

/// Stops releasing `epoch`.
pub fn retire(store: &Store, epoch: u32, now: u64) -> Result<(), KbsError> {
    store.retire(epoch)?;
    audit(store).append(
        Event {
            event: "retire".into(),
            epochs: store.active()?,
            reason: Some(format!("epoch {epoch} is no longer released")),
            ..Event::default()
        },
        now,
    )?;
    Ok(())
}

/// Refuses worker `id` from now on and rotates, so that data sent after
/// this is encrypted to an epoch the revoked worker never receives.
pub fn revoke_worker<R: RngCore + CryptoRng>(
    store: &Store,
    id: &str,
    rng: &mut R,
    now: u64,
) -> Result<u32, KbsError> {
    store.revoke_worker(id)?;
    audit(store).append(
        Event {
            event: "revoke-worker".into(),
            worker: Some(id.to_ascii_lowercase()),
            ..Event::default()
        },
        now,
    )?;
    rotate(store, rng, now)
}
