//! What operators, requesters and approvers need from the authority.

use crate::ApiError;
use crate::ApiErrorCode;
use crate::wire::{NonceView, RequestInput, RequestView, VoteInput, WritView};

/// Longest idempotency key.
pub const MAX_IDEMPOTENCY_KEY: usize = 64;
/// Shortest idempotency key (a client that picks keys must pick unguessable ones).
pub const MIN_IDEMPOTENCY_KEY: usize = 16;

/// A client-chosen key that makes a mutating call safe to retry: the
/// authority stores the outcome of the first call with a key (per caller) and
/// answers a retry with the same key with that outcome, never doing the work
/// twice. Sent as the `Idempotency-Key` HTTP header.
///
/// 16 to 64 characters of `A-Z a-z 0-9 - _`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A key from text.
    ///
    /// # Errors
    /// `invalid_request` when it is not 16 to 64 characters of `A-Za-z0-9-_`.
    pub fn new(text: &str) -> Result<Self, ApiError> {
        if (MIN_IDEMPOTENCY_KEY..=MAX_IDEMPOTENCY_KEY).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Ok(Self(text.to_string()))
        } else {
            Err(ApiError::new(
                ApiErrorCode::InvalidRequest,
                format!(
                    "`Idempotency-Key` must be {MIN_IDEMPOTENCY_KEY} to {MAX_IDEMPOTENCY_KEY} characters of A-Z, a-z, 0-9, `-` and `_`"
                ),
            ))
        }
    }

    /// A fresh random key (128 bits, hex).
    ///
    /// # Errors
    /// `internal` when the operating system gives no randomness.
    pub fn random() -> Result<Self, ApiError> {
        let mut b = [0u8; 16];
        getrandom::getrandom(&mut b)
            .map_err(|e| ApiError::new(ApiErrorCode::Internal, format!("no randomness from the OS: {e}")))?;
        Ok(Self(hex::encode(b)))
    }

    /// The key's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The authority as its people see it. Every call is made as one key (the
/// implementation's caller); the authority decides what that key may do.
///
/// Implemented in-process by `writ_authority::api::Local` and over HTTP by
/// `writ_client::Client`; the CLI holds a `dyn OperatorApi` and never knows
/// which. Mutating calls take an [`IdempotencyKey`]: retrying a call with the
/// same key returns the first outcome.
pub trait OperatorApi: Send + Sync {
    /// Submit a request for a writ. A policy denial is not an error: the
    /// view's `status` says `denied`.
    ///
    /// # Errors
    /// `forbidden` without the requester role; `invalid_request` /
    /// `malformed` input; `bad_evidence`; transport and authority failures.
    fn submit(&self, input: &RequestInput, key: &IdempotencyKey) -> Result<RequestView, ApiError>;

    /// Requests waiting for votes (approvers and operators).
    ///
    /// # Errors
    /// `forbidden` without the approver role.
    fn pending(&self) -> Result<Vec<RequestView>, ApiError>;

    /// One request; its requester (and operators) also get the writ once issued.
    ///
    /// # Errors
    /// `unknown_request`; `forbidden`.
    fn request(&self, id: &str) -> Result<RequestView, ApiError>;

    /// A vote (see [`crate::approval::sign`]).
    ///
    /// # Errors
    /// `self_approval`, `not_in_group`, `already_voted`,
    /// `request_not_pending`, `request_expired`, `bad_signature`, `forbidden`.
    fn vote(&self, id: &str, vote: &VoteInput, key: &IdempotencyKey) -> Result<RequestView, ApiError>;

    /// Revoke a writ.
    ///
    /// # Errors
    /// `unknown_writ`, `already_revoked`, `forbidden`, `invalid_request`.
    fn revoke(&self, writ_id: &str, reason: &str, key: &IdempotencyKey) -> Result<WritView, ApiError>;

    /// A writ's state and envelope (its requester, the request's approvers and operators).
    ///
    /// # Errors
    /// `unknown_writ`, `forbidden`.
    fn writ(&self, writ_id: &str) -> Result<WritView, ApiError>;

    /// A signed status response for a writ, consuming nothing; open it with
    /// `writ_core::status::open`.
    ///
    /// # Errors
    /// `unknown_writ`.
    fn status(&self, writ_id: &str, nonce: Option<&str>) -> Result<Vec<u8>, ApiError>;

    /// A fresh runtime-evidence nonce.
    ///
    /// # Errors
    /// Authority failures.
    fn nonce(&self) -> Result<NonceView, ApiError>;

    /// Records a delegated writ (`POST /v1/delegations`): the child, signed
    /// by its parent's holder key, with its ancestors. Safe to retry: the
    /// same child is answered with its first record.
    ///
    /// # Errors
    /// `delegation_refused` (the message starts with the precise code),
    /// `forbidden` (a caller without the requester or issuer role),
    /// `malformed`.
    fn delegate(
        &self,
        input: &crate::delegation::DelegationInput,
    ) -> Result<crate::delegation::DelegationView, ApiError>;

    /// A recorded delegated writ (`GET /v1/delegations/{id}`), for those
    /// who may read the writ.
    ///
    /// # Errors
    /// `unknown_writ`, `forbidden`.
    fn delegation(&self, writ_id: &str) -> Result<crate::delegation::DelegationView, ApiError>;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(IdempotencyKey::new("0123456789abcdef").is_ok());
        assert!(IdempotencyKey::new(&"a".repeat(64)).is_ok());
        for bad in ["", "short", &"a".repeat(65), "0123456789abcdef\n", "0123456789abcdef ", "0123456789abcdé"] {
            assert_eq!(IdempotencyKey::new(bad).unwrap_err().code, ApiErrorCode::InvalidRequest, "{bad:?}");
        }
        let a = IdempotencyKey::random().unwrap();
        assert_eq!(IdempotencyKey::new(a.as_str()).unwrap(), a);
        assert_ne!(IdempotencyKey::random().unwrap(), a);
    }
}
