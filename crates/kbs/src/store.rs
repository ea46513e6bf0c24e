//! The key broker's directory (trusted: the hospital's premises, or the
//! broker's own TEE with an encrypted mount).
//!
//! ```text
//! DIR/fleet/<epoch>.key   X25519 fleet secret of that epoch (hex, mode 0600)
//! DIR/fleet/<epoch>.pub   its public key (hex)
//! DIR/fleet/retired       epochs no longer released, one per line
//! DIR/policy.json         the data controller's attestation policy
//! DIR/policy.sig          Ed25519 signature of policy.json by the controller
//! DIR/controller.pub      the controller's verifying key (hex)
//! DIR/revoked-workers     worker ids refused from now on, one per line
//! DIR/holders/<epoch>.json  newest accepted evidence offered that epoch
//! DIR/audit.log           hash-chained record of every decision
//! ```
//!
//! The current epoch is the highest one not retired. Everything is re-read
//! on each request, so `aorta kbs rotate`, `retire` and `revoke-worker`
//! (separate processes) take effect on a running broker at once.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aorta_envelope::{KemKeypair, KemPublic, KemSecret, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::KbsError;

fn io(path: &Path) -> impl Fn(std::io::Error) -> KbsError + '_ {
    move |e| KbsError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, KbsError> {
    fs::read(path).map_err(io(path))
}

