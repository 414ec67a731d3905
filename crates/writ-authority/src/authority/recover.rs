//! The state database cannot lose or forge a decision: the ledger is the
//! record, the state is an index of it plus what is still pending.
//!
//! [`Authority::check_state`] reads the whole ledger and compares the state
//! with it, naming every difference ([`Difference`], each with a stable
//! code): a revocation the state lost, a use count below the executions the
//! ledger recorded, a writ or request status the ledger never issued, uses
//! other than the signed writ's, an entry index that does not match. One SQL
//! `UPDATE` that un-revokes a writ or resets a use count is caught.
//!
//! [`Authority::recover`] (`writ recover`) rebuilds what the ledger
//! determines and reports what it cannot: the entry index, revocations,
//! use counts (at least the recorded executions), the uses the signed writ
//! carries, request statuses. It only ever makes the state stricter: a writ
//! the state holds but the ledger never issued is revoked, never deleted; a
//! revocation the ledger lacks stays. Request documents and writ envelopes
//! are not in the ledger (only their digests are), so a request or writ
//! missing from the state is reported, not invented.
//!
//! At start-up ([`Authority::open`]) the tail of the ledger that the state
//! has not indexed (a crash between the ledger append and the state commit)
//! is indexed and applied.

use std::collections::{BTreeMap, BTreeSet};

use writ_core::Timestamp;
use writ_core::entry::Entry;

use super::Authority;
use crate::db::Tx;
use crate::error::{AuthorityError, Result};
use crate::state::{self, RequestStatus};

/// One difference between the state and the ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// Stable code (see the table in `docs/authority.md`).
    pub code: &'static str,
    /// The request, writ or ledger index it is about.
    pub subject: String,
    /// What differs.
    pub detail: String,
    /// Whether [`Authority::recover`] fixes it (from the ledger).
    pub recoverable: bool,
}

/// What [`Authority::recover`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RecoverReport {
    /// Ledger entries read.
    pub entries: u64,
    /// The differences found before recovering.
    pub found: Vec<Difference>,
    /// How many of them were fixed.
    pub fixed: usize,
    /// The differences left after recovering (those the ledger cannot fix).
    pub remaining: Vec<Difference>,
}

#[derive(Debug, Default)]
struct LedgerWrit {
    request_id: String,
    envelope_sha256: String,
    not_after: i64,
    revoked: Option<(i64, String)>,
    exec_starts: i64,
}

#[derive(Debug, Default)]
struct LedgerRequest {
    logged: bool,
    allowed: Option<bool>,
    approver_denials: u32,
    writ: Option<String>,
    approvals: BTreeSet<String>,
}

/// What the ledger says, read once.
#[derive(Debug, Default)]
struct LedgerView {
    size: u64,
    index: BTreeMap<u64, (String, Option<String>, Option<String>)>,
    requests: BTreeMap<String, LedgerRequest>,
    writs: BTreeMap<String, LedgerWrit>,
}

impl LedgerView {
    fn apply(&mut self, idx: u64, e: &Entry) {
        self.index.insert(
            idx,
            (e.kind().as_str().to_string(), e.request_id().map(str::to_string), e.writ_id().map(str::to_string)),
        );
        match e {
            Entry::Request(r) => self.requests.entry(r.request_id.clone()).or_default().logged = true,
            Entry::Decision(d) => self.requests.entry(d.request_id.clone()).or_default().allowed = Some(d.allow),
            Entry::Approval(a) => {
                self.requests.entry(a.request_id.clone()).or_default().approvals.insert(a.approver.clone());
            }
            Entry::Denial(d) if d.code == "approver_denied" => {
                if let Some(r) = &d.request_id {
                    self.requests.entry(r.clone()).or_default().approver_denials += 1;
                }
            }
            Entry::Issuance(i) => {
                self.requests.entry(i.request_id.clone()).or_default().writ = Some(i.writ_id.clone());
                let w = self.writs.entry(i.writ_id.clone()).or_default();
                w.request_id.clone_from(&i.request_id);
                w.envelope_sha256 = i.envelope_digest.to_hex();
                w.not_after = i.not_after.unix();
            }
            Entry::Revocation(r) => {
                let w = self.writs.entry(r.writ_id.clone()).or_default();
                if w.revoked.is_none() {
                    w.revoked = Some((r.time.unix(), r.reason.clone()));
                }
            }
            Entry::ExecStart(s) => self.writs.entry(s.writ_id.clone()).or_default().exec_starts += 1,
            _ => {}
        }
    }
}

