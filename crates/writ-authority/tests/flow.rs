//! The authority end to end on real SQLite files: decisions, approvals with
//! separation of duties, issuance with receipts, revocation, status and use
//! consumption, runtime evidence; and bad input that must change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;
use std::path::Path;

use writ_authority::model::{HOST_EVIDENCE_PAYLOAD_TYPE, RequestInput, RequestView, TargetInput};
use writ_authority::{Authority, Config, Identity, Verdict, home};
use writ_core::entry::Entry;
use writ_core::trust::{Role, key_entry};
use writ_core::{Context, Sha256Digest, SigningKey, Timestamp, TrustRoot};

const NOW: Timestamp = Timestamp(1_800_000_000);

const POLICIES: &str = r#"
@id("echo-at-once")
@max_duration("300")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/echo" };

@id("uname-two-sre")
@approvals("2")
@approver_group("sre")
@single_use("true")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/uname" };

@id("migrate-on-prod")
@evidence("host")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/id" && context.evidence.contains("host") && context.host.labels.contains("prod") };
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
    let people: [(&str, u8, Vec<Role>, Vec<&str>); 7] = [
        ("alice", 1, vec![Role::Requester], vec!["dev"]),
        ("bob", 2, vec![Role::Approver], vec!["sre"]),
        ("carol", 3, vec![Role::Approver], vec!["sre"]),
        ("dave", 4, vec![Role::Approver, Role::Requester], vec!["sre", "dev"]),
        ("erin", 5, vec![Role::Approver], vec!["dba"]),
        ("gate1", 6, vec![Role::Gate], vec!["prod"]),
        ("bob", 7, vec![Role::Approver], vec!["sre"]), // bob's second key
    ];
    for (name, n, roles, groups) in people {
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

    fn submit(&self, n: u8, program: &str, args: &[&str]) -> RequestView {
        self.a.submit(&self.who(n), input(program, args), NOW).unwrap()
    }

    fn vote(&self, n: u8, v: &RequestView, verdict: Verdict) -> Result<RequestView, writ_authority::AuthorityError> {
        let d = Sha256Digest::from_hex(&v.request_digest).unwrap();
        let sig = key(n).sign(&writ_core::approval::signing_input(&d, verdict, NOW));
        self.a.vote(&self.who(n), &v.request_id, verdict, &sig, NOW, NOW)
    }

    /// Everything stored: ledger size and every state table's rows.
    fn snapshot(&self) -> (u64, Vec<String>) {
        let c = rusqlite_dump(&self.home.join("state.sqlite"));
        (self.a.ledger().size(), c)
    }
}

