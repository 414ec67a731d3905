//! The semantic audit catches each seeded fault. Every history is appended
//! through the real sequencer into a real store (SQLite; the clean history
//! and one fault also on PostgreSQL, `DATABASE_URL`), then audited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "test code")]

mod common;

use std::collections::BTreeMap;

use common::{Backend, signer};
use writ_core::entry::{self, Entry};
use writ_core::fixtures::{self, T0};
use writ_core::gate_record::GateRecord;
use writ_core::model::{Approval, Predicate};
use writ_core::trust::{Role, key_entry};
use writ_core::trust_chain;
use writ_core::{Sha256Digest, SigningKey, Timestamp, TrustRoot};
use writ_ledger::semantic::{Code, SemanticInput, SemanticReport, semantic_audit};

/// A history under construction, plus the writs the "authority" holds.
struct History {
    entries: Vec<Entry>,
    raw: Vec<(usize, Vec<u8>)>,
    writs: BTreeMap<String, Vec<u8>>,
    trust: Option<TrustRoot>,
    pin: Option<Sha256Digest>,
    versions: BTreeMap<u64, Vec<u8>>,
}

fn carol() -> String {
    fixtures::carol().key_id().to_string()
}

fn request(p: &Predicate) -> Entry {
    Entry::Request(entry::Request {
        time: T0,
        request_id: p.request.id.clone(),
        requester: p.request.requester.to_string(),
        action: "exec".into(),
        resource: fixtures::PROGRAM.into(),
        request_digest: p.request.digest.0,
        reason: None,
    })
}

fn decision(p: &Predicate, allow: bool) -> Entry {
    Entry::Decision(entry::Decision {
        time: T0,
        request_id: p.request.id.clone(),
        allow,
        policy_id: "default".into(),
        policy_digest: Sha256Digest::of(b"policy set"),
        determining: vec!["deploy-needs-two-sre".into()],
    })
}

fn approval(p: &Predicate, who: &SigningKey) -> Entry {
    Entry::Approval(entry::Approval {
        time: T0,
        request_id: p.request.id.clone(),
        approver: who.key_id().to_string(),
        request_digest: p.request.digest.0,
        approval_digest: Sha256Digest::of(b"approval object"),
    })
}

fn issuance(p: &Predicate, env: &[u8]) -> Entry {
    Entry::Issuance(entry::Issuance {
        time: T0,
        request_id: p.request.id.clone(),
        writ_id: p.id.clone(),
        envelope_digest: Sha256Digest::of(env),
        issuer: p.issuer.to_string(),
        not_before: p.validity.not_before,
        not_after: p.validity.not_after,
        parent_writ_id: None,
        parent_digest: None,
    })
}

/// The gate key of these histories (in the trust root, role `gate`).
fn gate() -> SigningKey {
    SigningKey::from_seed(&[0x47; 32])
}

/// The fixtures' trust root with the gate key.
fn gate_trust() -> TrustRoot {
    let mut t = fixtures::trust_root(false);
    t.add(key_entry("gate-1", vec![Role::Gate], vec![], &gate().public())).unwrap();
    t
}

fn exec_start(p: &Predicate, at: Timestamp) -> Entry {
    Entry::ExecStart(entry::ExecStart {
        time: at,
        request_id: p.request.id.clone(),
        writ_id: p.id.clone(),
        host: "build-1.example.com".into(),
        program_digest: Sha256Digest::of(fixtures::PROGRAM_BYTES),
        argv_digest: Sha256Digest::of(b"argv"),
    })
}

fn exec_end(p: &Predicate, at: Timestamp) -> Entry {
    Entry::ExecEnd(entry::ExecEnd {
        time: at,
        request_id: p.request.id.clone(),
        writ_id: p.id.clone(),
        host: "build-1.example.com".into(),
        outcome: "exited".into(),
        exit_code: Some(0),
    })
}

