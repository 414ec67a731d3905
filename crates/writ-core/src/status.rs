//! Signed status responses: what the authority tells an online gate about
//! one writ (valid or revoked, and the use number it just consumed).
//!
//! A status response is a DSSE envelope with payload type
//! [`STATUS_PAYLOAD_TYPE`], signed by an `issuer` key of the trust root, over
//! a [`StatusStatement`]. The gate turns it into the [`Status`] and use count
//! that [`crate::verify()`] takes in its context.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::denial::{Denial, DenialCode};
use crate::digest::{Sha256Digest, hex_str};
use crate::dsse;
use crate::keys::{KeyId, SigningKey};
use crate::time::Timestamp;
use crate::trust::{Role, TrustRoot};
use crate::verify::Status;

/// DSSE payload type of a status response.
pub const STATUS_PAYLOAD_TYPE: &str = "application/vnd.writ.status.v1+json";

/// The state of a writ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WritState {
    /// Not revoked.
    Valid,
    /// Revoked.
    Revoked,
}

/// The signed body of a status response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusStatement {
    /// The writ it is about.
    pub writ_id: String,
    /// sha256 of that writ's envelope.
    #[serde(with = "hex_str")]
    pub envelope_sha256: Sha256Digest,
    /// Valid or revoked.
    pub state: WritState,
    /// When it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The use number this response consumed (1 = first use), when it consumed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_count: Option<u32>,
    /// Uses left after this one, for limited-use writs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses_left: Option<u32>,
    /// When the authority produced this response.
    pub checked_at: Timestamp,
    /// The gate's nonce, echoed (binds the response to one request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// Signs a status statement.
#[must_use]
pub fn sign(statement: &StatusStatement, key: &SigningKey) -> Vec<u8> {
    let payload = serde_json::to_vec(statement).unwrap_or_default();
    dsse::sign(STATUS_PAYLOAD_TYPE, &payload, key)
}

/// [`sign`] with a hybrid `ed25519+ml-dsa-65` issuer key.
///
/// # Errors
/// When ML-DSA signing fails.
pub fn sign_hybrid(
    statement: &StatusStatement,
    key: &crate::hybrid::HybridSigningKey,
) -> Result<Vec<u8>, &'static str> {
    let payload = serde_json::to_vec(statement).unwrap_or_default();
    crate::hybrid::sign_envelope(STATUS_PAYLOAD_TYPE, &payload, key)
}

/// What a verified status response says, ready for a [`crate::Context`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedStatus {
    /// For `Context::status`.
    pub status: Status,
    /// For `Context::use_count`.
    pub use_count: Option<u32>,
    /// The statement.
    pub statement: StatusStatement,
}

