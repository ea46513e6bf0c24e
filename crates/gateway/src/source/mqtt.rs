//! MQTT ingestion on the gateway's local broker (Mosquitto in the paper).
//!
//! Devices publish to `aorta/<device>/rr` with one or more lines in the
//! paper's CSV format as payload. [`MqttSource`] subscribes to the topics of
//! the devices it was given and hands parsed samples to the caller; lines
//! that do not parse are counted and reported, never fatal.

use std::sync::mpsc;
use std::time::Duration;

use aorta_wire::RrSample;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use crate::GatewayError;

/// Topic a device publishes RR samples on.
pub fn rr_topic(device: &str) -> String {
    format!("aorta/{device}/rr")
}

/// Largest message payload accepted (a device sends a few lines at a
/// time); larger ones are refused with a counted reason.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Largest MQTT packet the client reads at all; a larger one resets the
/// connection, which is then re-established with back-off.
pub const MAX_PACKET: usize = 1 << 20;
/// Events buffered between the MQTT thread and the gateway (each at most
/// one 64-KiB message's samples); when full, the thread waits
/// (back-pressure on the broker) instead of growing memory.
pub const EVENT_QUEUE: usize = 1024;

/// Why a whole message was refused. Carries no payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageRefused {
    /// Over [`MAX_MESSAGE`] bytes.
    Oversized,
    /// Not UTF-8 text.
    NotUtf8,
    /// On a topic of no device this gateway serves.
    UnknownDevice,
}

impl MessageRefused {
    pub fn name(self) -> &'static str {
        match self {
            Self::Oversized => "message over 64 KiB",
            Self::NotUtf8 => "payload is not UTF-8",
            Self::UnknownDevice => "topic of no device this gateway serves",
        }
    }
}

/// What the MQTT source delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqttEvent {
    Samples {
        device: String,
        samples: Vec<RrSample>,
    },
    /// A line of a device's message that does not parse (the reason never
    /// quotes the line).
    BadLine {
        device: String,
        reason: String,
    },
    Refused(MessageRefused),
    /// The connection to the broker failed; it is re-established with
    /// back-off (`reason` names the failure, never a payload).
    Disconnected {
        reason: String,
    },
    Subscribed,
}

/// A subscription to device topics on a broker.
pub struct MqttSource {
    rx: mpsc::Receiver<MqttEvent>,
    client: Client,
}

impl std::fmt::Debug for MqttSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MqttSource")
    }
}

/// The outcome of waiting for an event.
#[derive(Debug)]
pub enum Recv {
    Event(MqttEvent),
    Timeout,
    /// The MQTT thread is gone (it only stops when the source is dropped).
    Stopped,
}

impl MqttSource {
    /// Connects to `host:port` and subscribes to `aorta/+/rr`, passing on
    /// messages of the given devices. The subscription is renewed on every
    /// reconnection; connection failures are reported and retried with
    /// exponential back-off (0.1 s to 5 s), never fatal.
    pub fn connect(
        host: &str,
        port: u16,
        client_id: &str,
        devices: &[String],
    ) -> Result<Self, GatewayError> {
        let mut opts = MqttOptions::new(client_id, host, port);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_clean_session(true);
        opts.set_max_packet_size(MAX_PACKET, MAX_PACKET);
        let (client, mut connection) = Client::new(opts, 1024);
        let (tx, rx) = mpsc::sync_channel(EVENT_QUEUE);
        let known: std::collections::HashSet<String> = devices.iter().cloned().collect();
        let sub = client.clone();
        std::thread::Builder::new()
            .name("aorta-mqtt".into())
            .spawn(move || {
                let mut backoff = Duration::from_millis(100);
                for ev in connection.iter() {
                    let events = match ev {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            backoff = Duration::from_millis(100);
                            // Clean sessions lose subscriptions on reconnect.
                            if let Err(e) = sub.try_subscribe(ALL_DEVICES, QoS::AtLeastOnce) {
                                vec![MqttEvent::Disconnected {
                                    reason: format!("subscribing: {e}"),
                                }]
                            } else {
                                Vec::new()
                            }
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => vec![MqttEvent::Subscribed],
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            decode(&known, &p.topic, &p.payload)
                        }
                        Ok(_) => Vec::new(),
                        Err(e) => {
                            let reason = e.to_string();
                            if tx.send(MqttEvent::Disconnected { reason }).is_err() {
                                break;
                            }
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_secs(5));
                            Vec::new()
                        }
                    };
                    if events.into_iter().any(|e| tx.send(e).is_err()) {
                        break;
                    }
                }
            })
            .map_err(|e| GatewayError::Mqtt(e.to_string()))?;
        Ok(Self { rx, client })
    }

    /// Waits up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Recv {
        match self.rx.recv_timeout(timeout) {
            Ok(e) => Recv::Event(e),
            Err(mpsc::RecvTimeoutError::Timeout) => Recv::Timeout,
            Err(mpsc::RecvTimeoutError::Disconnected) => Recv::Stopped,
        }
    }

    pub fn disconnect(self) {
        let _ = self.client.disconnect();
    }
}

