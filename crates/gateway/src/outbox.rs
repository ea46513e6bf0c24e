//! A bounded outbox between a live gateway's tick loop and its transport.
//!
//! A live gateway must seal one envelope per stream every tick, whatever
//! the transport is doing: the cadence is what hides when hearts beat, and
//! devices keep sending. The outbox decouples the two. The tick loop hands
//! each tick's envelopes to [`Outbox::push`], which never blocks; a sender
//! thread appends them to the transport in order, and when an append fails
//! with an error a retry can help (a broker restarting, a network blip) it
//! backs off (0.1 s doubling to 5 s) and tries the same tick again.
//!
//! Meanwhile ticks queue up to [`OutboxLimits`] (ticks and bytes). Beyond
//! the bound the *oldest* queued tick is dropped — newer data matters more
//! to a ward — and counted in [`OutboxStats`]; the workers see the dropped
//! envelopes as a sequence gap and flag the windows `gap`. Nothing is lost
//! silently: what was not sent is counted at the gateway and flagged at the
//! worker. A transport error no retry can help (refused credentials, a
//! deleted stream) stops the sender; the next [`Outbox::push`] returns it.
//!
//! A tick retried after a partial append may be appended twice; the
//! workers refuse the second copy as a replay (and NATS drops it by its
//! message id), so results do not change.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aorta_transport::{Producer, TransportError};

use crate::GatewayError;

/// How much the outbox holds while the transport is slow or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    /// Ticks queued (one tick: one envelope per stream).
    pub max_ticks: usize,
    /// Bytes queued.
    pub max_bytes: usize,
}

impl Default for OutboxLimits {
    /// One hour of 10-s ticks, at most 256 MiB.
    fn default() -> Self {
        Self {
            max_ticks: 360,
            max_bytes: 256 << 20,
        }
    }
}

/// What the outbox did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub sent_ticks: u64,
    pub sent_envelopes: u64,
    pub sent_bytes: u64,
    /// Ticks dropped because the queue was full (oldest first), or left
    /// unsent when the outbox closed before the transport came back.
    pub dropped_ticks: u64,
    pub dropped_envelopes: u64,
    pub dropped_bytes: u64,
    /// Appends that failed with a retryable error and were tried again.
    pub retries: u64,
    /// Ticks and bytes waiting now (the tick being sent included).
    pub queued_ticks: u64,
    pub queued_bytes: u64,
    /// The most recent transport error (retried or fatal).
    pub last_error: Option<String>,
}

type Tick = Vec<Vec<u8>>;

fn size(t: &Tick) -> usize {
    t.iter().map(Vec::len).sum()
}

#[derive(Default)]
struct State {
    queue: VecDeque<Tick>,
    queued_bytes: usize,
    /// Bytes of the tick the sender holds.
    in_flight: Option<(u64, usize)>,
    stats: OutboxStats,
    closing: Option<Instant>,
    /// The error no retry can help, as reported.
    fatal: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    limits: OutboxLimits,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counters only: keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The outbox: see the module documentation.
pub struct Outbox {
    shared: Arc<Shared>,
    sender: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// Starts the sender thread over `out`.
    pub fn new<P: Producer + Send + 'static>(
        out: P,
        limits: OutboxLimits,
    ) -> Result<Self, GatewayError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            limits: OutboxLimits {
                max_ticks: limits.max_ticks.max(1),
                max_bytes: limits.max_bytes.max(1),
            },
        });
        let s = shared.clone();
        let sender = std::thread::Builder::new()
            .name("aorta-outbox".into())
            .spawn(move || send_loop(out, &s))
            .map_err(|e| GatewayError::Io {
                path: "outbox sender thread".into(),
                source: e,
            })?;
        Ok(Self {
            shared,
            sender: Some(sender),
        })
    }

    /// Queues one tick's envelopes; never waits for the transport. Drops
    /// (and counts) the oldest queued ticks beyond the bound. Fails only
    /// once the transport failed in a way no retry can help.
    pub fn push(&self, envelopes: Vec<Vec<u8>>) -> Result<(), GatewayError> {
        let mut st = self.shared.lock();
        if let Some(e) = &st.fatal {
            return Err(fatal(e));
        }
        st.queued_bytes += size(&envelopes);
        st.queue.push_back(envelopes);
        let limits = self.shared.limits;
        while st.queue.len() > limits.max_ticks
            || (st.queued_bytes > limits.max_bytes && st.queue.len() > 1)
        {
            let Some(old) = st.queue.pop_front() else {
                break;
            };
            let b = size(&old);
            st.queued_bytes -= b;
            st.stats.dropped_ticks += 1;
            st.stats.dropped_envelopes += old.len() as u64;
            st.stats.dropped_bytes += b as u64;
        }
        drop(st);
        self.shared.wake.notify_all();
        Ok(())
    }

    pub fn stats(&self) -> OutboxStats {
        let st = self.shared.lock();
        let mut s = st.stats.clone();
        let (n, b) = st.in_flight.unwrap_or((0, 0));
        s.queued_ticks = st.queue.len() as u64 + n;
        s.queued_bytes = (st.queued_bytes + b) as u64;
        s
    }

    /// Sends what is queued, waiting at most `grace` for the transport;
    /// whatever is still unsent then is counted as dropped. Returns the
    /// final counts, or the fatal transport error if there was one.
    pub fn close(mut self, grace: Duration) -> Result<OutboxStats, GatewayError> {
        self.shared.lock().closing = Some(Instant::now() + grace);
        self.shared.wake.notify_all();
        if let Some(t) = self.sender.take() {
            let _ = t.join();
        }
        let mut st = self.shared.lock();
        // Anything the sender could not send in time.
        while let Some(old) = st.queue.pop_front() {
            st.stats.dropped_ticks += 1;
            st.stats.dropped_envelopes += old.len() as u64;
            st.stats.dropped_bytes += size(&old) as u64;
        }
        st.queued_bytes = 0;
        if let Some(e) = &st.fatal {
            return Err(fatal(e));
        }
        Ok(st.stats.clone())
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if let Some(t) = self.sender.take() {
            self.shared.lock().closing = Some(Instant::now());
            self.shared.wake.notify_all();
            let _ = t.join();
        }
    }
}

