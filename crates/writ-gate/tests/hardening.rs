//! Hardening of the governed run (issue 9, items 1–3), through the public
//! gate path (`Gate::check` → `Permit::launch`) and real processes: each test
//! is a program that tries to reach past its writ — its supervisor, its
//! cgroup, the gate's files, the loader — and asserts that it could not.
//!
//! The same binary runs as root (the strong mode: the program runs as a
//! leased uid with no capabilities in its own cgroup) and as an unprivileged
//! user, where the gate cannot do that and must refuse with `scope_boundary`
//! (the weaker mode is only ever allowed by the trust root, not here). It
//! uses no `$HOME` and writes only below `/tmp`, so a copy of it runs as
//! `nobody`.
//!
//! Tests that need a gate process of their own (killed, stopped, signalled)
//! re-execute this test binary with `WRIT_HARDENING_ROLE` set, which makes
//! `helper_gate_process` act as that gate.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use writ_core::fixtures;
use writ_core::model::{Action, ArgRule, ExecAction, Predicate};
use writ_core::{DenialCode, Sha256Digest, Timestamp};
use writ_gate::{
    DEFAULT_RUN_UIDS, EndReason, ExitStatus, Gate, HostFacts, LaunchOptions, Outcome, Program, exec_attempt,
};

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .map(|l| l.split_whitespace().nth(1) == Some("0"))
        .unwrap()
}

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// A world-writable temp dir below /tmp (the run's uid is not the test's).
fn tmp() -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("writ-hardening").tempdir_in("/tmp").unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A writ for exactly `program args…` in `/`, with `env` allowed as given
/// (`None`: any value) and `wall_clock` seconds.
fn writ(program: &Path, args: &[String], env: &[(&str, Option<&str>)], wall_clock: u64) -> Vec<u8> {
    let bytes = std::fs::read(program).unwrap();
    let mut p: Predicate = fixtures::predicate();
    let t = now();
    (p.issued_at, p.validity.not_before, p.validity.not_after) =
        (Timestamp(t - 10), Timestamp(t - 10), Timestamp(t + 600));
    p.scope.actions = vec![Action::Exec(ExecAction {
        program: program.to_str().unwrap().into(),
        sha256: Sha256Digest::of(&bytes),
        args: args.iter().map(|a| ArgRule::Exact(a.clone())).collect(),
        more_args: false,
    })];
    p.scope.environment = Default::default();
    for (k, v) in env {
        p.scope.environment.env.0.insert((*k).to_string(), v.map(str::to_string));
    }
    p.scope.environment.cwd = Some("/".into());
    p.scope.boundaries.wall_clock_secs = Some(wall_clock);
    p.scope.boundaries.network = Some(true);
    fixtures::sign(p)
}

fn gate() -> Gate {
    Gate::new(fixtures::trust_root(false), HostFacts { hostname: "build-7.example.com".into(), ..HostFacts::default() })
}

/// Checks and launches `program args…` with `env` under a writ allowing
/// exactly that; returns the outcome or the denial code.
fn run_env(
    program: &Path,
    args: &[String],
    env: &BTreeMap<String, String>,
    allowed: &[(&str, Option<&str>)],
) -> Result<Outcome, DenialCode> {
    let w = writ(program, args, allowed, 60);
    let p = Program::open(program).unwrap();
    let permit = gate().check(&w, &exec_attempt(&p, args, env, Path::new("/"))).map_err(|d| d.code)?;
    let opts = LaunchOptions { grace: Duration::from_millis(200), ..LaunchOptions::default() };
    let running = permit.launch(p, &opts).map_err(|d| d.code)?;
    Ok(running.wait().unwrap())
}

fn run(program: &Path, args: &[String]) -> Result<Outcome, DenialCode> {
    run_env(program, args, &BTreeMap::new(), &[])
}

