//! A writ decoded once and read without trusting it.
//!
//! A gate needs a few of a writ's *claims* before it can verify it: which
//! program a bare name means, which environment variables and working
//! directory to build the attempt from, which writ id to label a denial
//! with, whether it may run offline. [`Unverified`] decodes the envelope and
//! its payload once, leniently (an unknown field does not stop a denial from
//! being labelled), and answers those questions. Nothing it returns is
//! trusted: the attempt it helps build is then checked by
//! [`verify`](crate::verify), and [`Verified`](crate::Verified) stays the
//! only way to trusted claims.
//!
//! ```
//! use writ_core::Unverified;
//! let w = Unverified::decode(&writ_core::fixtures::sign(writ_core::fixtures::predicate())).unwrap();
//! assert_eq!(w.id(), Some(writ_core::fixtures::predicate().id.as_str()));
//! assert_eq!(Unverified::decode(b"nope").unwrap_err().code.as_str(), "malformed");
//! ```

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;

use serde_json::Value;

use crate::denial::{Denial, DenialCode};
use crate::digest::Sha256Digest;
use crate::dsse::{self, DecodedEnvelope};
use crate::keys::KeyId;
use crate::limits::MAX_ENVELOPE_BYTES;

/// Longest writ id [`Unverified::id`] returns (longer claims are not ids).
pub const MAX_CLAIMED_ID_LEN: usize = 128;

