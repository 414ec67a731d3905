//! `writ log` and `writ audit` driven through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "test code")]

use std::process::{Command, Output};

fn writ(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(args)
        .arg("--home")
        .arg(home)
        .env_remove("WRIT_HOME")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn log_and_audit_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let key = writ(&home, &["log", "key", "--create"]);
    assert!(key.status.success());
    let vkey = stdout(&key).trim().to_string();
    assert!(vkey.starts_with("writ.localhost/ledger+"), "{vkey}");
    for i in 0..6 {
        let o = writ(&home, &["log", "append", "--data", &format!("entry {i}")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(stdout(&o).trim(), i.to_string());
    }
    let cp = writ(&home, &["log", "checkpoint"]);
    assert!(stdout(&cp).starts_with("writ.localhost/ledger\n6\n"));
    let saved = dir.path().join("saved-cp");
    std::fs::write(&saved, &cp.stdout).unwrap();

    let proof = dir.path().join("proof");
    let entry = dir.path().join("entry");
    let o = writ(
        &home,
        &["log", "proof", "--index", "3", "--out", proof.to_str().unwrap(), "--entry-out", entry.to_str().unwrap()],
    );
    assert!(o.status.success());
    assert!(std::fs::read_to_string(&proof).unwrap().starts_with("c2sp.org/tlog-proof@v1\nindex 3\n"));
    // verified with only the verifier key, from another (empty) home
    let other = dir.path().join("other");
    let v = |e: &std::path::Path| {
        writ(
            &other,
            &[
                "log",
                "--verifier",
                &vkey,
                "verify-proof",
                "--proof",
                proof.to_str().unwrap(),
                "--entry",
                e.to_str().unwrap(),
            ],
        )
    };
    assert!(v(&entry).status.success());
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "entry 4").unwrap();
    assert_eq!(v(&wrong).status.code(), Some(77));

    let c = writ(&home, &["log", "consistency", "--from", "2"]);
    assert!(c.status.success());
    assert!(!stdout(&c).is_empty());
    assert_eq!(writ(&home, &["log", "proof", "--index", "6"]).status.code(), Some(2));

    // text entries are not writ entries: check the tree only
    let ok = writ(&home, &["audit", "--tree-only", "--checkpoint", saved.to_str().unwrap()]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    // tamper with entry 2 behind the ledger's back
    let db = rusqlite::Connection::open(home.join("ledger.sqlite")).unwrap();
    db.execute("UPDATE writ_entries SET data = x'00' WHERE idx = 2", []).unwrap();
    drop(db);
    let bad = writ(&home, &["audit", "--tree-only", "--json"]);
    assert_eq!(bad.status.code(), Some(77));
    let j: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(j["findings"][0]["code"], "modified_entry");
    assert_eq!(j["findings"][0]["index"], 2);
    let text = writ(&home, &["audit", "--tree-only"]);
    assert!(stdout(&text).contains("entry 2 does not match"), "{}", stdout(&text));
    // no ledger: operational error
    let none = writ(&dir.path().join("nowhere"), &["audit", "--verifier", &vkey]);
    assert_eq!(none.status.code(), Some(1));
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A unique PostgreSQL schema, dropped afterwards; fails loudly when the server is unreachable.
struct PgSchema(String);

impl PgSchema {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        postgres::Client::connect(&database_url(), postgres::NoTls)
            .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL={} is unreachable: {e}", database_url()));
        Self(format!("cli_{tag}_{}_{nanos}", std::process::id()))
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&database_url(), postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
        }
    }
}

/// Regression: `writ log --home TYPO key` created a directory and a new ledger key.
#[test]
fn read_only_log_commands_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo");
    let o = writ(&typo, &["log", "key"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no ledger key at") && stderr(&o).contains("--create"), "{}", stderr(&o));
    let o = writ(&typo, &["log", "checkpoint"]);
    assert_eq!(o.status.code(), Some(1));
    let o = writ(&typo, &["audit"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!typo.exists(), "a read-only command created the home");
}

/// One log per key, through the binary: the home's key refuses to sign for
/// a second store (PostgreSQL) or a restored older SQLite file, and `writ
/// audit` flags a store that does not extend what the key last signed.
#[test]
fn one_log_per_key_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    assert!(writ(&home, &["log", "key", "--create"]).status.success());
    for i in 0..3 {
        assert!(writ(&home, &["log", "append", "--data", &format!("entry {i}")]).status.success());
    }
    // a second store under the same key: PostgreSQL (both flag names)
    let pg = PgSchema::new("second");
    let url = database_url();
    let o = writ(&home, &["log", "--ledger", &url, "--schema", &pg.0, "append", "--data", "forked"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("refusing to sign") && e.contains(&pg.0) && e.contains("is empty"), "{e}");
    let a = writ(&home, &["audit", "--ledger", &url, "--pg-schema", &pg.0, "--tree-only", "--json"]);
    assert_eq!(a.status.code(), Some(77), "{}", stdout(&a));
    let j: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(j["findings"][0]["code"], "behind_last_signed", "{j}");
    assert_eq!(j["size"], 0, "nothing was signed into the second store");

    // a restored older SQLite store
    let live = home.join("ledger.sqlite");
    let backup = dir.path().join("backup.sqlite");
    rusqlite::Connection::open(&live).unwrap().execute("VACUUM INTO ?1", [backup.to_str().unwrap()]).unwrap();
    assert!(writ(&home, &["log", "append", "--data", "after the backup"]).status.success());
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", live.display()));
    }
    std::fs::copy(&backup, &live).unwrap();
    let a = writ(&home, &["audit", "--tree-only"]);
    assert_eq!(a.status.code(), Some(77));
    assert!(stdout(&a).contains("behind_last_signed"), "{}", stdout(&a));
    let o = writ(&home, &["log", "append", "--data", "on the backup"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("holds only 3 entries"), "{}", stderr(&o));
    // the restored store was not signed over
    let cp = writ(&home, &["log", "checkpoint"]);
    assert!(stdout(&cp).starts_with("writ.localhost/ledger\n3\n"), "{}", stdout(&cp));
}

/// The semantic audit over a real authority home, then over the same home
/// with crafted entries appended through the real sequencer.
#[test]
fn semantic_audit_of_an_authority_home() {
    use writ_core::entry::{self, Entry};
    use writ_core::{Sha256Digest, Timestamp, Unverified};

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_writ"))
            .args(args)
            .current_dir(d)
            .env_remove("WRIT_HOME")
            .output()
            .unwrap();
        assert!(o.status.success(), "writ {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["init", "--home", "h"]);
    run(&["keygen", "--out", "dev.key", "--name", "dev"]);
    run(&["trust", "add", "--trust", "h/trust.json", "--role", "requester", "--group", "dev", "--key", "dev.key.pub"]);
    run(&["keygen", "--out", "gate.key", "--name", "gate1"]);
    run(&["trust", "add", "--trust", "h/trust.json", "--role", "gate", "--key", "gate.key.pub"]);
    run(&["request", "--home", "h", "--key", "dev.key", "--out", "a.writ", "--", "/usr/bin/echo", "hi"]);
    let home = d.join("h");
    let a = writ(&home, &["audit", "--json"]);
    assert_eq!(a.status.code(), Some(0), "{}", stdout(&a));
    let j: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let sem = &j["semantic"];
    assert_eq!(sem["ok"], true, "{sem}");
    assert_eq!(sem["checked"]["issuances"], 1, "{sem}");
    assert_eq!(sem["checked"]["writs"], 1, "the writ came from the home's state: {sem}");
    assert_eq!(j["last_signed_checked"], true);
    let text = stdout(&writ(&home, &["audit"]));
    assert!(text.contains("history of") && text.contains("issuances 1"), "{text}");

    // crafted entries, appended through the real (guarded) sequencer
    let w = Unverified::decode(&std::fs::read(d.join("a.writ")).unwrap()).unwrap();
    let (writ_id, request_id) = (w.id().unwrap().to_string(), w.request_id().unwrap().to_string());
    let now = Timestamp(
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap(),
    );
    let append = |e: Entry| {
        let f = d.join("entry.bin");
        std::fs::write(&f, e.encode().unwrap()).unwrap();
        let o = writ(&home, &["log", "append", "--file", f.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    append(Entry::Revocation(entry::Revocation {
        time: now,
        request_id: request_id.clone(),
        writ_id: writ_id.clone(),
        revoked_by: "operator".into(),
        reason: "test".into(),
    }));
    append(Entry::ExecStart(entry::ExecStart {
        time: now.plus(10),
        request_id: request_id.clone(),
        writ_id: writ_id.clone(),
        host: "h1".into(),
        program_digest: Sha256Digest::of(b"echo"),
        argv_digest: Sha256Digest::of(b"argv"),
    }));
    // Gate records (issue 9 item 6): one signed by the gate key, one changed
    // after signing (its code), both appended as they are.
    let gate_seed = std::fs::read_to_string(d.join("gate.key")).unwrap();
    let gate_seed: [u8; 32] = writ_core::b64::decode(gate_seed.trim().strip_prefix("ed25519-secret ").unwrap(), 32)
        .unwrap()
        .try_into()
        .unwrap();
    let gate_denial = |code: &str| {
        let e = Entry::Denial(entry::Denial {
            time: now,
            request_id: None,
            writ_id: None,
            code: code.into(),
            detail: "a gate's denial".into(),
            host: Some("h1".into()),
        });
        writ_core::gate_record::GateRecord::sign(e, vec![], &writ_core::SigningKey::from_seed(&gate_seed)).unwrap()
    };
    let append_bytes = |b: &[u8]| {
        let f = d.join("entry.bin");
        std::fs::write(&f, b).unwrap();
        let o = writ(&home, &["log", "append", "--file", f.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    append_bytes(&gate_denial("expired"));
    let mut tampered = gate_denial("malformed");
    let at = tampered.windows(9).position(|w| w == b"malformed").unwrap();
    tampered[at..at + 9].copy_from_slice(b"expired!!");
    append_bytes(&tampered);
    append(Entry::Issuance(entry::Issuance {
        time: now,
        request_id: "01940000-0000-7000-8000-000000000099".into(),
        writ_id: "01940000-0000-7000-8000-000000000098".into(),
        envelope_digest: Sha256Digest::of(b"minted in secret"),
        issuer: "someone".into(),
        not_before: now,
        not_after: now.plus(60),
        parent_writ_id: None,
        parent_digest: None,
    }));
    let a = writ(&home, &["audit", "--json"]);
    assert_eq!(a.status.code(), Some(77), "{}", stdout(&a));
    let j: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(j["finding_count"], 0, "the tree itself is intact");
    let codes: Vec<&str> =
        j["semantic"]["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"exec_after_revocation"), "{codes:?}");
    assert!(codes.contains(&"issuance_without_request"), "{codes:?}");
    // The crafted exec_start carries no gate signature: an error now, not a warning.
    assert_eq!(codes.iter().filter(|c| **c == "unsigned_gate_record").count(), 1, "{codes:?}");
    // The tampered denial, and only it, fails its signature.
    assert_eq!(codes.iter().filter(|c| **c == "bad_gate_signature").count(), 1, "{codes:?}");
    let bad = j["semantic"]["findings"].as_array().unwrap().iter().find(|f| f["code"] == "bad_gate_signature").unwrap();
    assert!(bad["message"].as_str().unwrap().contains("does not verify"), "{bad}");
    assert_eq!(bad["severity"], "error");
    let text = stdout(&writ(&home, &["audit"]));
    assert!(text.contains("history breaks the rules") && text.contains("exec_after_revocation (entry"), "{text}");
    // --tree-only still passes: the tree is intact
    assert_eq!(writ(&home, &["audit", "--tree-only"]).status.code(), Some(0));
}
