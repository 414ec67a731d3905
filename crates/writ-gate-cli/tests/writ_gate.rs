//! The `writ-gate` binary's contract: exit codes, the denial line, `--json`
//! and `--status-file`, and that host facts come from its configuration.
//! (The governed run itself is tested as a library in crates/writ-gate/tests.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use writ_core::fixtures;
use writ_core::model::{Action, ExecAction};
use writ_core::{Sha256Digest, Timestamp};

fn gate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_writ-gate")).args(args).current_dir(dir).env_remove("WRIT_SPOOL").output().unwrap()
}

/// A temp dir with `trust.json` (the fixtures' trust root) and `w.writ`, an
/// offline writ for `/usr/bin/true`, only on host `build-01` with label `prod`.
fn world() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("trust.json"), fixtures::trust_root(false).to_json_pretty()).unwrap();
    let mut pr = fixtures::predicate();
    let t = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
    (pr.issued_at, pr.validity.not_before, pr.validity.not_after) =
        (Timestamp(t - 5), Timestamp(t - 5), Timestamp(t + 300));
    pr.scope.actions = vec![Action::Exec(ExecAction {
        program: "/usr/bin/true".into(),
        sha256: Sha256Digest::of(&std::fs::read("/usr/bin/true").unwrap()),
        args: vec![],
        more_args: false,
    })];
    pr.scope.environment = Default::default();
    pr.scope.environment.hosts = Some(vec!["build-01".into()]);
    pr.scope.environment.labels = vec!["prod".into()];
    pr.scope.boundaries = Default::default();
    pr.scope.uses = None;
    pr.scope.offline = true;
    std::fs::write(p.join("w.writ"), fixtures::sign(pr)).unwrap();
    dir
}

fn config(p: &Path, body: &str) {
    std::fs::write(p.join("gate.toml"), body).unwrap();
    std::fs::set_permissions(p.join("gate.toml"), std::fs::Permissions::from_mode(0o644)).unwrap();
}

const EXEC: [&str; 7] = ["exec", "--writ", "w.writ", "--trust", "trust.json", "--spool", "spool"];

#[test]
fn the_command_line_is_well_formed_and_version_exits_0() {
    use clap::CommandFactory as _;
    writ_gate_cli::Cli::command().debug_assert();
    let out = gate(Path::new("/"), &["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("writ-gate "));
    assert_eq!(gate(Path::new("/"), &["exec", "--no-such-flag"]).status.code(), Some(2));
}

/// Regression (issue 9 item 9): host facts were self-asserted (`--label`,
/// the kernel's host name); they come from the gate configuration.
#[test]
fn host_facts_come_from_the_configuration_not_from_flags() {
    let dir = world();
    let p = dir.path();
    // No configuration: this host has no name, and `--label` cannot add one.
    let out = gate(p, &[&EXEC[..], &["--config", "none.toml", "--", "/usr/bin/true"]].concat());
    assert_eq!(out.status.code(), Some(1), "a missing explicit config is an error");
    config(p, "hostname = \"other\"\nlabels = [\"prod\"]\n");
    let out = gate(p, &[&EXEC[..], &["--config", "gate.toml", "--json", "--", "/usr/bin/true"]].concat());
    assert_eq!(out.status.code(), Some(77));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "scope_host", "{v}");
    let out = gate(p, &[&EXEC[..], &["--config", "gate.toml", "--label", "dev", "--", "/usr/bin/true"]].concat());
    assert_eq!(out.status.code(), Some(2), "a label the configuration does not list is refused");
    config(p, "hostname = \"build-01\"\nlabels = [\"prod\"]\n");
    let out = gate(p, &[&EXEC[..], &["--config", "gate.toml", "--", "/usr/bin/true"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // A flag cannot contradict what the configuration sets.
    config(p, "hostname = \"build-01\"\nlabels = [\"prod\"]\ntrust = \"other.json\"\n");
    let out = gate(p, &[&EXEC[..], &["--config", "gate.toml", "--", "/usr/bin/true"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_denial_is_77_with_one_line_and_the_status_file_says_deny() {
    let dir = world();
    let p = dir.path();
    config(p, "hostname = \"build-01\"\nlabels = [\"prod\"]\n");
    let out = gate(
        p,
        &["exec", "--writ", "missing.writ", "--trust", "trust.json", "--spool", "spool", "--config", "gate.toml"]
            .iter()
            .chain(&["--status-file", "st.json", "--", "/usr/bin/true"])
            .copied()
            .collect::<Vec<_>>(),
    );
    assert_eq!(out.status.code(), Some(77));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("writ-gate: denied (malformed): "), "{stderr}");
    let st: serde_json::Value = serde_json::from_slice(&std::fs::read(p.join("st.json")).unwrap()).unwrap();
    assert_eq!((st["verdict"].as_str(), st["code"].as_str()), (Some("deny"), Some("malformed")));
    let spooled = writ_gate::Spool::read(&p.join("spool")).unwrap();
    assert_eq!(spooled.entries.len(), 1, "the denial is recorded");
}

#[test]
fn grace_and_status_interval_can_only_tighten() {
    let dir = world();
    let p = dir.path();
    for flags in [["--grace", "5"], ["--status-interval", "3600"], ["--grace", "-1"]] {
        let out = gate(p, &[&EXEC[..], &flags, &["--", "/usr/bin/true"]].concat());
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
