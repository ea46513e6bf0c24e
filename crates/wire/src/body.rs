use crate::{Bucket, Reader, WireError};

/// Length of the body header that precedes the content.
pub const BODY_HEADER_LEN: usize = 8;

/// Flags carried inside the encrypted body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BodyFlags {
    /// The sender ends its session with this envelope: nothing follows.
    pub final_: bool,
    /// The sender had more data than its bucket holds and carried the rest
    /// over to later envelopes (a rate-profile violation worth flagging).
    pub backlog: bool,
    /// The sender ends this session here and continues the stream in a
    /// newer one (key rotation): nothing follows in this session, but open
    /// windows stay open for the next.
    pub handover: bool,
}

impl BodyFlags {
    fn to_u8(self) -> u8 {
        u8::from(self.final_) | (u8::from(self.backlog) << 1) | (u8::from(self.handover) << 2)
    }
    fn from_u8(v: u8) -> Result<Self, WireError> {
        if v & !0b111 != 0 {
            return Err(WireError::ReservedFlags(v));
        }
        Ok(Self {
            final_: v & 1 == 1,
            backlog: v & 2 == 2,
            handover: v & 4 == 4,
        })
    }
}

/// The plaintext inside an envelope, before encryption:
///
/// ```text
/// 0..4   content length L, u32 LE
/// 4      body flags (bit 0 final, bit 1 backlog, bit 2 handover)
/// 5..8   reserved, zero
/// 8..8+L content
/// ..     zero padding up to the bucket's body length
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body<'a> {
    pub flags: BodyFlags,
    pub content: &'a [u8],
}

impl<'a> Body<'a> {
    /// Writes header, content and zero padding into `out`, which must be
    /// exactly `bucket.body_len()` bytes.
    pub fn encode_into(flags: BodyFlags, content: &[u8], out: &mut [u8]) -> Result<(), WireError> {
        let capacity = out.len().saturating_sub(BODY_HEADER_LEN);
        if content.len() > capacity {
            return Err(WireError::DoesNotFit {
                what: "body content",
                needed: content.len(),
                capacity,
            });
        }
        let (head, rest) = out.split_at_mut(BODY_HEADER_LEN);
        head.copy_from_slice(&[0u8; BODY_HEADER_LEN]);
        head[0..4].copy_from_slice(&(content.len() as u32).to_le_bytes());
        head[4] = flags.to_u8();
        let (c, pad) = rest.split_at_mut(content.len());
        c.copy_from_slice(content);
        pad.fill(0);
        Ok(())
    }

    /// Allocates a padded body for `bucket`.
    pub fn encode(bucket: Bucket, flags: BodyFlags, content: &[u8]) -> Result<Vec<u8>, WireError> {
        let mut out = vec![0u8; bucket.body_len()];
        Self::encode_into(flags, content, &mut out)?;
        Ok(out)
    }

    pub fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let len = r.u32()? as usize;
        let flags = BodyFlags::from_u8(r.u8()?)?;
        let reserved = r.array::<3>()?;
        if reserved != [0; 3] {
            return Err(WireError::ReservedFlags(
                reserved[0] | reserved[1] | reserved[2],
            ));
        }
        let capacity = r.remaining();
        if len > capacity {
            return Err(WireError::BodyOverflow {
                declared: len,
                capacity,
            });
        }
        let content = r.take(len)?;
        Ok(Self { flags, content })
    }
}