/// Writes through a temporary file, fsync and rename, so readers never see
/// half a file (the key directory's secrets and public files use it).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KbsError> {
    // A temporary file of its own per write: the broker serves requests on
    // several threads, and two writes of one file (two workers' evidence
    // for the same epoch at once) sharing a temporary name would truncate
    // each other's and fail the second rename. Created new (never an old
    // one left by a crash, whose mode could be wider), removed on failure.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let (tmp, mut f) = loop {
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}.{n}", std::process::id()));
        match fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&tmp)(e)),
        }
    };
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(&tmp))
        .and_then(|()| fs::rename(&tmp, path).map_err(io(path)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

pub use aorta_kbs_client::verify::{SignedPolicy, POLICY_LABEL};
pub use aorta_kbs_client::worker_id;

/// Signs `json` (which must parse as a policy) and writes it with its
/// signature into `dir`.
pub fn install_policy(
    dir: &Path,
    json: &[u8],
    controller: &SigningKey,
) -> Result<SignedPolicy, KbsError> {
    aorta_attest_verify::parse_policy(json).map_err(|e| KbsError::Policy(e.to_string()))?;
    let sig = hex::encode(controller.sign(POLICY_LABEL, json));
    write_atomic(&dir.join("policy.json"), json, 0o644)?;
    write_atomic(&dir.join("policy.sig"), sig.as_bytes(), 0o644)?;
    SignedPolicy::verify(json, &sig, &controller.verifying_key())
}

/// The fleet keys by epoch, on disk.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self, KbsError> {
        let s = Self {
            dir: dir.to_path_buf(),
        };
        if s.epochs()?.is_empty() {
            return Err(KbsError::Io {
                path: dir.join("fleet").display().to_string(),
                reason: "no fleet key epochs: create them with `aorta keys init`".into(),
            });
        }
        Ok(s)
    }

    /// Creates epoch 1 in a fresh directory.
    pub fn init<R: RngCore + CryptoRng>(dir: &Path, rng: &mut R) -> Result<Self, KbsError> {
        let fleet = dir.join("fleet");
        fs::create_dir_all(&fleet).map_err(io(&fleet))?;
        fs::create_dir_all(dir.join("holders")).map_err(io(dir))?;
        let s = Self {
            dir: dir.to_path_buf(),
        };
        if !s.epochs()?.is_empty() {
            return Err(KbsError::Io {
                path: fleet.display().to_string(),
                reason: "already holds fleet keys; refusing to overwrite".into(),
            });
        }
        s.create_epoch(1, rng)?;
        Ok(s)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn create_epoch<R: RngCore + CryptoRng>(
        &self,
        epoch: u32,
        rng: &mut R,
    ) -> Result<(), KbsError> {
        let kp = KemKeypair::generate(rng);
        let hexed = Zeroizing::new(hex::encode(kp.secret.expose_secret()));
        let dir = self.dir.join("fleet");
        write_atomic(&dir.join(format!("{epoch}.key")), hexed.as_bytes(), 0o600)?;
        write_atomic(
            &dir.join(format!("{epoch}.pub")),
            kp.public.to_hex().as_bytes(),
            0o644,
        )
    }

    /// Every epoch that has keys, ascending (retired ones included).
    pub fn epochs(&self) -> Result<Vec<u32>, KbsError> {
        let dir = self.dir.join("fleet");
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(&dir) else {
            return Ok(out);
        };
        for e in rd {
            let name = e.map_err(io(&dir))?.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name.strip_suffix(".pub").and_then(|n| n.parse().ok()) {
                out.push(n);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    pub fn retired(&self) -> Result<Vec<u32>, KbsError> {
        lines(&self.dir.join("fleet").join("retired"))
            .map(|v| v.iter().filter_map(|l| l.parse().ok()).collect())
    }

    /// Epochs released to attested workers: all but the retired, ascending.
    pub fn active(&self) -> Result<Vec<u32>, KbsError> {
        let retired = self.retired()?;
        Ok(self
            .epochs()?
            .into_iter()
            .filter(|e| !retired.contains(e))
            .collect())
    }

    /// The epoch gateways encrypt to: the newest active one.
    pub fn current(&self) -> Result<u32, KbsError> {
        self.active()?
            .last()
            .copied()
            .ok_or_else(|| KbsError::Policy("every fleet key epoch is retired".into()))
    }

    pub fn public(&self, epoch: u32) -> Result<KemPublic, KbsError> {
        let p = self.dir.join("fleet").join(format!("{epoch}.pub"));
        let text = String::from_utf8(read(&p)?).map_err(|_| KbsError::Io {
            path: p.display().to_string(),
            reason: "not text".into(),
        })?;
        KemPublic::from_hex(text.trim()).map_err(|_| KbsError::Io {
            path: p.display().to_string(),
            reason: "not a hex X25519 public key".into(),
        })
    }

    /// The fleet secret of `epoch`: only the broker reads this.
    pub fn secret(&self, epoch: u32) -> Result<KemSecret, KbsError> {
        let p = self.dir.join("fleet").join(format!("{epoch}.key"));
        let text = Zeroizing::new(read(&p)?);
        let mut out = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim_ascii(), out.as_mut()).map_err(|_| KbsError::Io {
            path: p.display().to_string(),
            reason: "does not hold 32 hex-encoded bytes".into(),
        })?;
        Ok(KemSecret::from_bytes(*out))
    }

    /// Every epoch's public key (retired too): what clinicians need to
    /// authenticate results sent under any epoch.
    pub fn publics(&self) -> Result<Vec<(u32, KemPublic)>, KbsError> {
        self.epochs()?
            .into_iter()
            .map(|e| Ok((e, self.public(e)?)))
            .collect()
    }

    /// Creates the next epoch; returns it. Older epochs stay active (workers
    /// still need them for envelopes sent before the switch) until retired.
    pub fn rotate<R: RngCore + CryptoRng>(&self, rng: &mut R) -> Result<u32, KbsError> {
        let next = self.epochs()?.last().copied().unwrap_or(0) + 1;
        self.create_epoch(next, rng)?;
        Ok(next)
    }

    /// Stops releasing `epoch`. Workers that started after this cannot read
    /// envelopes or checkpoints of that epoch any more.
    pub fn retire(&self, epoch: u32) -> Result<(), KbsError> {
        if !self.epochs()?.contains(&epoch) {
            return Err(KbsError::NoSuchEpoch(epoch));
        }
        if self.active()? == [epoch] {
            return Err(KbsError::Policy(format!(
                "epoch {epoch} is the only active one: rotate first"
            )));
        }
        append_line(&self.dir.join("fleet").join("retired"), &epoch.to_string())
    }

    pub fn revoked_workers(&self) -> Result<Vec<String>, KbsError> {
        lines(&self.dir.join("revoked-workers"))
    }

    pub fn revoke_worker(&self, id: &str) -> Result<(), KbsError> {
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KbsError::BadRequest(format!(
                "'{id}' is not a worker id (16 hex digits, as printed by the worker and the audit log)"
            )));
        }
        append_line(&self.dir.join("revoked-workers"), &id.to_ascii_lowercase())
    }

    pub fn controller(&self) -> Result<VerifyingKey, KbsError> {
        let p = self.dir.join("controller.pub");
        let text = String::from_utf8(read(&p)?).unwrap_or_default();
        VerifyingKey::from_hex(text.trim()).map_err(|_| KbsError::Io {
            path: p.display().to_string(),
            reason: "not a hex Ed25519 public key".into(),
        })
    }

    pub fn policy(&self) -> Result<SignedPolicy, KbsError> {
        SignedPolicy::load(&self.dir, &self.controller()?)
    }

    pub(crate) fn save_holder(&self, epoch: u32, json: &[u8]) -> Result<(), KbsError> {
        let d = self.dir.join("holders");
        fs::create_dir_all(&d).map_err(io(&d))?;
        write_atomic(&d.join(format!("{epoch}.json")), json, 0o644)
    }

    pub(crate) fn holder(&self, epoch: u32) -> Result<Option<Vec<u8>>, KbsError> {
        let p = self.dir.join("holders").join(format!("{epoch}.json"));
        match fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&p)(e)),
        }
    }
}

fn lines(path: &Path) -> Result<Vec<String>, KbsError> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(t
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io(path)(e)),
    }
}

fn append_line(path: &Path, line: &str) -> Result<(), KbsError> {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    writeln!(f, "{line}").map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_atomic_writes_of_one_file_all_succeed() {
        // Three workers' evidence for one epoch at once was refused with
        // "No such file or directory" when the writes shared a temporary name.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.json");
        let payloads: Vec<Vec<u8>> = (0..8u8).map(|i| vec![b'a' + i; 4096]).collect();
        std::thread::scope(|s| {
            for p in &payloads {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..50 {
                        write_atomic(path, p, 0o644).unwrap();
                    }
                });
            }
        });
        let got = fs::read(&path).unwrap();
        assert!(payloads.contains(&got), "a torn or mixed file");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "temporary files left behind");
    }
}
