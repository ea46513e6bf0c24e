//! The test vectors of `docs/wire-format.md` ("New vector 1" to "6"),
//! read from the document itself and reproduced by this implementation.
//! Provenance: the vectors were computed independently in Python from the
//! document alone (an independent reader's check of the format); this test
//! keeps the document and the code in agreement.

use std::collections::HashMap;
use std::path::Path;

use aorta_envelope::enrolment::{sign_enrolment, verify_enrolment};
use aorta_envelope::session::results_channel;
use aorta_envelope::{
    ExactlyOnce, KemKeypair, KemPublic, KemSecret, Receiver, Sealed, SealingKey, SenderSession,
    SigningKey,
};
use aorta_wire::{
    Algorithm, Body, BodyFlags, Bucket, ContentType, Enrolment, Metric, Quality, ResultBatch,
    ResultRecord, SessionId, StreamId,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Every `name = hex` line of the document's code blocks.
fn vectors() -> HashMap<String, Vec<u8>> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/wire-format.md"),
    )
    .unwrap();
    let mut out = HashMap::new();
    for line in doc.lines() {
        let Some((name, value)) = line.split_once(" = ") else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || name.contains(' ') && !name.ends_with(')') {
            continue;
        }
        if let Ok(bytes) = hex::decode(value) {
            out.insert(name.to_string(), bytes);
        }
    }
    out
}

fn v(m: &HashMap<String, Vec<u8>>, name: &str) -> Vec<u8> {
    m.get(name)
        .unwrap_or_else(|| panic!("docs/wire-format.md has no vector {name}"))
        .clone()
}

fn arr(b: &[u8]) -> [u8; 32] {
    b.try_into().unwrap()
}

const STREAM: StreamId = StreamId([
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
]);
const T0: i64 = 1_546_300_800_000_000;

fn records(t_us: i64, values: [f64; 5], quality: u32, n: u32) -> Vec<ResultRecord> {
    let r = |algorithm, metric, value| ResultRecord {
        t_us,
        window_ms: 10_000,
        algorithm,
        metric,
        value,
        quality: Quality(quality),
        n,
    };
    vec![
        r(Algorithm::Sdnn, Metric::N, values[0]),
        r(Algorithm::Sdnn, Metric::MeanRr, values[1]),
        r(Algorithm::Sdnn, Metric::Sdnn, values[2]),
        r(Algorithm::HeartRate, Metric::Hr, values[3]),
        r(Algorithm::Rmssd, Metric::Rmssd, values[4]),
    ]
}

fn contents() -> (Vec<u8>, Vec<u8>) {
    let rr = [812_345.0f64, 812_000.0, 766_000.0];
    let mean = rr.iter().sum::<f64>() / 3.0 / 1000.0;
    let (sx, sxx): (i128, i128) = rr
        .iter()
        .map(|x| *x as i128)
        .fold((0, 0), |(a, b), x| (a + x, b + x * x));
    let sdnn = ((3 * sxx - sx * sx) as f64).sqrt() / 3.0 / 1000.0;
    let d: Vec<f64> = rr.windows(2).map(|w| (w[1] - w[0]) / 1000.0).collect();
    let rmssd = (d.iter().map(|x| x * x).sum::<f64>() / d.len() as f64).sqrt();
    let mut seq0 = Vec::new();
    ResultBatch::encode(
        STREAM,
        &records(T0, [3.0, mean, sdnn, 60_000.0 / mean, rmssd], 0, 3),
        &mut seq0,
    );
    let mut seq1 = Vec::new();
    let nan = f64::from_bits(0x7FF8_0000_0000_0000);
    ResultBatch::encode(
        STREAM,
        &records(T0 + 10_000_000, [0.0, nan, nan, nan, nan], 0x80, 0),
        &mut seq1,
    );
    (seq0, seq1)
}

#[test]
fn vector_2_result_content() {
    let m = vectors();
    let (seq0, seq1) = contents();
    assert_eq!(
        hex::encode(&seq0),
        hex::encode(v(&m, "result_content_seq0"))
    );
    assert_eq!(
        hex::encode(&seq1),
        hex::encode(v(&m, "result_content_seq1_insufficient"))
    );
    let (stream, recs) = ResultBatch::decode(&seq0).unwrap();
    assert_eq!((stream, recs.len()), (STREAM, 5));
}

