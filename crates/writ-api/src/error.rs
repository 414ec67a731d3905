//! The one error type of the authority's contract.

use core::fmt;

/// Every reason the authority (or the way to it) can refuse or fail a call.
///
/// The names are part of the public contract: they are the `code` of the
/// HTTP error body (`{"error": {"code", "message"}}`, see `docs/api.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ApiErrorCode {
    /// The input is not well-formed.
    Malformed,
    /// A value is out of bounds or inconsistent.
    InvalidRequest,
    /// A signature (request, approval, evidence) does not verify.
    BadSignature,
    /// Runtime evidence was refused.
    BadEvidence,
    /// The caller is not authenticated (no or bad request signature).
    Unauthenticated,
    /// The request signature's `created` is outside the accepted window.
    StaleSignature,
    /// The signed request was already received (its nonce was seen).
    ReplayedSignature,
    /// The caller's key is not in the trust root (or is revoked).
    UnknownKey,
    /// The caller lacks the role.
    Forbidden,
    /// Nobody approves their own request.
    SelfApproval,
    /// The approver is not in the required group.
    NotInGroup,
    /// No such request.
    UnknownRequest,
    /// No such writ.
    UnknownWrit,
    /// The approver already voted.
    AlreadyVoted,
    /// The request is no longer pending.
    RequestNotPending,
    /// The request expired before quorum.
    RequestExpired,
    /// The writ is already revoked.
    AlreadyRevoked,
    /// All uses of the writ are consumed.
    Replayed,
    /// The request asks for more than policy allows (boundaries, uses). (H2)
    ExceedsPolicy,
    /// The request sets a loader or interpreter variable (`LD_*`,
    /// `PYTHON*`, …) that no policy permits by name (`@allow_env`). (H2)
    LoaderVariable,
    /// A delegated writ the authority will not record: its chain does not
    /// verify to a writ this authority issued, or it asks for more than
    /// its parent has left. The message starts with the precise code
    /// (`delegation_widened`, `delegation_signature`, `delegation_depth`,
    /// `lineage_broken`, `delegation_uses`, `delegation_unknown_parent`,
    /// `delegation_revoked`, …).
    DelegationRefused,
    /// Control characters, escape sequences or newlines in text shown to a
    /// person, or NUL anywhere. (H2)
    UnsafeText,
    /// The authority is overloaded; retry later.
    Busy,
    /// The authority cannot serve (ledger, database, configuration).
    Unavailable,
    /// A route or resource that does not exist.
    NotFound,
    /// The request body is too large.
    TooLarge,
    /// The route exists, the method does not.
    MethodNotAllowed,
    /// The call did not finish within the authority's deadline; nothing
    /// was committed (retry with the same idempotency key).
    Timeout,
    /// The authority failed internally.
    Internal,
    /// Client side: the authority could not be reached (network, TLS, timeout).
    Transport,
    /// Client side: the answer was not what the contract says (not JSON,
    /// wrong shape, an unverifiable acknowledgement).
    BadResponse,
}