/// As root the run must have happened; as another user the gate must have
/// refused it with `scope_boundary` and nothing ran (`marker` absent).
/// Returns whether the run happened.
fn ran_or_refused(got: &Result<Outcome, DenialCode>, marker: &Path) -> bool {
    if root() {
        assert!(got.is_ok(), "as root the strong mode runs: {got:?}");
        true
    } else {
        assert_eq!(got.as_ref().err(), Some(&DenialCode::ScopeBoundary), "a non-root gate must refuse: {got:?}");
        assert!(!marker.exists(), "the program ran although the gate refused");
        false
    }
}

fn status_field<'a>(status: &'a str, name: &str) -> &'a str {
    status.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("no {name} in {status}")).trim()
}

/// Item 1: another uid and gid, no groups, every capability set empty
/// (bounding and ambient too), no_new_privs.
#[test]
fn the_program_runs_as_a_leased_uid_with_no_capabilities() {
    let d = tmp();
    let prog = d.path().join("who");
    let out = d.path().join("status");
    write_script(&prog, "cat /proc/self/status > \"$1\"");
    let args = vec![out.to_str().unwrap().to_string()];
    let got = run(&prog, &args);
    if !ran_or_refused(&got, &out) {
        return;
    }
    let o = got.unwrap();
    assert_eq!(o.status, ExitStatus::Exited(0));
    assert!(o.weakened.is_empty(), "{:?}", o.weakened);
    let s = std::fs::read_to_string(&out).unwrap();
    let uid: Vec<u32> = status_field(&s, "Uid:").split_whitespace().map(|x| x.parse().unwrap()).collect();
    let gid: Vec<u32> = status_field(&s, "Gid:").split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert!(uid.iter().all(|u| DEFAULT_RUN_UIDS.contains(u) && Some(*u) == o.run_uid), "{uid:?} {o:?}");
    assert!(gid.iter().all(|g| *g == uid[0]), "{gid:?}");
    assert_eq!(status_field(&s, "Groups:"), "");
    for cap in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
        assert_eq!(status_field(&s, cap), "0000000000000000", "{cap}");
    }
    assert_eq!(status_field(&s, "NoNewPrivs:"), "1");
    // The file it wrote is owned by that uid, not root.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&out).unwrap().uid(), uid[0]);
}

/// Item 1: `kill -9 $PPID` (the review's attack) fails; the supervisor stays.
#[test]
fn the_program_cannot_signal_its_gate() {
    let d = tmp();
    let prog = d.path().join("regicide");
    let out = d.path().join("out");
    write_script(&prog, "kill -9 $PPID 2>/dev/null; echo $? > \"$1\"; kill -STOP $PPID 2>/dev/null; echo $? >> \"$1\"");
    let got = run(&prog, &[out.to_str().unwrap().to_string()]);
    if !ran_or_refused(&got, &out) {
        return;
    }
    // We are still here (the test process is the gate), and both kills failed.
    let codes: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(String::from).collect();
    assert_eq!(codes.len(), 2);
    assert!(codes.iter().all(|c| c != "0"), "a kill of the gate succeeded: {codes:?}");
}

/// Item 1: the program is in its own cgroup and cannot move itself out of it
/// (not to the root cgroup, not to the gate's).
#[test]
fn the_program_cannot_leave_its_cgroup() {
    let d = tmp();
    let prog = d.path().join("escape");
    let out = d.path().join("out");
    write_script(
        &prog,
        "for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/unified/cgroup.procs /sys/fs/cgroup/pids/cgroup.procs \
         /sys/fs/cgroup/systemd/cgroup.procs; do [ -e $f ] && (echo $$ > $f) 2>/dev/null && echo moved:$f >> \"$1\"; done; \
         cat /proc/self/cgroup >> \"$1\"",
    );
    let got = run(&prog, &[out.to_str().unwrap().to_string()]);
    if !ran_or_refused(&got, &out) {
        return;
    }
    let s = std::fs::read_to_string(&out).unwrap();
    assert!(!s.contains("moved:"), "{s}");
    let v2 = s.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    assert!(v2.contains("/writ-gate/"), "not in a run cgroup: {s}");
    let gate_v2 = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let gate_v2 = gate_v2.lines().find_map(|l| l.strip_prefix("0::")).unwrap().to_string();
    assert_ne!(v2, gate_v2);
}

