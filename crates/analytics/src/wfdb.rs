//! WFDB records as PhysioNet distributes them, decoded from bytes (the
//! caller reads the files): the header (`.hea`), signal format 212 and 16
//! (`.dat`), and MIT-format annotations (`.atr`). References: the WFDB
//! Programmer's Guide and `header(5)`, `signal(5)`, `annot(5)` man pages.

use crate::AnalyticsError;

/// One signal's line of a header.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalSpec {
    pub file: String,
    pub format: u32,
    /// Bytes to skip at the start of the signal file (`format+offset`).
    pub byte_offset: usize,
    /// ADC units per physical unit (mV); 200 when the header omits it.
    pub gain: f64,
    pub baseline: i32,
    pub description: String,
}

/// Most signals a record may declare (found by fuzzing: a header claiming
/// 212,589,992 signals made the parser reserve 21 GB).
pub const MAX_SIGNALS: usize = 256;

/// A record header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub name: String,
    pub fs: f64,
    pub samples: u64,
    pub signals: Vec<SignalSpec>,
}

fn bad(what: impl Into<String>) -> AnalyticsError {
    AnalyticsError::Wfdb(what.into())
}

impl Header {
    pub fn parse(text: &str) -> Result<Self, AnalyticsError> {
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let rec = lines.next().ok_or_else(|| bad("empty header"))?;
        let f: Vec<&str> = rec.split_whitespace().collect();
        let name = f.first().ok_or_else(|| bad("no record name"))?.to_string();
        let nsig: usize = f
            .get(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("record line: number of signals"))?;
        // "360" or "360/..." (counter frequency) — take the sampling frequency.
        let fs: f64 = f
            .get(2)
            .map(|s| s.split('/').next().unwrap_or(s))
            .and_then(|s| s.parse().ok())
            .unwrap_or(250.0);
        if !(1.0..=100_000.0).contains(&fs) {
            return Err(bad(format!("sampling frequency {fs} out of range")));
        }
        if nsig > MAX_SIGNALS {
            return Err(bad(format!(
                "{nsig} signals (at most {MAX_SIGNALS} are read)"
            )));
        }
        let samples: u64 = f.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut signals = Vec::with_capacity(nsig);
        for i in 0..nsig {
            let l = lines
                .next()
                .ok_or_else(|| bad(format!("missing signal line {}", i + 1)))?;
            let f: Vec<&str> = l.split_whitespace().collect();
            let file = f.first().ok_or_else(|| bad("signal file"))?.to_string();
            // Format may carry "x<skew>" or ":<offset>" or "+<offset>".
            let fmt_field = f.get(1).ok_or_else(|| bad("signal format"))?;
            let format: u32 = fmt_field
                .split(['x', ':', '+'])
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(format!("signal format '{fmt_field}'")))?;
            let byte_offset: usize = fmt_field
                .split_once('+')
                .and_then(|(_, o)| o.parse().ok())
                .unwrap_or(0);
            // Gain field: "200", "200(1024)/mV", "1000/mV".
            let gain_field = f.get(2).copied().unwrap_or("200");
            let gain_num = gain_field.split(['(', '/']).next().unwrap_or("200");
            let gain: f64 = gain_num.parse().unwrap_or(200.0);
            let gain = if gain == 0.0 { 200.0 } else { gain };
            let paren_baseline = gain_field
                .split_once('(')
                .and_then(|(_, r)| r.split(')').next())
                .and_then(|b| b.parse().ok());
            let adc_zero: i32 = f.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
            let baseline = paren_baseline.unwrap_or(adc_zero);
            let description = f.get(8..).map(|d| d.join(" ")).unwrap_or_default();
            signals.push(SignalSpec {
                file,
                format,
                byte_offset,
                gain,
                baseline,
                description,
            });
        }
        Ok(Self {
            name,
            fs,
            samples,
            signals,
        })
    }
}

