//! Adversarial tests of the library gate (issue 5, item 9): each tries to get a
//! program to run without a writ that permits exactly that run, and asserts
//! both the denial code and that a marker the program would create is absent.
//!
//! As root the runs have the strong isolation; unprivileged (CI runs this
//! binary again as `nobody`) they opt into the weaker mode explicitly and
//! assert that the outcome says what it left out, and a writ without network
//! (which needs root to isolate) is replaced by one with network, except in
//! the test that asserts its refusal: these invariants must hold either way.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code: a failed unwrap is a failed test")]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use writ_core::fixtures;
use writ_core::model::{Action, ArgRule, ExecAction, Predicate};
use writ_core::{Capabilities, DenialCode, Mode, Sha256Digest, Status, Timestamp};
use writ_gate::{Evidence, ExitStatus, Gate, HostFacts, LaunchOptions, Program, exec_attempt};

mod support;
use support::{assert_isolation, launch_options, root};

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// A temp dir with a program that creates the marker named by its first argument.
struct World {
    dir: tempfile::TempDir,
    program: PathBuf,
    marker: PathBuf,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The program runs as its own leased uid (issue 9): let it write here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let program = dir.path().join("deploy");
        write_script(&program, "touch \"$1\"");
        let marker = dir.path().join("ran");
        Self { dir, program, marker }
    }
    fn cwd(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
    fn args(&self) -> Vec<String> {
        vec![self.marker.to_str().unwrap().to_string()]
    }
    fn env(&self) -> BTreeMap<String, String> {
        [("PATH".to_string(), "/usr/bin:/bin".to_string())].into_iter().collect()
    }
    /// A predicate permitting exactly `deploy <marker>` in the temp dir.
    fn predicate(&self) -> Predicate {
        let bytes = std::fs::read(&self.program).unwrap();
        let mut p = fixtures::predicate();
        let t = now();
        p.issued_at = Timestamp(t - 10);
        p.validity.not_before = Timestamp(t - 10);
        p.validity.not_after = Timestamp(t + 3600);
        p.scope.actions = vec![Action::Exec(ExecAction {
            program: self.program.to_str().unwrap().into(),
            sha256: Sha256Digest::of(&bytes),
            args: vec![ArgRule::Exact(self.marker.to_str().unwrap().into())],
            more_args: false,
        })];
        p.scope.environment.cwd = Some(self.cwd().to_str().unwrap().into());
        p.scope.boundaries.wall_clock_secs = Some(60);
        if !root() {
            // A fresh network namespace needs CAP_SYS_ADMIN: unprivileged, the
            // gate refuses this boundary (asserted in
            // `unprivileged_the_strong_mode_and_no_network_are_refused`), and
            // these tests are about other things.
            p.scope.boundaries.network = Some(true);
        }
        p
    }
    fn writ(&self) -> Vec<u8> {
        fixtures::sign(self.predicate())
    }
    fn gate(&self) -> Gate {
        Gate::new(fixtures::trust_root(false), host("build-7.example.com"))
    }
    /// Opens, checks and launches; returns the denial code, if any.
    fn attempt(
        &self,
        gate: &Gate,
        writ: &[u8],
        args: &[String],
        env: &BTreeMap<String, String>,
        cwd: &Path,
    ) -> Result<ExitStatus, DenialCode> {
        let program = Program::open(&self.program).map_err(|e| writ_core::Denial::from(e).code)?;
        let attempt = exec_attempt(&program, args, env, cwd);
        let permit = gate.check(writ, &attempt).map_err(|d| d.code)?;
        let running = permit.launch(program, &launch_options()).map_err(|d| d.code)?;
        let o = running.wait().unwrap();
        assert_isolation(&o);
        Ok(o.status)
    }
    fn run(&self, writ: &[u8]) -> Result<ExitStatus, DenialCode> {
        self.attempt(&self.gate(), writ, &self.args(), &self.env(), &self.cwd())
    }
    fn ran(&self) -> bool {
        self.marker.exists()
    }
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn host(name: &str) -> HostFacts {
    HostFacts { hostname: name.into(), labels: BTreeSet::from(["ci".to_string()]) }
}

fn denied(w: &World, got: Result<ExitStatus, DenialCode>, code: DenialCode) {
    assert_eq!(got, Err(code));
    assert!(!w.ran(), "the program ran although the gate denied ({code})");
}

#[test]
fn control_a_matching_writ_runs_the_program() {
    let w = World::new();
    assert_eq!(w.run(&w.writ()), Ok(ExitStatus::Exited(0)));
    assert!(w.ran());
}

#[test]
fn no_writ() {
    let w = World::new();
    denied(&w, w.run(b""), DenialCode::Malformed);
}

#[test]
fn tampered_writ() {
    let w = World::new();
    let mut env: serde_json::Value = serde_json::from_slice(&w.writ()).unwrap();
    let payload = env["payload"].as_str().unwrap().to_string();
    // Flip one base64 character in the middle of the payload.
    let mut chars: Vec<char> = payload.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    env["payload"] = chars.into_iter().collect::<String>().into();
    let got = w.run(&serde_json::to_vec(&env).unwrap());
    assert!(matches!(got, Err(DenialCode::BadSignature | DenialCode::Malformed)), "{got:?}");
    assert!(!w.ran());
}

#[test]
fn unknown_key() {
    let w = World::new();
    denied(&w, w.run(&fixtures::sign_with(w.predicate(), &fixtures::stranger())), DenialCode::UnknownKey);
}

#[test]
fn expired() {
    let w = World::new();
    let mut p = w.predicate();
    p.validity.not_after = Timestamp(now() - 1);
    denied(&w, w.run(&fixtures::sign(p)), DenialCode::Expired);
}

#[test]
fn not_yet_valid() {
    let w = World::new();
    let mut p = w.predicate();
    p.validity.not_before = Timestamp(now() + 600);
    denied(&w, w.run(&fixtures::sign(p)), DenialCode::NotYetValid);
}

#[test]
fn program_replaced_after_issue() {
    let w = World::new();
    let writ = w.writ();
    write_script(&w.program, "touch \"$1\" # now with a backdoor");
    denied(&w, w.run(&writ), DenialCode::ScopeProgram);
}

#[test]
fn program_renamed_over_between_check_and_exec_runs_the_checked_bytes() {
    let w = World::new();
    let evil_marker = w.dir.path().join("evil-ran");
    let program = Program::open(&w.program).unwrap();
    let permit = w.gate().check(&w.writ(), &exec_attempt(&program, &w.args(), &w.env(), &w.cwd())).unwrap();
    let evil = w.dir.path().join("evil");
    write_script(&evil, &format!("touch {}", evil_marker.display()));
    std::fs::rename(&evil, &w.program).unwrap();
    let o = permit.launch(program, &launch_options()).unwrap().wait().unwrap();
    assert_isolation(&o);
    assert_eq!(o.status, ExitStatus::Exited(0));
    assert!(w.ran(), "the checked program ran");
    assert!(!evil_marker.exists(), "the swapped-in program ran");
}

#[test]
fn program_symlink_swapped_between_check_and_exec_runs_the_checked_bytes() {
    let w = World::new();
    let evil_marker = w.dir.path().join("evil-ran");
    let real = w.dir.path().join("deploy.real");
    std::fs::rename(&w.program, &real).unwrap();
    std::os::unix::fs::symlink(&real, &w.program).unwrap();
    let program = Program::open(&w.program).unwrap();
    let permit =
        w.gate().check(&w.writ_for_bytes(&real), &exec_attempt(&program, &w.args(), &w.env(), &w.cwd())).unwrap();
    let evil = w.dir.path().join("evil");
    write_script(&evil, &format!("touch {}", evil_marker.display()));
    std::fs::remove_file(&w.program).unwrap();
    std::os::unix::fs::symlink(&evil, &w.program).unwrap();
    let o = permit.launch(program, &launch_options()).unwrap().wait().unwrap();
    assert_isolation(&o);
    assert_eq!(o.status, ExitStatus::Exited(0));
    assert!(!evil_marker.exists(), "the symlinked-in program ran");
}

impl World {
    fn writ_for_bytes(&self, file: &Path) -> Vec<u8> {
        let mut p = self.predicate();
        if let Action::Exec(e) = &mut p.scope.actions[0] {
            e.sha256 = Sha256Digest::of(&std::fs::read(file).unwrap());
        }
        fixtures::sign(p)
    }
}

#[test]
fn a_permit_for_one_file_does_not_launch_another() {
    let w = World::new();
    let program = Program::open(&w.program).unwrap();
    let permit = w.gate().check(&w.writ(), &exec_attempt(&program, &w.args(), &w.env(), &w.cwd())).unwrap();
    let other = w.dir.path().join("other");
    write_script(&other, "touch \"$1\"; echo other");
    let err = permit.launch(Program::open(&other).unwrap(), &launch_options()).unwrap_err();
    assert_eq!(err.code, DenialCode::ScopeProgram);
    assert!(!w.ran());
}

#[test]
fn extra_missing_reordered_and_trick_arguments() {
    let w = World::new();
    let writ = w.writ();
    let m = w.marker.to_str().unwrap().to_string();
    let cases: Vec<Vec<String>> = vec![
        vec![m.clone(), "--extra".into()],
        vec![],
        vec!["--".into(), m.clone()],
        vec![format!("{}*", &m[..m.len() - 1])],
        vec![format!("{m} ")],
        vec![format!("{m};id")],
    ];
    for args in cases {
        denied(&w, w.attempt(&w.gate(), &writ, &args, &w.env(), &w.cwd()), DenialCode::ScopeArgs);
    }
    // Reordered: a two-argument rule set given in the other order.
    let mut p = w.predicate();
    if let Action::Exec(e) = &mut p.scope.actions[0] {
        e.args = vec![ArgRule::Exact(m.clone()), ArgRule::Exact("second".into())];
    }
    let writ = fixtures::sign(p);
    let reordered = vec!["second".to_string(), m];
    denied(&w, w.attempt(&w.gate(), &writ, &reordered, &w.env(), &w.cwd()), DenialCode::ScopeArgs);
}

#[test]
fn injected_ld_preload_or_path() {
    let w = World::new();
    let writ = w.writ();
    let mut env = w.env();
    env.insert("LD_PRELOAD".into(), "/tmp/evil.so".into());
    denied(&w, w.attempt(&w.gate(), &writ, &w.args(), &env, &w.cwd()), DenialCode::ScopeEnv);
    let mut env = w.env();
    env.insert("PATH".into(), "/tmp/evil:/usr/bin:/bin".into());
    denied(&w, w.attempt(&w.gate(), &writ, &w.args(), &env, &w.cwd()), DenialCode::ScopeEnv);
}

#[test]
fn the_environment_is_exactly_the_checked_one() {
    let w = World::new();
    write_script(&w.program, "env > \"$1\"");
    let o = w.run(&w.writ());
    assert_eq!(o, Ok(ExitStatus::Exited(0)));
    let env = std::fs::read_to_string(&w.marker).unwrap();
    let mut vars: Vec<&str> = env.lines().filter(|l| !l.starts_with("PWD=")).collect();
    vars.sort_unstable();
    assert_eq!(vars, ["PATH=/usr/bin:/bin"], "nothing of the gate's own environment leaks");
}

#[test]
fn other_working_directory() {
    let w = World::new();
    denied(&w, w.attempt(&w.gate(), &w.writ(), &w.args(), &w.env(), Path::new("/tmp")), DenialCode::ScopeCwd);
}

#[test]
fn wrong_host() {
    let w = World::new();
    let gate = Gate::new(fixtures::trust_root(false), host("laptop.example.org"));
    denied(&w, w.attempt(&gate, &w.writ(), &w.args(), &w.env(), &w.cwd()), DenialCode::ScopeHost);
}

#[test]
fn revoked_before_start() {
    let w = World::new();
    let program = Program::open(&w.program).unwrap();
    let attempt = exec_attempt(&program, &w.args(), &w.env(), &w.cwd());
    let evidence = Evidence { status: Status::Revoked { at: Timestamp(now() - 5) }, ..Evidence::default() };
    let got = w.gate().check_with(&w.writ(), &attempt, evidence).map(|_| ());
    assert_eq!(got.unwrap_err().code, DenialCode::Revoked);
    assert!(!w.ran());
}

#[test]
fn revoked_mid_run_ends_the_program() {
    let w = World::new();
    write_script(&w.program, "sleep 1000; touch \"$1\"");
    let program = Program::open(&w.program).unwrap();
    let writ = w.writ();
    let permit = w.gate().check(&writ, &exec_attempt(&program, &w.args(), &w.env(), &w.cwd())).unwrap();
    let running =
        permit.launch(program, &LaunchOptions { grace: Duration::from_millis(200), ..launch_options() }).unwrap();
    running.end_handle().end("revoked");
    let o = running.wait().unwrap();
    assert_isolation(&o);
    assert_eq!(o.ended_by, Some(writ_gate::EndReason::Ended("revoked".into())));
    assert!(matches!(o.status, ExitStatus::Signaled(_)));
    assert!(!w.ran());
}

#[test]
fn single_use_writ_used_twice_and_offline_use_counting() {
    let w = World::new();
    let mut p = w.predicate();
    p.scope.uses = Some(1);
    let writ = fixtures::sign(p);
    let program = Program::open(&w.program).unwrap();
    let attempt = exec_attempt(&program, &w.args(), &w.env(), &w.cwd());
    let online = w.gate().with_mode(Mode::Online);
    let second = Evidence { use_count: Some(2), ..Evidence::default() };
    assert_eq!(online.check_with(&writ, &attempt, second).unwrap_err().code, DenialCode::Replayed);
    assert_eq!(w.gate().check(&writ, &attempt).unwrap_err().code, DenialCode::OfflineNotAllowed);
    assert!(!w.ran());
}

#[test]
fn a_boundary_the_gate_cannot_enforce() {
    let w = World::new();
    let mut p = w.predicate();
    p.scope.boundaries.fs_write = Some(vec![w.cwd().to_str().unwrap().into()]);
    let writ = fixtures::sign(p);
    let gate = w.gate().with_capabilities(Capabilities { fs: false, ..w.gate().capabilities() });
    denied(&w, w.attempt(&gate, &writ, &w.args(), &w.env(), &w.cwd()), DenialCode::ScopeBoundary);
    // Control: this kernel can enforce it, and the program may write its marker.
    assert_eq!(w.run(&writ), Ok(ExitStatus::Exited(0)));
    assert!(w.ran());
}

#[test]
fn the_writs_boundaries_are_enforced_on_the_run() {
    let w = World::new();
    write_script(&w.program, "while :; do :; done; touch \"$1\"");
    let mut p = w.predicate();
    p.scope.boundaries.cpu_secs = Some(1);
    let o = w.run(&fixtures::sign(p));
    assert!(matches!(o, Ok(ExitStatus::Signaled(_))), "{o:?}");
    assert!(!w.ran());
}

#[test]
fn a_memoizing_gate_gives_the_same_verdicts() {
    let w = World::new();
    let gate = w.gate().with_memo();
    let program = Program::open(&w.program).unwrap();
    let good = exec_attempt(&program, &w.args(), &w.env(), &w.cwd());
    let bad = exec_attempt(&program, &["other".to_string()], &w.env(), &w.cwd());
    let writ = w.writ();
    for _ in 0..3 {
        assert!(gate.check(&writ, &good).is_ok());
        assert_eq!(gate.check(&writ, &bad).unwrap_err().code, DenialCode::ScopeArgs);
        assert_eq!(gate.check(b"", &good).unwrap_err().code, DenialCode::Malformed);
        let rogue = fixtures::sign_with(w.predicate(), &fixtures::stranger());
        assert_eq!(gate.check(&rogue, &good).unwrap_err().code, DenialCode::UnknownKey);
    }
    // The permit from a memoized verdict launches like any other.
    let permit = gate.check(&writ, &good).unwrap();
    let o = permit.launch(program, &launch_options()).unwrap().wait().unwrap();
    assert_isolation(&o);
    assert_eq!(o.status, ExitStatus::Exited(0));
    assert!(w.ran());
}

/// The boundaries only root can enforce: unprivileged, a writ without network
/// is refused at the check, and the strong mode (the default, without the
/// weaker mode allowed) is refused at the launch, with `scope_boundary`, and
/// nothing runs. As root the writ without network runs, with nothing weakened.
#[test]
fn unprivileged_the_strong_mode_and_no_network_are_refused() {
    let w = World::new();
    let mut p = w.predicate();
    p.scope.boundaries.network = Some(false);
    let no_network = fixtures::sign(p);
    let strong = |writ: &[u8]| -> Result<writ_gate::Outcome, DenialCode> {
        let program = Program::open(&w.program).unwrap();
        let permit =
            w.gate().check(writ, &exec_attempt(&program, &w.args(), &w.env(), &w.cwd())).map_err(|d| d.code)?;
        let running = permit.launch(program, &LaunchOptions::default()).map_err(|d| d.code)?;
        Ok(running.wait().unwrap())
    };
    if root() {
        let o = strong(&no_network).unwrap();
        assert_eq!(o.status, ExitStatus::Exited(0));
        assert!(o.weakened.is_empty() && o.run_uid.is_some(), "{o:?}");
        assert!(w.ran());
    } else {
        denied(&w, strong(&no_network).map(|o| o.status), DenialCode::ScopeBoundary);
        denied(&w, strong(&w.writ()).map(|o| o.status), DenialCode::ScopeBoundary);
        // Control: the same writ runs once the weaker mode is allowed.
        assert_eq!(w.run(&w.writ()), Ok(ExitStatus::Exited(0)));
        assert!(w.ran());
    }
}
