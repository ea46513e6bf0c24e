//! Beat-by-beat comparison of detections with reference annotations, as
//! ANSI/AAMI EC57 and the WFDB `bxb` tool do it: a detection matches a
//! reference beat within a window (150 ms by default); each reference and
//! each detection is used at most once; spans can be excluded (ventricular
//! flutter/fibrillation episodes, where beats are not meaningful).

/// Counts for one record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Score {
    pub true_pos: u64,
    pub false_neg: u64,
    pub false_pos: u64,
}

impl Score {
    /// Sensitivity, TP / (TP + FN).
    pub fn sensitivity(&self) -> f64 {
        self.true_pos as f64 / (self.true_pos + self.false_neg).max(1) as f64
    }
    /// Positive predictivity, TP / (TP + FP).
    pub fn positive_predictivity(&self) -> f64 {
        self.true_pos as f64 / (self.true_pos + self.false_pos).max(1) as f64
    }
    pub fn add(&mut self, o: &Score) {
        self.true_pos += o.true_pos;
        self.false_neg += o.false_neg;
        self.false_pos += o.false_pos;
    }
}

/// Scores `detected` against `reference` (both sorted sample indices) with
/// a matching window of `window` samples, ignoring both inside `excluded`
/// half-open spans `[from, to)`.
pub fn score(reference: &[u64], detected: &[u64], window: u64, excluded: &[(u64, u64)]) -> Score {
    let inside = |t: u64| excluded.iter().any(|(a, b)| t >= *a && t < *b);
    let r: Vec<u64> = reference.iter().copied().filter(|t| !inside(*t)).collect();
    let d: Vec<u64> = detected.iter().copied().filter(|t| !inside(*t)).collect();
    let mut s = Score::default();
    let (mut i, mut j) = (0usize, 0usize);
    while i < r.len() && j < d.len() {
        let (a, b) = (r[i], d[j]);
        if a.abs_diff(b) <= window {
            // Prefer the closer pairing when the next detection is nearer.
            if j + 1 < d.len()
                && d[j + 1].abs_diff(a) < b.abs_diff(a)
                && d[j + 1].abs_diff(a) <= window
            {
                s.false_pos += 1;
                j += 1;
                continue;
            }
            s.true_pos += 1;
            i += 1;
            j += 1;
        } else if a < b {
            s.false_neg += 1;
            i += 1;
        } else {
            s.false_pos += 1;
            j += 1;
        }
    }
    s.false_neg += (r.len() - i) as u64;
    s.false_pos += (d.len() - j) as u64;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_counts() {
        let r = [100, 500, 900, 1300];
        // One exact, one within the window, one missed, one extra, one excluded.
        let d = [101, 540, 1100, 1302];
        let s = score(&r, &d, 54, &[]);
        assert_eq!(
            s,
            Score {
                true_pos: 3,
                false_neg: 1,
                false_pos: 1
            }
        );
        let s = score(&r, &d, 54, &[(850, 1200)]);
        assert_eq!(
            s,
            Score {
                true_pos: 3,
                false_neg: 0,
                false_pos: 0
            }
        );
        assert!(
            (Score {
                true_pos: 3,
                false_neg: 1,
                false_pos: 0
            }
            .sensitivity()
                - 0.75)
                .abs()
                < 1e-12
        );
    }
}
