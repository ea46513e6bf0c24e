//! The data controller's operations on the broker's directory, each
//! recorded in the audit log. They act on a running broker at once (it
//! re-reads the directory on every request).
//!
//! Each operation runs under the audit log's lock, after the log has been
//! checked to accept the next record ([`AuditLog::record_with`]): a log
//! that cannot be appended to stops the operation before it changes
//! anything, so no key is created, retired or revoked without its record.

use rand_core::{CryptoRng, RngCore};

use crate::audit::{AuditLog, Event};
use crate::store::Store;
use crate::KbsError;

fn audit(store: &Store) -> AuditLog {
    AuditLog::new(store.dir().join("audit.log"))
}

fn rotate_event(store: &Store, epoch: u32) -> Result<Event, KbsError> {
    Ok(Event {
        event: "rotate".into(),
        epochs: store.active()?,
        reason: Some(format!("epoch {epoch} is now current")),
        ..Event::default()
    })
}

/// Creates the next epoch: gateways switch to it at their next check,
/// workers fetch it when its first envelope arrives. Older epochs stay
/// released until retired, so nothing sent before the switch is lost.
pub fn rotate<R: RngCore + CryptoRng>(
    store: &Store,
    rng: &mut R,
    now: u64,
) -> Result<u32, KbsError> {
    let mut epoch = 0;
    audit(store).record_with(now, || {
        epoch = store.rotate(rng)?;
        Ok::<_, KbsError>(vec![rotate_event(store, epoch)?])
    })?;
    Ok(epoch)
}

/// Stops releasing `epoch`.
pub fn retire(store: &Store, epoch: u32, now: u64) -> Result<(), KbsError> {
    audit(store).record_with(now, || {
        store.retire(epoch)?;
        Ok::<_, KbsError>(vec![Event {
            event: "retire".into(),
            epochs: store.active()?,
            reason: Some(format!("epoch {epoch} is no longer released")),
            ..Event::default()
        }])
    })?;
    Ok(())
}

/// Refuses worker `id` from now on and rotates, so that data sent after
/// this is encrypted to an epoch the revoked worker never receives. Both
/// steps and their two records happen under one lock of the audit log.
pub fn revoke_worker<R: RngCore + CryptoRng>(
    store: &Store,
    id: &str,
    rng: &mut R,
    now: u64,
) -> Result<u32, KbsError> {
    let mut epoch = 0;
    audit(store).record_with(now, || {
        store.revoke_worker(id)?;
        let revoked = Event {
            event: "revoke-worker".into(),
            worker: Some(id.to_ascii_lowercase()),
            ..Event::default()
        };
        epoch = store.rotate(rng)?;
        Ok::<_, KbsError>(vec![revoked, rotate_event(store, epoch)?])
    })?;
    Ok(epoch)
}
