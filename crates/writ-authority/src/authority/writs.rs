//! Writs: revocation, signed status (consuming uses), gate records.

use writ_core::Sha256Digest;
use writ_core::Timestamp;
use writ_core::entry::{self, Entry, EntryKind};
use writ_core::gate_record::GateRecord;
use writ_core::status::{StatusStatement, WritState};
use writ_core::trust::Role;

use super::once::{CallOptions, Op, Slot};
use super::{Authority, Identity, bad, retry_conflicts, ts};
use crate::error::{AuthorityError, Result};
use crate::model::{MAX_REASON, WritView};
use crate::state;
use crate::text::check_display;

/// How far a gate's clock may be ahead of the authority's, in seconds.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

impl Authority {
    /// Revoke a writ. Issuers, approvers and the writ's own requester may.
    ///
    /// # Errors
    /// `unknown_writ`, `already_revoked`, `forbidden`, `invalid_request`
    /// (empty reason), `unsafe_text` (control characters in the reason).
    pub fn revoke(&self, caller: &Identity, writ_id: &str, reason: &str, now: Timestamp) -> Result<WritView> {
        self.revoke_with(caller, writ_id, reason, &CallOptions::default(), now)
    }

    /// [`Self::revoke`] with an idempotency key and a deadline (see
    /// [`CallOptions`]).
    ///
    /// # Errors
    /// As [`Self::revoke`]; `timeout`.
    pub fn revoke_with(
        &self,
        caller: &Identity,
        writ_id: &str,
        reason: &str,
        opts: &CallOptions,
        now: Timestamp,
    ) -> Result<WritView> {
        if reason.trim().is_empty() || reason.len() > MAX_REASON {
            return Err(bad(format!("a revocation needs a reason of 1 to {MAX_REASON} bytes")));
        }
        check_display("reason", reason)?;
        check_display("writ id", writ_id)?;
        let body = format!("{writ_id}\0{reason}").into_bytes();
        self.once(
            caller,
            opts,
            Op::Revoke,
            &body,
            now,
            |slot| self.revoke_inner(caller, writ_id, reason, opts, slot, now),
            |id| self.writ(id),
        )
    }

    fn revoke_inner(
        &self,
        caller: &Identity,
        writ_id: &str,
        reason: &str,
        opts: &CallOptions,
        slot: Option<&Slot>,
        now: Timestamp,
    ) -> Result<WritView> {
        self.db.tx(|t| {
            let w = crate::delegation_state::writ_or_delegated(t, writ_id, true)?;
            let own = w.requester == caller.key_id.to_string();
            if !own && !caller.has(Role::Issuer) && !caller.has(Role::Approver) {
                return Err(AuthorityError::Forbidden(
                    "only issuers, approvers and the writ's requester may revoke it".into(),
                ));
            }
            if w.revoked_at.is_some() {
                return Err(AuthorityError::AlreadyRevoked(writ_id.into()));
            }
            // INVARIANT (deadline): the ledger append is the commit point.
            opts.check_deadline()?;
            self.append(
                t,
                &Entry::Revocation(entry::Revocation {
                    time: now,
                    request_id: w.request_id.clone(),
                    writ_id: writ_id.into(),
                    revoked_by: format!("{} ({})", caller.name, caller.key_id),
                    reason: reason.into(),
                }),
            )?;
            crate::delegation_state::revoke(t, writ_id, now.unix(), reason)?;
            if let Some(s) = slot {
                s.complete(t, writ_id)?;
            }
            Ok(())
        })?;
        self.writ(writ_id)
    }

    /// A writ's state.
    ///
    /// # Errors
    /// `unknown_writ`.
    pub fn writ(&self, writ_id: &str) -> Result<WritView> {
        let w = self.db.tx(|t| crate::delegation_state::writ_or_delegated(t, writ_id, false))?;
        Ok(WritView {
            writ_id: w.id,
            request_id: w.request_id,
            state: if w.revoked_at.is_some() { "revoked" } else { "valid" }.into(),
            uses: w.uses.and_then(|u| u32::try_from(u).ok()),
            used: u32::try_from(w.used).unwrap_or(u32::MAX),
            not_after: ts(w.not_after),
            revoked_at: w.revoked_at.map(ts),
            reason: w.reason,
            writ: String::from_utf8_lossy(&w.envelope).into_owned(),
            receipt: String::from_utf8_lossy(&w.receipt).into_owned(),
        })
    }

