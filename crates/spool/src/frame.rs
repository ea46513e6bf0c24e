//! Frame layout (all integers little-endian):
//!
//! ```text
//! 0..4    magic "AOSP"
//! 4..8    payload length L (≤ MAX_PAYLOAD)
//! 8       kind: 1 = data, 2 = commit
//! 9..12   reserved, zero
//! 12..16  CRC-32C (Castagnoli) of bytes 4..12 followed by the payload
//! 16..    payload (L bytes)
//! ```

pub const MAGIC: [u8; 4] = *b"AOSP";
pub const HEADER_LEN: usize = 16;
/// Largest payload a frame may carry (envelopes are at most 4 MiB; sealed
/// checkpoints of large fleets are bigger).
pub const MAX_PAYLOAD: usize = 256 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Data = 1,
    Commit = 2,
}

pub fn encode(kind: Kind, payload: &[u8], out: &mut Vec<u8>) {
    let mut meta = [0u8; 8];
    meta[0..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    meta[4] = kind as u8;
    let crc = crc32c::crc32c_append(crc32c::crc32c(&meta), payload);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&meta);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub len: u32,
    pub kind_byte: u8,
    pub crc: u32,
    meta: [u8; 8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    BadMagic,
    Oversized(u32),
    BadKind,
}

pub fn parse_header(h: &[u8; HEADER_LEN]) -> Result<FrameHeader, HeaderError> {
    let [m0, m1, m2, m3, l0, l1, l2, l3, k, r0, r1, r2, c0, c1, c2, c3] = *h;
    if [m0, m1, m2, m3] != MAGIC {
        return Err(HeaderError::BadMagic);
    }
    let len = u32::from_le_bytes([l0, l1, l2, l3]);
    if len as usize > MAX_PAYLOAD {
        return Err(HeaderError::Oversized(len));
    }
    if !(k == Kind::Data as u8 || k == Kind::Commit as u8) || [r0, r1, r2] != [0; 3] {
        return Err(HeaderError::BadKind);
    }
    Ok(FrameHeader {
        len,
        kind_byte: k,
        crc: u32::from_le_bytes([c0, c1, c2, c3]),
        meta: [l0, l1, l2, l3, k, r0, r1, r2],
    })
}

impl FrameHeader {
    pub fn kind(&self) -> Kind {
        if self.kind_byte == Kind::Commit as u8 {
            Kind::Commit
        } else {
            Kind::Data
        }
    }
    pub fn checks(&self, payload: &[u8]) -> bool {
        crc32c::crc32c_append(crc32c::crc32c(&self.meta), payload) == self.crc
    }
    pub fn frame_len(&self) -> u64 {
        HEADER_LEN as u64 + u64::from(self.len)
    }
}
