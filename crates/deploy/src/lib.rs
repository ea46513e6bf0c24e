//! The one place a deployment's transport is chosen.
//!
//! `spool:DIR` is the embedded spool (`aorta-spool`);
//! `nats://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]` (or `tls://`) is NATS
//! JetStream 2.12 or newer (`aorta-nats`). Both are opened as a
//! [`Deployment`]; nothing after [`open`] asks which one it is.
//!
//! [`keydir`] reads the controller's key directory, the other thing every
//! party of a deployment is given.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod keydir;

use std::path::PathBuf;
use std::sync::Arc;

pub use aorta_transport::Deployment;
use aorta_transport::TransportError;

/// Where envelopes, enrolments, results and checkpoints live, as an
/// operator names it. Its `Debug` hides any password.
#[derive(Clone, Default)]
pub struct TransportSpec {
    /// `spool:DIR` or `nats://...` / `tls://...`.
    pub transport: String,
    /// NATS credentials file (user JWT and NKEY seed).
    pub nats_creds: Option<PathBuf>,
    /// CA certificate (PEM) the NATS server's TLS certificate must chain to.
    pub nats_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS with NATS.
    pub nats_client: Option<(PathBuf, PathBuf)>,
    /// Replicas of the streams this process creates (1, 3 or 5).
    pub nats_replicas: usize,
    /// Hears what the first connection waits for (a NATS server that is
    /// not up yet); None: nothing is said.
    pub notice: Option<fn(&str)>,
}

impl std::fmt::Debug for TransportSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportSpec")
            .field("transport", &self.redacted())
            .field("nats_replicas", &self.nats_replicas)
            .finish_non_exhaustive()
    }
}

impl TransportSpec {
    /// `spool:DIR` or a NATS URL, with default NATS settings.
    pub fn new(transport: impl Into<String>) -> Self {
        Self {
            transport: transport.into(),
            nats_replicas: 1,
            ..Self::default()
        }
    }

    /// The embedded spool at `dir`.
    pub fn spool(dir: impl Into<PathBuf>) -> Self {
        Self::new(format!("spool:{}", dir.into().display()))
    }

    /// Where it points, without any password (for messages).
    pub fn redacted(&self) -> String {
        match self.transport.strip_prefix("spool:") {
            Some(dir) => dir.to_string(),
            None => aorta_nats::config_redact(&self.transport),
        }
    }
}

/// Why a transport could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeployError {
    #[error("--transport spool:DIR needs a directory")]
    NoDirectory,
    #[error("{dir} is not an Aorta spool")]
    NotASpool { dir: String, source: TransportError },
    #[error("--nats-replicas must be 1, 3 or 5, not {0}")]
    Replicas(usize),
    #[error("NATS at {at}")]
    Nats { at: String, source: TransportError },
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl DeployError {
    /// Whether trying again later can help (a server not up yet).
    pub fn retryable(&self) -> bool {
        match self {
            Self::Nats { source, .. } | Self::NotASpool { source, .. } => source.retryable(),
            Self::Transport(e) => e.retryable(),
            _ => false,
        }
    }
}

/// How [`open`] treats what is not there yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Create a spool directory, NATS streams for the partitions, if absent.
    Create { partitions: u32 },
    /// Read only what exists (the clinician's side): a missing spool is an
    /// error, and nothing is created.
    Existing,
}

/// Opens the transport `spec` names.
pub fn open(spec: &TransportSpec, how: Open) -> Result<Arc<dyn Deployment>, DeployError> {
    if let Some(dir) = spec.transport.strip_prefix("spool:") {
        if dir.is_empty() {
            return Err(DeployError::NoDirectory);
        }
        let spool = match how {
            Open::Create { .. } => aorta_spool::Spool::open(dir)?,
            Open::Existing => {
                aorta_spool::Spool::open_existing(dir).map_err(|source| DeployError::NotASpool {
                    dir: dir.to_string(),
                    source,
                })?
            }
        };
        return Ok(Arc::new(spool));
    }
    let mut cfg = aorta_nats::NatsConfig::parse(&spec.transport)?;
    cfg.creds_file = spec.nats_creds.clone();
    cfg.tls_ca = spec.nats_ca.clone();
    cfg.tls_client = spec.nats_client.clone();
    if !matches!(spec.nats_replicas, 1 | 3 | 5) {
        return Err(DeployError::Replicas(spec.nats_replicas));
    }
    cfg.replicas = spec.nats_replicas;
    cfg.notice = spec.notice;
    let nats = aorta_nats::Nats::connect(&cfg).map_err(|source| DeployError::Nats {
        at: cfg.redacted(),
        source,
    })?;
    if let Open::Create { partitions } = how {
        nats.ensure_layout(partitions)?;
    }
    Ok(Arc::new(nats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_is_parsed_here_and_bad_ones_are_named() {
        let dir = std::env::temp_dir().join(format!("aorta-deploy-{}", std::process::id()));
        let d = open(&TransportSpec::spool(&dir), Open::Create { partitions: 2 }).unwrap();
        assert_eq!(d.describe(), format!("spool {}", dir.display()));
        assert!(matches!(
            open(&TransportSpec::new("kafka://x"), Open::Existing),
            Err(DeployError::Transport(TransportError::Refused { .. }))
        ));
        assert!(matches!(
            open(&TransportSpec::new("spool:"), Open::Existing),
            Err(DeployError::NoDirectory)
        ));
        let missing = dir.join("nothing-here");
        assert!(matches!(
            open(&TransportSpec::spool(&missing), Open::Existing),
            Err(DeployError::NotASpool { .. })
        ));
        let mut s = TransportSpec::new("nats://127.0.0.1:1");
        s.nats_replicas = 2;
        assert!(matches!(
            open(&s, Open::Existing),
            Err(DeployError::Replicas(2))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
