//! NATS JetStream as Aorta's distributed log.
//!
//! The broker is untrusted: everything it stores is an encrypted envelope,
//! a signed enrolment, a sealed result or a sealed checkpoint. Subjects and
//! headers carry partition numbers, content-free ids and kinds, never a
//! patient's name or a value.
//!
//! Layout (one JetStream account; names fixed so every process agrees):
//!
//! | what | stream | subject | written by |
//! |---|---|---|---|
//! | envelopes | `AORTA_IN` | `aorta.in.<partition>` | gateways ([`NatsProducer`], `Nats-Msg-Id` = digest of the envelope, so a retried publish is stored once) |
//! | enrolments | `AORTA_CONTROL` | `aorta.control` | the controller |
//! | results + checkpoints | `AORTA_OUT_<partition>` | `aorta.out.<partition>` | the partition's owner ([`NatsOutput`]) |
//! | leases | KV bucket `AORTA_LEASES` | `partition.<p>`, `member.<id>` | workers ([`lease`]) |
//!
//! Offsets are stream sequence numbers. A worker's commit is one JetStream
//! *atomic batch* (server 2.12+, ADR-50) holding the results since the last
//! commit and the sealed checkpoint, whose first message carries
//! `Nats-Expected-Last-Sequence`: the server stores all of it or none, and
//! only if nothing else was written to the partition's output stream since
//! the writer last looked. A worker taking a partition over first writes a
//! *fence* message there; from then on a previous owner's commit (a
//! paused, partitioned or lease-expired zombie) is refused by the server
//! itself, whatever the leases say. Readers see committed batches only.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod config;
mod deploy;
mod input;
pub mod lease;
mod output;
mod producer;
mod results;

use std::sync::Arc;
use std::time::Duration;

use aorta_transport::{PartitionId, TransportError};
use async_nats::jetstream;

pub use config::{redact_url as config_redact, NatsConfig};
pub use input::NatsInput;
pub use output::NatsOutput;
pub use producer::NatsProducer;
pub use results::NatsResults;

/// The oldest server accepted: atomic batch publish arrived in 2.12.
pub const MIN_SERVER: (u32, u32) = (2, 12);

/// Stream of envelopes.
pub const IN_STREAM: &str = "AORTA_IN";
/// Stream of signed enrolments.
pub const CONTROL_STREAM: &str = "AORTA_CONTROL";
/// Subject of signed enrolments.
pub const CONTROL_SUBJECT: &str = "aorta.control";
/// How long the server remembers a publish's `Nats-Msg-Id`: a gateway's
/// retry within this window is stored once.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(120);
/// Largest record (envelope, enrolment) accepted into the input streams.
pub const MAX_RECORD: usize = 1 << 20;

/// Subject of a partition's envelopes.
pub fn in_subject(p: PartitionId) -> String {
    format!("aorta.in.{}", p.0)
}

/// Stream of a partition's results and checkpoints.
pub fn out_stream(p: PartitionId) -> String {
    format!("AORTA_OUT_{}", p.0)
}

/// Subject of a partition's results and checkpoints.
pub fn out_subject(p: PartitionId) -> String {
    format!("aorta.out.{}", p.0)
}

