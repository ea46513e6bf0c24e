//! Partition leases and group membership in a JetStream KV bucket.
//!
//! Leases decide *who should* process a partition (liveness, assignment,
//! rebalancing); they never decide who *may commit*: that is the output
//! stream's fence ([`crate::NatsOutput`]), checked by the server on every
//! commit. A paused worker whose lease expired therefore cannot commit
//! even if it believes it still holds the lease.
//!
//! Bucket `AORTA_LEASES`, entries expire `ttl` after their last write:
//! * `member.<worker>`: a live member of the group (renewed every `ttl`/3);
//! * `partition.<p>`: the partition's owner, created only if absent and
//!   renewed only at the revision the owner wrote last.
//!
//! Assignment: live members sorted by id; partition `p` belongs to member
//! `p mod n`. When a member joins or dies, every worker computes the same
//! new assignment; owners release what is no longer theirs (after a final
//! commit) and the new owners acquire it once released or expired.

use std::collections::BTreeMap;
use std::time::Duration;

use aorta_transport::TransportError;
use async_nats::jetstream::kv;
use futures_util::StreamExt;

use crate::{remote, Nats};

/// The bucket's name.
pub const BUCKET: &str = "AORTA_LEASES";

/// One worker's view of the lease bucket.
pub struct Leases {
    nats: Nats,
    store: kv::Store,
    me: String,
    ttl: Duration,
    /// Partitions held, with the revision of our last write.
    held: BTreeMap<u32, u64>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("me", &self.me)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

/// The partitions `members` should own: `p mod n` over the sorted ids.
pub fn assignment(members: &[String], partitions: u32) -> BTreeMap<u32, String> {
    let mut m: Vec<&String> = members.iter().collect();
    m.sort();
    m.dedup();
    if m.is_empty() {
        return BTreeMap::new();
    }
    (0..partitions)
        .map(|p| (p, m[p as usize % m.len()].clone()))
        .collect()
}

fn key(p: u32) -> String {
    format!("partition.{p}")
}

impl Leases {
    /// Opens (creating if needed) the bucket with entries that live `ttl`.
    /// `me` is a content-free worker id (letters, digits, `-`, `_`).
    pub fn open(nats: &Nats, me: &str, ttl: Duration) -> Result<Self, TransportError> {
        if me.is_empty()
            || !me
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(TransportError::Refused {
                what: "worker id".into(),
                reason: "letters, digits, '-' and '_' only".into(),
            });
        }
        let js = nats.js().clone();
        let replicas = nats.config().replicas;
        let store = nats.block(async move {
            match js.get_key_value(BUCKET).await {
                Ok(s) => Ok(s),
                Err(_) => js
                    .create_key_value(kv::Config {
                        bucket: BUCKET.into(),
                        history: 1,
                        max_age: ttl,
                        num_replicas: replicas,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| remote("creating the lease bucket", e, true)),
            }
        })?;
        Ok(Self {
            nats: nats.clone(),
            store,
            me: me.to_string(),
            ttl,
            held: BTreeMap::new(),
        })
    }

    pub fn me(&self) -> &str {
        &self.me
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn held(&self) -> impl Iterator<Item = u32> + '_ {
        self.held.keys().copied()
    }

    /// Announces this member (again).
    pub fn heartbeat(&self) -> Result<(), TransportError> {
        let (store, k, me) = (
            self.store.clone(),
            format!("member.{}", self.me),
            self.me.clone(),
        );
        self.nats.block(async move {
            store
                .put(k, bytes::Bytes::from(me))
                .await
                .map(|_| ())
                .map_err(|e| remote("announcing membership", e, true))
        })
    }

    /// Withdraws this member's announcement (it leaves on purpose, after
    /// releasing its partitions): the others rebalance at their next period
    /// instead of waiting for the announcement to expire.
    pub fn leave(&self) -> Result<(), TransportError> {
        let (store, k) = (self.store.clone(), format!("member.{}", self.me));
        self.nats.block(async move {
            store
                .delete(k)
                .await
                .map_err(|e| remote("leaving the group", e, true))
        })
    }

    /// Live members (whose announcement has not expired).
    pub fn members(&self) -> Result<Vec<String>, TransportError> {
        let store = self.store.clone();
        self.nats.block(async move {
            let mut keys = match store.keys().await {
                Ok(k) => k,
                Err(e) => return Err(remote("listing members", e, true)),
            };
            let mut out = Vec::new();
            while let Some(k) = keys.next().await {
                let k = k.map_err(|e| remote("listing members", e, true))?;
                if let Some(m) = k.strip_prefix("member.") {
                    out.push(m.to_string());
                }
            }
            out.sort();
            Ok(out)
        })
    }

