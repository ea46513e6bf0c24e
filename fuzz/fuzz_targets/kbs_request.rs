//! The key broker's request handling on arbitrary bytes (what any client on
//! the network can send): parse as a request line and, if it parses, answer
//! it with a broker over a scratch directory. Must never panic.
#![no_main]

use std::sync::OnceLock;

use aorta_kbs::proto::Request;
use aorta_kbs::{Broker, Store};
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn broker() -> &'static Broker<ChaCha20Rng> {
    static B: OnceLock<(tempfile::TempDir, Broker<ChaCha20Rng>)> = OnceLock::new();
    &B.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let controller = aorta_envelope::SigningKey::generate(&mut rng);
        std::fs::write(
            dir.path().join("controller.pub"),
            controller.verifying_key().to_hex(),
        )
        .unwrap();
        let store = Store::init(dir.path(), &mut rng).unwrap();
        let policy = format!(
            r#"{{"simulated": {{"root": "{}", "measurements": ["{}"]}}, "max_age_secs": 300}}"#,
            controller.verifying_key().to_hex(),
            "11".repeat(32)
        );
        aorta_kbs::store::install_policy(dir.path(), policy.as_bytes(), &controller).unwrap();
        let b = Broker::new(store, true, rng, Box::new(|| 1_800_000_000)).unwrap();
        (dir, b)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<Request>(data) {
        let _ = broker().handle(req);
    }
});
