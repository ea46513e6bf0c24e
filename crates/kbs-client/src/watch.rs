//! The gateway's side of key management: it sends nothing until the key
//! broker has shown it the fleet key together with evidence, acceptable
//! under the gateway's own copy of the controller-signed policy, of a
//! worker that was offered that key ([`crate::verify_fleet`]). It checks
//! again every few ticks and reports a newer verified key, which the
//! gateway driver switches every stream to at a tick boundary.

use crate::proto::Request;
use crate::verify::{verify_fleet, GatewayRefusal, SignedPolicy, VerifiedFleet};
use crate::{KbsError, Transport};

/// Where a watcher's messages go (the operator's log; never key material).
pub type Notices = Box<dyn FnMut(&str) + Send>;

/// Watches the key broker for the current verified fleet key.
pub struct FleetWatch {
    transport: Box<dyn Transport>,
    policy: SignedPolicy,
    allow_simulated: bool,
    current: VerifiedFleet,
    /// Check the broker every this many ticks (0: never).
    pub check_every: u64,
    notices: Notices,
    now: Box<dyn Fn() -> u64 + Send>,
}

impl std::fmt::Debug for FleetWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetWatch")
            .field("epoch", &self.current.epoch())
            .field("check_every", &self.check_every)
            .finish_non_exhaustive()
    }
}

/// One line on a verified key: epoch, holder, measurement.
pub fn describe(v: &VerifiedFleet) -> String {
    format!(
        "fleet key epoch {} verified: held by {} worker {} with measurement {}{}",
        v.epoch(),
        v.tee(),
        v.worker(),
        v.measurement(),
        if v.policy_differs() {
            " (note: the broker's policy differs from this gateway's)"
        } else {
            ""
        }
    )
}

impl FleetWatch {
    /// Obtains and checks the current fleet key; refuses
    /// ([`KbsError::GatewayRefuses`], with the reason) if the evidence
    /// behind it does not satisfy `policy`, or if it is held by a simulated
    /// TEE and `allow_simulated` is off. `now` gives Unix seconds (the
    /// evidence's validity is checked against it).
    pub fn connect(
        transport: Box<dyn Transport>,
        policy: SignedPolicy,
        allow_simulated: bool,
        check_every: u64,
        now: Box<dyn Fn() -> u64 + Send>,
        notices: Notices,
    ) -> Result<Self, KbsError> {
        Self::connect_within(
            transport,
            policy,
            allow_simulated,
            check_every,
            now,
            notices,
            std::time::Duration::ZERO,
        )
    }

    /// [`FleetWatch::connect`], waiting up to `wait` for what can change
    /// (the broker unreachable or busy, no worker attested yet, a rotation
    /// settling, collateral to refresh: [`KbsError::retryable`]); a refusal
    /// that waiting cannot change (the evidence fails this gateway's
    /// policy, a simulated holder without `allow_simulated`) fails at once.
    /// The first retryable reason is noticed once.
    pub fn connect_within(
        transport: Box<dyn Transport>,
        policy: SignedPolicy,
        allow_simulated: bool,
        check_every: u64,
        now: Box<dyn Fn() -> u64 + Send>,
        mut notices: Notices,
        wait: std::time::Duration,
    ) -> Result<Self, KbsError> {
        let deadline = std::time::Instant::now() + wait;
        let mut waiting = false;
        let current = loop {
            let checked = transport
                .call(&Request::Fleet)
                .and_then(|resp| verify_fleet(&resp, &policy, allow_simulated, now()));
            match checked {
                Ok(v) => break v,
                Err(e) if e.retryable() && std::time::Instant::now() < deadline => {
                    if !waiting {
                        notices(&format!("waiting up to {} s: {e}", wait.as_secs()));
                        waiting = true;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
                Err(e) => return Err(e),
            }
        };
        if current.simulated() && !allow_simulated {
            return Err(KbsError::GatewayRefuses(GatewayRefusal::SimulatedHolder));
        }
        notices(&describe(&current));
        Ok(Self {
            transport,
            policy,
            allow_simulated,
            current,
            check_every,
            notices,
            now,
        })
    }

    pub fn current(&self) -> &VerifiedFleet {
        &self.current
    }

    /// At tick `tick`: a newer verified fleet key to switch to, if the
    /// broker has rotated. A broker that cannot be reached, or a new epoch
    /// whose evidence fails, leaves the current (verified) key in use and
    /// says why.
    pub fn poll(&mut self, tick: u64) -> Option<VerifiedFleet> {
        if self.check_every == 0 || tick == 0 || !tick.is_multiple_of(self.check_every) {
            return None;
        }
        self.check()
    }

    /// Asks the broker now: a newer verified key, if it has rotated (a
    /// failed check leaves the current key in use and says why).
    fn check(&mut self) -> Option<VerifiedFleet> {
        let checked = self
            .transport
            .call(&Request::Fleet)
            .and_then(|r| verify_fleet(&r, &self.policy, self.allow_simulated, (self.now)()));
        match checked {
            Ok(v) if v.epoch() > self.current.epoch() => {
                (self.notices)(&format!("switching every stream to {}", describe(&v)));
                self.current = v.clone();
                Some(v)
            }
            Ok(_) => None,
            Err(e) => {
                (self.notices)(&format!(
                    "key check failed, staying on epoch {}: {e}",
                    self.current.epoch()
                ));
                None
            }
        }
    }
}

/// A [`FleetWatch`] checking the broker on its own thread, every `period`
/// of wall time, so a slow or unreachable broker never delays the caller
/// (a live gateway seals on a fixed cadence whatever the broker does: the
/// timing of its envelopes must not depend on it). [`WatchThread::poll`]
/// hands over the newest verified key found since the last call.
pub struct WatchThread {
    rx: std::sync::mpsc::Receiver<VerifiedFleet>,
    /// The thread checks (it ends at once when `check_every` is 0).
    enabled: bool,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for WatchThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchThread").finish_non_exhaustive()
    }
}

impl FleetWatch {
    /// Moves the checks to a thread of their own, one every `period`
    /// (none if `check_every` is 0).
    pub fn spawn(mut self, period: std::time::Duration) -> std::io::Result<WatchThread> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let enabled = self.check_every > 0;
        std::thread::Builder::new()
            .name("fleet-watch".into())
            .spawn(move || {
                if !enabled {
                    return;
                }
                let slice = std::time::Duration::from_millis(50).min(period);
                'run: loop {
                    let due = std::time::Instant::now() + period;
                    while std::time::Instant::now() < due {
                        if stopping.load(Ordering::Acquire) {
                            break 'run;
                        }
                        std::thread::sleep(slice);
                    }
                    if let Some(v) = self.check() {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                }
            })?;
        Ok(WatchThread { rx, enabled, stop })
    }
}

impl WatchThread {
    /// The newest verified key found since the last call, if any; an
    /// error once the checking thread has ended without being told to
    /// (it panicked): the gateway must not go on unaware of rotations.
    pub fn poll(&mut self) -> Result<Option<VerifiedFleet>, KbsError> {
        let mut newest = None;
        loop {
            match self.rx.try_recv() {
                Ok(v) => newest = Some(v),
                Err(std::sync::mpsc::TryRecvError::Empty) => return Ok(newest),
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    return match newest {
                        Some(v) => Ok(Some(v)),
                        None if self.enabled => Err(KbsError::WatchStopped),
                        None => Ok(None),
                    };
                }
            }
        }
    }
}

impl Drop for WatchThread {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        // The thread is not joined (a check in flight must not hold up the
        // caller's exit): it ends at its next look at the flag.
    }
}
