use serde::{Deserialize, Serialize};

/// How far behind the highest sequence number an envelope may arrive and
/// still be accepted (the anti-replay window of RFC 4303 §3.4.3, in spirit).
pub const REPLAY_WINDOW: u64 = 128;

/// What a sequence number means for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// The next or a later number; `missing` numbers were skipped (a gap).
    Ahead { missing: u64 },
    /// Fills a hole left by an earlier gap (out of order, accepted).
    FillsHole,
    /// Already accepted.
    Replay,
    /// Behind the replay window: cannot tell, so rejected.
    TooOld,
}

/// Per-session sequence tracking with a sliding bitmap.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SeqTracker {
    /// One past the highest accepted sequence number (0: none yet).
    next: u64,
    /// Bit i set: `next - 1 - i` was accepted.
    seen: u128,
    /// Holes not yet filled.
    outstanding: u64,
}

impl SeqTracker {
    pub fn check(&self, seq: u64) -> SeqVerdict {
        // No sender reaches the last number (sealing refuses to); taking it
        // would wrap the window's arithmetic.
        if seq == u64::MAX {
            return SeqVerdict::TooOld;
        }
        if seq >= self.next {
            return SeqVerdict::Ahead {
                missing: seq - self.next,
            };
        }
        let behind = self.next - 1 - seq;
        if behind >= REPLAY_WINDOW {
            return SeqVerdict::TooOld;
        }
        if self.seen & (1u128 << behind) != 0 {
            SeqVerdict::Replay
        } else {
            SeqVerdict::FillsHole
        }
    }

    /// Records an accepted number. Call only after the envelope authenticated.
    pub fn accept(&mut self, seq: u64) -> SeqVerdict {
        let v = self.check(seq);
        match v {
            SeqVerdict::Ahead { missing } => {
                let shift = seq + 1 - self.next;
                self.seen = if shift >= 128 { 0 } else { self.seen << shift };
                self.seen |= 1;
                self.next = seq + 1;
                self.outstanding = self.outstanding.saturating_add(missing);
            }
            SeqVerdict::FillsHole => {
                self.seen |= 1u128 << (self.next - 1 - seq);
                self.outstanding = self.outstanding.saturating_sub(1);
            }
            SeqVerdict::Replay | SeqVerdict::TooOld => {}
        }
        v
    }

    /// Numbers skipped and never filled so far.
    pub fn outstanding_gaps(&self) -> u64 {
        self.outstanding
    }

    pub fn next_expected(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_replay_gap_and_fill() {
        let mut t = SeqTracker::default();
        assert_eq!(t.accept(0), SeqVerdict::Ahead { missing: 0 });
        assert_eq!(t.accept(1), SeqVerdict::Ahead { missing: 0 });
        assert_eq!(t.check(1), SeqVerdict::Replay);
        assert_eq!(t.accept(4), SeqVerdict::Ahead { missing: 2 });
        assert_eq!(t.outstanding_gaps(), 2);
        assert_eq!(t.accept(3), SeqVerdict::FillsHole);
        assert_eq!(t.check(3), SeqVerdict::Replay);
        assert_eq!(t.outstanding_gaps(), 1);
        assert_eq!(t.accept(500), SeqVerdict::Ahead { missing: 495 });
        assert_eq!(t.check(2), SeqVerdict::TooOld);
        assert_eq!(t.check(500), SeqVerdict::Replay);
        assert_eq!(t.check(499), SeqVerdict::FillsHole);
    }
}
