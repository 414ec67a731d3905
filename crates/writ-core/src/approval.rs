//! What an approver signs.
//!
//! An approval is the approver's own Ed25519 signature over a DSSE PAE of a
//! short, versioned text naming the verdict, the request digest and the time
//! the approver signed. Using PAE with its own payload type domain-separates
//! approvals from writs: an approval signature can never be replayed as a
//! writ signature, or back. The version in the payload type (`v2`, which
//! added the time) separates it from the earlier input, which no verifier
//! accepts any more: a `v1` signature never verifies as a `v2` one.

use alloc::vec::Vec;

use crate::digest::Sha256Digest;
use crate::dsse::pae;
use crate::time::Timestamp;

/// Payload type of the approval signing input.
pub const APPROVAL_PAYLOAD_TYPE: &str = "application/vnd.writ.approval.v2";

/// An approver's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Approve the request.
    Approve,
    /// Deny the request.
    Deny,
}

/// The bytes an approver signs at `time`:
/// `PAE(APPROVAL_PAYLOAD_TYPE, "<verdict> sha256:<hex request digest> <time, RFC 3339 UTC>")`.
/// `time` is the approval's `time` in the writ (whole seconds, `Z`).
#[must_use]
pub fn signing_input(request_digest: &Sha256Digest, verdict: Verdict, time: Timestamp) -> Vec<u8> {
    let word = match verdict {
        Verdict::Approve => "approve",
        Verdict::Deny => "deny",
    };
    let body = alloc::format!("{word} sha256:{} {}", request_digest.to_hex(), time.to_rfc3339());
    pae(APPROVAL_PAYLOAD_TYPE, body.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_input_vector() {
        let d = Sha256Digest([0xab; 32]);
        let t = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let input = signing_input(&d, Verdict::Approve, t);
        let expected = alloc::format!(
            "DSSEv1 32 application/vnd.writ.approval.v2 100 approve sha256:{} 2026-01-01T00:00:00Z",
            "ab".repeat(32)
        );
        assert_eq!(input, expected.as_bytes());
        // the time is signed: another second is another input
        assert_ne!(signing_input(&d, Verdict::Approve, t.plus(1)), input);
    }
}
