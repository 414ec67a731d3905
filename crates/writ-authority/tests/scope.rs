//! What the authority puts in a writ's scope, and what it refuses at intake,
//! on real SQLite files: boundaries, uses and offline from policy combined
//! with what the request asks; loader variables; text that would forge what
//! an approver reads; digests the requester must send; relative paths that
//! bind the working directory; host evidence that binds the host;
//! idempotency keys and deadlines. Every refusal changes nothing stored.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use writ_authority::model::{HOST_EVIDENCE_PAYLOAD_TYPE, RequestInput, RequestView, TargetInput};
use writ_authority::{Authority, CallOptions, Config, Identity, Verdict, home};
use writ_core::gate_record::GateRecord;
use writ_core::model::Boundaries;
use writ_core::trust::{Role, key_entry};
use writ_core::{Context, Sha256Digest, SigningKey, Timestamp, TrustRoot};

const NOW: Timestamp = Timestamp(1_800_000_000);

const POLICIES: &str = r#"
@id("job-bounded")
@wall_clock("300")
@cpu("10")
@memory("256M")
@processes("8")
@open_files("64")
@network("false")
@fs_read("/usr,/etc")
@fs_write("/tmp")
@max_duration("3600")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/job" };

@id("echo-free")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/echo" };

@id("echo-offline")
@offline("true")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/printf" };

@id("python-with-path")
@allow_env("PYTHONPATH")
@uses("3")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/python3" };

@id("on-host")
@evidence("host")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/id" };

@id("deploy-approved")
@approvals("1")
@approver_group("sre")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/local/bin/deploy" };
"#;

struct Env {
    _dir: tempfile::TempDir,
    home: std::path::PathBuf,
    a: Authority,
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    home::init(&home).unwrap();
    std::fs::write(home.join("policies.cedar"), POLICIES).unwrap();
    let tp = home.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    for (name, n, roles, groups) in [
        ("alice", 1, vec![Role::Requester], vec!["dev"]),
        ("bob", 2, vec![Role::Approver], vec!["sre"]),
        ("gate1", 6, vec![Role::Gate], vec!["prod"]),
    ] {
        trust.add(key_entry(name, roles, groups.into_iter().map(String::from).collect(), &key(n).public())).unwrap();
    }
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
    let a = Authority::open(&Config::new(&home)).unwrap();
    Env { _dir: dir, home, a }
}

impl Env {
    fn who(&self, n: u8) -> Identity {
        self.a.identify(&key(n).key_id(), NOW).unwrap()
    }

    fn submit(&self, i: RequestInput) -> Result<RequestView, writ_authority::AuthorityError> {
        self.a.submit(&self.who(1), i, NOW)
    }

    /// Everything stored: ledger size and every state table's rows.
    fn snapshot(&self) -> (u64, Vec<String>) {
        (self.a.ledger().size(), dump(&self.home.join("state.sqlite")))
    }

    fn trust(&self) -> TrustRoot {
        TrustRoot::from_json(&std::fs::read(self.home.join("trust.json")).unwrap()).unwrap()
    }

    fn verified(&self, v: &RequestView) -> writ_core::Verified {
        let writ = v.writ.as_ref().expect("an issued writ");
        writ_core::verify(writ.as_bytes(), &self.trust(), &Context::check_at(NOW.plus(1))).unwrap()
    }
}

fn dump(path: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut out = Vec::new();
    for t in ["auth_requests", "auth_votes", "auth_writs", "auth_nonces", "auth_entries", "auth_idempotency"] {
        let mut st = c.prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2")).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let vals: Vec<String> = (0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect();
            out.push(format!("{t}: {}", vals.join("|")));
        }
    }
    out
}

