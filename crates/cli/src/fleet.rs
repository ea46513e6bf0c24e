//! The gateway's side of key management: it sends nothing until the key
//! broker has shown it the fleet key together with evidence, acceptable
//! under the gateway's own copy of the controller-signed policy, of a
//! worker that was offered that key. It checks again every few ticks and
//! switches every stream to a new epoch at a tick boundary.

use anyhow::{bail, Result};
use aorta_attest::simulated::WARNING;
use aorta_kbs::proto::Request;
use aorta_kbs::{verify_fleet, SignedPolicy, Transport, VerifiedFleet};

use crate::tee::unix_now;

pub struct FleetWatch {
    transport: Box<dyn Transport>,
    policy: SignedPolicy,
    allow_simulated: bool,
    current: VerifiedFleet,
    /// Check the broker every this many ticks (0: never).
    pub check_every: u64,
    quiet: bool,
}

fn describe(v: &VerifiedFleet) -> String {
    format!(
        "fleet key epoch {} verified: held by {} worker {} with measurement {}{}",
        v.epoch,
        v.tee,
        v.worker,
        v.measurement,
        if v.policy_differs {
            " (note: the broker's policy differs from this gateway's)"
        } else {
            ""
        }
    )
}

impl FleetWatch {
    /// Obtains and checks the current fleet key; refuses (an error with the
    /// reason) if the evidence behind it does not satisfy `policy`.
    pub fn connect(
        transport: Box<dyn Transport>,
        policy: SignedPolicy,
        allow_simulated: bool,
        check_every: u64,
        quiet: bool,
    ) -> Result<Self> {
        let resp = transport.call(&Request::Fleet)?;
        let current = verify_fleet(&resp, &policy, allow_simulated, unix_now())?;
        if current.simulated && !allow_simulated {
            bail!("refusing to send: the fleet key is held by a SIMULATED TEE worker (pass --allow-simulated for development)");
        }
        if !quiet {
            if current.simulated {
                eprintln!("\n{WARNING}\ngateway: --allow-simulated: data will be sent to a SIMULATED TEE\n");
            }
            eprintln!("gateway: {}", describe(&current));
        }
        Ok(Self {
            transport,
            policy,
            allow_simulated,
            current,
            check_every,
            quiet,
        })
    }

    pub fn current(&self) -> &VerifiedFleet {
        &self.current
    }

    /// At tick `tick`: a newer verified fleet key to switch to, if the
    /// broker has rotated. A broker that cannot be reached, or a new epoch
    /// whose evidence fails, leaves the current (verified) key in use.
    pub fn poll(&mut self, tick: u64) -> Option<VerifiedFleet> {
        if self.check_every == 0 || tick == 0 || !tick.is_multiple_of(self.check_every) {
            return None;
        }
        let checked = self
            .transport
            .call(&Request::Fleet)
            .map_err(anyhow::Error::from)
            .and_then(|r| {
                Ok(verify_fleet(
                    &r,
                    &self.policy,
                    self.allow_simulated,
                    unix_now(),
                )?)
            });
        match checked {
            Ok(v) if v.epoch > self.current.epoch => {
                if !self.quiet {
                    eprintln!("gateway: switching every stream to {}", describe(&v));
                }
                self.current = v.clone();
                Some(v)
            }
            Ok(_) => None,
            Err(e) => {
                eprintln!(
                    "gateway: key check failed, staying on epoch {}: {e:#}",
                    self.current.epoch
                );
                None
            }
        }
    }
}
