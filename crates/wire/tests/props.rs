//! Property tests: every decoder of untrusted bytes returns a value or an
//! error on any input (never panics), and every codec round-trips.

use aorta_wire::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let _ = Header::parse_envelope(&bytes);
        let _ = Body::parse(&bytes);
        let mut out = Vec::new();
        let _ = RrBatch::decode_into(&bytes, &mut out);
        let _ = ResultBatch::decode(&bytes);
        let _ = Enrolment::decode(&bytes);
    }

    #[test]
    fn header_parse_never_panics_on_plausible_envelopes(
        exp in 8u8..=10, content in any::<u8>(), flags in any::<u8>(), tail in proptest::collection::vec(any::<u8>(), 0..1024)
    ) {
        let mut env = b"AORT".to_vec();
        env.extend_from_slice(&[1, content, flags, exp]);
        env.extend_from_slice(&tail);
        env.resize(1usize << exp, 0);
        let _ = Header::parse_envelope(&env);
    }

    #[test]
    fn rr_batch_round_trips(
        t0 in 0i64..4_000_000_000_000_000,
        offsets in proptest::collection::vec((0u32..600_000_000, any::<u32>()), 0..300),
        wm in any::<i64>(),
    ) {
        let samples: Vec<RrSample> = offsets.iter().map(|&(dt, rr)| RrSample { t_us: t0 + i64::from(dt), rr_us: rr }).collect();
        let mut buf = Vec::new();
        RrBatch::encode(&samples, wm, &mut buf).unwrap();
        prop_assert_eq!(buf.len(), RrBatch::encoded_len(samples.len()));
        let mut back = Vec::new();
        prop_assert_eq!(RrBatch::decode_into(&buf, &mut back).unwrap(), wm);
        prop_assert_eq!(back, samples);
        // Any truncation is an error, not a panic or a silent partial batch.
        if !buf.is_empty() {
            let mut partial = Vec::new();
            prop_assert!(RrBatch::decode_into(&buf[..buf.len() - 1], &mut partial).is_err());
        }
    }

    #[test]
    fn body_round_trips_and_pads(exp in 8u8..=12, len in 0usize..3000, flags in 0u8..8) {
        let bucket = Bucket::from_exponent(exp).unwrap();
        let content: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let f = BodyFlags { final_: flags & 1 == 1, backlog: flags & 2 == 2, handover: flags & 4 == 4 };
        match Body::encode(bucket, f, &content) {
            Ok(body) => {
                prop_assert_eq!(body.len(), bucket.body_len());
                let b = Body::parse(&body).unwrap();
                prop_assert_eq!(b.content, &content[..]);
                prop_assert_eq!(b.flags, f);
            }
            Err(_) => prop_assert!(len > bucket.content_capacity()),
        }
    }

    #[test]
    fn results_round_trip(vals in proptest::collection::vec((any::<i64>(), 0u8..5, 0u8..9, any::<f64>(), any::<u32>(), any::<u32>()), 0..50)) {
        let recs: Vec<ResultRecord> = vals.iter().map(|&(t, a, m, v, q, n)| ResultRecord {
            t_us: t, window_ms: 10_000, algorithm: Algorithm::from_u8(a).unwrap(),
            metric: Metric::from_u8(m).unwrap(), value: v, quality: Quality(q), n,
        }).collect();
        let mut buf = Vec::new();
        ResultBatch::encode(StreamId([9; 16]), &recs, &mut buf);
        let (s, back) = ResultBatch::decode(&buf).unwrap();
        prop_assert_eq!(s, StreamId([9; 16]));
        prop_assert_eq!(back.len(), recs.len());
        for (a, b) in back.iter().zip(&recs) {
            prop_assert_eq!(a.value.to_bits(), b.value.to_bits());
            prop_assert_eq!((a.t_us, a.algorithm, a.metric, a.quality, a.n), (b.t_us, b.algorithm, b.metric, b.quality, b.n));
        }
    }

    #[test]
    fn enrolment_round_trips(serial in any::<u32>(), algos in 1u32..32, cadence in any::<u32>(), from in any::<i64>(), r in 1usize..=8, revoked in any::<bool>()) {
        let e = Enrolment {
            status: if revoked { EnrolmentStatus::Revoked } else { EnrolmentStatus::Active },
            bucket: Bucket::from_exponent(9).unwrap(),
            serial,
            algorithms: AlgorithmSet(algos),
            cadence_ms: cadence,
            effective_from_us: from,
            stream: StreamId([3; 16]),
            device_key: [4; 32],
            recipients: vec![[5; 32]; r],
            alerts: Default::default(),
        };
        prop_assert_eq!(Enrolment::decode(&e.encode()).unwrap(), e);
    }
}

#[test]
fn header_rejections_name_the_problem() {
    let mut env = vec![0u8; 256];
    env[..4].copy_from_slice(b"AORT");
    env[4] = 1; // version 1 had no key epoch: refused
    assert_eq!(
        Header::parse_envelope(&env),
        Err(WireError::UnsupportedVersion(1))
    );
    env[4] = 2;
    env[5] = 0x01;
    env[7] = 9; // declares 512 bytes
    assert_eq!(
        Header::parse_envelope(&env),
        Err(WireError::LengthMismatch {
            declared: 512,
            actual: 256
        })
    );
    env[7] = 8;
    env[6] = 0x80;
    assert_eq!(
        Header::parse_envelope(&env),
        Err(WireError::ReservedFlags(0x80))
    );
    env[6] = 0;
    env[5] = 0x33;
    assert_eq!(
        Header::parse_envelope(&env),
        Err(WireError::UnknownContentType(0x33))
    );
}

#[test]
fn format_1_enrolments_read_with_default_alert_thresholds() {
    let e = Enrolment {
        status: EnrolmentStatus::Active,
        bucket: Bucket::from_exponent(9).unwrap(),
        serial: 3,
        algorithms: AlgorithmSet(1),
        cadence_ms: 10_000,
        effective_from_us: 0,
        stream: StreamId([3; 16]),
        device_key: [4; 32],
        recipients: vec![[5; 32]],
        alerts: aorta_wire::AlertThresholds {
            brady_bpm: 50,
            tachy_bpm: 120,
            pause_ds: 25,
            signal_loss_s: 10,
        },
    };
    let v2 = e.encode();
    assert_eq!(Enrolment::decode(&v2).unwrap(), e);
    let mut v1 = v2[..v2.len() - 4].to_vec();
    v1[4] = 1;
    assert_eq!(
        Enrolment::decode(&v1).unwrap().alerts,
        aorta_wire::AlertThresholds::default()
    );
    // Format 2 without its thresholds is truncated, not silently defaulted.
    let mut short = v1.clone();
    short[4] = 2;
    assert!(Enrolment::decode(&short).is_err());
    assert!(aorta_wire::AlertThresholds {
        brady_bpm: 120,
        ..Default::default()
    }
    .validate()
    .is_err());
}
