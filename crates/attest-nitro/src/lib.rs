//! AWS Nitro Enclaves attestation documents, verified offline and purely:
//! document + `now` in, typed claims or a typed error out.
//!
//! The document is a COSE_Sign1 (RFC 9052) with ES384 over a CBOR map
//! `{module_id, digest, timestamp, pcrs, certificate, cabundle, public_key?,
//! user_data?, nonce?}`. Verification, following AWS's
//! `attestation_process.md`: the first `cabundle` certificate is the pinned
//! AWS Nitro Enclaves Root-G1; each certificate signs the next (ECDSA P-384
//! / SHA-384), CA certificates carry `basicConstraints cA`; every certificate
//! is valid at `now`; the leaf `certificate` signs the COSE structure.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;

use coset::{iana, CborSerializable, CoseSign1};
use p384::ecdsa::signature::Verifier;
use x509_cert::der::{Decode, DecodePem, Encode};

/// AWS Nitro Enclaves Root-G1 (PEM), pinned. Its SHA-256 over the ZIP that
/// AWS publishes is recorded in `shared/fixtures/attestation/MANIFEST.md`.
pub const AWS_NITRO_ROOT_G1_PEM: &str = "-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
";

/// What a verified document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NitroClaims {
    pub module_id: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// PCR index → SHA-384 value.
    pub pcrs: BTreeMap<u64, Vec<u8>>,
    pub public_key: Option<Vec<u8>>,
    pub user_data: Option<Vec<u8>>,
    pub nonce: Option<Vec<u8>>,
}

