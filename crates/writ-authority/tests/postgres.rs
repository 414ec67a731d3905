//! The authority on PostgreSQL (ledger and state in one schema), and atomic
//! use consumption across two authority instances sharing the database.
//! Needs `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! and fails loudly when it is unreachable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;
use std::sync::Arc;

use writ_authority::model::{RequestInput, TargetInput};
use writ_authority::{Authority, Config, Verdict, home};
use writ_core::trust::{Role, key_entry};
use writ_core::{Sha256Digest, SigningKey, Timestamp, TrustRoot};

const NOW: Timestamp = Timestamp(1_800_000_000);

const POLICIES: &str = r#"
@id("echo-at-once")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/echo" };

@id("uname-limited")
@approvals("1")
@approver_group("sre")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/uname" };

@id("true-single-use")
@single_use("true")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/true" };
"#;

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

fn input(program: &str) -> RequestInput {
    RequestInput {
        target: TargetInput::Exec {
            program: program.into(),
            sha256: Some(Sha256Digest::of(b"p").to_hex()),
            argv: vec![program.into()],
        },
        reason: "pg".into(),
        duration_secs: 60,
        env: BTreeMap::new(),
        cwd: None,
        hosts: None,
        evidence: None,
        boundaries: None,
        uses: None,
        holder: None,
        delegation_depth: None,
    }
}

fn schema_for(dir: &std::path::Path) -> String {
    format!(
        "writ_auth_test_{}_{}",
        std::process::id(),
        dir.file_name().unwrap().to_string_lossy().to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "")
    )
}

fn people(h: &std::path::Path) {
    std::fs::write(h.join("policies.cedar"), POLICIES).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    trust.add(key_entry("alice", vec![Role::Requester], vec!["dev".into()], &key(1).public())).unwrap();
    trust.add(key_entry("bob", vec![Role::Approver], vec!["sre".into()], &key(2).public())).unwrap();
    trust.add(key_entry("gate", vec![Role::Gate], vec![], &key(3).public())).unwrap();
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
}

fn setup(dir: &std::path::Path) -> (Config, String) {
    let h = dir.join("h");
    let schema = schema_for(dir);
    home::init_in(&h, &home::Store::Postgres { url: url(), schema: schema.clone() }).unwrap();
    people(&h);
    let mut cfg = Config::new(&h);
    cfg.database = Some(url());
    cfg.schema = schema.clone();
    (cfg, schema)
}