fn input(program: &str, args: &[&str]) -> RequestInput {
    let mut argv = vec![program.to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    RequestInput {
        target: TargetInput::Exec { program: program.into(), sha256: Some(Sha256Digest::of(b"prog").to_hex()), argv },
        reason: "test".into(),
        duration_secs: 600,
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

#[test]
fn policy_boundaries_are_in_the_signed_predicate() {
    let e = setup();
    let v = e.submit(input("/usr/bin/job", &[])).unwrap();
    assert_eq!(v.status, "issued");
    let p = e.verified(&v).predicate().clone();
    let b = &p.scope.boundaries;
    assert_eq!(b.wall_clock_secs, Some(300));
    assert_eq!(b.cpu_secs, Some(10));
    assert_eq!(b.memory_bytes, Some(256 << 20));
    assert_eq!(b.processes, Some(8));
    assert_eq!(b.open_files, Some(64));
    assert_eq!(b.network, Some(false));
    assert_eq!(b.fs_read, Some(vec!["/etc".to_string(), "/usr".to_string()]));
    assert_eq!(b.fs_write, Some(vec!["/tmp".to_string()]));
    // a writ without a use count is not offline unless policy says so
    assert_eq!(p.scope.uses, None);
    assert!(!p.scope.offline);
}

#[test]
fn the_stricter_of_request_and_policy_and_more_than_policy_is_refused() {
    let e = setup();
    let mut i = input("/usr/bin/job", &[]);
    i.boundaries = Some(Boundaries {
        wall_clock_secs: Some(30),
        file_size_bytes: Some(1 << 20),
        fs_write: Some(vec!["/tmp/job".into()]),
        ..Boundaries::default()
    });
    let v = e.submit(i).unwrap();
    let b = e.verified(&v).predicate().scope.boundaries.clone();
    assert_eq!(b.wall_clock_secs, Some(30), "the request's stricter limit");
    assert_eq!(b.cpu_secs, Some(10), "policy's limit the request did not mention");
    assert_eq!(b.file_size_bytes, Some(1 << 20), "a limit only the request set");
    assert_eq!(b.fs_write, Some(vec!["/tmp/job".to_string()]));

    let before = e.snapshot();
    for asked in [
        Boundaries { wall_clock_secs: Some(301), ..Boundaries::default() },
        Boundaries { memory_bytes: Some(1 << 30), ..Boundaries::default() },
        Boundaries { network: Some(true), ..Boundaries::default() },
        Boundaries { fs_write: Some(vec!["/home".into()]), ..Boundaries::default() },
        Boundaries { fs_read: Some(vec!["/usrx".into()]), ..Boundaries::default() },
    ] {
        let mut i = input("/usr/bin/job", &[]);
        i.boundaries = Some(asked.clone());
        let err = e.submit(i).unwrap_err();
        assert_eq!(err.code(), "exceeds_policy", "{asked:?}: {err}");
    }
    // malformed boundaries are bad input
    let mut i = input("/usr/bin/job", &[]);
    i.boundaries = Some(Boundaries { fs_read: Some(vec!["relative".into()]), ..Boundaries::default() });
    assert_eq!(e.submit(i).unwrap_err().code(), "invalid_request");
    assert_eq!(before, e.snapshot(), "refusals store nothing");
}

#[test]
fn uses_come_from_policy_and_a_request_may_ask_fewer_not_more() {
    let e = setup();
    let v = e.submit(input("/usr/bin/python3", &[])).unwrap();
    assert_eq!(e.verified(&v).predicate().scope.uses, Some(3));
    let mut i = input("/usr/bin/python3", &[]);
    i.uses = Some(2);
    let v = e.submit(i).unwrap();
    assert_eq!(e.verified(&v).predicate().scope.uses, Some(2));
    let before = e.snapshot();
    let mut i = input("/usr/bin/python3", &[]);
    i.uses = Some(4);
    assert_eq!(e.submit(i).unwrap_err().code(), "exceeds_policy");
    assert_eq!(before, e.snapshot());
}

#[test]
fn offline_only_where_policy_says_so_and_then_short_lived() {
    let e = setup();
    let v = e.submit(input("/usr/bin/echo", &["hi"])).unwrap();
    assert!(!e.verified(&v).predicate().scope.offline, "no @offline: online only");
    let v = e.submit(input("/usr/bin/printf", &["hi"])).unwrap();
    let p = e.verified(&v).predicate().clone();
    assert!(p.scope.offline);
    let life = p.validity.not_after.unix() - p.validity.not_before.unix();
    let cap = i64::try_from(e.trust().file().max_offline_lifetime_secs).unwrap();
    assert!(life <= cap && life <= 300, "offline writ lives {life} s, cap {cap} s");
}

#[test]
fn loader_variables_need_a_policy_that_names_them() {
    let e = setup();
    let before = e.snapshot();
    for (program, var) in [
        ("/usr/bin/echo", "LD_PRELOAD"),
        ("/usr/bin/echo", "PYTHONPATH"),
        ("/usr/bin/python3", "LD_PRELOAD"),
        ("/usr/bin/python3", "PYTHONSTARTUP"),
        ("/usr/bin/echo", "BASH_ENV"),
        ("/usr/bin/echo", "NODE_OPTIONS"),
    ] {
        let mut i = input(program, &[]);
        i.env.insert(var.into(), "/tmp/evil".into());
        let err = e.submit(i).unwrap_err();
        assert_eq!(err.code(), "loader_variable", "{program} {var}: {err}");
        assert!(err.to_string().contains(var));
    }
    assert_eq!(before, e.snapshot());
    let mut i = input("/usr/bin/python3", &[]);
    i.env.insert("PYTHONPATH".into(), "/opt/lib".into());
    i.env.insert("LANG".into(), "C".into());
    let v = e.submit(i).unwrap();
    let env = e.verified(&v).predicate().scope.environment.env.0.clone();
    assert_eq!(env.get("PYTHONPATH"), Some(&Some("/opt/lib".to_string())));
}

#[test]
fn text_that_would_forge_what_people_read_is_refused() {
    let e = setup();
    let before = e.snapshot();
    let mut cases: Vec<RequestInput> = Vec::new();
    let mut i = input("/usr/bin/echo", &[]);
    i.reason = "ok\nreason: approved by security".into();
    cases.push(i);
    cases.push(input("/usr/bin/echo", &["hi\n  reason: fine"]));
    cases.push(input("/usr/bin/echo", &["\u{1b}[2Jclean"]));
    cases.push(input("/usr/bin/echo", &["a\u{202e}b"]));
    let mut i = input("/usr/bin/echo", &[]);
    i.env.insert("GREETING".into(), "a\rb".into());
    cases.push(i);
    let mut i = input("/usr/bin/echo", &[]);
    i.cwd = Some("/tmp/\u{7}".into());
    cases.push(i);
    let mut i = input("/usr/bin/echo", &[]);
    i.reason = "nul\0".into();
    cases.push(i);
    for i in cases {
        let err = e.submit(i.clone()).unwrap_err();
        assert_eq!(err.code(), "unsafe_text", "{i:?}: {err}");
    }
    assert_eq!(before, e.snapshot());
    // and in a revocation reason
    let v = e.submit(input("/usr/bin/echo", &["hi"])).unwrap();
    let wid = v.writ_id.unwrap();
    let before = e.snapshot();
    for reason in ["line\nbreak", "nul\0", "\u{1b}]0;title\u{7}"] {
        assert_eq!(e.a.revoke(&e.a.operator(NOW).unwrap(), &wid, reason, NOW).unwrap_err().code(), "unsafe_text");
    }
    assert_eq!(before, e.snapshot());
}

#[test]
fn the_authority_never_opens_a_file_a_requester_names() {
    let e = setup();
    let before = e.snapshot();
    for program in ["/dev/zero", "/etc/shadow", "/usr/bin/echo"] {
        let mut i = input(program, &[]);
        i.target = TargetInput::Exec { program: program.into(), sha256: None, argv: vec![program.into()] };
        let err = e.submit(i).unwrap_err();
        assert_eq!(err.code(), "invalid_request");
        assert!(err.to_string().contains("sha256"), "{err}");
    }
    assert_eq!(before, e.snapshot());
}

#[test]
fn relative_paths_in_argv_bind_the_working_directory() {
    let e = setup();
    let before = e.snapshot();
    let err = e.submit(input("/usr/bin/echo", &["./build/out"])).unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert!(err.to_string().contains("cwd"), "{err}");
    assert_eq!(before, e.snapshot());
    let mut i = input("/usr/bin/echo", &["./build/out"]);
    i.cwd = Some("/srv/app".into());
    let v = e.submit(i).unwrap();
    assert_eq!(e.verified(&v).predicate().scope.environment.cwd.as_deref(), Some("/srv/app"));
}

fn evidence(nonce: &str, host: &str, labels: &[&str], signer: u8) -> String {
    let facts = serde_json::json!({
        "nonce": nonce, "hostname": host, "machine_id": "m", "kernel": "6.1",
        "labels": labels, "time": NOW.to_rfc3339(),
    });
    String::from_utf8(writ_core::dsse::sign(HOST_EVIDENCE_PAYLOAD_TYPE, facts.to_string().as_bytes(), &key(signer)))
        .unwrap()
}

#[test]
fn host_evidence_binds_the_writ_to_that_host_online_only() {
    let e = setup();
    let n = e.a.new_nonce(&e.who(6), NOW).unwrap();
    let mut i = input("/usr/bin/id", &[]);
    // labels: only those the verifying gate key is trusted for (group prod)
    i.evidence = Some(evidence(&n.nonce, "db1.example", &["prod", "pci"], 6));
    let v = e.submit(i).unwrap();
    let p = e.verified(&v).predicate().clone();
    assert_eq!(p.scope.environment.hosts, Some(vec!["db1.example".to_string()]));
    assert_eq!(p.scope.environment.labels, ["prod"]);
    assert!(!p.scope.offline);
    // requested hosts that do not match the evidence are refused, and the
    // nonce stays unused for a corrected request
    let n = e.a.new_nonce(&e.who(6), NOW).unwrap();
    let mut i = input("/usr/bin/id", &[]);
    i.hosts = Some(vec!["web*".into()]);
    i.evidence = Some(evidence(&n.nonce, "db1.example", &[], 6));
    let before = e.snapshot();
    assert_eq!(e.submit(i.clone()).unwrap_err().code(), "invalid_request");
    assert_eq!(before, e.snapshot());
    i.hosts = Some(vec!["db*".into()]);
    assert_eq!(e.submit(i).unwrap().status, "issued");
}

#[test]
fn a_retry_with_the_same_key_returns_the_first_outcome() {
    let e = setup();
    let alice = e.who(1);
    let opts = CallOptions::with_key("k-1");
    let first = e.a.submit_with(&alice, input("/usr/bin/echo", &["hi"]), &opts, NOW).unwrap();
    let size = e.a.ledger().size();
    let again = e.a.submit_with(&alice, input("/usr/bin/echo", &["hi"]), &opts, NOW).unwrap();
    assert_eq!(again.request_id, first.request_id);
    assert_eq!(again.writ_id, first.writ_id);
    assert_eq!(again.writ, first.writ, "the requester gets the same writ back");
    assert_eq!(e.a.ledger().size(), size, "nothing logged twice");
    // the same key for another call is refused
    let before = e.snapshot();
    let err = e.a.submit_with(&alice, input("/usr/bin/echo", &["other"]), &opts, NOW).unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert!(err.to_string().contains("k-1"));
    assert_eq!(before, e.snapshot());
    // a refused call does not take the key: the corrected call may use it
    let opts = CallOptions::with_key("k-2");
    let mut bad = input("/usr/bin/echo", &["hi"]);
    bad.reason = "x\ny".into();
    assert_eq!(e.a.submit_with(&alice, bad, &opts, NOW).unwrap_err().code(), "unsafe_text");
    assert_eq!(before, e.snapshot());
    // votes and revocations replay too
    let v = e.submit(input("/usr/local/bin/deploy", &[])).unwrap();
    let d = Sha256Digest::from_hex(&v.request_digest).unwrap();
    let sig = key(2).sign(&writ_core::approval::signing_input(&d, Verdict::Approve, NOW));
    let vo = CallOptions::with_key("vote-1");
    let v1 = e.a.vote_with(&e.who(2), &v.request_id, Verdict::Approve, &sig, NOW, None, &vo, NOW).unwrap();
    assert_eq!(v1.status, "issued");
    let v2 = e.a.vote_with(&e.who(2), &v.request_id, Verdict::Approve, &sig, NOW, None, &vo, NOW).unwrap();
    assert_eq!(v2.writ_id, v1.writ_id, "not `already_voted`: the first outcome");
    let ro = CallOptions::with_key("revoke-1");
    let wid = v1.writ_id.unwrap();
    let r1 = e.a.revoke_with(&e.who(2), &wid, "done", &ro, NOW).unwrap();
    let r2 = e.a.revoke_with(&e.who(2), &wid, "done", &ro, NOW).unwrap();
    assert_eq!(r1.revoked_at, r2.revoked_at, "not `already_revoked`: the first outcome");
    assert_eq!(e.a.revoke(&e.who(2), &wid, "done", NOW).unwrap_err().code(), "already_revoked");
}

#[test]
fn work_past_its_deadline_is_rolled_back_not_finished() {
    let e = setup();
    let alice = e.who(1);
    let before = e.snapshot();
    let past = CallOptions { idempotency_key: Some("late-1".into()), deadline: Some(Instant::now()) };
    std::thread::sleep(Duration::from_millis(2));
    let err = e.a.submit_with(&alice, input("/usr/bin/echo", &["hi"]), &past, NOW).unwrap_err();
    assert_eq!(err.code(), "timeout");
    assert_eq!(before, e.snapshot(), "nothing logged or stored, the key released");
    // the retry with the same key and time to spare succeeds, once
    let ok = CallOptions {
        idempotency_key: Some("late-1".into()),
        deadline: Some(Instant::now() + Duration::from_secs(60)),
    };
    let v = e.a.submit_with(&alice, input("/usr/bin/echo", &["hi"]), &ok, NOW).unwrap();
    assert_eq!(v.status, "issued");
    let wid = v.writ_id.unwrap();
    let before = e.snapshot();
    let late = CallOptions { idempotency_key: None, deadline: Some(Instant::now()) };
    std::thread::sleep(Duration::from_millis(2));
    assert_eq!(e.a.revoke_with(&e.who(2), &wid, "late", &late, NOW).unwrap_err().code(), "timeout");
    assert_eq!(before, e.snapshot());
}

#[test]
fn a_retired_issuer_key_issues_nothing_whatever_the_writ_would_claim() {
    let e = setup();
    let tp = e.home.join("trust.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&tp).unwrap()).unwrap();
    for k in v["keys"].as_array_mut().unwrap() {
        if k["name"] == "authority" {
            k["not_after"] = serde_json::json!(NOW.plus(-60).to_rfc3339());
        }
    }
    std::fs::write(&tp, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let before = e.snapshot();
    let err = e.submit(input("/usr/bin/echo", &["hi"])).unwrap_err();
    assert_eq!(err.code(), "unavailable", "{err}");
    assert!(err.to_string().contains("window"), "{err}");
    assert_eq!(before, e.snapshot());
}

#[test]
fn gate_records_must_match_what_the_ledger_issued() {
    use writ_core::entry::{self, Entry};
    let e = setup();
    let gate = e.who(6);
    // a host-bound writ (evidence for db1) and a writ with no host scope
    let n = e.a.new_nonce(&gate, NOW).unwrap();
    let mut i = input("/usr/bin/id", &[]);
    i.evidence = Some(evidence(&n.nonce, "db1", &[], 6));
    let bound = e.submit(i).unwrap();
    let (rid, wid) = (bound.request_id.clone(), bound.writ_id.clone().unwrap());
    let start = |writ: &str, req: &str, host: &str, t: Timestamp| {
        let e = Entry::ExecStart(entry::ExecStart {
            time: t,
            request_id: req.into(),
            writ_id: writ.into(),
            host: host.into(),
            program_digest: Sha256Digest::of(b"prog"),
            argv_digest: Sha256Digest::of(b"argv"),
        });
        GateRecord::sign(e, vec![], &key(6)).unwrap()
    };
    let end = |writ: &str, req: &str, host: &str, t: Timestamp| {
        let e = Entry::ExecEnd(entry::ExecEnd {
            time: t,
            request_id: req.into(),
            writ_id: writ.into(),
            host: host.into(),
            outcome: "exited".into(),
            exit_code: Some(0),
        });
        GateRecord::sign(e, vec![], &key(6)).unwrap()
    };
    let before = e.snapshot();
    let ghost = "01234567-89ab-7def-8123-456789abcdef";
    for (bytes, code) in [
        (start(ghost, &rid, "db1", NOW), "unknown_writ"),
        (start(&wid, ghost, "db1", NOW), "invalid_request"),
        (start(&wid, &rid, "db1", NOW.plus(3600)), "invalid_request"),
        (start(&wid, &rid, "db1", NOW.plus(-3600)), "invalid_request"),
        (start(&wid, &rid, "web7", NOW), "forbidden"),
        (end(&wid, &rid, "db1", NOW), "invalid_request"),
    ] {
        let err = e.a.record_at(&gate, &bytes, NOW).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
    }
    let denial = |req: Option<&str>| {
        let e = Entry::Denial(entry::Denial {
            time: NOW,
            request_id: req.map(String::from),
            writ_id: None,
            code: "expired".into(),
            detail: "x".into(),
            host: None,
        });
        GateRecord::sign(e, vec![], &key(6)).unwrap()
    };
    assert_eq!(e.a.record_at(&gate, &denial(Some(ghost)), NOW).unwrap_err().code(), "unknown_request");
    assert_eq!(before, e.snapshot(), "nothing refused was logged");
    // the real sequence is recorded; a second end of one start is refused
    e.a.record_at(&gate, &start(&wid, &rid, "db1", NOW), NOW).unwrap();
    e.a.record_at(&gate, &end(&wid, &rid, "db1", NOW.plus(1)), NOW.plus(1)).unwrap();
    assert_eq!(
        e.a.record_at(&gate, &end(&wid, &rid, "db1", NOW.plus(2)), NOW.plus(2)).unwrap_err().code(),
        "invalid_request"
    );
    e.a.record_at(&gate, &denial(Some(&rid)), NOW).unwrap();
}

/// A gate's signed denial of a writ the authority never issued (forged, or
/// signed with a stolen issuer key) is recorded: it is the auditor's
/// evidence. It still needs a valid gate signature, and an execution under
/// such a writ is still refused.
#[test]
fn a_gate_denial_of_a_writ_never_issued_is_recorded_and_an_execution_is_not() {
    use writ_core::entry::{self, Entry};
    let e = setup();
    let gate = e.who(6);
    let ghost_writ = "01234567-89ab-7def-8123-456789abcdef";
    let ghost_req = "01234567-89ab-7def-8123-000000000001";
    let denial = Entry::Denial(entry::Denial {
        time: NOW,
        request_id: Some(ghost_req.into()),
        writ_id: Some(ghost_writ.into()),
        code: "receipt_missing".into(),
        detail: "no receipt: the ledger never issued it".into(),
        host: Some("web7".into()),
    });
    let before = e.snapshot();
    // unsigned, or signed by a key that is no gate key: refused, nothing logged
    let unsigned = denial.encode().unwrap();
    let by_alice = GateRecord::sign(denial.clone(), vec![], &key(1)).unwrap();
    for (bytes, why) in [(&unsigned, "unsigned_gate_record"), (&by_alice, "bad_gate_signature")] {
        let err = e.a.record_at(&gate, bytes, NOW).unwrap_err();
        assert_eq!(err.code(), "bad_signature", "{why}: {err}");
        assert!(err.to_string().contains(why), "{err}");
    }
    // an exec_start or exec_end under the unissued writ: refused
    for x in [
        Entry::ExecStart(entry::ExecStart {
            time: NOW,
            request_id: ghost_req.into(),
            writ_id: ghost_writ.into(),
            host: "web7".into(),
            program_digest: Sha256Digest::of(b"prog"),
            argv_digest: Sha256Digest::of(b"argv"),
        }),
        Entry::ExecEnd(entry::ExecEnd {
            time: NOW,
            request_id: ghost_req.into(),
            writ_id: ghost_writ.into(),
            host: "web7".into(),
            outcome: "exited".into(),
            exit_code: Some(0),
        }),
    ] {
        let err = e.a.record_at(&gate, &GateRecord::sign(x, vec![], &key(6)).unwrap(), NOW).unwrap_err();
        assert_eq!(err.code(), "unknown_writ", "{err}");
    }
    // a denial from the future is still refused
    let mut late = denial.clone();
    if let Entry::Denial(d) = &mut late {
        d.time = NOW.plus(3600);
    }
    let err = e.a.record_at(&gate, &GateRecord::sign(late, vec![], &key(6)).unwrap(), NOW).unwrap_err();
    assert_eq!(err.code(), "invalid_request", "{err}");
    assert_eq!(before, e.snapshot(), "nothing refused was logged");
    // the signed denial is recorded byte for byte, once
    let signed = GateRecord::sign(denial, vec![], &key(6)).unwrap();
    let (index, proof) = e.a.record_at(&gate, &signed, NOW).unwrap();
    assert_eq!(e.a.ledger().entry(index).unwrap(), signed);
    let tlog = writ_core::tlog::tlog_proof::TlogProof::parse(&proof).unwrap();
    assert_eq!(tlog.index, index);
    let size = e.a.ledger().size();
    assert_eq!(e.a.record_at(&gate, &signed, NOW).unwrap().0, index);
    assert_eq!(e.a.ledger().size(), size);
    let listed = e.a.entries_for(None, Some(ghost_writ)).unwrap();
    assert_eq!(listed.iter().map(|(i, k, _)| (*i, k.as_str())).collect::<Vec<_>>(), vec![(index, "denial")]);
}

/// Issue 9 item 6: the authority takes only signed gate records, from a
/// gate key of the trust root, for a host that key is bound to; the ledger
/// keeps the signature; a re-sent identical record is logged once.
#[test]
fn gate_records_are_signed_by_a_gate_key_bound_to_their_host_and_logged_once() {
    use writ_core::entry::{self, Entry};
    let e = setup();
    let gate = e.who(6);
    let v = e.submit(input("/usr/bin/echo", &[])).unwrap();
    let (rid, wid) = (v.request_id.clone(), v.writ_id.clone().unwrap());
    let start = |host: &str, t: Timestamp| {
        Entry::ExecStart(entry::ExecStart {
            time: t,
            request_id: rid.clone(),
            writ_id: wid.clone(),
            host: host.into(),
            program_digest: Sha256Digest::of(b"prog"),
            argv_digest: Sha256Digest::of(b"argv"),
        })
    };
    let before = e.snapshot();
    // Unsigned; signed by a key that is no gate key (alice); by a stranger;
    // a signed record changed after signing.
    let unsigned = start("web7", NOW).encode().unwrap();
    let by_alice = GateRecord::sign(start("web7", NOW), vec![], &key(1)).unwrap();
    let by_stranger = GateRecord::sign(start("web7", NOW), vec![], &key(99)).unwrap();
    let mut altered = GateRecord::sign(start("web7", NOW), vec![], &key(6)).unwrap();
    let at = altered.windows(4).position(|w| w == b"web7").unwrap();
    altered[at] = b'x';
    for (bytes, why) in [
        (&unsigned, "unsigned_gate_record"),
        (&by_alice, "bad_gate_signature"),
        (&by_stranger, "bad_gate_signature"),
        (&altered, "bad_gate_signature"),
    ] {
        let err = e.a.record_at(&gate, bytes, NOW).unwrap_err();
        assert_eq!(err.code(), "bad_signature", "{why}: {err}");
        assert!(err.to_string().contains(why), "{err}");
    }
    assert_eq!(before, e.snapshot(), "nothing refused was logged");
    // Signed by gate1: logged byte for byte, signature included.
    let signed = GateRecord::sign(start("web7", NOW), vec!["run_as".into()], &key(6)).unwrap();
    let (index, _) = e.a.record_at(&gate, &signed, NOW).unwrap();
    assert_eq!(e.a.ledger().entry(index).unwrap(), signed, "the ledger keeps the signed record");
    // Re-sent (a sync killed after the upload): the first entry's index, a
    // proof that verifies, nothing appended; also by another gate identity.
    let size = e.a.ledger().size();
    for n in 0..3 {
        let (again, proof) = e.a.record_at(&gate, &signed, NOW.plus(n)).unwrap();
        assert_eq!(again, index);
        let tlog = writ_core::tlog::tlog_proof::TlogProof::parse(&proof).unwrap();
        assert_eq!((tlog.index, tlog.extra.as_deref()), (index, Some(signed.as_slice())));
    }
    assert_eq!(e.a.ledger().size(), size, "an identical record is logged once");
    // A different record (another time) is a new entry.
    let (next, _) =
        e.a.record_at(&gate, &GateRecord::sign(start("web7", NOW.plus(1)), vec![], &key(6)).unwrap(), NOW.plus(1))
            .unwrap();
    assert_eq!(next, size);
}

/// Issue 9 item 9: a gate key the trust root binds to hosts signs records
/// and host evidence for those hosts only.
#[test]
fn a_gate_key_bound_to_hosts_cannot_speak_for_another_host() {
    use writ_core::entry::{self, Entry};
    let e = setup();
    let tp = e.home.join("trust.json");
    let mut file = e.trust().file().clone();
    let k = file.keys.iter_mut().find(|k| k.name == "gate1").unwrap();
    k.hosts = vec!["db*".into()];
    k.labels = vec!["prod".into()];
    std::fs::write(&tp, TrustRoot::from_file(file).unwrap().to_json_pretty()).unwrap();
    let a = Authority::open(&Config::new(&e.home)).unwrap();
    let gate = a.identify(&key(6).key_id(), NOW).unwrap();
    let v = a.submit(&a.identify(&key(1).key_id(), NOW).unwrap(), input("/usr/bin/echo", &[]), NOW).unwrap();
    let record = |host: &str| {
        GateRecord::sign(
            Entry::ExecStart(entry::ExecStart {
                time: NOW,
                request_id: v.request_id.clone(),
                writ_id: v.writ_id.clone().unwrap(),
                host: host.into(),
                program_digest: Sha256Digest::of(b"prog"),
                argv_digest: Sha256Digest::of(b"argv"),
            }),
            vec![],
            &key(6),
        )
        .unwrap()
    };
    let err = a.record_at(&gate, &record("web7"), NOW).unwrap_err();
    assert_eq!(err.code(), "forbidden", "{err}");
    assert!(err.to_string().contains("bound by the trust root"), "{err}");
    a.record_at(&gate, &record("db1"), NOW).unwrap();
    // Host evidence: for another host, or with a label the key is not bound to.
    for (host, labels) in [("web7", &["prod"][..]), ("db1", &["pci"][..])] {
        let n = a.new_nonce(&gate, NOW).unwrap();
        let mut i = input("/usr/bin/id", &[]);
        i.evidence = Some(evidence(&n.nonce, host, labels, 6));
        let err = a.submit(&a.identify(&key(1).key_id(), NOW).unwrap(), i, NOW).unwrap_err();
        assert_eq!(err.code(), "bad_evidence", "{host} {labels:?}: {err}");
        assert!(err.to_string().contains("bound by the trust root"), "{err}");
    }
    let n = a.new_nonce(&gate, NOW).unwrap();
    let mut i = input("/usr/bin/id", &[]);
    i.evidence = Some(evidence(&n.nonce, "db1", &["prod"], 6));
    a.submit(&a.identify(&key(1).key_id(), NOW).unwrap(), i, NOW).unwrap();
}
