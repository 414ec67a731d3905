//! Building and signing writs (what an issuer does, minus policy and I/O).

use alloc::string::String;
use alloc::vec::Vec;

use crate::dsse::{self, IN_TOTO_PAYLOAD_TYPE};
use crate::keys::SigningKey;
use crate::model::{PREDICATE_TYPE, Predicate, STATEMENT_TYPE, Statement, subject_for};

/// Wraps a predicate in a Statement whose subjects are derived from its actions.
#[must_use]
pub fn statement(predicate: Predicate) -> Statement {
    Statement {
        statement_type: STATEMENT_TYPE.into(),
        subject: predicate.scope.actions.iter().map(subject_for).collect(),
        predicate_type: PREDICATE_TYPE.into(),
        predicate,
    }
}

/// Validates and signs a statement, returning the DSSE envelope bytes.
///
/// # Errors
/// A message when the statement breaks a format rule or the key is not the
/// predicate's `issuer`.
pub fn sign(statement: &Statement, key: &SigningKey) -> Result<Vec<u8>, String> {
    let payload = checked_payload(statement, key)?;
    Ok(dsse::sign(IN_TOTO_PAYLOAD_TYPE, &payload, key))
}

/// [`sign`] with a hybrid `ed25519+ml-dsa-65` issuer key: one DSSE
/// signature holding both halves (docs/format.md §17).
///
/// # Errors
/// As [`sign`]; when ML-DSA signing fails.
pub fn sign_hybrid(statement: &Statement, key: &crate::hybrid::HybridSigningKey) -> Result<Vec<u8>, String> {
    let payload = checked_payload(statement, key.ed25519())?;
    crate::hybrid::sign_envelope(IN_TOTO_PAYLOAD_TYPE, &payload, key).map_err(String::from)
}

/// The statement's payload bytes once it is valid and `key` is its issuer.
fn checked_payload(statement: &Statement, key: &SigningKey) -> Result<Vec<u8>, String> {
    statement.validate()?;
    if statement.predicate.issuer != key.key_id() {
        return Err(alloc::format!(
            "predicate issuer {} is not the signing key {}",
            statement.predicate.issuer,
            key.key_id()
        ));
    }
    serde_json::to_vec(statement).map_err(|e| alloc::format!("{e}"))
}
