//! Every wire parser on arbitrary bytes (what the untrusted transport can
//! hand a worker or a clinician): envelope header, body, RR and ECG/PPG
//! batches, result batches, enrolment records and their signature check.
//! Must never panic; a batch that decodes re-encodes to the same samples.
#![no_main]

use aorta_wire::{Body, EcgBatch, Enrolment, Header, ResultBatch, RrBatch, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::parse_envelope(data) {
        let _ = aorta_envelope::session::dangerous_plaintext_body(&h, data);
    }
    let bodies = [data, data.get(HEADER_LEN..).unwrap_or_default()];
    for b in bodies {
        let content = Body::parse(b).map(|b| b.content).unwrap_or(b);
        let mut samples = Vec::new();
        if let Ok(wm) = RrBatch::decode_into(content, &mut samples) {
            let mut again = Vec::new();
            if RrBatch::encode(&samples, wm, &mut again).is_ok() {
                let mut back = Vec::new();
                assert_eq!(RrBatch::decode_into(&again, &mut back).ok(), Some(wm));
                assert_eq!(back, samples);
            }
        }
        let _ = EcgBatch::decode(content);
        let _ = ResultBatch::decode(content);
    }
    let _ = Enrolment::decode(data);
    let controller = aorta_envelope::VerifyingKey([9; 32]);
    let _ = aorta_envelope::enrolment::verify_enrolment(&controller, data);
});
