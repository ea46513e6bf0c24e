//! `aorta kbs`: the key broker and the controller's operations on it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use aorta_kbs::{admin, Broker};

use crate::keystore::KeyStore;
use crate::tee::{sys_rng, unix_now};

#[derive(clap::Subcommand)]
pub enum KbsCmd {
    /// Serve attestation-gated key release to workers and fleet keys to gateways.
    Serve {
        /// The controller's key directory (fleet keys, signed policy, audit log).
        #[arg(long)]
        keys: PathBuf,
        /// Address to listen on; port 0 picks a free one (printed).
        #[arg(long, default_value = "127.0.0.1:7443")]
        listen: String,
        /// Accept the SIMULATED TEE if the policy lists it (development only).
        #[arg(long)]
        allow_simulated: bool,
        /// Connections held at most (kept below the open-file limit); when
        /// full, the connection idle longest is closed to make room.
        #[arg(long, default_value_t = 4096)]
        max_connections: usize,
        /// Serve Prometheus/OpenMetrics metrics at http://ADDR/metrics.
        #[arg(long, value_name = "ADDR")]
        metrics: Option<String>,
    },
    /// Start a new fleet key epoch; gateways and workers follow without stopping.
    Rotate {
        #[arg(long)]
        keys: PathBuf,
    },
    /// Stop releasing an old epoch (after everything sent under it is processed).
    Retire {
        #[arg(long)]
        keys: PathBuf,
        #[arg(long)]
        epoch: u32,
    },
    /// Refuse a worker from now on, and rotate so it cannot read new data.
    RevokeWorker {
        #[arg(long)]
        keys: PathBuf,
        /// The worker id (16 hex digits) from the worker's output or the audit log.
        #[arg(long)]
        worker: String,
    },
    /// Check the audit log's hash chain and print it.
    Audit {
        #[arg(long)]
        keys: PathBuf,
    },
}

pub fn run(cmd: KbsCmd) -> Result<()> {
    match cmd {
        KbsCmd::Serve {
            keys,
            listen,
            allow_simulated,
            max_connections,
            metrics,
        } => {
            let ks = KeyStore::open(&keys)?;
            let store = ks.store()?;
            let policy = ks.policy()?;
            let broker = Broker::new(
                store.clone(),
                allow_simulated,
                sys_rng(),
                Box::new(unix_now),
            )?;
            let listener =
                TcpListener::bind(&listen).with_context(|| format!("listening on {listen}"))?;
            if allow_simulated {
                eprintln!(
                    "kbs: --allow-simulated: SIMULATED TEE evidence is accepted where the policy lists it"
                );
            }
            eprintln!(
                "kbs: policy {} (sha256), epochs {:?}, current {}, audit log {}",
                hex::encode(policy.sha256),
                store.active()?,
                store.current()?,
                broker.audit().path().display()
            );
            let fds = raise_fd_limit();
            // Room for the broker's own files (keys, policy, audit log).
            let max_connections = max_connections.min(fds.saturating_sub(64) as usize).max(1);
            // Tests and scripts wait for this line.
            println!("kbs: listening on {}", listener.local_addr()?);
            let stats = Arc::new(aorta_kbs::server::Stats::default());
            let broker = Arc::new(broker);
            let exporter = crate::metrics::start("kbs", metrics.as_deref())?;
            report_refusals(Arc::clone(&stats), Arc::clone(&broker), exporter);
            aorta_kbs::server::serve_with(
                listener,
                broker,
                Arc::new(AtomicBool::new(false)),
                aorta_kbs::server::Limits {
                    max_connections,
                    ..aorta_kbs::server::Limits::default()
                },
                stats,
            )?;
        }
        KbsCmd::Rotate { keys } => {
            let store = KeyStore::open(&keys)?.store()?;
            let e = admin::rotate(&store, &mut sys_rng(), unix_now())?;
            println!(
                "epoch {e} is now current; released epochs {:?}",
                store.active()?
            );
        }
        KbsCmd::Retire { keys, epoch } => {
            let store = KeyStore::open(&keys)?.store()?;
            admin::retire(&store, epoch, unix_now())?;
            println!(
                "epoch {epoch} retired; released epochs {:?}",
                store.active()?
            );
        }
        KbsCmd::RevokeWorker { keys, worker } => {
            let store = KeyStore::open(&keys)?.store()?;
            let e = admin::revoke_worker(&store, &worker, &mut sys_rng(), unix_now())?;
            println!("worker {worker} revoked; rotated to epoch {e}, which it will not receive");
        }
        KbsCmd::Audit { keys } => {
            let log = aorta_kbs::audit::AuditLog::new(keys.join("audit.log"));
            let records = log.read()?;
            // Records are sanitised when written; printing sanitises again
            // so that a log written by an older broker cannot drive the
            // terminal either.
            let clean = |v: &Option<String>, max| {
                v.as_deref()
                    .map_or("-".to_string(), |s| aorta_kbs::audit::sanitize(s, max))
            };
            for r in &records {
                let e = &r.event;
                let suppressed = e.suppressed.map_or(String::new(), |n| {
                    format!(" (+{n} refusals not recorded singly)")
                });
                println!(
                    "{:>5} {} {:<14} worker={} tee={} measurement={} epochs={:?} policy={} {}{suppressed}",
                    r.seq,
                    r.time,
                    aorta_kbs::audit::sanitize(&e.event, 32),
                    clean(&e.worker, 128),
                    clean(&e.tee, 128),
                    clean(&e.measurement, 128),
                    e.epochs,
                    clean(&e.policy, 128),
                    e.reason
                        .as_deref()
                        .map_or(String::new(), |s| aorta_kbs::audit::sanitize(s, 512))
                );
            }
            println!("{} records; hash chain intact", records.len());
        }
    }
    Ok(())
}

