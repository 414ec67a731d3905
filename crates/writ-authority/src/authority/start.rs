//! A gate's start in one call: the writ's status and its durable
//! `exec_start` (issue 11 item 3, the online fast path).
//!
//! An online gate used to ask for the writ's status (consuming a use), then
//! send its `exec_start`: two round trips, and between them a revocation
//! could land after the status said "valid". [`Authority::start`] does both
//! in one database transaction: it refuses a revoked writ
//! (`already_revoked`) or one with no use left (`replayed`) with nothing
//! consumed or logged, else it consumes the use, appends the record with the
//! same ledger call as [`Authority::record_at`] (so it rides the ledger's
//! next group commit, no extra wait) and signs the status. The answer holds
//! both: the gate verifies the status (bound to its nonce) and the
//! record's inclusion proof before the program starts.

use writ_core::Sha256Digest;
use writ_core::Timestamp;
use writ_core::entry::Entry;
use writ_core::gate_record::GateRecord;
use writ_core::trust::Role;

use super::{Authority, Identity, bad, retry_conflicts};
use crate::error::{AuthorityError, Result};
use crate::state;

/// What [`Authority::start`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The signed status response (DSSE envelope), bound to the nonce.
    pub status: Vec<u8>,
    /// The `exec_start`'s ledger index.
    pub index: u64,
    /// Its receipt: a C2SP tlog-proof whose `extra` is the record.
    pub receipt: Vec<u8>,
}

impl Authority {
    /// Checks that writ `writ_id` may start and records its `exec_start`
    /// (`entry_bytes`, a signed gate record) in one transaction, consuming
    /// a use when `consume` or when the writ counts uses; returns the signed
    /// status bound to `nonce` and the record's receipt.
    ///
    /// Refused with nothing consumed or logged: `forbidden` without the
    /// gate role; `invalid_request` for a nonce that is not 1 to 128
    /// characters, or a record that is not an `exec_start` of `writ_id`;
    /// `already_revoked`; `replayed` when no use is left or this very
    /// record is already in the ledger (a start is taken once); every
    /// refusal of [`Self::record_at`] (signature, host, clock, scope).
    ///
    /// # Errors
    /// As above; `unknown_writ`; ledger and database failures.
    pub fn start(
        &self,
        caller: &Identity,
        writ_id: &str,
        consume: bool,
        nonce: &str,
        entry_bytes: &[u8],
        now: Timestamp,
    ) -> Result<Started> {
        caller.require(Role::Gate, "start executions")?;
        if nonce.is_empty() || nonce.len() > 128 {
            return Err(bad("a status nonce is 1 to 128 characters"));
        }
        let record =
            GateRecord::decode(entry_bytes).map_err(|err| AuthorityError::Malformed(format!("entry: {err}")))?;
        let Entry::ExecStart(start) = &record.entry else {
            return Err(bad(format!(
                "a start carries an exec_start entry, not `{}`; send other records to /v1/records",
                record.entry.kind().as_str()
            )));
        };
        if start.writ_id != writ_id {
            return Err(bad(format!("the exec_start is for writ `{}`, not `{writ_id}`", start.writ_id)));
        }
        let trust = self.trust();
        let gate = record
            .verified_gate(&trust)
            .map_err(|err| AuthorityError::BadSignature(format!("{}: {err}", err.code())))?;
        if let Some(why) = gate.host_binding_error(record.host().unwrap_or_default(), std::iter::empty()) {
            return Err(AuthorityError::Forbidden(format!("{why}: the record is about another host")));
        }
        let digest = Sha256Digest::of(entry_bytes).to_hex();
        let (statement, index, receipt) = self.db.tx(|t| {
            if state::gate_record_index(t, &digest)?.is_some() {
                return Err(AuthorityError::Replayed(format!(
                    "{writ_id}: this exec_start is already in the ledger; a start is taken once"
                )));
            }
            let w = crate::delegation_state::writ_or_delegated(t, writ_id, false)?;
            // INVARIANT: the status check and the start are one: a revoked
            // writ, or one whose uses are spent, logs nothing.
            if w.revoked_at.is_some() {
                return Err(AuthorityError::AlreadyRevoked(writ_id.into()));
            }
            self.check_gate_entry(t, &record.entry, now)?;
            let mut st = super::writs::valid_status(writ_id, &w.envelope_sha256, now, Some(nonce.to_owned()))?;
            if consume || w.uses.is_some() {
                // A delegated writ's use is also one of each ancestor's (§18).
                let (used, uses) = crate::delegation_state::consume_chain(t, writ_id)?
                    .ok_or_else(|| AuthorityError::Replayed(writ_id.into()))?;
                st.use_count = u32::try_from(used).ok();
                st.uses_left = uses.and_then(|u| u32::try_from(u.saturating_sub(used)).ok());
            }
            let receipt =
                self.sequenced(|| retry_conflicts(|| self.ledger.append_with_receipt(entry_bytes.to_vec())))?;
            state::index_entry(t, receipt.index, &record.entry)?;
            state::insert_gate_record(t, &digest, receipt.index)?;
            let mut p = receipt.to_tlog_proof();
            p.extra = Some(entry_bytes.to_vec());
            Ok((st, receipt.index, p.to_bytes()))
        })?;
        let status = self.issuer.sign_status(&statement)?;
        Ok(Started { status, index, receipt })
    }
}
