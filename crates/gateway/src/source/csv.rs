//! The paper's CSV format: one sample per line, `timestamp_seconds,rr_microseconds`,
//! e.g. `1546300800.123,812345`. Timestamps are parsed as exact decimals (no
//! float rounding); RR must be a whole number of microseconds.
//!
//! Input is decoded line by line: a line that is not UTF-8, too long or
//! malformed is skipped and counted by reason, and the reasons never quote
//! the line (it may hold patient data).

use std::collections::BTreeMap;

use aorta_wire::RrSample;

/// Largest input file read (a week of beats at 4 a second is about 60 MB).
pub const MAX_FILE: u64 = 1 << 30;

/// Longest line considered (a sample line is about 25 bytes).
pub const MAX_LINE: usize = 256;

/// A line that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvIssue {
    pub line: usize,
    pub reason: &'static str,
}

impl std::fmt::Display for CsvIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Lines skipped, counted by reason, with the first line of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    pub by_reason: BTreeMap<&'static str, (u64, usize)>,
}

impl Skipped {
    pub fn add(&mut self, line: usize, reason: &'static str) {
        let e = self.by_reason.entry(reason).or_insert((0, line));
        e.0 += 1;
    }

    pub fn total(&self) -> u64 {
        self.by_reason.values().map(|(n, _)| n).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_reason.is_empty()
    }

    /// The issues, one per reason (its first line).
    pub fn issues(&self) -> Vec<CsvIssue> {
        self.by_reason
            .iter()
            .map(|(reason, (_, line))| CsvIssue {
                line: *line,
                reason,
            })
            .collect()
    }
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (reason, (n, line)) in &self.by_reason {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{n} × {reason} (first at line {line})")?;
        }
        Ok(())
    }
}

/// Parses `12345.678` seconds into microseconds exactly.
fn parse_seconds(s: &str) -> Result<i64, &'static str> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err("timestamp is not a non-negative decimal number of seconds");
    }
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err("timestamp has more than 6 decimals or non-digits");
    }
    let secs: i64 = int.parse().map_err(|_| "timestamp is out of range")?;
    let mut micros = 0i64;
    for (i, d) in frac.bytes().enumerate() {
        micros += i64::from(d - b'0') * 10i64.pow(5 - i as u32);
    }
    secs.checked_mul(1_000_000)
        .and_then(|v| v.checked_add(micros))
        .ok_or("timestamp is out of range")
}

/// Parses one line; `Ok(None)` for blank lines.
pub fn parse_line(line: &str) -> Result<Option<RrSample>, &'static str> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let (ts, rr) = line
        .split_once(',')
        .ok_or("expected 'timestamp_seconds,rr_microseconds'")?;
    let t_us = parse_seconds(ts.trim())?;
    let rr_us: u32 = rr
        .trim()
        .parse()
        .map_err(|_| "RR is not a whole number of microseconds in 0..=4294967295")?;
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

/// Parses a whole file's text. Bad lines are skipped and counted, never fatal.
pub fn parse_paper_csv(text: &str) -> (Vec<RrSample>, Skipped) {
    parse_paper_csv_bytes(text.as_bytes())
}

/// Parses a whole file's bytes, decoding each line on its own: one bad
/// byte costs one line, not the file.
pub fn parse_paper_csv_bytes(bytes: &[u8]) -> (Vec<RrSample>, Skipped) {
    let mut out = Vec::with_capacity(bytes.len() / 22 + 1);
    let mut skipped = Skipped::default();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if let Some(s) = fast_line(line) {
            out.push(s);
            continue;
        }
        if line.len() > MAX_LINE {
            skipped.add(i + 1, "line longer than 256 bytes");
            continue;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            skipped.add(i + 1, "line is not UTF-8");
            continue;
        };
        match parse_line(line) {
            Ok(Some(s)) => out.push(s),
            Ok(None) => {}
            Err(reason) => skipped.add(i + 1, reason),
        }
    }
    (out, skipped)
}