/// Raises the soft limit on open files to the hard limit, so the broker's
/// connection cap, not the default of 1024 descriptors, decides how many
/// peers it holds.
/// Returns the soft limit in force.
fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut l = getrlimit(Resource::Nofile);
    if l.current < l.maximum {
        l.current = l.maximum;
        let _ = setrlimit(Resource::Nofile, l);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Prints what the server turned away, by reason, every 10 s while it
/// changes (counts only).
fn report_refusals<R: Send + Sync + 'static>(
    stats: Arc<aorta_kbs::server::Stats>,
    broker: Arc<Broker<R>>,
    metrics: Option<aorta_metrics::Exporter>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let _ = std::thread::Builder::new()
        .name("kbs-report".into())
        .spawn(move || {
            let mut last = [0u64; 6];
            let mut tick = 0u64;
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
                if let Some(m) = &metrics {
                    m.counter("aorta_kbs_key_releases", "Fleet keys released to attested workers", &[], broker.released.load(Relaxed));
                    m.counter("aorta_kbs_refusals", "Key releases refused", &[], broker.refused.load(Relaxed));
                    m.counter("aorta_kbs_connections", "Connections accepted", &[], stats.connections.load(Relaxed));
                    m.counter("aorta_kbs_requests", "Requests read", &[], stats.requests.load(Relaxed));
                    for (reason, v) in [
                        ("over_connection_cap", &stats.busy_connections),
                        ("over_memory_budget", &stats.busy_memory),
                        ("timeout", &stats.timeouts),
                        ("oversized", &stats.oversized),
                        ("malformed", &stats.malformed),
                        ("accept_error", &stats.accept_errors),
                    ] {
                        m.counter("aorta_kbs_turned_away", "Connections and requests turned away, by reason", &[("reason", reason)], v.load(Relaxed));
                    }
                }
                tick += 1;
                if !tick.is_multiple_of(10) {
                    continue;
                }
                let now = [
                    stats.busy_connections.load(Relaxed),
                    stats.busy_memory.load(Relaxed),
                    stats.timeouts.load(Relaxed),
                    stats.oversized.load(Relaxed),
                    stats.malformed.load(Relaxed),
                    stats.accept_errors.load(Relaxed),
                ];
                if now != last {
                    eprintln!(
                        "kbs: turned away so far: {} connections over the cap, {} requests over the memory budget, {} timeouts, {} oversized and {} malformed requests, {} accept errors",
                        now[0], now[1], now[2], now[3], now[4], now[5]
                    );
                    last = now;
                }
            }
        });
}