fn revocation(p: &Predicate, at: Timestamp) -> Entry {
    Entry::Revocation(entry::Revocation {
        time: at,
        request_id: p.request.id.clone(),
        writ_id: p.id.clone(),
        revoked_by: "operator".into(),
        reason: "incident".into(),
    })
}

impl History {
    fn new() -> Self {
        Self {
            entries: Vec::new(),
            raw: Vec::new(),
            writs: BTreeMap::new(),
            trust: Some(gate_trust()),
            pin: None,
            versions: BTreeMap::new(),
        }
    }

    /// The governed path done right: request, allow, two sre approvals,
    /// issuance of the approved writ, a run inside its validity, revocation.
    fn clean() -> (Self, Predicate) {
        let mut h = Self::new();
        let p = fixtures::approved_predicate();
        let env = fixtures::sign(p.clone());
        h.writs.insert(p.id.clone(), env.clone());
        h.push([
            request(&p),
            decision(&p, true),
            approval(&p, &fixtures::alice()),
            approval(&p, &fixtures::bob()),
            issuance(&p, &env),
            exec_start(&p, T0.plus(10)),
            exec_end(&p, T0.plus(20)),
            revocation(&p, T0.plus(100)),
        ]);
        (h, p)
    }

    fn push(&mut self, es: impl IntoIterator<Item = Entry>) {
        self.entries.extend(es);
    }

    fn audit_on(&self, b: &Backend) -> SemanticReport {
        let ledger = b.open(1);
        // Gate records are signed by the gate key (issue 9 item 6).
        let mut bytes: Vec<Vec<u8>> = self
            .entries
            .iter()
            .map(|e| match e {
                Entry::ExecStart(_) | Entry::ExecEnd(_) => GateRecord::sign(e.clone(), vec![], &gate()).unwrap(),
                _ => e.encode().unwrap(),
            })
            .collect();
        for (at, r) in &self.raw {
            bytes.insert(*at, r.clone());
        }
        ledger.append_many(bytes).unwrap();
        let size = ledger.size();
        ledger.close();
        let writs = self.writs.clone();
        let mut lookup = move |id: &str| writs.get(id).cloned();
        let mut input = SemanticInput {
            trust: self.trust.clone(),
            root_pin: self.pin,
            root_versions: self.versions.clone(),
            writ: &mut lookup,
        };
        semantic_audit(b.store().as_mut(), size, &mut input).unwrap()
    }

    fn audit(&self) -> SemanticReport {
        self.audit_on(&Backend::sqlite())
    }
}

fn codes(r: &SemanticReport) -> Vec<Code> {
    r.findings.iter().map(|f| f.code).collect()
}

#[track_caller]
fn assert_finds(r: &SemanticReport, code: Code) {
    assert!(!r.is_ok(), "audit passed, expected `{code}`: {r:?}");
    assert!(codes(r).contains(&code), "expected `{code}`, found {:?}", r.findings);
}

#[test]
fn clean_history_passes_and_says_what_it_checked() {
    for b in [Backend::sqlite(), Backend::postgres("semantic_clean")] {
        let (h, _) = History::clean();
        let r = h.audit_on(&b);
        assert!(r.is_ok(), "{:?}", r.findings);
        assert_eq!(r.entries, 8);
        assert_eq!(r.checked["entries"], 8);
        assert_eq!(r.checked["issuances"], 1);
        assert_eq!(r.checked["approvals"], 2);
        assert_eq!(r.checked["writs"], 1);
        assert_eq!(r.checked["writ_approvals"], 2);
        assert_eq!(r.checked["exec_starts"], 1);
        assert_eq!(r.checked["revocations"], 1);
        assert!(r.skipped.is_empty(), "{:?}", r.skipped);
        // both gate records are signed by the trust root's gate key
        assert_eq!(r.checked["gate_records"], 2);
        assert_eq!(r.warning_count, 0);
    }
}