/// Verifies a status response for the writ with `writ_id`, envelope digest
/// `envelope` and issuer key `issuer` (`predicate.issuer`), optionally bound
/// to `nonce` (`docs/format.md` §9.2).
///
/// Only a signature by the writ's own issuer key counts, and only when that
/// key is not revoked and its window contains the response's `checked_at`:
/// another issuer key of the same trust root cannot speak for this writ.
///
/// # Errors
/// `status_unknown` when the response is malformed, not signed by the writ's
/// issuer key inside its window, or about another writ or nonce.
pub fn open(
    bytes: &[u8],
    trust: &TrustRoot,
    issuer: &KeyId,
    writ_id: &str,
    envelope: &Sha256Digest,
    nonce: Option<&str>,
) -> Result<CheckedStatus, Denial> {
    let unknown = |d: String| Denial::new(DenialCode::StatusUnknown, d);
    let env = dsse::decode(bytes).map_err(|e| unknown(alloc::format!("status response: {e}")))?;
    if env.payload_type != STATUS_PAYLOAD_TYPE {
        return Err(unknown(alloc::format!("status response has payloadType `{}`", env.payload_type)));
    }
    let input = env.signing_input();
    let key = trust
        .key(issuer)
        .filter(|k| k.has_role(Role::Issuer) && !k.entry.revoked)
        .ok_or_else(|| unknown(alloc::format!("the writ's issuer key {issuer} is not a current issuer key")))?;
    let signed = env.signatures.iter().any(|(kid, sig)| kid == issuer && key.verify_signature(&input, sig).is_ok());
    if !signed {
        return Err(unknown("status response is not signed by the writ's issuer key".into()));
    }
    let st: StatusStatement =
        crate::json::from_slice(&env.payload).map_err(|e| unknown(alloc::format!("status response: {e}")))?;
    if !key.valid_at(st.checked_at) {
        return Err(unknown(alloc::format!(
            "status response is dated {}, outside the window of issuer key `{}`",
            st.checked_at,
            key.entry.name
        )));
    }
    if st.writ_id != writ_id || st.envelope_sha256 != *envelope {
        return Err(unknown("status response is about another writ".into()));
    }
    if nonce.is_some() && st.nonce.as_deref() != nonce {
        return Err(unknown("status response does not echo this gate's nonce".into()));
    }
    let status = match st.state {
        WritState::Valid => Status::Good { checked_at: st.checked_at },
        WritState::Revoked => Status::Revoked { at: st.revoked_at.unwrap_or(st.checked_at) },
    };
    Ok(CheckedStatus { status, use_count: st.use_count, statement: st })
}

#[cfg(all(test, feature = "fixtures"))]
mod tests {
    use super::*;
    use crate::fixtures;

    fn statement() -> StatusStatement {
        StatusStatement {
            writ_id: "w".into(),
            envelope_sha256: Sha256Digest([1; 32]),
            state: WritState::Valid,
            revoked_at: None,
            reason: None,
            use_count: Some(1),
            uses_left: Some(0),
            checked_at: fixtures::NOW,
            nonce: Some("n1".into()),
        }
    }

    #[test]
    fn round_trip_and_binding() {
        let trust = fixtures::trust_root(false);
        let bytes = sign(&statement(), &fixtures::issuer());
        let iss = fixtures::issuer().key_id();
        let c = open(&bytes, &trust, &iss, "w", &Sha256Digest([1; 32]), Some("n1")).unwrap();
        assert_eq!(c.status, Status::Good { checked_at: fixtures::NOW });
        assert_eq!(c.use_count, Some(1));
        for (id, d, n) in [("x", [1; 32], "n1"), ("w", [2; 32], "n1"), ("w", [1; 32], "n2")] {
            let e = open(&bytes, &trust, &iss, id, &Sha256Digest(d), Some(n)).unwrap_err();
            assert_eq!(e.code, DenialCode::StatusUnknown);
        }
        let forged = sign(&statement(), &fixtures::alice());
        assert!(open(&forged, &trust, &iss, "w", &Sha256Digest([1; 32]), None).is_err());
    }

    /// Regression (issue 10 item 8): any issuer key of the trust root could
    /// answer for any writ, and a retired key's window was ignored.
    #[test]
    fn only_the_writs_issuer_inside_its_window() {
        let trust = fixtures::trust_root(false);
        let iss = fixtures::issuer().key_id();
        let d = Sha256Digest([1; 32]);
        // Another issuer key (retired, but the point is: not this writ's).
        let other = sign(&statement(), &fixtures::retired_issuer());
        assert_eq!(open(&other, &trust, &iss, "w", &d, None).unwrap_err().code, DenialCode::StatusUnknown);
        // The retired key answering for its own writ after its window closed.
        let retired = fixtures::retired_issuer().key_id();
        assert!(open(&other, &trust, &retired, "w", &d, None).is_err());
        let mut early = statement();
        early.checked_at = fixtures::T0.plus(-2 * 86_400);
        let inside = sign(&early, &fixtures::retired_issuer());
        assert!(open(&inside, &trust, &retired, "w", &d, Some("n1")).is_ok());
    }
}
