//! The governed run as a library (`writ_gate::exec`), through real child
//! processes: offline with the spool, online with a real authority (in
//! process, on real SQLite files), and against a relay that answers in the
//! authority's place.
//!
//! `exec` takes no weaker isolation from its invoker (`ExecOptions`): it runs
//! the strong mode, which needs root. CI runs this binary again as `nobody`;
//! there every test whose program would start asserts instead that the run
//! was refused with `scope_boundary` after the durable `exec_start`, that the
//! refusal is recorded, and that nothing ran ([`exec_or_refused`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use writ_api::{ApiError, ApiErrorCode, GateApi, RecordAck, StartAck};
use writ_authority::api::Local;
use writ_authority::model::{RequestInput, TargetInput};
use writ_authority::{Authority, Config, home};
use writ_core::entry::Entry;
use writ_core::fixtures;
use writ_core::gate_record::GateRecord;
use writ_core::model::{Action, ArgRule, ExecAction};
use writ_core::trust::{Role, key_entry};
use writ_core::{DenialCode, HostFacts, Sha256Digest, SigningKey, Timestamp, TrustRoot};
use writ_gate::{ExecMode, ExecOptions, ExecReport, ExecRequest, ExitStatus, Recorded, Recorder, Spool, exec};

mod support;
use support::{assert_isolation, root};

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

// ---- offline ----

/// A temp dir with `deploy MARKER` (writes its environment to MARKER, exits
/// 3) and an offline writ for exactly that.
struct World {
    dir: tempfile::TempDir,
    program: PathBuf,
    marker: PathBuf,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The program may run as another uid than the gate: let it write here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let program = dir.path().join("deploy");
        std::fs::write(&program, "#!/bin/sh\nenv > \"$1\"\nexit 3\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let marker = dir.path().join("ran");
        Self { dir, program, marker }
    }

    fn writ(&self) -> Vec<u8> {
        let mut p = fixtures::predicate();
        let t = now();
        (p.issued_at, p.validity.not_before, p.validity.not_after) =
            (Timestamp(t - 5), Timestamp(t - 5), Timestamp(t + 300));
        p.scope.actions = vec![Action::Exec(ExecAction {
            program: self.program.to_str().unwrap().into(),
            sha256: Sha256Digest::of(&std::fs::read(&self.program).unwrap()),
            args: vec![ArgRule::Exact(self.marker.to_str().unwrap().into())],
            more_args: false,
        })];
        p.scope.environment = Default::default();
        p.scope.environment.env.0.insert("PATH".into(), Some("/usr/bin:/bin".into()));
        p.scope.environment.env.0.insert("LANG".into(), None);
        p.scope.environment.cwd = Some(self.dir.path().to_str().unwrap().into());
        p.scope.boundaries = Default::default();
        p.scope.uses = None;
        p.scope.offline = true;
        fixtures::sign(p)
    }

    fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    fn request(&self, writ: Vec<u8>, program: &str, args: &[&str]) -> ExecRequest {
        let env = [("LANG", "C.UTF-8"), ("SECRET", "leak"), ("PATH", "/evil")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ExecRequest {
            writ,
            receipt: None,
            ancestors: Vec::new(),
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env,
            cwd: PathBuf::from("/"),
            trust: offline_trust(),
            host: HostFacts::default(),
            mode: ExecMode::Offline,
            recorder: Recorder::offline(Spool::open(&self.spool()).unwrap()).signed_by(Arc::new(key(OFFLINE_GATE))),
            options: ExecOptions { grace: Some(Duration::from_millis(200)), ..ExecOptions::default() },
        }
    }

    fn m(&self) -> &str {
        self.marker.to_str().unwrap()
    }

    fn spooled(&self) -> Vec<Entry> {
        Spool::read(&self.spool()).unwrap().entries.iter().map(|b| Entry::decode(b).unwrap()).collect()
    }
}

fn kinds(entries: &[Entry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.kind().as_str()).collect()
}

/// Runs `req` through `exec`. As root the program runs with the strong
/// isolation (checked) and this returns its report. Unprivileged the strong
/// mode cannot be had: this asserts the `scope_boundary` refusal and returns
/// `None`; the caller asserts that nothing ran and what was recorded
/// ([`refused_after_start`]).
fn exec_or_refused(req: ExecRequest) -> Option<ExecReport> {
    let got = exec(req);
    if root() {
        let r = got.unwrap();
        assert_isolation(&r.outcome);
        Some(r)
    } else {
        let d = got.unwrap_err();
        assert_eq!(d.code, DenialCode::ScopeBoundary, "an unprivileged gate must refuse: {}", d.detail);
        assert!(d.detail.contains("run_as"), "the refusal names what is missing: {}", d.detail);
        None
    }
}

/// The records of a run refused at the launch: the `exec_start` (durable
/// before any launch), then the `scope_boundary` denial, and no `exec_end`.
/// (A revocation a test makes meanwhile may follow them.)
fn refused_after_start(entries: &[Entry]) {
    let runs: Vec<&Entry> =
        entries.iter().filter(|e| matches!(e, Entry::ExecStart(_) | Entry::ExecEnd(_) | Entry::Denial(_))).collect();
    let k: Vec<&str> = runs.iter().map(|e| e.kind().as_str()).collect();
    assert_eq!(k, ["exec_start", "denial"], "all records: {:?}", kinds(entries));
    let Some(Entry::Denial(d)) = runs.last() else { panic!("{k:?}") };
    assert_eq!(d.code, "scope_boundary", "{}", d.detail);
}

#[test]
fn a_permitted_run_gets_only_the_allowed_environment_and_is_spooled_start_and_end() {
    let w = World::new();
    let Some(r) = exec_or_refused(w.request(w.writ(), w.program.to_str().unwrap(), &[w.m()])) else {
        assert!(!w.marker.exists(), "the program ran although the gate refused");
        refused_after_start(&w.spooled());
        return;
    };
    assert_eq!(r.outcome.status, ExitStatus::Exited(3));
    assert_eq!(r.start, Recorded::Spooled);
    let env = std::fs::read_to_string(&w.marker).unwrap();
    assert!(env.contains("PATH=/usr/bin:/bin"), "the fixed value wins: {env}");
    assert!(env.contains("LANG=C.UTF-8"), "a free variable passes from the invoker: {env}");
    assert!(!env.contains("SECRET"), "anything else is dropped: {env}");
    let s = w.spooled();
    assert_eq!(kinds(&s), ["exec_start", "exec_end"]);
    let Entry::ExecEnd(end) = &s[1] else { panic!() };
    assert_eq!((end.outcome.as_str(), end.exit_code), ("exited", Some(3)));
}

#[test]
fn a_bare_name_resolves_through_the_writ_and_a_relative_path_is_refused() {
    let w = World::new();
    // Unprivileged, the refusal at the launch (not `scope_program`) shows that
    // the name resolved.
    match exec_or_refused(w.request(w.writ(), "deploy", &[w.m()])) {
        Some(r) => {
            assert_eq!(r.outcome.status, ExitStatus::Exited(3));
            std::fs::remove_file(&w.marker).unwrap();
        }
        None => refused_after_start(&w.spooled()),
    }
    let d = exec(w.request(w.writ(), "./deploy", &[w.m()])).unwrap_err();
    assert_eq!(d.code, DenialCode::ScopeProgram);
    let d = exec(w.request(w.writ(), "true", &[])).unwrap_err();
    assert_eq!(d.code, DenialCode::ScopeProgram, "{}", d.detail);
    assert!(!w.marker.exists());
}

#[test]
fn every_refusal_is_a_recorded_denial_and_nothing_runs() {
    let w = World::new();
    let mut tampered = w.writ();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let cases: Vec<(Vec<u8>, Vec<&str>, DenialCode)> = vec![
        (w.writ(), vec![w.m(), "extra"], DenialCode::ScopeArgs),
        (b"not a writ".to_vec(), vec![w.m()], DenialCode::Malformed),
        (vec![b' '; writ_core::limits::MAX_ENVELOPE_BYTES + 1], vec![w.m()], DenialCode::TooLarge),
    ];
    for (writ, args, code) in cases {
        let d = exec(w.request(writ, w.program.to_str().unwrap(), &args)).unwrap_err();
        assert_eq!(d.code, code, "{}", d.detail);
    }
    let d = exec(w.request(tampered, w.program.to_str().unwrap(), &[w.m()])).unwrap_err();
    assert!(matches!(d.code, DenialCode::BadSignature | DenialCode::Malformed), "{d:?}");
    assert!(!w.marker.exists(), "the program ran although denied");
    let s = w.spooled();
    assert_eq!(kinds(&s), ["denial"; 4]);
    let codes: Vec<String> =
        s.iter().filter_map(|e| if let Entry::Denial(d) = e { Some(d.code.clone()) } else { None }).collect();
    assert_eq!(&codes[..3], ["scope_args", "malformed", "too_large"]);
    let Entry::Denial(first) = &s[0] else { panic!() };
    assert_eq!(first.writ_id.as_deref(), Some(fixtures::predicate().id.as_str()), "labelled with the claimed id");
}

#[test]
fn a_replaced_program_is_denied() {
    let w = World::new();
    let writ = w.writ();
    std::fs::write(&w.program, "#!/bin/sh\ntouch \"$1\"\n").unwrap();
    assert_eq!(
        exec(w.request(writ, w.program.to_str().unwrap(), &[w.m()])).unwrap_err().code,
        DenialCode::ScopeProgram
    );
    assert!(!w.marker.exists());
}

#[test]
fn an_unwritable_spool_denies_record_failed_and_nothing_runs() {
    let w = World::new();
    // The spool path is a directory: the exec_start cannot be appended.
    std::fs::create_dir(w.spool()).unwrap();
    let d = exec(w.request(w.writ(), w.program.to_str().unwrap(), &[w.m()])).unwrap_err();
    assert_eq!(d.code, DenialCode::RecordFailed, "{}", d.detail);
    assert!(!w.marker.exists(), "the program ran unrecorded");
}

#[test]
fn an_online_writ_does_not_run_offline() {
    let w = World::new();
    let mut p = writ_core::dsse::decode(&w.writ()).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
    v["predicate"]["scope"]["offline"] = false.into();
    p.payload = serde_json::to_vec(&v).unwrap();
    let predicate: writ_core::model::Statement = serde_json::from_slice(&p.payload).unwrap();
    let writ = fixtures::sign(predicate.predicate);
    let d = exec(w.request(writ, w.program.to_str().unwrap(), &[w.m()])).unwrap_err();
    assert_eq!(d.code, DenialCode::OfflineNotAllowed, "{}", d.detail);
    assert!(!w.marker.exists());
}

// ---- online, with a real authority ----

const POLICIES: &str = r#"
@id("sleep-and-echo")
@max_duration("300")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/sleep" || resource.path == "/usr/bin/echo" };
"#;

struct Online {
    _dir: tempfile::TempDir,
    spool: PathBuf,
    authority: Arc<Authority>,
    trust: TrustRoot,
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

/// The offline gate's key seed (no fixture key has it).
const OFFLINE_GATE: u8 = 0x47;

/// The fixtures' trust root with the offline gate's key (which signs its
/// records) as a `gate` key.
fn offline_trust() -> TrustRoot {
    let mut t = fixtures::trust_root(false);
    t.add(key_entry("gate1", vec![Role::Gate], vec![], &key(OFFLINE_GATE).public())).unwrap();
    t
}

impl Online {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let h = dir.path().join("h");
        home::init(&h).unwrap();
        std::fs::write(h.join("policies.cedar"), POLICIES).unwrap();
        let tp = h.join("trust.json");
        let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
        trust.add(key_entry("dev", vec![Role::Requester], vec!["dev".into()], &key(1).public())).unwrap();
        trust.add(key_entry("gate1", vec![Role::Gate], vec![], &key(6).public())).unwrap();
        std::fs::write(&tp, trust.to_json_pretty()).unwrap();
        let authority = Arc::new(Authority::open(&Config::new(&h)).unwrap());
        let trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
        Self { spool: dir.path().join("spool"), _dir: dir, authority, trust }
    }

