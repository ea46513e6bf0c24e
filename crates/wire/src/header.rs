use crate::{Reader, SessionId, StreamId, WireError};

/// First four bytes of every envelope.
pub const MAGIC: [u8; 4] = *b"AORT";
/// The only wire version this build speaks (2 added the key epoch).
pub const VERSION: u8 = 2;
/// Length of the cleartext header, which is also the AEAD associated data.
pub const HEADER_LEN: usize = 76;
/// Length of the HPKE encapsulated key (DHKEM(X25519, HKDF-SHA256): Nenc = 32).
pub const ENC_LEN: usize = 32;
/// AES-256-GCM tag length.
pub const TAG_LEN: usize = 16;

/// What an envelope carries. Visible to the untrusted side (it routes on it),
/// so it says nothing about the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ContentType {
    /// Gateway → worker: a batch of RR intervals.
    RrBatch = 0x01,
    /// Gateway → worker: a chunk of one raw ECG lead.
    EcgBatch = 0x02,
    /// Gateway → worker: a chunk of a raw PPG signal (same layout as
    /// `EcgBatch`; samples in the sensor's own units, the detector is
    /// scale-free).
    PpgBatch = 0x03,
    /// Worker → clinician: a batch of result records.
    Results = 0x10,
}

impl ContentType {
    pub fn from_u8(v: u8) -> Result<Self, WireError> {
        match v {
            0x01 => Ok(Self::RrBatch),
            0x02 => Ok(Self::EcgBatch),
            0x03 => Ok(Self::PpgBatch),
            0x10 => Ok(Self::Results),
            other => Err(WireError::UnknownContentType(other)),
        }
    }
}

/// Header flag bits. Only bit 0 is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderFlags {
    /// The body is NOT encrypted. Exists only so the benchmark can measure the
    /// cost of security; workers refuse it unless started with the
    /// `dangerous_plaintext` benchmark switch.
    pub dangerous_plaintext: bool,
}

impl HeaderFlags {
    pub fn to_u8(self) -> u8 {
        u8::from(self.dangerous_plaintext)
    }
    pub fn from_u8(v: u8) -> Result<Self, WireError> {
        if v & !1 != 0 {
            return Err(WireError::ReservedFlags(v));
        }
        Ok(Self {
            dangerous_plaintext: v & 1 == 1,
        })
    }
}

/// A power-of-two envelope size, 256 B ..= 4 MiB. Every envelope of a stream
/// has the size of the stream's bucket, whatever it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bucket(u8);

impl Bucket {
    pub const MIN_EXP: u8 = 8;
    pub const MAX_EXP: u8 = 22;

    pub fn from_exponent(e: u8) -> Result<Self, WireError> {
        if (Self::MIN_EXP..=Self::MAX_EXP).contains(&e) {
            Ok(Self(e))
        } else {
            Err(WireError::BadBucket(e))
        }
    }

    /// The smallest bucket whose body can hold `content_len` bytes of content.
    pub fn for_content(content_len: usize) -> Result<Self, WireError> {
        let total = content_len + HEADER_LEN + TAG_LEN + crate::BODY_HEADER_LEN;
        (Self::MIN_EXP..=Self::MAX_EXP)
            .map(Self)
            .find(|b| b.len() >= total)
            .ok_or(WireError::DoesNotFit {
                what: "content in the largest bucket",
                needed: total,
                capacity: Self(Self::MAX_EXP).len(),
            })
    }

    pub fn exponent(self) -> u8 {
        self.0
    }
    /// Total envelope length in bytes (never zero).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(self) -> usize {
        1usize << self.0
    }
    /// Length of the (padded) plaintext body.
    pub fn body_len(self) -> usize {
        self.len() - HEADER_LEN - TAG_LEN
    }
    /// Bytes of content a body of this bucket can carry.
    pub fn content_capacity(self) -> usize {
        self.body_len() - crate::BODY_HEADER_LEN
    }
}

/// The 76-byte cleartext envelope header (see `docs/wire-format.md`).
///
/// ```text
///  0..4   magic "AORT"
///  4      version = 2
///  5      content type
///  6      flags (bit 0: dangerous_plaintext; others must be 0)
///  7      bucket exponent k: the whole envelope is 2^k bytes
///  8..12  fleet key epoch, u32 LE (RR batches: the epoch they are encrypted
///         to; results: the epoch of the fleet key that authenticates them)
/// 12..28  stream id (pseudonym)
/// 28..36  session id, u64 LE
/// 36..44  sequence number within the session, u64 LE, from 0
/// 44..76  HPKE encapsulated key of the session (zero in plaintext mode)
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    pub content: ContentType,
    pub flags: HeaderFlags,
    pub bucket: Bucket,
    pub epoch: u32,
    pub stream: StreamId,
    pub session: SessionId,
    pub seq: u64,
    pub enc: [u8; ENC_LEN],
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("content", &self.content)
            .field("flags", &self.flags)
            .field("bucket", &self.bucket.len())
            .field("epoch", &self.epoch)
            .field("stream", &self.stream)
            .field("session", &self.session.0)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5] = self.content as u8;
        out[6] = self.flags.to_u8();
        out[7] = self.bucket.exponent();
        out[8..12].copy_from_slice(&self.epoch.to_le_bytes());
        out[12..28].copy_from_slice(&self.stream.0);
        out[28..36].copy_from_slice(&self.session.0.to_le_bytes());
        out[36..44].copy_from_slice(&self.seq.to_le_bytes());
        out[44..76].copy_from_slice(&self.enc);
        out
    }

    /// Parses the header of a whole envelope and checks that the envelope's
    /// length is the one its bucket declares.
    pub fn parse_envelope(envelope: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(envelope);
        let magic = r.array::<4>()?;
        if magic != MAGIC {
            return Err(WireError::BadMagic { found: magic });
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(WireError::UnsupportedVersion(version));
        }
        let content = ContentType::from_u8(r.u8()?)?;
        let flags = HeaderFlags::from_u8(r.u8()?)?;
        let bucket = Bucket::from_exponent(r.u8()?)?;
        let epoch = r.u32()?;
        let stream = StreamId(r.array()?);
        let session = SessionId(r.u64()?);
        let seq = r.u64()?;
        let enc = r.array()?;
        if envelope.len() != bucket.len() {
            return Err(WireError::LengthMismatch {
                declared: bucket.len(),
                actual: envelope.len(),
            });
        }
        Ok(Self {
            content,
            flags,
            bucket,
            epoch,
            stream,
            session,
            seq,
            enc,
        })
    }
}
