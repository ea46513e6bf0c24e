//! Sign-in throttling: how many passwords an attacker may try, without
//! letting the attacker lock the nurse out.
//!
//! Every password check takes a token from a bucket first; no token, no
//! check (the answer says when to try again). Which bucket:
//! - a browser that signed in as this user before carries a *device
//!   cookie* for that user: its own bucket ([`DEVICE`]), so an attacker
//!   spending the account's tokens never locks the nurse's browser out;
//! - anyone else: the account's bucket ([`ACCOUNT`]: at most 10 at once and
//!   one more every 3 minutes, about 30 checks an hour per account,
//!   whatever the number of attacking machines) and their address's bucket
//!   ([`SOURCE`]: one machine across accounts). Unknown user names share
//!   one bucket, so a flood of made-up names cannot grow memory.
//!
//! (The approach is OWASP's "device cookies" for slowing guessing without
//! lockout.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A bucket's size and how often it gains a token.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub burst: f64,
    pub every: Duration,
}

/// Strangers, per account: 10 at once, one more every 3 minutes.
pub const ACCOUNT: Rate = Rate {
    burst: 10.0,
    every: Duration::from_secs(180),
};
/// Strangers, per address, across accounts.
pub const SOURCE: Rate = Rate {
    burst: 20.0,
    every: Duration::from_secs(60),
};
/// A browser that signed in as the user before.
pub const DEVICE: Rate = Rate {
    burst: 10.0,
    every: Duration::from_secs(60),
};

/// Most tracked addresses and devices; past it, full buckets are dropped.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: rate.burst,
            at: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let gained =
            now.saturating_duration_since(self.at).as_secs_f64() / rate.every.as_secs_f64();
        self.tokens = (self.tokens + gained).min(rate.burst);
        self.at = now;
    }

    /// Seconds until a token, 0 if one is there.
    fn wait(&self, rate: Rate) -> u64 {
        if self.tokens >= 1.0 {
            0
        } else {
            ((1.0 - self.tokens) * rate.every.as_secs_f64()).ceil() as u64
        }
    }
}

/// Who asks to check a password.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// The user name, if it names a user (unknown names share a bucket).
    pub user: Option<&'a str>,
    pub source: IpAddr,
    /// The device cookie's key, when it is valid for this user.
    pub device: Option<[u8; 32]>,
}

/// An address's bucket key: IPv4 as it is, IPv6 by its /64 (one host is
/// given a whole /64).
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o[8..].fill(0);
            IpAddr::from(o)
        }
    }
}

/// Sign-in buckets (see the module's text).
#[derive(Debug, Default)]
pub struct Throttle {
    accounts: HashMap<Option<String>, Bucket>,
    sources: HashMap<IpAddr, Bucket>,
    devices: HashMap<[u8; 32], Bucket>,
}

impl Throttle {
    /// Takes a token for `a` and answers Ok, or how many seconds to wait
    /// (nothing is taken then).
    pub fn take(&mut self, a: &Attempt<'_>, now: Instant) -> Result<(), u64> {
        if self.sources.len() > MAX_TRACKED || self.devices.len() > MAX_TRACKED {
            self.forget_full(now);
            // Still over (a flood of fresh addresses): start the address
            // buckets over rather than scan again on every attempt. The
            // account buckets, which bound guessing, are kept.
            if self.sources.len() > MAX_TRACKED / 2 {
                self.sources.clear();
            }
            if self.devices.len() > MAX_TRACKED / 2 {
                self.devices.clear();
            }
        }
        if let Some(d) = a.device {
            let b = self
                .devices
                .entry(d)
                .or_insert_with(|| Bucket::new(DEVICE, now));
            b.refill(DEVICE, now);
            return match b.wait(DEVICE) {
                0 => {
                    b.tokens -= 1.0;
                    Ok(())
                }
                w => Err(w),
            };
        }
        let acc = self
            .accounts
            .entry(a.user.map(str::to_string))
            .or_insert_with(|| Bucket::new(ACCOUNT, now));
        acc.refill(ACCOUNT, now);
        let src = self
            .sources
            .entry(network_of(a.source))
            .or_insert_with(|| Bucket::new(SOURCE, now));
        src.refill(SOURCE, now);
        let wait = acc.wait(ACCOUNT).max(src.wait(SOURCE));
        if wait > 0 {
            return Err(wait);
        }
        acc.tokens -= 1.0;
        src.tokens -= 1.0;
        Ok(())
    }

    /// Drops buckets that have refilled (they hold nothing).
    fn forget_full(&mut self, now: Instant) {
        self.sources.retain(|_, b| {
            b.refill(SOURCE, now);
            b.tokens < SOURCE.burst
        });
        self.devices.retain(|_, b| {
            b.refill(DEVICE, now);
            b.tokens < DEVICE.burst
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strangers_get_a_few_dozen_an_hour_and_a_known_browser_is_never_locked_out() {
        let mut t = Throttle::default();
        let t0 = Instant::now();
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        // An hour of guessing from 200 machines, one try each a second.
        let mut checked = 0;
        for s in 0..3600u64 {
            let now = t0 + Duration::from_secs(s);
            let a = Attempt {
                user: Some("nurse"),
                source: ip((s % 200) as u8),
                device: None,
            };
            if t.take(&a, now).is_ok() {
                checked += 1;
            }
        }
        assert!((10..=31).contains(&checked), "{checked} checks in an hour");
        // The nurse's browser (device cookie) signs in at once meanwhile.
        let nurse = Attempt {
            user: Some("nurse"),
            source: ip(1),
            device: Some([7; 32]),
        };
        assert_eq!(t.take(&nurse, t0 + Duration::from_secs(3600)), Ok(()));
        // A stranger is told how long to wait.
        let stranger = Attempt {
            user: Some("nurse"),
            source: ip(250),
            device: None,
        };
        let w = t
            .take(&stranger, t0 + Duration::from_secs(3600))
            .unwrap_err();
        assert!((1..=180).contains(&w), "{w}");
        // Made-up names share one bucket.
        for n in 0..50u8 {
            let _ = t.take(
                &Attempt {
                    user: None,
                    source: ip(n),
                    device: None,
                },
                t0,
            );
        }
        assert!(t.accounts.len() <= 2);
    }
}
