//! The semantic audit of `delegation` entries (docs/format.md §18,
//! docs/ledger.md): a valid delegation passes and its child's runs count as
//! any writ's; each seeded fault is named by its code. Every history is
//! appended through the real sequencer into a real SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "test code")]

mod common;

use std::collections::BTreeMap;

use common::Backend;
use writ_core::delegate::{self, Narrowing};
use writ_core::entry::{self, Entry};
use writ_core::fixtures::{self, T0};
use writ_core::gate_record::GateRecord;
use writ_core::model::{Holder, Predicate};
use writ_core::trust::{Role, key_entry};
use writ_core::{Sha256Digest, SigningKey, Timestamp};
use writ_ledger::semantic::{Code, SemanticInput, SemanticReport, semantic_audit};

const CHILD: &str = "01940000-0000-7000-8000-0000000000a9";

fn gate() -> SigningKey {
    SigningKey::from_seed(&[0x47; 32])
}

fn holder() -> SigningKey {
    fixtures::key(40)
}

struct Flow {
    parent: Predicate,
    parent_env: Vec<u8>,
    child: Predicate,
    child_env: Vec<u8>,
}

/// The orchestrator's writ (holder key 40, two levels) and its child for
/// one use and half the time.
fn flow() -> Flow {
    let mut parent = fixtures::predicate();
    parent.lineage.holder = Some(Holder::new(&holder().public()));
    let parent_env = fixtures::sign(parent.clone());
    let n = Narrowing { uses: Some(1), not_after: Some(T0.plus(1800)), ..Narrowing::new(CHILD.into(), T0) };
    let child_env = delegate::mint(&parent_env, &holder(), &n).unwrap();
    let child = delegate::read_parent(&child_env).unwrap();
    Flow { parent, parent_env, child, child_env }
}

fn delegation(f: &Flow, at: Timestamp) -> entry::Delegation {
    entry::Delegation {
        time: at,
        request_id: f.child.request.id.clone(),
        writ_id: f.child.id.clone(),
        envelope_digest: Sha256Digest::of(&f.child_env),
        holder: holder().key_id().to_string(),
        parent_writ_id: f.parent.id.clone(),
        parent_digest: Sha256Digest::of(&f.parent_env),
        root_writ_id: f.parent.id.clone(),
        not_before: f.child.validity.not_before,
        not_after: f.child.validity.not_after,
        depth: 1,
        uses: Some(1),
        recorded_by: "orchestrator".into(),
    }
}

fn root_entries(f: &Flow) -> Vec<Entry> {
    let p = &f.parent;
    vec![
        Entry::Request(entry::Request {
            time: T0,
            request_id: p.request.id.clone(),
            requester: p.request.requester.to_string(),
            action: "exec".into(),
            resource: fixtures::PROGRAM.into(),
            request_digest: p.request.digest.0,
            reason: None,
        }),
        Entry::Decision(entry::Decision {
            time: T0,
            request_id: p.request.id.clone(),
            allow: true,
            policy_id: "default".into(),
            policy_digest: Sha256Digest::of(b"policy set"),
            determining: vec!["orchestrate".into()],
        }),
        Entry::Issuance(entry::Issuance {
            time: T0,
            request_id: p.request.id.clone(),
            writ_id: p.id.clone(),
            envelope_digest: Sha256Digest::of(&f.parent_env),
            issuer: p.issuer.to_string(),
            not_before: p.validity.not_before,
            not_after: p.validity.not_after,
            parent_writ_id: None,
            parent_digest: None,
        }),
    ]
}

fn exec_start(writ: &Predicate, at: Timestamp) -> Entry {
    Entry::ExecStart(entry::ExecStart {
        time: at,
        request_id: writ.request.id.clone(),
        writ_id: writ.id.clone(),
        host: "build-1.example.com".into(),
        program_digest: Sha256Digest::of(fixtures::PROGRAM_BYTES),
        argv_digest: Sha256Digest::of(b"argv"),
    })
}

fn revocation(writ: &Predicate, at: Timestamp) -> Entry {
    Entry::Revocation(entry::Revocation {
        time: at,
        request_id: writ.request.id.clone(),
        writ_id: writ.id.clone(),
        revoked_by: "operator".into(),
        reason: "done".into(),
    })
}

fn audit(entries: &[Entry], writs: BTreeMap<String, Vec<u8>>) -> SemanticReport {
    let b = Backend::sqlite();
    let ledger = b.open(1);
    let bytes: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| match e {
            Entry::ExecStart(_) | Entry::ExecEnd(_) => GateRecord::sign(e.clone(), vec![], &gate()).unwrap(),
            _ => e.encode().unwrap(),
        })
        .collect();
    ledger.append_many(bytes).unwrap();
    let size = ledger.size();
    ledger.close();
    let mut trust = fixtures::trust_root(false);
    trust.add(key_entry("gate-1", vec![Role::Gate], vec![], &gate().public())).unwrap();
    let mut lookup = move |id: &str| writs.get(id).cloned();
    let mut input =
        SemanticInput { trust: Some(trust), root_pin: None, root_versions: BTreeMap::new(), writ: &mut lookup };
    semantic_audit(b.store().as_mut(), size, &mut input).unwrap()
}

fn envelopes(f: &Flow) -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([(f.parent.id.clone(), f.parent_env.clone()), (f.child.id.clone(), f.child_env.clone())])
}

fn codes(r: &SemanticReport) -> Vec<Code> {
    r.findings.iter().map(|f| f.code).collect()
}