fn fatal(reason: &str) -> GatewayError {
    GatewayError::Transport(TransportError::Remote {
        what: "the gateway's transport".into(),
        reason: reason.to_string(),
        retryable: false,
    })
}

fn send_loop<P: Producer>(mut out: P, shared: &Shared) {
    loop {
        let tick = {
            let mut st = shared.lock();
            loop {
                if st.closing.is_some_and(|d| Instant::now() >= d) {
                    // Out of grace: `close` counts what is left as not sent.
                    return;
                }
                if let Some(t) = st.queue.pop_front() {
                    let b = size(&t);
                    st.queued_bytes -= b;
                    st.in_flight = Some((1, b));
                    break t;
                }
                if st.closing.is_some() {
                    return;
                }
                st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            let refs: Vec<&[u8]> = tick.iter().map(Vec::as_slice).collect();
            let result = out.append(&refs);
            let mut st = shared.lock();
            match result {
                Ok(_) => {
                    st.in_flight = None;
                    st.stats.sent_ticks += 1;
                    st.stats.sent_envelopes += tick.len() as u64;
                    st.stats.sent_bytes += size(&tick) as u64;
                    break;
                }
                Err(e) if e.retryable() => {
                    st.stats.retries += 1;
                    st.stats.last_error = Some(e.to_string());
                    if st.closing.is_some_and(|d| Instant::now() >= d) {
                        st.in_flight = None;
                        st.stats.dropped_ticks += 1;
                        st.stats.dropped_envelopes += tick.len() as u64;
                        st.stats.dropped_bytes += size(&tick) as u64;
                        return;
                    }
                    // Wait, but wake early if asked to close, and never
                    // past the close deadline.
                    let wait = st.closing.map_or(backoff, |d| {
                        backoff.min(d.saturating_duration_since(Instant::now()))
                    });
                    let (g, _) = shared
                        .wake
                        .wait_timeout(st, wait)
                        .unwrap_or_else(|p| p.into_inner());
                    drop(g);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    st.in_flight = None;
                    st.stats.last_error = Some(e.to_string());
                    st.stats.dropped_ticks += 1;
                    st.stats.dropped_envelopes += tick.len() as u64;
                    st.stats.dropped_bytes += size(&tick) as u64;
                    st.fatal = Some(e.to_string());
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aorta_transport::Offset;

    /// A transport that records appends, fails while `down`, and can be
    /// made to refuse for good.
    #[derive(Clone, Default)]
    struct Flaky {
        log: Arc<Mutex<Vec<Vec<u8>>>>,
        down: Arc<Mutex<bool>>,
        refuse: Arc<Mutex<bool>>,
    }

    impl Producer for Flaky {
        fn append(&mut self, records: &[&[u8]]) -> Result<Offset, TransportError> {
            if *self.refuse.lock().unwrap() {
                return Err(TransportError::Refused {
                    what: "test".into(),
                    reason: "credentials revoked".into(),
                });
            }
            if *self.down.lock().unwrap() {
                return Err(TransportError::Remote {
                    what: "test".into(),
                    reason: "broker unreachable".into(),
                    retryable: true,
                });
            }
            let mut log = self.log.lock().unwrap();
            log.extend(records.iter().map(|r| r.to_vec()));
            Ok(log.len() as Offset)
        }
    }

    fn tick(n: u8) -> Vec<Vec<u8>> {
        vec![vec![n; 10], vec![n; 10]]
    }

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::yield_now();
        }
    }

    #[test]
    fn an_outage_within_the_bound_loses_nothing_and_keeps_order() {
        let t = Flaky::default();
        *t.down.lock().unwrap() = true;
        let o = Outbox::new(
            t.clone(),
            OutboxLimits {
                max_ticks: 10,
                max_bytes: 1 << 20,
            },
        )
        .unwrap();
        for n in 0..5 {
            o.push(tick(n)).unwrap();
        }
        wait_until("a retry", || o.stats().retries > 0);
        let s = o.stats();
        assert_eq!((s.queued_ticks, s.queued_bytes), (5, 100));
        assert!(s.last_error.unwrap().contains("unreachable"));
        *t.down.lock().unwrap() = false;
        let s = o.close(Duration::from_secs(20)).unwrap();
        assert_eq!(
            (s.sent_ticks, s.sent_envelopes, s.dropped_envelopes),
            (5, 10, 0)
        );
        let log = t.log.lock().unwrap();
        let order: Vec<u8> = log.iter().map(|r| r[0]).collect();
        assert_eq!(order, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    }

    #[test]
    fn beyond_the_bound_the_oldest_ticks_are_dropped_and_counted() {
        let t = Flaky::default();
        *t.down.lock().unwrap() = true;
        let o = Outbox::new(
            t.clone(),
            OutboxLimits {
                max_ticks: 3,
                max_bytes: 1 << 20,
            },
        )
        .unwrap();
        o.push(tick(0)).unwrap();
        // Tick 0 is with the sender, retrying; 1..=7 queue, 3 fit.
        wait_until("tick 0 in flight", || o.stats().retries > 0);
        for n in 1..8 {
            o.push(tick(n)).unwrap();
        }
        let s = o.stats();
        assert_eq!(
            (s.dropped_ticks, s.dropped_envelopes, s.dropped_bytes),
            (4, 8, 80)
        );
        assert_eq!(s.queued_ticks, 4, "3 queued + 1 in flight");
        *t.down.lock().unwrap() = false;
        let s = o.close(Duration::from_secs(20)).unwrap();
        assert_eq!((s.sent_ticks, s.dropped_ticks), (4, 4));
        let order: Vec<u8> = t.log.lock().unwrap().iter().map(|r| r[0]).collect();
        assert_eq!(order, [0, 0, 5, 5, 6, 6, 7, 7], "the newest ticks survive");

        // The byte bound too (a single tick larger than it still goes).
        let t = Flaky::default();
        *t.down.lock().unwrap() = true;
        let o = Outbox::new(
            t.clone(),
            OutboxLimits {
                max_ticks: 100,
                max_bytes: 45,
            },
        )
        .unwrap();
        for n in 0..4 {
            o.push(tick(n)).unwrap();
        }
        let s = o.stats();
        assert!(s.queued_bytes <= 45 + 20, "{s:?}");
        assert!(s.dropped_ticks >= 1, "{s:?}");
    }

    #[test]
    fn a_transport_that_stays_down_is_counted_not_waited_for_forever() {
        let t = Flaky::default();
        *t.down.lock().unwrap() = true;
        let o = Outbox::new(t.clone(), OutboxLimits::default()).unwrap();
        for n in 0..3 {
            o.push(tick(n)).unwrap();
        }
        let s = o.close(Duration::from_millis(300)).unwrap();
        assert_eq!(
            (s.sent_envelopes, s.dropped_ticks, s.dropped_envelopes),
            (0, 3, 6)
        );
        assert!(t.log.lock().unwrap().is_empty());
    }

    #[test]
    fn a_refusal_stops_the_sender_and_the_next_push_says_why() {
        let t = Flaky::default();
        *t.refuse.lock().unwrap() = true;
        let o = Outbox::new(t.clone(), OutboxLimits::default()).unwrap();
        o.push(tick(0)).unwrap();
        wait_until("the refusal", || o.stats().last_error.is_some());
        let err = o.push(tick(1)).unwrap_err();
        assert!(err.to_string().contains("credentials revoked"), "{err}");
        assert!(o.close(Duration::from_secs(1)).is_err());
    }
}
