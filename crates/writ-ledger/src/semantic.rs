//! Semantic audit: beside the tree ([`crate::audit`]), check that what the
//! ledger records is a history the rules allow.
//!
//! One pass over the entries (`writ_core::entry`), in ledger order, with the
//! trust root in force at each point (the signed trust-root versions, as
//! their `key_change` records put them in force, or the auditor's trust
//! root for a ledger without them), and the issued writs when the auditor
//! has them (the authority's state):
//!
//! | check | finding codes |
//! |---|---|
//! | every entry is a writ entry | `undecodable_entry` |
//! | every issuance answers a recorded request with a recorded allow decision | `issuance_without_request`, `issuance_without_allow`, `duplicate_issuance` |
//! | every approval names its request's digest, from an eligible approver who is not the requester | `approval_request_mismatch`, `approver_not_eligible`, `self_approval` |
//! | every issued writ is the one recorded, signed by an issuer key, and carries the approvals its policy required: signed, eligible, distinct, each one recorded before the issuance | `writ_envelope_mismatch`, `issuer_signature_invalid`, `approval_signature_invalid`, `approval_not_logged`, `approvals_missing` (plus the approval codes above) |
//! | no `exec_start` outside the writ's validity or after its revocation; every gate record names a writ the ledger issued for that request | `exec_outside_validity`, `exec_after_revocation`, `exec_unknown_writ`, `exec_request_mismatch`, `revocation_unknown_writ` |
//! | a gate's denial naming a writ the ledger never issued (a forged writ, or one signed with a stolen issuer key, presented to a gate): valid evidence, reported as a warning (the audit passes) | `unissued_writ_presented` |
//! | every gate record (`exec_start`, `exec_end`, a gate's `denial`) is signed by a non-revoked `gate` key of the trust root in force, valid at the record's time (`writ_core::gate_record`) | `unsigned_gate_record`, `bad_gate_signature` |
//! | every delegation (a recorded holder-signed child, `docs/format.md` §18) names a parent the ledger issued or recorded before it, for the same request, one level deeper, within the parent's validity, before any revocation of its chain; with the envelopes, the child is the recorded one, signed by the parent's holder and no wider than the parent; a child's gate records are checked as any writ's, its chain's revocations included | `delegation_unknown_parent`, `delegation_mismatch`, `delegation_after_revocation`, `delegation_invalid`, `duplicate_issuance` |
//! | every trust-root version follows the previous one and is signed by its root quorum | `trust_version_gap`, `trust_version_invalid`, `trust_version_mismatch`, `trust_version_unavailable` |
//!
//! Findings of severity [`Severity::Error`] fail the audit; warnings are
//! reported once per code with a count. Checks that need something the
//! auditor did not supply (the writ envelopes, a trust root) are counted
//! as skipped, never passed silently.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use writ_core::approval::{self, Verdict};
use writ_core::entry::{Entry, ExecStart};
use writ_core::gate_record::{GateRecord, GateRecordError};
use writ_core::model::Statement;
use writ_core::trust_chain::{self, KEY_CHANGE_ROLE, SignedTrustRoot};
use writ_core::{Role, Sha256Digest, Timestamp, TrustRoot};

use crate::audit::{AUDIT_CHUNK, MAX_FINDINGS};
use crate::error::{LedgerError, Result};
use crate::store::Store;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The history breaks a rule: the audit fails.
    Error,
    /// Reported, does not fail the audit.
    Warning,
}

