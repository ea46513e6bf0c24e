//! The checkpoint layout on arbitrary plaintext (defence in depth: sealed
//! checkpoints only open under the fleet key, but decoding must still never
//! panic or allocate without bound).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aorta_worker::fuzzing::checkpoint_plaintext(data);
});