    /// A signed status response for a writ (see `writ_core::status`). With
    /// `consume`, one use is consumed atomically and its number returned.
    ///
    /// # Errors
    /// `unknown_writ`; `replayed` when every use is consumed; `forbidden`
    /// when a non-gate key asks to consume.
    pub fn status(
        &self,
        caller: &Identity,
        writ_id: &str,
        consume: bool,
        nonce: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<u8>> {
        if consume {
            caller.require(Role::Gate, "consume writ uses")?;
        }
        if nonce.as_ref().is_some_and(|n| n.is_empty() || n.len() > 128) {
            return Err(bad("a status nonce is 1 to 128 characters"));
        }
        let st = self.db.tx(|t| {
            // A recorded delegated writ answers from its record (§18).
            let w = crate::delegation_state::writ_or_delegated(t, writ_id, false)?;
            let mut st = valid_status(writ_id, &w.envelope_sha256, now, nonce.clone())?;
            if let Some(at) = w.revoked_at {
                st.state = WritState::Revoked;
                st.revoked_at = Some(Timestamp(at));
                st.reason = w.reason;
                return Ok(st);
            }
            if consume {
                // A delegated writ's use is also one of each ancestor's.
                let (used, uses) = crate::delegation_state::consume_chain(t, writ_id)?
                    .ok_or_else(|| AuthorityError::Replayed(writ_id.into()))?;
                st.use_count = u32::try_from(used).ok();
                st.uses_left = uses.and_then(|u| u32::try_from(u.saturating_sub(used)).ok());
            } else if let Some(u) = w.uses {
                st.uses_left = u32::try_from(u.saturating_sub(w.used)).ok();
            }
            Ok(st)
        })?;
        self.issuer.sign_status(&st)
    }

    /// Record a gate's `exec_start`, `exec_end` or `denial` entry, checked
    /// against the system clock. Prefer [`Self::record_at`], which takes the
    /// time like every other call (this wrapper keeps the old signature).
    ///
    /// # Errors
    /// As [`Self::record_at`].
    pub fn record(&self, caller: &Identity, entry_bytes: &[u8]) -> Result<(u64, Vec<u8>)> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .ok_or_else(|| AuthorityError::Internal("the system clock is out of range".into()))?;
        self.record_at(caller, entry_bytes, Timestamp(now))
    }

