//! AWS Nitro Enclaves: evidence from the Nitro Secure Module (`/dev/nsm`).
//!
//! The worker asks the NSM for an attestation document whose `user_data`
//! is the 64 bytes of report data (the NSM allows up to 512) and whose
//! `public_key` is the worker's ephemeral X25519 key. The document is a
//! COSE_Sign1 (ES384) that `aorta-attest-nitro` verifies to the AWS root.
//!
//! The request and response handling is pure ([`request`],
//! [`document_from_response`]) and tested here; only [`NitroAttester`]
//! (feature `nitro`, Linux) talks to the device, through
//! `aws-nitro-enclaves-nsm-api`'s driver.

use aws_nitro_enclaves_nsm_api::api::{ErrorCode, Request, Response};
use serde_bytes::ByteBuf;

use crate::AttestError;

/// The NSM attestation request binding `report_data` (and the worker key).
pub fn request(report_data: &[u8; 64], worker_key: Option<&[u8; 32]>) -> Request {
    Request::Attestation {
        user_data: Some(ByteBuf::from(report_data.to_vec())),
        nonce: None,
        public_key: worker_key.map(|k| ByteBuf::from(k.to_vec())),
    }
}

/// The document out of the NSM's answer, or why there is none.
pub fn document_from_response(r: Response) -> Result<Vec<u8>, AttestError> {
    match r {
        Response::Attestation { document } if !document.is_empty() => Ok(document),
        Response::Attestation { .. } => Err(AttestError::Provider(
            "the NSM returned an empty attestation document".into(),
        )),
        Response::Error(code) => Err(AttestError::Provider(format!(
            "the NSM refused the attestation request: {}",
            describe(code)
        ))),
        _ => Err(AttestError::Provider(
            "the NSM answered an attestation request with another response type".into(),
        )),
    }
}

fn describe(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Success => "success without a document",
        ErrorCode::InvalidArgument => "invalid argument (user data, nonce or public key too long?)",
        ErrorCode::InvalidIndex => "invalid PCR index",
        ErrorCode::InvalidResponse => "invalid response",
        ErrorCode::ReadOnlyIndex => "read-only PCR index",
        ErrorCode::InvalidOperation => "invalid operation",
        ErrorCode::BufferTooSmall => "buffer too small",
        ErrorCode::InputTooLarge => "input too large",
        ErrorCode::InternalError => "internal error",
    }
}

/// Evidence from `/dev/nsm` inside a Nitro enclave.
#[cfg(feature = "nitro")]
#[derive(Debug, Default)]
pub struct NitroAttester {
    /// The worker's ephemeral key, also placed in the document.
    pub worker_key: Option<[u8; 32]>,
}

#[cfg(feature = "nitro")]
impl crate::Attester for NitroAttester {
    fn tee(&self) -> crate::TeeKind {
        crate::TeeKind::Nitro
    }
    fn evidence(&self, report_data: [u8; 64]) -> Result<crate::Evidence, AttestError> {
        use aws_nitro_enclaves_nsm_api::driver::{nsm_exit, nsm_init, nsm_process_request};
        let fd = nsm_init();
        if fd < 0 {
            return Err(AttestError::Provider(
                "cannot open /dev/nsm: not inside a Nitro enclave?".into(),
            ));
        }
        let r = nsm_process_request(fd, request(&report_data, self.worker_key.as_ref()));
        nsm_exit(fd);
        Ok(crate::Evidence {
            tee: crate::TeeKind::Nitro,
            bytes: document_from_response(r)?,
            endorsements: Default::default(),
        })
    }
}
