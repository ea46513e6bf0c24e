//! Connection slots for a server facing an untrusted network: one rule,
//! used by the key broker (`aorta-kbs`) and the dashboard (`aorta-clinic`).
//!
//! At most `max` connections are held. Each is in one of three states:
//! *waiting* (for its next request, or its first: a stranger between
//! requests), *serving* (a request has begun: its head, or part of a line,
//! has arrived) or *trusted* (it proved a credential; the server decides
//! what counts). At the cap, a new connection is admitted by closing the
//! connection that has waited longest; if none waits, the stranger whose
//! request began longest ago (a slow or stalled sender holds a slot no
//! longer than the next connection needs it); never a trusted one. So
//! idle, half-sent or slow connections cannot lock anyone out; only when
//! every slot is trusted is a new connection refused. A connection closed
//! to make room stays closing. Cost per event: O(log n).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Serving,
    Trusted,
    /// Chosen to make room: it closes, whatever it does meanwhile.
    Closing,
}

struct Entry {
    close: Notify,
    /// The state and, while waiting, the place in the eviction order.
    state: Mutex<(State, u64)>,
}

#[derive(Default)]
struct Inner {
    open: usize,
    next: u64,
    /// Waiting connections by when they began to wait, oldest first.
    waiting: BTreeMap<u64, Arc<Entry>>,
    /// Strangers being served, by when their request began, oldest first.
    serving: BTreeMap<u64, Arc<Entry>>,
}

impl Inner {
    fn queue(&mut self, state: State) -> Option<&mut BTreeMap<u64, Arc<Entry>>> {
        match state {
            State::Waiting => Some(&mut self.waiting),
            State::Serving => Some(&mut self.serving),
            State::Trusted | State::Closing => None,
        }
    }
}

struct Shared {
    max: usize,
    inner: Mutex<Inner>,
    evicted: AtomicU64,
    refused: AtomicU64,
}

/// The slots of one server.
#[derive(Clone)]
pub struct Slots(Arc<Shared>);

/// What the slots did so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SlotStats {
    pub open: usize,
    /// Waiting (or slow) strangers' connections closed to make room.
    pub evicted: u64,
    /// Connections refused: every slot trusted.
    pub refused: u64,
}

/// A new connection's admission.
pub struct Admitted {
    pub slot: Slot,
    /// A waiting connection was closed to make room.
    pub made_room: bool,
}

/// One connection's slot; freed when dropped. It starts out waiting.
pub struct Slot {
    shared: Arc<Shared>,
    entry: Arc<Entry>,
}

impl Slots {
    /// At most `max` connections (at least 1).
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Shared {
            max: max.max(1),
            inner: Mutex::new(Inner::default()),
            evicted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }))
    }

    pub fn max(&self) -> usize {
        self.0.max
    }

    pub fn stats(&self) -> SlotStats {
        SlotStats {
            open: self.0.inner.lock().map_or(0, |g| g.open),
            evicted: self.0.evicted.load(Ordering::Relaxed),
            refused: self.0.refused.load(Ordering::Relaxed),
        }
    }

    /// A slot for a new connection, closing the one waiting longest if the
    /// cap is reached; `None` (counted) when none can be made.
    pub fn admit(&self) -> Option<Admitted> {
        let Ok(mut g) = self.0.inner.lock() else {
            return None;
        };
        let mut made_room = false;
        // Connections already closing free their slots soon: they do not
        // count against the cap twice.
        if g.open >= self.0.max {
            let victim = match g.waiting.pop_first() {
                Some((_, v)) => v,
                None => match g.serving.pop_first() {
                    Some((_, v)) => v,
                    None => {
                        self.0.refused.fetch_add(1, Ordering::Relaxed);
                        return None;
                    }
                },
            };
            if let Ok(mut s) = victim.state.lock() {
                // Out of every queue; it closes when it sees the notice.
                s.0 = State::Closing;
            }
            victim.close.notify_one();
            self.0.evicted.fetch_add(1, Ordering::Relaxed);
            made_room = true;
        }
        g.open += 1;
        let seq = g.next;
        g.next += 1;
        let entry = Arc::new(Entry {
            close: Notify::new(),
            state: Mutex::new((State::Waiting, seq)),
        });
        g.waiting.insert(seq, Arc::clone(&entry));
        Some(Admitted {
            slot: Slot {
                shared: Arc::clone(&self.0),
                entry,
            },
            made_room,
        })
    }
}

impl Slot {
    fn set(&self, to: State) {
        let Ok(mut g) = self.shared.inner.lock() else {
            return;
        };
        let Ok(mut s) = self.entry.state.lock() else {
            return;
        };
        if matches!(s.0, State::Trusted | State::Closing) || s.0 == to {
            return;
        }
        let seq = s.1;
        if let Some(q) = g.queue(s.0) {
            q.remove(&seq);
        }
        s.0 = to;
        s.1 = g.next;
        g.next += 1;
        let entry = Arc::clone(&self.entry);
        if let Some(q) = g.queue(to) {
            q.insert(s.1, entry);
        }
    }

    /// Waiting for a request: may be closed to make room (oldest first).
    pub fn waiting(&self) {
        self.set(State::Waiting);
    }

    /// A request has begun: closed to make room only when nobody waits
    /// (oldest request first).
    pub fn serving(&self) {
        self.set(State::Serving);
    }

    /// The connection proved a credential: never closed to make room again.
    pub fn trust(&self) {
        self.set(State::Trusted);
    }

    /// Completes when the slot is taken for a new connection: close the
    /// connection then.
    pub async fn evicted(&self) {
        self.entry.close.notified().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut g) = self.shared.inner.lock() {
            if let Ok(s) = self.entry.state.lock() {
                let (state, seq) = *s;
                if let Some(q) = g.queue(state) {
                    q.remove(&seq);
                }
            }
            g.open = g.open.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_strangers_make_room_first_then_slow_ones_never_trusted_ones() {
        let within = std::time::Duration::from_secs(1);
        let slots = Slots::new(3);
        let a = slots.admit().unwrap().slot; // waits longest
        let b = slots.admit().unwrap().slot;
        let c = slots.admit().unwrap().slot;
        b.trust();
        c.serving();
        // Full: `a` (waiting) is closed for `d`, not `c` (serving).
        let d = slots.admit().unwrap();
        assert!(d.made_room);
        tokio::time::timeout(within, a.evicted())
            .await
            .expect("the longest-waiting stranger is told to close");
        // Closing stays closing: it cannot be chosen again.
        a.waiting();
        drop(a);
        d.slot.serving();
        // Nobody waits: the stranger whose request began first (`c`) goes.
        let e = slots.admit().unwrap();
        assert!(e.made_room);
        tokio::time::timeout(within, c.evicted()).await.unwrap();
        drop(c);
        // `e` signs in; then `d` goes; `b` and `e` are trusted, never chosen.
        e.slot.trust();
        let f = slots.admit().unwrap();
        tokio::time::timeout(within, d.slot.evicted())
            .await
            .unwrap();
        drop(d);
        f.slot.trust();
        // Every slot trusted: refused.
        assert!(slots.admit().is_none());
        let st = slots.stats();
        assert_eq!((st.open, st.evicted, st.refused), (3, 3, 1));
        // A trusted slot stays trusted.
        b.waiting();
        assert!(slots.admit().is_none());
    }
}