/// Decodes interleaved samples of `nsig` signals in `format` (212 or 16)
/// into one vector per signal (ADC units).
pub fn decode(format: u32, nsig: usize, bytes: &[u8]) -> Result<Vec<Vec<i32>>, AnalyticsError> {
    if nsig == 0 || nsig > MAX_SIGNALS {
        return Err(bad(format!("{nsig} signals (1 to {MAX_SIGNALS} are read)")));
    }
    let mut out = vec![Vec::new(); nsig];
    match format {
        212 => {
            // Pairs of 12-bit two's-complement samples in 3 bytes.
            let mut k = 0usize;
            for c in bytes.chunks_exact(3) {
                let a = i32::from(c[0]) | (i32::from(c[1] & 0x0f) << 8);
                let b = i32::from(c[2]) | (i32::from(c[1] >> 4) << 8);
                for v in [a, b] {
                    let v = if v >= 2048 { v - 4096 } else { v };
                    out[k % nsig].push(v);
                    k += 1;
                }
            }
        }
        16 => {
            for (k, c) in bytes.chunks_exact(2).enumerate() {
                out[k % nsig].push(i32::from(i16::from_le_bytes([c[0], c[1]])));
            }
        }
        f => {
            return Err(bad(format!(
                "signal format {f} is not supported (212 and 16 are)"
            )))
        }
    }
    // Drop a trailing partial frame so every signal has the same length.
    let n = out.iter().map(Vec::len).min().unwrap_or(0);
    out.iter_mut().for_each(|v| v.truncate(n));
    Ok(out)
}

/// One annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub sample: u64,
    /// MIT annotation code (1 = N, 5 = V, 28 = rhythm change, ...).
    pub code: u8,
    pub subtype: i8,
    pub channel: u8,
    pub aux: String,
}

impl Annotation {
    /// The annotation's mnemonic (`N`, `V`, `+`, `[`, ...).
    pub fn mnemonic(&self) -> &'static str {
        const M: [&str; 42] = [
            "", "N", "L", "R", "a", "V", "F", "J", "A", "S", "E", "j", "/", "Q", "~", "", "|", "",
            "s", "T", "*", "D", "\"", "=", "p", "B", "^", "t", "+", "u", "?", "!", "[", "]", "e",
            "n", "@", "x", "f", "(", ")", "r",
        ];
        M.get(usize::from(self.code)).copied().unwrap_or("")
    }

    /// A beat annotation (the codes `isqrs` accepts in the WFDB library):
    /// N L R a V F J A S E j / Q B e n f r.
    pub fn is_beat(&self) -> bool {
        matches!(self.code, 1..=13 | 25 | 34 | 35 | 38 | 41)
    }
}

/// Parses MIT-format annotations (`annot(5)`): 16-bit little-endian words,
/// type in the top 6 bits, time increment in the low 10; pseudo-types SKIP
/// (59), NUM (60), SUB (61), CHN (62), AUX (63).
pub fn parse_annotations(bytes: &[u8]) -> Result<Vec<Annotation>, AnalyticsError> {
    let mut out = Vec::new();
    let mut t: u64 = 0;
    let mut chan = 0u8;
    let mut i = 0usize;
    let word = |i: usize| -> Option<u16> {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    while let Some(w) = word(i) {
        i += 2;
        let (a, n) = ((w >> 10) as u8, u64::from(w & 0x3ff));
        match a {
            0 if n == 0 => break,
            59 => {
                // SKIP: a 32-bit interval follows, high word first.
                let hi = word(i).ok_or_else(|| bad("annotations: truncated SKIP"))?;
                let lo = word(i + 2).ok_or_else(|| bad("annotations: truncated SKIP"))?;
                i += 4;
                let skip = (i64::from(hi) << 16 | i64::from(lo)) as i32;
                t = t
                    .checked_add_signed(i64::from(skip))
                    .ok_or_else(|| bad("annotations: SKIP before the record start"))?;
            }
            // NUM: annotation numbers are not used here.
            60 => {}
            61 => {
                if let Some(last) = out.last_mut() {
                    let last: &mut Annotation = last;
                    last.subtype = n as u8 as i8;
                }
            }
            62 => chan = n as u8,
            63 => {
                let len = n as usize;
                let text = bytes
                    .get(i..i + len)
                    .ok_or_else(|| bad("annotations: truncated AUX"))?;
                if let Some(last) = out.last_mut() {
                    let last: &mut Annotation = last;
                    last.aux = String::from_utf8_lossy(text)
                        .trim_end_matches('\0')
                        .to_string();
                }
                i += len + (len & 1);
            }
            code => {
                t += n;
                out.push(Annotation {
                    sample: t,
                    code,
                    subtype: 0,
                    channel: chan,
                    aux: String::new(),
                });
            }
        }
    }
    Ok(out)
}