fn drop_schema(schema: &str) {
    if let Ok(mut c) = postgres::Client::connect(&url(), postgres::NoTls) {
        let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

#[test]
fn flow_on_postgresql_and_consumption_is_atomic_across_instances() {
    postgres::Client::connect(&url(), postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL={} is unreachable: {e}", url()));
    let dir = tempfile::tempdir().unwrap();
    let (cfg, schema) = setup(dir.path());
    let a = Authority::open(&cfg).unwrap();
    let alice = a.identify(&key(1).key_id(), NOW).unwrap();
    let bob = a.identify(&key(2).key_id(), NOW).unwrap();
    let v = a.submit(&alice, input("/usr/bin/echo"), NOW).unwrap();
    assert_eq!(v.status, "issued");
    let trust = TrustRoot::from_json(&std::fs::read(dir.path().join("h/trust.json")).unwrap()).unwrap();
    let verified =
        writ_core::verify(v.writ.as_ref().unwrap().as_bytes(), &trust, &writ_core::Context::check_at(NOW)).unwrap();
    writ_core::receipt::check(
        v.receipt.as_ref().unwrap().as_bytes(),
        &trust,
        verified.predicate(),
        &verified.envelope_digest(),
    )
    .unwrap();

    let p = a.submit(&alice, input("/usr/bin/uname"), NOW).unwrap();
    assert_eq!(p.status, "pending");
    let d = Sha256Digest::from_hex(&p.request_digest).unwrap();
    let sig = key(2).sign(&writ_core::approval::signing_input(&d, Verdict::Approve, NOW));
    assert_eq!(a.vote(&bob, &p.request_id, Verdict::Approve, &sig, NOW, NOW).unwrap().status, "issued");
    assert_eq!(
        a.vote(&bob, &p.request_id, Verdict::Approve, &sig, NOW, NOW).unwrap_err().code(),
        "request_not_pending"
    );

    // a single-use writ, consumed by many threads over two instances: one wins
    let s = a.submit(&alice, input("/usr/bin/true"), NOW).unwrap();
    let wid = s.writ_id.unwrap();
    let b = Arc::new(Authority::open(&cfg).unwrap());
    let a = Arc::new(a);
    let gate = a.identify(&key(3).key_id(), NOW).unwrap();
    let mut hs = Vec::new();
    for i in 0..8 {
        let inst = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (g, w) = (gate.clone(), wid.clone());
        hs.push(std::thread::spawn(move || inst.status(&g, &w, true, None, NOW).map_err(|e| e.code())));
    }
    let results: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|c| *c == "replayed"));
    assert!(a.entries_for(Some(&p.request_id), None).unwrap().len() >= 4);
    drop(b);
    drop(a);
    drop_schema(&schema);
}

/// One log per key: a home bound to PostgreSQL opens it without being told,
/// and a home bound to its SQLite files refuses to be served from
/// PostgreSQL (and the other way round), before anything is written.
#[test]
fn a_home_opens_only_the_store_it_is_bound_to() {
    postgres::Client::connect(&url(), postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL={} is unreachable: {e}", url()));
    let dir = tempfile::tempdir().unwrap();
    let (cfg, schema) = setup(dir.path());
    let h = dir.path().join("h");
    {
        let a = Authority::open(&cfg).unwrap();
        let alice = a.identify(&key(1).key_id(), NOW).unwrap();
        assert_eq!(a.submit(&alice, input("/usr/bin/echo"), NOW).unwrap().status, "issued");
    }
    // without --database: the bound PostgreSQL store, not a leftover SQLite file
    let a = Authority::open(&Config::new(&h)).unwrap();
    assert_eq!(a.ledger().size(), 3, "request, decision, issuance in the postgresql ledger");
    drop(a);
    assert!(!h.join("ledger.sqlite").exists(), "no second ledger was created");
    // another schema of the same server is another store
    let mut other = cfg.clone();
    other.schema = format!("{schema}_other");
    let err = Authority::open(&other).unwrap_err();
    assert_eq!(err.code(), "unavailable");
    assert!(err.to_string().contains("bound to postgresql"), "{err}");
    // a SQLite-bound home with entries is never served from PostgreSQL
    let s = dir.path().join("s");
    home::init(&s).unwrap();
    people(&s);
    {
        let a = Authority::open(&Config::new(&s)).unwrap();
        let alice = a.identify(&key(1).key_id(), NOW).unwrap();
        a.submit(&alice, input("/usr/bin/echo"), NOW).unwrap();
    }
    let mut pg = Config::new(&s);
    pg.database = Some(url());
    pg.schema = format!("{schema}_s");
    let err = Authority::open(&pg).unwrap_err();
    assert!(err.to_string().contains("bound to its SQLite files"), "{err}");
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    let n: i64 = c
        .query_one("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1", &[&pg.schema])
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "the refused store was not touched");
    drop_schema(&schema);
}

/// The state check and recovery on PostgreSQL: one SQL `UPDATE` that
/// un-revokes a writ is named, and recovery revokes it again.
#[test]
fn an_unrevoking_update_on_postgresql_is_caught_and_recovered() {
    postgres::Client::connect(&url(), postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL={} is unreachable: {e}", url()));
    let dir = tempfile::tempdir().unwrap();
    let (cfg, schema) = setup(dir.path());
    let a = Authority::open(&cfg).unwrap();
    let alice = a.identify(&key(1).key_id(), NOW).unwrap();
    let wid = a.submit(&alice, input("/usr/bin/echo"), NOW).unwrap().writ_id.unwrap();
    a.revoke(&a.operator(NOW).unwrap(), &wid, "compromised", NOW).unwrap();
    assert!(a.check_state().unwrap().is_empty());
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    let n = c
        .execute(&format!("UPDATE {schema}.auth_writs SET revoked_at = NULL, reason = NULL WHERE id = $1"), &[&wid])
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(a.writ(&wid).unwrap().state, "valid");
    let found = a.check_state().unwrap();
    assert!(found.iter().any(|d| d.code == "revocation_lost" && d.subject == wid), "{found:?}");
    let r = a.recover(NOW).unwrap();
    assert!(r.remaining.is_empty(), "{r:?}");
    assert_eq!(a.writ(&wid).unwrap().state, "revoked");
    drop(a);
    drop_schema(&schema);
}

/// The grouped submission write (one statement on PostgreSQL: index rows,
/// request, writ, idempotency completion) stores everything: a retry with
/// the same key replays the first outcome, the writ reads back with its
/// receipt, and concurrent submissions (one group commit) all land.
#[test]
fn grouped_submissions_on_postgresql_store_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, schema) = setup(dir.path());
    let a = Arc::new(Authority::open(&cfg).unwrap());
    let alice = a.identify(&key(1).key_id(), NOW).unwrap();
    let opts = writ_authority::CallOptions::with_key("pg-group-1");
    let first = a.submit_with(&alice, input("/usr/bin/echo"), &opts, NOW).unwrap();
    let again = a.submit_with(&alice, input("/usr/bin/echo"), &opts, NOW).unwrap();
    assert_eq!(first.status, "issued");
    assert_eq!(again.request_id, first.request_id);
    assert_eq!(again.writ_id, first.writ_id);
    assert_eq!(again.receipt, first.receipt);
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (a, alice) = (a.clone(), alice.clone());
            std::thread::spawn(move || {
                let opts = writ_authority::CallOptions::with_key(format!("pg-group-t{i}"));
                a.submit_with(&alice, input("/usr/bin/echo"), &opts, NOW).unwrap()
            })
        })
        .collect();
    for t in threads {
        let v = t.join().unwrap();
        assert_eq!(v.status, "issued");
        let stored = a.request(&alice, &v.request_id).unwrap();
        assert_eq!(stored.writ_id, v.writ_id);
        assert_eq!(stored.receipt, v.receipt);
    }
    drop(a);
    drop_schema(&schema);
}
