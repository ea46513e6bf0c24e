//! Acceptance (issue 3, criterion 6): malformed or physiologically
//! impossible input — NaN, infinities, negative or 20-second intervals,
//! clipped or flat ECG, unsupported sampling rates, garbage WFDB bytes —
//! gives flagged output or a clear error, never a panic.

use aorta_analytics::af::{AfConfig, AfDetector};
use aorta_analytics::hrv::{self, Spectrum};
use aorta_analytics::{wfdb, AnalyticsError, QrsDetector};
use proptest::prelude::*;

fn ecg_value() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -3.0f32..3.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(-1e9f32),
        1 => Just(5.0f32),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn qrs_detector_never_panics_and_stays_ordered(
        samples in prop::collection::vec(ecg_value(), 0..25_000),
        fs in prop::sample::select(vec![125.0, 250.0, 360.0, 500.0, 1000.0]),
        chunk in 1usize..700,
    ) {
        let mut d = QrsDetector::new(fs).unwrap();
        let mut beats = Vec::new();
        for c in samples.chunks(chunk) {
            d.push(c, &mut beats);
        }
        d.finish(&mut beats);
        prop_assert!(beats.windows(2).all(|w| w[0].sample < w[1].sample));
        prop_assert!(beats.iter().all(|b| b.sample < samples.len() as u64 + 1));
        let bad = samples.iter().filter(|x| !x.is_finite() || x.abs() > 20.0).count() as u64;
        let q = d.take_quality();
        let seen: u64 = q.iter().map(|q| u64::from(q.invalid_samples)).sum();
        prop_assert!(seen <= bad);
        prop_assert!(q.iter().all(|q| (-1.0..=1.0).contains(&q.sqi.similarity)), "{q:?}");
    }

    #[test]
    fn hrv_and_af_never_panic_on_impossible_intervals(
        rr in prop::collection::vec(prop_oneof![
            6 => 300.0f64..1500.0,
            1 => Just(f64::NAN),
            1 => Just(-400.0),
            1 => Just(20_000.0),
            1 => Just(0.0),
        ], 0..400),
    ) {
        let _ = hrv::hrv(&rr, None, Spectrum::Welch);
        let _ = hrv::hrv(&rr, None, Spectrum::LombScargle);
        let mut af = AfDetector::new(AfConfig::default());
        let mut t = 0.0;
        for v in &rr {
            t += 0.8;
            let _ = af.push(*v, t);
        }
    }

    #[test]
    fn wfdb_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), text in ".{0,200}") {
        let _ = wfdb::parse_annotations(&bytes);
        let _ = wfdb::decode(212, 2, &bytes);
        let _ = wfdb::decode(16, 3, &bytes);
        let _ = wfdb::decode(80, 1, &bytes);
        let _ = wfdb::Header::parse(&text);
    }
}

/// Found by the `wfdb` fuzz target: a header declaring 212,589,992
/// signals made the parser reserve 21 GB before reading any signal line.
#[test]
fn a_header_claiming_millions_of_signals_is_refused_without_allocating() {
    let e = wfdb::Header::parse("10202.dat 212589992 1 V75\n1#\r F 1?").unwrap_err();
    assert!(e.to_string().contains("212589992 signals"), "{e}");
    assert!(wfdb::decode(16, 1 << 30, &[0; 4]).is_err());
}

#[test]
fn flat_and_clipped_ecg_are_flagged() {
    let fs = 360.0;
    let mut d = QrsDetector::new(fs).unwrap();
    let mut beats = Vec::new();
    // 20 s of flat line (electrode off), then 20 s saturated at +5 mV half the time.
    d.push(&vec![0.01f32; 7200], &mut beats);
    let clipped: Vec<f32> = (0..7200)
        .map(|i| {
            if (i / 90) % 2 == 0 {
                5.0
            } else {
                (i as f32 * 0.3).sin()
            }
        })
        .collect();
    d.push(&clipped, &mut beats);
    let q = d.take_quality();
    assert_eq!(q.len(), 4);
    assert!(q[0].flat && q[1].flat, "{q:?}");
    assert!(q[0].beats == 0 && q[1].beats == 0);
    assert!(q[2].clipped && q[3].clipped, "{q:?}");
    // NaN samples are replaced, counted and flagged.
    let mut d = QrsDetector::new(fs).unwrap();
    let mut noisy = vec![0.1f32; 3600];
    noisy[100] = f32::NAN;
    noisy[200] = f32::INFINITY;
    d.push(&noisy, &mut beats);
    let q = d.take_quality();
    assert_eq!(q[0].invalid_samples, 2);
    assert!(!q[0].ok());
}

#[test]
fn unsupported_sampling_rates_are_refused_with_the_rate_named() {
    for fs in [0.0, 100.0, 1001.0, f64::NAN] {
        let e = QrsDetector::new(fs).unwrap_err();
        assert!(matches!(e, AnalyticsError::SamplingRate(_)));
        assert!(e.to_string().contains("125..=1000 Hz"), "{e}");
    }
}

/// A hostile device's fastest spike train (one spike every 200 ms, the
/// refractory period, at 1000 Hz) cannot grow the detector's state or its
/// per-segment work beyond the shape cap.
#[test]
fn a_spike_train_at_the_refractory_limit_keeps_the_state_bounded() {
    let fs = 1000.0;
    let x: Vec<f32> = (0..120_000)
        .map(|i| if i % 200 < 8 { 3.0 } else { 0.0 })
        .collect();
    let mut d = QrsDetector::new(fs).unwrap();
    let mut beats = Vec::new();
    let mut most = 0;
    for c in x.chunks(1000) {
        d.push(c, &mut beats);
        most = most.max(d.heap_bytes());
    }
    d.finish(&mut beats);
    assert!(beats.len() > 500, "{}", beats.len());
    // rings (~3 × 0.6 s + 4096 samples) and at most 64 shapes of 550
    assert!(most < 200_000, "{most} bytes");
    assert!(d
        .take_quality()
        .iter()
        .all(|q| q.sqi.similarity.is_finite()));
}
