//! The paper's CSV format: one sample per line, `timestamp_seconds,rr_microseconds`,
//! e.g. `1546300800.123,812345`. Timestamps are parsed as exact decimals (no
//! float rounding); RR must be a whole number of microseconds.

use aorta_wire::RrSample;

/// A line that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvIssue {
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for CsvIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Parses `12345.678` seconds into microseconds exactly.
fn parse_seconds(s: &str) -> Result<i64, String> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "timestamp '{s}' is not a non-negative decimal number of seconds"
        ));
    }
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "timestamp '{s}' has more than 6 decimals or non-digits"
        ));
    }
    let secs: i64 = int
        .parse()
        .map_err(|_| format!("timestamp '{s}' is out of range"))?;
    let mut micros = 0i64;
    for (i, d) in frac.bytes().enumerate() {
        micros += i64::from(d - b'0') * 10i64.pow(5 - i as u32);
    }
    secs.checked_mul(1_000_000)
        .and_then(|v| v.checked_add(micros))
        .ok_or_else(|| format!("timestamp '{s}' is out of range"))
}

/// Parses one line; `Ok(None)` for blank lines.
pub fn parse_line(line: &str) -> Result<Option<RrSample>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let (ts, rr) = line
        .split_once(',')
        .ok_or_else(|| "expected 'timestamp_seconds,rr_microseconds'".to_string())?;
    let t_us = parse_seconds(ts.trim())?;
    let rr = rr.trim();
    let rr_us: u32 = rr.parse().map_err(|_| {
        format!("RR '{rr}' is not a whole number of microseconds in 0..=4294967295")
    })?;
    Ok(Some(RrSample { t_us, rr_us }))
}

/// The common case, `digits[.digits≤6],digits`, without allocation or
/// UTF-8 work; `None` for anything else (which [`parse_line`] then handles,
/// with its error messages).
fn fast_line(line: &[u8]) -> Option<RrSample> {
    let mut i = 0;
    let mut secs: i64 = 0;
    while let Some(&b) = line.get(i) {
        if !b.is_ascii_digit() || i >= 12 {
            break;
        }
        secs = secs * 10 + i64::from(b - b'0');
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let mut micros: i64 = 0;
    if line.get(i) == Some(&b'.') {
        i += 1;
        let mut scale = 100_000;
        while let Some(&b) = line.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            if scale == 0 {
                return None; // more than 6 decimals: the careful parser explains
            }
            micros += i64::from(b - b'0') * scale;
            scale /= 10;
            i += 1;
        }
    }
    if line.get(i) != Some(&b',') {
        return None;
    }
    i += 1;
    let start = i;
    let mut rr: u64 = 0;
    while let Some(&b) = line.get(i) {
        if !b.is_ascii_digit() || i - start >= 10 {
            break;
        }
        rr = rr * 10 + u64::from(b - b'0');
        i += 1;
    }
    let rest = line.get(i..)?;
    if i == start || !rest.iter().all(|b| *b == b'\r') {
        return None;
    }
    Some(RrSample {
        t_us: secs * 1_000_000 + micros,
        rr_us: u32::try_from(rr).ok()?,
    })
}

/// Parses a whole file's text. Bad lines are skipped and reported, never fatal.
pub fn parse_paper_csv(text: &str) -> (Vec<RrSample>, Vec<CsvIssue>) {
    let mut out = Vec::with_capacity(text.len() / 22 + 1);
    let mut issues = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(s) = fast_line(line.as_bytes()) {
            out.push(s);
            continue;
        }
        match parse_line(line) {
            Ok(Some(s)) => out.push(s),
            Ok(None) => {}
            Err(reason) => issues.push(CsvIssue {
                line: i + 1,
                reason,
            }),
        }
    }
    (out, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_the_careful_parser() {
        for line in [
            "1546300800.123,812345",
            "1546300800,812345",
            "1.5,7",
            "1546300800.000001,4294967295",
            "1546300800.1234567,5",
            "1546300800.5,4294967296",
            "12,34\r",
            "12.,34",
            ".5,1",
            "1,",
            ",1",
            "1,2,3",
        ] {
            let slow = parse_line(line).ok().flatten();
            assert_eq!(fast_line(line.as_bytes()).or(slow), slow, "{line}");
            if let Some(f) = fast_line(line.as_bytes()) {
                assert_eq!(Some(f), slow, "{line}");
            }
        }
    }

    #[test]
    fn parses_exact_decimals_and_reports_bad_lines() {
        let (s, bad) = parse_paper_csv(
            "1546300800.123,812345\n\nx,1\n1546300801,900000\n1.5,-3\n1.1234567,5\n",
        );
        assert_eq!(
            s,
            vec![
                RrSample {
                    t_us: 1_546_300_800_123_000,
                    rr_us: 812_345
                },
                RrSample {
                    t_us: 1_546_300_801_000_000,
                    rr_us: 900_000
                },
            ]
        );
        assert_eq!(
            bad.iter().map(|b| b.line).collect::<Vec<_>>(),
            vec![3, 5, 6]
        );
        assert!(bad[1].reason.contains("RR '-3'"));
    }
}
