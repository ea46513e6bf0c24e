//! Known-answer vectors for wire format v2 (`docs/wire-format.md` §Test vectors).
//!
//! `vectors/envelope-v2.txt` was produced by `AORTA_WRITE_VECTORS=1 cargo test
//! -p aorta-envelope --test vectors` on 2026-11-24 and is checked in. Two checks:
//! 1. opening the stored envelope with the stored keys yields the stored body
//!    (independent of any randomness: any RFC 9180 implementation can redo it);
//! 2. sealing the same inputs with the same seeded RNG reproduces the stored
//!    bytes exactly (pins the sender's encoding).

use std::collections::BTreeMap;

use aorta_envelope::{KemKeypair, KemPublic, KemSecret, ReceiverSession, SenderSession};
use aorta_wire::{
    Body, BodyFlags, Bucket, ContentType, Header, RrBatch, RrSample, SessionId, StreamId,
};
use rand_chacha::rand_core::SeedableRng;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/envelope-v2.txt");

fn samples() -> Vec<RrSample> {
    vec![
        RrSample {
            t_us: 1_546_300_800_123_000,
            rr_us: 812_345,
        },
        RrSample {
            t_us: 1_546_300_800_935_000,
            rr_us: 812_000,
        },
        RrSample {
            t_us: 1_546_300_801_701_000,
            rr_us: 766_000,
        },
    ]
}

fn generate() -> BTreeMap<&'static str, String> {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(42);
    let fleet = KemKeypair::generate(&mut rng);
    let device = KemKeypair::generate(&mut rng);
    let stream = StreamId(*b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff");
    let session = SessionId(0x0102_0304_0506_0708);
    let mut s = SenderSession::start(
        ContentType::RrBatch,
        3,
        stream,
        session,
        &fleet.public,
        &device.secret,
        &mut rng,
    )
    .unwrap();
    let mut content = Vec::new();
    RrBatch::encode(&samples(), 1_546_300_810_000_000, &mut content).unwrap();
    let bucket = Bucket::from_exponent(8).unwrap();
    let body = Body::encode(bucket, BodyFlags::default(), &content).unwrap();
    let env0 = s.seal(bucket, BodyFlags::default(), &content).unwrap();
    let env1 = s
        .seal(
            bucket,
            BodyFlags {
                final_: true,
                ..BodyFlags::default()
            },
            &[],
        )
        .unwrap();
    let mut m = BTreeMap::new();
    m.insert("fleet_secret", hex::encode(fleet.secret.expose_secret()));
    m.insert("fleet_public", fleet.public.to_hex());
    m.insert("device_secret", hex::encode(device.secret.expose_secret()));
    m.insert("device_public", device.public.to_hex());
    m.insert("rr_batch_content", hex::encode(&content));
    m.insert("body_seq0", hex::encode(&body));
    m.insert("envelope_seq0", hex::encode(&env0));
    m.insert("envelope_seq1_final_empty", hex::encode(&env1));
    m
}

fn load() -> BTreeMap<String, String> {
    std::fs::read_to_string(PATH)
        .expect("vector file")
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(" = "))
        .map(|l| {
            let (k, v) = l.split_once(" = ").unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

fn b(m: &BTreeMap<String, String>, k: &str) -> Vec<u8> {
    hex::decode(&m[k]).unwrap()
}

#[test]
fn stored_envelopes_open_to_the_stored_body() {
    if std::env::var_os("AORTA_WRITE_VECTORS").is_some() {
        let mut out = String::from("# Aorta wire format v2 test vectors. See docs/wire-format.md.\n# Generated with ChaCha20Rng::seed_from_u64(42) supplying every key and the HPKE ephemeral key.\n");
        for (k, v) in generate() {
            out.push_str(&format!("{k} = {v}\n"));
        }
        std::fs::write(PATH, out).unwrap();
    }
    let m = load();
    let fleet = KemSecret::from_bytes(b(&m, "fleet_secret").try_into().unwrap());
    let device = KemPublic(b(&m, "device_public").try_into().unwrap());
    let mut env = b(&m, "envelope_seq0");
    assert_eq!(env.len(), 256);
    let h = Header::parse_envelope(&env).unwrap();
    assert_eq!(
        (h.content, h.seq, h.session.0),
        (ContentType::RrBatch, 0, 0x0102_0304_0506_0708)
    );
    assert_eq!(&env[..4], b"AORT");
    let r = ReceiverSession::accept(&h, &fleet, &device).unwrap();
    let body = r.open(&h, &mut env).unwrap().to_vec();
    assert_eq!(body, b(&m, "body_seq0"));
    let parsed = Body::parse(&body).unwrap();
    assert_eq!(parsed.content, &b(&m, "rr_batch_content")[..]);
    let mut got = Vec::new();
    let wm = RrBatch::decode_into(parsed.content, &mut got).unwrap();
    assert_eq!((got, wm), (samples(), 1_546_300_810_000_000));

    let mut env1 = b(&m, "envelope_seq1_final_empty");
    let h1 = Header::parse_envelope(&env1).unwrap();
    assert_eq!(h1.enc, h.enc, "one key agreement per session");
    let body1 = r.open(&h1, &mut env1).unwrap();
    let p1 = Body::parse(body1).unwrap();
    assert!(p1.flags.final_ && p1.content.is_empty());

    // The wrong sender key does not open it.
    let other = KemKeypair::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(7));
    let mut env = b(&m, "envelope_seq0");
    let r2 = ReceiverSession::accept(&h, &fleet, &other.public).unwrap();
    assert!(r2.open(&h, &mut env).is_err());
}

#[test]
fn sealing_reproduces_the_stored_bytes() {
    let m = load();
    for (k, v) in generate() {
        assert_eq!(
            &m[k], &v,
            "vector {k} changed: the wire encoding is not what docs/wire-format.md says"
        );
    }
}
