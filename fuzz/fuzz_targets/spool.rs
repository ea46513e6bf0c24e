//! A spool log of arbitrary bytes (the host can write anything there):
//! the reader never panics or loops, the linear frame index agrees with
//! checking every offset, and a record appended afterwards is always read
//! (the reader and the appender follow one recovery rule).
#![no_main]

use std::io::Write;

use aorta_spool::frame::{parse_header, HEADER_LEN};
use aorta_spool::{Appender, LogReader};
use aorta_transport::{Consumer, Polled, Producer};
use libfuzzer_sys::fuzz_target;

fn read_all(path: &std::path::Path) -> Vec<Vec<u8>> {
    let mut r = LogReader::open(path).unwrap();
    let mut out = Vec::new();
    for _ in 0..100_000 {
        match r.poll().unwrap() {
            Polled::Record { payload, .. } => out.push(payload.to_vec()),
            Polled::Corrupt { .. } => {}
            Polled::Discontinuity { .. } => panic!("the log did not change"),
            Polled::Idle => return out,
        }
    }
    panic!("no progress");
}

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p0000.log");
    std::fs::File::create(&path).unwrap().write_all(data).unwrap();
    let _ = read_all(&path);
    let file = std::fs::File::open(&path).unwrap();
    let ix = aorta_spool::valid_frames(&file, &path, 0, data.len() as u64, 1 << 20).unwrap();
    assert_eq!(ix.covered_to, data.len() as u64);
    let got = ix.valid;
    if data.len() <= 4096 {
        let want: Vec<u64> = (0..data.len())
            .filter(|&a| {
                let Some(Ok(h)) = data.get(a..a + HEADER_LEN).map(|h| parse_header(h.try_into().unwrap())) else {
                    return false;
                };
                data.get(a + HEADER_LEN..a + HEADER_LEN + h.len as usize)
                    .is_some_and(|p| h.checks(p))
            })
            .map(|a| a as u64)
            .collect();
        assert_eq!(got, want);
    }
    let mut a = Appender::open(&path).unwrap();
    a.append(&[b"honest record"]).unwrap();
    let recs = read_all(&path);
    assert_eq!(recs.last().map(Vec::as_slice), Some(&b"honest record"[..]));
});
