//! `writ delegate` through the real binary: the orchestrator mints a child
//! of the writ it holds, the child runs under `writ exec` (the gate's
//! `exec`, the same code as `writ-gate exec`) with its
//! chain file (and not without it), and what the parent does not allow is
//! refused at minting (exit 77 with the code) — by the wrong key, past the
//! parent's validity, beyond its depth.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use writ_core::model::{Action, ArgRule};

fn writ(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_writ")).args(args).current_dir(dir).output().expect("run writ")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = writ(dir, args);
    assert!(out.status.success(), "writ {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn refused(out: &Output, code: &str) {
    assert_eq!(out.status.code(), Some(77), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], code, "{v}");
}

/// The base64 of the public key in a `writ keygen` .pub file.
fn public_b64(dir: &Path, file: &str) -> String {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    text.split_whitespace().nth(1).unwrap().to_string()
}

struct World {
    dir: tempfile::TempDir,
    program: PathBuf,
    marker: PathBuf,
}

/// A trust root with one issuer; keys for the orchestrator (`o`) and the
/// sub-agent (`s`); the orchestrator's writ `w.writ` for `deploy MARKER`
/// (offline, ten minutes) and `t.writ` for the tool `deploy` (argument
/// `env` staging or production), both bound to `o` as holder, one level deep.
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    let program = p.join("deploy");
    std::fs::write(&program, "#!/bin/sh\necho ran > \"$1\"\nexit 3\n").unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let marker = p.join("ran");
    ok(p, &["keygen", "--out", "issuer.key", "--name", "authority"]);
    ok(p, &["trust", "add", "--trust", "trust.json", "--role", "issuer", "--key", "issuer.key.pub"]);
    // The gate's key signs its records (issue 9 item 6).
    ok(p, &["keygen", "--out", "gate.key", "--name", "gate1"]);
    ok(p, &["trust", "add", "--trust", "trust.json", "--role", "gate", "--key", "gate.key.pub"]);
    ok(p, &["keygen", "--out", "o.key", "--name", "orchestrator"]);
    ok(p, &["keygen", "--out", "s.key", "--name", "sub-agent"]);
    let digest = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    let predicate = |actions: serde_json::Value| {
        serde_json::json!({
            "request": {"id": "01940000-0000-7000-8000-000000000001",
                        "requester": "0000000000000000000000000000000000000000000000000000000000000000",
                        "requester_name": "tester", "reason": "test", "digest": {"sha256": digest}},
            "policy": {"id": "p", "digest": {"sha256": digest}, "decision": "allow", "determining_policies": ["a"]},
            "scope": {"actions": actions, "environment": {"env": {"PATH": "/usr/bin:/bin"}, "cwd": p.to_str().unwrap()},
                      "boundaries": {"wall_clock_secs": 30}, "offline": true},
            "lineage": {"depth": 0, "max_depth": 1, "holder": {"public_key": public_b64(p, "o.key.pub")}}
        })
    };
    let exec = serde_json::json!([{"exec": {"program": program.to_str().unwrap(),
                                            "args": [{"exact": marker.to_str().unwrap()}]}}]);
    std::fs::write(p.join("exec.json"), predicate(exec).to_string()).unwrap();
    let tool =
        serde_json::json!([{"tool": {"name": "deploy", "args": {"env": {"one_of": ["staging", "production"]}}}}]);
    std::fs::write(p.join("tool.json"), predicate(tool).to_string()).unwrap();
    let prog = program.to_str().unwrap();
    let sign = ["sign", "--key", "issuer.key", "--ttl", "600", "--predicate"];
    ok(p, &[&sign[..], &["exec.json", "--subject", prog, "--out", "w.writ"]].concat());
    ok(p, &[&sign[..], &["tool.json", "--out", "t.writ"]].concat());
    World { dir, program, marker }
}

impl World {
    fn gate_exec(&self, file: &str, extra: &[&str]) -> Output {
        let mut args = vec!["exec", "--writ", file, "--trust", "trust.json", "--offline", "--spool", "spool", "--json"];
        args.extend_from_slice(&["--key", "gate.key"]);
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", self.program.to_str().unwrap(), self.marker.to_str().unwrap()]);
        writ(self.dir.path(), &args)
    }
}

