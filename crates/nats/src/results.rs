//! The clinician's side: every partition's committed results.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aorta_transport::{CommittedRecords, Consumer, PartitionId, Polled, TransportError};
use futures_util::StreamExt;

use crate::input::NatsInput;
use crate::output::{unpack, KIND, KIND_RESULTS};
use crate::{out_stream, out_subject, remote, Nats};

/// Follows the output stream of every partition (new partitions are found
/// as workers create their streams). Every stored results message is
/// committed: a commit is one atomic batch, so nothing uncommitted is ever
/// visible. Checkpoints and fences are skipped.
#[derive(Debug)]
pub struct NatsResults {
    nats: Nats,
    parts: BTreeMap<u32, NatsInput>,
    last_scan: Option<Instant>,
    /// Results messages that did not unpack (counted, skipped).
    pub corrupt: u64,
}

impl NatsResults {
    pub(crate) fn new(nats: Nats) -> Self {
        Self {
            nats,
            parts: BTreeMap::new(),
            last_scan: None,
            corrupt: 0,
        }
    }

    fn scan(&mut self) -> Result<(), TransportError> {
        let nats = self.nats.clone();
        let names: Vec<String> = self.nats.block(async move {
            let mut names = nats.js().stream_names();
            let mut out = Vec::new();
            while let Some(n) = names.next().await {
                out.push(n.map_err(|e| remote("listing streams", e, true))?);
            }
            Ok::<_, TransportError>(out)
        })?;
        for n in names {
            let Some(p) = n
                .strip_prefix("AORTA_OUT_")
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if let std::collections::btree_map::Entry::Vacant(v) = self.parts.entry(p) {
                let mut input = NatsInput::open(
                    self.nats.clone(),
                    &out_stream(PartitionId(p)),
                    out_subject(PartitionId(p)),
                )?;
                input.idle_wait = Duration::from_millis(20);
                v.insert(input);
            }
        }
        Ok(())
    }
}

impl CommittedRecords for NatsResults {
    fn poll_committed(&mut self, out: &mut Vec<(u32, Vec<u8>)>) -> Result<usize, TransportError> {
        if self
            .last_scan
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(2))
        {
            self.scan()?;
            self.last_scan = Some(Instant::now());
        }
        let before = out.len();
        for (p, input) in &mut self.parts {
            // Read at least up to what the stream held when this call
            // started (an idle moment mid-stream must not end the read
            // early); give up on that after a few seconds of silence.
            let target = input.last_sequence().unwrap_or(0);
            let mut idle = 0;
            loop {
                let payload = match input.poll()? {
                    Polled::Record { payload, .. } => {
                        idle = 0;
                        payload.to_vec()
                    }
                    Polled::Idle => {
                        idle += 1;
                        if input.position() >= target || idle >= 150 {
                            break;
                        }
                        continue;
                    }
                    // The stream went backwards (an operator's rollback):
                    // reading starts over; the decryptor drops duplicates.
                    Polled::Discontinuity { .. } | Polled::Corrupt { .. } => {
                        self.corrupt += 1;
                        continue;
                    }
                };
                let is_results = input
                    .headers()
                    .and_then(|h| h.get(KIND))
                    .is_some_and(|k| k.as_str() == KIND_RESULTS);
                if !is_results {
                    continue;
                }
                match unpack(&payload) {
                    Some(records) => out.extend(records.into_iter().map(|r| (*p, r.to_vec()))),
                    None => self.corrupt += 1,
                }
            }
        }
        Ok(out.len() - before)
    }
}