/// The subscription: every device's RR topic.
pub const ALL_DEVICES: &str = "aorta/+/rr";

/// The events of one message on `topic`, for the devices in `known`.
pub fn decode(
    known: &std::collections::HashSet<String>,
    topic: &str,
    payload: &[u8],
) -> Vec<MqttEvent> {
    let Some(device) = topic
        .strip_prefix("aorta/")
        .and_then(|t| t.strip_suffix("/rr"))
        .filter(|d| known.contains(*d))
    else {
        return vec![MqttEvent::Refused(MessageRefused::UnknownDevice)];
    };
    if payload.len() > MAX_MESSAGE {
        return vec![MqttEvent::Refused(MessageRefused::Oversized)];
    }
    let Ok(text) = std::str::from_utf8(payload) else {
        return vec![MqttEvent::Refused(MessageRefused::NotUtf8)];
    };
    let device = device.to_string();
    let (samples, issues) = super::csv::parse_paper_csv(text);
    let mut out: Vec<MqttEvent> = issues
        .issues()
        .into_iter()
        .map(|i| MqttEvent::BadLine {
            device: device.clone(),
            reason: i.reason.to_string(),
        })
        .collect();
    if !samples.is_empty() {
        out.push(MqttEvent::Samples { device, samples });
    }
    out
}

/// An [`MqttSource`] as a live gateway's [`crate::driver::LiveSource`]:
/// device names map to the driver's stream indices; subscriptions and
/// reconnections become notices, and reconnections are counted.
#[derive(Debug)]
pub struct MqttDevices {
    src: MqttSource,
    index: std::collections::HashMap<String, usize>,
    subscribed: bool,
    /// Connections lost and re-established so far.
    pub reconnects: u64,
}

impl MqttDevices {
    /// `devices[i]` feeds the driver's stream `i`.
    pub fn new(src: MqttSource, devices: &[String]) -> Self {
        Self {
            src,
            index: devices
                .iter()
                .enumerate()
                .map(|(i, d)| (d.clone(), i))
                .collect(),
            subscribed: false,
            reconnects: 0,
        }
    }

    pub fn disconnect(self) {
        self.src.disconnect();
    }
}

impl crate::driver::LiveSource for MqttDevices {
    fn next(&mut self, timeout: Duration) -> crate::driver::LiveEvent {
        use crate::driver::LiveEvent;
        match self.src.recv_timeout(timeout) {
            Recv::Event(MqttEvent::Samples { device, samples }) => match self.index.get(&device) {
                Some(&stream) => LiveEvent::Samples { stream, samples },
                None => LiveEvent::Idle,
            },
            Recv::Event(MqttEvent::BadLine { .. }) => LiveEvent::Refused("malformed line"),
            Recv::Event(MqttEvent::Refused(r)) => LiveEvent::Refused(r.name()),
            Recv::Event(MqttEvent::Disconnected { reason }) => {
                self.reconnects += 1;
                LiveEvent::Notice(format!("MQTT connection lost ({reason}); reconnecting"))
            }
            Recv::Event(MqttEvent::Subscribed) => {
                let first = !std::mem::replace(&mut self.subscribed, true);
                LiveEvent::Notice(if first {
                    format!("subscribed to {} device topics", self.index.len())
                } else {
                    "MQTT subscription renewed after reconnecting".into()
                })
            }
            Recv::Timeout => LiveEvent::Idle,
            Recv::Stopped => LiveEvent::Stopped,
        }
    }
}
