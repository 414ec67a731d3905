//! Issue: build the writ a request's plan allows, sign it, log its
//! issuance entry and store it with the receipt of that entry.

use writ_core::digest::DigestSet;
use writ_core::entry::{self, Entry};
use writ_core::model::{
    Action, ArgRule, Environment, ExecAction, Governance, HttpAction, PolicyDecision, PolicyProof, Predicate,
    RequestRef, Scope, ToolAction, Validity,
};
use writ_core::{KeyId, Sha256Digest, Timestamp};

use super::{Authority, Plan, new_id, policy_id, retry_conflicts};
use crate::db::Tx;
use crate::error::{AuthorityError, Result};
use crate::model::{RequestDocument, TargetInput};
use crate::state::{self, WritRow};

/// Longest validity of a writ a gate may run offline (also capped by the
/// trust root's `max_offline_lifetime_secs`): it cannot be revoked in time.
pub const MAX_OFFLINE_SECS: i64 = 300;

/// A request about to be issued.
pub(super) struct Pending<'a> {
    pub(super) id: &'a str,
    pub(super) requester: KeyId,
    pub(super) requester_name: String,
    pub(super) doc: &'a RequestDocument,
    pub(super) digest: Sha256Digest,
    pub(super) approvals_required: u32,
    pub(super) approver_group: Option<String>,
    pub(super) plan: &'a Plan,
}

/// A signed, logged writ not yet stored.
pub(super) struct Minted {
    pub(super) writ_id: String,
    pub(super) envelope: Vec<u8>,
    pub(super) env_digest: Sha256Digest,
    pub(super) receipt: Vec<u8>,
    pub(super) index: u64,
    pub(super) issuance: Entry,
    pub(super) uses: Option<u32>,
    pub(super) not_after: Timestamp,
}

/// A signed writ whose issuance entry is not logged yet. It must not leave
/// the authority before [`Draft::finish`] gives it the receipt of that
/// entry, durable and covered by a signed checkpoint.
pub(super) struct Draft {
    pub(super) writ_id: String,
    pub(super) envelope: Vec<u8>,
    pub(super) env_digest: Sha256Digest,
    pub(super) issuance: Entry,
    pub(super) uses: Option<u32>,
    pub(super) not_after: Timestamp,
}

impl Draft {
    /// The minted writ, given the receipt of its durable issuance entry
    /// (`issuance_bytes`, which the receipt carries as its `extra` line).
    pub(super) fn finish(self, receipt: &writ_ledger::Receipt, issuance_bytes: Vec<u8>) -> Minted {
        let Self { writ_id, envelope, env_digest, issuance, uses, not_after } = self;
        Minted {
            writ_id,
            envelope,
            env_digest,
            receipt: receipt.to_tlog_proof_with_extra(issuance_bytes).to_bytes(),
            index: receipt.index,
            issuance,
            uses,
            not_after,
        }
    }
}

impl Authority {
    /// Issue the writ of request `id` (inside the caller's transaction).
    pub(super) fn issue(&self, t: &mut dyn Tx, id: &str, now: Timestamp) -> Result<()> {
        let row = state::request(t, id, false)?;
        let doc: RequestDocument = serde_json::from_slice(&row.document)
            .map_err(|e| AuthorityError::Internal(format!("stored request document: {e}")))?;
        let plan: Plan =
            serde_json::from_str(&row.plan).map_err(|e| AuthorityError::Internal(format!("stored plan: {e}")))?;
        let requester = KeyId::parse(&row.requester).map_err(|e| AuthorityError::Internal(e.into()))?;
        let digest = Sha256Digest::from_hex(&row.digest).map_err(|e| AuthorityError::Internal(e.into()))?;
        let approvals = state::votes(t, id)?
            .into_iter()
            .filter(|v| v.verdict == state::verdict_str(writ_core::approval::Verdict::Approve))
            .map(|v| {
                let approver = KeyId::parse(&v.approver).map_err(|e| AuthorityError::Internal(e.into()))?;
                super::vote::stored_approval(approver, Timestamp(v.time), v.sig)
            })
            .collect::<Result<Vec<_>>>()?;
        let minted = self.mint(
            &Pending {
                id,
                requester,
                requester_name: row.requester_name.clone(),
                doc: &doc,
                digest,
                approvals_required: row.approvals_required,
                approver_group: row.approver_group.clone(),
                plan: &plan,
            },
            approvals,
            now,
        )?;
        self.store_minted(t, id, &requester, &minted)
    }