fn alive(pid: i32) -> bool {
    // A zombie or a vanished pid is dead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(s) => !matches!(s.rsplit(')').next().unwrap().split_whitespace().next(), Some("Z" | "X")),
    }
}

fn wait_for_file(path: &Path, secs: u64) -> String {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if let Ok(s) = std::fs::read_to_string(path)
            && s.ends_with('\n')
        {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("`{}` did not appear", path.display());
}

/// Item 1: a `setsid` daemon that double-forks and outlives the program
/// dies with the run, and leaves no zombie with the gate.
#[test]
fn a_setsid_double_forked_daemon_dies_with_the_run() {
    let d = tmp();
    let prog = d.path().join("daemonize");
    let (pidfile, marker) = (d.path().join("pid"), d.path().join("daemon-ran"));
    write_script(
        &prog,
        &format!(
            "setsid sh -c '(sleep 2; touch {m}) & echo $! > {p}' </dev/null >/dev/null 2>&1; sleep 0.3; exit 0",
            m = marker.display(),
            p = pidfile.display()
        ),
    );
    let got = run(&prog, &[]);
    if !ran_or_refused(&got, &marker) {
        return;
    }
    assert_eq!(got.unwrap().status, ExitStatus::Exited(0));
    let pid: i32 = wait_for_file(&pidfile, 5).trim().parse().unwrap();
    assert!(!alive(pid), "the daemon {pid} survived the run");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!marker.exists(), "the daemon ran after its run ended");
    // The orphan was re-parented to us (subreaper) and reaped: no zombie.
    assert!(std::fs::metadata(format!("/proc/{pid}")).is_err(), "zombie {pid} left with the gate");
}

