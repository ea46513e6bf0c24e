//! Reading the controller's key directory (its layout is in
//! `docs/wire-format.md`, "Key files"): every key file holds one 32-byte
//! key as 64 hex digits. A worker is given only `controller.pub` (and, for
//! the simulated TEE, `sim-tee-root.key`); the controller's own tools
//! (`aorta keys`) read and write the rest through the same functions.

use std::path::{Path, PathBuf};

use aorta_envelope::{SigningKey, VerifyingKey};
use zeroize::Zeroizing;

/// Why a key file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    #[error("reading key file {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path} does not hold 32 hex-encoded bytes")]
    Malformed { path: PathBuf },
    #[error("{dir} holds no controller.pub: copy it (and, for gateways, policy.json, policy.sig, patients.tsv and devices/) from the controller's key directory")]
    NotShared { dir: PathBuf },
}

/// A secret key file's 32 bytes (zeroized when dropped).
pub fn read_secret(path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| KeyFileError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?);
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), out.as_mut()).map_err(|_| KeyFileError::Malformed {
        path: path.to_path_buf(),
    })?;
    Ok(out)
}

/// A public key file's text (64 hex digits; callers parse it).
pub fn read_public(path: &Path) -> Result<String, KeyFileError> {
    std::fs::read_to_string(path).map_err(|e| KeyFileError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// A directory holding at least the controller's public key: what a
/// worker or a gateway is given.
#[derive(Debug, Clone)]
pub struct SharedKeys {
    dir: PathBuf,
}

impl SharedKeys {
    pub fn open(dir: &Path) -> Result<Self, KeyFileError> {
        if !dir.join("controller.pub").exists() {
            return Err(KeyFileError::NotShared {
                dir: dir.to_path_buf(),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The controller's verifying key, which signs enrolments and the policy.
    pub fn controller_pub(&self) -> Result<VerifyingKey, KeyFileError> {
        let path = self.dir.join("controller.pub");
        VerifyingKey::from_hex(&read_public(&path)?).map_err(|_| KeyFileError::Malformed { path })
    }

    /// The simulated TEE's throwaway platform root (development only).
    pub fn sim_tee_root(&self) -> Result<SigningKey, KeyFileError> {
        let seed = read_secret(&self.dir.join("sim-tee-root.key"))?;
        Ok(SigningKey::from_bytes(&seed))
    }
}