/// Numbers that parse but cannot be in the format's units: what they
/// probably are, and the fix. (An RR of 0.2–3 s, 20–300 bpm, is
/// 200,000–3,000,000 µs; a timestamp is seconds since 1970.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitsProblem {
    /// Median RR in 200..=3,000: milliseconds.
    RrMilliseconds { median: u32 },
    /// Median RR of at most 3: seconds, written as whole numbers.
    RrSeconds { median: u32 },
    /// Median RR in 200,000,000..=3,000,000,000: nanoseconds.
    RrNanoseconds { median: u32 },
    /// Median RR outside every plausible unit.
    RrImplausible { median: u32 },
    /// Timestamps after the year 5000: milliseconds since 1970.
    TimestampsMilliseconds,
}

impl std::fmt::Display for UnitsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const PLAUSIBLE: &str =
            "not plausible microseconds (an RR of 0.2-3 s is 200000-3000000 µs)";
        match self {
            Self::RrMilliseconds { median } => write!(
                f,
                "RR values have median {median}, {PLAUSIBLE}: they look like milliseconds; the format wants microseconds (multiply RR by 1000)"
            ),
            Self::RrSeconds { median } => write!(
                f,
                "RR values have median {median}, {PLAUSIBLE}: they look like whole seconds; the format wants microseconds (write RR in µs)"
            ),
            Self::RrNanoseconds { median } => write!(
                f,
                "RR values have median {median}, {PLAUSIBLE}: they look like nanoseconds; the format wants microseconds (divide RR by 1000)"
            ),
            Self::RrImplausible { median } => write!(
                f,
                "RR values have median {median}, {PLAUSIBLE}, nor any other unit: is the second column RR (`timestamp_seconds,rr_microseconds`)?"
            ),
            Self::TimestampsMilliseconds => f.write_str(
                "timestamps fall after the year 5000: they look like milliseconds since 1970; the format wants seconds (divide the timestamp by 1000, decimals allowed)",
            ),
        }
    }
}

/// Checks that a file's samples are in the format's units, from their
/// medians (a few odd lines do not decide it; a whole file does).
pub fn check_units(samples: &[RrSample]) -> Option<UnitsProblem> {
    if samples.is_empty() {
        return None;
    }
    let mut rr: Vec<u32> = samples.iter().map(|s| s.rr_us).collect();
    let mid = rr.len() / 2;
    let median = *rr.select_nth_unstable(mid).1;
    let mut t: Vec<i64> = samples.iter().map(|s| s.t_us).collect();
    let t_median = *t.select_nth_unstable(mid).1;
    // 1e11 s after 1970 is the year 5138; milliseconds now are about 1.7e12.
    if t_median > 100_000_000_000 * 1_000_000 {
        return Some(UnitsProblem::TimestampsMilliseconds);
    }
    match median {
        200_000..=3_000_000 => None,
        200..=3_000 => Some(UnitsProblem::RrMilliseconds { median }),
        0..=3 => Some(UnitsProblem::RrSeconds { median }),
        200_000_000..=3_000_000_000 => Some(UnitsProblem::RrNanoseconds { median }),
        _ => Some(UnitsProblem::RrImplausible { median }),
    }
}

/// One stream's recording read from a paper-format file.
#[derive(Debug, Clone, Default)]
pub struct PaperFile {
    /// Samples in time order, inside the stream's densest `max_span`.
    pub samples: Vec<RrSample>,
    /// Lines that did not parse, by reason.
    pub skipped: Skipped,
    /// Samples dated outside the densest `max_span` of the file.
    pub outside_span: u64,
    /// Set when the values cannot be in the format's units (the caller
    /// refuses the file: its results would be silently wrong).
    pub units: Option<UnitsProblem>,
}