fn diff(code: &'static str, subject: impl Into<String>, detail: String, recoverable: bool) -> Difference {
    Difference { code, subject: subject.into(), detail, recoverable }
}

/// The uses a stored writ's signed envelope carries.
fn signed_uses(envelope: &[u8]) -> Option<i64> {
    writ_core::Unverified::decode(envelope).ok().and_then(|u| u.uses()).and_then(|u| i64::try_from(u).ok())
}

/// What the ledger of `size` entries says from entry `from` on, reading
/// `[start, end)` ranges through `read`.
fn read_view(size: u64, from: u64, mut read: impl FnMut(u64, u64) -> Result<Vec<Vec<u8>>>) -> Result<LedgerView> {
    let mut v = LedgerView { size, ..LedgerView::default() };
    let mut start = from;
    while start < size {
        let end = size.min(start.saturating_add(writ_ledger::MAX_RANGE));
        let batch = read(start, end)?;
        if batch.len() as u64 != end - start {
            return Err(AuthorityError::Internal(format!(
                "ledger entries {start}..{end}: {} of them could be read",
                batch.len()
            )));
        }
        for (i, bytes) in batch.into_iter().enumerate() {
            let idx = start + i as u64;
            let e = Entry::decode(&bytes)
                .map_err(|err| AuthorityError::Internal(format!("ledger entry {idx} does not decode: {err}")))?;
            v.apply(idx, &e);
        }
        start = end;
    }
    Ok(v)
}

/// [`Authority::check_state`] without an open authority: compare the state
/// in `db` with the first `size` entries of a ledger read through `read`
/// (`[start, end)` → the entries, in order), changing nothing. `writ audit`
/// calls it with the store it audits.
///
/// # Errors
/// `read`'s errors, an entry that does not decode, database errors.
pub fn compare_state(
    db: &crate::db::Db,
    size: u64,
    read: impl FnMut(u64, u64) -> Result<Vec<Vec<u8>>>,
) -> Result<Vec<Difference>> {
    let lv = read_view(size, 0, read)?;
    db.tx(|t| compare(t, &lv))
}

impl Authority {
    fn read_ledger(&self, from: u64) -> Result<LedgerView> {
        read_view(self.ledger().size(), from, |start, end| Ok(self.ledger().entries(start, end)?))
    }

    /// Compare the state with the ledger; every difference, none when they
    /// agree.
    ///
    /// # Errors
    /// Ledger and database errors.
    pub fn check_state(&self) -> Result<Vec<Difference>> {
        let lv = self.read_ledger(0)?;
        self.db.tx(|t| compare(t, &lv))
    }

    /// Rebuild the state from the ledger as far as the ledger determines it
    /// (see the module documentation), in one transaction.
    ///
    /// # Errors
    /// Ledger and database errors.
    pub fn recover(&self, now: Timestamp) -> Result<RecoverReport> {
        let lv = self.read_ledger(0)?;
        let (found, remaining) = self.db.tx(|t| {
            let found = compare(t, &lv)?;
            repair(t, &lv, now.unix())?;
            for (idx, (kind, _, _)) in &lv.index {
                self.index_gate_record(t, *idx, kind)?;
            }
            let remaining = compare(t, &lv)?;
            Ok((found, remaining))
        })?;
        let fixed = found.len().saturating_sub(remaining.len());
        Ok(RecoverReport { entries: lv.size, found, fixed, remaining })
    }

