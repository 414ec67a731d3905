//! The approval-signing protocol, written once: what an approver signs, how
//! the vote travels, and how the authority checks it.
//!
//! An approver fetches the request, recomputes its digest from the exact
//! document bytes the authority sent (refusing to sign when they disagree),
//! shows that document, and signs `writ_core::approval::signing_input(digest,
//! verdict, time)` with their own key, `time` being when they sign. The
//! authority checks the signature against the digest it stored, never one
//! the client sends, and the time against its clock.
//!
//! ```
//! use writ_api::approval;
//! use writ_core::{SigningKey, approval::Verdict, Sha256Digest, Timestamp};
//! let key = SigningKey::from_seed(&[3; 32]);
//! let digest = Sha256Digest::of(b"{\"request\":1}");
//! let t = Timestamp(1_767_225_600);
//! let sig = approval::signature(&key, &digest, Verdict::Approve, t);
//! assert!(approval::verify(&key.public(), &digest, Verdict::Approve, t, &sig));
//! assert!(!approval::verify(&key.public(), &digest, Verdict::Deny, t, &sig));
//! assert!(!approval::verify(&key.public(), &digest, Verdict::Approve, t.plus(1), &sig));
//! ```

use writ_core::approval::{Verdict, signing_input};
use writ_core::{PublicKey, Sha256Digest, SigningKey, Timestamp};

use crate::wire::{MAX_REASON, RequestDocument, RequestView, VoteInput};
use crate::{ApiError, ApiErrorCode};

/// Largest request document accepted from the authority.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// The request document of `view`, decoded, after checking that its bytes
/// hash to `view.request_digest`; returns the document and the digest.
///
/// # Errors
/// `bad_response` when the document is not base64 JSON or does not hash to
/// the digest the authority claims.
pub fn document(view: &RequestView) -> Result<(RequestDocument, Sha256Digest), ApiError> {
    let bad = |m: String| ApiError::new(ApiErrorCode::BadResponse, m);
    let bytes = writ_core::b64::decode(&view.document, MAX_DOCUMENT_BYTES)
        .map_err(|e| bad(format!("request `{}`: the document is not base64: {e}", view.request_id)))?;
    let digest = Sha256Digest::of(&bytes);
    if digest.to_hex() != view.request_digest {
        return Err(bad(format!(
            "request `{}`: the authority's request digest does not match the document it sent; refusing to sign",
            view.request_id
        )));
    }
    let doc: RequestDocument = writ_core::json::from_slice(&bytes)
        .map_err(|e| bad(format!("request `{}`: the document does not parse: {e}", view.request_id)))?;
    if doc.id != view.request_id {
        return Err(bad(format!("the document of request `{}` names request `{}`", view.request_id, doc.id)));
    }
    Ok((doc, digest))
}

/// The raw signature an approver makes at `time`.
#[must_use]
pub fn signature(key: &SigningKey, request_digest: &Sha256Digest, verdict: Verdict, time: Timestamp) -> Vec<u8> {
    key.sign(&signing_input(request_digest, verdict, time))
}

/// Whether `sig` is `key`'s signature of `verdict` on `request_digest` at `time`.
#[must_use]
pub fn verify(key: &PublicKey, request_digest: &Sha256Digest, verdict: Verdict, time: Timestamp, sig: &[u8]) -> bool {
    key.verify_strict(&signing_input(request_digest, verdict, time), sig)
}

/// A vote on the request `view` shows, signed with `key` at `time` (now, by
/// the approver's clock) after checking the document against its digest
/// (see [`document`]).
///
/// # Errors
/// As [`document`]; `invalid_request` for a reason that is too long or holds
/// control characters.
pub fn sign(
    key: &SigningKey,
    view: &RequestView,
    verdict: Verdict,
    reason: Option<&str>,
    time: Timestamp,
) -> Result<VoteInput, ApiError> {
    let (_, digest) = document(view)?;
    if let Some(r) = reason {
        check_reason(r)?;
    }
    Ok(VoteInput {
        verdict: verdict.into(),
        signature: writ_core::b64::encode(&signature(key, &digest, verdict, time)),
        time: time.to_rfc3339(),
        reason: reason.map(str::to_string),
    })
}