/// Stable codes of semantic findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Code {
    /// An entry that is not a writ ledger entry.
    UndecodableEntry,
    /// An issuance whose request is not in the ledger before it.
    IssuanceWithoutRequest,
    /// An issuance without a recorded allow decision for its request.
    IssuanceWithoutAllow,
    /// A writ id issued twice.
    DuplicateIssuance,
    /// An approval whose request is unknown or whose digest differs.
    ApprovalRequestMismatch,
    /// An approval (ledger or writ) by a key that may not approve it.
    ApproverNotEligible,
    /// The requester approved their own request.
    SelfApproval,
    /// The writ the authority holds is not the one the ledger recorded.
    WritEnvelopeMismatch,
    /// The writ is not signed by an issuer key of the trust root.
    IssuerSignatureInvalid,
    /// An approval in a writ whose signature does not verify.
    ApprovalSignatureInvalid,
    /// An approval in a writ with no approval entry before the issuance.
    ApprovalNotLogged,
    /// Fewer valid approvals than the writ's policy required.
    ApprovalsMissing,
    /// `exec_start` before `not_before` or after `not_after`.
    ExecOutsideValidity,
    /// `exec_start` after the writ's revocation.
    ExecAfterRevocation,
    /// A gate record naming a writ the ledger did not issue (before it).
    ExecUnknownWrit,
    /// A gate record whose request id is not its writ's.
    ExecRequestMismatch,
    /// A revocation of a writ the ledger did not issue.
    RevocationUnknownWrit,
    /// A gate record without a gate signature.
    UnsignedGateRecord,
    /// A gate record whose signature does not verify under a gate key of
    /// the trust root in force.
    BadGateSignature,
    /// A trust-root version that does not follow the previous one.
    TrustVersionGap,
    /// A trust-root version whose signatures or link do not verify.
    TrustVersionInvalid,
    /// A trust-root version record that does not match its document.
    TrustVersionMismatch,
    /// A delegation whose parent the ledger did not issue or record before it.
    DelegationUnknownParent,
    /// A delegation whose request, depth, validity or parent digest does
    /// not follow from its parent.
    DelegationMismatch,
    /// A delegation recorded after its parent (or an ancestor) was revoked.
    DelegationAfterRevocation,
    /// A delegated writ (the authority's copy) that is not the recorded one,
    /// is not signed by its parent's holder, or grants more than its parent.
    DelegationInvalid,
    /// A trust-root version recorded in the ledger whose document the
    /// auditor does not have.
    TrustVersionUnavailable,
    /// A gate denied a writ the ledger never issued: someone holds a writ
    /// that verifies (or looks like one) without an issuance, e.g. one
    /// signed with a stolen issuer key. A warning: the record is valid
    /// evidence, and the issuer key may need revoking.
    UnissuedWritPresented,
}

impl Code {
    /// Every code, for documentation and tests.
    pub const ALL: [Self; 28] = [
        Self::UndecodableEntry,
        Self::IssuanceWithoutRequest,
        Self::IssuanceWithoutAllow,
        Self::DuplicateIssuance,
        Self::ApprovalRequestMismatch,
        Self::ApproverNotEligible,
        Self::SelfApproval,
        Self::WritEnvelopeMismatch,
        Self::IssuerSignatureInvalid,
        Self::ApprovalSignatureInvalid,
        Self::ApprovalNotLogged,
        Self::ApprovalsMissing,
        Self::ExecOutsideValidity,
        Self::ExecAfterRevocation,
        Self::ExecUnknownWrit,
        Self::ExecRequestMismatch,
        Self::RevocationUnknownWrit,
        Self::UnsignedGateRecord,
        Self::BadGateSignature,
        Self::TrustVersionGap,
        Self::TrustVersionInvalid,
        Self::TrustVersionMismatch,
        Self::TrustVersionUnavailable,
        Self::DelegationUnknownParent,
        Self::DelegationMismatch,
        Self::DelegationAfterRevocation,
        Self::DelegationInvalid,
        Self::UnissuedWritPresented,
    ];