/// Item 3: the review's attack — a writ allowing `LD_PRELOAD` with any value,
/// and a library whose constructor writes a marker. The gate refuses
/// (`scope_env`) before anything runs, as root and not.
#[test]
fn ld_preload_from_the_review_does_not_run() {
    let d = tmp();
    let marker = d.path().join("preloaded");
    let src = d.path().join("evil.c");
    let lib = d.path().join("evil.so");
    std::fs::write(
        &src,
        format!(
            "#include <fcntl.h>\n#include <unistd.h>\n__attribute__((constructor)) static void evil(void) \
             {{ int fd = open(\"{}\", O_CREAT | O_WRONLY, 0666); if (fd >= 0) close(fd); }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let cc = Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).status().unwrap();
    assert!(cc.success(), "cc failed");
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Control: the library really runs its constructor in /usr/bin/echo.
    let st = Command::new("/usr/bin/echo").env_clear().env("LD_PRELOAD", &lib).stdout(Stdio::null()).status().unwrap();
    assert!(st.success() && marker.exists(), "control: the preload works outside the gate");
    std::fs::remove_file(&marker).unwrap();

    let echo = Path::new("/usr/bin/echo");
    for (name, value) in [
        ("LD_PRELOAD", lib.to_str().unwrap().to_string()),
        ("LD_LIBRARY_PATH", d.path().to_str().unwrap().to_string()),
        ("LD_AUDIT", lib.to_str().unwrap().to_string()),
        ("GCONV_PATH", d.path().to_str().unwrap().to_string()),
    ] {
        let env: BTreeMap<String, String> = [(name.to_string(), value)].into_iter().collect();
        let got = run_env(echo, &["hi".into()], &env, &[(name, None)]);
        assert_eq!(got.err(), Some(DenialCode::ScopeEnv), "{name}");
        assert!(!marker.exists(), "{name}: the library ran");
    }
    // Shell startup files: BASH_ENV and ENV pointing at a script.
    let rc = d.path().join("rc");
    std::fs::write(&rc, format!("touch {}\n", marker.display())).unwrap();
    for (prog, name) in [("/bin/bash", "BASH_ENV"), ("/bin/sh", "ENV")] {
        if !Path::new(prog).exists() {
            continue;
        }
        let env: BTreeMap<String, String> =
            [(name.to_string(), rc.to_str().unwrap().to_string())].into_iter().collect();
        let got = run_env(Path::new(prog), &["-c".into(), "true".into()], &env, &[(name, None)]);
        assert_eq!(got.err(), Some(DenialCode::ScopeEnv), "{name}");
        assert!(!marker.exists(), "{name}: the startup file ran");
    }
}

/// Item 2: the gate's files are not the program's. A gate home (0700) with
/// a real key (0600, root), a spool and a trust root; a loose key file 0600
/// in a world-readable directory; and a key the gate holds open (reachable
/// only through `/proc/<gate>/fd`). The program tries to read, write, list
/// and append to each, and to read the gate's memory and environment.
#[test]
fn the_gates_keys_spool_home_and_trust_root_are_not_the_programs() {
    let d = tmp();
    let home = d.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let key = home.join("gate.key");
    // A real Ed25519 secret key (the public test key's seed), as the CLI writes it.
    std::fs::write(&key, hex::encode([7u8; 32])).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let trust = home.join("trust.json");
    std::fs::write(&trust, "{\"version\":1}").unwrap();
    std::fs::set_permissions(&trust, std::fs::Permissions::from_mode(0o644)).unwrap();
    let spool = home.join("spool");
    std::fs::create_dir(&spool).unwrap();
    std::fs::write(spool.join("records"), "x").unwrap();
    let loose = d.path().join("loose.key");
    std::fs::write(&loose, hex::encode([9u8; 32])).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o600)).unwrap();
    let held = std::fs::File::open(&loose).unwrap();
    let held_fd = std::os::fd::AsRawFd::as_raw_fd(&held);

    let out = d.path().join("out");
    let prog = d.path().join("thief");
    write_script(
        &prog,
        &format!(
            "o=\"$1\"; try() {{ if ( eval \"$2\" ) >/dev/null 2>&1; then echo \"GOT $1\" >> $o; else echo \"no $1\" >> $o; fi; }}\n\
             try read-key 'cat {key}'\n\
             try write-key 'echo x >> {key}'\n\
             try read-trust 'cat {trust}'\n\
             try write-trust 'echo x > {trust}'\n\
             try list-home 'ls {home}'\n\
             try read-spool 'cat {spool}/records'\n\
             try append-spool 'echo forged >> {spool}/records'\n\
             try new-spool 'touch {spool}/forged'\n\
             try read-loose-key 'cat {loose}'\n\
             try read-held-key 'cat /proc/$PPID/fd/{held_fd}'\n\
             try read-gate-environ 'cat /proc/$PPID/environ'\n\
             try read-gate-mem 'head -c 1 /proc/$PPID/mem'\n\
             try replace-trust 'mv {d}/out {trust}'\n",
            key = key.display(),
            trust = trust.display(),
            home = home.display(),
            spool = spool.display(),
            loose = loose.display(),
            d = d.path().display(),
        ),
    );
    let got = run(&prog, &[out.to_str().unwrap().to_string()]);
    if !ran_or_refused(&got, &out) {
        return;
    }
    let s = std::fs::read_to_string(&out).unwrap();
    assert_eq!(s.lines().count(), 13, "{s}");
    assert!(!s.contains("GOT"), "the program reached the gate's files:\n{s}");
    // And nothing changed.
    assert_eq!(std::fs::read_to_string(&key).unwrap(), hex::encode([7u8; 32]));
    assert_eq!(std::fs::read_to_string(&trust).unwrap(), "{\"version\":1}");
    assert_eq!(std::fs::read_to_string(spool.join("records")).unwrap(), "x");
    assert!(!spool.join("forged").exists());
    drop(held);
}