/// A decoded, **unverified** writ: the envelope, its payload as JSON, and
/// the digest of the envelope bytes.
#[derive(Clone, Debug)]
pub struct Unverified {
    envelope: DecodedEnvelope,
    statement: Value,
    envelope_digest: Sha256Digest,
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

impl Unverified {
    /// Decodes `bytes` (a DSSE envelope) and its payload as JSON.
    ///
    /// # Errors
    /// `too_large` above [`MAX_ENVELOPE_BYTES`]; `malformed` when the
    /// envelope does not decode or its payload is not a JSON object.
    pub fn decode(bytes: &[u8]) -> Result<Self, Denial> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(Denial::new(
                DenialCode::TooLarge,
                alloc::format!("writ is {} bytes; the limit is {MAX_ENVELOPE_BYTES}", bytes.len()),
            ));
        }
        let envelope = dsse::decode(bytes).map_err(|e| Denial::new(DenialCode::Malformed, e))?;
        let statement: Value = serde_json::from_slice(&envelope.payload)
            .map_err(|e| Denial::new(DenialCode::Malformed, alloc::format!("payload is not JSON: {e}")))?;
        if !statement.is_object() {
            return Err(Denial::new(DenialCode::Malformed, "payload is not a JSON object"));
        }
        Ok(Self { envelope, statement, envelope_digest: Sha256Digest::of(bytes) })
    }

    /// The writ id `bytes` claims, if they decode and claim a short one (for
    /// labelling a denial record; never trusted).
    #[must_use]
    pub fn claimed_id(bytes: &[u8]) -> Option<String> {
        Self::decode(bytes).ok()?.id().map(str::to_string)
    }

    /// The claimed writ id (`predicate.id`), when at most
    /// [`MAX_CLAIMED_ID_LEN`] bytes.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        str_at(&self.statement, "/predicate/id").filter(|id| id.len() <= MAX_CLAIMED_ID_LEN)
    }

    /// The claimed issuer key id (`predicate.issuer`).
    #[must_use]
    pub fn issuer(&self) -> Option<KeyId> {
        str_at(&self.statement, "/predicate/issuer").and_then(|s| KeyId::parse(s).ok())
    }

    /// The claimed request id (`predicate.request.id`).
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        str_at(&self.statement, "/predicate/request/id").filter(|id| id.len() <= MAX_CLAIMED_ID_LEN)
    }

    /// The statement's subjects as `(name, sha256 hex)`.
    #[must_use]
    pub fn subjects(&self) -> Vec<(&str, Option<&str>)> {
        self.statement
            .get("subject")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| Some((s.get("name")?.as_str()?, str_at(s, "/digest/sha256")))).collect())
            .unwrap_or_default()
    }

    /// The absolute paths of the claimed `exec` actions, in order.
    #[must_use]
    pub fn exec_programs(&self) -> Vec<&str> {
        self.statement
            .pointer("/predicate/scope/actions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| str_at(x, "/exec/program")).collect())
            .unwrap_or_default()
    }

    /// The claimed environment allow-list: name → fixed value (`None` = the
    /// caller's value may pass).
    #[must_use]
    pub fn env(&self) -> BTreeMap<String, Option<String>> {
        self.statement
            .pointer("/predicate/scope/environment/env")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_string))).collect())
            .unwrap_or_default()
    }

    /// The claimed working directory.
    #[must_use]
    pub fn cwd(&self) -> Option<&str> {
        str_at(&self.statement, "/predicate/scope/environment/cwd")
    }

    /// Whether it claims it may run offline (`scope.offline`).
    #[must_use]
    pub fn offline(&self) -> bool {
        self.statement.pointer("/predicate/scope/offline").and_then(Value::as_bool).unwrap_or(false)
    }

    /// The claimed use count (`scope.uses`).
    #[must_use]
    pub fn uses(&self) -> Option<u64> {
        self.statement.pointer("/predicate/scope/uses").and_then(Value::as_u64)
    }

    /// The envelope's `payloadType`.
    #[must_use]
    pub fn payload_type(&self) -> &str {
        &self.envelope.payload_type
    }

    /// Key ids of the envelope's signatures, in order.
    #[must_use]
    pub fn signers(&self) -> Vec<KeyId> {
        self.envelope.signatures.iter().map(|(k, _)| *k).collect()
    }

    /// The payload, parsed as JSON (for display).
    #[must_use]
    pub fn statement(&self) -> &Value {
        &self.statement
    }

    /// sha256 of the envelope bytes.
    #[must_use]
    pub fn envelope_digest(&self) -> Sha256Digest {
        self.envelope_digest
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::fixtures;

    #[test]
    fn reads_the_claims_of_a_writ_without_a_trust_root() {
        let p = fixtures::predicate();
        let bytes = fixtures::sign(p.clone());
        let w = Unverified::decode(&bytes).unwrap();
        assert_eq!(w.id(), Some(p.id.as_str()));
        assert_eq!(w.issuer(), Some(p.issuer));
        assert_eq!(w.request_id(), Some(p.request.id.as_str()));
        assert_eq!(w.offline(), p.scope.offline);
        assert_eq!(w.envelope_digest(), Sha256Digest::of(&bytes));
        let programs: Vec<String> = p
            .scope
            .actions
            .iter()
            .filter_map(|a| match a {
                crate::model::Action::Exec(e) => Some(e.program.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(w.exec_programs(), programs.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(w.env().len(), p.scope.environment.env.0.len());
        assert_eq!(w.cwd(), p.scope.environment.cwd.as_deref());
        assert_eq!(w.signers().len(), 1);
        assert!(!w.subjects().is_empty());
    }

    #[test]
    fn a_tampered_writ_still_decodes_but_verify_refuses_it() {
        // Unverified reads claims of any well-formed envelope; trust is verify's.
        let mut p = fixtures::predicate();
        p.id = "x".repeat(MAX_CLAIMED_ID_LEN + 1);
        let w = Unverified::decode(&fixtures::sign(p)).unwrap();
        assert_eq!(w.id(), None, "an over-long id is not returned");
    }

    #[test]
    fn bad_bytes_are_malformed_or_too_large() {
        assert_eq!(Unverified::decode(b"{}").unwrap_err().code, DenialCode::Malformed);
        let big = alloc::vec![b' '; MAX_ENVELOPE_BYTES + 1];
        assert_eq!(Unverified::decode(&big).unwrap_err().code, DenialCode::TooLarge);
        assert_eq!(Unverified::claimed_id(b"nope"), None);
    }
}
