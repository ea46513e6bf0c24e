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

/// What the MQTT source delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqttEvent {
    Samples {
        device: String,
        samples: Vec<RrSample>,
    },
    BadLine {
        device: String,
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

impl MqttSource {
    /// Connects to `host:port` and subscribes to `aorta/<device>/rr` for each device.
    pub fn connect(
        host: &str,
        port: u16,
        client_id: &str,
        devices: &[String],
    ) -> Result<Self, GatewayError> {
        let mut opts = MqttOptions::new(client_id, host, port);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_clean_session(true);
        let (client, mut connection) = Client::new(opts, 1024);
        for d in devices {
            client
                .subscribe(rr_topic(d), QoS::AtLeastOnce)
                .map_err(|e| GatewayError::Mqtt(e.to_string()))?;
        }
        let (tx, rx) = mpsc::channel();
        let expected_acks = devices.len();
        std::thread::Builder::new()
            .name("aorta-mqtt".into())
            .spawn(move || {
                let mut acks = 0;
                for ev in connection.iter() {
                    let events = match ev {
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            acks += 1;
                            if acks == expected_acks {
                                vec![MqttEvent::Subscribed]
                            } else {
                                Vec::new()
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => decode(&p.topic, &p.payload),
                        Ok(_) => Vec::new(),
                        Err(_) => break,
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
    pub fn recv_timeout(&self, timeout: Duration) -> Option<MqttEvent> {
        self.rx.recv_timeout(timeout).ok()
    }

    pub fn disconnect(self) {
        let _ = self.client.disconnect();
    }
}

fn decode(topic: &str, payload: &[u8]) -> Vec<MqttEvent> {
    let device = topic
        .strip_prefix("aorta/")
        .and_then(|t| t.strip_suffix("/rr"))
        .unwrap_or(topic)
        .to_string();
    let Ok(text) = std::str::from_utf8(payload) else {
        return vec![MqttEvent::BadLine {
            device,
            reason: "payload is not UTF-8".into(),
        }];
    };
    let (samples, issues) = super::csv::parse_paper_csv(text);
    let mut out: Vec<MqttEvent> = issues
        .into_iter()
        .map(|i| MqttEvent::BadLine {
            device: device.clone(),
            reason: i.to_string(),
        })
        .collect();
    if !samples.is_empty() {
        out.push(MqttEvent::Samples { device, samples });
    }
    out
}