// ---- Tests with a gate process of their own ----

const ROLE: &str = "WRIT_HARDENING_ROLE";
const DIR: &str = "WRIT_HARDENING_DIR";

/// Starts this test binary as a gate in `role`, working in `dir`; returns
/// the child and a reader of its stdout.
fn gate_process(role: &str, dir: &Path) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_gate_process", "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE, role)
        .env(DIR, dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    (child, out)
}

/// Reads lines until one starts with `started` or `refused`.
fn first_word(out: &mut BufReader<std::process::ChildStdout>) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the gate process ended without a word");
        if line.starts_with("started") || line.starts_with("refused") {
            return line.trim().to_string();
        }
    }
}

fn rest(out: &mut BufReader<std::process::ChildStdout>) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(out, &mut s).unwrap();
    s
}

fn kill(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

/// Item 1: the gate is SIGKILLed while a program and its setsid daemon run:
/// the keeper kills the whole cgroup, the parent-death signal the program.
#[test]
fn a_gate_killed_with_sigkill_takes_its_whole_run_with_it() {
    let d = tmp();
    let (mut child, mut out) = gate_process("daemon", d.path());
    let word = first_word(&mut out);
    if !root() {
        assert!(word.starts_with("refused scope_boundary"), "{word}");
        assert!(child.wait().unwrap().success());
        return;
    }
    assert_eq!(word, "started");
    let pids = wait_for_file(&d.path().join("pids"), 10);
    let pids: Vec<i32> = pids.split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| alive(*p)));
    kill(child.id(), "-KILL");
    child.wait().unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| alive(*p)) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(pids.iter().all(|p| !alive(*p)), "{pids:?} survived their gate");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!d.path().join("daemon-ran").exists(), "the daemon ran after its gate died");
}

/// Item 1: with its gate stopped (SIGSTOP: no supervisor thread runs), the
/// wall clock still holds: the keeper kills the run a second after the
/// deadline plus grace.
#[test]
fn the_wall_clock_holds_while_the_gate_is_stopped() {
    let d = tmp();
    let (mut child, mut out) = gate_process("stopped", d.path());
    let word = first_word(&mut out);
    if !root() {
        assert!(word.starts_with("refused scope_boundary"), "{word}");
        assert!(child.wait().unwrap().success());
        return;
    }
    assert_eq!(word, "started");
    let pid: i32 = wait_for_file(&d.path().join("pids"), 10).trim().parse().unwrap();
    kill(child.id(), "-STOP");
    // Wall clock 1 s + grace 0.2 s + 1 s backstop; give it 4 s in all.
    let end = Instant::now() + Duration::from_secs(4);
    while alive(pid) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    let survived = alive(pid);
    kill(child.id(), "-CONT");
    let status = child.wait().unwrap();
    assert!(!survived, "the run outlived its wall clock while the gate was stopped");
    assert!(status.success(), "{}", rest(&mut out));
}

/// Item 1: SIGTERM on the gate ends the run (SIGTERM, grace, SIGKILL) and
/// the caller still gets the outcome, so it can write `exec_end`.
#[test]
fn sigterm_on_the_gate_ends_the_run_and_returns_the_outcome() {
    let d = tmp();
    let (mut child, mut out) = gate_process("sigterm", d.path());
    let word = first_word(&mut out);
    if !root() {
        assert!(word.starts_with("refused scope_boundary"), "{word}");
        assert!(child.wait().unwrap().success());
        return;
    }
    assert_eq!(word, "started");
    let pid: i32 = wait_for_file(&d.path().join("pids"), 10).trim().parse().unwrap();
    kill(child.id(), "-TERM");
    let status = child.wait().unwrap();
    let rest = rest(&mut out);
    assert!(status.success(), "the gate died of the signal instead of ending the run: {rest}");
    assert!(rest.contains("ended_by=Some(Ended(\"the gate received SIGTERM\"))"), "{rest}");
    assert!(rest.contains("signal=Some(143)"), "{rest}");
    assert!(!alive(pid));
}

