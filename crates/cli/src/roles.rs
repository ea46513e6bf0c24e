//! The role subcommands: each runs one party of the data path as its own process.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use aorta_wire::AlgorithmSet;

use crate::keystore::{KeyStore, Patient};
use crate::pipeline::{self};
use crate::tee;
use crate::transport::{publish_enrolments, Open, TransportArgs};

#[derive(clap::Subcommand)]
pub enum KeysCmd {
    /// Create a deployment's keys: controller (signing), fleet, clinician.
    Init {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Enrol a patient's device (or change its algorithms) and publish the signed record.
    Enrol {
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        transport: TransportArgs,
        #[arg(long)]
        patient: String,
        #[arg(long, default_value = "sdnn,hrv-bands,hr,rmssd")]
        algorithms: String,
        /// Highest sample rate the device produces, per second (sizes its envelopes).
        #[arg(long, default_value_t = 4.0)]
        max_rate: f64,
        #[arg(long, default_value_t = 10_000)]
        cadence_ms: u32,
        /// Event time (Unix seconds) from which the algorithms apply.
        #[arg(long, default_value_t = 0)]
        effective_from: i64,
        /// `clinical` alerts: bradycardia below this heart rate (bpm).
        #[arg(long, default_value_t = 40)]
        brady_bpm: u8,
        /// Tachycardia above this heart rate (bpm).
        #[arg(long, default_value_t = 130)]
        tachy_bpm: u8,
        /// Pause: an RR interval longer than this (ms, 1500..=25500).
        #[arg(long, default_value_t = 3000)]
        pause_ms: u32,
        /// Signal loss: no beat for this many seconds.
        #[arg(long, default_value_t = 15)]
        signal_loss_s: u8,
    },
    /// Sign a policy file with the controller key and install it
    /// (the key broker and gateways load it from this directory).
    Policy {
        #[arg(long)]
        dir: PathBuf,
        /// The policy (JSON; see docs/deploy-sgx.md and docs/deploy-cvm.md).
        #[arg(long)]
        file: PathBuf,
    },
    /// Revoke a patient's enrolment: workers reject the stream from then on.
    Revoke {
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        transport: TransportArgs,
        #[arg(long)]
        patient: String,
    },
}

pub fn keys(cmd: KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::Init { dir } => {
            KeyStore::init(&dir)?;
            println!(
                "created controller, fleet, clinician and simulated-TEE keys in {}",
                dir.display()
            );
        }
        KeysCmd::Enrol {
            dir,
            transport,
            patient,
            algorithms,
            max_rate,
            cadence_ms,
            effective_from,
            brady_bpm,
            tachy_bpm,
            pause_ms,
            signal_loss_s,
        } => {
            let ks = KeyStore::open(&dir)?;
            let algos = AlgorithmSet::parse(&algorithms).map_err(anyhow::Error::msg)?;
            let pause_ds = u8::try_from(pause_ms / 100)
                .map_err(|_| anyhow::anyhow!("--pause-ms must be at most 25500"))?;
            let (p, signed) = ks.enrol_with_alerts(
                &patient,
                algos,
                max_rate,
                cadence_ms,
                effective_from * 1_000_000,
                aorta_wire::AlertThresholds {
                    brady_bpm,
                    tachy_bpm,
                    pause_ds,
                    signal_loss_s,
                },
            )?;
            publish_enrolments(&*transport.open(Open::Create { partitions: 0 })?, &[signed])?;
            println!(
                "enrolled '{}' as stream {} (serial {}, {}, {}-byte envelopes every {} ms)",
                p.name,
                p.stream,
                p.serial,
                p.algorithms.names(),
                p.profile.bucket.len(),
                p.profile.cadence_ms
            );
        }
        KeysCmd::Policy { dir, file } => {
            let ks = KeyStore::open(&dir)?;
            let json =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let p = ks.install_policy(&json)?;
            println!(
                "installed the policy from {} (sha256 {}), signed by the controller",
                file.display(),
                hex::encode(p.sha256)
            );
            if p.policy.simulated.is_some() {
                println!("note: it accepts the SIMULATED TEE, for consumers started with --allow-simulated");
            }
            let _ = aorta_kbs::audit::AuditLog::new(dir.join("audit.log")).append(
                aorta_kbs::audit::Event {
                    event: "policy".into(),
                    policy: Some(p.short_hash()),
                    ..Default::default()
                },
                tee::unix_now(),
            )?;
        }
        KeysCmd::Revoke {
            dir,
            transport,
            patient,
        } => {
            let ks = KeyStore::open(&dir)?;
            let signed = ks.revoke(&patient)?;
            publish_enrolments(&*transport.open(Open::Create { partitions: 0 })?, &[signed])?;
            println!("revoked '{patient}'");
        }
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct GatewayArgs {
    #[arg(long)]
    pub keys: PathBuf,
    #[command(flatten)]
    pub transport: TransportArgs,
    /// Patients this gateway serves (default: every enrolled, non-revoked patient).
    #[arg(long)]
    pub patient: Vec<String>,
    /// Simulate the patients for this many minutes of event time.
    #[arg(long, conflicts_with_all = ["input", "mqtt"])]
    pub simulate_minutes: Option<u32>,
    /// Event time of the first simulated sample, Unix seconds.
    #[arg(long)]
    pub start: Option<i64>,
    /// A simulated patient's condition, `NAME=af|brady|tachy|normal`
    /// (repeatable; others are resting sinus rhythm).
    #[arg(long, value_name = "NAME=CONDITION", requires = "simulate_minutes")]
    pub simulate_condition: Vec<String>,
    /// Directory of `<patient>.csv` files in the paper's format.
    #[arg(long, conflicts_with = "mqtt")]
    pub input: Option<PathBuf>,
    /// Subscribe to `aorta/<patient>/rr` on this MQTT broker (host:port).
    #[arg(long)]
    pub mqtt: Option<String>,
    /// Stream a raw ECG lead from this WFDB record (path without extension)
    /// for the one patient served; R peaks are detected in the worker.
    #[arg(long, conflicts_with_all = ["input", "mqtt", "simulate_minutes"])]
    pub ecg_wfdb: Option<PathBuf>,
    /// The lead (signal number) of `--ecg-wfdb`.
    #[arg(long, default_value_t = 0)]
    pub channel: usize,
    /// Stream a raw PPG signal from this text file (one sample per line,
    /// sensor units; on lines with several comma- or space-separated
    /// fields the last one; `#` starts a comment) for the one patient
    /// served; pulses are detected in the worker.
    #[arg(long, requires = "ppg_fs", conflicts_with_all = ["input", "mqtt", "simulate_minutes", "ecg_wfdb"])]
    pub ppg_file: Option<PathBuf>,
    /// Sampling rate of `--ppg-file`, Hz (25 to 1000).
    #[arg(long)]
    pub ppg_fs: Option<u32>,
    /// MQTT: stop after this many samples.
    #[arg(long)]
    pub max_samples: Option<u64>,
    /// MQTT: stop after this many seconds.
    #[arg(long)]
    pub duration_s: Option<u64>,
    /// Partitions of the spool: each stream's envelopes go to the partition
    /// its pseudonym maps to (workers are started with the same count).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub partitions: u32,
    /// `--input`: samples dated outside a file's densest stretch of this
    /// many hours are skipped and counted, and files that together span
    /// more are refused (a stray date must not make a replay span a year).
    #[arg(long, default_value_t = 168)]
    pub max_span_hours: u32,
    /// MQTT: samples dated more than this many seconds ahead of the
    /// gateway's clock are refused (counted).
    #[arg(long, default_value_t = 60)]
    pub max_ahead_s: u32,
    /// MQTT: ticks of envelopes held while the transport is slow or down
    /// (beyond, the oldest are dropped, counted and reported).
    #[arg(long, default_value_t = 360)]
    pub outbox_ticks: usize,
    /// MQTT: MiB of envelopes held while the transport is slow or down.
    #[arg(long, default_value_t = 256)]
    pub outbox_mib: usize,
    /// MQTT: on exit, seconds to wait for the transport to take what is
    /// still held before counting it as not sent.
    #[arg(long, default_value_t = 30)]
    pub outbox_grace_s: u32,
    /// Serve Prometheus/OpenMetrics metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// The key broker (HOST:PORT): the fleet key comes from it, with the
    /// evidence of the worker that holds it.
    #[arg(long)]
    pub kbs: String,
    /// Accept a fleet key held by a SIMULATED TEE (development only).
    #[arg(long)]
    pub allow_simulated: bool,
    /// Ask the key broker for a rotated fleet key every N ticks.
    #[arg(long, default_value_t = 6)]
    pub key_check_ticks: u64,
    /// Wait up to this many seconds for an attested worker to hold the
    /// fleet key (workers started after the gateway); 0 refuses at once.
    #[arg(long, default_value_t = 0)]
    pub wait_secs: u64,
}

fn served(ks: &KeyStore, wanted: &[String]) -> Result<Vec<Patient>> {
    let all: Vec<Patient> = ks.patients()?.into_iter().filter(|p| !p.revoked).collect();
    if wanted.is_empty() {
        return Ok(all);
    }
    wanted
        .iter()
        .map(|w| {
            all.iter()
                .find(|p| &p.name == w)
                .cloned()
                .with_context(|| format!("'{w}' is not an enrolled, active patient"))
        })
        .collect()
}

pub fn gateway(a: GatewayArgs) -> Result<()> {
    use aorta_gateway::role::{GatewayRole, Mqtt, Output, Served, Source, Wave};
    let ks = KeyStore::open_shared(&a.keys)?;
    let transport = a.transport.open(Open::Create { partitions: 0 })?;
    let patients = served(&ks, &a.patient)?;
    if patients.is_empty() {
        bail!("no enrolled patients to serve");
    }
    // Only what can change is waited for (the broker unreachable or busy,
    // no worker attested yet, collateral to refresh); a policy refusal
    // fails at once with its reason.
    let watch = crate::fleet::connect_within(
        Box::new(aorta_kbs::Client::new(a.kbs.clone())),
        ks.policy()?,
        a.allow_simulated,
        a.key_check_ticks,
        false,
        Duration::from_secs(a.wait_secs),
    )?;
    let source = if let Some(addr) = &a.mqtt {
        Source::Mqtt(Mqtt {
            addr: addr.clone(),
            max_samples: a.max_samples,
            duration: a.duration_s.map(Duration::from_secs),
            max_ahead: Duration::from_secs(u64::from(a.max_ahead_s)),
            outbox: aorta_gateway::outbox::OutboxLimits {
                max_ticks: a.outbox_ticks,
                max_bytes: a.outbox_mib << 20,
            },
            grace: Duration::from_secs(u64::from(a.outbox_grace_s)),
            key_check_ticks: a.key_check_ticks,
            stop: shutdown_flag().map_err(|e| anyhow::anyhow!(e))?,
        })
    } else if let Some(record) = &a.ecg_wfdb {
        let (header, mv) = aorta_validation::read_lead(record, a.channel)?;
        let lead = header
            .signals
            .get(a.channel)
            .map_or(String::new(), |s| s.description.clone());
        Source::Wave {
            wave: Wave {
                signal: aorta_gateway::Signal::Ecg,
                fs_hz: header.fs.round() as u32,
                samples: mv,
                what: format!("ECG (lead {} {lead})", a.channel),
            },
            start: a.start,
        }
    } else if let (Some(file), Some(fs_hz)) = (&a.ppg_file, a.ppg_fs) {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading PPG file {}", file.display()))?;
        Source::Wave {
            wave: Wave {
                signal: aorta_gateway::Signal::Ppg,
                fs_hz,
                samples: parse_ppg_text(&text)
                    .with_context(|| format!("PPG file {}", file.display()))?,
                what: "PPG".into(),
            },
            start: a.start,
        }
    } else if let Some(minutes) = a.simulate_minutes {
        let mut conditions = std::collections::HashMap::new();
        for c in &a.simulate_condition {
            let (name, cond) = c
                .split_once('=')
                .context("--simulate-condition takes NAME=af|brady|tachy|normal")?;
            let cond = aorta_gateway::source::Condition::parse(cond).with_context(|| {
                format!("--simulate-condition: '{cond}' is not af, brady, tachy or normal")
            })?;
            conditions.insert(name.to_string(), cond);
        }
        Source::Simulate {
            minutes,
            start: a.start,
            conditions,
        }
    } else if let Some(dir) = &a.input {
        Source::Files {
            dir: dir.clone(),
            max_span_hours: a.max_span_hours,
        }
    } else {
        bail!("give a source: --simulate-minutes M, --input DIR or --mqtt HOST:PORT");
    };
    let served = patients
        .iter()
        .map(|p| {
            Ok(Served {
                name: p.name.clone(),
                stream: p.stream,
                profile: p.profile,
                device: ks.device_secret(p.stream)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let role = GatewayRole {
        deployment: transport,
        partitions: a.partitions,
        output: Output {
            say: std::sync::Arc::new(|l| println!("{l}")),
            log: std::sync::Arc::new(|l| eprintln!("{l}")),
            // Input files are named after patients: named only to a person
            // at a terminal, never into a log collector.
            names_files: {
                use std::io::IsTerminal;
                std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
            },
        },
        metrics: crate::metrics::start("gateway", a.metrics.as_deref())?,
        clock: tee::unix_now,
    };
    role.run(served, watch, source, &mut crate::tee::sys_rng())?;
    Ok(())
}

/// Samples of a PPG text file (see `--ppg-file`).
pub fn parse_ppg_text(text: &str) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(field) = line
            .split(|c: char| c == ',' || c.is_whitespace())
            .rfind(|f| !f.is_empty())
        else {
            continue;
        };
        let v: f32 = field
            .parse()
            .with_context(|| format!("line {}: not a number: {field:?}", i + 1))?;
        if !v.is_finite() {
            bail!("line {}: not a finite number: {field:?}", i + 1);
        }
        out.push(v);
    }
    if out.is_empty() {
        bail!("no samples");
    }
    Ok(out)
}

use aorta_enclave::shutdown_flag;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ResultsArgs {
    #[command(subcommand)]
    pub cmd: Option<ResultsCmd>,
    #[arg(long, required = true)]
    pub keys: Option<PathBuf>,
    #[command(flatten)]
    pub transport: TransportArgs,
    /// Write the tidy CSV here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write an SVG of heart rate and SDNN traces here (6 patients, those with AF or alerts first; AF episodes and alerts marked).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Write the results as an HL7 FHIR R4 `Bundle` of `Observation`s here.
    #[arg(long)]
    pub fhir: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum ResultsCmd {
    /// Serve the ward dashboard: follows committed results, decrypts them
    /// here with the clinician key, and shows them to signed-in users.
    Serve(ServeArgs),
    /// Add or change a dashboard user: reads the password from standard
    /// input and stores only its Argon2id hash (file mode 0600).
    Passwd {
        #[arg(long)]
        users: PathBuf,
        #[arg(long)]
        user: String,
    },
}

#[derive(clap::Args)]
pub struct ServeArgs {
    #[arg(long)]
    pub keys: PathBuf,
    #[command(flatten)]
    pub transport: TransportArgs,
    /// Users and password hashes (`aorta results passwd`).
    #[arg(long)]
    pub users: PathBuf,
    /// Address to serve on (loopback by default; put a TLS proxy in front
    /// of anything else, see docs/dashboard.md). Port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Sessions expire this many seconds after sign-in.
    #[arg(long, default_value_t = 8 * 3600)]
    pub session_secs: u64,
    /// Mark the session cookie `Secure` (served through a TLS proxy).
    #[arg(long)]
    pub secure_cookies: bool,
    /// Hours of trends kept in memory (about 520 KiB per patient-day).
    #[arg(long, default_value_t = 168)]
    pub retention_hours: u64,
}

/// Names and fleet keys from the controller's directory, re-read while the
/// dashboard runs.
struct KeyDirectory(KeyStore);

impl aorta_clinic::web::Directory for KeyDirectory {
    fn refresh(&mut self) -> Option<aorta_clinic::web::DirectoryUpdate> {
        let fleet = self.0.fleet_publics().ok()?.into_iter().collect();
        let names = self
            .0
            .patients()
            .ok()?
            .into_iter()
            .map(|p| (p.stream, p.name))
            .collect();
        Some((fleet, names))
    }
}

/// Writes `users` to `path`, mode 0600, atomically.
pub fn save_users(path: &std::path::Path, users: &aorta_clinic::web::Users) -> Result<()> {
    aorta_kbs::store::write_atomic(path, users.to_text().as_bytes(), 0o600)?;
    Ok(())
}

pub fn results_passwd(users: &std::path::Path, user: &str) -> Result<()> {
    if user.is_empty() || user.contains([':', '\n']) {
        bail!("a user name must be non-empty and hold no ':' or newline");
    }
    // An existing file that does not load is an error, never a reason to
    // start over (that would drop every other user).
    let mut u = if users.exists() && std::fs::metadata(users)?.len() > 0 {
        aorta_clinic::web::Users::load(users)?
    } else {
        aorta_clinic::web::Users::default()
    };
    let mut password = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut password)
        .context("reading the password from standard input")?;
    let pw = password.trim_end_matches(['\n', '\r']);
    if pw.chars().count() < 8 {
        bail!("the password must have at least 8 characters");
    }
    u.set(user, pw)?;
    save_users(users, &u)?;
    println!(
        "user '{user}' saved in {} (Argon2id hash only)",
        users.display()
    );
    Ok(())
}

/// Starts the dashboard; prints its address once it listens.
pub fn results_serve(a: ServeArgs) -> Result<()> {
    let ks = KeyStore::open(&a.keys)?;
    let source = open_results(&a.transport)?;
    let users = aorta_clinic::web::Users::load(&a.users)?;
    serve_dashboard(
        ks,
        source,
        users,
        &a.listen,
        (a.session_secs, a.retention_hours),
        a.secure_cookies,
        None,
    )
}

/// The committed results of an existing deployment (nothing is created).
fn open_results(t: &TransportArgs) -> Result<Box<dyn aorta_transport::CommittedRecords + Send>> {
    Ok(t.open(Open::Existing)?.committed_results())
}

/// Serves the dashboard over committed results for the deployment in `ks`.
pub fn serve_dashboard(
    ks: KeyStore,
    source: Box<dyn aorta_transport::CommittedRecords + Send>,
    users: aorta_clinic::web::Users,
    listen: &str,
    (session_secs, retention_hours): (u64, u64),
    secure_cookies: bool,
    credential: Option<(&str, &str)>,
) -> Result<()> {
    let listener =
        std::net::TcpListener::bind(listen).with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "dashboard: WARNING: serving on {addr}, not loopback, without TLS: put a TLS proxy in front (docs/dashboard.md)"
        );
    }
    let enrolled = ks
        .patients()?
        .into_iter()
        .map(|p| (p.name, p.stream.to_hex()))
        .collect();
    let decryptor = pipeline::decryptor(&ks)?;
    let cfg = aorta_clinic::web::Config {
        users,
        session_ttl: Duration::from_secs(session_secs.max(1)),
        secure_cookies,
        retention: Duration::from_secs(retention_hours.max(1) * 3600),
        ..Default::default()
    };
    // Tests and scripts wait for this line.
    println!("dashboard: http://{addr}/");
    if let Some((user, password)) = credential {
        println!("dashboard: sign in as '{user}' with the one-time password {password}");
    }
    use std::io::Write;
    std::io::stdout().flush()?;
    aorta_clinic::web::serve(
        cfg,
        source,
        decryptor,
        Box::new(KeyDirectory(ks)),
        enrolled,
        listener,
    )?;
    Ok(())
}

pub fn results(a: ResultsArgs) -> Result<()> {
    match a.cmd {
        Some(ResultsCmd::Serve(s)) => return results_serve(s),
        Some(ResultsCmd::Passwd { users, user }) => return results_passwd(&users, &user),
        None => {}
    }
    let Some(keys) = a.keys else {
        bail!("give --keys K --spool S or --transport T (or a subcommand: serve, passwd)");
    };
    if a.transport.transport.is_none() && a.transport.spool.is_none() {
        bail!("give --spool DIR or --transport spool:DIR|nats://HOST:PORT");
    }
    let ks = KeyStore::open(&keys)?;
    let mut source = open_results(&a.transport)?;
    let where_ = a
        .transport
        .transport
        .as_deref()
        .map(aorta_nats::config_redact)
        .or(a.transport.spool.as_ref().map(|d| d.display().to_string()))
        .unwrap_or_default();
    let (rows, stats) = pipeline::read_results(&ks, &mut source)?;
    if stats.envelopes > 0 && rows.is_empty() && stats.rejected == stats.envelopes {
        bail!(
            "none of the {} result envelopes in {where_} opens with the clinician key in {} (results of another deployment?)",
            stats.envelopes,
            keys.display()
        );
    }
    if stats.envelopes == 0 {
        bail!(
            "{where_} holds no results: no worker has committed any there yet (is it the transport the workers use?)"
        );
    }
    print!("{}", pipeline::summary_table(&rows));
    if rows
        .iter()
        .any(|r| r.record.algorithm == aorta_wire::Algorithm::HrvBands)
    {
        println!("{}", pipeline::HRV_BANDS_NOTE);
    }
    println!(
        "{} result rows from {} envelopes ({} rejected, {} duplicates dropped, {} corrupt records)",
        rows.len(),
        stats.envelopes,
        stats.rejected,
        stats.duplicates,
        stats.corrupt
    );
    if let Some(p) = a.csv {
        pipeline::write_csv(&rows, &p)?;
        println!("wrote {}", p.display());
    }
    if let Some(p) = a.plot {
        pipeline::write_trends_svg(&rows, &p, 6)?;
        println!("wrote {}", p.display());
    }
    if let Some(p) = a.fhir {
        let bundle = aorta_clinic::fhir::bundle(&rows);
        let n = bundle["entry"].as_array().map_or(0, Vec::len);
        std::fs::write(&p, serde_json::to_vec_pretty(&bundle)?)
            .with_context(|| format!("writing {}", p.display()))?;
        println!("wrote {} ({n} FHIR R4 Observations)", p.display());
    }
    if stats.rejected > 0 {
        // Every genuine row above is complete; what was refused cannot have
        // come from this deployment's workers through honest storage.
        let reasons: Vec<String> = stats
            .refused
            .nonzero()
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        bail!(
            "{where_} holds {} result envelope(s) that are not this deployment's workers' ({}): forged, foreign or damaged; every genuine result above is complete",
            stats.rejected,
            reasons.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_ppg_text;

    #[test]
    fn ppg_text_takes_the_last_field_and_names_bad_lines() {
        let v = parse_ppg_text("# header\n1.5\n0.25, 812\n3 -7 # note\n\n").unwrap();
        assert_eq!(v, vec![1.5, 812.0, -7.0]);
        let e = parse_ppg_text("1\n2\nabc\n").unwrap_err();
        assert!(
            format!("{e:#}").contains("line 3: not a number: \"abc\""),
            "{e:#}"
        );
        let e = parse_ppg_text("1\nNaN\n").unwrap_err();
        assert!(
            format!("{e:#}").contains("line 2: not a finite number"),
            "{e:#}"
        );
        assert!(parse_ppg_text("# nothing\n").is_err());
    }
}