fn rusqlite_dump(path: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut out = Vec::new();
    for t in ["auth_requests", "auth_votes", "auth_writs", "auth_nonces", "auth_entries"] {
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
        duration_secs: 120,
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

fn trust(e: &Env) -> TrustRoot {
    TrustRoot::from_json(&std::fs::read(e.home.join("trust.json")).unwrap()).unwrap()
}

fn check_writ(e: &Env, v: &RequestView) -> writ_core::Verified {
    let writ = v.writ.as_ref().expect("writ");
    let receipt = v.receipt.as_ref().expect("receipt");
    let t = trust(e);
    let verified = writ_core::verify(writ.as_bytes(), &t, &Context::check_at(NOW.plus(1))).unwrap();
    let info =
        writ_core::receipt::check(receipt.as_bytes(), &t, verified.predicate(), &verified.envelope_digest()).unwrap();
    assert_eq!(info.origin, e.a.ledger().origin());
    verified
}

fn kinds(e: &Env, request_id: &str) -> Vec<String> {
    e.a.entries_for(Some(request_id), None).unwrap().into_iter().map(|(_, k, _)| k).collect()
}

#[test]
fn allowed_request_is_issued_at_once_with_a_receipt() {
    let e = setup();
    let v = e.submit(1, "/usr/bin/echo", &["hi"]);
    assert_eq!(v.status, "issued");
    let verified = check_writ(&e, &v);
    assert_eq!(verified.predicate().policy.determining_policies, vec!["echo-at-once".to_string()]);
    assert_eq!(verified.predicate().request.digest.0.to_hex(), v.request_digest);
    assert_eq!(kinds(&e, &v.request_id), ["request", "decision", "issuance"]);
    let wid = v.writ_id.unwrap();
    let entries = e.a.entries_for(None, Some(&wid)).unwrap();
    assert!(matches!(Entry::decode(&entries[0].2).unwrap(), Entry::Issuance(i) if i.writ_id == wid));
}

/// `submit` answers from memory (no read-back); it must say exactly what a
/// later read of the stored request says. Its ledger entries are one
/// contiguous run: request, decision, then issuance or denial.
#[test]
fn submit_view_matches_the_stored_request_and_entries_are_contiguous() {
    let e = setup();
    for (program, args, status, last) in [
        ("/usr/bin/echo", &["hi"][..], "issued", Some("issuance")),
        ("/usr/bin/rm", &["-rf", "/"][..], "denied", Some("denial")),
        ("/usr/bin/uname", &["-a"][..], "pending", None),
    ] {
        let v = e.submit(1, program, args);
        assert_eq!(v.status, status);
        assert_eq!(e.a.request(&e.who(1), &v.request_id).unwrap(), v, "{program}");
        let entries = e.a.entries_for(Some(&v.request_id), None).unwrap();
        let idx: Vec<u64> = entries.iter().map(|(i, _, _)| *i).collect();
        let want = if last.is_some() { 3 } else { 2 };
        assert_eq!(idx.len(), want);
        assert_eq!(idx, (idx[0]..idx[0] + want as u64).collect::<Vec<_>>(), "{program}: contiguous");
        let mut k = vec!["request", "decision"];
        k.extend(last);
        assert_eq!(kinds(&e, &v.request_id), k);
    }
}

#[test]
fn denied_request_is_recorded_and_never_issued() {
    let e = setup();
    let v = e.submit(1, "/usr/bin/rm", &["-rf", "/"]);
    assert_eq!(v.status, "denied");
    assert!(v.writ.is_none() && v.writ_id.is_none());
    assert_eq!(kinds(&e, &v.request_id), ["request", "decision", "denial"]);
    // Asking for longer than policy allows is denied too.
    let mut i = input("/usr/bin/echo", &["x"]);
    i.duration_secs = 301;
    let v = e.a.submit(&e.who(1), i, NOW).unwrap();
    assert_eq!(v.status, "denied");
}

#[test]
fn two_distinct_approvers_of_the_group_issue_and_nobody_approves_their_own() {
    let e = setup();
    let dave_req = e.submit(4, "/usr/bin/uname", &["-a"]);
    assert_eq!(dave_req.status, "pending");
    // dave is an sre approver, but this is his own request
    assert_eq!(e.vote(4, &dave_req, Verdict::Approve).unwrap_err().code(), "self_approval");

    let v = e.submit(1, "/usr/bin/uname", &["-a"]);
    assert_eq!((v.status.as_str(), v.approvals_required), ("pending", 2));
    let before = e.snapshot();
    // wrong group, wrong role, bad signature, signature over another verdict
    assert_eq!(e.vote(5, &v, Verdict::Approve).unwrap_err().code(), "not_in_group");
    assert_eq!(e.vote(1, &v, Verdict::Approve).unwrap_err().code(), "forbidden");
    let d = Sha256Digest::from_hex(&v.request_digest).unwrap();
    let deny_sig = key(2).sign(&writ_core::approval::signing_input(&d, Verdict::Deny, NOW));
    assert_eq!(
        e.a.vote(&e.who(2), &v.request_id, Verdict::Approve, &deny_sig, NOW, NOW).unwrap_err().code(),
        "bad_signature"
    );
    assert_eq!(
        e.a.vote(&e.who(2), &v.request_id, Verdict::Approve, &[0; 64], NOW, NOW).unwrap_err().code(),
        "bad_signature"
    );
    assert_eq!(before, e.snapshot(), "refused votes change nothing");

    let v1 = e.vote(2, &v, Verdict::Approve).unwrap();
    assert_eq!(v1.status, "pending");
    let before = e.snapshot();
    assert_eq!(e.vote(2, &v, Verdict::Approve).unwrap_err().code(), "already_voted");
    assert_eq!(e.vote(7, &v, Verdict::Approve).unwrap_err().code(), "already_voted", "same person, other key");
    assert_eq!(before, e.snapshot());
    let v2 = e.vote(3, &v, Verdict::Approve).unwrap();
    assert_eq!(v2.status, "issued");
    let view = e.a.request(&e.who(1), &v.request_id).unwrap();
    let verified = check_writ(&e, &view);
    assert_eq!(verified.predicate().governance.approvals.len(), 2);
    assert_eq!(verified.predicate().scope.uses, Some(1));
    assert_eq!(kinds(&e, &v.request_id), ["request", "decision", "approval", "approval", "issuance"]);
    let before = e.snapshot();
    assert_eq!(e.vote(4, &v, Verdict::Approve).unwrap_err().code(), "request_not_pending");
    assert_eq!(before, e.snapshot());
}

#[test]
fn a_deny_quorum_ends_the_request_and_expiry_stops_approvals() {
    let e = setup();
    let v = e.submit(1, "/usr/bin/uname", &[]);
    e.vote(2, &v, Verdict::Deny).unwrap();
    let end = e.vote(3, &v, Verdict::Deny).unwrap();
    assert_eq!(end.status, "denied");
    let before = e.snapshot();
    assert_eq!(e.vote(4, &v, Verdict::Approve).unwrap_err().code(), "request_not_pending");
    assert_eq!(before, e.snapshot(), "approving a denied request changes nothing");

    let v = e.submit(1, "/usr/bin/uname", &[]);
    let d = Sha256Digest::from_hex(&v.request_digest).unwrap();
    let sig = key(2).sign(&writ_core::approval::signing_input(&d, Verdict::Approve, NOW));
    let later = NOW.plus(writ_authority::DEFAULT_PENDING_TTL_SECS + 1);
    let before = e.snapshot();
    let err =
        e.a.vote(&e.a.identify(&key(2).key_id(), later).unwrap(), &v.request_id, Verdict::Approve, &sig, NOW, later)
            .unwrap_err();
    assert_eq!(err.code(), "request_expired");
    assert_eq!(before, e.snapshot());
    assert!(e.a.pending(&e.who(2), later).unwrap().is_empty());
}

#[test]
fn the_signed_vote_time_is_checked_and_becomes_the_approval_time() {
    let e = setup();
    let v = e.submit(1, "/usr/bin/uname", &["-a"]);
    let d = Sha256Digest::from_hex(&v.request_digest).unwrap();
    let signed = |n: u8, at: Timestamp| key(n).sign(&writ_core::approval::signing_input(&d, Verdict::Approve, at));
    let vote = |n: u8, sig: &[u8], at: Timestamp, now: Timestamp| {
        e.a.vote(&e.who(n), &v.request_id, Verdict::Approve, sig, at, now).map_err(|e| e.code().to_string())
    };
    let before = e.snapshot();
    // signed after the authority's now (beyond the allowance for approvers'
    // clocks), or before the request was made
    let far = NOW.plus(10 + SKEW + 1);
    assert_eq!(vote(2, &signed(2, far), far, NOW.plus(10)).unwrap_err(), "invalid_request");
    assert_eq!(vote(2, &signed(2, NOW.plus(-1)), NOW.plus(-1), NOW.plus(10)).unwrap_err(), "invalid_request");
    // the time is signed: a signature over another second does not verify
    assert_eq!(vote(2, &signed(2, NOW.plus(5)), NOW.plus(6), NOW.plus(10)).unwrap_err(), "bad_signature");
    assert_eq!(before, e.snapshot(), "refused votes change nothing");
    // bob signs at +5 (recorded at +10), carol at +7 (recorded at +12)
    assert_eq!(vote(2, &signed(2, NOW.plus(5)), NOW.plus(5), NOW.plus(10)).unwrap().status, "pending");
    assert_eq!(vote(3, &signed(3, NOW.plus(7)), NOW.plus(7), NOW.plus(12)).unwrap().status, "issued");
    let view = e.a.request(&e.who(1), &v.request_id).unwrap();
    let shown: Vec<&str> = view.approvals.iter().map(|a| a.time.as_str()).collect();
    assert_eq!(shown, [NOW.plus(5).to_rfc3339(), NOW.plus(7).to_rfc3339()]);
    let t = trust(&e);
    let verified = writ_core::verify(view.writ.unwrap().as_bytes(), &t, &Context::check_at(NOW.plus(13))).unwrap();
    let times: Vec<Timestamp> = verified.predicate().governance.approvals.iter().map(|a| a.time).collect();
    assert_eq!(times, [NOW.plus(5), NOW.plus(7)]);
    assert_eq!(verified.predicate().issued_at, NOW.plus(12));
}

/// The trust root's default allowance for an approval signed after the
/// authority's clock.
const SKEW: i64 = writ_core::trust::DEFAULT_APPROVAL_SKEW_SECS as i64;

#[test]
fn an_approval_signed_slightly_ahead_of_the_authority_is_accepted_and_dates_the_writ() {
    let e = setup();
    let v = e.submit(1, "/usr/bin/uname", &["-a"]);
    let d = Sha256Digest::from_hex(&v.request_digest).unwrap();
    let signed = |n: u8, at: Timestamp| key(n).sign(&writ_core::approval::signing_input(&d, Verdict::Approve, at));
    let vote = |n: u8, at: Timestamp, now: Timestamp| {
        e.a.vote(&e.who(n), &v.request_id, Verdict::Approve, &signed(n, at), at, now)
    };
    // Far in the future: refused with its code, naming the setting; nothing stored.
    let before = e.snapshot();
    let err = vote(2, NOW.plus(SKEW + 1), NOW).unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert!(err.to_string().contains("approval_skew_secs"), "{err}");
    assert_eq!(before, e.snapshot());
    // bob's clock runs 20 s ahead, carol's is right: both accepted; the writ
    // cannot predate its approvals, so it is issued at bob's signed time.
    assert_eq!(vote(2, NOW.plus(20), NOW).unwrap().status, "pending");
    assert_eq!(vote(3, NOW.plus(1), NOW.plus(1)).unwrap().status, "issued");
    let writ = e.a.request(&e.who(1), &v.request_id).unwrap().writ.unwrap();
    let t = trust(&e);
    let verified = writ_core::verify(writ.as_bytes(), &t, &Context::check_at(NOW.plus(20))).unwrap();
    assert_eq!(verified.predicate().issued_at, NOW.plus(20));
    assert_eq!(verified.predicate().validity.not_before, NOW.plus(20));
    let times: Vec<Timestamp> = verified.predicate().governance.approvals.iter().map(|a| a.time).collect();
    assert_eq!(times, [NOW.plus(1), NOW.plus(20)]);
    assert!(writ_core::verify(writ.as_bytes(), &t, &Context::check_at(NOW.plus(19))).is_err(), "not valid before");

    // The trust root sets the allowance: 0 refuses an approval 1 s ahead.
    let tp = e.home.join("trust.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&tp).unwrap()).unwrap();
    doc["approval_skew_secs"] = 0.into();
    std::fs::write(&tp, doc.to_string()).unwrap();
    let v = e.submit(1, "/usr/bin/uname", &["-r"]);
    let d = Sha256Digest::from_hex(&v.request_digest).unwrap();
    let sig = key(2).sign(&writ_core::approval::signing_input(&d, Verdict::Approve, NOW.plus(1)));
    let err = e.a.vote(&e.who(2), &v.request_id, Verdict::Approve, &sig, NOW.plus(1), NOW).unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert!(err.to_string().contains("more than 0 s"), "{err}");
    // …and may not widen it past the cap.
    doc["approval_skew_secs"] = (writ_core::trust::MAX_APPROVAL_SKEW_SECS + 1).into();
    let e2 = TrustRoot::from_json(doc.to_string().as_bytes()).unwrap_err();
    assert!(e2.to_string().contains("approval_skew_secs"), "{e2}");
}

#[test]
fn a_vote_reason_is_checked_stored_shown_and_in_the_denial_entry() {
    let e = setup();
    let v = e.submit(1, "/usr/bin/uname", &[]);
    let d = Sha256Digest::from_hex(&v.request_digest).unwrap();
    let deny = key(2).sign(&writ_core::approval::signing_input(&d, Verdict::Deny, NOW));
    let opts = writ_authority::CallOptions::with_key("deny-1");
    // a reason that is empty, too long or multi-line stores nothing
    let before = e.snapshot();
    for (bad, code) in [
        ("  ", "invalid_request"),
        (&*"x".repeat(writ_authority::model::MAX_REASON + 1), "invalid_request"),
        ("fine\nreason: forged", "unsafe_text"),
    ] {
        let err =
            e.a.vote_with(&e.who(2), &v.request_id, Verdict::Deny, &deny, NOW, Some(bad), &opts, NOW).unwrap_err();
        assert_eq!(err.code(), code, "{bad:?}");
    }
    assert_eq!(before, e.snapshot());
    let size = e.a.ledger().size();
    let out =
        e.a.vote_with(&e.who(2), &v.request_id, Verdict::Deny, &deny, NOW, Some("not during the freeze"), &opts, NOW)
            .unwrap();
    let vote = out.approvals.iter().find(|a| a.name == "bob").unwrap();
    assert_eq!(vote.reason.as_deref(), Some("not during the freeze"));
    // stored: a fresh read (as the requester) shows it
    let view = e.a.request(&e.who(1), &v.request_id).unwrap();
    assert_eq!(view.approvals[0].reason.as_deref(), Some("not during the freeze"));
    // the same key with another reason is another call
    let err =
        e.a.vote_with(&e.who(2), &v.request_id, Verdict::Deny, &deny, NOW, Some("other"), &opts, NOW).unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    // the ledger's denial entry carries it in its detail
    let entries = e.a.ledger().entries(size, e.a.ledger().size()).unwrap();
    let details: Vec<String> = entries
        .iter()
        .filter_map(|b| match Entry::decode(b).unwrap() {
            Entry::Denial(d) => Some(d.detail),
            _ => None,
        })
        .collect();
    assert_eq!(details.len(), 1, "{details:?}");
    assert!(details[0].ends_with("denied the request: not during the freeze"), "{}", details[0]);
    // a vote without a reason has none
    let v2 = e.vote(3, &v, Verdict::Deny).unwrap();
    assert!(v2.approvals.iter().find(|a| a.name == "carol").unwrap().reason.is_none());
}

#[test]
fn single_use_is_consumed_once_and_revocation_is_reported() {
    let e = setup();
    let v = e.submit(1, "/usr/bin/uname", &[]);
    e.vote(2, &v, Verdict::Approve).unwrap();
    let v = e.vote(3, &v, Verdict::Approve).unwrap();
    let wid = v.writ_id.unwrap();
    let view = e.a.request(&e.who(1), &v.request_id).unwrap();
    let t = trust(&e);
    let verified = writ_core::verify(view.writ.unwrap().as_bytes(), &t, &Context::check_at(NOW)).unwrap();
    let gate = e.who(6);
    // a requester may read status but not consume
    assert_eq!(e.a.status(&e.who(1), &wid, true, None, NOW).unwrap_err().code(), "forbidden");
    let s = e.a.status(&gate, &wid, true, Some("n1".into()), NOW).unwrap();
    let c =
        writ_core::status::open(&s, &t, &e.a.issuer_key_id(), &wid, &verified.envelope_digest(), Some("n1")).unwrap();
    assert_eq!(c.use_count, Some(1));
    assert_eq!(c.statement.uses_left, Some(0));
    assert_eq!(e.a.status(&gate, &wid, true, None, NOW).unwrap_err().code(), "replayed");
    // revoke: unknown writ, empty reason, then for real, then twice
    let before = e.snapshot();
    assert_eq!(
        e.a.revoke(&e.who(2), "01234567-89ab-7def-8123-456789abcdef", "x", NOW).unwrap_err().code(),
        "unknown_writ"
    );
    assert_eq!(e.a.revoke(&e.who(2), &wid, " ", NOW).unwrap_err().code(), "invalid_request");
    assert_eq!(e.a.revoke(&e.who(6), &wid, "no", NOW).unwrap_err().code(), "forbidden");
    assert_eq!(before, e.snapshot());
    let w = e.a.revoke(&e.who(2), &wid, "compromised host", NOW).unwrap();
    assert_eq!(w.state, "revoked");
    assert_eq!(e.a.revoke(&e.who(2), &wid, "again", NOW).unwrap_err().code(), "already_revoked");
    let s = e.a.status(&gate, &wid, false, None, NOW).unwrap();
    let c = writ_core::status::open(&s, &t, &e.a.issuer_key_id(), &wid, &verified.envelope_digest(), None).unwrap();
    assert!(matches!(c.status, writ_core::Status::Revoked { .. }));
    assert!(e.a.entries_for(None, Some(&wid)).unwrap().iter().any(|(_, k, _)| k == "revocation"));
}

fn evidence(e: &Env, signer: u8, nonce: &str, labels: &[&str]) -> String {
    let facts = serde_json::json!({
        "nonce": nonce, "hostname": "db1", "machine_id": "m", "kernel": "6.1",
        "labels": labels, "time": NOW.to_rfc3339(),
    });
    let _ = e;
    String::from_utf8(writ_core::dsse::sign(HOST_EVIDENCE_PAYLOAD_TYPE, facts.to_string().as_bytes(), &key(signer)))
        .unwrap()
}

#[test]
fn runtime_evidence_is_checked_and_recorded() {
    let e = setup();
    // without evidence: denied (policy demands host evidence)
    let v = e.submit(1, "/usr/bin/id", &[]);
    assert_eq!(v.status, "denied");
    let n = e.a.new_nonce(&e.who(6), NOW).unwrap();
    let mut i = input("/usr/bin/id", &[]);
    // signed by a non-gate key
    i.evidence = Some(evidence(&e, 2, &n.nonce, &["prod"]));
    let before = e.snapshot();
    assert_eq!(e.a.submit(&e.who(1), i.clone(), NOW).unwrap_err().code(), "bad_signature");
    // unknown nonce
    i.evidence = Some(evidence(&e, 6, "00ff", &["prod"]));
    assert_eq!(e.a.submit(&e.who(1), i.clone(), NOW).unwrap_err().code(), "bad_evidence");
    assert_eq!(before, e.snapshot());
    i.evidence = Some(evidence(&e, 6, &n.nonce, &["prod", "pci"]));
    let v = e.a.submit(&e.who(1), i.clone(), NOW).unwrap();
    assert_eq!(v.status, "issued");
    let verified = check_writ(&e, &v);
    assert_eq!(verified.predicate().conditions.len(), 1);
    assert_eq!(verified.predicate().conditions[0].kind, "host");
    // the nonce is single use
    assert_eq!(e.a.submit(&e.who(1), i, NOW).unwrap_err().code(), "bad_evidence");
    // an expired nonce
    let n = e.a.new_nonce(&e.who(6), NOW).unwrap();
    let mut i = input("/usr/bin/id", &[]);
    i.evidence = Some(evidence(&e, 6, &n.nonce, &["prod"]));
    let later = NOW.plus(writ_authority::NONCE_TTL_SECS + 1);
    assert_eq!(
        e.a.submit(&e.a.identify(&key(1).key_id(), later).unwrap(), i, later).unwrap_err().code(),
        "bad_evidence"
    );
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
    let e = setup();
    let before = e.snapshot();
    let me = e.who(1);
    let cases: Vec<(RequestInput, &str)> = vec![
        (
            {
                let mut i = input("/usr/bin/echo", &[]);
                i.duration_secs = 0;
                i
            },
            "invalid_request",
        ),
        (
            {
                let mut i = input("/usr/bin/echo", &[]);
                i.reason = "x".repeat(5000);
                i
            },
            "invalid_request",
        ),
        (input("relative/echo", &[]), "invalid_request"),
        (
            {
                let mut i = input("/usr/bin/echo", &[]);
                i.env.insert("A=B".into(), "x".into());
                i
            },
            "invalid_request",
        ),
        (
            {
                let mut i = input("/usr/bin/echo", &[]);
                i.cwd = Some("tmp".into());
                i
            },
            "invalid_request",
        ),
        (
            {
                let mut i = input("/usr/bin/echo", &[]);
                i.target = TargetInput::Exec {
                    program: "/usr/bin/echo".into(),
                    sha256: Some("zz".into()),
                    argv: vec!["/usr/bin/echo".into()],
                };
                i
            },
            "invalid_request",
        ),
        (
            {
                let mut i = input("/usr/bin/echo", &[]);
                i.evidence = Some("{".into());
                i
            },
            "bad_evidence",
        ),
    ];
    for (i, code) in cases {
        assert_eq!(e.a.submit(&me, i, NOW).unwrap_err().code(), code);
    }
    // approvers may not request, gates may not request
    assert_eq!(e.a.submit(&e.who(2), input("/usr/bin/echo", &[]), NOW).unwrap_err().code(), "forbidden");
    assert_eq!(e.a.identify(&key(99).key_id(), NOW).unwrap_err().code(), "unknown_key");
    assert_eq!(e.a.request(&me, "nope").unwrap_err().code(), "unknown_request");
    assert_eq!(before, e.snapshot());
}

#[test]
fn an_invalid_policy_set_refuses_to_load_and_init_refuses_to_overwrite() {
    let e = setup();
    assert!(home::init(&e.home).is_err());
    let home = e.home.clone();
    drop(e.a);
    std::fs::write(home.join("policies.cedar"), "permit (principal, action, resource) when { nonsense };").unwrap();
    let err = Authority::open(&Config::new(&home)).unwrap_err();
    assert_eq!(err.code(), "unavailable");
    assert!(err.to_string().contains("does not load"), "{err}");
}

#[test]
fn policy_reload_keeps_the_last_good_set_and_records_changes() {
    let e = setup();
    let size = e.a.ledger().size();
    std::fs::write(e.home.join("policies.cedar"), "permit (principal, action, resource) when { nonsense };").unwrap();
    let v = e.submit(1, "/usr/bin/echo", &["still"]);
    assert_eq!(v.status, "issued", "a broken policy file keeps the last good set");
    assert_eq!(e.a.ledger().size(), size + 3);
    // a valid set that no longer permits echo: recorded, then in force
    std::fs::write(e.home.join("policies.cedar"), POLICIES.replace("/usr/bin/echo", "/usr/bin/printf")).unwrap();
    let v = e.submit(1, "/usr/bin/echo", &["now"]);
    assert_eq!(v.status, "denied");
    let last = e.a.ledger().entries(size + 3, size + 4).unwrap();
    assert!(matches!(Entry::decode(&last[0]).unwrap(), Entry::PolicyChange(_)));
}
