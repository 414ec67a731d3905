//! Delegated writs at the authority (`Authority::record_delegation`,
//! docs/api.md `POST /v1/delegations`), on SQLite and on PostgreSQL
//! (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`; fails
//! loudly when unreachable): the holder's child of an issued writ is
//! recorded; a grandchild under it; each use of the grandchild consumes one
//! of the child and of the root, atomically; the refusals name their codes;
//! revoking the root revokes the chain; a state row lost after the ledger
//! append (a crash before the state commit) is repaired by submitting again
//! (no second entry).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;

use writ_api::delegation::DelegationInput;
use writ_authority::model::{RequestInput, TargetInput};
use writ_authority::{Authority, AuthorityError, Config, home};
use writ_core::delegate::{self, Chain, Narrowing};
use writ_core::status::WritState;
use writ_core::trust::{Role, key_entry};
use writ_core::{SigningKey, Timestamp, TrustRoot};

const POLICIES: &str = r#"
@id("orchestrate")
@uses("3")
@delegation("2")
permit (principal in Writ::Group::"dev", action == Writ::Action::"tool", resource);
"#;

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

fn people(h: &std::path::Path) {
    std::fs::write(h.join("policies.cedar"), POLICIES).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    trust.add(key_entry("alice", vec![Role::Requester], vec!["dev".into()], &key(1).public())).unwrap();
    trust.add(key_entry("gate", vec![Role::Gate], vec![], &key(3).public())).unwrap();
    trust.add(key_entry("mallory", vec![Role::Approver], vec![], &key(4).public())).unwrap();
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
}

fn now() -> Timestamp {
    writ_authority::api::now().unwrap()
}

fn input(holder: Option<&SigningKey>, depth: Option<u32>) -> RequestInput {
    RequestInput {
        target: TargetInput::Tool {
            name: "deploy".into(),
            args: BTreeMap::from([("env".into(), "staging".into())]),
            args_sha256: None,
            definition_sha256: None,
        },
        reason: "orchestrate".into(),
        duration_secs: 600,
        env: BTreeMap::new(),
        cwd: None,
        hosts: None,
        evidence: None,
        boundaries: None,
        uses: None,
        holder: holder.map(|k| writ_core::model::Holder::new(&k.public()).public_key),
        delegation_depth: depth,
    }
}

fn mint(parent: &[u8], holder: &SigningKey, uses: u32, next: Option<&SigningKey>) -> Vec<u8> {
    let mut n = Narrowing::new(uuid::Uuid::now_v7().to_string(), now());
    n.uses = Some(uses);
    n.holder = next.map(SigningKey::public);
    delegate::mint(parent, holder, &n).unwrap()
}

fn submit(
    a: &Authority,
    child: &[u8],
    ancestors: &[Vec<u8>],
) -> Result<writ_api::delegation::DelegationView, AuthorityError> {
    let alice = a.identify(&key(1).key_id(), now()).unwrap();
    let input = DelegationInput {
        writ: String::from_utf8(child.to_vec()).unwrap(),
        ancestors: Chain::new(ancestors).ancestors,
    };
    a.record_delegation(&alice, &input, now())
}

fn refused(r: Result<writ_api::delegation::DelegationView, AuthorityError>, code: &str) {
    match r {
        Err(AuthorityError::DelegationRefused(m)) => assert!(m.starts_with(&format!("{code}:")), "{m}"),
        other => panic!("expected delegation_refused {code}: {other:?}"),
    }
}

fn status(a: &Authority, id: &str, consume: bool) -> Result<writ_core::status::StatusStatement, AuthorityError> {
    let gate = a.identify(&key(3).key_id(), now()).unwrap();
    let bytes = a.status(&gate, id, consume, Some("n0nce".into()), now())?;
    let env = writ_core::dsse::decode(&bytes).unwrap();
    Ok(writ_core::json::from_slice(&env.payload).unwrap())
}

