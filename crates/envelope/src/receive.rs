//! One receiver for everything sealed: input envelopes in the worker,
//! result envelopes at the clinician, anything sealed later.
//!
//! The order is fixed by the types, not by each caller's care:
//!
//! 1. [`Sealed::parse`] reads the cleartext header. Its fields are
//!    *claims* ([`Sealed::claims`]): the caller may use them to choose keys
//!    and to refuse early, but nothing it learns there is yet true.
//! 2. [`Receiver::open`] asks the caller's [`Freshness`] whether the claimed
//!    (session, seq) could still be new (read-only: `&self`), finds the
//!    session the envelope names *including its encapsulated key*, or sets
//!    one up, and authenticates the envelope.
//! 3. Only then is the session adopted into the cache and
//!    [`Freshness::record`] called, with an [`Authentic`] proof that no code
//!    outside this module can make. The caller gets an [`Opened`] envelope:
//!    its header is now authenticated and its body decrypted.
//!
//! A forged envelope (any `enc`, any sequence number, any session id)
//! therefore moves no state: a later genuine envelope of the same session
//! opens as if the forgery had never been read.

use std::collections::{HashMap, VecDeque};

use aorta_wire::{ContentType, Header, StreamId, ENC_LEN};

use crate::keys::{KemPublic, KemSecret};
use crate::session::{dangerous_plaintext_body, ReceiverSession};

/// An envelope whose header parsed; nothing in it is authenticated yet.
pub struct Sealed<'a> {
    header: Header,
    bytes: &'a mut [u8],
}

impl<'a> Sealed<'a> {
    /// Parses the header and checks the envelope's length against its bucket.
    pub fn parse(bytes: &'a mut [u8]) -> Result<Self, aorta_wire::WireError> {
        let header = Header::parse_envelope(bytes)?;
        Ok(Self { header, bytes })
    }

    /// The header as the sender (or anyone who wrote the bytes) claims it.
    pub fn claims(&self) -> &Header {
        &self.header
    }
}

/// An envelope that authenticated: its header is genuine and its body is
/// the decrypted, still padded plaintext (parse it with
/// [`aorta_wire::Body::parse`]). Only [`Receiver`] makes one.
pub struct Opened<'a> {
    header: Header,
    body: &'a [u8],
}

impl<'a> Opened<'a> {
    pub fn header(&self) -> &Header {
        &self.header
    }
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}

/// Proof handed to [`Freshness::record`] that the header it carries
/// authenticated. Its constructor is private to this module.
pub struct Authentic<'h>(&'h Header);

impl Authentic<'_> {
    pub fn header(&self) -> &Header {
        self.0
    }
}

/// A receiver's replay rule. `check` runs before authentication and must
/// not change anything; `record` runs after, and can only be called with
/// the proof [`Receiver::open`] makes.
pub trait Freshness {
    /// Why an envelope is not fresh.
    type Reason;
    fn check(&self, claims: &Header) -> Result<(), Self::Reason>;
    fn record(&mut self, proof: Authentic<'_>);
}

/// Why [`Receiver::open`] refused an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused<R> {
    /// Not fresh under the caller's rule (a replay, a stale session, ...).
    NotFresh(R),
    /// Did not authenticate: wrong key, forged sender or `enc`, modified
    /// bytes. Deliberately says no more (no oracle).
    Unauthenticated,
    /// A `dangerous_plaintext` envelope to a receiver that refuses them,
    /// or an encrypted one where plaintext was asked for.
    Plaintext,
}

/// A session is known by everything its key agreement binds: content
/// type, epoch, session id, the sender's encapsulated key, and the
/// sender's static key it was opened with.
type SessionKey = (ContentType, u32, u64, [u8; ENC_LEN], [u8; 32]);

