//! Ordered reading of one subject of a stream, from a stream sequence.

use std::pin::Pin;
use std::time::{Duration, Instant};

use aorta_transport::{Consumer, Discontinuity, Offset, Polled, TransportError};
use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use futures_util::StreamExt;

use crate::{fingerprint, remote, Nats};

/// Reads one subject in stream order through an ordered (ephemeral,
/// un-acknowledged, flow-controlled) consumer. The position is the stream
/// sequence of the last record returned; [`Consumer::resume`] checks that
/// the record there is still the one read (by SHA-256), so a stream that
/// was purged, recreated or rolled back under a worker is reported as a
/// [`Discontinuity`], never silently read from the wrong place.
/// How long `poll` waits for records known to exist before saying `Idle`.
const CATCH_UP: Duration = Duration::from_secs(5);

pub struct NatsInput {
    nats: Nats,
    stream: String,
    subject: String,
    position: u64,
    fp: u64,
    messages: Option<Pin<Box<pull::Ordered>>>,
    current: bytes::Bytes,
    current_headers: Option<async_nats::HeaderMap>,
    /// How long `poll` waits for a record before saying `Idle`.
    pub idle_wait: Duration,
    last_check: Instant,
    pending_discontinuity: Option<(u64, Discontinuity)>,
    /// Read errors seen (the consumer is then recreated from the position).
    pub read_errors: u64,
}

impl std::fmt::Debug for NatsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsInput")
            .field("subject", &self.subject)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl NatsInput {
    pub(crate) fn open(nats: Nats, stream: &str, subject: String) -> Result<Self, TransportError> {
        // The stream must exist (ensure_layout): fail early with its name.
        nats.block(async { nats.js().get_stream_no_info(stream).await })
            .map_err(|e| remote(&format!("opening stream {stream}"), e, true))?;
        Ok(Self {
            nats,
            stream: stream.to_string(),
            subject,
            position: 0,
            fp: 0,
            messages: None,
            current: bytes::Bytes::new(),
            current_headers: None,
            idle_wait: Duration::from_millis(5),
            last_check: Instant::now(),
            pending_discontinuity: None,
            read_errors: 0,
        })
    }

    fn start(&mut self) -> Result<(), TransportError> {
        let (stream, subject, from) =
            (self.stream.clone(), self.subject.clone(), self.position + 1);
        let nats = self.nats.clone();
        let ordered = self.nats.block(async move {
            let s = nats
                .js()
                .get_stream_no_info(&stream)
                .await
                .map_err(|e| remote(&format!("opening stream {stream}"), e, true))?;
            let c = s
                .create_consumer(pull::OrderedConfig {
                    filter_subject: subject.clone(),
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: from,
                    },
                    ..Default::default()
                })
                .await
                .map_err(|e| remote(&format!("consumer on {subject}"), e, true))?;
            c.messages()
                .await
                .map_err(|e| remote(&format!("reading {subject}"), e, true))
        })?;
        self.messages = Some(Box::pin(ordered));
        Ok(())
    }

    /// The stream's last sequence, if the server answers.
    pub(crate) fn last_sequence(&self) -> Option<u64> {
        let (nats, stream) = (self.nats.clone(), self.stream.clone());
        self.nats.block(async move {
            let mut s = nats.js().get_stream(&stream).await.ok()?;
            s.info().await.ok().map(|i| i.state.last_sequence)
        })
    }

    /// The sequence of the newest record on this subject (0: none).
    fn subject_last(&self) -> Result<u64, TransportError> {
        Ok(self
            .nats
            .raw_message(&self.stream, crate::RawAt::LastOf(&self.subject))?
            .map_or(0, |m| m.sequence))
    }

    /// The record stored at `seq`, if it is on this subject.
    fn record_at(&self, seq: u64) -> Result<Option<bytes::Bytes>, TransportError> {
        Ok(self
            .nats
            .raw_message(&self.stream, crate::RawAt::Seq(seq))?
            .filter(|m| m.subject.as_str() == self.subject)
            .map(|m| m.payload))
    }

    /// The headers of the record `poll` last returned.
    pub(crate) fn headers(&self) -> Option<&async_nats::HeaderMap> {
        self.current_headers.as_ref()
    }

    fn restart(&mut self, reason: Discontinuity) -> Polled<'static> {
        let at = self.position;
        self.position = 0;
        self.fp = 0;
        self.messages = None;
        Polled::Discontinuity { at, reason }
    }
}

