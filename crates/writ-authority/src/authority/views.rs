//! Views: what approvers and requesters read about requests.

use writ_core::Timestamp;
use writ_core::trust::Role;

use super::{Authority, Identity, Plan, ts};
use crate::error::{AuthorityError, Result};
use crate::model::{DecisionView, RequestDocument, RequestView, TargetInput, VoteView};
use crate::state::{self, RequestStatus};

impl Authority {
    /// The sequencer lease as PostgreSQL sees it now (replicas connected,
    /// the one holding it); `None` on SQLite, where this process is the only
    /// sequencer.
    ///
    /// # Errors
    /// PostgreSQL errors reading it.
    pub fn sequencer_view(&self) -> Result<Option<writ_ledger::lease::LeaseView>> {
        Ok(self.lease.as_ref().map(writ_ledger::lease::Lease::view).transpose()?)
    }

    /// Pending requests (for approvers).
    ///
    /// # Errors
    /// [`AuthorityError::Forbidden`] without the approver role.
    pub fn pending(&self, caller: &Identity, now: Timestamp) -> Result<Vec<RequestView>> {
        if !caller.has(Role::Issuer) {
            caller.require(Role::Approver, "list pending requests")?;
        }
        let ids = self.db.tx(|t| state::pending_ids(t, now.unix()))?;
        ids.iter().map(|id| self.request_view_internal(id, false)).collect()
    }

    /// One request. The requester sees the writ once issued.
    ///
    /// # Errors
    /// [`AuthorityError::UnknownRequest`]; [`AuthorityError::Forbidden`] for
    /// callers who are neither its requester, an approver nor an issuer.
    pub fn request(&self, caller: &Identity, id: &str) -> Result<RequestView> {
        let v = self.request_view_internal(id, false)?;
        let own = v.requester == caller.key_id.to_string();
        if !own && !caller.has(Role::Approver) && !caller.has(Role::Issuer) {
            return Err(AuthorityError::Forbidden(
                "only the requester, approvers and issuers may read a request".into(),
            ));
        }
        if own || caller.has(Role::Issuer) { self.request_view_internal(id, true) } else { Ok(v) }
    }

    pub(super) fn request_view_internal(&self, id: &str, with_writ: bool) -> Result<RequestView> {
        let (row, votes, writ) = self.db.tx(|t| {
            let row = state::request(t, id, false)?;
            let votes = state::votes(t, id)?;
            let writ = if with_writ && row.writ_id.is_some() { state::writ_of_request(t, id)? } else { None };
            Ok((row, votes, writ))
        })?;
        let doc: RequestDocument = serde_json::from_slice(&row.document)
            .map_err(|e| AuthorityError::Internal(format!("stored request document: {e}")))?;
        let plan: Plan =
            serde_json::from_str(&row.plan).map_err(|e| AuthorityError::Internal(format!("stored plan: {e}")))?;
        let (writ, receipt) = match writ {
            Some(w) => (
                Some(String::from_utf8_lossy(&w.envelope).into_owned()),
                Some(String::from_utf8_lossy(&w.receipt).into_owned()),
            ),
            None => (None, None),
        };
        Ok(view(ViewParts {
            id: row.id,
            status: row.status,
            requester: row.requester,
            requester_name: row.requester_name,
            doc_bytes: &row.document,
            doc,
            digest: row.digest,
            created: row.created_at,
            expires: row.expires_at,
            approvals_required: row.approvals_required,
            approver_group: row.approver_group,
            plan: &plan,
            approvals: votes
                .into_iter()
                .map(|v| VoteView {
                    approver: v.approver,
                    name: v.approver_name,
                    verdict: v.verdict,
                    time: ts(v.time),
                    reason: v.reason,
                })
                .collect(),
            writ_id: row.writ_id,
            writ,
            receipt,
        }))
    }
}

/// Everything a [`RequestView`] is made of, from the state database or (just
/// after [`Authority::submit`] stored it) from memory.
pub(super) struct ViewParts<'a> {
    pub(super) id: String,
    pub(super) status: RequestStatus,
    pub(super) requester: String,
    pub(super) requester_name: String,
    pub(super) doc_bytes: &'a [u8],
    pub(super) doc: RequestDocument,
    pub(super) digest: String,
    pub(super) created: i64,
    pub(super) expires: i64,
    pub(super) approvals_required: u32,
    pub(super) approver_group: Option<String>,
    pub(super) plan: &'a Plan,
    pub(super) approvals: Vec<VoteView>,
    pub(super) writ_id: Option<String>,
    pub(super) writ: Option<String>,
    pub(super) receipt: Option<String>,
}

pub(super) fn view(p: ViewParts<'_>) -> RequestView {
    let summary = match &p.doc.target {
        TargetInput::Exec { argv, program, .. } => {
            let mut a = argv.clone();
            if let Some(first) = a.first_mut() {
                first.clone_from(program);
            }
            writ_policy::command_line(&a)
        }
        TargetInput::Http { method, path } => format!("http {method} {path}"),
        TargetInput::Tool { name, args, .. } if args.is_empty() => format!("tool {name}"),
        TargetInput::Tool { name, args, .. } => {
            let pairs: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("tool {name} {}", writ_policy::command_line(&pairs))
        }
    };
    let d = &p.plan.decision;
    RequestView {
        request_id: p.id,
        status: p.status.as_str().into(),
        requester: p.requester,
        requester_name: p.requester_name,
        document: writ_core::b64::encode(p.doc_bytes),
        request_digest: p.digest,
        summary,
        reason: p.doc.reason,
        created_at: ts(p.created),
        expires_at: ts(p.expires),
        approvals_required: p.approvals_required,
        approver_group: p.approver_group,
        approvals: p.approvals,
        decision: DecisionView {
            outcome: d.outcome.as_str().into(),
            determining_policies: d.determining_policies.clone(),
            reasons: d.reasons.clone(),
            approvals_required: d.obligations.approvals,
            approver_group: d.obligations.approver_group.clone(),
            policy_digest: d.policy_digest.clone(),
        },
        writ_id: p.writ_id,
        writ: p.writ,
        receipt: p.receipt,
    }
}