    /// Stable snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UndecodableEntry => "undecodable_entry",
            Self::IssuanceWithoutRequest => "issuance_without_request",
            Self::IssuanceWithoutAllow => "issuance_without_allow",
            Self::DuplicateIssuance => "duplicate_issuance",
            Self::ApprovalRequestMismatch => "approval_request_mismatch",
            Self::ApproverNotEligible => "approver_not_eligible",
            Self::SelfApproval => "self_approval",
            Self::WritEnvelopeMismatch => "writ_envelope_mismatch",
            Self::IssuerSignatureInvalid => "issuer_signature_invalid",
            Self::ApprovalSignatureInvalid => "approval_signature_invalid",
            Self::ApprovalNotLogged => "approval_not_logged",
            Self::ApprovalsMissing => "approvals_missing",
            Self::ExecOutsideValidity => "exec_outside_validity",
            Self::ExecAfterRevocation => "exec_after_revocation",
            Self::ExecUnknownWrit => "exec_unknown_writ",
            Self::ExecRequestMismatch => "exec_request_mismatch",
            Self::RevocationUnknownWrit => "revocation_unknown_writ",
            Self::UnsignedGateRecord => "unsigned_gate_record",
            Self::BadGateSignature => "bad_gate_signature",
            Self::TrustVersionGap => "trust_version_gap",
            Self::TrustVersionInvalid => "trust_version_invalid",
            Self::TrustVersionMismatch => "trust_version_mismatch",
            Self::TrustVersionUnavailable => "trust_version_unavailable",
            Self::DelegationUnknownParent => "delegation_unknown_parent",
            Self::DelegationMismatch => "delegation_mismatch",
            Self::DelegationAfterRevocation => "delegation_after_revocation",
            Self::DelegationInvalid => "delegation_invalid",
            Self::UnissuedWritPresented => "unissued_writ_presented",
        }
    }

    /// How bad it is.
    #[must_use]
    pub fn severity(self) -> Severity {
        // Every finding but an unissued writ presented to a gate fails the
        // audit (`unsigned_gate_record` was a warning while the entry format
        // had no gate signature).
        match self {
            Self::UnissuedWritPresented => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One semantic finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemanticFinding {
    /// Stable code.
    pub code: Code,
    /// The entry it is about (the first one, for warnings).
    pub index: Option<u64>,
    /// What is wrong, for a person.
    pub detail: String,
}

/// What the auditor brings besides the ledger.
pub struct SemanticInput<'a> {
    /// The trust root to judge keys by where the ledger has no signed
    /// trust-root version in force (a legacy home's `trust.json`).
    pub trust: Option<TrustRoot>,
    /// The pinned digest of trust-root version 1, if the auditor has it.
    pub root_pin: Option<Sha256Digest>,
    /// Signed trust-root versions by number (the home's `trust/<n>.root.json`).
    pub root_versions: BTreeMap<u64, Vec<u8>>,
    /// The issued writ's DSSE envelope by writ id (the authority's state,
    /// recorded delegated writs included), or `None` when the auditor does
    /// not have it.
    pub writ: &'a mut dyn FnMut(&str) -> Option<Vec<u8>>,
}

impl std::fmt::Debug for SemanticInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticInput")
            .field("trust", &self.trust.is_some())
            .field("root_pin", &self.root_pin)
            .field("root_versions", &self.root_versions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The outcome of a semantic audit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SemanticReport {
    /// Entries read.
    pub entries: u64,
    /// What was checked: check name → how many items.
    pub checked: BTreeMap<&'static str, u64>,
    /// What could not be checked: check name → how many items, and why in the name.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Findings (errors individually, at most [`MAX_FINDINGS`]; warnings once per code).
    pub findings: Vec<SemanticFinding>,
    /// Number of error findings (including those not recorded).
    pub error_count: u64,
    /// Number of warning occurrences.
    pub warning_count: u64,
}

impl SemanticReport {
    /// No error findings.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.error_count == 0
    }
}

struct Req {
    requester: String,
    digest: Sha256Digest,
    allow: Option<bool>,
    /// approver key id → (entry index, time)
    approvals: HashMap<String, (u64, Timestamp)>,
}

struct Writ {
    index: u64,
    request_id: String,
    not_before: Timestamp,
    not_after: Timestamp,
    revoked: Option<(u64, Timestamp)>,
    /// The parent, for a recorded delegated writ.
    parent: Option<String>,
    /// `lineage.depth` (0 for an issued writ).
    depth: i64,
    /// SHA-256 of the envelope.
    digest: Sha256Digest,
}

struct Audit<'a, 'b> {
    input: &'a mut SemanticInput<'b>,
    report: SemanticReport,
    /// code → (first entry, occurrences, the first one's detail)
    warnings: BTreeMap<Code, (u64, u64, String)>,
    requests: HashMap<String, Req>,
    writs: HashMap<String, Writ>,
    execs: Vec<(u64, ExecStart)>,
    chain: Option<SignedTrustRoot>,
    last_version: Option<u64>,
}

impl Audit<'_, '_> {
    fn find(&mut self, code: Code, index: u64, detail: String) {
        match code.severity() {
            Severity::Warning => {
                self.report.warning_count += 1;
                self.warnings.entry(code).or_insert((index, 0, detail)).1 += 1;
            }
            Severity::Error => {
                self.report.error_count += 1;
                if self.report.findings.len() < MAX_FINDINGS {
                    self.report.findings.push(SemanticFinding { code, index: Some(index), detail });
                }
            }
        }
    }

    fn checked(&mut self, what: &'static str) {
        *self.report.checked.entry(what).or_default() += 1;
    }

    fn skipped(&mut self, what: &'static str) {
        *self.report.skipped.entry(what).or_default() += 1;
    }

    /// The trust root in force: the last signed version the ledger put in
    /// force, else the auditor's.
    fn trust(&self) -> Option<&TrustRoot> {
        self.chain.as_ref().map(SignedTrustRoot::trust).or(self.input.trust.as_ref())
    }

    fn entry(&mut self, i: u64, e: Entry) {
        match e {
            Entry::Request(r) => {
                self.requests.insert(
                    r.request_id,
                    Req { requester: r.requester, digest: r.request_digest, allow: None, approvals: HashMap::new() },
                );
            }
            Entry::Decision(d) => {
                if let Some(r) = self.requests.get_mut(&d.request_id) {
                    r.allow = Some(d.allow);
                }
            }
            Entry::Approval(a) => self.approval(i, a),
            Entry::Issuance(x) => self.issuance(i, x),
            Entry::Revocation(r) => {
                self.checked("revocations");
                match self.writs.get_mut(&r.writ_id) {
                    Some(w) => {
                        if w.revoked.is_none_or(|(_, t)| r.time < t) {
                            w.revoked = Some((i, r.time));
                        }
                    }
                    None => self.find(
                        Code::RevocationUnknownWrit,
                        i,
                        format!("revocation of writ `{}`, which the ledger did not issue before it", r.writ_id),
                    ),
                }
            }
            Entry::ExecStart(x) => {
                self.execs.push((i, x));
            }
            Entry::ExecEnd(x) => {
                self.checked("exec_ends");
                self.gate_writ(i, &x.writ_id, &x.request_id, "exec_end");
            }
            // Gate denials (checked in `gate_signature`) may name writs that
            // were never issued: a forged writ is denied and recorded, and
            // reported (a warning: the record is evidence, not a breach).
            Entry::Denial(d) => {
                if let Some(w) = d.writ_id.as_deref()
                    && self.writs.get(w).is_none_or(|x| x.index >= i)
                {
                    self.checked("unissued_writ_denials");
                    let d = format!(
                        "entry {i}: a gate{} denied writ `{w}` ({}), which the ledger never issued: someone holds a \
                         writ without an issuance (forged, or signed with a stolen issuer key); check the issuer keys",
                        d.host.as_deref().map(|h| format!(" on `{h}`")).unwrap_or_default(),
                        d.code
                    );
                    self.find(Code::UnissuedWritPresented, i, d);
                }
            }
            Entry::KeyChange(k) if k.role == KEY_CHANGE_ROLE => self.trust_version(i, &k.key_id, &k.change, &k.actor),
            Entry::KeyChange(_) | Entry::PolicyChange(_) => {}
            Entry::Delegation(d) => self.delegation(i, d),
        }
    }

    /// The earliest revocation of `writ_id` or of an ancestor of it.
    fn chain_revoked(&self, writ_id: &str) -> Option<(u64, Timestamp)> {
        let mut best: Option<(u64, Timestamp)> = None;
        let mut cur = Some(writ_id.to_string());
        for _ in 0..16 {
            let Some(w) = cur.as_ref().and_then(|id| self.writs.get(id)) else { break };
            if let Some(r) = w.revoked
                && best.is_none_or(|(_, t)| r.1 < t)
            {
                best = Some(r);
            }
            cur.clone_from(&w.parent);
        }
        best
    }

    /// The issued writ at the top of `writ_id`'s chain.
    fn root_of(&self, writ_id: &str) -> Option<String> {
        let mut cur = writ_id.to_string();
        for _ in 0..16 {
            match self.writs.get(&cur)?.parent.clone() {
                Some(p) => cur = p,
                None => return Some(cur),
            }
        }
        None
    }

    /// A recorded delegation: its parent known before it, for the same
    /// request, one level deeper, within the parent's validity, its chain
    /// not revoked; with the envelopes, the child itself.
    fn delegation(&mut self, i: u64, d: writ_core::entry::Delegation) {
        self.checked("delegations");
        let Some(p) = self.writs.get(&d.parent_writ_id).filter(|w| w.index < i) else {
            return self.find(
                Code::DelegationUnknownParent,
                i,
                format!(
                    "delegation of writ `{}` names parent `{}`, which the ledger did not issue or record before it",
                    d.writ_id, d.parent_writ_id
                ),
            );
        };
        let (p_req, p_nb, p_na, p_depth, p_digest) =
            (p.request_id.clone(), p.not_before, p.not_after, p.depth, p.digest);
        let mut wrong = Vec::new();
        if p_req != d.request_id {
            wrong.push(format!("request `{}` is not the parent's `{p_req}`", d.request_id));
        }
        if d.depth != p_depth + 1 {
            wrong.push(format!("depth {} is not the parent's {p_depth} + 1", d.depth));
        }
        if d.not_before < p_nb || d.not_after > p_na || d.not_before > d.not_after {
            wrong.push(format!(
                "validity {} to {} is not within the parent's {p_nb} to {p_na}",
                d.not_before, d.not_after
            ));
        }
        if d.parent_digest != p_digest {
            wrong.push(format!("parent digest {} is not the parent's envelope digest {p_digest}", d.parent_digest));
        }
        let root = self.root_of(&d.parent_writ_id);
        if root.as_deref() != Some(d.root_writ_id.as_str()) {
            wrong.push(format!("root `{}` is not the chain's root `{}`", d.root_writ_id, root.unwrap_or_default()));
        }
        if !wrong.is_empty() {
            let detail = format!("delegation of writ `{}`: {}", d.writ_id, wrong.join("; "));
            self.find(Code::DelegationMismatch, i, detail);
        }
        if let Some((ri, rt)) = self.chain_revoked(&d.parent_writ_id)
            && d.time >= rt
        {
            let detail = format!(
                "delegation of writ `{}` at {} is after the revocation of its chain at {rt} (entry {ri})",
                d.writ_id, d.time
            );
            self.find(Code::DelegationAfterRevocation, i, detail);
        }
        if self.writs.contains_key(&d.writ_id) {
            return self.find(Code::DuplicateIssuance, i, format!("writ `{}` is recorded a second time", d.writ_id));
        }
        self.writs.insert(
            d.writ_id.clone(),
            Writ {
                index: i,
                request_id: d.request_id.clone(),
                not_before: d.not_before,
                not_after: d.not_after,
                revoked: None,
                parent: Some(d.parent_writ_id.clone()),
                depth: d.depth,
                digest: d.envelope_digest,
            },
        );
        let child = (self.input.writ)(&d.writ_id);
        let parent = (self.input.writ)(&d.parent_writ_id);
        match (child, parent) {
            (Some(c), Some(p)) => self.delegated_writ(i, &d, &c, &p),
            _ => self.skipped("delegated_writs_no_envelope"),
        }
    }

    /// The delegated writ itself: the recorded envelope, signed by its
    /// parent's holder key, no wider than its parent (`writ_core::delegate`).
    fn delegated_writ(&mut self, i: u64, d: &writ_core::entry::Delegation, child: &[u8], parent: &[u8]) {
        self.checked("delegated_writs");
        let bad = |what: String| format!("delegated writ `{}`: {what}", d.writ_id);
        if Sha256Digest::of(child) != d.envelope_digest || Sha256Digest::of(parent) != d.parent_digest {
            let detail = bad("the envelopes the authority holds are not the ones the ledger recorded".into());
            return self.find(Code::DelegationInvalid, i, detail);
        }
        let parsed = writ_core::dsse::decode(child)
            .and_then(|env| writ_core::json::from_slice::<Statement>(&env.payload).map(|st| (env, st)));
        let ((env, st), pp) = match (parsed, writ_core::delegate::read_parent(parent)) {
            (Ok(c), Ok(p)) => (c, p),
            (Err(e), _) => return self.find(Code::DelegationInvalid, i, bad(format!("not a writ: {e}"))),
            (_, Err(e)) => return self.find(Code::DelegationInvalid, i, bad(format!("its parent: {}", e.detail))),
        };
        let c = &st.predicate;
        if c.id != d.writ_id
            || c.validity.not_before != d.not_before
            || c.validity.not_after != d.not_after
            || i64::from(c.lineage.depth) != d.depth
            || c.scope.uses.map(i64::from) != d.uses
        {
            let detail = bad("its id, validity, depth or uses differ from the delegation entry".into());
            return self.find(Code::DelegationInvalid, i, detail);
        }
        let input = env.signing_input();
        let holder = pp.lineage.holder.as_ref().and_then(|h| h.key().ok());
        let signed = holder.as_ref().is_some_and(|k| {
            let kid = k.key_id();
            let mine: Vec<&Vec<u8>> = env.signatures.iter().filter(|(id, _)| *id == kid).map(|(_, s)| s).collect();
            kid.to_string() == d.holder && !mine.is_empty() && mine.iter().all(|s| k.verify_strict(&input, s))
        });
        if !signed {
            let detail = bad(format!("no valid signature by the parent's holder key (`{}`)", d.holder));
            return self.find(Code::DelegationInvalid, i, detail);
        }
        if let Err(e) = writ_core::delegate::check(&pp, c) {
            self.find(Code::DelegationInvalid, i, bad(format!("{}: {}", e.code.as_str(), e.detail)));
        }
    }

    /// A gate record (`exec_start`, `exec_end`, a denial naming a host)
    /// must carry a signature by a gate key of the trust root in force,
    /// valid at the record's time.
    fn gate_signature(&mut self, i: u64, r: &GateRecord) {
        let gate_record = match &r.entry {
            Entry::ExecStart(_) | Entry::ExecEnd(_) => true,
            Entry::Denial(d) => d.host.is_some() || r.gate.is_some(),
            _ => false,
        };
        if !gate_record {
            return;
        }
        let Some(trust) = self.trust() else {
            self.skipped("gate_records");
            return;
        };
        let finding = match r.verified_gate(trust) {
            Ok(_) => None,
            Err(e @ GateRecordError::Unsigned(_)) => Some((Code::UnsignedGateRecord, e.to_string())),
            Err(e) => Some((Code::BadGateSignature, e.to_string())),
        };
        self.checked("gate_records");
        if let Some((code, d)) = finding {
            self.find(code, i, format!("entry {i}: {d}"));
        }
    }

    /// A gate record must name a writ issued before it, for its request.
    fn gate_writ(&mut self, i: u64, writ_id: &str, request_id: &str, what: &str) -> Option<(Timestamp, Timestamp)> {
        let known =
            self.writs.get(writ_id).filter(|w| w.index < i).map(|w| (w.request_id.clone(), w.not_before, w.not_after));
        match known {
            Some((wreq, nb, na)) => {
                if wreq != request_id {
                    let d =
                        format!("{what} names request `{request_id}`, but writ `{writ_id}` was issued for `{wreq}`");
                    self.find(Code::ExecRequestMismatch, i, d);
                }
                Some((nb, na))
            }
            None => {
                self.find(
                    Code::ExecUnknownWrit,
                    i,
                    format!("{what} names writ `{writ_id}`, which the ledger did not issue before it"),
                );
                None
            }
        }
    }

    fn approval(&mut self, i: u64, a: writ_core::entry::Approval) {
        self.checked("approvals");
        let Some(r) = self.requests.get(&a.request_id) else {
            let d = format!("approval of request `{}`, which is not in the ledger before it", a.request_id);
            return self.find(Code::ApprovalRequestMismatch, i, d);
        };
        if r.digest != a.request_digest {
            let d = format!(
                "approval by `{}` signs request digest {}, but request `{}` has digest {}",
                a.approver, a.request_digest, a.request_id, r.digest
            );
            return self.find(Code::ApprovalRequestMismatch, i, d);
        }
        if r.requester == a.approver {
            let d = format!("`{}` approved their own request `{}`", a.approver, a.request_id);
            self.find(Code::SelfApproval, i, d);
        }
        if let Some(why) = self.ineligible(&a.approver, a.time, None) {
            self.find(Code::ApproverNotEligible, i, format!("approval of request `{}`: {why}", a.request_id));
        }
        if let Some(r) = self.requests.get_mut(&a.request_id) {
            r.approvals.entry(a.approver).or_insert((i, a.time));
        }
    }

    /// Why `approver` may not approve at `time` (in `group`), or `None`.
    /// Without a trust root, eligibility is skipped (and counted).
    fn ineligible(&mut self, approver: &str, time: Timestamp, group: Option<&str>) -> Option<String> {
        let Some(trust) = self.trust() else {
            self.skipped("approver_eligibility_no_trust_root");
            return None;
        };
        let id = writ_core::KeyId::parse(approver).ok();
        let passkey = id.as_ref().and_then(|id| trust.passkey(id));
        let why = match id.as_ref().and_then(|id| trust.key(id)) {
            // A passkey (WebAuthn) approver: only ever an approver.
            None if passkey.is_some_and(|p| p.entry.revoked || !p.valid_at(time)) => {
                Some(format!("`{approver}` is revoked or was outside its passkey window at {time}"))
            }
            None if passkey.is_some_and(|p| group.is_some_and(|g| !p.entry.groups.iter().any(|x| x == g))) => {
                Some(format!("`{approver}` is not in approver group `{}`", group.unwrap_or_default()))
            }
            None if passkey.is_some() => None,
            None => Some(format!("`{approver}` is not a key of the trust root in force")),
            Some(k) if !k.has_role(Role::Approver) => Some(format!("`{approver}` has no approver role")),
            Some(k) if k.entry.revoked => Some(format!("`{approver}` is revoked")),
            Some(k) if !k.valid_at(time) => Some(format!("`{approver}` was outside its key window at {time}")),
            Some(k) if group.is_some_and(|g| !k.entry.groups.iter().any(|x| x == g)) => {
                Some(format!("`{approver}` is not in approver group `{}`", group.unwrap_or_default()))
            }
            Some(_) => None,
        };
        if why.is_none() {
            self.checked("approver_eligibility");
        }
        why
    }

    fn issuance(&mut self, i: u64, x: writ_core::entry::Issuance) {
        self.checked("issuances");
        match self.requests.get(&x.request_id).map(|r| r.allow) {
            None => self.find(
                Code::IssuanceWithoutRequest,
                i,
                format!(
                    "writ `{}` answers request `{}`, which is not in the ledger before it",
                    x.writ_id, x.request_id
                ),
            ),
            Some(Some(true)) => {}
            Some(d) => {
                let got = if d == Some(false) { "a deny decision" } else { "no decision" };
                self.find(
                    Code::IssuanceWithoutAllow,
                    i,
                    format!("writ `{}` was issued for request `{}`, which has {got}", x.writ_id, x.request_id),
                );
            }
        }
        if self.writs.contains_key(&x.writ_id) {
            self.find(Code::DuplicateIssuance, i, format!("writ `{}` is issued a second time", x.writ_id));
        } else {
            self.writs.insert(
                x.writ_id.clone(),
                Writ {
                    index: i,
                    request_id: x.request_id.clone(),
                    not_before: x.not_before,
                    not_after: x.not_after,
                    revoked: None,
                    parent: None,
                    depth: 0,
                    digest: x.envelope_digest,
                },
            );
        }
        match (self.input.writ)(&x.writ_id) {
            Some(env) => self.writ(i, &x, &env),
            None => self.skipped("writ_governance_no_envelope"),
        }
    }

    /// Check the issued writ itself: the recorded one, signed by an issuer,
    /// with the approvals its policy required.
    fn writ(&mut self, i: u64, x: &writ_core::entry::Issuance, env_bytes: &[u8]) {
        self.checked("writs");
        let mismatch = |what: String| format!("writ `{}`: {what}", x.writ_id);
        if Sha256Digest::of(env_bytes) != x.envelope_digest {
            let d = mismatch("the envelope the authority holds is not the one the ledger recorded".into());
            return self.find(Code::WritEnvelopeMismatch, i, d);
        }
        let parsed = writ_core::dsse::decode(env_bytes)
            .and_then(|env| writ_core::json::from_slice::<Statement>(&env.payload).map(|st| (env, st)));
        let (env, st) = match parsed {
            Ok(v) => v,
            Err(e) => return self.find(Code::WritEnvelopeMismatch, i, mismatch(format!("not a writ: {e}"))),
        };
        let p = &st.predicate;
        if p.id != x.writ_id
            || p.request.id != x.request_id
            || p.validity.not_before != x.not_before
            || p.validity.not_after != x.not_after
        {
            let d = mismatch("its id, request or validity differ from the issuance entry".into());
            return self.find(Code::WritEnvelopeMismatch, i, d);
        }
        let Some(trust) = self.trust() else {
            return self.skipped("writ_governance_no_trust_root");
        };
        if trust.verified_signer(&env, Role::Issuer, x.time).is_none() {
            let d = mismatch("no signature of an issuer key of the trust root in force verifies".into());
            self.find(Code::IssuerSignatureInvalid, i, d);
        }
        let g = &p.governance;
        let requester = p.request.requester.to_string();
        let logged: HashMap<String, (u64, Timestamp)> =
            self.requests.get(&x.request_id).map(|r| r.approvals.clone()).unwrap_or_default();
        let mut counted_keys = BTreeSet::new();
        let mut counted_names = BTreeSet::new();
        for a in &g.approvals {
            let who = a.approver.to_string();
            let input = approval::signing_input(&p.request.digest.0, Verdict::Approve, a.time);
            let sig_ok = self
                .trust()
                .and_then(|t| t.approver(&a.approver))
                .is_some_and(|k| k.verify_approval(&input, &a.sig, a.webauthn.as_ref()).is_ok());
            if !sig_ok {
                let d = mismatch(format!("the approval by `{who}` does not verify against the trust root"));
                self.find(Code::ApprovalSignatureInvalid, i, d);
                continue;
            }
            if let Some(why) = self.ineligible(&who, a.time, g.approver_group.as_deref()) {
                self.find(Code::ApproverNotEligible, i, mismatch(why));
                continue;
            }
            if who == requester {
                self.find(Code::SelfApproval, i, mismatch(format!("`{who}` approved their own request")));
                continue;
            }
            if !logged.contains_key(&who) {
                let d = mismatch(format!("the approval by `{who}` has no approval entry before the issuance"));
                self.find(Code::ApprovalNotLogged, i, d);
                continue;
            }
            self.checked("writ_approvals");
            // Distinct approvers: one per key and per trust-root name (a
            // person holding two approver keys counts once).
            let name =
                self.trust().and_then(|t| t.approver(&a.approver)).map(|k| k.name().to_string()).unwrap_or_default();
            if !counted_keys.contains(&who) && !counted_names.contains(&name) {
                counted_keys.insert(who);
                counted_names.insert(name);
            }
        }
        let valid = counted_keys.len() as u64;
        if valid < u64::from(g.approvals_required) {
            let d = mismatch(format!(
                "its policy required {} approvals{}, {valid} valid distinct ones were given",
                g.approvals_required,
                g.approver_group.as_deref().map(|g| format!(" from group `{g}`")).unwrap_or_default()
            ));
            self.find(Code::ApprovalsMissing, i, d);
        }
    }

    fn trust_version(&mut self, i: u64, digest_hex: &str, change: &str, actor: &str) {
        self.checked("trust_versions");
        let Some(n) = change.strip_prefix("version ").and_then(|n| n.parse::<u64>().ok()) else {
            let d = format!("trust-root record `{change}` does not name a version");
            return self.find(Code::TrustVersionMismatch, i, d);
        };
        let expected = self.last_version.map_or(1, |v| v + 1);
        if n != expected {
            self.find(Code::TrustVersionGap, i, format!("trust-root version {n} recorded where {expected} was due"));
        }
        self.last_version = Some(self.last_version.map_or(n, |v| v.max(n)));
        let Some(bytes) = self.input.root_versions.get(&n).cloned() else {
            if self.input.root_versions.is_empty() && self.input.root_pin.is_none() {
                return self.skipped("trust_versions_no_documents");
            }
            let d = format!("trust-root version {n} is recorded in the ledger, but its document is not in the home");
            return self.find(Code::TrustVersionUnavailable, i, d);
        };
        let verified = match &self.chain {
            Some(prev) if n > 1 => trust_chain::verify_link(prev, &bytes),
            _ => {
                let pin = match self.input.root_pin {
                    Some(p) => p,
                    None => match trust_chain::parse(&bytes) {
                        Ok(v) => v.digest(),
                        Err(e) => return self.find(Code::TrustVersionInvalid, i, format!("version {n}: {e}")),
                    },
                };
                if n == 1 {
                    trust_chain::verify_pinned(&bytes, &pin)
                } else {
                    let d = format!("trust-root version {n} cannot be checked: no verified previous version");
                    return self.find(Code::TrustVersionInvalid, i, d);
                }
            }
        };
        let v = match verified {
            Ok(v) => v,
            Err(e) => return self.find(Code::TrustVersionInvalid, i, format!("trust-root version {n}: {e}")),
        };
        if v.digest().to_hex() != digest_hex {
            let d = format!("the record of version {n} names digest {digest_hex}, the document has {}", v.digest());
            self.find(Code::TrustVersionMismatch, i, d);
        }
        let signers: BTreeSet<String> = v.signed_by().iter().map(|k| k.0.to_hex()).collect();
        let claimed: BTreeSet<String> = actor.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
        if signers != claimed {
            let d = format!("the record of version {n} names signers `{actor}`, not the keys whose signatures count");
            self.find(Code::TrustVersionMismatch, i, d);
        }
        self.chain = Some(v);
    }

    fn finish(mut self) -> SemanticReport {
        for (i, x) in std::mem::take(&mut self.execs) {
            self.checked("exec_starts");
            let Some((nb, na)) = self.gate_writ(i, &x.writ_id, &x.request_id, "exec_start") else { continue };
            if x.time < nb || x.time > na {
                let d =
                    format!("exec_start of writ `{}` at {} is outside its validity {nb} to {na}", x.writ_id, x.time);
                self.find(Code::ExecOutsideValidity, i, d);
            }
            if let Some((ri, rt)) = self.chain_revoked(&x.writ_id)
                && x.time > rt
            {
                let d = format!(
                    "exec_start of writ `{}` at {} is after its revocation at {rt} (entry {ri})",
                    x.writ_id, x.time
                );
                self.find(Code::ExecAfterRevocation, i, d);
            }
        }
        for (code, (first, n, d)) in std::mem::take(&mut self.warnings) {
            let detail = if n == 1 { d } else { format!("{n} occurrences; the first: {d}") };
            self.report.findings.push(SemanticFinding { code, index: Some(first), detail });
        }
        self.report
    }
}

/// Run the semantic checks over the first `size` entries of `store`.
///
/// # Errors
/// Storage errors; [`LedgerError::Corrupt`] when entries below `size` are
/// missing (the tree audit names which).
pub fn semantic_audit(store: &mut dyn Store, size: u64, input: &mut SemanticInput<'_>) -> Result<SemanticReport> {
    let mut a = Audit {
        input,
        report: SemanticReport::default(),
        warnings: BTreeMap::new(),
        requests: HashMap::new(),
        writs: HashMap::new(),
        execs: Vec::new(),
        chain: None,
        last_version: None,
    };
    let mut next = 0u64;
    while next < size {
        let want = usize::try_from(size - next).unwrap_or(AUDIT_CHUNK).min(AUDIT_CHUNK);
        let rows = store.scan_entries(next, want)?;
        if rows.is_empty() {
            return Err(LedgerError::Corrupt(format!("entry {next} is missing; run the tree audit")));
        }
        for (i, data) in rows {
            if i != next {
                return Err(LedgerError::Corrupt(format!("entry {next} is missing; run the tree audit")));
            }
            if i >= size {
                break;
            }
            a.report.entries += 1;
            match GateRecord::decode(&data) {
                Ok(r) => {
                    a.checked("entries");
                    a.gate_signature(i, &r);
                    a.entry(i, r.entry);
                }
                Err(e) => a.find(Code::UndecodableEntry, i, format!("entry {i} is not a writ ledger entry: {e}")),
            }
            next += 1;
        }
    }
    Ok(a.finish())
}
