//! What an approver signs.
//!
//! An approval is the approver's own Ed25519 signature over a DSSE PAE of a
//! short, versioned text naming the verdict and the request digest. Using PAE
//! with its own payload type domain-separates approvals from writs: an
//! approval signature can never be replayed as a writ signature, or back.

use alloc::vec::Vec;

use crate::digest::Sha256Digest;
use crate::dsse::pae;

/// Payload type of the approval signing input.
pub const APPROVAL_PAYLOAD_TYPE: &str = "application/vnd.writ.approval.v1";

/// An approver's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Approve the request.
    Approve,
    /// Deny the request.
    Deny,
}

/// The bytes an approver signs: `PAE(APPROVAL_PAYLOAD_TYPE, "<verdict> sha256:<hex request digest>")`.
#[must_use]
pub fn signing_input(request_digest: &Sha256Digest, verdict: Verdict) -> Vec<u8> {
    let word = match verdict {
        Verdict::Approve => "approve",
        Verdict::Deny => "deny",
    };
    let body = alloc::format!("{word} sha256:{}", request_digest.to_hex());
    pae(APPROVAL_PAYLOAD_TYPE, body.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_input_vector() {
        let d = Sha256Digest([0xab; 32]);
        let input = signing_input(&d, Verdict::Approve);
        let expected =
            alloc::format!("DSSEv1 32 application/vnd.writ.approval.v1 79 approve sha256:{}", "ab".repeat(32));
        assert_eq!(input, expected.as_bytes());
    }
}