#[test]
fn vector_3_result_envelopes_and_the_clinicians_receiver() {
    let m = vectors();
    let fleet = KemSecret::from_bytes(arr(&v(&m, "fleet/3.key")));
    let fleet_pub = fleet.public().unwrap();
    assert_eq!(fleet_pub.0.to_vec(), v(&m, "fleet/3.pub"));
    let mut rng = ChaCha20Rng::seed_from_u64(43);
    let clinician = KemKeypair::generate(&mut rng);
    assert_eq!(
        clinician.secret.expose_secret().to_vec(),
        v(&m, "clinician_secret")
    );
    assert_eq!(clinician.public.0.to_vec(), v(&m, "clinician_public"));
    let channel = results_channel(&clinician.public);
    assert_eq!(channel.0.to_vec(), v(&m, "results_channel"));
    let mut s = SenderSession::start(
        ContentType::Results,
        3,
        channel,
        SessionId(0x1680_6b63_1305_a5a5),
        &clinician.public,
        &fleet,
        &mut rng,
    )
    .unwrap();
    let (seq0, seq1) = contents();
    let bucket = Bucket::from_exponent(9).unwrap();
    let e0 = s.seal(bucket, BodyFlags::default(), &seq0).unwrap();
    let e1 = s.seal(bucket, BodyFlags::default(), &seq1).unwrap();
    assert_eq!(hex::encode(&e0), hex::encode(v(&m, "result_envelope_seq0")));
    assert_eq!(hex::encode(&e1), hex::encode(v(&m, "result_envelope_seq1")));
    // And the one receiver opens them, in either order, once.
    let mut r = Receiver::new(4);
    let mut once = ExactlyOnce::default();
    let mut open = |env: &Vec<u8>, once: &mut ExactlyOnce| {
        let mut b = env.clone();
        let sealed = Sealed::parse(&mut b).unwrap();
        r.open(sealed, &clinician.secret, &fleet_pub, once)
            .map(|o| Body::parse(o.body()).unwrap().content.to_vec())
            .is_ok()
    };
    assert!(open(&e1, &mut once));
    assert!(open(&e0, &mut once));
    assert!(!open(&e1, &mut once), "delivered once");
    assert!(!open(&e0, &mut once), "delivered once");
    assert_eq!(once.runs(), 1, "seq 0 and 1: one run");
}

#[test]
fn vector_4_enrolment_record_and_signature() {
    let m = vectors();
    let controller = SigningKey::from_bytes(&arr(&v(&m, "controller_seed")));
    assert_eq!(
        controller.verifying_key().to_hex(),
        hex::encode(v(&m, "controller_public"))
    );
    let record = v(&m, "enrolment_record");
    let e = Enrolment::decode(&record).unwrap();
    assert_eq!(e.stream, STREAM);
    assert_eq!(e.encode(), record);
    let signed = sign_enrolment(&controller, &e);
    assert_eq!(hex::encode(&signed), hex::encode(v(&m, "enrolment_signed")));
    assert_eq!(
        verify_enrolment(&controller.verifying_key(), &signed).unwrap(),
        e
    );
    let revocation = Enrolment::decode(&v(&m, "revocation_record")).unwrap();
    assert_eq!(
        hex::encode(sign_enrolment(&controller, &revocation)),
        hex::encode(v(&m, "revocation_signed"))
    );
    // Format 1 decodes with the default thresholds and re-encodes as format 2.
    let old = Enrolment::decode(&v(&m, "enrolment_record_format1")).unwrap();
    assert_eq!((old.stream, old.serial), (e.stream, e.serial));
}

#[test]
fn vector_5_checkpoint_key_and_sealing() {
    let m = vectors();
    let fleet = v(&m, "fleet/3.key");
    let key = SealingKey::derive(&fleet, "aorta/v1/checkpoint");
    let sealed = v(&m, "checkpoint_sealed");
    assert_eq!(sealed[..4], 3u32.to_le_bytes());
    let plain = key.open(&v(&m, "checkpoint_aad"), &sealed[4..]).unwrap();
    assert_eq!(
        hex::encode(plain),
        hex::encode(v(&m, "checkpoint_plaintext"))
    );
    assert!(key.open(b"another partition", &sealed[4..]).is_err());
}

#[test]
fn vector_6_key_files_are_the_keys_they_name() {
    let m = vectors();
    let device = KemSecret::from_bytes(arr(&v(&m, "devices/00112233445566778899aabbccddeeff.key")));
    let device_pub: KemPublic = device.public().unwrap();
    // The enrolment of vector 4 names this device key.
    let e = Enrolment::decode(&v(&m, "enrolment_record")).unwrap();
    assert_eq!(e.device_key, device_pub.0);
    let clinician = KemSecret::from_bytes(arr(&v(&m, "clinician.key")));
    assert_eq!(
        clinician.public().unwrap().0.to_vec(),
        v(&m, "clinician.pub")
    );
    let controller = SigningKey::from_bytes(&arr(&v(&m, "controller.key")));
    assert_eq!(
        controller.verifying_key().to_hex(),
        hex::encode(v(&m, "controller.pub"))
    );
}

#[test]
fn vector_1_the_seeded_generator_draws_the_stored_keys() {
    let m = vectors();
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let fleet = KemKeypair::generate(&mut rng);
    let device = KemKeypair::generate(&mut rng);
    assert_eq!(fleet.secret.expose_secret().to_vec(), v(&m, "fleet/3.key"));
    assert_eq!(
        device.secret.expose_secret().to_vec(),
        v(&m, "devices/00112233445566778899aabbccddeeff.key")
    );
}
