//! The authority in-process as the contract's roles: [`Local`] implements
//! [`GateApi`] and [`OperatorApi`] over an [`Authority`], acting as one key.
//! Time comes from the system clock here (the use cases below take it as an
//! argument); errors become [`ApiError`]s with their [`ApiErrorCode`].
//!
//! ```
//! use std::sync::Arc;
//! use writ_api::OperatorApi;
//! use writ_authority::{Authority, Config, api::Local, home};
//! let dir = tempfile::tempdir().unwrap();
//! home::init(dir.path()).unwrap();
//! let authority = Arc::new(Authority::open(&Config::new(dir.path())).unwrap());
//! let operator = Local::operator(authority);
//! assert!(operator.pending().unwrap().is_empty());
//! let e = operator.writ("01234567-89ab-7def-8123-456789abcdef").unwrap_err();
//! assert_eq!(e.code, writ_api::ApiErrorCode::UnknownWrit);
//! ```

use std::sync::Arc;

use writ_api::wire::{NonceView, RequestInput, RequestView, VoteInput, WritView};
use writ_api::{ApiError, ApiErrorCode, GateApi, IdempotencyKey, OperatorApi, RecordAck, StartAck, approval};
use writ_core::trust::Role;
use writ_core::{KeyId, Timestamp};

use crate::{Authority, AuthorityError, CallOptions, Identity};

/// The authority's call options for a call with `key`.
fn opts(key: &IdempotencyKey) -> CallOptions {
    CallOptions::with_key(key.as_str())
}

impl From<AuthorityError> for ApiError {
    fn from(e: AuthorityError) -> Self {
        let code = match &e {
            AuthorityError::Malformed(_) => ApiErrorCode::Malformed,
            AuthorityError::InvalidRequest(_) => ApiErrorCode::InvalidRequest,
            AuthorityError::BadSignature(_) => ApiErrorCode::BadSignature,
            AuthorityError::BadEvidence(_) => ApiErrorCode::BadEvidence,
            AuthorityError::UnknownKey(_) => ApiErrorCode::UnknownKey,
            AuthorityError::Forbidden(_) => ApiErrorCode::Forbidden,
            AuthorityError::SelfApproval => ApiErrorCode::SelfApproval,
            AuthorityError::NotInGroup(_) => ApiErrorCode::NotInGroup,
            AuthorityError::UnknownRequest(_) => ApiErrorCode::UnknownRequest,
            AuthorityError::UnknownWrit(_) => ApiErrorCode::UnknownWrit,
            AuthorityError::AlreadyVoted(_) => ApiErrorCode::AlreadyVoted,
            AuthorityError::NotPending { .. } => ApiErrorCode::RequestNotPending,
            AuthorityError::Expired(_) => ApiErrorCode::RequestExpired,
            AuthorityError::AlreadyRevoked(_) => ApiErrorCode::AlreadyRevoked,
            AuthorityError::Replayed(_) => ApiErrorCode::Replayed,
            AuthorityError::ExceedsPolicy(_) => ApiErrorCode::ExceedsPolicy,
            AuthorityError::LoaderVariable(_) => ApiErrorCode::LoaderVariable,
            AuthorityError::DelegationRefused(_) => ApiErrorCode::DelegationRefused,
            AuthorityError::UnsafeText(_) => ApiErrorCode::UnsafeText,
            AuthorityError::Timeout => ApiErrorCode::Timeout,
            AuthorityError::Busy | AuthorityError::Ledger(writ_ledger::LedgerError::Busy { .. }) => ApiErrorCode::Busy,
            AuthorityError::Config(_) | AuthorityError::Ledger(_) | AuthorityError::Database(_) => {
                ApiErrorCode::Unavailable
            }
            AuthorityError::Internal(_) => ApiErrorCode::Internal,
        };
        Self::new(code, e.to_string())
    }
}