/// Not a test on its own: the gate process of the tests above (does nothing
/// unless `WRIT_HARDENING_ROLE` is set).
#[test]
fn helper_gate_process() {
    let Ok(role) = std::env::var(ROLE) else { return };
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    let prog = dir.join(format!("{role}-prog"));
    let pids = dir.join("pids");
    let (script, wall) = match role.as_str() {
        "daemon" => (
            format!(
                "setsid sh -c 'echo $$ > {p}.d; sleep 2; touch {m}' </dev/null >/dev/null 2>&1 &\n\
                 while [ ! -s {p}.d ]; do sleep 0.05; done; echo \"$$ $(cat {p}.d)\" > {p}.t; mv {p}.t {p}; sleep 1000",
                p = pids.display(),
                m = dir.join("daemon-ran").display()
            ),
            600,
        ),
        "stopped" => {
            (format!("trap '' TERM; echo $$ > {p}.t; mv {p}.t {p}; while :; do sleep 1; done", p = pids.display()), 1)
        }
        "sigterm" => (format!("echo $$ > {p}.t; mv {p}.t {p}; exec sleep 1000", p = pids.display()), 600),
        other => panic!("unknown role {other}"),
    };
    write_script(&prog, &script);
    if role == "sigterm" {
        writ_gate::end_runs_on_termination().unwrap();
    }
    let w = writ(&prog, &[], &[], wall);
    let p = Program::open(&prog).unwrap();
    let permit = gate().check(&w, &exec_attempt(&p, &[], &BTreeMap::new(), Path::new("/"))).unwrap();
    let opts = LaunchOptions { grace: Duration::from_millis(200), ..LaunchOptions::default() };
    let running = match permit.launch(p, &opts) {
        Ok(r) => r,
        Err(d) => {
            println!("refused {} {}", d.code.as_str(), d.detail);
            return;
        }
    };
    println!("started");
    let o = running.wait().unwrap();
    println!(
        "ended_by={:?} status={:?} signal={:?}",
        o.ended_by,
        o.status,
        writ_gate::termination_signal().map(|s| 128 + s)
    );
    if role == "sigterm" {
        assert!(matches!(o.ended_by, Some(EndReason::Ended(_))));
    }
}

/// Item 1: the weaker mode, allowed by the trust root for a gate and passed
/// in `LaunchOptions.isolation`, runs without what the gate cannot do and
/// says so; as root it changes nothing (the strong mode is achieved).
#[test]
fn the_weaker_mode_runs_only_when_allowed_and_says_what_it_left_out() {
    let d = tmp();
    let prog = d.path().join("weak");
    let marker = d.path().join("ran");
    write_script(&prog, "touch \"$1\"");
    let args = vec![marker.to_str().unwrap().to_string()];
    let w = writ(&prog, &args, &[], 60);
    let p = Program::open(&prog).unwrap();
    let permit = gate().check(&w, &exec_attempt(&p, &args, &BTreeMap::new(), Path::new("/"))).unwrap();
    let mut opts = LaunchOptions::default();
    opts.isolation.allow_weaker = true;
    let o = permit.launch(p, &opts).unwrap().wait().unwrap();
    assert_eq!(o.status, ExitStatus::Exited(0));
    assert!(marker.exists());
    if root() {
        assert!(o.weakened.is_empty() && o.run_uid.is_some(), "{o:?}");
    } else {
        assert!(o.weakened.iter().any(|w| w == "run_as") && o.weakened.iter().any(|w| w == "cgroup"), "{o:?}");
        assert_eq!(o.run_uid, None);
    }
}
