use std::fmt;

/// Pseudonymous stream identity: 16 random bytes assigned at enrolment. It is
/// the only identity the untrusted side ever sees; the mapping to a patient
/// stays with the data controller.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub [u8; 16]);

impl StreamId {
    pub const LEN: usize = 16;

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }
}

impl StreamId {
    /// The partition (of `partitions`) that carries this stream, in every
    /// transport: the first four bytes of the pseudonym, little-endian,
    /// modulo the partition count. Pseudonyms are uniformly random, so
    /// streams spread evenly; the mapping needs nothing but the pseudonym,
    /// so gateways, workers and any reader agree on it. `partitions == 0`
    /// is treated as 1.
    pub fn partition(&self, partitions: u32) -> u32 {
        let [a, b, c, d, ..] = self.0;
        u32::from_le_bytes([a, b, c, d]) % partitions.max(1)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({})", self.to_hex())
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A sender session: one HPKE key agreement, many envelopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

#[cfg(test)]
mod partition_tests {
    use super::StreamId;

    #[test]
    fn partition_is_the_pseudonyms_first_word_modulo_the_count() {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&1_000_003u32.to_le_bytes());
        id[4] = 0xff;
        let s = StreamId(id);
        assert_eq!(s.partition(1), 0);
        assert_eq!(s.partition(0), 0);
        assert_eq!(s.partition(8), 1_000_003 % 8);
        assert_eq!(s.partition(7), 1_000_003 % 7);
    }
}
