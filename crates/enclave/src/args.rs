//! The worker's arguments (`aorta-worker --help`). Parsed with `lexopt`, a
//! parser without dependencies: what the enclave links is what it
//! measures.

use std::ffi::OsString;
use std::path::PathBuf;

use aorta_attest::select::TeeChoice;
use aorta_deploy::TransportSpec;

pub const USAGE: &str = "\
Aorta's worker for a TEE: attest, obtain the fleet key, process partitions.

Usage: aorta-worker --tee TEE --kbs HOST:PORT --keys DIR (--transport T | --spool DIR) [OPTIONS]
       (`aorta worker` takes the same arguments)

Attestation:
  --tee TEE                 simulated (development only: NOT a TEE), sgx (Gramine),
                            tdx or snp (configfs-tsm), nitro (/dev/nsm; `nitro` build feature)
  --endorsements FILE       sent with the evidence: DCAP collateral JSON (SGX, TDX) or the
                            VCEK/VLEK certificate (SNP, when the host's auxblob lacks it); repeatable
  --attestation-dir DIR     the provider's interface (default /dev/attestation for SGX,
                            /sys/kernel/config/tsm/report for TDX and SNP)
  --sim-measurement HEX     simulated TEE only: report this measurement instead of the
                            SHA-256 of this binary
  --kbs HOST:PORT           the key broker
  --keys DIR                the controller's public key (controller.pub) and, for the
                            simulated TEE only, its platform root
  --attest-only             attest, report the fleet key epochs released, and exit
  --wait-secs S             at start, keep asking for up to S s while the key broker
                            cannot be reached or is busy (0..3600) [30]

Transport:
  --transport T             spool:DIR or nats://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]
                            (tls://... requires TLS); the password is never printed
  --spool DIR               the same as --transport spool:DIR
  --nats-creds FILE         NATS credentials file (user JWT and NKEY seed)
  --nats-ca FILE            CA certificate (PEM) the NATS server's certificate must chain to
  --nats-cert FILE          client certificate (PEM) for mutual TLS (with --nats-key)
  --nats-key FILE           client key (PEM) for mutual TLS (with --nats-cert)
  --nats-replicas N         replicas of the streams this process creates: 1, 3 or 5 [1]

Partitions:
  --partitions N            partitions in the deployment, as given to the gateways (1..4096) [1]
  --partition P[,P...]      the partitions this process owns (default: all); repeatable
  --checkpoint-every N      commit with a sealed checkpoint every N input envelopes [1024]
  --follow                  keep polling for new input instead of exiting when idle
  --commit-secs S           following: results visible within S s of catching up (1..3600) [1]
  --group                   join the worker group on NATS: partitions shared by leases
                            (implies following; not with --partition)
  --lease-secs S            group leases expire S s after a member stops renewing (1..300) [3]

Operations:
  --metrics ADDR            serve Prometheus/OpenMetrics metrics at http://ADDR/metrics
  -h, --help                this text
  -V, --version             the version
";

/// How the worker produces evidence.
#[derive(Debug, Clone)]
pub struct AttestOptions {
    pub tee: TeeChoice,
    pub endorsements: Vec<PathBuf>,
    pub attestation_dir: Option<PathBuf>,
    pub sim_measurement: Option<String>,
    /// The first attestation asks again for this long while the broker
    /// cannot be reached or is busy.
    pub wait: std::time::Duration,
}

impl AttestOptions {
    /// The simulated TEE with this binary's measurement.
    pub fn simulated() -> Self {
        Self {
            tee: TeeChoice::Simulated,
            endorsements: Vec::new(),
            attestation_dir: None,
            sim_measurement: None,
            wait: std::time::Duration::ZERO,
        }
    }
}

/// Everything `aorta-worker` is told.
#[derive(Debug, Clone)]
pub struct WorkerArgs {
    pub attest: AttestOptions,
    pub kbs: String,
    pub keys: PathBuf,
    pub transport: Option<TransportSpec>,
    pub partition: Vec<u32>,
    pub partitions: u32,
    pub checkpoint_every: u64,
    pub follow: bool,
    pub attest_only: bool,
    pub metrics: Option<String>,
    pub group: bool,
    pub lease_secs: u32,
    pub commit_secs: u32,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<WorkerArgs>),
    Help,
    Version,
}