    fn gate(&self) -> Arc<dyn GateApi> {
        Arc::new(Local::new(self.authority.clone(), key(6).key_id()))
    }

    /// Issues a writ for `program args` (auto-allowed by the policy).
    fn issue(&self, program: &str, args: &[&str]) -> (String, Vec<u8>, Vec<u8>) {
        let mut argv = vec![program.to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let input = RequestInput {
            target: TargetInput::Exec {
                program: program.into(),
                sha256: Some(Sha256Digest::of(&std::fs::read(program).unwrap()).to_hex()),
                argv,
            },
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
        };
        let t = Timestamp(now());
        let who = self.authority.identify(&key(1).key_id(), t).unwrap();
        let v = self.authority.submit(&who, input, t).unwrap();
        (v.writ_id.unwrap(), v.writ.unwrap().into_bytes(), v.receipt.unwrap().into_bytes())
    }

    fn request(&self, writ: (Vec<u8>, Vec<u8>), api: Arc<dyn GateApi>, program: &str, args: &[&str]) -> ExecRequest {
        ExecRequest {
            writ: writ.0,
            receipt: Some(writ.1),
            ancestors: Vec::new(),
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: BTreeMap::new(),
            cwd: PathBuf::from("/"),
            trust: self.trust.clone(),
            host: HostFacts::default(),
            mode: ExecMode::Online(api.clone()),
            recorder: Recorder::online(api, self.trust.clone())
                .with_fallback(self.spool.clone())
                .signed_by(Arc::new(key(6))),
            options: ExecOptions {
                grace: Some(Duration::from_millis(200)),
                status_interval: Some(Duration::from_millis(100)),
                ..ExecOptions::default()
            },
        }
    }

    fn ledger(&self, writ_id: &str) -> Vec<Entry> {
        self.authority
            .entries_for(None, Some(writ_id))
            .unwrap()
            .into_iter()
            .map(|(_, _, b)| Entry::decode(&b).unwrap())
            .collect()
    }
}

#[test]
fn online_a_run_is_in_the_ledger_with_verified_acknowledgements() {
    let o = Online::new();
    let (id, writ, receipt) = o.issue("/usr/bin/echo", &["hi"]);
    let writ = (writ, receipt);
    let Some(r) = exec_or_refused(o.request(writ, o.gate(), "/usr/bin/echo", &["hi"])) else {
        refused_after_start(&o.ledger(&id));
        return;
    };
    assert_eq!(r.outcome.status, ExitStatus::Exited(0));
    assert!(matches!(r.start, Recorded::Ledger { .. }), "{:?}", r.start);
    assert!(matches!(r.end, Ok(Recorded::Ledger { .. })), "{:?}", r.end);
    assert!(kinds(&o.ledger(&id)).ends_with(&["exec_start", "exec_end"]));
}

/// A relay between gate and authority: passes status through, and answers
/// records itself (the "plaintext 201" of the review), or with the proof of
/// another entry.
struct Relay {
    inner: Arc<dyn GateApi>,
    forge: Forge,
}

type Forge = Box<dyn Fn(&dyn GateApi, &[u8]) -> Result<RecordAck, ApiError> + Send + Sync>;

impl GateApi for Relay {
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, ApiError> {
        self.inner.status(writ_id, consume, nonce)
    }
    fn record(&self, entry: &[u8]) -> Result<RecordAck, ApiError> {
        (self.forge)(self.inner.as_ref(), entry)
    }
}

/// Regression (issue 9): a relay that answered `POST /v1/records` itself
/// made the program run with no `exec_start` in the ledger.
#[test]
fn online_an_acknowledgement_that_does_not_prove_the_record_runs_nothing() {
    let o = Online::new();
    let origin = o.authority.ledger().origin().to_owned();
    let forgeries: Vec<Forge> = vec![
        // "201 Created", no proof.
        Box::new(|_, _| Ok(RecordAck { index: 7, receipt: b"recorded".to_vec() })),
        // A real proof, of another entry the relay had logged.
        Box::new(|inner, _| {
            let other = Entry::Denial(writ_core::entry::Denial {
                time: Timestamp(now()),
                request_id: None,
                writ_id: None,
                code: "malformed".into(),
                detail: "relay".into(),
                host: None,
            });
            inner.record(&GateRecord::sign(other, vec![], &key(6)).unwrap())
        }),
        // A proof of the right entry under a checkpoint with the ledger's
        // name, signed by a key the trust root does not hold.
        Box::new(move |_, entry| {
            let signer =
                writ_core::tlog::note::NoteSigner::new(&origin, ed25519_dalek::SigningKey::from_bytes(&[9; 32]))
                    .unwrap();
            let cp = writ_core::tlog::checkpoint::Checkpoint::new(&origin, 1, writ_core::tlog::hash::leaf_hash(entry));
            let note = cp.sign(&signer).unwrap();
            let proof = writ_core::tlog::tlog_proof::TlogProof {
                extra: Some(entry.to_vec()),
                index: 0,
                hashes: vec![],
                checkpoint: note.into_bytes(),
            };
            Ok(RecordAck { index: 0, receipt: proof.to_bytes() })
        }),
        // The authority's own answer, with the index changed.
        Box::new(|inner, entry| inner.record(entry).map(|a| RecordAck { index: a.index + 1, ..a })),
    ];
    for (n, forge) in forgeries.into_iter().enumerate() {
        let (id, writ, receipt) = o.issue("/usr/bin/sleep", &["0"]);
        let writ = (writ, receipt);
        let relay: Arc<dyn GateApi> = Arc::new(Relay { inner: o.gate(), forge });
        let d = exec(o.request(writ, relay, "/usr/bin/sleep", &["0"])).unwrap_err();
        assert_eq!(d.code, DenialCode::RecordFailed, "forgery {n}: {}", d.detail);
        let k = kinds(&o.ledger(&id));
        assert!(!k.contains(&"exec_end"), "forgery {n}: the program ran: {k:?}");
    }
}

/// A relay that stops answering status after `cut` is set.
struct Cuttable {
    inner: Arc<dyn GateApi>,
    cut: Arc<AtomicBool>,
}

impl GateApi for Cuttable {
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, ApiError> {
        if self.cut.load(Ordering::SeqCst) {
            return Err(ApiError::new(ApiErrorCode::Transport, "connection refused"));
        }
        self.inner.status(writ_id, consume, nonce)
    }
    fn record(&self, entry: &[u8]) -> Result<RecordAck, ApiError> {
        self.inner.record(entry)
    }
}

/// Regression (issue 9): online, the watcher ignored failed status checks
/// unless `require_status` was set, so cutting the authority off let a run
/// go on past any revocation.
#[test]
fn online_the_watcher_fails_closed_when_status_cannot_be_confirmed() {
    let mut o = Online::new();
    o.trust.settings_mut().status_max_age_secs(1);
    let (id, writ, receipt) = o.issue("/usr/bin/sleep", &["30"]);
    let writ = (writ, receipt);
    let cut = Arc::new(AtomicBool::new(false));
    let api: Arc<dyn GateApi> = Arc::new(Cuttable { inner: o.gate(), cut: cut.clone() });
    let c = cut.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        c.store(true, Ordering::SeqCst);
    });
    let began = Instant::now();
    let Some(r) = exec_or_refused(o.request(writ, api, "/usr/bin/sleep", &["30"])) else {
        refused_after_start(&o.ledger(&id));
        return;
    };
    assert!(began.elapsed() < Duration::from_secs(10), "the run outlived its status window");
    assert!(matches!(r.outcome.status, ExitStatus::Signaled(_)), "{:?}", r.outcome);
    assert!(matches!(r.watch, Some(writ_gate::watch::WatchEnd::StatusUnknown(_))), "{:?}", r.watch);
    let l = o.ledger(&id);
    let Some(Entry::ExecEnd(end)) = l.last() else { panic!("{:?}", kinds(&l)) };
    assert_eq!(end.outcome, "killed_status_unknown");
}