/// The verdict, signature bytes and signing time of a vote as received.
///
/// # Errors
/// `malformed` when the signature is not 64 bytes of base64 or the time is
/// not an RFC 3339 UTC time; `invalid_request` for a bad reason.
pub fn decode(vote: &VoteInput) -> Result<(Verdict, Vec<u8>, Timestamp), ApiError> {
    let sig = writ_core::b64::decode(&vote.signature, 64)
        .map_err(|e| ApiError::new(ApiErrorCode::Malformed, format!("`signature`: {e}")))?;
    if sig.len() != 64 {
        return Err(ApiError::new(
            ApiErrorCode::Malformed,
            "`signature` must be a 64-byte Ed25519 signature in base64",
        ));
    }
    let time = Timestamp::parse(&vote.time).map_err(|e| {
        ApiError::new(
            ApiErrorCode::Malformed,
            format!("`time` `{}`: {e}; send when you signed as RFC 3339 UTC, e.g. 2026-01-01T00:00:00Z", vote.time),
        )
    })?;
    if let Some(r) = &vote.reason {
        check_reason(r)?;
    }
    Ok((vote.verdict.into(), sig, time))
}

/// A reason shown to people: 1 to [`MAX_REASON`] bytes, no control characters.
///
/// # Errors
/// `invalid_request`.
pub fn check_reason(r: &str) -> Result<(), ApiError> {
    if r.trim().is_empty() || r.len() > MAX_REASON {
        return Err(ApiError::new(ApiErrorCode::InvalidRequest, format!("a reason is 1 to {MAX_REASON} bytes")));
    }
    if r.chars().any(char::is_control) {
        return Err(ApiError::new(
            ApiErrorCode::InvalidRequest,
            "a reason must not hold control characters (newlines, escapes, NUL); write it on one line",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn view(doc: &[u8]) -> RequestView {
        let v = serde_json::json!({
            "request_id": "r1", "status": "pending", "requester": "k", "requester_name": "alice",
            "document": writ_core::b64::encode(doc), "request_digest": Sha256Digest::of(doc).to_hex(),
            "summary": "s", "reason": "", "created_at": "t", "expires_at": "t", "approvals_required": 1,
            "approver_group": null, "approvals": [], "writ_id": null,
            "decision": {"outcome": "needs_approval", "determining_policies": [], "reasons": [],
                         "approvals_required": 1, "approver_group": null, "policy_digest": "d"}
        });
        serde_json::from_value(v).unwrap()
    }

    const DOC: &[u8] = br#"{"version":"writ.request/v1","id":"r1","requester":"k","requester_name":"alice","submitted_at":"2026-01-01T00:00:00Z","target":{"action":"tool","name":"t"},"reason":"","duration_secs":60,"env":{},"cwd":null,"hosts":null,"evidence_sha256":null}"#;

    #[test]
    fn sign_checks_the_document_and_round_trips() {
        let key = SigningKey::from_seed(&[9; 32]);
        let v = view(DOC);
        let t = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let vote = sign(&key, &v, Verdict::Deny, Some("not today"), t).unwrap();
        assert_eq!(vote.time, "2026-01-01T00:00:00Z");
        let (verdict, sig, time) = decode(&vote).unwrap();
        assert_eq!((verdict, time), (Verdict::Deny, t));
        assert!(verify(&key.public(), &Sha256Digest::of(DOC), Verdict::Deny, t, &sig));
        // The pinned input (writ_core::approval's vector) is what was signed.
        let input = format!(
            "DSSEv1 32 application/vnd.writ.approval.v2 97 deny sha256:{} 2026-01-01T00:00:00Z",
            Sha256Digest::of(DOC).to_hex()
        );
        assert!(key.public().verify_strict(input.as_bytes(), &sig));
        let mut bad_time = vote.clone();
        bad_time.time = "2026-01-01 00:00:00".into();
        assert_eq!(decode(&bad_time).unwrap_err().code, ApiErrorCode::Malformed);

        let mut lying = v.clone();
        lying.request_digest = Sha256Digest::of(b"other").to_hex();
        assert_eq!(sign(&key, &lying, Verdict::Approve, None, t).unwrap_err().code, ApiErrorCode::BadResponse);
        let mut other_id = v;
        other_id.request_id = "r2".into();
        assert_eq!(sign(&key, &other_id, Verdict::Approve, None, t).unwrap_err().code, ApiErrorCode::BadResponse);
        assert_eq!(
            sign(&key, &view(DOC), Verdict::Deny, Some("a\nreason: forged"), t).unwrap_err().code,
            ApiErrorCode::InvalidRequest
        );
    }

    #[test]
    fn decode_refuses_short_signatures() {
        let vote = VoteInput {
            verdict: crate::wire::VerdictName::Approve,
            signature: writ_core::b64::encode(&[0; 63]),
            time: "2026-01-01T00:00:00Z".into(),
            reason: None,
        };
        assert_eq!(decode(&vote).unwrap_err().code, ApiErrorCode::Malformed);
    }
}
