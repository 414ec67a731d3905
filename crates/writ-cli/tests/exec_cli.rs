//! `writ exec` through the real binary: a permitted run exits with the
//! program's status; every denial exits 77 with one stderr line naming the
//! code, and the marker the program would create is absent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn writ(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("run writ")
}

fn ok(dir: &Path, args: &[&str]) {
    let out = writ(dir, args, &[]);
    assert!(out.status.success(), "writ {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

struct World {
    dir: tempfile::TempDir,
    program: PathBuf,
    marker: PathBuf,
}

impl World {
    /// A program `deploy MARKER` that records its environment into MARKER and
    /// exits 3, and a writ permitting exactly that, offline.
    fn new(boundaries: serde_json::Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        // The program may run as another uid than the gate: let it write here.
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
        let program = p.join("deploy");
        std::fs::write(&program, "#!/bin/sh\nenv > \"$1\"\nexit 3\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let marker = p.join("ran");
        let predicate = serde_json::json!({
            "request": {"id": "01940000-0000-7000-8000-000000000001",
                        "requester": "0000000000000000000000000000000000000000000000000000000000000000",
                        "requester_name": "tester", "reason": "test",
                        "digest": {"sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}},
            "policy": {"id": "p", "digest": {"sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"},
                       "decision": "allow", "determining_policies": ["a"]},
            "scope": {
                "actions": [{"exec": {"program": program.to_str().unwrap(), "args": [{"exact": marker.to_str().unwrap()}]}}],
                "environment": {"env": {"PATH": "/usr/bin:/bin", "LANG": null}, "cwd": p.to_str().unwrap()},
                "boundaries": boundaries,
                "offline": true
            }
        });
        std::fs::write(p.join("predicate.json"), predicate.to_string()).unwrap();
        ok(p, &["keygen", "--out", "issuer.key", "--name", "authority"]);
        ok(p, &["trust", "add", "--trust", "trust.json", "--role", "issuer", "--key", "issuer.key.pub"]);
        // The gate's key signs its records (issue 9 item 6).
        ok(p, &["keygen", "--out", "gate.key", "--name", "gate1"]);
        ok(p, &["trust", "add", "--trust", "trust.json", "--role", "gate", "--key", "gate.key.pub"]);
        let prog = program.to_str().unwrap();
        ok(
            p,
            &[
                "sign",
                "--key",
                "issuer.key",
                "--predicate",
                "predicate.json",
                "--subject",
                prog,
                "--ttl",
                "600",
                "--out",
                "w.writ",
            ],
        );
        Self { dir, program, marker }
    }

    fn exec(&self, invocation: &[&str], env: &[(&str, &str)]) -> Output {
        let mut args = vec![
            "exec",
            "--writ",
            "w.writ",
            "--trust",
            "trust.json",
            "--offline",
            "--grace",
            "0.2",
            "--spool",
            "spool",
            "--key",
            "gate.key",
            "--",
        ];
        args.extend_from_slice(invocation);
        writ(self.dir.path(), &args, env)
    }

    fn m(&self) -> &str {
        self.marker.to_str().unwrap()
    }

    fn assert_denied(&self, out: &Output, code: &str) {
        assert_eq!(out.status.code(), Some(77), "{}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8(out.stderr.clone()).unwrap();
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with(&format!("writ: denied ({code}): ")), "{stderr}");
        assert!(!self.marker.exists(), "the program ran although denied");
    }
}

#[test]
fn a_permitted_run_exits_with_the_programs_status_and_only_allowed_env() {
    let w = World::new(serde_json::json!({"wall_clock_secs": 30}));
    let prog = w.program.to_str().unwrap();
    let out = w.exec(&[prog, w.m()], &[("LD_PRELOAD", "/tmp/evil.so"), ("LANG", "C"), ("SECRET", "x")]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let env = std::fs::read_to_string(&w.marker).unwrap();
    assert!(env.contains("LANG=C\n") && env.contains("PATH=/usr/bin:/bin\n"), "{env}");
    assert!(!env.contains("LD_PRELOAD") && !env.contains("SECRET"), "{env}");
}

#[test]
fn a_bare_name_resolves_through_the_writ_never_path() {
    let w = World::new(serde_json::json!({}));
    let out = w.exec(&["deploy", w.m()], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let w = World::new(serde_json::json!({}));
    w.assert_denied(&w.exec(&["./deploy", w.m()], &[]), "scope_program");
    w.assert_denied(&w.exec(&["sh", "-c", "touch ran"], &[]), "scope_program");
}

#[test]
fn wrong_arguments_are_denied_and_nothing_runs() {
    let w = World::new(serde_json::json!({}));
    let prog = w.program.to_str().unwrap();
    w.assert_denied(&w.exec(&[prog, w.m(), "extra"], &[]), "scope_args");
    w.assert_denied(&w.exec(&[prog], &[]), "scope_args");
    w.assert_denied(&w.exec(&[prog, "--", w.m()], &[]), "scope_args");
}

#[test]
fn a_replaced_program_is_denied() {
    let w = World::new(serde_json::json!({}));
    std::fs::write(&w.program, "#!/bin/sh\nenv > \"$1\"\nexit 0\n").unwrap();
    w.assert_denied(&w.exec(&[w.program.to_str().unwrap(), w.m()], &[]), "scope_program");
}

#[test]
fn a_tampered_writ_is_denied_with_json_on_stdout() {
    let w = World::new(serde_json::json!({}));
    let path = w.dir.path().join("w.writ");
    let mut env: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    env["signatures"][0]["sig"] = serde_json::Value::String(base64_flip(env["signatures"][0]["sig"].as_str().unwrap()));
    std::fs::write(&path, env.to_string()).unwrap();
    let out = writ(
        w.dir.path(),
        &[
            "exec",
            "--writ",
            "w.writ",
            "--trust",
            "trust.json",
            "--json",
            "--spool",
            "spool",
            "--key",
            "gate.key",
            "--",
            w.program.to_str().unwrap(),
            w.m(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(77));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "deny");
    assert_eq!(v["code"], "bad_signature");
    assert!(!w.marker.exists());
}

fn base64_flip(s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    c[5] = if c[5] == 'A' { 'B' } else { 'A' };
    c.into_iter().collect()
}

#[test]
fn the_wall_clock_ends_the_run_with_a_signal_status() {
    let w = World::new(serde_json::json!({"wall_clock_secs": 1}));
    std::fs::write(&w.program, "#!/bin/sh\nsleep 1000\nenv > \"$1\"\n").unwrap();
    // Re-sign for the new bytes.
    let p = w.dir.path();
    std::fs::remove_file(p.join("w.writ")).unwrap();
    ok(
        p,
        &[
            "sign",
            "--key",
            "issuer.key",
            "--predicate",
            "predicate.json",
            "--subject",
            w.program.to_str().unwrap(),
            "--ttl",
            "600",
            "--out",
            "w.writ",
        ],
    );
    let out = w.exec(&[w.program.to_str().unwrap(), w.m()], &[]);
    // sh is killed by SIGTERM (143) — or by SIGKILL (137) after the grace period.
    assert!(matches!(out.status.code(), Some(143 | 137)), "{:?}", out.status);
    assert!(!w.marker.exists());
}

fn spooled(w: &World) -> Vec<writ_core::entry::Entry> {
    let c = writ_gate::Spool::read(&w.dir.path().join("spool")).unwrap();
    assert_eq!(c.torn_bytes, 0);
    c.entries.iter().map(|b| writ_core::entry::Entry::decode(b).unwrap()).collect()
}

#[test]
fn a_run_spools_exec_start_and_exec_end_and_a_denial_spools_a_denial() {
    use writ_core::entry::Entry;
    let w = World::new(serde_json::json!({}));
    let prog = w.program.to_str().unwrap();
    assert_eq!(w.exec(&[prog, w.m()], &[]).status.code(), Some(3));
    let e = spooled(&w);
    assert_eq!(e.len(), 2, "{e:?}");
    let (Entry::ExecStart(s), Entry::ExecEnd(end)) = (&e[0], &e[1]) else { panic!("{e:?}") };
    assert_eq!(s.writ_id, end.writ_id);
    assert_eq!(s.program_digest, writ_core::Sha256Digest::of(&std::fs::read(&w.program).unwrap()));
    assert_eq!((end.outcome.as_str(), end.exit_code), ("exited", Some(3)));
    std::fs::remove_file(&w.marker).unwrap();
    w.assert_denied(&w.exec(&[prog, "other"], &[]), "scope_args");
    let e = spooled(&w);
    let Some(Entry::Denial(d)) = e.get(2) else { panic!("{e:?}") };
    assert_eq!((d.code.as_str(), d.writ_id.as_deref()), ("scope_args", Some(s.writ_id.as_str())));
}

#[test]
fn an_unwritable_spool_denies_record_failed_and_nothing_runs() {
    let w = World::new(serde_json::json!({}));
    std::fs::create_dir(w.dir.path().join("spool")).unwrap();
    w.assert_denied(&w.exec(&[w.program.to_str().unwrap(), w.m()], &[]), "record_failed");
}

// ---- online (`--home`): status, use counting, records in the ledger ----

/// An authority home with a `dev` requester and a `gate` key, plus a policy
/// that lets dev run `/usr/bin/sleep` once per writ.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        common::home_with_dev_and_gate(p);
        common::add_policies(
            p,
            "\n@id(\"test-sleep-once\")\n@max_duration(\"300\")\n@single_use(\"true\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource)\nwhen { resource.path == \"/usr/bin/sleep\" };\n",
        );
        Self { dir }
    }

    fn p(&self) -> &Path {
        self.dir.path()
    }

    /// Requests a writ for `invocation`; returns its id (the file is `<name>.writ`).
    fn request(&self, name: &str, invocation: &[&str]) -> String {
        let out_file = format!("{name}.writ");
        let mut args = vec!["request", "--home", "h", "--key", "dev.key", "--json", "--out", &out_file, "--"];
        args.extend_from_slice(invocation);
        let out = writ(self.p(), &args, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["writ_id"].as_str().unwrap().to_string()
    }

    fn exec(&self, name: &str, invocation: &[&str]) -> Output {
        let file = format!("{name}.writ");
        let mut args = vec!["exec", "--writ", &file, "--home", "h", "--key", "gate.key", "--grace", "0.2"];
        args.extend_from_slice(&["--status-interval", "0.1", "--spool", "spool", "--"]);
        args.extend_from_slice(invocation);
        writ(self.p(), &args, &[])
    }

    /// Kinds of the ledger entries of writ `id`, in ledger order.
    fn ledger(&self, id: &str) -> Vec<(String, writ_core::entry::Entry)> {
        self.try_ledger(id).unwrap()
    }

    /// As [`Home::ledger`]; while another process appends, reading can fail
    /// (the state index may be ahead of the ledger for a moment).
    fn try_ledger(&self, id: &str) -> Result<Vec<(String, writ_core::entry::Entry)>, String> {
        let a = writ_authority::Authority::open(&writ_authority::Config::new(self.p().join("h")))
            .map_err(|e| e.to_string())?;
        Ok(a.entries_for(None, Some(id))
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(_, kind, bytes)| (kind, writ_core::entry::Entry::decode(&bytes).unwrap()))
            .collect())
    }
}

fn kinds(l: &[(String, writ_core::entry::Entry)]) -> Vec<&str> {
    l.iter().map(|(k, _)| k.as_str()).collect()
}

#[test]
fn online_a_run_is_recorded_start_and_end_in_the_ledger() {
    let h = Home::new();
    let id = h.request("e", &["/usr/bin/echo", "hello"]);
    let out = h.exec("e", &["/usr/bin/echo", "hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"hello\n");
    let l = h.ledger(&id);
    let k = kinds(&l);
    assert!(k.ends_with(&["exec_start", "exec_end"]), "{k:?}");
    let writ_core::entry::Entry::ExecEnd(end) = &l[l.len() - 1].1 else { panic!() };
    assert_eq!((end.outcome.as_str(), end.exit_code, end.writ_id.as_str()), ("exited", Some(0), id.as_str()));
}

#[test]
fn online_revoked_before_start_runs_nothing() {
    let h = Home::new();
    let id = h.request("e", &["/usr/bin/echo", "hello"]);
    ok(h.p(), &["revoke", "--home", "h", "--reason", "test", &id]);
    let out = h.exec("e", &["/usr/bin/echo", "hello"]);
    assert_eq!(out.status.code(), Some(77), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("writ: denied (revoked): "));
    assert!(out.stdout.is_empty(), "the program ran");
    let l = h.ledger(&id);
    assert!(!kinds(&l).contains(&"exec_start"));
    assert_eq!(kinds(&l).last(), Some(&"denial"), "the denial is in the ledger: {:?}", kinds(&l));
}

#[test]
fn online_a_single_use_writ_runs_once() {
    let h = Home::new();
    let id = h.request("s", &["/usr/bin/sleep", "0"]);
    assert_eq!(h.exec("s", &["/usr/bin/sleep", "0"]).status.code(), Some(0));
    let out = h.exec("s", &["/usr/bin/sleep", "0"]);
    assert_eq!(out.status.code(), Some(77));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("writ: denied (replayed): "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(kinds(&h.ledger(&id)).iter().filter(|k| **k == "exec_start").count(), 1);
}

#[test]
fn online_revoked_mid_run_ends_the_program_and_the_ledger_says_why() {
    let h = Home::new();
    let id = h.request("s", &["/usr/bin/sleep", "1000"]);
    let file = "s.writ";
    let child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args([
            "exec",
            "--writ",
            file,
            "--home",
            "h",
            "--key",
            "gate.key",
            "--grace",
            "0.2",
            "--status-interval",
            "0.1",
        ])
        .args(["--spool", "spool", "--", "/usr/bin/sleep", "1000"])
        .current_dir(h.p())
        .spawn()
        .unwrap();
    // Wait until the gate recorded exec_start (the program is starting), then revoke.
    while !h.try_ledger(&id).is_ok_and(|l| kinds(&l).contains(&"exec_start")) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ok(h.p(), &["revoke", "--home", "h", "--reason", "compromised", &id]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "killed by SIGTERM");
    let l = h.ledger(&id);
    let writ_core::entry::Entry::ExecEnd(end) = &l[l.len() - 1].1 else { panic!("{:?}", kinds(&l)) };
    assert_eq!(end.outcome, "killed_revoked");
}

#[test]
fn online_an_unreachable_authority_denies() {
    let h = Home::new();
    h.request("e", &["/usr/bin/echo", "hello"]);
    let out = writ(
        h.p(),
        &[
            "exec",
            "--writ",
            "e.writ",
            "--trust",
            "h/trust.json",
            "--authority",
            "http://127.0.0.1:9",
            "--key",
            "gate.key",
        ]
        .iter()
        .chain(&["--spool", "spool", "--", "/usr/bin/echo", "hello"])
        .copied()
        .collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(out.status.code(), Some(77));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("writ: denied (status_unknown): "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn offline_records_reach_the_ledger_with_writ_sync_and_survive_a_failed_sync() {
    let h = Home::new();
    // Only a policy that says so issues a writ that may run offline.
    common::add_policies(
        h.p(),
        "\n@id(\"test-printf-offline\")\n@max_duration(\"300\")\n@offline(\"true\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource)\nwhen { resource.path == \"/usr/bin/printf\" };\n",
    );
    let id = h.request("e", &["/usr/bin/printf", "hello"]);
    // A gate whose trust root lets it run without a fresh status (the home's
    // own requires one).
    let mut t: serde_json::Value = serde_json::from_slice(&std::fs::read(h.p().join("h/trust.json")).unwrap()).unwrap();
    t["require_status"] = false.into();
    std::fs::write(h.p().join("gate-trust.json"), t.to_string()).unwrap();
    let out = writ(
        h.p(),
        &[
            "exec",
            "--writ",
            "e.writ",
            "--trust",
            "gate-trust.json",
            "--offline",
            "--spool",
            "spool",
            "--key",
            "gate.key",
            "--",
            "/usr/bin/printf",
            "hello",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!kinds(&h.ledger(&id)).contains(&"exec_start"), "offline: nothing in the ledger yet");
    // A key without the gate role: the authority refuses, the records stay.
    let out = writ(h.p(), &["sync", "--spool", "spool", "--home", "h", "--key", "dev.key"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(writ_gate::Spool::read(&h.p().join("spool.sending")).unwrap().entries.len(), 2);
    ok(h.p(), &["sync", "--spool", "spool", "--home", "h", "--key", "gate.key"]);
    assert!(kinds(&h.ledger(&id)).ends_with(&["exec_start", "exec_end"]), "{:?}", kinds(&h.ledger(&id)));
    assert!(!h.p().join("spool").exists() && !h.p().join("spool.sending").exists());
}

#[test]
fn online_a_ledger_that_does_not_take_exec_start_runs_nothing() {
    let h = Home::new();
    let id = h.request("e", &["/usr/bin/echo", "hello"]);
    // dev's key may ask for status but may not record: exec_start is refused.
    let out = writ(
        h.p(),
        &[
            "exec",
            "--writ",
            "e.writ",
            "--home",
            "h",
            "--key",
            "dev.key",
            "--spool",
            "spool",
            "--",
            "/usr/bin/echo",
            "hello",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(77));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("writ: denied (record_failed): "), "{stderr}");
    assert!(out.stdout.is_empty(), "the program ran unrecorded");
    assert!(!kinds(&h.ledger(&id)).contains(&"exec_start"));
}

/// Regression (issue 9 item 10): a missing or oversized writ exited 1 with no
/// denial record; it is a denial (77) with its code, spooled.
#[test]
fn a_missing_or_oversized_writ_is_a_recorded_denial_and_the_status_file_tells_it_from_a_77() {
    let w = World::new(serde_json::json!({}));
    let p = w.dir.path();
    let run = |file: &str| {
        writ(
            p,
            &["exec", "--writ", file, "--trust", "trust.json", "--offline", "--spool", "spool", "--key", "gate.key"]
                .iter()
                .chain(&["--status-file", "status.json", "--", "/usr/bin/true"])
                .copied()
                .collect::<Vec<_>>(),
            &[],
        )
    };
    let status =
        || -> serde_json::Value { serde_json::from_slice(&std::fs::read(p.join("status.json")).unwrap()).unwrap() };
    let out = run("missing.writ");
    assert_eq!(out.status.code(), Some(77), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("writ: denied (malformed): "));
    assert_eq!((status()["verdict"].as_str(), status()["code"].as_str()), (Some("deny"), Some("malformed")));
    std::fs::write(p.join("big.writ"), vec![b' '; writ_core::limits::MAX_ENVELOPE_BYTES + 1]).unwrap();
    let out = run("big.writ");
    assert_eq!(out.status.code(), Some(77));
    assert_eq!(status()["code"].as_str(), Some("too_large"));
    let codes: Vec<String> = spooled(&w)
        .into_iter()
        .filter_map(|e| if let writ_core::entry::Entry::Denial(d) = e { Some(d.code) } else { None })
        .collect();
    assert_eq!(codes, ["malformed", "too_large"]);
    // A program that itself exits 77 is told apart by the status file.
    std::fs::write(p.join("exit77"), "#!/bin/sh\nexit 77\n").unwrap();
    std::fs::set_permissions(p.join("exit77"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let prog = p.join("exit77");
    let predicate = serde_json::json!({
        "request": {"id": "01940000-0000-7000-8000-000000000002",
                    "requester": "0000000000000000000000000000000000000000000000000000000000000000",
                    "requester_name": "tester", "reason": "test",
                    "digest": {"sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}},
        "policy": {"id": "p", "digest": {"sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"},
                   "decision": "allow", "determining_policies": ["a"]},
        "scope": {"actions": [{"exec": {"program": prog.to_str().unwrap()}}], "offline": true}
    });
    std::fs::write(p.join("p77.json"), predicate.to_string()).unwrap();
    ok(
        p,
        &[
            "sign",
            "--key",
            "issuer.key",
            "--predicate",
            "p77.json",
            "--subject",
            prog.to_str().unwrap(),
            "--ttl",
            "600",
            "--out",
            "e77.writ",
        ],
    );
    let out = writ(
        p,
        &[
            "exec",
            "--writ",
            "e77.writ",
            "--trust",
            "trust.json",
            "--offline",
            "--spool",
            "spool",
            "--key",
            "gate.key",
            "--status-file",
            "status.json",
            "--",
        ]
        .iter()
        .chain(&[prog.to_str().unwrap()])
        .copied()
        .collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(out.status.code(), Some(77), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((status()["verdict"].as_str(), status()["exit_code"].as_i64()), (Some("allow"), Some(77)));
}