#[test]
fn online_revoked_mid_run_ends_the_program_and_the_ledger_says_why() {
    let o = Online::new();
    let (id, writ, receipt) = o.issue("/usr/bin/sleep", &["30"]);
    let writ = (writ, receipt);
    let a = o.authority.clone();
    let rid = id.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let who = a.identify(&a.issuer_key_id(), Timestamp(now())).unwrap();
        a.revoke(&who, &rid, "compromised", Timestamp(now())).unwrap();
    });
    let Some(r) = exec_or_refused(o.request(writ, o.gate(), "/usr/bin/sleep", &["30"])) else {
        refused_after_start(&o.ledger(&id));
        return;
    };
    assert!(matches!(r.outcome.status, ExitStatus::Signaled(_)), "{:?}", r.outcome);
    let l = o.ledger(&id);
    let Some(Entry::ExecEnd(end)) = l.last() else { panic!("{:?}", kinds(&l)) };
    assert_eq!(end.outcome, "killed_revoked");
}

#[test]
fn online_revoked_before_start_runs_nothing_and_the_denial_is_in_the_ledger() {
    let o = Online::new();
    let (id, writ, receipt) = o.issue("/usr/bin/echo", &["x"]);
    let writ = (writ, receipt);
    let who = o.authority.identify(&o.authority.issuer_key_id(), Timestamp(now())).unwrap();
    o.authority.revoke(&who, &id, "test", Timestamp(now())).unwrap();
    let d = exec(o.request(writ, o.gate(), "/usr/bin/echo", &["x"])).unwrap_err();
    assert_eq!(d.code, DenialCode::Revoked);
    let k = kinds(&o.ledger(&id));
    assert!(!k.contains(&"exec_start") && k.last() == Some(&"denial"), "{k:?}");
}