/// Reads a paper-format CSV file: lines decoded one by one (bad ones
/// skipped and counted), samples sorted, and samples dated outside the
/// file's densest stretch of `max_span_us` left out and counted, so a
/// single line dated a year away cannot make a replay span a year.
///
/// The file is opened without following a symbolic link or blocking on a
/// FIFO, must be a regular file of at most [`MAX_FILE`] bytes, and errors
/// name it by `label` (a pseudonym), never by its path (input files are
/// named after patients).
pub fn read_paper_file(
    path: &std::path::Path,
    label: &str,
    max_span_us: i64,
) -> Result<PaperFile, crate::GatewayError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |reason: String| crate::GatewayError::Input {
        what: label.to_string(),
        reason,
    };
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| err(format!("cannot open its input file ({})", e.kind())))?;
    let meta = f
        .metadata()
        .map_err(|e| err(format!("cannot read its input file ({})", e.kind())))?;
    if !meta.file_type().is_file() {
        return Err(err("its input file is not a regular file".into()));
    }
    if meta.len() > MAX_FILE {
        return Err(err(format!(
            "its input file has {} bytes, more than {MAX_FILE}",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.by_ref()
        .take(MAX_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| err(format!("cannot read its input file ({})", e.kind())))?;
    let (mut samples, skipped) = parse_paper_csv_bytes(&bytes);
    drop(bytes);
    let units = check_units(&samples);
    samples.sort_by_key(|s| s.t_us);
    let keep = densest_span(&samples, max_span_us);
    let outside_span = (samples.len() - keep.len()) as u64;
    samples.truncate(keep.end);
    samples.drain(..keep.start);
    Ok(PaperFile {
        samples,
        skipped,
        outside_span,
        units,
    })
}

/// The samples of `samples` (sorted by time) that fall in the densest
/// stretch of at most `span_us`: a stream's recording, with stray lines
/// dated far away (a wrong year, a clock reset) left out. Returns the kept
/// range of indices.
pub fn densest_span(samples: &[RrSample], span_us: i64) -> std::ops::Range<usize> {
    let (mut best, mut lo) = (0..0, 0usize);
    for hi in 0..samples.len() {
        while samples
            .get(lo)
            .zip(samples.get(hi))
            .is_some_and(|(a, b)| b.t_us.saturating_sub(a.t_us) > span_us)
        {
            lo += 1;
        }
        if hi + 1 - lo > best.len() {
            best = lo..hi + 1;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_checked_on_the_medians() {
        let file = |t0: i64, rr: u32| -> Vec<RrSample> {
            (0..20)
                .map(|i| RrSample {
                    t_us: t0 + i * 800_000,
                    rr_us: rr + (i as u32 % 3),
                })
                .collect()
        };
        let t = 1_546_300_800_000_000;
        assert_eq!(check_units(&file(t, 812_345)), None);
        assert_eq!(
            check_units(&file(t, 812)),
            Some(UnitsProblem::RrMilliseconds { median: 813 })
        );
        assert_eq!(
            check_units(&file(t, 0)),
            Some(UnitsProblem::RrSeconds { median: 1 })
        );
        assert_eq!(
            check_units(&file(t, 812_345_000)),
            Some(UnitsProblem::RrNanoseconds {
                median: 812_345_001
            })
        );
        assert_eq!(
            check_units(&file(t, 50_000)),
            Some(UnitsProblem::RrImplausible { median: 50_001 })
        );
        assert_eq!(
            check_units(&file(t * 1000, 812_345)),
            Some(UnitsProblem::TimestampsMilliseconds)
        );
        // A few stray values do not decide it.
        let mut f = file(t, 812_345);
        f[0].rr_us = 812;
        f[1].rr_us = 4_000_000_000;
        assert_eq!(check_units(&f), None);
        assert!(UnitsProblem::RrMilliseconds { median: 812 }
            .to_string()
            .contains("multiply RR by 1000"));
    }

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
        let (s, skipped) = parse_paper_csv(
            "1546300800.123,812345\n\nx,1\n1546300801,900000\n1.5,-3\n1.1234567,5\n",
        );
        let mut bad = skipped.issues();
        bad.sort_by_key(|i| i.line);
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
        assert!(bad[1].reason.starts_with("RR is not"));
        assert!(
            !skipped.to_string().contains("-3"),
            "values are never quoted"
        );
    }

    #[test]
    fn bad_bytes_cost_one_line_and_strays_fall_outside_the_span() {
        let mut bytes = b"10,800000\n11,800000\n".to_vec();
        bytes.extend_from_slice(&[0xff, b'1', b',', b'2', b'\n']);
        bytes.extend_from_slice(&vec![b'9'; 1000]);
        bytes.extend_from_slice(b"\n12,800000\n99999999,800000\n13,800000\n");
        let (mut s, skipped) = parse_paper_csv_bytes(&bytes);
        assert_eq!(skipped.total(), 2, "{skipped}");
        assert!(skipped.to_string().contains("not UTF-8"));
        assert!(skipped.to_string().contains("longer than 256"));
        s.sort_by_key(|x| x.t_us);
        assert_eq!(s.len(), 5);
        let keep = densest_span(&s, 3_600_000_000);
        assert_eq!(keep, 0..4, "the one line dated years ahead is left out");
    }
}
