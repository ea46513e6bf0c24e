use std::collections::HashMap;

use aorta_envelope::enrolment::verify_enrolment;
use aorta_envelope::VerifyingKey;
use aorta_wire::{Enrolment, StreamId};

/// The verified enrolments a worker knows, highest serial per stream.
#[derive(Debug, Default)]
pub struct Registry {
    by_stream: HashMap<StreamId, Enrolment>,
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
    pub fn get(&self, s: &StreamId) -> Option<&Enrolment> {
        self.by_stream.get(s)
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
        match self.by_stream.get(&stream) {
            Some(old) if old.serial >= e.serial => RegistryUpdate::Ignored(stream),
            Some(old) => {
                let device_changed = old.device_key != e.device_key;
                self.by_stream.insert(stream, e);
                RegistryUpdate::Replaced {
                    stream,
                    device_changed,
                }
            }
            None => {
                self.by_stream.insert(stream, e);
                RegistryUpdate::Added(stream)
            }
        }
    }
}