/// The current time from the system clock.
///
/// # Errors
/// `internal` when the clock is before 1970 or out of range.
pub fn now() -> Result<Timestamp, ApiError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ApiError::new(ApiErrorCode::Internal, "the system clock is before 1970"))?
        .as_secs();
    i64::try_from(secs)
        .ok()
        .and_then(Timestamp::from_unix)
        .ok_or_else(|| ApiError::new(ApiErrorCode::Internal, "the system clock is out of range"))
}

/// A writ's view for `caller`: its requester, the approvers who voted on its
/// request, and operators (issuer keys) only — a writ is a bearer artifact.
///
/// # Errors
/// `unknown_writ`; `forbidden` for anyone else.
pub fn writ_for(authority: &Authority, caller: &Identity, writ_id: &str) -> Result<WritView, AuthorityError> {
    let w = authority.writ(writ_id)?;
    if caller.has(Role::Issuer) {
        return Ok(w);
    }
    let forbidden = || {
        AuthorityError::Forbidden(
            "only the writ's requester, its request's approvers and operators may read a writ".into(),
        )
    };
    let r = match authority.request(caller, &w.request_id) {
        Ok(r) => r,
        Err(AuthorityError::Forbidden(_)) => return Err(forbidden()),
        Err(e) => return Err(e),
    };
    let me = caller.key_id.to_string();
    if r.requester == me || r.approvals.iter().any(|v| v.approver == me) { Ok(w) } else { Err(forbidden()) }
}

/// The authority in-process, acting as one key.
#[derive(Debug, Clone)]
pub struct Local {
    authority: Arc<Authority>,
    caller: KeyId,
}

impl Local {
    /// Calls made as `caller` (identified anew at each call, so a key revoked
    /// in the trust root stops at once).
    #[must_use]
    pub fn new(authority: Arc<Authority>, caller: KeyId) -> Self {
        Self { authority, caller }
    }

    /// Calls made as the operator (the issuer key of the home).
    #[must_use]
    pub fn operator(authority: Arc<Authority>) -> Self {
        let caller = authority.issuer_key_id();
        Self { authority, caller }
    }

    /// The authority.
    #[must_use]
    pub fn authority(&self) -> &Arc<Authority> {
        &self.authority
    }

    fn who(&self) -> Result<(Identity, Timestamp), ApiError> {
        let now = now()?;
        Ok((self.authority.identify(&self.caller, now)?, now))
    }
}

impl GateApi for Local {
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, ApiError> {
        let (who, now) = self.who()?;
        Ok(self.authority.status(&who, writ_id, consume, Some(nonce.to_string()), now)?)
    }

    fn record(&self, entry: &[u8]) -> Result<RecordAck, ApiError> {
        let (who, _) = self.who()?;
        let (index, receipt) = self.authority.record(&who, entry)?;
        Ok(RecordAck { index, receipt })
    }

    fn start(&self, writ_id: &str, consume: bool, nonce: &str, entry: &[u8]) -> Result<StartAck, ApiError> {
        let (who, now) = self.who()?;
        let s = self.authority.start(&who, writ_id, consume, nonce, entry, now)?;
        Ok(StartAck { status: s.status, record: RecordAck { index: s.index, receipt: s.receipt } })
    }
}

impl OperatorApi for Local {
    fn submit(&self, input: &RequestInput, key: &IdempotencyKey) -> Result<RequestView, ApiError> {
        let (who, now) = self.who()?;
        Ok(self.authority.submit_with(&who, input.clone(), &opts(key), now)?)
    }

    fn pending(&self) -> Result<Vec<RequestView>, ApiError> {
        let (who, now) = self.who()?;
        Ok(self.authority.pending(&who, now)?)
    }

    fn request(&self, id: &str) -> Result<RequestView, ApiError> {
        let (who, _) = self.who()?;
        Ok(self.authority.request(&who, id)?)
    }

    fn vote(&self, id: &str, vote: &VoteInput, key: &IdempotencyKey) -> Result<RequestView, ApiError> {
        let (verdict, sig, signed_at) = approval::decode(vote)?;
        let (who, now) = self.who()?;
        Ok(self.authority.vote_with(&who, id, verdict, &sig, signed_at, vote.reason.as_deref(), &opts(key), now)?)
    }

