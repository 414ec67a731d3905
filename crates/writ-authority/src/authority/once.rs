//! Outcomes are never unknown: idempotency keys and deadlines for the calls
//! that change state (submit, vote, revoke).
//!
//! A caller that did not get an answer (a timeout, a dropped connection)
//! retries with the same client-chosen key and gets the first call's
//! outcome, never a second request, vote or revocation. A call that would
//! finish after its deadline is rolled back instead: the deadline is checked
//! just before the commit point (the ledger append), so past it nothing is
//! logged or stored and the answer is `timeout` (retry with the same key).
//!
//! Keys are per caller key id. A key is reserved when its first call starts
//! and completed in the transaction that stores the outcome; a failed call
//! releases it (refusals are not stored, so a retry is decided afresh). A
//! reservation left by a crashed process may be taken over after
//! [`STALE_SECS`].

use std::time::Instant;

use writ_core::{Sha256Digest, Timestamp};

use super::{Authority, Identity, bad};
use crate::db::Tx;
use crate::error::{AuthorityError, Result};
use crate::state::{self, IdempotencyState};

/// Longest idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;
/// After this long a reservation whose call never completed may be taken over.
pub const STALE_SECS: i64 = 300;

/// How a state-changing call runs.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Client-chosen idempotency key: 1 to [`MAX_IDEMPOTENCY_KEY`] bytes of
    /// `[A-Za-z0-9_.:-]`, unique per call the client means.
    pub idempotency_key: Option<String>,
    /// When the caller stops waiting. Past it nothing is committed and the
    /// call fails with `timeout`.
    pub deadline: Option<Instant>,
}

impl CallOptions {
    /// Options with an idempotency key.
    #[must_use]
    pub fn with_key(key: impl Into<String>) -> Self {
        Self { idempotency_key: Some(key.into()), deadline: None }
    }

    /// Fail with `timeout` when the deadline has passed.
    ///
    /// # Errors
    /// [`AuthorityError::Timeout`].
    pub fn check_deadline(&self) -> Result<()> {
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(AuthorityError::Timeout),
            _ => Ok(()),
        }
    }
}

/// Which call a key was used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Submit,
    Vote,
    Revoke,
}

impl Op {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Vote => "vote",
            Self::Revoke => "revoke",
        }
    }
}

/// A reserved key: the call completes it in the transaction that stores
/// its outcome.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    caller: String,
    key: String,
}

impl Slot {
    /// Record the outcome (`outcome_id`: the request or writ id).
    pub(crate) fn complete(&self, t: &mut dyn Tx, outcome_id: &str) -> Result<()> {
        state::complete_idempotency(t, &self.caller, &self.key, outcome_id)
    }

    /// `(caller, key)`.
    pub(crate) fn parts(&self) -> (&str, &str) {
        (&self.caller, &self.key)
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= MAX_IDEMPOTENCY_KEY
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
}

enum Start {
    Run(Slot),
    Replay(String),
}

impl Authority {
    /// Run `run` at most once per `(caller, key)`; a retry returns
    /// `replay(outcome id)` of the first call's outcome.
    #[expect(clippy::too_many_arguments, reason = "the call, its key, and the two ways it can go")]
    pub(crate) fn once<T>(
        &self,
        caller: &Identity,
        opts: &CallOptions,
        op: Op,
        body: &[u8],
        now: Timestamp,
        run: impl FnOnce(Option<&Slot>) -> Result<T>,
        replay: impl FnOnce(&str) -> Result<T>,
    ) -> Result<T> {
        let Some(key) = &opts.idempotency_key else { return run(None) };
        if !valid_key(key) {
            return Err(bad(format!(
                "idempotency key `{key}` must be 1 to {MAX_IDEMPOTENCY_KEY} characters of letters, digits and `_.:-`"
            )));
        }
        let mut input = op.as_str().as_bytes().to_vec();
        input.push(0);
        input.extend_from_slice(body);
        let digest = Sha256Digest::of(&input).to_hex();
        let who = caller.key_id.to_string();
        let key = key.clone();
        let now_unix = now.unix();
        // Grouped with concurrent calls' reservations: one commit for all.
        let start = self.db.tx_grouped(move |t| {
            let key = &key;
            let now = Timestamp(now_unix);
            match state::idempotency(t, &who, key)? {
                None => state::reserve_idempotency(t, &who, key, op.as_str(), &digest, now.unix())?,
                Some(row) if row.body_sha256 != digest => {
                    return Err(bad(format!(
                        "idempotency key `{key}` was already used for another call; use a new key for a new call"
                    )));
                }
                Some(row) => match (row.state, row.outcome) {
                    (IdempotencyState::Done, Some(id)) => return Ok(Start::Replay(id)),
                    _ if row.created > now.unix().saturating_sub(STALE_SECS) => {
                        return Err(AuthorityError::Busy);
                    }
                    _ => state::reserve_idempotency(t, &who, key, op.as_str(), &digest, now.unix())?,
                },
            }
            Ok(Start::Run(Slot { caller: who.clone(), key: key.clone() }))
        })?;
        match start {
            Start::Replay(id) => replay(&id),
            Start::Run(slot) => {
                let r = run(Some(&slot));
                if r.is_err() {
                    // Nothing was stored: release the key so a retry is decided afresh.
                    let _ = self.db.tx(|t| state::release_idempotency(t, &slot.caller, &slot.key));
                }
                r
            }
        }
    }
}