/// Issue 9 item 6: a gate record without a signature, or whose signature
/// does not verify under a gate key of the trust root in force, fails the
/// audit, each named by its entry.
#[test]
fn unsigned_and_badly_signed_gate_records_are_findings() {
    let (mut h, p) = History::clean();
    let end = |at: i64| exec_end(&p, T0.plus(at));
    // Entry 8: unsigned. Entry 9: signed, then its exit code changed.
    // Entry 10: signed by a key that is not a gate key of the trust root.
    h.raw.push((8, end(30).encode().unwrap()));
    let mut tampered = GateRecord::sign(end(31), vec![], &gate()).unwrap();
    let body = end(31).encode().unwrap().len();
    tampered[body - 1] ^= 1;
    h.raw.push((9, tampered));
    h.raw.push((10, GateRecord::sign(end(32), vec![], &fixtures::alice()).unwrap()));
    let r = h.audit();
    assert!(!r.is_ok());
    let found: Vec<(Code, Option<u64>)> = r.findings.iter().map(|f| (f.code, f.index)).collect();
    assert!(found.contains(&(Code::UnsignedGateRecord, Some(8))), "{found:?}");
    assert!(found.contains(&(Code::BadGateSignature, Some(9))), "{found:?}");
    assert!(found.contains(&(Code::BadGateSignature, Some(10))), "{found:?}");
    assert_eq!(found.iter().filter(|(c, _)| matches!(c, Code::UnsignedGateRecord | Code::BadGateSignature)).count(), 3);
    // Without a trust root the check is skipped, never passed.
    h.trust = None;
    assert_eq!(h.audit().skipped["gate_records"], 5);
}

#[test]
fn without_the_writs_governance_is_skipped_not_passed() {
    let (mut h, _) = History::clean();
    h.writs.clear();
    let r = h.audit();
    assert!(r.is_ok());
    assert_eq!(r.skipped["writ_governance_no_envelope"], 1);
    assert!(!r.checked.contains_key("writ_approvals"));
}

#[test]
fn issuance_after_a_deny_or_no_decision() {
    let (mut h, p) = History::clean();
    h.entries[1] = decision(&p, false);
    assert_finds(&h.audit(), Code::IssuanceWithoutAllow);
    let (mut h, _) = History::clean();
    h.entries.remove(1);
    assert_finds(&h.audit(), Code::IssuanceWithoutAllow);
}

#[test]
fn issuance_without_a_request() {
    let (mut h, _) = History::clean();
    h.entries.remove(0);
    let r = h.audit();
    assert_finds(&r, Code::IssuanceWithoutRequest);
    assert_finds(&r, Code::ApprovalRequestMismatch);
}

#[test]
fn duplicate_issuance() {
    let (mut h, p) = History::clean();
    let env = h.writs[&p.id].clone();
    h.entries.insert(5, issuance(&p, &env));
    assert_finds(&h.audit(), Code::DuplicateIssuance);
}

#[test]
fn a_required_approval_that_was_never_logged() {
    let (mut h, _) = History::clean();
    h.entries.remove(3); // bob's approval entry
    let r = h.audit();
    assert_finds(&r, Code::ApprovalNotLogged);
    assert_finds(&r, Code::ApprovalsMissing);
}

#[test]
fn approvals_from_outside_the_required_group() {
    // dave is an approver, but in `dev`; the policy required `sre`
    let mut h = History::new();
    let mut p = fixtures::approved_predicate();
    p.governance.approvals = vec![fixtures::approval(&fixtures::alice()), fixtures::approval(&fixtures::dave())];
    let env = fixtures::sign(p.clone());
    h.writs.insert(p.id.clone(), env.clone());
    h.push([
        request(&p),
        decision(&p, true),
        approval(&p, &fixtures::alice()),
        approval(&p, &fixtures::dave()),
        issuance(&p, &env),
    ]);
    let r = h.audit();
    assert_finds(&r, Code::ApproverNotEligible);
    assert_finds(&r, Code::ApprovalsMissing);
}

