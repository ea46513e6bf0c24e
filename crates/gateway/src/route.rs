//! Routing envelopes to partitions by their stream's pseudonym
//! ([`aorta_wire::StreamId::partition`]), the same mapping in every
//! transport, so that a worker can refuse envelopes of streams that are not
//! its partition's.

use aorta_transport::{Offset, Producer, TransportError};
use aorta_wire::Header;

/// A producer over one producer per partition.
#[derive(Debug)]
pub struct Partitioned<P> {
    parts: Vec<P>,
    groups: Vec<Vec<usize>>,
}

impl<P: Producer> Partitioned<P> {
    /// `parts[i]` receives partition `i`'s envelopes. At least one.
    pub fn new(parts: Vec<P>) -> Result<Self, TransportError> {
        if parts.is_empty() {
            return Err(TransportError::Layout("no partitions to route to".into()));
        }
        let groups = vec![Vec::new(); parts.len()];
        Ok(Self { parts, groups })
    }

    pub fn partitions(&self) -> u32 {
        self.parts.len() as u32
    }
}

impl<P: Producer> Producer for Partitioned<P> {
    /// Appends each envelope to its stream's partition, keeping the order
    /// within each partition. Envelopes are this gateway's own: one that
    /// does not parse is a bug and fails the append.
    fn append(&mut self, records: &[&[u8]]) -> Result<Offset, TransportError> {
        let n = self.parts.len() as u32;
        for g in &mut self.groups {
            g.clear();
        }
        for (i, r) in records.iter().enumerate() {
            let h = Header::parse_envelope(r)
                .map_err(|e| TransportError::Layout(format!("routing an envelope: {e}")))?;
            if let Some(g) = self.groups.get_mut(h.stream.partition(n) as usize) {
                g.push(i);
            }
        }
        let mut last = 0;
        for (p, g) in self.parts.iter_mut().zip(&self.groups) {
            if g.is_empty() {
                continue;
            }
            let recs: Vec<&[u8]> = g.iter().filter_map(|i| records.get(*i).copied()).collect();
            last = p.append(&recs)?;
        }
        Ok(last)
    }
}
