//! The authority's errors, each with a stable snake_case code.

/// Everything the authority can refuse or fail with.
///
/// [`AuthorityError::code`] is part of the public contract (it is the `code`
/// of the HTTP error body, see `docs/api.md`); [`AuthorityError::kind`] says
/// which class of answer it is.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    /// The input is not well-formed.
    #[error("{0}")]
    Malformed(String),
    /// A value is out of bounds or inconsistent.
    #[error("{0}")]
    InvalidRequest(String),
    /// An approval or evidence signature does not verify.
    #[error("{0}")]
    BadSignature(String),
    /// Runtime evidence was refused.
    #[error("{0}")]
    BadEvidence(String),
    /// The caller's key is not in the trust root (or is revoked).
    #[error("key {0} is not in the authority's trust root; add it with `writ trust add`")]
    UnknownKey(String),
    /// The caller lacks the role.
    #[error("{0}")]
    Forbidden(String),
    /// Nobody approves their own request.
    #[error("you cannot vote on your own request; ask another approver")]
    SelfApproval,
    /// The approver is not in the group the policy requires.
    #[error("approvals for this request must come from group `{0}`, and your key is not in it")]
    NotInGroup(String),
    /// No such request.
    #[error("no request `{0}`; list requests with `writ pending`")]
    UnknownRequest(String),
    /// No such writ.
    #[error("no writ `{0}`")]
    UnknownWrit(String),
    /// The approver already voted.
    #[error("you already voted on request `{0}`; each approver counts once")]
    AlreadyVoted(String),
    /// The request is no longer pending.
    #[error("request `{id}` is {status}, not pending")]
    NotPending {
        /// Request id.
        id: String,
        /// Its status.
        status: String,
    },
    /// The request expired before quorum.
    #[error("request `{0}` expired before it was approved; submit it again")]
    Expired(String),
    /// Revoking twice.
    #[error("writ `{0}` is already revoked")]
    AlreadyRevoked(String),
    /// All uses are consumed.
    #[error("writ `{0}` has no uses left")]
    Replayed(String),
    /// The request asks for more than policy allows (boundaries, uses).
    #[error("{0}")]
    ExceedsPolicy(String),
    /// A loader or interpreter variable no policy permits by name.
    #[error("{0}")]
    LoaderVariable(String),
    /// A delegated writ the authority will not record; the message starts
    /// with the precise code (`delegation_widened: …`).
    #[error("{0}")]
    DelegationRefused(String),
    /// Control characters, escape sequences or newlines in text shown to a
    /// person, or NUL anywhere.
    #[error("{0}")]
    UnsafeText(String),
    /// The call's deadline passed before it committed; nothing was stored.
    #[error("the call did not finish before its deadline and nothing was stored; retry with the same idempotency key")]
    Timeout,
    /// The ledger queue is full.
    #[error("the authority is busy; retry shortly")]
    Busy,
    /// Setup problems (home, keys, policy files).
    #[error("{0}")]
    Config(String),
    /// Ledger failure.
    #[error(transparent)]
    Ledger(#[from] writ_ledger::LedgerError),
    /// State database failure.
    #[error("state database: {0}")]
    Database(String),
    /// Anything else that is our fault.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The class of an error, which the server maps to an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400
    BadInput,
    /// 401
    Unauthenticated,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 409
    Conflict,
    /// 503
    Unavailable,
    /// 500
    Internal,
}

impl AuthorityError {
    /// The stable reason code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::InvalidRequest(_) => "invalid_request",
            Self::BadSignature(_) => "bad_signature",
            Self::BadEvidence(_) => "bad_evidence",
            Self::UnknownKey(_) => "unknown_key",
            Self::Forbidden(_) => "forbidden",
            Self::SelfApproval => "self_approval",
            Self::NotInGroup(_) => "not_in_group",
            Self::UnknownRequest(_) => "unknown_request",
            Self::UnknownWrit(_) => "unknown_writ",
            Self::AlreadyVoted(_) => "already_voted",
            Self::NotPending { .. } => "request_not_pending",
            Self::Expired(_) => "request_expired",
            Self::AlreadyRevoked(_) => "already_revoked",
            Self::Replayed(_) => "replayed",
            Self::ExceedsPolicy(_) => "exceeds_policy",
            Self::LoaderVariable(_) => "loader_variable",
            Self::DelegationRefused(_) => "delegation_refused",
            Self::UnsafeText(_) => "unsafe_text",
            Self::Timeout => "timeout",
            Self::Busy | Self::Ledger(writ_ledger::LedgerError::Busy { .. }) => "busy",
            Self::Config(_) | Self::Ledger(_) | Self::Database(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The class of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Malformed(_)
            | Self::InvalidRequest(_)
            | Self::BadSignature(_)
            | Self::BadEvidence(_)
            | Self::UnsafeText(_) => ErrorKind::BadInput,
            Self::UnknownKey(_) => ErrorKind::Unauthenticated,
            Self::Forbidden(_)
            | Self::SelfApproval
            | Self::NotInGroup(_)
            | Self::ExceedsPolicy(_)
            | Self::LoaderVariable(_)
            | Self::DelegationRefused(_) => ErrorKind::Forbidden,
            Self::UnknownRequest(_) | Self::UnknownWrit(_) => ErrorKind::NotFound,
            Self::AlreadyVoted(_)
            | Self::NotPending { .. }
            | Self::Expired(_)
            | Self::AlreadyRevoked(_)
            | Self::Replayed(_) => ErrorKind::Conflict,
            Self::Busy | Self::Timeout | Self::Config(_) | Self::Ledger(_) | Self::Database(_) => {
                ErrorKind::Unavailable
            }
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<rusqlite::Error> for AuthorityError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.to_string())
    }
}

impl From<postgres::Error> for AuthorityError {
    fn from(e: postgres::Error) -> Self {
        Self::Database(e.to_string())
    }
}

/// Result alias.
pub type Result<T, E = AuthorityError> = std::result::Result<T, E>;