/// A connection to a JetStream server or cluster, usable from synchronous
/// code: the transport traits block on a small runtime owned here.
#[derive(Clone)]
pub struct Nats {
    rt: Arc<tokio::runtime::Runtime>,
    client: async_nats::Client,
    js: jetstream::Context,
    cfg: NatsConfig,
    version: String,
    max_payload: usize,
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats")
            .field("server", &self.cfg.redacted())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

pub(crate) fn remote(what: &str, e: impl std::fmt::Display, retryable: bool) -> TransportError {
    TransportError::Remote {
        what: what.to_string(),
        reason: e.to_string(),
        retryable,
    }
}

/// `major.minor` of a server version string such as `2.15.1`.
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut it = v.trim_start_matches('v').split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

impl Nats {
    /// Connects (TLS and credentials as configured), refuses servers older
    /// than [`MIN_SERVER`], and checks that JetStream answers.
    pub fn connect(cfg: &NatsConfig) -> Result<Self, TransportError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("nats-io")
            .enable_all()
            .build()
            .map_err(|e| remote("starting the NATS client runtime", e, false))?;
        // The first connection: servers that do not answer yet are asked
        // again (with back-off) for up to `connect_wait`; a refusal
        // (credentials, TLS) ends it at once.
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(100);
        let mut told = false;
        let client = loop {
            match rt.block_on(cfg.connect()) {
                Ok(c) => break c,
                Err(e) if e.retryable() && started.elapsed() + pause < cfg.connect_wait => {
                    if let (Some(say), false) = (cfg.notice, told) {
                        told = true;
                        say(&format!(
                            "waiting up to {} s for the NATS server at {}: {e}",
                            cfg.connect_wait.as_secs(),
                            cfg.redacted()
                        ));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        };
        if told {
            if let Some(say) = cfg.notice {
                say(&format!(
                    "connected to the NATS server at {} after {:.1} s",
                    cfg.redacted(),
                    started.elapsed().as_secs_f64()
                ));
            }
        }
        let info = client.server_info();
        let version = info.version.clone();
        match parse_version(&version) {
            Some(v) if v >= MIN_SERVER => {}
            _ => {
                return Err(TransportError::Refused {
                    what: format!("NATS server at {}", cfg.redacted()),
                    reason: format!(
                        "server version {version} is older than {}.{} (atomic batch publish and fencing need 2.12 or newer)",
                        MIN_SERVER.0, MIN_SERVER.1
                    ),
                })
            }
        }
        let max_payload = info.max_payload;
        let js = {
            // The context spawns its acknowledgement task on the runtime.
            let _inside = rt.enter();
            jetstream::new(client.clone())
        };
        let nats = Self {
            rt: Arc::new(rt),
            client,
            js,
            cfg: cfg.clone(),
            version,
            max_payload,
        };
        // A cluster that is still electing its JetStream meta leader does
        // not answer yet: wait for it (bounded), like any client would.
        let started = std::time::Instant::now();
        loop {
            match nats.block(async { nats.js.query_account().await }) {
                Ok(_) => return Ok(nats),
                Err(e) if started.elapsed() < cfg.timeout * 3 => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(remote("JetStream account info", e, true)),
            }
        }
    }

    /// The server's version.
    pub fn server_version(&self) -> &str {
        &self.version
    }

    /// Largest message the server takes (payload and headers).
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    pub fn config(&self) -> &NatsConfig {
        &self.cfg
    }

    pub(crate) fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub(crate) fn js(&self) -> &jetstream::Context {
        &self.js
    }

    pub(crate) fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Creates the input, control and `partitions` output streams where
    /// they do not exist yet (with the configured replication); existing
    /// ones are left as they are.
    pub fn ensure_layout(&self, partitions: u32) -> Result<(), TransportError> {
        let replicas = self.cfg.replicas;
        let base = |name: &str, subjects: Vec<String>| jetstream::stream::Config {
            name: name.to_string(),
            subjects,
            num_replicas: replicas,
            storage: jetstream::stream::StorageType::File,
            max_message_size: MAX_RECORD as i32,
            ..Default::default()
        };
        let mut configs = vec![
            jetstream::stream::Config {
                duplicate_window: DEDUP_WINDOW,
                ..base(IN_STREAM, vec!["aorta.in.*".into()])
            },
            jetstream::stream::Config {
                duplicate_window: DEDUP_WINDOW,
                ..base(CONTROL_STREAM, vec![CONTROL_SUBJECT.into()])
            },
        ];
        for p in 0..partitions {
            let p = PartitionId(p);
            configs.push(jetstream::stream::Config {
                allow_atomic_publish: true,
                deny_delete: true,
                deny_purge: true,
                max_message_size: -1,
                ..base(&out_stream(p), vec![out_subject(p)])
            });
        }
        // A cluster recovering a node may refuse placement for a while
        // ("peer offline"): retry, bounded.
        let started = std::time::Instant::now();
        for c in configs {
            let name = c.name.clone();
            loop {
                match self.block(self.js.get_or_create_stream(c.clone())) {
                    Ok(_) => break,
                    Err(e) if started.elapsed() < self.cfg.timeout * 3 => {
                        let _ = e;
                        std::thread::sleep(Duration::from_millis(250));
                    }
                    Err(e) => return Err(remote(&format!("creating stream {name}"), e, true)),
                }
            }
        }
        Ok(())
    }

    /// Deletes every Aorta stream (input, control, outputs) and the lease
    /// bucket: for demos and tests that start from nothing.
    pub fn delete_layout(&self) -> Result<(), TransportError> {
        self.delete_streams(|n| {
            n == IN_STREAM
                || n == CONTROL_STREAM
                || n.starts_with("AORTA_OUT_")
                || n == "KV_AORTA_LEASES"
        })
    }

    fn delete_streams(&self, doomed: impl Fn(&str) -> bool) -> Result<(), TransportError> {
        let js = self.js.clone();
        self.block(async move {
            use futures_util::StreamExt;
            let mut names = js.stream_names();
            let mut matched = Vec::new();
            while let Some(n) = names.next().await {
                let n = n.map_err(|e| remote("listing streams", e, true))?;
                if doomed(&n) {
                    matched.push(n);
                }
            }
            for n in matched {
                js.delete_stream(&n)
                    .await
                    .map_err(|e| remote(&format!("deleting stream {n}"), e, true))?;
            }
            Ok(())
        })
    }

    /// Publishes `payload` to partition `p`'s envelope subject WITHOUT a
    /// de-duplication id, as a hostile client with publish rights could:
    /// for attack tests only (gateways use [`Nats::producer`]).
    pub fn dangerous_publish_raw(
        &self,
        p: PartitionId,
        payload: &[u8],
    ) -> Result<u64, TransportError> {
        let (js, subject) = (self.js.clone(), in_subject(p));
        let payload = bytes::Bytes::copy_from_slice(payload);
        self.block(async move {
            let ack = js
                .publish(subject.clone(), payload)
                .await
                .map_err(|e| remote(&format!("publishing to {subject}"), e, true))?
                .await
                .map_err(|e| remote(&format!("acknowledgement from {subject}"), e, true))?;
            Ok(ack.sequence)
        })
    }

    /// Does what a host with administrative rights over the server can do
    /// to partition `p`'s output stream: reads every result envelope it
    /// holds, deletes the stream, creates it again with the same settings
    /// and republishes, one results message each, the envelopes `rewrite`
    /// returns (any order, copies, forgeries). Checkpoints are not
    /// republished. For attack tests only. Returns the envelopes read.
    pub fn dangerous_republish_results(
        &self,
        p: PartitionId,
        rewrite: impl FnOnce(Vec<Vec<u8>>) -> Vec<Vec<u8>>,
    ) -> Result<usize, TransportError> {
        use crate::output::{unpack, KIND, KIND_RESULTS};
        let name = out_stream(p);
        let info = self.stream_info(&name)?;
        let (config, last) = (info.config, info.state.last_sequence);
        let mut envelopes = Vec::new();
        for seq in 1..=last {
            let Some(m) = self.raw_message(&name, RawAt::Seq(seq))? else {
                continue;
            };
            let kind = m.headers.get(KIND).map(|v| v.as_str().to_string());
            if kind.as_deref() == Some(KIND_RESULTS) {
                for r in unpack(&m.payload).unwrap_or_default() {
                    envelopes.push(r.to_vec());
                }
            }
        }
        let n = envelopes.len();
        let republish = rewrite(envelopes);
        let (js, subject) = (self.js.clone(), out_subject(p));
        self.block(async move {
            js.delete_stream(&config.name)
                .await
                .map_err(|e| remote("deleting the output stream", e, true))?;
            js.create_stream(config)
                .await
                .map_err(|e| remote("creating the output stream", e, true))?;
            for env in republish {
                let mut payload = Vec::with_capacity(env.len() + 4);
                payload.extend_from_slice(&(env.len() as u32).to_le_bytes());
                payload.extend_from_slice(&env);
                let mut h = async_nats::HeaderMap::new();
                h.insert(KIND, KIND_RESULTS);
                js.publish_with_headers(subject.clone(), h, payload.into())
                    .await
                    .map_err(|e| remote("republishing", e, true))?
                    .await
                    .map_err(|e| remote("republishing (ack)", e, true))?;
            }
            Ok(n)
        })
    }

    /// Deletes every partition's output stream (results, checkpoints),
    /// keeping the input: for benchmarks that process the same input again.
    pub fn delete_outputs(&self) -> Result<(), TransportError> {
        self.delete_streams(|n| n.starts_with("AORTA_OUT_"))
    }

    /// A stream's message count and, on a cluster, its leader's server
    /// name (for operators and the replication test).
    pub fn stream_state(&self, name: &str) -> Result<(u64, Option<String>), TransportError> {
        let info = self.stream_info(name)?;
        Ok((
            info.state.messages,
            info.cluster.as_ref().and_then(|c| c.leader.clone()),
        ))
    }

    /// A stream's configuration and state.
    pub(crate) fn stream_info(
        &self,
        name: &str,
    ) -> Result<jetstream::stream::Info, TransportError> {
        let (js, name) = (self.js.clone(), name.to_string());
        self.block(async move {
            let mut s = js
                .get_stream(&name)
                .await
                .map_err(|e| remote(&format!("opening stream {name}"), e, true))?;
            s.info()
                .await
                .cloned()
                .map_err(|e| remote(&format!("stream {name} info"), e, true))
        })
    }

    /// The message of `stream` at a sequence, or the last one on a subject;
    /// `None` if there is none.
    pub(crate) fn raw_message(
        &self,
        stream: &str,
        at: RawAt<'_>,
    ) -> Result<Option<jetstream::message::StreamMessage>, TransportError> {
        let (js, stream) = (self.js.clone(), stream.to_string());
        let what = match at {
            RawAt::Seq(seq) => format!("reading {stream} at {seq}"),
            RawAt::LastOf(subject) => format!("last record of {subject}"),
        };
        self.block(async move {
            let s = js
                .get_stream_no_info(&stream)
                .await
                .map_err(|e| remote(&format!("opening stream {stream}"), e, true))?;
            let r = match at {
                RawAt::Seq(seq) => s.get_raw_message(seq).await,
                RawAt::LastOf(subject) => s.get_last_raw_message_by_subject(subject).await,
            };
            match r {
                Ok(m) => Ok(Some(m)),
                Err(e)
                    if matches!(
                        e.kind(),
                        jetstream::stream::LastRawMessageErrorKind::NoMessageFound
                    ) =>
                {
                    Ok(None)
                }
                Err(e) => Err(remote(&what, e, true)),
            }
        })
    }

    /// A producer of envelopes to partition `p`.
    pub fn producer(&self, p: PartitionId) -> NatsProducer {
        NatsProducer::new(self.clone(), in_subject(p))
    }

    /// A producer of signed enrolments.
    pub fn control_producer(&self) -> NatsProducer {
        NatsProducer::new(self.clone(), CONTROL_SUBJECT.to_string())
    }

    /// Reads partition `p`'s envelopes in order.
    pub fn input(&self, p: PartitionId) -> Result<NatsInput, TransportError> {
        NatsInput::open(self.clone(), IN_STREAM, in_subject(p))
    }

    /// Reads the signed enrolments in order.
    pub fn control_input(&self) -> Result<NatsInput, TransportError> {
        NatsInput::open(self.clone(), CONTROL_STREAM, CONTROL_SUBJECT.to_string())
    }

    /// Takes partition `p`'s output over for `owner` (a content-free worker
    /// id): fences earlier owners out, then finds the last commit.
    pub fn output(&self, p: PartitionId, owner: &str) -> Result<NatsOutput, TransportError> {
        NatsOutput::open(self.clone(), p, owner)
    }

    /// The clinician's reader of every partition's committed results.
    pub fn results(&self) -> NatsResults {
        NatsResults::new(self.clone())
    }
}

/// Where [`Nats::raw_message`] looks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RawAt<'a> {
    Seq(u64),
    LastOf(&'a str),
}

/// The first 8 bytes of SHA-256 of `payload`, as a number: checkpoints keep
/// it to recognise the record their offset ends at.
pub(crate) fn fingerprint(payload: &[u8]) -> u64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(payload);
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b).max(1)
}
