//! Sender and receiver sessions: one HPKE key agreement, many envelopes.
//!
//! RFC 9180 §5.1.3 (`SetupAuthS` / `SetupAuthR`) establishes the context with
//! `info = "aorta/v1/session" ‖ content_type ‖ stream_id ‖ session_id_le`;
//! §5.3 (`Context.Export`) then yields the AES-256-GCM key
//! (`exporter_context = "aorta/v1/aead-key"`, 32 bytes) and the nonce base
//! (`"aorta/v1/aead-nonce"`, 12 bytes). Envelope `seq` uses the §5.2 nonce
//! rule: `nonce = base XOR I2OSP(seq, 12)`.
//!
//! The per-envelope AEAD is AES-256-GCM from `ring` (BoringSSL's assembly,
//! 5x faster here than the portable implementation). ring does not wipe its
//! expanded key schedule on drop; the exported key bytes are held in
//! `Zeroizing` and dropped as soon as the schedule exists.

use aorta_wire::{
    Body, BodyFlags, Bucket, ContentType, Header, HeaderFlags, SessionId, StreamId, ENC_LEN,
    HEADER_LEN, TAG_LEN,
};
use hpke::aead::ExportOnlyAead;
use hpke::kdf::HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, RngCore};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use zeroize::Zeroizing;

use crate::keys::{KemImpl, KemPublic, KemSecret};
use crate::CryptoError;

const INFO_LABEL: &[u8] = b"aorta/v2/session";
const EXPORT_KEY: &[u8] = b"aorta/v1/aead-key";
const EXPORT_NONCE: &[u8] = b"aorta/v1/aead-nonce";

fn info(content: ContentType, epoch: u32, stream: StreamId, session: SessionId) -> Vec<u8> {
    let mut v = Vec::with_capacity(INFO_LABEL.len() + 1 + 4 + 16 + 8);
    v.extend_from_slice(INFO_LABEL);
    v.push(content as u8);
    v.extend_from_slice(&epoch.to_le_bytes());
    v.extend_from_slice(&stream.0);
    v.extend_from_slice(&session.0.to_le_bytes());
    v
}

/// The AEAD half of a session, shared by both directions. Uses explicit
/// nonces (`LessSafeKey`): uniqueness comes from `seq`, which a sender never
/// reuses within a session (see [`SenderSession::seal`]).
struct StreamCipher {
    aead: LessSafeKey,
    nonce_base: [u8; 12],
}

impl StreamCipher {
    fn from_exporter(
        export: impl Fn(&[u8], &mut [u8]) -> Result<(), hpke::HpkeError>,
    ) -> Result<Self, CryptoError> {
        let mut key = Zeroizing::new([0u8; 32]);
        let mut nonce_base = [0u8; 12];
        export(EXPORT_KEY, key.as_mut()).map_err(|_| CryptoError::KeyAgreement)?;
        export(EXPORT_NONCE, &mut nonce_base).map_err(|_| CryptoError::KeyAgreement)?;
        let unbound =
            UnboundKey::new(&AES_256_GCM, key.as_ref()).map_err(|_| CryptoError::KeyAgreement)?;
        Ok(Self {
            aead: LessSafeKey::new(unbound),
            nonce_base,
        })
    }

    /// RFC 9180 §5.2 `ComputeNonce`.
    fn nonce(&self, seq: u64) -> [u8; 12] {
        let mut n = self.nonce_base;
        for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }
}

/// The results channel of a recipient: the id that result envelopes addressed
/// to `recipient` carry in their header's stream field,
/// `SHA-256("aorta/v1/results-channel" ‖ recipient)[..16]`.
pub fn results_channel(recipient: &KemPublic) -> StreamId {
    use sha2::{Digest, Sha256};
    let d = Sha256::new()
        .chain_update(b"aorta/v1/results-channel")
        .chain_update(recipient.0)
        .finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&d[..16]);
    StreamId(id)
}

/// The sending half of a session. Not `Clone`: a copy would reuse nonces.
pub struct SenderSession {
    content: ContentType,
    epoch: u32,
    stream: StreamId,
    session: SessionId,
    enc: [u8; ENC_LEN],
    cipher: StreamCipher,
    next_seq: u64,
}

impl std::fmt::Debug for SenderSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderSession")
            .field("stream", &self.stream)
            .field("session", &self.session.0)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl SenderSession {
    /// `SetupAuthS(pkR = recipient, info, skS = sender)`: one X25519 key
    /// agreement for the whole session. `epoch` names the fleet key epoch
    /// involved (the recipient's for RR batches, the sender's for results).
    pub fn start<R: RngCore + CryptoRng>(
        content: ContentType,
        epoch: u32,
        stream: StreamId,
        session: SessionId,
        recipient: &KemPublic,
        sender: &KemSecret,
        rng: &mut R,
    ) -> Result<Self, CryptoError> {
        let sk = sender.to_hpke()?;
        let pk = KemImpl::sk_to_pk(&sk);
        let mode = OpModeS::Auth((sk, pk));
        let (encapped, ctx) = hpke::setup_sender::<ExportOnlyAead, HkdfSha256, KemImpl, _>(
            &mode,
            &recipient.to_hpke()?,
            &info(content, epoch, stream, session),
            rng,
        )
        .map_err(|_| CryptoError::KeyAgreement)?;
        let cipher = StreamCipher::from_exporter(|c, out| ctx.export(c, out))?;
        let mut enc = [0u8; ENC_LEN];
        enc.copy_from_slice(&encapped.to_bytes());
        Ok(Self {
            content,
            epoch,
            stream,
            session,
            enc,
            cipher,
            next_seq: 0,
        })
    }

    pub fn stream(&self) -> StreamId {
        self.stream
    }
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
    pub fn session(&self) -> SessionId {
        self.session
    }
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Seals `content` into a fresh envelope of exactly `bucket.len()` bytes
    /// with the next sequence number.
    pub fn seal(
        &mut self,
        bucket: Bucket,
        flags: BodyFlags,
        content: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let seq = self.next_seq;
        let next = seq.checked_add(1).ok_or(CryptoError::SequenceExhausted)?;
        let header = Header {
            content: self.content,
            flags: HeaderFlags::default(),
            bucket,
            epoch: self.epoch,
            stream: self.stream,
            session: self.session,
            seq,
            enc: self.enc,
        };
        let mut out = vec![0u8; bucket.len()];
        let (head, rest) = out.split_at_mut(HEADER_LEN);
        head.copy_from_slice(&header.encode());
        let (body, tag_out) = rest.split_at_mut(bucket.body_len());
        Body::encode_into(flags, content, body)?;
        let tag = self
            .cipher
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(self.cipher.nonce(seq)),
                Aad::from(&*head),
                body,
            )
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        tag_out.copy_from_slice(tag.as_ref());
        self.next_seq = next;
        Ok(out)
    }
}

