//! A gateway's decoding of MQTT messages (any device, or anyone who can
//! publish to the local broker): topic and payload arbitrary. Never panics;
//! samples only come from known devices' topics.
#![no_main]

use aorta_gateway::source::mqtt::{decode, MqttEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (topic, payload) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"aorta/dev/rr"[..], data),
    };
    let topic = String::from_utf8_lossy(topic);
    let known = std::collections::HashSet::from(["dev".to_string()]);
    for e in decode(&known, &topic, payload) {
        if let MqttEvent::Samples { device, .. } = e {
            assert_eq!(device, "dev");
        }
    }
});
