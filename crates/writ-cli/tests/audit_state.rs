//! `writ audit --home` compares the authority's state with the ledger: one
//! SQL `UPDATE` that un-revokes a writ, resets a use count or rewrites a
//! request's status fails the audit, naming the difference by its code and
//! subject; `writ recover` rebuilds it and the audit passes again. On a real
//! SQLite home and on a home bound to the real PostgreSQL server
//! (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

#[allow(dead_code, reason = "shared helpers, not all used here")]
mod common;
#[allow(dead_code, reason = "shared helpers, not all used here")]
mod served;

use std::path::Path;

use common::home_with_dev_and_gate_on;
use served::run;

fn ok(dir: &Path, args: &[&str]) -> String {
    let (c, text) = run(dir, args);
    assert_eq!(c, 0, "writ {args:?}: {text}");
    text
}

/// Issues a writ and revokes it, issues a writ of 3 uses and runs it once;
/// returns `(revoked writ, used writ, its request)`.
fn history(d: &Path) -> (String, String, String) {
    let issue = |name: &str, extra: &[&str]| -> serde_json::Value {
        let out = format!("{name}.writ");
        let mut args = vec!["request", "--home", "h", "--key", "dev.key", "--json", "--out", &out];
        args.extend_from_slice(extra);
        args.extend(["--", "/usr/bin/echo", name]);
        let text = ok(d, &args);
        serde_json::from_str(text.lines().next().unwrap()).unwrap()
    };
    let a = issue("a", &[]);
    let revoked = a["writ_id"].as_str().unwrap().to_owned();
    ok(d, &["revoke", "--home", "h", "--reason", "compromised", &revoked]);
    let b = issue("b", &["--uses", "3"]);
    let used = b["writ_id"].as_str().unwrap().to_owned();
    let request = b["request_id"].as_str().unwrap().to_owned();
    let (c, text) =
        run(d, &["exec", "--writ", "b.writ", "--home", "h", "--key", "gate.key", "--", "/usr/bin/echo", "b"]);
    assert_eq!(c, 0, "{text}");
    (revoked, used, request)
}

/// `writ audit --home h`: its exit code and text.
fn audit(d: &Path) -> (i32, String) {
    run(d, &["audit", "--home", "h"])
}

/// Tampers with the state through `sql` (one statement per tamper), checks
/// the audit names each, then recovers.
fn tamper_and_audit(d: &Path, exec_sql: &dyn Fn(&str), writs: &str, requests: &str) {
    let (revoked, used, request) = history(d);
    let (c, text) = audit(d);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains("agrees with the ledger"), "{text}");

    let cases = [
        (
            format!("UPDATE {writs} SET revoked_at = NULL, reason = NULL WHERE id = '{revoked}'"),
            "revocation_lost",
            &revoked,
        ),
        (format!("UPDATE {writs} SET used = 0 WHERE id = '{used}'"), "uses_reset", &used),
        (
            format!("UPDATE {requests} SET status = 'pending', writ_id = NULL WHERE id = '{request}'"),
            "status_differs",
            &request,
        ),
    ];
    for (sql, code, subject) in &cases {
        exec_sql(sql);
        let (c, text) = audit(d);
        assert_eq!(c, 77, "{sql}: {text}");
        assert!(text.contains("differs from the ledger"), "{text}");
        assert!(text.lines().any(|l| l.contains(code) && l.contains(subject.as_str())), "{sql}: {text}");
        // The JSON report carries the same finding with its code.
        let (_, json) = run(d, &["audit", "--home", "h", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(v["state"]["ok"], false, "{v}");
        assert!(
            v["state"]["differences"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["code"] == *code && x["subject"] == **subject),
            "{v}"
        );
        ok(d, &["recover", "--home", "h"]);
        let (c, text) = audit(d);
        assert_eq!(c, 0, "recovered: {text}");
    }
    // --tree-only leaves the state alone.
    exec_sql(&cases[0].0);
    let (c, text) = run(d, &["audit", "--home", "h", "--tree-only"]);
    assert_eq!(c, 0, "{text}");
}

#[test]
fn a_tampered_sqlite_state_fails_the_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    home_with_dev_and_gate_on(d, &[]);
    let path = d.join("h/state.sqlite");
    let exec = |sql: &str| {
        let db = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(db.execute(sql, []).unwrap(), 1, "{sql}");
    };
    tamper_and_audit(d, &exec, "auth_writs", "auth_requests");
}

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

#[test]
fn a_tampered_postgres_state_fails_the_audit() {
    let url = database_url();
    let mut pg = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL={url} is unreachable: {e}"));
    let schema = format!("writ_audit_state_{}", std::process::id());
    pg.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    home_with_dev_and_gate_on(d, &["--database", &url, "--pg-schema", &schema]);
    let pg = std::cell::RefCell::new(pg);
    let exec = |sql: &str| {
        assert_eq!(pg.borrow_mut().execute(sql, &[]).unwrap(), 1, "{sql}");
    };
    tamper_and_audit(d, &exec, &format!("{schema}.auth_writs"), &format!("{schema}.auth_requests"));
    pg.borrow_mut().batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
}