/// Builds an envelope whose body is NOT encrypted, for the benchmark's
/// "plain" mode only. Receivers refuse it unless explicitly configured.
pub fn dangerous_plaintext_envelope(
    content_type: ContentType,
    stream: StreamId,
    session: SessionId,
    seq: u64,
    bucket: Bucket,
    flags: BodyFlags,
    content: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let header = Header {
        content: content_type,
        flags: HeaderFlags {
            dangerous_plaintext: true,
        },
        bucket,
        epoch: 0,
        stream,
        session,
        seq,
        enc: [0; ENC_LEN],
    };
    let mut out = vec![0u8; bucket.len()];
    let (head, rest) = out.split_at_mut(HEADER_LEN);
    head.copy_from_slice(&header.encode());
    let (body, _tag) = rest.split_at_mut(bucket.body_len());
    Body::encode_into(flags, content, body)?;
    Ok(out)
}

/// The receiving half of a session, created from the first envelope that
/// authenticates. Decrypts envelopes of that session in any order.
pub struct ReceiverSession {
    epoch: u32,
    session: SessionId,
    enc: [u8; ENC_LEN],
    cipher: StreamCipher,
}

impl std::fmt::Debug for ReceiverSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverSession")
            .field("session", &self.session.0)
            .finish_non_exhaustive()
    }
}

impl ReceiverSession {
    /// `SetupAuthR(enc, skR = recipient, info, pkS = expected sender)`.
    ///
    /// This succeeds for any `enc`; whether the sender really holds the
    /// enrolled key shows only when the first envelope opens, so callers must
    /// not keep a session before [`ReceiverSession::open`] has succeeded once.
    pub fn accept(
        header: &Header,
        recipient: &KemSecret,
        sender: &KemPublic,
    ) -> Result<Self, CryptoError> {
        let encapped =
            <KemImpl as hpke::Kem>::EncappedKey::from_bytes(&header.enc).map_err(|_| {
                CryptoError::BadKey {
                    what: "encapsulated",
                }
            })?;
        let mode = OpModeR::Auth(sender.to_hpke()?);
        let ctx = hpke::setup_receiver::<ExportOnlyAead, HkdfSha256, KemImpl>(
            &mode,
            &recipient.to_hpke()?,
            &encapped,
            &info(header.content, header.epoch, header.stream, header.session),
        )
        .map_err(|_| CryptoError::KeyAgreement)?;
        let cipher = StreamCipher::from_exporter(|c, out| ctx.export(c, out))?;
        Ok(Self {
            epoch: header.epoch,
            session: header.session,
            enc: header.enc,
            cipher,
        })
    }

    pub fn session(&self) -> SessionId {
        self.session
    }

    /// Authenticates and decrypts `envelope` in place; returns the padded
    /// plaintext body (parse it with [`aorta_wire::Body::parse`]).
    pub fn open<'a>(
        &self,
        header: &Header,
        envelope: &'a mut [u8],
    ) -> Result<&'a [u8], CryptoError> {
        if header.session != self.session || header.epoch != self.epoch {
            return Err(CryptoError::WrongSession {
                expected: self.session.0,
                found: header.session.0,
            });
        }
        if header.enc != self.enc {
            return Err(CryptoError::EncMismatch {
                session: self.session.0,
            });
        }
        if header.flags.dangerous_plaintext {
            return Err(CryptoError::PlaintextRefused);
        }
        let body_len = header.bucket.body_len();
        if envelope.len() != HEADER_LEN + body_len + TAG_LEN {
            return Err(CryptoError::AuthenticationFailed);
        }
        let (head, rest) = envelope.split_at_mut(HEADER_LEN);
        let body = self
            .cipher
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(self.cipher.nonce(header.seq)),
                Aad::from(&*head),
                rest,
            )
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        Ok(body)
    }
}

/// Returns the body of a `dangerous_plaintext` envelope (benchmark mode).
pub fn dangerous_plaintext_body<'a>(
    header: &Header,
    envelope: &'a [u8],
) -> Result<&'a [u8], CryptoError> {
    if !header.flags.dangerous_plaintext {
        return Err(CryptoError::AuthenticationFailed);
    }
    envelope
        .get(HEADER_LEN..HEADER_LEN + header.bucket.body_len())
        .ok_or(CryptoError::AuthenticationFailed)
}