    /// Record a gate's `exec_start`, `exec_end` or `denial` record: a
    /// signed gate record (`writ_core::gate_record`), stored byte for byte
    /// (its signature stays in the ledger for auditors). Refused, with
    /// nothing logged: no gate signature, or one that does not verify under
    /// a non-revoked `gate` key of the trust root valid at the record's time
    /// (`bad_signature`, the message naming `unsigned_gate_record` or
    /// `bad_gate_signature`); a signing key the trust root binds to other
    /// hosts than the record's (`forbidden`); a writ or request the ledger
    /// never issued (`unknown_writ`, `unknown_request`; a `denial` naming a
    /// writ the authority never issued is recorded, whatever its request
    /// id: it is the trace of a forged or stolen-key writ presented to a
    /// gate), a request id that
    /// is not the writ's, a time in the future or before the writ was
    /// issued, an `exec_end` with no `exec_start` left to end on that host
    /// (`invalid_request`), an execution on a host outside the writ's scope
    /// (`forbidden`).
    ///
    /// **Exactly once.** A record identical to one already in the ledger
    /// (the same bytes: Ed25519 signatures are deterministic, so a gate or a
    /// `sync` re-sending a record after a crash sends the same bytes) is not
    /// appended again: the answer is the first entry's index, with a fresh
    /// inclusion proof of it.
    ///
    /// # Errors
    /// `forbidden` without the gate role; `malformed` entry bytes or another
    /// kind; the refusals above.
    pub fn record_at(&self, caller: &Identity, entry_bytes: &[u8], now: Timestamp) -> Result<(u64, Vec<u8>)> {
        caller.require(Role::Gate, "record execution entries")?;
        let record =
            GateRecord::decode(entry_bytes).map_err(|err| AuthorityError::Malformed(format!("entry: {err}")))?;
        let e = &record.entry;
        if !matches!(e.kind(), EntryKind::ExecStart | EntryKind::ExecEnd | EntryKind::Denial) {
            return Err(bad(format!(
                "gates record exec_start, exec_end and denial entries, not `{}`",
                e.kind().as_str()
            )));
        }
        let trust = self.trust();
        let gate = record
            .verified_gate(&trust)
            .map_err(|err| AuthorityError::BadSignature(format!("{}: {err}", err.code())))?;
        if let Some(why) = gate.host_binding_error(record.host().unwrap_or_default(), std::iter::empty()) {
            return Err(AuthorityError::Forbidden(format!("{why}: the record is about another host")));
        }
        let digest = Sha256Digest::of(entry_bytes).to_hex();
        self.db.tx(|t| {
            if let Some(index) = state::gate_record_index(t, &digest)? {
                let mut p = self.ledger.prove(index)?;
                p.extra = Some(entry_bytes.to_vec());
                return Ok((index, p.to_bytes()));
            }
            self.check_gate_entry(t, e, now)?;
            let receipt =
                self.sequenced(|| retry_conflicts(|| self.ledger.append_with_receipt(entry_bytes.to_vec())))?;
            state::index_entry(t, receipt.index, e)?;
            state::insert_gate_record(t, &digest, receipt.index)?;
            let mut p = receipt.to_tlog_proof();
            p.extra = Some(entry_bytes.to_vec());
            Ok((receipt.index, p.to_bytes()))
        })
    }

    /// Notes the digest of the gate record at `idx` (recovery: the ledger
    /// tail a crash left unindexed, or a rebuilt index), so that a re-sent
    /// copy of it is still answered with `idx`.
    pub(crate) fn index_gate_record(&self, t: &mut dyn crate::db::Tx, idx: u64, kind: &str) -> Result<()> {
        if !matches!(kind, "exec_start" | "exec_end" | "denial") {
            return Ok(());
        }
        let digest = Sha256Digest::of(&self.ledger.entry(idx)?).to_hex();
        if state::gate_record_index(t, &digest)?.is_none() {
            state::insert_gate_record(t, &digest, idx)?;
        }
        Ok(())
    }