#[test]
fn check_ack_refuses_a_receipt_for_other_bytes() {
    let o = Online::new();
    let e = Entry::Denial(writ_core::entry::Denial {
        time: Timestamp(now()),
        request_id: None,
        writ_id: None,
        code: "malformed".into(),
        detail: "x".into(),
        host: None,
    });
    let e = GateRecord::sign(e, vec![], &key(6)).unwrap();
    let ack = o.gate().record(&e).unwrap();
    assert_eq!(writ_gate::check_ack(&o.trust, &e, &ack), Ok(ack.index));
    let mut other = e.clone();
    other.push(b' ');
    assert!(writ_gate::check_ack(&o.trust, &other, &ack).is_err());
    assert!(writ_gate::check_ack(&fixtures::trust_root(false), &e, &ack).is_err(), "another trust root's ledger");
}

// ---- the online fast path (`GateApi::start`, issue 11 item 3) ----

/// A relay that answers the combined start itself (status and records pass
/// through to the authority).
struct StartRelay {
    inner: Arc<dyn GateApi>,
    forge: StartForge,
}

type StartForge = Box<dyn Fn(&dyn GateApi, &str, bool, &str, &[u8]) -> Result<StartAck, ApiError> + Send + Sync>;

impl GateApi for StartRelay {
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, ApiError> {
        self.inner.status(writ_id, consume, nonce)
    }
    fn record(&self, entry: &[u8]) -> Result<RecordAck, ApiError> {
        self.inner.record(entry)
    }
    fn start(&self, writ_id: &str, consume: bool, nonce: &str, entry: &[u8]) -> Result<StartAck, ApiError> {
        (self.forge)(self.inner.as_ref(), writ_id, consume, nonce, entry)
    }
}

