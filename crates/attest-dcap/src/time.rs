/// Parses `YYYY-MM-DDTHH:MM:SSZ` (optionally with fractional seconds) into
/// Unix seconds. Days from civil date: H. Hinnant's algorithm.
pub fn parse_rfc3339_utc(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(10) != Some(&b'T')
    {
        return None;
    }
    if !s.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_instants() {
        assert_eq!(super::parse_rfc3339_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            super::parse_rfc3339_utc("2025-07-01T00:00:00Z"),
            Some(1_751_328_000)
        );
        assert_eq!(
            super::parse_rfc3339_utc("2000-02-29T12:34:56Z"),
            Some(951_827_696)
        );
        assert_eq!(super::parse_rfc3339_utc("2025-07-01T00:00:00+01:00"), None);
    }
}