#[test]
fn an_approval_by_a_key_outside_the_trust_root() {
    let (mut h, p) = History::clean();
    h.entries.insert(4, approval(&p, &fixtures::stranger()));
    assert_finds(&h.audit(), Code::ApproverNotEligible);
}

#[test]
fn self_approval() {
    // carol requested and is also an approver: her approval must not count
    let mut h = History::new();
    let mut p = fixtures::approved_predicate();
    p.governance.approvals = vec![fixtures::approval(&fixtures::alice()), fixtures::approval(&fixtures::carol())];
    let env = fixtures::sign(p.clone());
    h.writs.insert(p.id.clone(), env.clone());
    h.push([
        request(&p),
        decision(&p, true),
        approval(&p, &fixtures::alice()),
        approval(&p, &fixtures::carol()),
        issuance(&p, &env),
    ]);
    let r = h.audit();
    assert_eq!(carol(), p.request.requester.to_string());
    assert_finds(&r, Code::SelfApproval);
    assert_finds(&r, Code::ApprovalsMissing);
}

#[test]
fn a_forged_approval_signature_in_the_writ() {
    let mut h = History::new();
    let mut p = fixtures::approved_predicate();
    let forged = Approval {
        approver: fixtures::bob().key_id(),
        time: T0,
        sig: writ_core::b64::encode(&fixtures::stranger().sign(b"not bob")),
        webauthn: None,
    };
    p.governance.approvals = vec![fixtures::approval(&fixtures::alice()), forged];
    let env = fixtures::sign(p.clone());
    h.writs.insert(p.id.clone(), env.clone());
    h.push([
        request(&p),
        decision(&p, true),
        approval(&p, &fixtures::alice()),
        approval(&p, &fixtures::bob()),
        issuance(&p, &env),
    ]);
    let r = h.audit();
    assert_finds(&r, Code::ApprovalSignatureInvalid);
    assert_finds(&r, Code::ApprovalsMissing);
}

#[test]
fn the_authoritys_writ_is_not_the_recorded_one() {
    let (mut h, p) = History::clean();
    let mut other = p.clone();
    other.validity.not_after = T0.plus(86_000);
    h.writs.insert(p.id.clone(), fixtures::sign(other));
    assert_finds(&h.audit(), Code::WritEnvelopeMismatch);
}

#[test]
fn a_writ_not_signed_by_an_issuer() {
    let mut h = History::new();
    let p = fixtures::approved_predicate();
    let env = fixtures::sign_with(p.clone(), &fixtures::stranger());
    h.writs.insert(p.id.clone(), env.clone());
    h.push([
        request(&p),
        decision(&p, true),
        approval(&p, &fixtures::alice()),
        approval(&p, &fixtures::bob()),
        issuance(&p, &env),
    ]);
    assert_finds(&h.audit(), Code::IssuerSignatureInvalid);
}

#[test]
fn exec_after_revocation_in_either_log_order() {
    let (mut h, p) = History::clean();
    h.push([exec_start(&p, T0.plus(200))]);
    let r = h.audit();
    assert_finds(&r, Code::ExecAfterRevocation);
    assert_eq!(r.findings.iter().find(|f| f.code == Code::ExecAfterRevocation).unwrap().index, Some(8));
    // a late exec_start recorded before the revocation entry (spooled), with a later time
    let (mut h, p) = History::clean();
    h.entries.insert(5, exec_start(&p, T0.plus(500)));
    assert_finds(&h.audit(), Code::ExecAfterRevocation);
    // a spooled exec_start from before the revocation is fine
    let (mut h, p) = History::clean();
    h.push([exec_start(&p, T0.plus(50))]);
    assert!(h.audit().is_ok());
}

#[test]
fn exec_outside_validity() {
    let (mut h, p) = History::clean();
    h.entries.pop(); // no revocation
    h.push([exec_start(&p, p.validity.not_after.plus(1))]);
    assert_finds(&h.audit(), Code::ExecOutsideValidity);
    let (mut h, p) = History::clean();
    h.push([exec_start(&p, p.validity.not_before.plus(-1))]);
    assert_finds(&h.audit(), Code::ExecOutsideValidity);
}

