//! Heart-rate-variability analytics on RR intervals.
//!
//! Pure functions over slices of RR intervals in microseconds, in time order.
//! No I/O, no async, no cryptography: the worker calls these inside the TEE,
//! the tests call them against independent references.
//!
//! The paper's algorithms (Segarra et al., DAIS 2019; see
//! `shared/brief/PAPER.md`) are reproduced exactly:
//! [`BlockSums`] / [`BlockSums::sdnn_us`] for `SDNN` and [`HrvBands`] for
//! `HRVBands`. [`rmssd_us`] and [`BlockSums::heart_rate_bpm`] are the usual
//! Task Force 1996 definitions.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod bands;
mod sums;

pub use bands::HrvBands;
pub use sums::{rmssd_us, BlockSums};

/// Length of the paper's blocks: `block = floor(timestamp_seconds / 10)`.
pub const BLOCK_SECONDS: i64 = 10;

/// The block (window index) of an event time in Unix microseconds,
/// `floor(t / 10 s)`, correct for negative times too.
pub fn block_of(t_us: i64) -> i64 {
    t_us.div_euclid(BLOCK_SECONDS * 1_000_000)
}