impl ApiErrorCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::Malformed,
        Self::InvalidRequest,
        Self::BadSignature,
        Self::BadEvidence,
        Self::Unauthenticated,
        Self::StaleSignature,
        Self::ReplayedSignature,
        Self::UnknownKey,
        Self::Forbidden,
        Self::SelfApproval,
        Self::NotInGroup,
        Self::UnknownRequest,
        Self::UnknownWrit,
        Self::AlreadyVoted,
        Self::RequestNotPending,
        Self::RequestExpired,
        Self::AlreadyRevoked,
        Self::Replayed,
        Self::ExceedsPolicy,
        Self::LoaderVariable,
        Self::DelegationRefused,
        Self::UnsafeText,
        Self::Busy,
        Self::Unavailable,
        Self::NotFound,
        Self::TooLarge,
        Self::MethodNotAllowed,
        Self::Timeout,
        Self::Internal,
        Self::Transport,
        Self::BadResponse,
    ];

    /// The stable snake_case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::InvalidRequest => "invalid_request",
            Self::BadSignature => "bad_signature",
            Self::BadEvidence => "bad_evidence",
            Self::Unauthenticated => "unauthenticated",
            Self::StaleSignature => "stale_signature",
            Self::ReplayedSignature => "replayed_signature",
            Self::UnknownKey => "unknown_key",
            Self::Forbidden => "forbidden",
            Self::SelfApproval => "self_approval",
            Self::NotInGroup => "not_in_group",
            Self::UnknownRequest => "unknown_request",
            Self::UnknownWrit => "unknown_writ",
            Self::AlreadyVoted => "already_voted",
            Self::RequestNotPending => "request_not_pending",
            Self::RequestExpired => "request_expired",
            Self::AlreadyRevoked => "already_revoked",
            Self::Replayed => "replayed",
            Self::ExceedsPolicy => "exceeds_policy",
            Self::LoaderVariable => "loader_variable",
            Self::DelegationRefused => "delegation_refused",
            Self::UnsafeText => "unsafe_text",
            Self::Busy => "busy",
            Self::Unavailable => "unavailable",
            Self::NotFound => "not_found",
            Self::TooLarge => "too_large",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Timeout => "timeout",
            Self::Internal => "internal",
            Self::Transport => "transport",
            Self::BadResponse => "bad_response",
        }
    }

    /// The code named `s`, if it is one.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// The HTTP status the server answers this code with.
    #[must_use]
    pub const fn http_status(self) -> u16 {
        match self {
            Self::Malformed | Self::InvalidRequest | Self::BadSignature | Self::BadEvidence | Self::UnsafeText => 400,
            Self::Unauthenticated | Self::StaleSignature | Self::ReplayedSignature | Self::UnknownKey => 401,
            Self::Forbidden
            | Self::SelfApproval
            | Self::NotInGroup
            | Self::ExceedsPolicy
            | Self::LoaderVariable
            | Self::DelegationRefused => 403,
            Self::UnknownRequest | Self::UnknownWrit | Self::NotFound => 404,
            Self::AlreadyVoted
            | Self::RequestNotPending
            | Self::RequestExpired
            | Self::AlreadyRevoked
            | Self::Replayed => 409,
            Self::MethodNotAllowed => 405,
            Self::Timeout => 408,
            Self::TooLarge => 413,
            Self::Busy | Self::Unavailable => 503,
            Self::Internal => 500,
            Self::Transport | Self::BadResponse => 502,
        }
    }
}

impl ApiErrorCode {
    /// Whether the caller was refused (a decision: exit 77 in the CLI), as
    /// opposed to a failure (bad input, the authority or the way to it).
    #[must_use]
    pub const fn is_refusal(self) -> bool {
        matches!(self.http_status(), 401 | 403 | 409)
    }

    /// Whether the failure is in the authority or the way to it (retrying may help).
    #[must_use]
    pub const fn is_unavailable(self) -> bool {
        matches!(
            self,
            Self::Busy | Self::Unavailable | Self::Internal | Self::Transport | Self::BadResponse | Self::Timeout
        )
    }
}

impl fmt::Display for ApiErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused or failed call: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The stable code.
    pub code: ApiErrorCode,
    /// What happened and, where possible, what to do (lowercase, no final period).
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ApiErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ApiErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate name {c}");
            assert_eq!(ApiErrorCode::parse(c.as_str()), Some(*c));
            let json = serde_json::to_string(c).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert_eq!(ApiErrorCode::parse("no_such_code"), None);
        assert_eq!(seen.len(), ApiErrorCode::ALL.len());
    }

    #[test]
    fn every_code_has_an_error_status() {
        for c in ApiErrorCode::ALL {
            assert!((400..600).contains(&c.http_status()), "{c}");
        }
        assert_eq!(ApiErrorCode::StaleSignature.http_status(), 401);
        assert_eq!(ApiErrorCode::Replayed.http_status(), 409);
        assert!(ApiErrorCode::SelfApproval.is_refusal());
        assert!(!ApiErrorCode::Malformed.is_refusal());
    }
}