impl NitroClaims {
    /// All of PCR0..=2 zero: an enclave in debug mode.
    pub fn debug(&self) -> bool {
        (0..=2).all(|i| self.pcrs.get(&i).is_some_and(|v| v.iter().all(|b| *b == 0)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NitroError {
    #[error("not a COSE_Sign1 attestation document: {0}")]
    Malformed(String),
    #[error("COSE algorithm is not ES384")]
    WrongAlgorithm,
    #[error("the CA bundle does not start at the pinned AWS Nitro root")]
    UnknownRoot,
    #[error("certificate {index} of the chain does not verify: {reason}")]
    ChainInvalid { index: usize, reason: String },
    /// `now` outside a certificate's validity (leaf certificates live 3 hours:
    /// ask the enclave for a fresh document).
    #[error("certificate {index} valid {not_before}..{not_after} (Unix s), now is {now}")]
    CertificateNotValidNow {
        index: usize,
        not_before: u64,
        not_after: u64,
        now: u64,
    },
    #[error("the leaf certificate does not sign the document")]
    BadSignature,
}

impl NitroError {
    pub fn retryable(&self) -> bool {
        matches!(self, Self::CertificateNotValidNow { .. })
    }
}

type Value = coset::cbor::value::Value;

fn field<'a>(map: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn bytes_field(map: &[(Value, Value)], key: &str) -> Result<Option<Vec<u8>>, NitroError> {
    match field(map, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bytes(b)) => Ok(Some(b.clone())),
        Some(_) => Err(NitroError::Malformed(format!("{key} is not a byte string"))),
    }
}

fn cert(der: &[u8], index: usize) -> Result<x509_cert::Certificate, NitroError> {
    x509_cert::Certificate::from_der(der).map_err(|e| NitroError::ChainInvalid {
        index,
        reason: e.to_string(),
    })
}

fn p384_key(
    c: &x509_cert::Certificate,
    index: usize,
) -> Result<p384::ecdsa::VerifyingKey, NitroError> {
    let raw = c
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    p384::ecdsa::VerifyingKey::from_sec1_bytes(raw).map_err(|_| NitroError::ChainInvalid {
        index,
        reason: "not a P-384 key".into(),
    })
}

fn is_ca(c: &x509_cert::Certificate) -> bool {
    // basicConstraints (2.5.29.19) = SEQUENCE { cA BOOLEAN TRUE, pathLen? }:
    // 30 len 01 01 ff ...
    c.tbs_certificate.extensions.as_ref().is_some_and(|exts| {
        exts.iter().any(|e| {
            e.extn_id.to_string() == "2.5.29.19"
                && matches!(e.extn_value.as_bytes(), [0x30, _, 0x01, 0x01, 0xff, ..])
        })
    })
}

/// Verifies a Nitro attestation document at `now` (Unix seconds) against the
/// pinned AWS root.
pub fn verify(document: &[u8], now: u64) -> Result<NitroClaims, NitroError> {
    let root = x509_cert::Certificate::from_pem(AWS_NITRO_ROOT_G1_PEM.as_bytes())
        .map_err(|e| NitroError::Malformed(format!("pinned root: {e}")))?;
    verify_with_root(document, now, &root)
}

/// As [`verify`], with another root (tests of the pinning).
pub fn verify_with_root(
    document: &[u8],
    now: u64,
    root: &x509_cert::Certificate,
) -> Result<NitroClaims, NitroError> {
    let sign1 = CoseSign1::from_slice(document)
        .or_else(|_| <CoseSign1 as coset::TaggedCborSerializable>::from_tagged_slice(document))
        .map_err(|e| NitroError::Malformed(e.to_string()))?;
    if sign1.protected.header.alg
        != Some(coset::RegisteredLabelWithPrivate::Assigned(
            iana::Algorithm::ES384,
        ))
    {
        return Err(NitroError::WrongAlgorithm);
    }
    let payload = sign1
        .payload
        .as_deref()
        .ok_or_else(|| NitroError::Malformed("no payload".into()))?;
    let doc: Value =
        coset::cbor::de::from_reader(payload).map_err(|e| NitroError::Malformed(e.to_string()))?;
    let map = doc
        .as_map()
        .ok_or_else(|| NitroError::Malformed("payload is not a map".into()))?;
    let leaf_der = bytes_field(map, "certificate")?
        .ok_or_else(|| NitroError::Malformed("no certificate".into()))?;
    let bundle: Vec<Vec<u8>> = match field(map, "cabundle") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_bytes()
                    .cloned()
                    .ok_or_else(|| NitroError::Malformed("cabundle entry".into()))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(NitroError::Malformed("no cabundle".into())),
    };
    // Chain: pinned root = cabundle[0] -> ... -> leaf.
    let root_der = root
        .to_der()
        .map_err(|e| NitroError::Malformed(e.to_string()))?;
    if bundle.first() != Some(&root_der) {
        return Err(NitroError::UnknownRoot);
    }
    let mut chain = Vec::with_capacity(bundle.len() + 1);
    for (i, der) in bundle.iter().chain(std::iter::once(&leaf_der)).enumerate() {
        chain.push(cert(der, i)?);
    }
    for (i, c) in chain.iter().enumerate() {
        let v = &c.tbs_certificate.validity;
        let (not_before, not_after) = (
            v.not_before.to_unix_duration().as_secs(),
            v.not_after.to_unix_duration().as_secs(),
        );
        if now < not_before || now > not_after {
            return Err(NitroError::CertificateNotValidNow {
                index: i,
                not_before,
                not_after,
                now,
            });
        }
    }
    for (i, pair) in chain.windows(2).enumerate() {
        let [issuer, subject] = pair else { continue };
        if !is_ca(issuer) {
            return Err(NitroError::ChainInvalid {
                index: i,
                reason: "issuer is not a CA (basicConstraints)".into(),
            });
        }
        let tbs = subject
            .tbs_certificate
            .to_der()
            .map_err(|e| NitroError::Malformed(e.to_string()))?;
        let sig =
            p384::ecdsa::DerSignature::try_from(subject.signature.raw_bytes()).map_err(|_| {
                NitroError::ChainInvalid {
                    index: i + 1,
                    reason: "signature is not DER ECDSA".into(),
                }
            })?;
        p384_key(issuer, i)?
            .verify(&tbs, &sig)
            .map_err(|_| NitroError::ChainInvalid {
                index: i + 1,
                reason: "not signed by its issuer".into(),
            })?;
    }
    // The COSE signature with the leaf key (raw r || s, 96 bytes).
    let leaf = chain.last().ok_or(NitroError::BadSignature)?;
    let key = p384_key(leaf, chain.len() - 1)?;
    sign1.verify_signature(b"", |sig, data| {
        let s = p384::ecdsa::Signature::from_slice(sig).map_err(|_| NitroError::BadSignature)?;
        key.verify(data, &s).map_err(|_| NitroError::BadSignature)
    })?;
    let module_id = field(map, "module_id")
        .and_then(|v| v.as_text())
        .ok_or_else(|| NitroError::Malformed("no module_id".into()))?
        .to_string();
    let timestamp_ms = field(map, "timestamp")
        .and_then(|v| v.as_integer())
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| NitroError::Malformed("no timestamp".into()))?;
    let mut pcrs = BTreeMap::new();
    if let Some(Value::Map(m)) = field(map, "pcrs") {
        for (k, v) in m {
            if let (Some(i), Some(b)) = (
                k.as_integer().and_then(|i| u64::try_from(i).ok()),
                v.as_bytes(),
            ) {
                pcrs.insert(i, b.clone());
            }
        }
    }
    Ok(NitroClaims {
        module_id,
        timestamp_ms,
        pcrs,
        public_key: bytes_field(map, "public_key")?,
        user_data: bytes_field(map, "user_data")?,
        nonce: bytes_field(map, "nonce")?,
    })
}