    /// The checks of [`Self::record_at`], inside its transaction.
    pub(super) fn check_gate_entry(&self, t: &mut dyn crate::db::Tx, e: &Entry, now: Timestamp) -> Result<()> {
        let (time, request_id, writ_id, host) = match e {
            Entry::ExecStart(x) => {
                (x.time, Some(x.request_id.as_str()), Some(x.writ_id.as_str()), Some(x.host.as_str()))
            }
            Entry::ExecEnd(x) => (x.time, Some(x.request_id.as_str()), Some(x.writ_id.as_str()), Some(x.host.as_str())),
            Entry::Denial(x) => (x.time, x.request_id.as_deref(), x.writ_id.as_deref(), None),
            _ => return Ok(()),
        };
        if time.unix() > now.unix().saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(bad(format!(
                "the entry's time {} is in the future (the authority's clock says {}); check the gate's clock",
                time.to_rfc3339(),
                now.to_rfc3339()
            )));
        }
        for (field, v) in [("request_id", request_id), ("writ_id", writ_id), ("host", host)] {
            if let Some(v) = v {
                check_display(field, v)?;
            }
        }
        let Some(writ_id) = writ_id else {
            if let Some(r) = request_id {
                state::request(t, r, false)?;
            }
            return Ok(());
        };
        let w = match crate::delegation_state::writ_or_delegated(t, writ_id, false) {
            // A gate's signed denial of a writ this authority never issued
            // (a forged one, or one signed with a stolen issuer key) is the
            // evidence an auditor needs: it is recorded (the semantic audit
            // reports it as `unissued_writ_presented`). An execution under
            // such a writ is still refused.
            Err(AuthorityError::UnknownWrit(_)) if matches!(e, Entry::Denial(_)) => return Ok(()),
            other => other?,
        };
        if let Some(r) = request_id
            && r != w.request_id
        {
            return Err(bad(format!("writ `{writ_id}` was issued for request `{}`, not `{r}`", w.request_id)));
        }
        let issued = writ_core::Unverified::decode(&w.envelope)
            .map_err(|d| AuthorityError::Internal(format!("stored writ `{writ_id}`: {d}")))?;
        let predicate = issued.statement().get("predicate");
        let issued_at = predicate
            .and_then(|p| p.get("issued_at"))
            .and_then(|v| v.as_str())
            .and_then(|s| Timestamp::parse(s).ok())
            .ok_or_else(|| AuthorityError::Internal(format!("stored writ `{writ_id}` has no issued_at")))?;
        if time.unix() < issued_at.unix().saturating_sub(MAX_CLOCK_SKEW_SECS) {
            return Err(bad(format!(
                "the entry's time {} is before writ `{writ_id}` was issued ({}); check the gate's clock",
                time.to_rfc3339(),
                issued_at.to_rfc3339()
            )));
        }
        let Some(host) = host else { return Ok(()) };
        let hosts: Option<Vec<String>> = predicate
            .and_then(|p| p.pointer("/scope/environment/hosts"))
            .and_then(|h| h.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect());
        if let Some(hosts) = &hosts
            && !hosts.iter().any(|p| writ_core::glob::host_match(p, host))
        {
            return Err(AuthorityError::Forbidden(format!(
                "writ `{writ_id}` may run on {} only, and this record comes from host `{host}`",
                hosts.join(", ")
            )));
        }
        if let Entry::ExecEnd(end) = e {
            let mut open = 0i64;
            for (idx, kind) in state::entries_for(t, None, Some(writ_id))? {
                if kind != "exec_start" && kind != "exec_end" {
                    continue;
                }
                match Entry::decode(&self.ledger.entry(idx)?) {
                    Ok(Entry::ExecStart(s)) if s.host == end.host && s.time.unix() <= end.time.unix() => open += 1,
                    Ok(Entry::ExecEnd(x)) if x.host == end.host => open -= 1,
                    _ => {}
                }
            }
            if open <= 0 {
                return Err(bad(format!(
                    "no `exec_start` of writ `{writ_id}` on host `{host}` is left for this `exec_end` to end"
                )));
            }
        }
        Ok(())
    }

    /// Ledger entries of a request or writ: `(index, kind, bytes)`.
    ///
    /// # Errors
    /// Database and ledger errors.
    pub fn entries_for(&self, request_id: Option<&str>, writ_id: Option<&str>) -> Result<Vec<(u64, String, Vec<u8>)>> {
        let rows = self.db.tx(|t| state::entries_for(t, request_id, writ_id))?;
        rows.into_iter().map(|(idx, kind)| Ok((idx, kind, self.ledger.entry(idx)?))).collect()
    }
}

/// A `valid` status statement of `writ_id` (whose stored envelope digest is
/// `envelope_sha256`, hex) checked at `now`, bound to `nonce`: the callers
/// fill in revocation and uses.
pub(super) fn valid_status(
    writ_id: &str,
    envelope_sha256: &str,
    now: Timestamp,
    nonce: Option<String>,
) -> Result<StatusStatement> {
    let envelope_sha256 = Sha256Digest::from_hex(envelope_sha256).map_err(|e| AuthorityError::Internal(e.into()))?;
    Ok(StatusStatement {
        writ_id: writ_id.into(),
        envelope_sha256,
        state: WritState::Valid,
        revoked_at: None,
        reason: None,
        use_count: None,
        uses_left: None,
        checked_at: now,
        nonce,
    })
}