    fn revoke(&self, writ_id: &str, reason: &str, key: &IdempotencyKey) -> Result<WritView, ApiError> {
        let (who, now) = self.who()?;
        Ok(self.authority.revoke_with(&who, writ_id, reason, &opts(key), now)?)
    }

    fn writ(&self, writ_id: &str) -> Result<WritView, ApiError> {
        let (who, _) = self.who()?;
        Ok(writ_for(&self.authority, &who, writ_id)?)
    }

    fn status(&self, writ_id: &str, nonce: Option<&str>) -> Result<Vec<u8>, ApiError> {
        let (who, now) = self.who()?;
        Ok(self.authority.status(&who, writ_id, false, nonce.map(str::to_string), now)?)
    }

    fn nonce(&self) -> Result<NonceView, ApiError> {
        let (who, now) = self.who()?;
        Ok(self.authority.new_nonce(&who, now)?)
    }

    fn delegate(
        &self,
        input: &writ_api::delegation::DelegationInput,
    ) -> Result<writ_api::delegation::DelegationView, ApiError> {
        let (who, now) = self.who()?;
        Ok(self.authority.record_delegation(&who, input, now)?)
    }

    fn delegation(&self, writ_id: &str) -> Result<writ_api::delegation::DelegationView, ApiError> {
        let (who, _) = self.who()?;
        let d = self.authority.delegation(writ_id)?;
        writ_for(&self.authority, &who, writ_id)?;
        Ok(d)
    }
}

/// The authority of a home directory as a gate sees it, in this process
/// (`writ exec --home DIR`).
///
/// The home's ledger has one sequencer at a time, so when another process
/// appended meanwhile (a `writ revoke`, another gate) the open ledger refuses
/// to append; the authority is then opened again and the call retried once.
pub struct HomeGate {
    home: std::path::PathBuf,
    key_id: KeyId,
    cached: std::sync::Mutex<Option<Arc<Authority>>>,
}

impl std::fmt::Debug for HomeGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HomeGate").field("home", &self.home).field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl HomeGate {
    /// The authority of `home`, acting as the gate with key `key_id`.
    ///
    /// # Errors
    /// The home cannot be opened, or does not know the key.
    pub fn open(home: &std::path::Path, key_id: KeyId) -> Result<Self, ApiError> {
        let gate = Self { home: home.to_path_buf(), key_id, cached: std::sync::Mutex::new(None) };
        // Fail early (and clearly) on a missing home or an unknown gate key.
        gate.with(|l| l.authority().identify(&key_id, now()?).map(|_| ()).map_err(ApiError::from))?;
        Ok(gate)
    }

    /// The home's trust-root file.
    #[must_use]
    pub fn trust_path(&self) -> std::path::PathBuf {
        self.home.join(crate::home::TRUST)
    }

    fn with<T>(&self, f: impl Fn(&Local) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut retried = false;
        loop {
            let authority = match cached.take() {
                Some(a) => a,
                None => Arc::new(Authority::open(&crate::Config::new(&self.home)).map_err(ApiError::from)?),
            };
            let result = f(&Local::new(authority.clone(), self.key_id));
            match result {
                Err(e) if !retried && matches!(e.code, ApiErrorCode::Unavailable | ApiErrorCode::Busy) => {
                    retried = true;
                }
                r => {
                    *cached = Some(authority);
                    return r;
                }
            }
        }
    }
}

impl GateApi for HomeGate {
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, ApiError> {
        self.with(|l| GateApi::status(l, writ_id, consume, nonce))
    }
    fn record(&self, entry: &[u8]) -> Result<RecordAck, ApiError> {
        self.with(|l| GateApi::record(l, entry))
    }
    fn start(&self, writ_id: &str, consume: bool, nonce: &str, entry: &[u8]) -> Result<StartAck, ApiError> {
        self.with(|l| GateApi::start(l, writ_id, consume, nonce, entry))
    }
}