/// Authenticated sessions by stream, newest last.
pub struct Receiver {
    sessions: HashMap<StreamId, VecDeque<(SessionKey, ReceiverSession)>>,
    keep_per_stream: usize,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("streams", &self.sessions.len())
            .field("keep_per_stream", &self.keep_per_stream)
            .finish_non_exhaustive()
    }
}

fn key_of(h: &Header, sender: &KemPublic) -> SessionKey {
    (h.content, h.epoch, h.session.0, h.enc, sender.0)
}

/// What identifies a session for delivery: everything in its header that
/// its key agreement binds (the sender's key is the caller's to fix).
type DeliveryKey = (StreamId, ContentType, u32, u64, [u8; ENC_LEN]);

fn delivery_key(h: &Header) -> DeliveryKey {
    (h.stream, h.content, h.epoch, h.session.0, h.enc)
}

impl Receiver {
    /// Keeps up to `keep_per_stream` authenticated sessions per stream id
    /// (at least one); the least recently adopted goes first. Evicting a
    /// session only costs a key agreement when it is next seen: it never
    /// changes what opens.
    pub fn new(keep_per_stream: usize) -> Self {
        Self {
            sessions: HashMap::new(),
            keep_per_stream: keep_per_stream.max(1),
        }
    }

    /// Opens `sealed` as sent by `sender` to `recipient`.
    ///
    /// An envelope that is not fresh is refused as such when its session is
    /// not held; when it is, the envelope is authenticated first, so that a
    /// tampered copy of a delivered envelope counts as unauthenticated, not
    /// as a harmless repeat.
    pub fn open<'a, F: Freshness>(
        &mut self,
        sealed: Sealed<'a>,
        recipient: &KemSecret,
        sender: &KemPublic,
        fresh: &mut F,
    ) -> Result<Opened<'a>, Refused<F::Reason>> {
        let Sealed { header, bytes } = sealed;
        if header.flags.dangerous_plaintext {
            return Err(Refused::Plaintext);
        }
        let key = key_of(&header, sender);
        let cached = self
            .sessions
            .get(&header.stream)
            .and_then(|v| v.iter().rev().find(|(k, _)| *k == key))
            .map(|(_, s)| s);
        if let Err(r) = fresh.check(&header) {
            return match cached {
                Some(s) if s.open(&header, bytes).is_err() => Err(Refused::Unauthenticated),
                _ => Err(Refused::NotFresh(r)),
            };
        }
        let body = match cached {
            Some(s) => s
                .open(&header, bytes)
                .map_err(|_| Refused::Unauthenticated)?,
            None => {
                let s = ReceiverSession::accept(&header, recipient, sender)
                    .map_err(|_| Refused::Unauthenticated)?;
                // Authenticate before the session is kept.
                let body = s
                    .open(&header, bytes)
                    .map_err(|_| Refused::Unauthenticated)?;
                let v = self.sessions.entry(header.stream).or_default();
                if v.len() >= self.keep_per_stream {
                    v.pop_front();
                }
                v.push_back((key, s));
                body
            }
        };
        fresh.record(Authentic(&header));
        Ok(Opened { header, body })
    }

    /// Opens a `dangerous_plaintext` envelope (the benchmark's "plain"
    /// mode): nothing authenticates it, so only a receiver whose operator
    /// asked for plaintext calls this. Freshness is checked, but nothing is
    /// recorded: no proof of authenticity exists for it.
    pub fn dangerous_open_plaintext<'a, F: Freshness>(
        &mut self,
        sealed: Sealed<'a>,
        fresh: &F,
    ) -> Result<Opened<'a>, Refused<F::Reason>> {
        let Sealed { header, bytes } = sealed;
        fresh.check(&header).map_err(Refused::NotFresh)?;
        let body = dangerous_plaintext_body(&header, bytes).map_err(|_| Refused::Plaintext)?;
        Ok(Opened { header, body })
    }

    /// Whether an authenticated session of `stream` has this id (under
    /// whatever epoch and `enc`): an envelope claiming it under another
    /// epoch cannot be genuine, so a caller need not fetch that epoch's key
    /// to refuse it.
    pub fn holds_session(&self, stream: &StreamId, session: aorta_wire::SessionId) -> bool {
        self.sessions
            .get(stream)
            .is_some_and(|v| v.iter().any(|(k, _)| k.2 == session.0))
    }

    /// Forgets every session of `stream` (revocation, re-enrolment).
    pub fn forget_stream(&mut self, stream: &StreamId) {
        self.sessions.remove(stream);
    }
}