/// The in-process authority takes the start in one call: the run's
/// exec_start is the one the start logged, and nothing else came before it.
#[test]
fn online_the_start_is_one_call_and_its_record_is_the_runs_exec_start() {
    let o = Online::new();
    let (id, writ, receipt) = o.issue("/usr/bin/echo", &["fast"]);
    let calls = Arc::new(std::sync::Mutex::new(Vec::<&'static str>::new()));
    struct Counting(Arc<dyn GateApi>, Arc<std::sync::Mutex<Vec<&'static str>>>);
    impl GateApi for Counting {
        fn status(&self, w: &str, c: bool, n: &str) -> Result<Vec<u8>, ApiError> {
            self.1.lock().unwrap().push("status");
            self.0.status(w, c, n)
        }
        fn record(&self, e: &[u8]) -> Result<RecordAck, ApiError> {
            self.1.lock().unwrap().push("record");
            self.0.record(e)
        }
        fn start(&self, w: &str, c: bool, n: &str, e: &[u8]) -> Result<StartAck, ApiError> {
            self.1.lock().unwrap().push("start");
            self.0.start(w, c, n, e)
        }
    }
    let api: Arc<dyn GateApi> = Arc::new(Counting(o.gate(), calls.clone()));
    let Some(r) = exec_or_refused(o.request((writ, receipt), api, "/usr/bin/echo", &["fast"])) else {
        refused_after_start(&o.ledger(&id));
        return;
    };
    assert_eq!(r.outcome.status, ExitStatus::Exited(0));
    let Recorded::Ledger { index } = r.start else { panic!("{:?}", r.start) };
    let starts: Vec<u64> = o
        .authority
        .entries_for(None, Some(&id))
        .unwrap()
        .into_iter()
        .filter(|(_, k, _)| k == "exec_start")
        .map(|(i, _, _)| i)
        .collect();
    assert_eq!(starts, [index]);
    let calls = calls.lock().unwrap();
    // The start came first: no status call and no record before the launch.
    assert_eq!(calls.first(), Some(&"start"), "{calls:?}");
    assert_eq!(calls.iter().filter(|c| **c == "record").count(), 1, "only the exec_end: {calls:?}");
}

/// Every half of the combined answer must verify: a receipt that proves
/// nothing is `record_failed`, a status for another nonce `status_unknown`,
/// a refusal `revoked` / `replayed`; in none of them does the program run.
#[test]
fn online_a_start_answer_that_does_not_verify_runs_nothing() {
    let o = Online::new();
    let forgeries: Vec<(StartForge, DenialCode)> = vec![
        // The status passes through, the record is "201 Created" without proof.
        (
            Box::new(|inner, w, c, n, _| {
                Ok(StartAck { status: inner.status(w, c, n)?, record: RecordAck { index: 7, receipt: b"ok".to_vec() } })
            }),
            DenialCode::RecordFailed,
        ),
        // The real start, with a status bound to another nonce (a replayed answer).
        (
            Box::new(|inner, w, c, n, e| {
                let mut a = inner.start(w, c, n, e)?;
                a.status = inner.status(w, false, "some-other-nonce")?;
                Ok(a)
            }),
            DenialCode::StatusUnknown,
        ),
        // The real start, its receipt index changed.
        (
            Box::new(|inner, w, c, n, e| {
                let mut a = inner.start(w, c, n, e)?;
                a.record.index += 1;
                Ok(a)
            }),
            DenialCode::RecordFailed,
        ),
        // Refusals are taken at their word: nothing runs.
        (Box::new(|_, _, _, _, _| Err(ApiError::new(ApiErrorCode::AlreadyRevoked, "revoked"))), DenialCode::Revoked),
        (Box::new(|_, _, _, _, _| Err(ApiError::new(ApiErrorCode::Replayed, "no use left"))), DenialCode::Replayed),
        (
            Box::new(|_, _, _, _, _| Err(ApiError::new(ApiErrorCode::Transport, "connection refused"))),
            DenialCode::StatusUnknown,
        ),
    ];
    for (n, (forge, code)) in forgeries.into_iter().enumerate() {
        let (id, writ, receipt) = o.issue("/usr/bin/echo", &["x"]);
        let relay: Arc<dyn GateApi> = Arc::new(StartRelay { inner: o.gate(), forge });
        let d = exec(o.request((writ, receipt), relay, "/usr/bin/echo", &["x"])).unwrap_err();
        assert_eq!(d.code, code, "forgery {n}: {}", d.detail);
        let k = kinds(&o.ledger(&id));
        assert!(!k.contains(&"exec_end"), "forgery {n}: the program ran: {k:?}");
    }
}

/// The start call takes each record once (the same bytes again are
/// `replayed`) and only for the writ of its path.
#[test]
fn online_the_start_call_takes_each_record_once_and_only_for_its_writ() {
    let o = Online::new();
    let (id, writ, _) = o.issue("/usr/bin/echo", &["x"]);
    let gate = o.gate();
    let claims = writ_core::Unverified::decode(&writ).unwrap();
    let rid = claims.statement()["predicate"]["request"]["id"].as_str().unwrap().to_owned();
    let entry = |t: i64| {
        let e = Entry::ExecStart(writ_core::entry::ExecStart {
            time: Timestamp(t),
            request_id: rid.clone(),
            writ_id: id.clone(),
            host: String::new(),
            program_digest: Sha256Digest::of(b"p"),
            argv_digest: Sha256Digest::of(b"a"),
        });
        GateRecord::sign(e, vec![], &key(6)).unwrap()
    };
    let first = gate.start(&id, true, "n1", &entry(now())).unwrap();
    let e = entry(now() + 1);
    let second = gate.start(&id, true, "n2", &e).unwrap();
    assert!(first.record.index < second.record.index);
    assert_eq!(gate.start(&id, true, "n3", &e).unwrap_err().code, ApiErrorCode::Replayed);
    let other = "01900000-0000-7000-8000-000000000000";
    assert_eq!(gate.start(other, true, "n4", &entry(now())).unwrap_err().code, ApiErrorCode::InvalidRequest);
    assert_eq!(gate.start(&id, true, "", &entry(now() + 2)).unwrap_err().code, ApiErrorCode::InvalidRequest);
    let starts = kinds(&o.ledger(&id)).iter().filter(|k| **k == "exec_start").count();
    assert_eq!(starts, 2);
}