#[test]
fn a_delegated_child_runs_under_writ_gate_exec_with_its_chain() {
    let w = world();
    let p = w.dir.path();
    let out =
        ok(p, &["delegate", "--writ", "w.writ", "--key", "o.key", "--not-after", "+120", "-o", "child.writ", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["chain_file"], "child.writ.chain");
    assert!(p.join("child.writ.chain").exists());
    // Without its chain the child is signed by no issuer: nothing runs.
    std::fs::write(p.join("empty.chain"), "{\"ancestors\":[]}\n").unwrap();
    let denied = w.gate_exec("child.writ", &["--chain", "empty.chain"]);
    assert_eq!(denied.status.code(), Some(77));
    let d: serde_json::Value = serde_json::from_slice(&denied.stdout).unwrap();
    assert_eq!(d["code"], "unknown_key", "{d}");
    assert!(!w.marker.exists());
    // With it (read beside the writ by default), the program runs.
    let ran = w.gate_exec("child.writ", &[]);
    assert_eq!(ran.status.code(), Some(3), "{}", String::from_utf8_lossy(&ran.stderr));
    assert_eq!(std::fs::read_to_string(&w.marker).unwrap(), "ran\n");
    // `writ verify` checks the same chain given as --parent.
    ok(p, &["verify", "child.writ", "--trust", "trust.json", "--parent", "w.writ"]);
}

#[test]
fn a_tool_child_keeps_one_argument_value() {
    let w = world();
    let p = w.dir.path();
    ok(
        p,
        &["delegate", "--writ", "t.writ", "--key", "o.key", "--tool", "deploy", "--arg", "env=staging", "-o", "c.writ"],
    );
    let child = writ_core::delegate::read_parent(&std::fs::read(p.join("c.writ")).unwrap()).unwrap();
    let [Action::Tool(t)] = child.scope.actions.as_slice() else {
        panic!("one tool action: {:?}", child.scope.actions)
    };
    assert_eq!(t.name, "deploy");
    assert_eq!(t.args.0.get("env"), Some(&ArgRule::Exact("staging".into())));
    assert!(!t.more_args);
    assert_eq!(child.lineage.depth, 1);
    assert_eq!(child.lineage.max_depth, 1);
    ok(p, &["verify", "c.writ", "--trust", "trust.json", "--parent", "t.writ"]);
    // A value the parent does not allow, or a tool it does not name: refused.
    let args = ["delegate", "--writ", "t.writ", "--key", "o.key", "-o", "x.writ", "--json", "--tool", "deploy"];
    refused(&writ(p, &[&args[..], &["--arg", "env=dev"]].concat()), "delegation_widened");
    let other = ["delegate", "--writ", "t.writ", "--key", "o.key", "-o", "x.writ", "--json", "--tool", "admin"];
    refused(&writ(p, &other), "delegation_widened");
    assert!(!p.join("x.writ").exists());
}

#[test]
fn minting_refuses_what_the_parent_does_not_allow() {
    let w = world();
    let p = w.dir.path();
    let base = ["delegate", "--writ", "w.writ", "-o", "x.writ", "--json"];
    // The sub-agent's key is not the holder.
    refused(&writ(p, &[&base[..], &["--key", "s.key"]].concat()), "delegation_signature");
    // Past the parent's validity.
    refused(&writ(p, &[&base[..], &["--key", "o.key", "--not-after", "+86400"]].concat()), "delegation_widened");
    // Deeper than the parent allows.
    refused(&writ(p, &[&base[..], &["--key", "o.key", "--depth", "1"]].concat()), "delegation_depth");
    // The child names the sub-agent as next holder, but no depth is left.
    ok(p, &["delegate", "--writ", "w.writ", "--key", "o.key", "--to", "s.key.pub", "-o", "child.writ"]);
    let again = ["delegate", "--writ", "child.writ", "--key", "s.key", "-o", "x.writ", "--json"];
    refused(&writ(p, &again), "delegation_depth");
    assert!(!p.join("x.writ").exists());
    // A usage error is not a refusal.
    let bad = writ(p, &["delegate", "--writ", "w.writ", "--key", "o.key", "-o", "x.writ", "--not-after", "soon"]);
    assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));
}