    /// Build, sign and log a writ; returns it with its receipt. Touches no
    /// state: the caller stores it ([`Self::store_minted`]).
    fn mint(&self, p: &Pending<'_>, approvals: Vec<writ_core::model::Approval>, now: Timestamp) -> Result<Minted> {
        let (draft, issuance_bytes) = self.draft(p, approvals, now)?;
        // INVARIANT (7, nothing runs unlogged): the writ leaves the authority
        // only with the receipt of its durable issuance entry.
        let receipt = self.sequenced(|| retry_conflicts(|| self.ledger.append_with_receipt(issuance_bytes.clone())))?;
        Ok(draft.finish(&receipt, issuance_bytes))
    }

    /// Build and sign a writ and its issuance entry (encoded), without
    /// logging it: [`Draft::finish`] attaches the receipt once it is durable.
    pub(super) fn draft(
        &self,
        p: &Pending<'_>,
        approvals: Vec<writ_core::model::Approval>,
        now: Timestamp,
    ) -> Result<(Draft, Vec<u8>)> {
        let trust = self.trust();
        // A key's window bounds issuance: outside it (retired, not yet
        // valid, revoked) the authority issues nothing, whatever the writ
        // would claim as its `issued_at`.
        let issuer_ok = trust
            .key(&self.issuer.key_id())
            .is_some_and(|k| k.has_role(writ_core::trust::Role::Issuer) && !k.entry.revoked && k.valid_at(now));
        if !issuer_ok {
            return Err(AuthorityError::Config(format!(
                "the issuer key {} is not a valid issuer in the trust root at {}; the authority issues nothing until it is (check its window in `trust.json`)",
                self.issuer.key_id(),
                now.to_rfc3339()
            )));
        }
        let scope = p.plan.scope(p.doc.hosts.as_ref());
        let mut duration = i64::try_from(p.doc.duration_secs).unwrap_or(i64::MAX);
        if let Some(m) = p.plan.decision.obligations.max_duration_secs {
            duration = duration.min(i64::try_from(m).unwrap_or(i64::MAX));
        }
        if let Some(m) = trust.file().max_writ_lifetime_secs {
            duration = duration.min(i64::try_from(m).unwrap_or(i64::MAX));
        }
        // An offline writ cannot be revoked in time, so it lives briefly: at
        // most what the trust root lets gates run offline.
        let offline = scope.offline && scope.uses.is_none();
        if offline {
            let cap = i64::try_from(trust.file().max_offline_lifetime_secs).unwrap_or(i64::MAX);
            duration = duration.min(cap).min(MAX_OFFLINE_SECS);
        }
        let action = match &p.doc.target {
            TargetInput::Exec { program, sha256, argv } => Action::Exec(ExecAction {
                program: program.clone(),
                sha256: Sha256Digest::from_hex(sha256.as_deref().unwrap_or_default())
                    .map_err(|e| AuthorityError::Internal(e.into()))?,
                args: argv.iter().skip(1).map(|a| ArgRule::Exact(a.clone())).collect(),
                more_args: false,
            }),
            TargetInput::Http { method, path } => {
                Action::Http(HttpAction { method: method.clone(), path: path.clone(), body_sha256: None })
            }
            TargetInput::Tool { name, args, args_sha256, definition_sha256 } => {
                let digest = |d: &Option<String>| {
                    d.as_deref().map(Sha256Digest::from_hex).transpose().map_err(|e| AuthorityError::Internal(e.into()))
                };
                let args_sha256 = digest(args_sha256)?;
                Action::Tool(ToolAction {
                    name: name.clone(),
                    args: writ_core::json::StrictMap(
                        args.iter().map(|(k, v)| (k.clone(), ArgRule::Exact(v.clone()))).collect(),
                    ),
                    // The digest alone pins every argument.
                    more_args: args.is_empty() && args_sha256.is_some(),
                    args_sha256,
                    definition_sha256: digest(definition_sha256)?,
                })
            }
        };
        let uses = scope.uses;
        let writ_id = new_id();
        let predicate = Predicate {
            id: writ_id.clone(),
            issuer: self.issuer.key_id(),
            issued_at: now,
            request: RequestRef {
                id: p.id.into(),
                requester: p.requester,
                requester_name: p.requester_name.clone(),
                reason: p.doc.reason.clone(),
                digest: DigestSet(p.digest),
            },
            policy: PolicyProof {
                id: policy_id(&p.plan.decision.policy_digest),
                digest: DigestSet(
                    Sha256Digest::from_hex(&p.plan.decision.policy_digest).unwrap_or(Sha256Digest([0; 32])),
                ),
                decision: PolicyDecision::Allow,
                determining_policies: p.plan.decision.determining_policies.clone(),
            },
            governance: Governance {
                approvals_required: p.approvals_required,
                approver_group: p.approver_group.clone(),
                approvals,
            },
            conditions: p.plan.conditions.clone(),
            scope: Scope {
                actions: vec![action],
                environment: Environment {
                    hosts: scope.hosts.clone(),
                    labels: scope.labels.clone(),
                    env: writ_core::json::StrictMap(
                        p.doc.env.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect(),
                    ),
                    cwd: p.doc.cwd.clone(),
                },
                boundaries: scope.boundaries.clone(),
                uses,
                offline,
            },
            validity: Validity { not_before: now, not_after: now.plus(duration.max(1)) },
            lineage: scope.lineage(),
        };
        let statement = writ_core::issue::statement(predicate);
        let envelope = self.issuer.sign_writ(&statement)?;
        let env_digest = Sha256Digest::of(&envelope);
        let issuance = Entry::Issuance(entry::Issuance {
            time: now,
            request_id: p.id.into(),
            writ_id: writ_id.clone(),
            envelope_digest: env_digest,
            issuer: self.issuer.key_id().to_string(),
            not_before: statement.predicate.validity.not_before,
            not_after: statement.predicate.validity.not_after,
            parent_writ_id: None,
            parent_digest: None,
        });
        let issuance_bytes = issuance.encode().map_err(|e| AuthorityError::Internal(e.to_string()))?;
        let not_after = statement.predicate.validity.not_after;
        Ok((Draft { writ_id, envelope, env_digest, issuance, uses, not_after }, issuance_bytes))
    }

    pub(super) fn store_minted(&self, t: &mut dyn Tx, id: &str, requester: &KeyId, m: &Minted) -> Result<()> {
        store_minted(t, id, requester, m)
    }
}

/// Store a minted writ with the index row of its issuance entry, and mark
/// its request issued.
fn store_minted(t: &mut dyn Tx, id: &str, requester: &KeyId, m: &Minted) -> Result<()> {
    state::index_entry(t, m.index, &m.issuance)?;
    state::insert_writ(t, &writ_row(id, requester, m))
}

/// The state row of a minted writ of request `id`.
pub(super) fn writ_row(id: &str, requester: &KeyId, m: &Minted) -> WritRow {
    WritRow {
        id: m.writ_id.clone(),
        request_id: id.into(),
        requester: requester.to_string(),
        envelope: m.envelope.clone(),
        envelope_sha256: m.env_digest.to_hex(),
        receipt: m.receipt.clone(),
        uses: m.uses.map(i64::from),
        used: 0,
        not_after: m.not_after.unix(),
        revoked_at: None,
        reason: None,
    }
}
