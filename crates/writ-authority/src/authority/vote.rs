//! Vote: approvers approve or deny a pending request; a quorum of approvals
//! issues the writ, a quorum of denials ends the request.

use writ_core::approval::{self, Verdict};
use writ_core::entry::{self, Entry};
use writ_core::trust::Role;
use writ_core::{KeyId, Sha256Digest, Timestamp};

use super::once::{CallOptions, Op, Slot};
use super::{Authority, Identity, bad, truncate};
use crate::error::{AuthorityError, Result};
use crate::model::{MAX_REASON, RequestView};
use crate::state::{self, RequestStatus, verdict_str};
use crate::text::check_display;

/// How a vote is signed: the approver's Ed25519 signature over
/// [`approval::signing_input`], or a passkey's WebAuthn assertion whose
/// challenge is that input (see [`writ_core::webauthn`]).
#[derive(Clone, Copy, Debug)]
pub enum VoteSignature<'a> {
    /// Ed25519 signature bytes.
    Ed25519(&'a [u8]),
    /// A WebAuthn assertion by a passkey of the trust root.
    Passkey(&'a writ_core::webauthn::Assertion),
}

/// Prefix of a passkey approval as stored in a vote's `sig` column: the
/// JSON of its WebAuthn parts and DER signature follows.
const STORED_PASSKEY: &str = "webauthn:";

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredPasskey {
    #[serde(flatten)]
    parts: writ_core::webauthn::AssertionParts,
    sig: String,
}

/// The writ's approval of a stored approving vote (`sig` as stored: base64
/// Ed25519, or a passkey's assertion).
pub(super) fn stored_approval(approver: KeyId, time: Timestamp, sig: String) -> Result<writ_core::model::Approval> {
    match sig.strip_prefix(STORED_PASSKEY) {
        None => Ok(writ_core::model::Approval { approver, time, sig, webauthn: None }),
        Some(json) => {
            let s: StoredPasskey = serde_json::from_str(json)
                .map_err(|e| AuthorityError::Internal(format!("stored passkey approval: {e}")))?;
            Ok(writ_core::model::Approval { approver, time, sig: s.sig, webauthn: Some(s.parts) })
        }
    }
}

impl Authority {
    /// An approver's vote: `signature` is their Ed25519 signature over
    /// [`approval::signing_input`] of the request digest, the verdict and
    /// `signed_at`, when they signed. `signed_at` must lie between the
    /// request's creation and `now` (the authority's clock) plus the trust
    /// root's allowance for approvers' clocks
    /// ([`writ_core::trust::TrustRootFile::approval_skew`], 30 s by default):
    /// it becomes the approval's `time` in the writ, which verifiers require
    /// to be no later than its issuance, so a writ completed by an approval
    /// signed ahead of `now` is issued (and valid from) that approval's time.
    /// Issues the writ when the approvals reach quorum; denies the request
    /// when the denials do. No reason is stored (see [`Self::vote_with`]).
    ///
    /// # Errors
    /// `forbidden`, `self_approval`, `not_in_group`, `unknown_request`,
    /// `request_not_pending`, `request_expired`, `already_voted`,
    /// `bad_signature`; `invalid_request` for a `signed_at` more than the
    /// allowance after `now` or before the request was made; nothing is
    /// stored on any of them.
    pub fn vote(
        &self,
        caller: &Identity,
        id: &str,
        verdict: Verdict,
        signature: &[u8],
        signed_at: Timestamp,
        now: Timestamp,
    ) -> Result<RequestView> {
        self.vote_with(caller, id, verdict, signature, signed_at, None, &CallOptions::default(), now)
    }

    /// [`Self::vote`] with the approver's reason, an idempotency key and a
    /// deadline (see [`CallOptions`]). The reason is stored with the vote
    /// (shown in the request's view, so `writ show`), and a denial's reason
    /// is also in the detail of its ledger `denial` entry. The reason is not
    /// signed: it is what the approver said, attributed by the authority.
    ///
    /// # Errors
    /// As [`Self::vote`]; `timeout`; `invalid_request` for a key used for
    /// another call or a reason that is empty or longer than
    /// [`MAX_REASON`] bytes; `unsafe_text` for control characters in it.
    #[expect(clippy::too_many_arguments, reason = "the arguments of one vote")]
    pub fn vote_with(
        &self,
        caller: &Identity,
        id: &str,
        verdict: Verdict,
        signature: &[u8],
        signed_at: Timestamp,
        reason: Option<&str>,
        opts: &CallOptions,
        now: Timestamp,
    ) -> Result<RequestView> {
        self.vote_signed(caller, id, verdict, VoteSignature::Ed25519(signature), signed_at, reason, opts, now)
    }

    /// [`Self::vote_with`] signed either way ([`VoteSignature`]): with a
    /// passkey, `caller` is the passkey's identity (its key id, name and
    /// groups from the trust root's `passkeys`) and the assertion must
    /// verify as [`writ_core::webauthn::verify_assertion`] says, over the
    /// signing input of the stored request digest, `verdict` and `signed_at`.
    ///
    /// # Errors
    /// As [`Self::vote_with`]; `bad_signature` naming the WebAuthn check
    /// that failed (`webauthn_challenge`, `webauthn_rp_id`, ...).
    #[expect(clippy::too_many_arguments, reason = "the arguments of one vote")]
    pub fn vote_signed(
        &self,
        caller: &Identity,
        id: &str,
        verdict: Verdict,
        signature: VoteSignature<'_>,
        signed_at: Timestamp,
        reason: Option<&str>,
        opts: &CallOptions,
        now: Timestamp,
    ) -> Result<RequestView> {
        caller.require(Role::Approver, "approve or deny requests")?;
        if let Some(r) = reason {
            if r.trim().is_empty() || r.len() > MAX_REASON {
                return Err(bad(format!("a vote's reason is 1 to {MAX_REASON} bytes; shorten it or leave it out")));
            }
            check_display("reason", r)?;
        }
        let mut body = format!("{id}\0{}\0{}\0", verdict_str(verdict), signed_at.unix()).into_bytes();
        match signature {
            VoteSignature::Ed25519(sig) => body.extend_from_slice(sig),
            VoteSignature::Passkey(a) => {
                for part in [&a.authenticator_data, &a.client_data_json, &a.signature] {
                    body.extend_from_slice(&(part.len() as u64).to_be_bytes());
                    body.extend_from_slice(part);
                }
            }
        }
        // The reason is part of the call: a retry with another reason under
        // the same idempotency key is another call.
        if let Some(r) = reason {
            body.push(0);
            body.extend_from_slice(r.as_bytes());
        }
        self.once(
            caller,
            opts,
            Op::Vote,
            &body,
            now,
            |slot| self.vote_inner(caller, id, verdict, signature, signed_at, reason, opts, slot, now),
            |id| self.request_view_internal(id, false),
        )
    }

    #[expect(clippy::too_many_arguments, reason = "the arguments of one vote")]
    fn vote_inner(
        &self,
        caller: &Identity,
        id: &str,
        verdict: Verdict,
        signature: VoteSignature<'_>,
        signed_at: Timestamp,
        reason: Option<&str>,
        opts: &CallOptions,
        slot: Option<&Slot>,
        now: Timestamp,
    ) -> Result<RequestView> {
        self.db.tx(|t| {
            let row = state::request(t, id, true)?;
            if row.status != RequestStatus::Pending {
                return Err(AuthorityError::NotPending { id: id.into(), status: row.status.as_str().into() });
            }
            // INVARIANT (6, nothing self-authorizes): the requester never votes,
            // not with the same key nor under the same name with another key.
            if row.requester == caller.key_id.to_string() || row.requester_name == caller.name {
                return Err(AuthorityError::SelfApproval);
            }
            if let Some(g) = &row.approver_group
                && !caller.groups.iter().any(|cg| cg == g)
            {
                return Err(AuthorityError::NotInGroup(g.clone()));
            }
            if row.expires_at <= now.unix() {
                return Err(AuthorityError::Expired(id.into()));
            }
            // The signed time becomes the approval's time in the writ: never
            // after the issuance, never before the request existed. An
            // approver's clock may run ahead of this one by the trust root's
            // allowance; the writ such an approval completes is issued at
            // that time (below), so it still comes after its approvals.
            let skew = self.trust().file().approval_skew();
            if signed_at.unix() > now.unix().saturating_add(i64::try_from(skew).unwrap_or(i64::MAX)) {
                return Err(bad(format!(
                    "the vote is signed at {signed_at}, more than {skew} s after the authority's time {now} (the trust root's approval_skew_secs); check the approver's clock and vote again"
                )));
            }
            if signed_at.unix() < row.created_at {
                return Err(bad(format!(
                    "the vote is signed at {signed_at}, before request `{id}` was made; check the approver's clock and vote again"
                )));
            }
            let digest = Sha256Digest::from_hex(&row.digest).map_err(|e| AuthorityError::Internal(e.into()))?;
            let input = approval::signing_input(&digest, verdict, signed_at);
            let sig_b64 = match signature {
                VoteSignature::Ed25519(sig) => {
                    let key = self
                        .public_key(&caller.key_id)
                        .ok_or_else(|| AuthorityError::UnknownKey(caller.key_id.to_string()))?;
                    if !key.verify_strict(&input, sig) {
                        return Err(AuthorityError::BadSignature(format!(
                            "the signature does not verify over the {} input for request digest {digest} at {signed_at}; sign what `writ pending` shows",
                            verdict_str(verdict)
                        )));
                    }
                    writ_core::b64::encode(sig)
                }
                VoteSignature::Passkey(a) => {
                    let trust = self.trust();
                    let pk = trust
                        .passkey(&caller.key_id)
                        .ok_or_else(|| AuthorityError::UnknownKey(caller.key_id.to_string()))?;
                    writ_core::webauthn::verify_assertion(&pk.credential, &input, a).map_err(|e| {
                        AuthorityError::BadSignature(format!(
                            "the passkey assertion is refused: {e}; its challenge must be base64url of the {} input for request digest {digest} at {signed_at}",
                            verdict_str(verdict)
                        ))
                    })?;
                    let (parts, sig) = a.encode();
                    let json = serde_json::to_string(&StoredPasskey { parts, sig })
                        .map_err(|e| AuthorityError::Internal(e.to_string()))?;
                    format!("{STORED_PASSKEY}{json}")
                }
            };
            // Distinct approvers: one vote per key and per trust-root name
            // (a person holding two approver keys still counts once).
            let seen = state::has_voted(t, id, &caller.key_id.to_string(), &caller.name)?;
            if seen {
                return Err(AuthorityError::AlreadyVoted(id.into()));
            }
            let approval_obj = serde_json::json!({
                "request_id": id, "approver": caller.key_id.to_string(), "verdict": verdict_str(verdict),
                "time": signed_at.to_rfc3339(), "sig": sig_b64,
            });
            let approval_digest = Sha256Digest::of(approval_obj.to_string().as_bytes());
            // INVARIANT (deadline): the ledger append is the commit point.
            opts.check_deadline()?;
            match verdict {
                Verdict::Approve => self.append(
                    t,
                    &Entry::Approval(entry::Approval {
                        time: now,
                        request_id: id.into(),
                        approver: caller.key_id.to_string(),
                        request_digest: digest,
                        approval_digest,
                    }),
                )?,
                Verdict::Deny => self.append(
                    t,
                    &Entry::Denial(entry::Denial {
                        time: now,
                        request_id: Some(id.into()),
                        writ_id: None,
                        code: "approver_denied".into(),
                        detail: truncate(&match reason {
                            Some(r) => format!("approver `{}` ({}) denied the request: {r}", caller.name, caller.key_id),
                            None => format!("approver `{}` ({}) denied the request", caller.name, caller.key_id),
                        }),
                        host: None,
                    }),
                )?,
            };
            state::insert_vote(
                t,
                id,
                &state::VoteRow {
                    approver: caller.key_id.to_string(),
                    approver_name: caller.name.clone(),
                    verdict: verdict_str(verdict).into(),
                    time: signed_at.unix(),
                    sig: sig_b64,
                    reason: reason.map(str::to_string),
                },
            )?;
            let required = i64::from(row.approvals_required).max(1);
            let n = state::count_votes(t, id, verdict)?;
            if n >= required {
                match verdict {
                    Verdict::Approve => {
                        // Not before the latest approval (one signed ahead of
                        // this clock, within the allowance, dates the writ).
                        let latest = state::votes(t, id)?
                            .iter()
                            .filter(|v| v.verdict == verdict_str(Verdict::Approve))
                            .map(|v| v.time)
                            .max()
                            .unwrap_or(now.unix());
                        self.issue(t, id, Timestamp(latest.max(now.unix())))?;
                    }
                    Verdict::Deny => {
                        state::set_request_status(t, id, RequestStatus::Denied)?;
                    }
                }
            }
            if let Some(s) = slot {
                s.complete(t, id)?;
            }
            Ok(())
        })?;
        self.request_view_internal(id, false)
    }
}
