//! The state database cannot lose or forge a decision: every SQL edit that
//! un-revokes, resets a use count, raises uses, forges a status or a writ is
//! named by `check_state`, `recover` restores what the ledger determines,
//! and start-up applies a ledger tail the state never recorded. Real SQLite
//! files, edited with real SQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;

use writ_authority::model::{RequestInput, TargetInput};
use writ_authority::{Authority, Config, home};
use writ_core::entry::{self, Entry};
use writ_core::trust::{Role, key_entry};
use writ_core::{Sha256Digest, SigningKey, Timestamp, TrustRoot};

const NOW: Timestamp = Timestamp(1_800_000_000);

const POLICIES: &str = r#"
@id("echo")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/echo" };

@id("true-once")
@single_use("true")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/true" };
"#;

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
        reason: "r".into(),
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

fn sql(home: &std::path::Path, stmt: &str) {
    let c = rusqlite::Connection::open(home.join("state.sqlite")).unwrap();
    assert!(c.execute(stmt, []).unwrap() >= 1, "{stmt} changed nothing");
}

fn codes(a: &Authority) -> Vec<(&'static str, String)> {
    a.check_state().unwrap().into_iter().map(|d| (d.code, d.subject)).collect()
}

#[test]
fn every_forged_or_lost_decision_is_named_and_recovered_from_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    std::fs::write(h.join("policies.cedar"), POLICIES).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    trust.add(key_entry("alice", vec![Role::Requester], vec!["dev".into()], &key(1).public())).unwrap();
    trust.add(key_entry("gate", vec![Role::Gate], vec![], &key(3).public())).unwrap();
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
    let a = Authority::open(&Config::new(&h)).unwrap();
    let alice = a.identify(&key(1).key_id(), NOW).unwrap();
    let gate = a.identify(&key(3).key_id(), NOW).unwrap();
    let op = a.operator(NOW).unwrap();

    let revoked = a.submit(&alice, input("/usr/bin/echo"), NOW).unwrap();
    let revoked_id = revoked.writ_id.clone().unwrap();
    a.revoke(&op, &revoked_id, "compromised", NOW).unwrap();
    let once = a.submit(&alice, input("/usr/bin/true"), NOW).unwrap();
    let once_id = once.writ_id.clone().unwrap();
    a.status(&gate, &once_id, true, None, NOW).unwrap();
    let start = Entry::ExecStart(entry::ExecStart {
        time: NOW,
        request_id: once.request_id.clone(),
        writ_id: once_id.clone(),
        host: "h1".into(),
        program_digest: Sha256Digest::of(b"p"),
        argv_digest: Sha256Digest::of(b"a"),
    });
    a.record_at(&gate, &writ_core::gate_record::GateRecord::sign(start, vec![], &key(3)).unwrap(), NOW).unwrap();
    let open = a.submit(&alice, input("/usr/bin/echo"), NOW).unwrap();
    assert!(a.check_state().unwrap().is_empty(), "{:?}", a.check_state().unwrap());

    // one SQL UPDATE each
    sql(&h, &format!("UPDATE auth_writs SET revoked_at = NULL, reason = NULL WHERE id = '{revoked_id}'"));
    sql(&h, &format!("UPDATE auth_writs SET used = 0 WHERE id = '{once_id}'"));
    sql(&h, &format!("UPDATE auth_writs SET uses = 100 WHERE id = '{}'", once_id));
    sql(&h, &format!("UPDATE auth_requests SET status = 'pending', writ_id = NULL WHERE id = '{}'", open.request_id));
    sql(
        &h,
        &format!(
            "INSERT INTO auth_writs SELECT '01234567-89ab-7def-8123-456789abcdef', request_id, requester, envelope, envelope_sha256, receipt, NULL, 0, not_after + 9999, NULL, NULL FROM auth_writs WHERE id = '{}'",
            open.writ_id.clone().unwrap()
        ),
    );
    sql(&h, "DELETE FROM auth_entries WHERE kind = 'exec_start'");
    let found = codes(&a);
    for (code, subject) in [
        ("revocation_lost", revoked_id.as_str()),
        ("uses_reset", once_id.as_str()),
        ("uses_differ", once_id.as_str()),
        ("status_differs", open.request_id.as_str()),
        ("writ_not_in_ledger", "01234567-89ab-7def-8123-456789abcdef"),
    ] {
        assert!(found.iter().any(|(c, s)| *c == code && s == subject), "{code} {subject} not in {found:?}");
    }
    assert!(found.iter().any(|(c, _)| *c == "entry_not_indexed"), "{found:?}");
    // the un-revoked writ answers valid until recovery...
    let st = a.writ(&revoked_id).unwrap();
    assert_eq!(st.state, "valid");
    let report = a.recover(NOW.plus(5)).unwrap();
    assert_eq!(report.fixed, report.found.len() - 1, "{report:?}");
    // ...and revoked after it, with the ledger's reason
    let st = a.writ(&revoked_id).unwrap();
    assert_eq!(st.state, "revoked");
    assert_eq!(st.reason.as_deref(), Some("compromised"));
    assert_eq!(a.writ(&once_id).unwrap().used, 1);
    assert_eq!(a.writ(&once_id).unwrap().uses, Some(1));
    assert_eq!(a.status(&gate, &once_id, true, None, NOW).unwrap_err().code(), "replayed");
    assert_eq!(a.request(&alice, &open.request_id).unwrap().status, "issued");
    // the forged writ is revoked (never deleted), and that stays reported
    assert_eq!(a.writ("01234567-89ab-7def-8123-456789abcdef").unwrap().state, "revoked");
    let left = codes(&a);
    assert_eq!(left, [("writ_not_in_ledger", "01234567-89ab-7def-8123-456789abcdef".to_string())], "{left:?}");
    assert_eq!(report.remaining.len(), 1);
}

#[test]
fn start_up_applies_a_ledger_tail_the_state_never_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    std::fs::write(h.join("policies.cedar"), POLICIES).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    trust.add(key_entry("alice", vec![Role::Requester], vec!["dev".into()], &key(1).public())).unwrap();
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
    let wid = {
        let a = Authority::open(&Config::new(&h)).unwrap();
        let alice = a.identify(&key(1).key_id(), NOW).unwrap();
        let v = a.submit(&alice, input("/usr/bin/echo"), NOW).unwrap();
        let wid = v.writ_id.unwrap();
        a.revoke(&a.operator(NOW).unwrap(), &wid, "gone", NOW).unwrap();
        wid
    };
    // as if the process died after the ledger append of the revocation and
    // before the state commit
    sql(&h, &format!("UPDATE auth_writs SET revoked_at = NULL, reason = NULL WHERE id = '{wid}'"));
    sql(&h, "DELETE FROM auth_entries WHERE kind = 'revocation'");
    let a = Authority::open(&Config::new(&h)).unwrap();
    assert_eq!(a.writ(&wid).unwrap().state, "revoked");
    assert!(a.check_state().unwrap().is_empty(), "{:?}", a.check_state().unwrap());
}
