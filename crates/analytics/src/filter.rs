//! Second-order IIR sections (biquads) designed by the bilinear transform
//! with frequency pre-warping: Butterworth low- and high-pass (Q = 1/√2).
//! Reference: R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad
//! filter coefficients" (the W3C Audio EQ Cookbook), LPF and HPF.

/// Direct form II transposed biquad.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Biquad {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
    z1: f32,
    z2: f32,
}

impl Biquad {
    fn from_rbj(b: [f64; 3], a: [f64; 3]) -> Self {
        Self {
            b0: (b[0] / a[0]) as f32,
            b1: (b[1] / a[0]) as f32,
            b2: (b[2] / a[0]) as f32,
            a1: (a[1] / a[0]) as f32,
            a2: (a[2] / a[0]) as f32,
            z1: 0.0,
            z2: 0.0,
        }
    }

    /// Butterworth low-pass at `fc` Hz for sampling rate `fs`.
    pub fn lowpass(fc: f64, fs: f64) -> Self {
        let w0 = 2.0 * std::f64::consts::PI * fc / fs;
        let alpha = w0.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let c = w0.cos();
        Self::from_rbj(
            [(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0],
            [1.0 + alpha, -2.0 * c, 1.0 - alpha],
        )
    }

    /// Butterworth high-pass at `fc` Hz for sampling rate `fs`.
    pub fn highpass(fc: f64, fs: f64) -> Self {
        let w0 = 2.0 * std::f64::consts::PI * fc / fs;
        let alpha = w0.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let c = w0.cos();
        Self::from_rbj(
            [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0],
            [1.0 + alpha, -2.0 * c, 1.0 - alpha],
        )
    }

    /// Sets the state a high-pass section reaches after a constant input
    /// `x0` forever (output 0), so a recording that starts on a baseline
    /// offset gives no step transient. Valid for sections whose DC gain is
    /// zero (`b0 + b1 + b2 = 0`).
    pub fn prime_highpass(&mut self, x0: f32) {
        self.z1 = -self.b0 * x0;
        self.z2 = self.b2 * x0;
    }

    #[inline]
    pub fn step(&mut self, x: f32) -> f32 {
        let y = self.b0 * x + self.z1;
        self.z1 = self.b1 * x - self.a1 * y + self.z2;
        self.z2 = self.b2 * x - self.a2 * y;
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gain(mut f: Biquad, hz: f64, fs: f64) -> f64 {
        let n = (fs * 4.0) as usize;
        let mut peak = 0f64;
        for i in 0..n {
            let y = f.step((2.0 * std::f64::consts::PI * hz * i as f64 / fs).sin() as f32);
            if i > n / 2 {
                peak = peak.max(f64::from(y.abs()));
            }
        }
        peak
    }

    #[test]
    fn butterworth_responses() {
        for fs in [125.0, 360.0, 1000.0] {
            // -3 dB at the corner, pass band ~1, stop band attenuated.
            assert!((gain(Biquad::lowpass(15.0, fs), 15.0, fs) - 0.707).abs() < 0.03);
            assert!((gain(Biquad::lowpass(15.0, fs), 2.0, fs) - 1.0).abs() < 0.02);
            assert!(gain(Biquad::lowpass(15.0, fs), 50.0, fs) < 0.12);
            assert!((gain(Biquad::highpass(5.0, fs), 5.0, fs) - 0.707).abs() < 0.03);
            assert!(gain(Biquad::highpass(5.0, fs), 0.5, fs) < 0.02);
        }
    }
}