#[test]
fn gate_records_for_writs_the_ledger_never_issued() {
    let (mut h, p) = History::clean();
    let mut ghost = p.clone();
    ghost.id = "01940000-0000-7000-8000-0000000000ff".into();
    h.push([exec_start(&ghost, T0.plus(30)), exec_end(&ghost, T0.plus(31))]);
    let r = h.audit();
    assert_eq!(codes(&r).iter().filter(|c| **c == Code::ExecUnknownWrit).count(), 2, "{:?}", r.findings);
    // and one recorded before its issuance
    let (mut h, p) = History::clean();
    h.entries.insert(2, exec_start(&p, T0.plus(30)));
    assert_finds(&h.audit(), Code::ExecUnknownWrit);
    // for another request
    let (mut h, p) = History::clean();
    let mut wrong = p.clone();
    wrong.request.id = "01940000-0000-7000-8000-0000000000ee".into();
    h.push([exec_start(&wrong, T0.plus(30))]);
    assert_finds(&h.audit(), Code::ExecRequestMismatch);
}

#[test]
fn revocation_of_an_unknown_writ() {
    let (mut h, p) = History::clean();
    let mut ghost = p.clone();
    ghost.id = "01940000-0000-7000-8000-0000000000fe".into();
    h.push([revocation(&ghost, T0.plus(5))]);
    assert_finds(&h.audit(), Code::RevocationUnknownWrit);
}

#[test]
fn entries_that_are_not_writ_entries() {
    let (mut h, _) = History::clean();
    h.raw.push((3, b"appended by hand".to_vec()));
    let r = h.audit();
    assert_finds(&r, Code::UndecodableEntry);
    assert_eq!(r.findings[0].index, Some(3));
}

// ---- trust-root versions ----

fn root_key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[0x70 + n; 32])
}

/// Version 1 (root key 1) and a version 2 adding root key 2, signed by both.
fn versions() -> (Vec<u8>, Vec<u8>, trust_chain::SignedTrustRoot, trust_chain::SignedTrustRoot) {
    let expires = T0.plus(365 * 86_400);
    let mut t1 = gate_trust();
    t1.add(key_entry("root-1", vec![Role::Root], vec![], &root_key(1).public())).unwrap();
    let v1 = trust_chain::sign(&trust_chain::initial(t1.file().clone(), 1, expires).unwrap(), &root_key(1)).unwrap();
    let s1 = trust_chain::verify_pinned(&v1, &trust_chain::parse(&v1).unwrap().digest()).unwrap();
    let mut t2 = t1.clone();
    t2.add(key_entry("root-2", vec![Role::Root], vec![], &root_key(2).public())).unwrap();
    let v2 = trust_chain::propose(&s1, t2.file().clone(), 1, expires).unwrap();
    let v2 = trust_chain::sign(&trust_chain::sign(&v2, &root_key(1)).unwrap(), &root_key(2)).unwrap();
    let s2 = trust_chain::verify_link(&s1, &v2).unwrap();
    (v1, v2, s1, s2)
}

fn signed_history() -> History {
    let (v1, v2, s1, s2) = versions();
    let (clean, _) = History::clean();
    let mut h = History::new();
    h.trust = None; // only what the ledger put in force
    h.pin = Some(s1.digest());
    h.versions.insert(1, v1);
    h.versions.insert(2, v2);
    h.push(trust_chain::key_change_entries(None, &s1, T0.plus(-100)));
    h.push(trust_chain::key_change_entries(Some(&s1), &s2, T0.plus(-50)));
    h.entries.extend(clean.entries);
    h.writs = clean.writs;
    h
}

#[test]
fn a_signed_chain_of_trust_roots_passes() {
    let h = signed_history();
    let r = h.audit();
    assert!(r.is_ok(), "{:?}", r.findings);
    assert_eq!(r.checked["trust_versions"], 2);
    assert_eq!(r.checked["writ_approvals"], 2, "approvals judged by the root the ledger put in force");
}

