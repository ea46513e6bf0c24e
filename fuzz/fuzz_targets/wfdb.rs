//! WFDB headers, signal files and annotation files on arbitrary bytes
//! (`aorta validate --data DIR`, `aorta detect`, the gateway's
//! `--ecg-wfdb`): never panic.
#![no_main]

use aorta_analytics::wfdb;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wfdb::Header::parse(text);
    }
    let _ = wfdb::parse_annotations(data);
    if let Some((&f, rest)) = data.split_first() {
        let format = [16u32, 212, 80, 61, 8, 310, 311][usize::from(f) % 7];
        let nsig = usize::from(f >> 4) % 4 + 1;
        let _ = wfdb::decode(format, nsig, rest);
    }
});
