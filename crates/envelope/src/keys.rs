//! X25519 key pairs used as HPKE KEM keys (fleet, device, clinician, worker).

use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, Serializable};
use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::CryptoError;

pub(crate) type KemImpl = X25519HkdfSha256;
pub(crate) type HpkePrivate = <KemImpl as Kem>::PrivateKey;
pub(crate) type HpkePublic = <KemImpl as Kem>::PublicKey;

/// An X25519 public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KemPublic(pub [u8; 32]);

impl std::fmt::Debug for KemPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KemPublic({})", hex::encode(self.0))
    }
}

impl KemPublic {
    pub(crate) fn to_hpke(self) -> Result<HpkePublic, CryptoError> {
        HpkePublic::from_bytes(&self.0).map_err(|_| CryptoError::BadKey {
            what: "X25519 public",
        })
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| CryptoError::BadKey {
            what: "X25519 public (hex)",
        })?;
        Ok(Self(out))
    }
}

/// An X25519 secret key. Zeroized on drop; not `Clone`; redacted `Debug`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct KemSecret([u8; 32]);

impl std::fmt::Debug for KemSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KemSecret(<redacted>)")
    }
}

impl PartialEq for KemSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for KemSecret {}

impl KemSecret {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    /// The raw secret, for wrapping or sealing it. Handle with care.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
    pub(crate) fn to_hpke(&self) -> Result<HpkePrivate, CryptoError> {
        HpkePrivate::from_bytes(&self.0).map_err(|_| CryptoError::BadKey {
            what: "X25519 secret",
        })
    }
    pub fn public(&self) -> Result<KemPublic, CryptoError> {
        let sk = self.to_hpke()?;
        let pk = KemImpl::sk_to_pk(&sk);
        Ok(KemPublic(pk.to_bytes().into()))
    }
}

/// A secret key with its public key.
#[derive(Debug)]
pub struct KemKeypair {
    pub secret: KemSecret,
    pub public: KemPublic,
}

impl KemKeypair {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let (sk, pk) = KemImpl::gen_keypair(rng);
        let mut raw: [u8; 32] = sk.to_bytes().into();
        let secret = KemSecret(raw);
        raw.zeroize();
        Self {
            secret,
            public: KemPublic(pk.to_bytes().into()),
        }
    }

    pub fn from_secret(secret: KemSecret) -> Result<Self, CryptoError> {
        let public = secret.public()?;
        Ok(Self { secret, public })
    }
}