/// A command line that cannot be run, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("{0} (aorta-worker --help lists the arguments)")]
pub struct ArgsError(String);

impl From<lexopt::Error> for ArgsError {
    fn from(e: lexopt::Error) -> Self {
        Self(e.to_string())
    }
}

fn number<T>(flag: &str, v: OsString, range: std::ops::RangeInclusive<T>) -> Result<T, ArgsError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let text = v.to_string_lossy().into_owned();
    match text.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ArgsError(format!(
            "{flag} takes a number from {} to {}, not {text:?}",
            range.start(),
            range.end()
        ))),
    }
}

fn text(v: OsString) -> String {
    v.to_string_lossy().into_owned()
}

/// The value of the flag just read; another flag in its place is refused
/// (`--kbs --keys K` does not take "--keys" as the broker).
fn value(p: &mut lexopt::Parser) -> Result<OsString, ArgsError> {
    let v = p.value()?;
    if v.to_string_lossy().starts_with("--") {
        return Err(ArgsError(format!(
            "a flag's value is missing before {}",
            v.to_string_lossy()
        )));
    }
    Ok(v)
}

/// Parses the arguments after the program's name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, ArgsError> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let mut tee = None;
    let (mut endorsements, mut attestation_dir, mut sim_measurement) = (Vec::new(), None, None);
    let (mut kbs, mut keys) = (None, None);
    let (mut transport, mut spool) = (None::<String>, None::<PathBuf>);
    let (mut creds, mut ca, mut cert, mut key, mut replicas) = (None, None, None, None, 1usize);
    let mut partition = Vec::new();
    let (mut partitions, mut checkpoint_every) = (1u32, 1024u64);
    let (mut follow, mut attest_only, mut group) = (false, false, false);
    let (mut metrics, mut lease_secs, mut commit_secs) = (None, 3u32, 1u32);
    let mut wait_secs = 30u64;
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Parsed::Help),
            Short('V') | Long("version") => return Ok(Parsed::Version),
            Long("tee") => {
                tee = Some(match text(value(&mut p)?).as_str() {
                    "simulated" => TeeChoice::Simulated,
                    "sgx" => TeeChoice::Sgx,
                    "tdx" => TeeChoice::Tdx,
                    "snp" => TeeChoice::Snp,
                    "nitro" => TeeChoice::Nitro,
                    other => {
                        return Err(ArgsError(format!(
                            "--tee takes simulated, sgx, tdx, snp or nitro, not {other:?}"
                        )))
                    }
                })
            }
            Long("endorsements") => endorsements.push(PathBuf::from(value(&mut p)?)),
            Long("attestation-dir") => attestation_dir = Some(PathBuf::from(value(&mut p)?)),
            Long("sim-measurement") => sim_measurement = Some(text(value(&mut p)?)),
            Long("kbs") => kbs = Some(text(value(&mut p)?)),
            Long("keys") => keys = Some(PathBuf::from(value(&mut p)?)),
            Long("transport") => transport = Some(text(value(&mut p)?)),
            Long("spool") => spool = Some(PathBuf::from(value(&mut p)?)),
            Long("nats-creds") => creds = Some(PathBuf::from(value(&mut p)?)),
            Long("nats-ca") => ca = Some(PathBuf::from(value(&mut p)?)),
            Long("nats-cert") => cert = Some(PathBuf::from(value(&mut p)?)),
            Long("nats-key") => key = Some(PathBuf::from(value(&mut p)?)),
            Long("nats-replicas") => replicas = number("--nats-replicas", value(&mut p)?, 1..=5)?,
            Long("partition") => {
                for part in text(value(&mut p)?).split(',') {
                    partition.push(number("--partition", part.into(), 0..=u32::MAX)?);
                }
            }
            Long("partitions") => partitions = number("--partitions", value(&mut p)?, 1..=4096)?,
            Long("checkpoint-every") => {
                checkpoint_every = number("--checkpoint-every", value(&mut p)?, 0..=u64::MAX)?
            }
            Long("follow") => follow = true,
            Long("attest-only") => attest_only = true,
            Long("metrics") => metrics = Some(text(value(&mut p)?)),
            Long("group") => group = true,
            Long("lease-secs") => lease_secs = number("--lease-secs", value(&mut p)?, 1..=300)?,
            Long("commit-secs") => commit_secs = number("--commit-secs", value(&mut p)?, 1..=3600)?,
            Long("wait-secs") => wait_secs = number("--wait-secs", value(&mut p)?, 0..=3600)?,
            _ => return Err(arg.unexpected().into()),
        }
    }
    let missing = |what: &str| ArgsError(format!("{what} is required"));
    let tee = tee.ok_or_else(|| missing("--tee"))?;
    if group && !partition.is_empty() {
        return Err(ArgsError(
            "--group and --partition exclude each other".into(),
        ));
    }
    if transport.is_some() && spool.is_some() {
        return Err(ArgsError(
            "--transport and --spool exclude each other".into(),
        ));
    }
    let nats_client = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err(ArgsError("--nats-cert and --nats-key go together".into())),
    };
    let transport = transport
        .or_else(|| spool.map(|d| format!("spool:{}", d.display())))
        .map(|t| TransportSpec {
            transport: t,
            nats_creds: creds,
            nats_ca: ca,
            nats_client,
            nats_replicas: replicas,
            notice: Some(|l| eprintln!("{l}")),
        });
    Ok(Parsed::Run(Box::new(WorkerArgs {
        attest: AttestOptions {
            tee,
            endorsements,
            attestation_dir,
            sim_measurement,
            wait: std::time::Duration::from_secs(wait_secs),
        },
        kbs: kbs.ok_or_else(|| missing("--kbs"))?,
        keys: keys.ok_or_else(|| missing("--keys"))?,
        transport,
        partition,
        partitions,
        checkpoint_every,
        follow,
        attest_only,
        metrics,
        group,
        lease_secs,
        commit_secs,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(a: &[&str]) -> Result<WorkerArgs, ArgsError> {
        match parse(a.iter().map(OsString::from))? {
            Parsed::Run(w) => Ok(*w),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn the_worker_command_line() {
        let base = ["--tee", "sgx", "--kbs", "k:1", "--keys", "K"];
        let w = run(&[
            &base[..],
            &["--spool", "S", "--partition", "1,3", "--partition", "2"],
        ]
        .concat())
        .unwrap();
        assert_eq!(w.attest.tee, TeeChoice::Sgx);
        assert_eq!(w.partition, [1, 3, 2]);
        assert_eq!(w.transport.unwrap().transport, "spool:S");
        assert_eq!(
            (
                w.partitions,
                w.checkpoint_every,
                w.lease_secs,
                w.commit_secs
            ),
            (1, 1024, 3, 1)
        );
        let e = |a: &[&str]| run(&[&base[..], a].concat()).unwrap_err().to_string();
        assert!(e(&["--partitions", "0"]).contains("--partitions takes a number from 1 to 4096"));
        assert!(e(&["--lease-secs", "301"]).contains("from 1 to 300"));
        assert!(e(&["--group", "--partition", "1"]).contains("exclude"));
        assert!(e(&["--spool", "S", "--transport", "nats://a:1"]).contains("exclude"));
        assert!(e(&["--nats-cert", "c"]).contains("go together"));
        assert!(e(&["--bogus"]).contains("--bogus"));
        assert!(run(&["--tee", "sgx", "--kbs", "--keys", "K"])
            .unwrap_err()
            .to_string()
            .contains("value is missing before --keys"));
        assert!(run(&["--kbs", "k:1", "--keys", "K"])
            .unwrap_err()
            .to_string()
            .contains("--tee is required"));
        assert!(run(&["--tee", "tpm", "--kbs", "k", "--keys", "K"]).is_err());
        assert!(matches!(
            parse(["--help"].map(OsString::from)),
            Ok(Parsed::Help)
        ));
    }
}
