/// Exact running sums of a block's RR values: count, Σx and Σx² as integers,
/// so the result does not depend on arrival order or on summation order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockSums {
    pub n: u64,
    pub sum: u128,
    pub sum_sq: u128,
}

impl BlockSums {
    pub fn push(&mut self, rr_us: u32) {
        let x = u128::from(rr_us);
        self.n += 1;
        self.sum += x;
        self.sum_sq += x * x;
    }

    pub fn from_slice(rr_us: &[u32]) -> Self {
        let mut s = Self::default();
        rr_us.iter().for_each(|&x| s.push(x));
        s
    }

    /// Mean RR in µs; NaN for an empty block.
    pub fn mean_us(&self) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        self.sum as f64 / self.n as f64
    }

    /// The paper's `SDNN`: the population standard deviation
    /// `sqrt(Σx²/n − (Σx/n)²)`, in µs; NaN for an empty block.
    ///
    /// Evaluated as `sqrt(n·Σx² − (Σx)²) / n` in exact integer arithmetic
    /// (u128 cannot overflow for n < 2^32 samples of < 2^32 µs... up to the
    /// per-window cap the runtime enforces), which equals the paper's formula
    /// without its floating-point cancellation.
    pub fn sdnn_us(&self) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let n = u128::from(self.n);
        let num = (n * self.sum_sq).saturating_sub(self.sum * self.sum);
        (num as f64).sqrt() / self.n as f64
    }

    /// Mean heart rate in beats per minute, `60 / mean RR`.
    pub fn heart_rate_bpm(&self) -> f64 {
        60e6 / self.mean_us()
    }
}

/// RMSSD (Task Force 1996): `sqrt(mean((x[i+1] − x[i])²))` over successive
/// intervals in time order, µs. NaN with fewer than two intervals.
pub fn rmssd_us(rr_us: &[u32]) -> f64 {
    if rr_us.len() < 2 {
        return f64::NAN;
    }
    let ss: u128 = rr_us
        .windows(2)
        .map(|w| match w {
            [a, b] => {
                let d = i128::from(*b) - i128::from(*a);
                (d * d) as u128
            }
            _ => 0,
        })
        .sum();
    (ss as f64 / (rr_us.len() - 1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdnn_matches_population_formula() {
        let x = [800_000u32, 810_000, 790_000, 805_000];
        let s = BlockSums::from_slice(&x);
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / 4.0;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / 4.0;
        assert!((s.sdnn_us() - var.sqrt()).abs() < 1e-9 * var.sqrt());
        assert_eq!(s.mean_us(), 801_250.0);
        assert!((s.heart_rate_bpm() - 60e6 / 801_250.0).abs() < 1e-12);
    }

    #[test]
    fn single_sample_and_empty() {
        assert_eq!(BlockSums::from_slice(&[700_000]).sdnn_us(), 0.0);
        assert!(BlockSums::default().sdnn_us().is_nan());
        assert!(rmssd_us(&[1]).is_nan());
    }

    #[test]
    fn rmssd_hand_checked() {
        // diffs 10000, -20000, 15000 -> squares 1e8, 4e8, 2.25e8 -> mean 7.25e8 / 3
        let r = rmssd_us(&[800_000, 810_000, 790_000, 805_000]);
        assert!((r - (7.25e8f64 / 3.0).sqrt()).abs() < 1e-6);
    }
}