/// Exactly-once delivery in any order: every authenticated (session, seq)
/// is delivered once, however often and in whatever order storage hands it
/// over. Memory grows with the number of runs of consecutive sequence
/// numbers seen, which only authenticated envelopes create: one run per
/// session for an in-order feed.
#[derive(Debug, Default)]
pub struct ExactlyOnce {
    seen: HashMap<DeliveryKey, Runs>,
}

/// Disjoint, non-adjacent runs `start -> end` (inclusive).
#[derive(Debug, Default)]
struct Runs(std::collections::BTreeMap<u64, u64>);

impl Runs {
    fn contains(&self, seq: u64) -> bool {
        self.0
            .range(..=seq)
            .next_back()
            .is_some_and(|(_, &end)| seq <= end)
    }

    fn insert(&mut self, seq: u64) {
        if self.contains(seq) {
            return;
        }
        let before = self
            .0
            .range(..seq)
            .next_back()
            .filter(|(_, &end)| end.checked_add(1) == Some(seq))
            .map(|(&s, _)| s);
        let after = seq
            .checked_add(1)
            .and_then(|n| self.0.get(&n).copied().map(|e| (n, e)));
        match (before, after) {
            (Some(s), Some((n, e))) => {
                self.0.remove(&n);
                self.0.insert(s, e);
            }
            (Some(s), None) => {
                self.0.insert(s, seq);
            }
            (None, Some((n, e))) => {
                self.0.remove(&n);
                self.0.insert(seq, e);
            }
            (None, None) => {
                self.0.insert(seq, seq);
            }
        }
    }
}

/// Why [`ExactlyOnce`] refused an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyDelivered;

impl ExactlyOnce {
    /// Runs held across all sessions (for memory accounting and tests).
    pub fn runs(&self) -> usize {
        self.seen.values().map(|r| r.0.len()).sum()
    }

    /// Forgets what was delivered in the session of `h` (a follower that
    /// keeps only recent results drops sessions it no longer shows; their
    /// envelopes would then be delivered again, so it refuses old records
    /// itself).
    pub fn forget(&mut self, h: &Header) {
        self.seen.remove(&delivery_key(h));
    }
}

impl Freshness for ExactlyOnce {
    type Reason = AlreadyDelivered;

    fn check(&self, claims: &Header) -> Result<(), AlreadyDelivered> {
        match self.seen.get(&delivery_key(claims)) {
            Some(r) if r.contains(claims.seq) => Err(AlreadyDelivered),
            _ => Ok(()),
        }
    }

    fn record(&mut self, proof: Authentic<'_>) {
        let h = proof.header();
        self.seen.entry(delivery_key(h)).or_default().insert(h.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::Runs;

    #[test]
    fn runs_merge_and_answer_exactly() {
        let mut r = Runs::default();
        for s in [5, 3, 4, 10, 0, u64::MAX, 9, 11, 1] {
            r.insert(s);
        }
        let want = [0, 1, 3, 4, 5, 9, 10, 11, u64::MAX];
        for s in 0..14 {
            assert_eq!(r.contains(s), want.contains(&s), "{s}");
        }
        assert!(r.contains(u64::MAX));
        assert_eq!(r.0.len(), 4, "{:?}", r.0);
        r.insert(2);
        assert_eq!(r.0.len(), 3, "{:?}", r.0);
        r.insert(2);
        assert_eq!(r.0.len(), 3);
    }
}
