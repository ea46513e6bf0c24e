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

/// Reads an endorsements file given on the command line: DCAP collateral
/// JSON (starts with `{`), or an SNP VCEK/VLEK certificate (DER).
pub fn endorsements_from_files(paths: &[PathBuf]) -> Result<crate::Endorsements, ProviderError> {
    let mut e = crate::Endorsements::default();
    for p in paths {
        let bytes = fs::read(p).map_err(io(p))?;
        if bytes.first() == Some(&b'{') {
            e.collateral_json = Some(bytes);
        } else if bytes.starts_with(b"-----BEGIN") {
            e.ca_pem = Some(bytes);
        } else {
            e.vek_der = Some(bytes);
        }
    }
    Ok(e)
}

/// [`crate::Attester`] over Gramine's `/dev/attestation`.
#[derive(Debug, Clone)]
pub struct GramineAttester {
    pub gramine: Gramine,
    /// DCAP collateral for the platform, fetched from a PCCS by the operator.
    pub endorsements: crate::Endorsements,
}

impl crate::Attester for GramineAttester {
    fn tee(&self) -> crate::TeeKind {
        crate::TeeKind::SgxGramine
    }
    fn evidence(&self, report_data: [u8; 64]) -> Result<crate::Evidence, crate::AttestError> {
        Ok(crate::Evidence {
            tee: crate::TeeKind::SgxGramine,
            bytes: self.gramine.quote(&report_data)?,
            endorsements: self.endorsements.clone(),
        })
    }
}

/// [`crate::Attester`] over configfs-tsm (TDX or SEV-SNP, whichever the
/// kernel's provider is).
#[derive(Debug, Clone)]
pub struct TsmAttester {
    pub tsm: ConfigfsTsm,
    pub expect: TsmProvider,
    /// TDX: DCAP collateral; SNP: VCEK/VLEK when the host's auxblob lacks it.
    pub endorsements: crate::Endorsements,
}

impl crate::Attester for TsmAttester {
    fn tee(&self) -> crate::TeeKind {
        match self.expect {
            TsmProvider::Tdx => crate::TeeKind::Tdx,
            TsmProvider::SevSnp => crate::TeeKind::SevSnp,
        }
    }
    fn evidence(&self, report_data: [u8; 64]) -> Result<crate::Evidence, crate::AttestError> {
        let ev = self.tsm.evidence(&report_data)?;
        self.bundle(ev)
    }
}

impl TsmAttester {
    /// Evidence from what the kernel returned: checks the provider and, for
    /// SNP, takes the VCEK/VLEK from the host's certificate table unless
    /// the operator supplied one.
    pub fn bundle(&self, ev: TsmEvidence) -> Result<crate::Evidence, crate::AttestError> {
        let name = |p: TsmProvider| match p {
            TsmProvider::Tdx => "tdx_guest",
            TsmProvider::SevSnp => "sev_guest",
        };
        if ev.provider != self.expect {
            return Err(ProviderError::ProviderMismatch {
                found: name(ev.provider).into(),
                expected: vec![name(self.expect)],
            }
            .into());
        }
        let mut endorsements = self.endorsements.clone();
        if let Some(table) = &ev.auxblob {
            if endorsements.vek_der.is_none() {
                endorsements.vek_der = snp_vek_from_cert_table(table)?;
            }
        }
        Ok(crate::Evidence {
            tee: crate::Attester::tee(self),
            bytes: ev.outblob,
            endorsements,
        })
    }
}

/// GUIDs of the SEV-SNP certificate table (GHCB specification, "SNP
/// extended guest request"), as they appear on the wire (little-endian
/// fields): VCEK and VLEK.
const VCEK_GUID: [u8; 16] = guid(
    0x63da758d,
    0xe664,
    0x4564,
    [0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd],
);
const VLEK_GUID: [u8; 16] = guid(
    0xa8074bc2,
    0xa25a,
    0x483e,
    [0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1],
);

const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// The VCEK or VLEK from the host's certificate table (configfs-tsm
/// `auxblob`): entries of `GUID (16) ‖ offset u32 LE ‖ length u32 LE`,
/// ended by an all-zero entry; offsets are from the table's start.
pub fn snp_vek_from_cert_table(table: &[u8]) -> Result<Option<Vec<u8>>, ProviderError> {
    let bad = |reason: &str| ProviderError::Io {
        path: "auxblob".into(),
        reason: reason.to_string(),
    };
    let mut at = 0usize;
    loop {
        let entry = table
            .get(at..at + 24)
            .ok_or_else(|| bad("certificate table has no terminating entry"))?;
        if entry.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        let (g, rest) = entry.split_at(16);
        let off = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        if g == VCEK_GUID || g == VLEK_GUID {
            let cert = off
                .checked_add(len)
                .and_then(|end| table.get(off..end))
                .ok_or_else(|| bad("certificate entry points outside the table"))?;
            return Ok(Some(cert.to_vec()));
        }
        at += 24;
    }
}
