//! Durable, acknowledged, de-duplicated publishing to one subject.

use std::time::{Duration, Instant};

use aorta_transport::{Offset, Producer, TransportError};
use async_nats::HeaderMap;
use sha2::Digest;

use crate::{remote, Nats, MAX_RECORD};

/// Publishes records to a subject of a JetStream stream. `append` returns
/// when the server has acknowledged every record (stored, and replicated
/// on R3 streams). Each carries `Nats-Msg-Id` = the first 16 bytes of its
/// SHA-256, so publishing the same records again after an ambiguous
/// failure stores them once (within [`crate::DEDUP_WINDOW`]).
#[derive(Debug)]
pub struct NatsProducer {
    nats: Nats,
    subject: String,
    /// Keep retrying a failed append (broker unreachable) this long before
    /// giving up with a retryable error.
    pub retry_for: Duration,
    /// Records published again after a failed attempt (for reports).
    pub retried: u64,
}

/// Publishes in flight before the oldest acknowledgement is awaited.
const ACK_WINDOW: usize = 256;

pub(crate) fn msg_id(record: &[u8]) -> String {
    hex::encode(&sha2::Sha256::digest(record)[..16])
}

impl NatsProducer {
    pub(crate) fn new(nats: Nats, subject: String) -> Self {
        Self {
            nats,
            subject,
            retry_for: Duration::from_secs(30),
            retried: 0,
        }
    }

    async fn publish_all(&self, records: &[&[u8]]) -> Result<Offset, TransportError> {
        // Acknowledgements are awaited in a window: the client holds a
        // permit per unacknowledged publish, and a tick of 100,000 streams
        // must not wait for permits that only awaiting frees.
        let mut acks = std::collections::VecDeque::with_capacity(ACK_WINDOW);
        let mut last = 0;
        for r in records {
            if acks.len() >= ACK_WINDOW {
                if let Some(a) = acks.pop_front() {
                    last = last.max(self.ack(a).await?);
                }
            }
            let mut h = HeaderMap::new();
            h.insert(async_nats::header::NATS_MESSAGE_ID, msg_id(r).as_str());
            let ack = self
                .nats
                .js()
                .publish_with_headers(self.subject.clone(), h, bytes::Bytes::copy_from_slice(r))
                .await
                .map_err(|e| remote(&format!("publishing to {}", self.subject), e, true))?;
            acks.push_back(ack);
        }
        for a in acks {
            last = last.max(self.ack(a).await?);
        }
        Ok(last)
    }

    async fn ack(
        &self,
        a: async_nats::jetstream::context::PublishAckFuture,
    ) -> Result<u64, TransportError> {
        let ack = a.await.map_err(|e| {
            // "No stream" is what a cluster answers while it elects a new
            // stream leader: transient, like a timeout.
            let retry = !matches!(
                e.kind(),
                async_nats::jetstream::context::PublishErrorKind::MaxPayloadExceeded
            );
            remote(&format!("acknowledgement from {}", self.subject), e, retry)
        })?;
        Ok(ack.sequence)
    }
}

impl Producer for NatsProducer {
    fn append(&mut self, records: &[&[u8]]) -> Result<Offset, TransportError> {
        if let Some(r) = records.iter().find(|r| r.len() > MAX_RECORD) {
            return Err(TransportError::TooLarge {
                len: r.len(),
                max: MAX_RECORD,
            });
        }
        let started = Instant::now();
        let mut wait = Duration::from_millis(50);
        loop {
            match self.nats.block(self.publish_all(records)) {
                Ok(o) => return Ok(o),
                Err(e) if e.retryable() && started.elapsed() < self.retry_for => {
                    // The same ids again: what was stored is not stored twice.
                    self.retried += records.len() as u64;
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
    }
}