    /// Index and apply the ledger entries past the last one the state
    /// indexed (start-up; a crash between a ledger append and the state
    /// commit leaves such a tail).
    pub(crate) fn recover_tail(&self) -> Result<u64> {
        let from = self.db.tx(|t| state::indexed_through(t))?;
        if from >= self.ledger().size() {
            return Ok(0);
        }
        let lv = self.read_ledger(from)?;
        self.db.tx(|t| {
            let mut n = 0;
            for (idx, (kind, req, writ)) in &lv.index {
                if !state::is_indexed(t, *idx)? {
                    state::index_raw(t, *idx, kind, req.as_deref(), writ.as_deref())?;
                    self.index_gate_record(t, *idx, kind)?;
                    n += 1;
                }
            }
            for (id, w) in &lv.writs {
                if let Some((at, reason)) = &w.revoked
                    && let Ok(row) = state::writ(t, id, true)
                    && row.revoked_at.is_none()
                {
                    state::revoke_writ(t, id, *at, reason)?;
                }
            }
            Ok(n)
        })
    }
}

fn compare(t: &mut dyn Tx, lv: &LedgerView) -> Result<Vec<Difference>> {
    let mut out = Vec::new();
    // the entry index
    let indexed: BTreeMap<u64, String> = state::all_indexed(t)?.into_iter().collect();
    for (idx, (kind, _, _)) in &lv.index {
        match indexed.get(idx) {
            None => out.push(diff(
                "entry_not_indexed",
                idx.to_string(),
                format!("ledger entry {idx} ({kind}) is not indexed"),
                true,
            )),
            Some(k) if k != kind => out.push(diff(
                "index_differs",
                idx.to_string(),
                format!("ledger entry {idx} is `{kind}`, the index says `{k}`"),
                true,
            )),
            Some(_) => {}
        }
    }
    for idx in indexed.keys().filter(|i| **i >= lv.size) {
        out.push(diff(
            "index_beyond_ledger",
            idx.to_string(),
            format!("the index names entry {idx}, past the ledger's {} entries", lv.size),
            true,
        ));
    }
    // writs
    let writs = state::all_writs(t)?;
    let stored: BTreeSet<&str> = writs.iter().map(|w| w.id.as_str()).collect();
    for w in &writs {
        let Some(l) = lv.writs.get(&w.id).filter(|l| !l.envelope_sha256.is_empty()) else {
            let (detail, fixable) = if w.revoked_at.is_none() {
                ("the state holds a writ the ledger never issued", true)
            } else {
                ("the state holds a writ the ledger never issued (revoked)", false)
            };
            out.push(diff("writ_not_in_ledger", &w.id, detail.into(), fixable));
            continue;
        };
        if l.envelope_sha256 != w.envelope_sha256 || l.not_after != w.not_after || l.request_id != w.request_id {
            out.push(diff(
                "writ_differs",
                &w.id,
                format!(
                    "the stored writ (sha256 {}, request {}, not_after {}) is not the one the ledger issued (sha256 {}, request {}, not_after {})",
                    w.envelope_sha256, w.request_id, w.not_after, l.envelope_sha256, l.request_id, l.not_after
                ),
                w.revoked_at.is_none(),
            ));
        }
        match (&l.revoked, w.revoked_at) {
            (Some((at, _)), None) => out.push(diff(
                "revocation_lost",
                &w.id,
                format!("the ledger revoked it at {at}; the state says it is valid"),
                true,
            )),
            (None, Some(at)) => out.push(diff(
                "revocation_not_in_ledger",
                &w.id,
                format!(
                    "the state says revoked at {at}; the ledger has no revocation (kept: revoked is the safe side)"
                ),
                false,
            )),
            _ => {}
        }
        let signed = signed_uses(&w.envelope);
        if w.uses != signed {
            out.push(diff(
                "uses_differ",
                &w.id,
                format!("the state allows {:?} uses; the signed writ {:?}", w.uses, signed),
                true,
            ));
        }
        // Uses are counted (consumed) only for writs with a use count.
        if signed.is_some() && w.used < l.exec_starts {
            out.push(diff(
                "uses_reset",
                &w.id,
                format!("the state counts {} uses; the ledger records {} executions", w.used, l.exec_starts),
                true,
            ));
        }
    }
    for (id, l) in &lv.writs {
        if !l.envelope_sha256.is_empty() && !stored.contains(id.as_str()) {
            out.push(diff(
                "writ_missing_from_state",
                id,
                format!(
                    "the ledger issued it for request {}; the state has no copy (the envelope is not in the ledger)",
                    l.request_id
                ),
                false,
            ));
        }
    }
    // requests
    let requests = state::all_requests(t)?;
    let known: BTreeSet<&str> = requests.iter().map(|(id, _, _)| id.as_str()).collect();
    for (id, status, writ_id) in &requests {
        let Some(l) = lv.requests.get(id).filter(|l| l.logged) else {
            out.push(diff(
                "request_not_in_ledger",
                id,
                format!("the state holds a {status} request the ledger never logged"),
                *status != RequestStatus::Denied,
            ));
            continue;
        };
        let expected = expected_status(l, *status);
        if expected != *status || (expected == RequestStatus::Issued && writ_id.as_deref() != l.writ.as_deref()) {
            out.push(diff(
                "status_differs",
                id,
                format!("the state says {status} (writ {writ_id:?}); the ledger says {expected} (writ {:?})", l.writ),
                true,
            ));
        }
        for v in state::votes(t, id)? {
            if v.verdict == "approve" && !l.approvals.contains(&v.approver) {
                out.push(diff(
                    "vote_not_in_ledger",
                    id,
                    format!("the approval of {} is not in the ledger", v.approver),
                    false,
                ));
            }
        }
    }
    for (id, l) in &lv.requests {
        if l.logged && !known.contains(id.as_str()) {
            out.push(diff(
                "request_missing_from_state",
                id,
                "the ledger logged it; the state has no copy of its document".into(),
                false,
            ));
        }
    }
    Ok(out)
}

