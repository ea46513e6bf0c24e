//! Evidence producers for TEEs that expose a file-system interface. Each
//! binds exactly 64 bytes of report data (see [`crate::binding`]).
//!
//! * [`Gramine`]: Intel SGX through Gramine's `/dev/attestation`
//!   (`attestation_type`, `user_report_data`, `quote`).
//! * [`ConfigfsTsm`]: Intel TDX and AMD SEV-SNP confidential VMs through Linux
//!   configfs-tsm (`/sys/kernel/config/tsm/report/<name>/{provider,generation,inblob,outblob,auxblob}`).
//!
//! Both take their root directory as an argument, so tests run them against
//! directories that imitate the kernel's and Gramine's behaviour.

use std::fs;
use std::path::{Path, PathBuf};

/// Failures of an evidence provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("Gramine attestation_type is '{0}', not 'dcap': set sgx.remote_attestation = \"dcap\" in the manifest")]
    GramineNotDcap(String),
    #[error("the quote does not carry the report data that was written (another writer, or a stale quote)")]
    ReportDataMismatch,
    #[error("configfs-tsm provider is '{found}', expected one of {expected:?}")]
    ProviderMismatch {
        found: String,
        expected: Vec<&'static str>,
    },
    #[error("configfs-tsm generation went from {before} to {after} for one write: a concurrent writer interfered")]
    ConcurrentWriter { before: u64, after: u64 },
    #[error("evidence is {0} bytes, too short to be a quote or report")]
    TooShort(usize),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ProviderError + '_ {
    move |e| ProviderError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Intel SGX under Gramine.
#[derive(Debug, Clone)]
pub struct Gramine {
    root: PathBuf,
}

/// Offset of REPORT_DATA in an SGX DCAP quote v3 (48-byte header + 320).
pub const SGX_QUOTE_REPORT_DATA: usize = 48 + 320;

impl Gramine {
    /// `root` is `/dev/attestation` inside a Gramine enclave.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// A DCAP quote whose REPORT_DATA is `report_data`.
    pub fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, ProviderError> {
        let t = self.root.join("attestation_type");
        let kind = fs::read_to_string(&t).map_err(io(&t))?;
        if kind.trim() != "dcap" {
            return Err(ProviderError::GramineNotDcap(kind.trim().to_string()));
        }
        let u = self.root.join("user_report_data");
        fs::write(&u, report_data).map_err(io(&u))?;
        let q = self.root.join("quote");
        let quote = fs::read(&q).map_err(io(&q))?;
        let rd = quote
            .get(SGX_QUOTE_REPORT_DATA..SGX_QUOTE_REPORT_DATA + 64)
            .ok_or(ProviderError::TooShort(quote.len()))?;
        if rd != report_data {
            return Err(ProviderError::ReportDataMismatch);
        }
        Ok(quote)
    }
}

/// Which configfs-tsm provider produced the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsmProvider {
    /// `tdx_guest`: outblob is a DCAP TD quote.
    Tdx,
    /// `sev_guest`: outblob is an SNP report, auxblob the host's certificate table.
    SevSnp,
}

/// Evidence from configfs-tsm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsmEvidence {
    pub provider: TsmProvider,
    pub outblob: Vec<u8>,
    pub auxblob: Option<Vec<u8>>,
}

/// TDX / SEV-SNP through Linux configfs-tsm.
#[derive(Debug, Clone)]
pub struct ConfigfsTsm {
    reports: PathBuf,
}

impl ConfigfsTsm {
    /// `reports` is `/sys/kernel/config/tsm/report` (configfs mounted, root).
    pub fn new(reports: impl Into<PathBuf>) -> Self {
        Self {
            reports: reports.into(),
        }
    }

    fn read_u64(p: &Path) -> Result<u64, ProviderError> {
        let s = fs::read_to_string(p).map_err(io(p))?;
        s.trim().parse().map_err(|_| ProviderError::Io {
            path: p.display().to_string(),
            reason: format!("'{}' is not a number", s.trim()),
        })
    }

    /// One report request in its own directory (so no other process shares
    /// it), checked with the generation counter, removed afterwards.
    pub fn evidence(&self, report_data: &[u8; 64]) -> Result<TsmEvidence, ProviderError> {
        let dir = self
            .reports
            .join(format!("aorta-{}-{}", std::process::id(), unique()));
        fs::create_dir(&dir).map_err(io(&dir))?;
        let result = self.request(&dir, report_data);
        let _ = fs::remove_dir(&dir);
        result
    }

    /// The request inside an existing report directory that this process
    /// created (what [`ConfigfsTsm::evidence`] does between mkdir and rmdir).
    pub fn request(
        &self,
        dir: &Path,
        report_data: &[u8; 64],
    ) -> Result<TsmEvidence, ProviderError> {
        let p = dir.join("provider");
        let name = fs::read_to_string(&p).map_err(io(&p))?;
        let provider = match name.trim() {
            "tdx_guest" => TsmProvider::Tdx,
            "sev_guest" => TsmProvider::SevSnp,
            other => {
                return Err(ProviderError::ProviderMismatch {
                    found: other.to_string(),
                    expected: vec!["tdx_guest", "sev_guest"],
                })
            }
        };
        let g = dir.join("generation");
        let before = Self::read_u64(&g)?;
        let i = dir.join("inblob");
        fs::write(&i, report_data).map_err(io(&i))?;
        let o = dir.join("outblob");
        let outblob = fs::read(&o).map_err(io(&o))?;
        let auxblob = match provider {
            TsmProvider::SevSnp => {
                let a = dir.join("auxblob");
                fs::read(&a).ok().filter(|b| !b.is_empty())
            }
            TsmProvider::Tdx => None,
        };
        let after = Self::read_u64(&g)?;
        if after != before + 1 {
            return Err(ProviderError::ConcurrentWriter { before, after });
        }
        // The bound data must be in the evidence where the format puts it.
        let at = match provider {
            TsmProvider::SevSnp => 0x50,
            TsmProvider::Tdx => 48 + 520,
        };
        let rd = outblob
            .get(at..at + 64)
            .ok_or(ProviderError::TooShort(outblob.len()))?;
        if rd != report_data {
            return Err(ProviderError::ReportDataMismatch);
        }
        Ok(TsmEvidence {
            provider,
            outblob,
            auxblob,
        })
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