    /// The member holding partition `p`'s lease, if any.
    pub fn owner(&self, p: u32) -> Result<Option<String>, TransportError> {
        let store = self.store.clone();
        self.nats.block(async move {
            store
                .get(key(p))
                .await
                .map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned()))
                .map_err(|e| remote("reading a lease", e, true))
        })
    }

    /// Takes partition `p`'s lease if nobody holds it. `Ok(false)`: held.
    pub fn try_acquire(&mut self, p: u32) -> Result<bool, TransportError> {
        let (store, me) = (self.store.clone(), self.me.clone());
        let r = self
            .nats
            .block(async move { store.create(key(p), bytes::Bytes::from(me)).await });
        match r {
            Ok(rev) => {
                self.held.insert(p, rev);
                Ok(true)
            }
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(remote("acquiring a lease", e, true)),
        }
    }

    /// Renews every held lease; returns the partitions whose lease was lost
    /// (expired and taken, or overwritten), which are no longer held.
    pub fn renew(&mut self) -> Result<Vec<u32>, TransportError> {
        let mut lost = Vec::new();
        let held: Vec<(u32, u64)> = self.held.iter().map(|(p, r)| (*p, *r)).collect();
        for (p, rev) in held {
            let (store, me) = (self.store.clone(), self.me.clone());
            let r = self
                .nats
                .block(async move { store.update(key(p), bytes::Bytes::from(me), rev).await });
            match r {
                Ok(new) => {
                    self.held.insert(p, new);
                }
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    self.held.remove(&p);
                    lost.push(p);
                }
                Err(e) => return Err(remote("renewing a lease", e, true)),
            }
        }
        Ok(lost)
    }

    /// Gives partition `p`'s lease up (after the final commit).
    pub fn release(&mut self, p: u32) -> Result<(), TransportError> {
        let Some(rev) = self.held.remove(&p) else {
            return Ok(());
        };
        let store = self.store.clone();
        self.nats.block(async move {
            // Already gone or taken: nothing to give up.
            let _ = store.delete_expect_revision(key(p), Some(rev)).await;
        });
        Ok(())
    }

    /// Forgets partition `p` without touching the bucket (its worker was
    /// fenced out: someone else owns it).
    pub fn forget(&mut self, p: u32) {
        self.held.remove(&p);
    }
}

#[cfg(test)]
mod tests {
    use super::assignment;

    #[test]
    fn assignment_is_balanced_and_the_same_for_everyone() {
        let a = assignment(&["w2".into(), "w1".into()], 8);
        let b = assignment(&["w1".into(), "w2".into(), "w1".into()], 8);
        assert_eq!(a, b);
        assert_eq!(a.values().filter(|m| *m == "w1").count(), 4);
        assert!(assignment(&[], 4).is_empty());
    }
}

/// The group protocol over the lease bucket, for `aorta_worker::run::run_group`
/// (implemented here so the worker crate needs no NATS).
#[derive(Debug)]
pub struct Group {
    pub leases: Leases,
    pub partitions: u32,
}

impl Group {
    pub fn wanted_now(&mut self) -> Result<Vec<u32>, TransportError> {
        let members = self.leases.members()?;
        let me = self.leases.me().to_string();
        Ok(assignment(&members, self.partitions)
            .into_iter()
            .filter(|(_, m)| *m == me)
            .map(|(p, _)| p)
            .collect())
    }
}

impl aorta_transport::Membership for Group {
    type Error = TransportError;
    fn heartbeat(&mut self) -> Result<(), Self::Error> {
        self.leases.heartbeat()
    }
    fn wanted(&mut self) -> Result<Vec<u32>, Self::Error> {
        self.wanted_now()
    }
    fn try_acquire(&mut self, p: u32) -> Result<bool, Self::Error> {
        self.leases.try_acquire(p)
    }
    fn renew(&mut self) -> Result<Vec<u32>, Self::Error> {
        self.leases.renew()
    }
    fn release(&mut self, p: u32) {
        // An unreleased lease expires by itself; the next owner waits for it.
        let _ = self.leases.release(p);
    }
    fn forget(&mut self, p: u32) {
        self.leases.forget(p);
    }
    fn leave(&mut self) {
        // Not withdrawn: the others wait for the lease to expire.
        let _ = self.leases.leave();
    }
    fn period(&self) -> Duration {
        // A third of the lease, and at least every second, so that joins
        // and leaves rebalance promptly even with long leases.
        (self.leases.ttl() / 3).clamp(Duration::from_millis(200), Duration::from_secs(1))
    }
}
