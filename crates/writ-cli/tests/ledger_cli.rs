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
    let key = writ(&home, &["log", "key"]);
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

    let ok = writ(&home, &["audit", "--checkpoint", saved.to_str().unwrap()]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    // tamper with entry 2 behind the ledger's back
    let db = rusqlite::Connection::open(home.join("ledger.sqlite")).unwrap();
    db.execute("UPDATE writ_entries SET data = x'00' WHERE idx = 2", []).unwrap();
    drop(db);
    let bad = writ(&home, &["audit", "--json"]);
    assert_eq!(bad.status.code(), Some(77));
    let j: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(j["findings"][0]["code"], "modified_entry");
    assert_eq!(j["findings"][0]["index"], 2);
    let text = writ(&home, &["audit"]);
    assert!(stdout(&text).contains("entry 2 does not match"), "{}", stdout(&text));
    // no ledger: operational error
    let none = writ(&dir.path().join("nowhere"), &["audit", "--verifier", &vkey]);
    assert_eq!(none.status.code(), Some(1));
}
