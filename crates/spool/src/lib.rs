//! The embedded spool: the paper's "filesystem interface", done right.
//!
//! A spool is a directory of topics, each a set of partition logs:
//!
//! ```text
//! SPOOL/ingest/p0000.log      envelopes from gateways (many writers)
//! SPOOL/results/w0000.log     one worker's results + commit records (one owner)
//! SPOOL/control/enrolments.log controller-signed enrolment records
//! ```
//!
//! Each log is a sequence of frames (see [`frame`]): magic, length, kind, and a
//! CRC-32C over length, kind and payload. Appenders serialise through an
//! exclusive `flock` on the log file, write whole batches, and `fdatasync`
//! before acknowledging, so `kill -9` of any process never loses or
//! duplicates an acknowledged record. A crash mid-write leaves a torn tail,
//! which the next appender cuts off under the lock and readers treat as "not
//! yet written". A frame that is complete but fails its checksum is reported
//! to the reader as corruption and skipped by scanning for the next valid
//! frame.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod deploy;
pub mod frame;
mod log;

pub use deploy::SpoolResults;

pub use log::{valid_frames, Appender, Frame, FrameIndex, LogReader, OwnedLog, Step};

/// Largest record of the ingest and control logs: an envelope of the
/// largest bucket (4 MiB) with room to spare. Frames claiming more there
/// are corrupt, which also bounds resynchronisation's look-ahead.
pub const MAX_RECORD: usize = (4 << 20) + 4096;

use std::path::{Path, PathBuf};

use aorta_transport::{PartitionId, TransportError};

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TransportError + '_ {
    move |source| TransportError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Fails unless `p` is a directory itself (not a link to one).
fn check_dir(p: &Path) -> Result<(), TransportError> {
    let m = std::fs::symlink_metadata(p).map_err(io_err(p))?;
    if m.file_type().is_dir() {
        Ok(())
    } else {
        Err(TransportError::Layout(format!(
            "{} is not a directory (a symbolic link or file stands in the spool)",
            p.display()
        )))
    }
}

/// A spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
}

impl Spool {
    /// Opens (creating if needed) the spool at `root`. The root and its
    /// topic directories must be real directories, not symbolic links;
    /// every log in them is opened without following links
    /// (`O_NOFOLLOW`) and must be a regular file.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, TransportError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(io_err(&root))?;
        check_dir(&root)?;
        for t in ["ingest", "results", "control"] {
            let p = root.join(t);
            match std::fs::create_dir(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(&p)(e)),
            }
            check_dir(&p)?;
        }
        Ok(Self { root })
    }

    /// Opens the spool at `root` for reading only: fails when it is not
    /// there instead of creating it (the clinician's side).
    pub fn open_existing(root: impl Into<PathBuf>) -> Result<Self, TransportError> {
        let root = root.into();
        for p in [root.clone(), root.join("results"), root.join("control")] {
            check_dir(&p)?;
        }
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn ingest_path(&self, p: PartitionId) -> PathBuf {
        self.root.join("ingest").join(format!("p{:04}.log", p.0))
    }

    pub fn results_path(&self, p: PartitionId) -> PathBuf {
        self.root.join("results").join(format!("w{:04}.log", p.0))
    }

    /// An appender for an ingest partition (shared by any number of processes).
    pub fn ingest_appender(&self, p: PartitionId) -> Result<Appender, TransportError> {
        Appender::open_limited(self.ingest_path(p), MAX_RECORD)
    }

    pub fn ingest_reader(&self, p: PartitionId) -> Result<LogReader, TransportError> {
        LogReader::open_limited(self.ingest_path(p), MAX_RECORD)
    }

    /// The results log of the worker that owns partition `p`. Fails with
    /// [`TransportError::Locked`] while another live process owns it.
    pub fn results_owner(&self, p: PartitionId) -> Result<OwnedLog, TransportError> {
        OwnedLog::open(self.results_path(p))
    }

    /// Reads a results log; never creates one.
    pub fn results_reader(&self, p: PartitionId) -> Result<LogReader, TransportError> {
        LogReader::open_existing(self.results_path(p))
    }

    pub fn control_path(&self) -> PathBuf {
        self.root.join("control").join("enrolments.log")
    }

    /// Appender for signed enrolment records.
    pub fn control_appender(&self) -> Result<Appender, TransportError> {
        Appender::open_limited(self.control_path(), MAX_RECORD)
    }

    pub fn control_reader(&self) -> Result<LogReader, TransportError> {
        LogReader::open_limited(self.control_path(), MAX_RECORD)
    }

    /// Every results partition present in the spool.
    pub fn result_partitions(&self) -> Result<Vec<PartitionId>, TransportError> {
        let dir = self.root.join("results");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let e = e.map_err(io_err(&dir))?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name.strip_prefix('w').and_then(|s| s.strip_suffix(".log")) {
                if let Ok(n) = n.parse() {
                    out.push(PartitionId(n));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}