fn scenario(cfg: &Config) {
    let a = Authority::open(cfg).unwrap();
    let alice = a.identify(&key(1).key_id(), now()).unwrap();
    let (o, s) = (key(40), key(41));
    // Policy caps the depth at 2.
    assert!(matches!(a.submit(&alice, input(Some(&o), Some(3)), now()), Err(AuthorityError::ExceedsPolicy(_))));
    let v = a.submit(&alice, input(Some(&o), Some(2)), now()).unwrap();
    assert_eq!(v.status, "issued", "{v:?}");
    let root = v.writ.unwrap().into_bytes();
    let root_id = v.writ_id.unwrap();
    // The orchestrator's child for 2 uses, naming the sub-agent as next holder.
    let child = mint(&root, &o, 2, Some(&s));
    let cv = submit(&a, &child, std::slice::from_ref(&root)).unwrap();
    assert_eq!((cv.depth, cv.uses, cv.root_writ_id.as_str()), (1, Some(2), root_id.as_str()));
    // Idempotent.
    assert_eq!(submit(&a, &child, std::slice::from_ref(&root)).unwrap().index, cv.index);
    // The sub-agent's grandchild for 1 use.
    let grand = mint(&child, &s, 1, None);
    let gv = submit(&a, &grand, &[child.clone(), root.clone()]).unwrap();
    assert_eq!((gv.depth, gv.parent_writ_id.as_str()), (2, cv.writ_id.as_str()));
    // Refusals.
    // (The same grandchild again is answered with its record, whatever chain is sent.)
    assert_eq!(submit(&a, &grand, std::slice::from_ref(&child)).unwrap().index, gv.index);
    let g2 = mint(&child, &s, 1, None);
    refused(submit(&a, &g2, std::slice::from_ref(&child)), "lineage_broken");
    let stranger = mint(&child, &s, 1, None);
    refused(submit(&a, &stranger, &[]), "unknown_key");
    let orphan_parent = mint(&root, &o, 1, Some(&s));
    let orphan = mint(&orphan_parent, &s, 1, None);
    refused(submit(&a, &orphan, &[orphan_parent.clone(), root.clone()]), "delegation_unknown_parent");
    let by_wrong_key = mint(&root, &o, 1, None);
    let forged = writ_core::issue::sign(
        &writ_core::issue::statement({
            let mut p = delegate::read_parent(&by_wrong_key).unwrap();
            p.issuer = s.key_id();
            p
        }),
        &s,
    )
    .unwrap();
    refused(submit(&a, &forged, std::slice::from_ref(&root)), "delegation_signature");
    let mallory = a.identify(&key(4).key_id(), now()).unwrap();
    let input = DelegationInput {
        writ: String::from_utf8(child.clone()).unwrap(),
        ancestors: Chain::new(std::slice::from_ref(&root)).ancestors,
    };
    assert!(matches!(a.record_delegation(&mallory, &input, now()), Err(AuthorityError::Forbidden(_))));

    // A use of the grandchild is one of the child and of the root.
    let st = status(&a, &gv.writ_id, true).unwrap();
    assert_eq!((st.state, st.use_count, st.uses_left), (WritState::Valid, Some(1), Some(0)));
    assert_eq!(a.writ(&root_id).unwrap().used, 1);
    assert_eq!(a.writ(&cv.writ_id).unwrap().used, 1);
    assert!(matches!(status(&a, &gv.writ_id, true), Err(AuthorityError::Replayed(_))));
    assert_eq!(a.writ(&root_id).unwrap().used, 1, "a refused use consumes nothing");
    // The child has 1 use left, the root 2: the child may not give 2 now.
    let too_many = mint(&child, &s, 2, None);
    refused(submit(&a, &too_many, &[child.clone(), root.clone()]), "delegation_uses");

    // Revoking the root revokes the chain.
    let op = a.operator(now()).unwrap();
    a.revoke(&op, &root_id, "done", now()).unwrap();
    let st = status(&a, &gv.writ_id, false).unwrap();
    assert_eq!(st.state, WritState::Revoked);
    assert_eq!(status(&a, &cv.writ_id, true).unwrap().state, WritState::Revoked, "nothing consumed when revoked");
    assert_eq!(a.writ(&cv.writ_id).unwrap().used, 1);
    assert_eq!(a.delegation(&cv.writ_id).unwrap().state, "revoked");
    let late = mint(&child, &s, 1, None);
    refused(submit(&a, &late, &[child.clone(), root.clone()]), "revoked");
    // Unrecorded: no status at all.
    assert!(matches!(status(&a, &late_id(&late), false), Err(AuthorityError::UnknownWrit(_))));
    // The ledger holds two delegation entries, each indexed under its child.
    let kinds: Vec<String> = a.entries_for(None, Some(&gv.writ_id)).unwrap().into_iter().map(|(_, k, _)| k).collect();
    assert_eq!(kinds, ["delegation"]);
    assert_eq!(a.delegations_of(&root_id).unwrap().len(), 1);
}

fn late_id(env: &[u8]) -> String {
    delegate::read_parent(env).unwrap().id
}

#[test]
fn delegation_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    people(&h);
    scenario(&Config::new(&h));
}

#[test]
fn delegation_on_postgresql() {
    postgres::Client::connect(&url(), postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL={} is unreachable: {e}", url()));
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    let schema = format!("writ_deleg_test_{}", std::process::id());
    home::init_in(&h, &home::Store::Postgres { url: url(), schema: schema.clone() }).unwrap();
    people(&h);
    let mut cfg = Config::new(&h);
    cfg.database = Some(url());
    cfg.schema = schema.clone();
    scenario(&cfg);
    if let Ok(mut c) = postgres::Client::connect(&url(), postgres::NoTls) {
        let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

/// A crash after the `delegation` entry reached the ledger but before the
/// state committed (simulated: the state row removed) is repaired by
/// submitting the child again: the same entry, no second one.
#[test]
fn a_lost_state_row_is_repaired_by_submitting_again() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    people(&h);
    let a = Authority::open(&Config::new(&h)).unwrap();
    let alice = a.identify(&key(1).key_id(), now()).unwrap();
    let v = a.submit(&alice, input(Some(&key(40)), None), now()).unwrap();
    let root = v.writ.unwrap().into_bytes();
    let child = mint(&root, &key(40), 1, None);
    let first = submit(&a, &child, std::slice::from_ref(&root)).unwrap();
    let size = a.ledger().size();
    drop(a);
    let db = rusqlite::Connection::open(h.join(home::STATE_DB)).unwrap();
    assert_eq!(db.execute("DELETE FROM auth_delegations", []).unwrap(), 1);
    drop(db);
    let a = Authority::open(&Config::new(&h)).unwrap();
    assert!(matches!(a.delegation(&first.writ_id), Err(AuthorityError::UnknownWrit(_))));
    let again = submit(&a, &child, &[root]).unwrap();
    assert_eq!(again.index, first.index);
    assert_eq!(a.ledger().size(), size, "no second delegation entry");
    assert_eq!(status(&a, &again.writ_id, true).unwrap().use_count, Some(1));
}
