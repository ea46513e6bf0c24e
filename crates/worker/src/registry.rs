use std::collections::HashMap;
use std::sync::Arc;

use aorta_envelope::enrolment::verify_enrolment;
use aorta_envelope::VerifyingKey;
use aorta_wire::{AlgorithmSet, Enrolment, StreamId};

/// The verified enrolments a worker knows: the highest serial per stream, and
/// every algorithm change in serial order (each applies from its event time).
#[derive(Debug, Default)]
pub struct Registry {
    /// Shared so the worker's hot path takes a reference count, not a copy.
    by_stream: HashMap<StreamId, Arc<Enrolment>>,
    algorithms: HashMap<StreamId, Vec<(i64, AlgorithmSet)>>,
}

/// What happened to one signed record offered to the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryUpdate {
    Added(StreamId),
    Replaced {
        stream: StreamId,
        device_changed: bool,
    },
    /// Not newer than what is known.
    Ignored(StreamId),
    Invalid(String),
}

impl Registry {
    pub fn get(&self, s: &StreamId) -> Option<&Arc<Enrolment>> {
        self.by_stream.get(s)
    }

    /// The stream's algorithm sets with the event time each applies from,
    /// in the order the controller issued them.
    pub fn algorithm_history(&self, s: &StreamId) -> &[(i64, AlgorithmSet)] {
        self.algorithms.get(s).map_or(&[], Vec::as_slice)
    }

    /// Every stream's newest enrolment.
    pub fn iter(&self) -> impl Iterator<Item = (&StreamId, &Arc<Enrolment>)> {
        self.by_stream.iter()
    }

    pub fn len(&self) -> usize {
        self.by_stream.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_stream.is_empty()
    }

    /// Verifies the controller's signature and records the enrolment if it
    /// is newer than the known one.
    pub fn offer(&mut self, controller: &VerifyingKey, signed: &[u8]) -> RegistryUpdate {
        let e = match verify_enrolment(controller, signed) {
            Ok(e) => e,
            Err(err) => return RegistryUpdate::Invalid(err.to_string()),
        };
        let stream = e.stream;
        if self
            .by_stream
            .get(&stream)
            .is_none_or(|old| old.serial < e.serial)
        {
            self.algorithms
                .entry(stream)
                .or_default()
                .push((e.effective_from_us, e.algorithms));
        }
        match self.by_stream.get(&stream) {
            Some(old) if old.serial >= e.serial => RegistryUpdate::Ignored(stream),
            Some(old) => {
                let device_changed = old.device_key != e.device_key;
                self.by_stream.insert(stream, Arc::new(e));
                RegistryUpdate::Replaced {
                    stream,
                    device_changed,
                }
            }
            None => {
                self.by_stream.insert(stream, Arc::new(e));
                RegistryUpdate::Added(stream)
            }
        }
    }
}
