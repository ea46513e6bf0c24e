//! Clinical analytics for Aorta, running inside the TEE: pure functions and
//! streaming state machines over samples — no I/O, no async, no
//! cryptography, no clock.
//!
//! * [`qrs`]: streaming R-peak detection on raw ECG (Hamilton–Tompkins).
//! * [`ppg`]: streaming systolic-peak detection on PPG (Elgendi 2013).
//! * [`clean`]: RR artefact correction (Lipponen & Tarvainen 2019).
//! * [`hrv`]: time, frequency and non-linear HRV metrics.
//! * [`af`]: atrial fibrillation from RR irregularity.
//! * [`alerts`]: per-patient threshold alerts with hysteresis.
//! * [`wfdb`]: decoding PhysioNet WFDB records and annotations from bytes.
//! * [`noise`]: synthetic ECG noise for the noise stress test (MIT-BIH NST).
//! * [`score`]: beat-by-beat scoring against reference annotations (EC57).
//! * [`validate`]: a record's bytes in, its detections and scores out.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod af;
pub mod alerts;
pub mod clean;
pub mod filter;
pub mod hrv;
pub mod noise;
pub mod ppg;
pub mod qrs;
pub mod score;
pub mod validate;
pub mod wfdb;

pub use qrs::{Beat, QrsDetector, SegmentQuality, Sqi};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyticsError {
    #[error("sampling rate {0} Hz is outside 125..=1000 Hz")]
    SamplingRate(f64),
    #[error("PPG sampling rate {0} Hz is outside 25..=1000 Hz")]
    PpgRate(f64),
    #[error("WFDB: {0}")]
    Wfdb(String),
}