#[test]
fn a_version_not_signed_by_the_previous_root_quorum() {
    let (_, v2, s1, _) = versions();
    let mut h = signed_history();
    // version 2 signed only by the new root key, not by version 1's quorum
    let unsigned =
        trust_chain::propose(&s1, trust_chain::parse(&v2).unwrap().file().trust.clone(), 1, T0.plus(9_000_000))
            .unwrap();
    h.versions.insert(2, trust_chain::sign(&unsigned, &root_key(2)).unwrap());
    assert_finds(&h.audit(), Code::TrustVersionInvalid);
}

#[test]
fn a_gap_in_trust_root_versions_and_a_missing_document() {
    let mut h = signed_history();
    let (_, _, _, s2) = versions();
    // a record of version 4 right after version 2
    let mut e = trust_chain::key_change_entries(None, &s2, T0);
    if let Entry::KeyChange(k) = &mut e[0] {
        k.change = "version 4".into();
    }
    h.entries.insert(2, e.remove(0));
    let r = h.audit();
    assert_finds(&r, Code::TrustVersionGap);
    assert_finds(&r, Code::TrustVersionUnavailable);
}

#[test]
fn a_version_record_naming_another_document() {
    let mut h = signed_history();
    let (v1, _, _, _) = versions();
    h.versions.insert(2, v1);
    assert_finds(&h.audit(), Code::TrustVersionInvalid);
    let mut h = signed_history();
    if let Entry::KeyChange(k) = &mut h.entries[0] {
        k.actor = fixtures::stranger().key_id().to_string();
    }
    assert_finds(&h.audit(), Code::TrustVersionMismatch);
}

#[test]
fn every_code_has_a_stable_distinct_name() {
    let names: std::collections::BTreeSet<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(names.len(), Code::ALL.len());
    let _ = signer(1);
}

/// A gate's signed denial of a writ the ledger never issued (the stolen-key
/// demo step) is valid evidence: the audit passes and reports it as the
/// warning `unissued_writ_presented`, naming the entry; a denial of an
/// issued writ is no finding; an unsigned one is still an error.
#[test]
fn a_gate_denial_of_an_unissued_writ_is_a_warning_not_an_error() {
    let denial = |writ_id: &str| {
        Entry::Denial(entry::Denial {
            time: T0.plus(30),
            request_id: Some("01234567-89ab-7def-8123-000000000001".into()),
            writ_id: Some(writ_id.into()),
            code: "receipt_missing".into(),
            detail: "no receipt".into(),
            host: Some("web1".into()),
        })
    };
    let ghost = "01234567-89ab-7def-8123-456789abcdef";
    let (mut h, p) = History::clean();
    let at = h.entries.len();
    h.raw.push((at, GateRecord::sign(denial(ghost), vec![], &gate()).unwrap()));
    h.raw.push((at + 1, GateRecord::sign(denial(&p.id), vec![], &gate()).unwrap()));
    let r = h.audit();
    assert!(r.is_ok(), "{:?}", r.findings);
    assert_eq!(r.warning_count, 1, "{:?}", r.findings);
    assert_eq!(codes(&r), vec![Code::UnissuedWritPresented]);
    let f = &r.findings[0];
    assert_eq!(f.index, Some(at as u64));
    assert!(f.detail.contains(ghost) && f.detail.contains("receipt_missing") && f.detail.contains("web1"), "{f:?}");
    assert_eq!(r.checked["unissued_writ_denials"], 1);
    assert_eq!(Code::UnissuedWritPresented.as_str(), "unissued_writ_presented");
    // unsigned: the signature check still fails the audit
    let (mut h, _) = History::clean();
    h.raw.push((h.entries.len(), denial(ghost).encode().unwrap()));
    let r = h.audit();
    assert_finds(&r, Code::UnsignedGateRecord);
    assert!(codes(&r).contains(&Code::UnissuedWritPresented));
}