/// The status the ledger determines, given the stored one (pending and
/// expired are not in the ledger: they stand unless the ledger decided).
fn expected_status(l: &LedgerRequest, stored: RequestStatus) -> RequestStatus {
    if l.writ.is_some() {
        RequestStatus::Issued
    } else if l.allowed == Some(false) || (l.approver_denials > 0 && stored == RequestStatus::Denied) {
        RequestStatus::Denied
    } else {
        match stored {
            RequestStatus::Pending | RequestStatus::Expired => stored,
            // issued or denied without the entries that say so; approved is
            // never left in the state (it is issued in the same transaction)
            _ => RequestStatus::Denied,
        }
    }
}

fn repair(t: &mut dyn Tx, lv: &LedgerView, now: i64) -> Result<()> {
    // the index: rebuilt from the ledger
    state::clear_index(t)?;
    for (idx, (kind, req, writ)) in &lv.index {
        state::index_raw(t, *idx, kind, req.as_deref(), writ.as_deref())?;
    }
    for w in state::all_writs(t)? {
        match lv.writs.get(&w.id).filter(|l| !l.envelope_sha256.is_empty()) {
            None => {
                if w.revoked_at.is_none() {
                    state::revoke_writ(t, &w.id, now, "not in the ledger (revoked by recovery)")?;
                }
            }
            Some(l) => {
                if l.envelope_sha256 != w.envelope_sha256 || l.not_after != w.not_after || l.request_id != w.request_id
                {
                    if w.revoked_at.is_none() {
                        state::revoke_writ(t, &w.id, now, "differs from the ledger (revoked by recovery)")?;
                    }
                } else if let (Some((at, reason)), None) = (&l.revoked, w.revoked_at) {
                    state::revoke_writ(t, &w.id, *at, reason)?;
                }
                if signed_uses(&w.envelope).is_some() && w.used < l.exec_starts {
                    state::set_used(t, &w.id, l.exec_starts)?;
                }
            }
        }
        let signed = signed_uses(&w.envelope);
        if w.uses != signed {
            state::set_uses(t, &w.id, signed)?;
        }
    }
    for (id, status, writ_id) in state::all_requests(t)? {
        let Some(l) = lv.requests.get(&id).filter(|l| l.logged) else {
            if status != RequestStatus::Denied {
                state::set_request_status(t, &id, RequestStatus::Denied)?;
            }
            continue;
        };
        let expected = expected_status(l, status);
        if expected == RequestStatus::Issued {
            // only with a stored writ the ledger issued for it
            if let Some(w) = &l.writ
                && state::writ(t, w, false).is_ok()
                && (status != expected || writ_id.as_deref() != Some(w.as_str()))
            {
                state::set_request_issued(t, &id, w)?;
            }
        } else if expected != status {
            state::set_request_status(t, &id, expected)?;
        }
    }
    Ok(())
}