impl Consumer for NatsInput {
    fn position(&self) -> Offset {
        self.position
    }

    fn fingerprint(&self) -> u64 {
        self.fp
    }

    fn seek(&mut self, offset: Offset) {
        self.position = offset;
        self.fp = 0;
        self.messages = None;
    }

    fn resume(&mut self, offset: Offset, fingerprint: u64) -> Result<(), Discontinuity> {
        self.seek(offset);
        if offset == 0 {
            return Ok(());
        }
        let found = match self.record_at(offset) {
            Ok(r) => r,
            // The server could not be asked: trust the checkpoint (its seal
            // is authentic); a rollback shows up when reading resumes.
            Err(_) => {
                self.fp = fingerprint;
                return Ok(());
            }
        };
        match found {
            Some(p) if fingerprint == 0 || crate::fingerprint(&p) == fingerprint => {
                self.fp = crate::fingerprint(&p);
                Ok(())
            }
            Some(_) => {
                self.seek(0);
                Err(Discontinuity::Rewritten)
            }
            None => {
                let len = self.last_sequence().unwrap_or(0);
                self.seek(0);
                Err(if len < offset {
                    Discontinuity::Shrunk { len }
                } else {
                    Discontinuity::Deleted
                })
            }
        }
    }

    fn poll(&mut self) -> Result<Polled<'_>, TransportError> {
        if let Some((len, reason)) = self.pending_discontinuity.take() {
            let _ = len;
            return Ok(self.restart(reason));
        }
        if self.messages.is_none() {
            if let Err(e) = self.start() {
                // The broker is away: idle (the worker pauses), try again
                // on the next poll.
                self.read_errors += 1;
                if !e.retryable() {
                    return Err(e);
                }
                std::thread::sleep(self.idle_wait.max(Duration::from_millis(50)));
                return Ok(Polled::Idle);
            }
        }
        let position = self.position;
        let started = Instant::now();
        let mut wait = self.idle_wait;
        let next = loop {
            let Some(messages) = self.messages.as_mut() else {
                return Ok(Polled::Idle);
            };
            let next = self.nats.block(async {
                loop {
                    match tokio::time::timeout(wait, messages.next()).await {
                        // Redelivered after a consumer reset: already read.
                        Ok(Some(Ok(m)))
                            if m.info().is_ok_and(|i| i.stream_sequence <= position) => {}
                        other => return other,
                    }
                }
            });
            if next.is_ok() {
                break next;
            }
            // Nothing arrived in time. `Idle` must mean "read to the end
            // as of now" (a worker draining its input commits and exits on
            // it), so ask where the subject ends; records still on their
            // way are waited for, up to CATCH_UP.
            match self.subject_last() {
                Ok(last) if last > position && started.elapsed() < CATCH_UP => {
                    wait = wait.max(Duration::from_millis(5));
                }
                _ => break next,
            }
        };
        match next {
            Err(_) => {
                // Idle: now and then, check that the stream did not go
                // backwards under us (deleted and recreated, rolled back).
                if self.position > 0 && self.last_check.elapsed() >= Duration::from_secs(5) {
                    self.last_check = Instant::now();
                    if let Some(len) = self.last_sequence() {
                        if len < self.position {
                            return Ok(self.restart(Discontinuity::Shrunk { len }));
                        }
                    }
                }
                Ok(Polled::Idle)
            }
            Ok(None) | Ok(Some(Err(_))) => {
                self.read_errors += 1;
                self.messages = None;
                Ok(Polled::Idle)
            }
            Ok(Some(Ok(m))) => {
                let seq = match m.info() {
                    Ok(i) => i.stream_sequence,
                    Err(_) => {
                        self.read_errors += 1;
                        self.messages = None;
                        return Ok(Polled::Idle);
                    }
                };
                self.position = seq;
                self.current = m.message.payload.clone();
                self.current_headers = m.message.headers.clone();
                self.fp = fingerprint(&self.current);
                Ok(Polled::Record {
                    offset: seq,
                    next: seq,
                    payload: &self.current,
                })
            }
        }
    }
}