#[test]
fn a_recorded_child_and_its_run_pass_the_audit() {
    let f = flow();
    let mut es = root_entries(&f);
    es.push(Entry::Delegation(delegation(&f, T0.plus(5))));
    es.push(exec_start(&f.child, T0.plus(10)));
    let r = audit(&es, envelopes(&f));
    assert!(r.is_ok(), "{:?}", r.findings);
    assert_eq!(r.checked["delegations"], 1);
    assert_eq!(r.checked["delegated_writs"], 1);
    assert_eq!(r.checked["exec_starts"], 1);
    // Without the envelopes the child itself is skipped, never passed.
    let r = audit(&es, BTreeMap::new());
    assert!(r.is_ok(), "{:?}", r.findings);
    assert_eq!(r.skipped["delegated_writs_no_envelope"], 1);
    // Without the delegation entry the child's run names an unknown writ.
    let mut no_record = root_entries(&f);
    no_record.push(exec_start(&f.child, T0.plus(10)));
    assert!(codes(&audit(&no_record, envelopes(&f))).contains(&Code::ExecUnknownWrit));
}

#[test]
fn each_bad_delegation_is_named() {
    let f = flow();
    let with = |edit: &dyn Fn(&mut entry::Delegation)| {
        let mut d = delegation(&f, T0.plus(5));
        edit(&mut d);
        let mut es = root_entries(&f);
        es.push(Entry::Delegation(d));
        codes(&audit(&es, envelopes(&f)))
    };
    // A parent the ledger never issued.
    assert!(with(&|d| d.parent_writ_id = "nobody".into()).contains(&Code::DelegationUnknownParent));
    // Depth, validity, request, parent digest, root that do not follow.
    assert!(with(&|d| d.depth = 2).contains(&Code::DelegationMismatch));
    assert!(with(&|d| d.not_after = T0.plus(7200)).contains(&Code::DelegationMismatch));
    assert!(with(&|d| d.request_id = "other".into()).contains(&Code::DelegationMismatch));
    assert!(with(&|d| d.parent_digest = Sha256Digest::of(b"x")).contains(&Code::DelegationMismatch));
    assert!(with(&|d| d.root_writ_id = "elsewhere".into()).contains(&Code::DelegationMismatch));
    // The entry does not match the child the authority holds.
    assert!(with(&|d| d.uses = Some(2)).contains(&Code::DelegationInvalid));
    assert!(with(&|d| d.envelope_digest = Sha256Digest::of(b"y")).contains(&Code::DelegationInvalid));
    // Recorded twice.
    let mut es = root_entries(&f);
    es.push(Entry::Delegation(delegation(&f, T0.plus(5))));
    es.push(Entry::Delegation(delegation(&f, T0.plus(6))));
    assert!(codes(&audit(&es, envelopes(&f))).contains(&Code::DuplicateIssuance));
}

#[test]
fn a_widened_or_foreign_child_envelope_is_invalid() {
    let f = flow();
    // The holder signs a child with a wider window than its parent's: the
    // entry matches this envelope, but the child widens its parent.
    let mut wide = f.child.clone();
    wide.validity.not_after = f.parent.validity.not_after.plus(60);
    let wide_env = writ_core::issue::sign(&writ_core::issue::statement(wide.clone()), &holder()).unwrap();
    let mut d = delegation(&f, T0.plus(5));
    d.envelope_digest = Sha256Digest::of(&wide_env);
    d.not_after = f.parent.validity.not_after; // the entry itself stays inside
    let mut es = root_entries(&f);
    es.push(Entry::Delegation(d.clone()));
    let mut writs = envelopes(&f);
    writs.insert(f.child.id.clone(), wide_env);
    assert!(codes(&audit(&es, writs)).contains(&Code::DelegationInvalid));
    // Signed by another key than the parent's holder.
    let mut other = f.child.clone();
    other.issuer = fixtures::key(41).key_id();
    let forged = writ_core::issue::sign(&writ_core::issue::statement(other), &fixtures::key(41)).unwrap();
    let mut d = delegation(&f, T0.plus(5));
    d.envelope_digest = Sha256Digest::of(&forged);
    let mut es = root_entries(&f);
    es.push(Entry::Delegation(d));
    let mut writs = envelopes(&f);
    writs.insert(f.child.id.clone(), forged);
    assert!(codes(&audit(&es, writs)).contains(&Code::DelegationInvalid));
}

#[test]
fn revoking_the_parent_bounds_the_child() {
    let f = flow();
    // A delegation recorded after the parent's revocation.
    let mut es = root_entries(&f);
    es.push(revocation(&f.parent, T0.plus(3)));
    es.push(Entry::Delegation(delegation(&f, T0.plus(5))));
    assert!(codes(&audit(&es, envelopes(&f))).contains(&Code::DelegationAfterRevocation));
    // A run of the child after the parent's revocation.
    let mut es = root_entries(&f);
    es.push(Entry::Delegation(delegation(&f, T0.plus(5))));
    es.push(revocation(&f.parent, T0.plus(8)));
    es.push(exec_start(&f.child, T0.plus(10)));
    assert!(codes(&audit(&es, envelopes(&f))).contains(&Code::ExecAfterRevocation));
    // Before it: fine.
    let mut es = root_entries(&f);
    es.push(Entry::Delegation(delegation(&f, T0.plus(5))));
    es.push(exec_start(&f.child, T0.plus(6)));
    es.push(revocation(&f.parent, T0.plus(8)));
    let r = audit(&es, envelopes(&f));
    assert!(r.is_ok(), "{:?}", r.findings);
}
