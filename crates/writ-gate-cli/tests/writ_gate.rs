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

/// The gate's key (it signs every record the gate writes).
fn gate_key() -> writ_core::SigningKey {
    fixtures::key(0x47)
}

/// A temp dir with `trust.json` (the fixtures' trust root plus the gate key
/// `gate.key`, adjusted by `gate_entry`) and `w.writ`, an offline writ for
/// `/usr/bin/true`, only on host `build-01` with label `prod`.
fn world_with(gate_entry: impl FnOnce(&mut writ_core::trust::TrustedKeyFile)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let mut trust = fixtures::trust_root(false);
    let mut e = writ_core::trust::key_entry("gate-build-01", vec![writ_core::Role::Gate], vec![], &gate_key().public());
    gate_entry(&mut e);
    trust.add(e).unwrap();
    std::fs::write(p.join("trust.json"), trust.to_json_pretty()).unwrap();
    std::fs::write(p.join("gate.key"), format!("ed25519-secret {}\n", writ_core::b64::encode(&gate_key().seed()[..])))
        .unwrap();
    std::fs::set_permissions(p.join("gate.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    write_writ(p, Path::new("/usr/bin/true"));
    dir
}

/// Writes `w.writ` in `p`: an offline writ for `program` (no arguments),
/// only on host `build-01` with label `prod`.
fn write_writ(p: &Path, program: &Path) {
    let mut pr = fixtures::predicate();
    let t = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
    (pr.issued_at, pr.validity.not_before, pr.validity.not_after) =
        (Timestamp(t - 5), Timestamp(t - 5), Timestamp(t + 300));
    pr.scope.actions = vec![Action::Exec(ExecAction {
        program: program.to_str().unwrap().into(),
        sha256: Sha256Digest::of(&std::fs::read(program).unwrap()),
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
}

fn world() -> tempfile::TempDir {
    world_with(|_| {})
}

fn config(p: &Path, body: &str) {
    std::fs::write(p.join("gate.toml"), body).unwrap();
    std::fs::set_permissions(p.join("gate.toml"), std::fs::Permissions::from_mode(0o644)).unwrap();
}

const EXEC: [&str; 9] = ["exec", "--writ", "w.writ", "--trust", "trust.json", "--spool", "spool", "--key", "gate.key"];

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
            .chain(&["--key", "gate.key"])
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
    let r = writ_core::gate_record::GateRecord::decode(&spooled.entries[0]).unwrap();
    assert_eq!(r.signer(), Some(gate_key().key_id()), "and signed by the gate key");
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

/// Issue 9 item 6: every record a gate writes is signed by its gate key, so
/// a gate without its key, or with a key that is not a gate key of the trust
/// root, runs nothing (`record_failed`).
#[test]
fn a_gate_without_a_gate_key_of_the_trust_root_runs_nothing() {
    let dir = world();
    let p = dir.path();
    config(p, "hostname = \"build-01\"\nlabels = [\"prod\"]\n");
    let keyless = ["exec", "--writ", "w.writ", "--trust", "trust.json", "--spool", "spool", "--config", "gate.toml"];
    let out = gate(p, &[&keyless[..], &["--json", "--", "/usr/bin/true"]].concat());
    assert_eq!(out.status.code(), Some(77), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "record_failed", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("--key"), "{v}");
    // A key the trust root does not list as a gate key.
    std::fs::write(
        p.join("other.key"),
        format!("ed25519-secret {}\n", writ_core::b64::encode(&fixtures::key(0x48).seed()[..])),
    )
    .unwrap();
    std::fs::set_permissions(p.join("other.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = gate(p, &[&keyless[..], &["--key", "other.key", "--json", "--", "/usr/bin/true"]].concat());
    assert_eq!(out.status.code(), Some(77));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "record_failed", "{v}");
    assert!(!p.join("spool").exists() || writ_gate::Spool::read(&p.join("spool")).unwrap().entries.is_empty());
    let out = gate(p, &[&keyless[..], &["--key", "gate.key", "--", "/usr/bin/true"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for bytes in writ_gate::Spool::read(&p.join("spool")).unwrap().entries {
        let r = writ_core::gate_record::GateRecord::decode(&bytes).unwrap();
        let trust = writ_core::TrustRoot::from_json(&std::fs::read(p.join("trust.json")).unwrap()).unwrap();
        assert_eq!(r.verified_gate(&trust).unwrap().entry.name, "gate-build-01", "{:?}", r.entry.kind());
    }
}

/// Issue 9 item 9: host facts are bound to the gate key in the trust root;
/// a configuration that asserts others refuses to run (`scope_host`, naming
/// the binding).
#[test]
fn host_facts_outside_the_gate_keys_binding_refuse_to_run() {
    let dir = world_with(|e| {
        e.hosts = vec!["build-*".into()];
        e.labels = vec!["prod".into(), "eu".into()];
    });
    let p = dir.path();
    for (facts, ok) in [
        ("hostname = \"build-01\"\nlabels = [\"prod\"]\n", true),
        ("hostname = \"build-01\"\nlabels = [\"prod\", \"eu\"]\n", true),
        ("hostname = \"db-01\"\nlabels = [\"prod\"]\n", false),
        ("hostname = \"build-01\"\nlabels = [\"prod\", \"pci\"]\n", false),
    ] {
        config(p, facts);
        let out = gate(p, &[&EXEC[..], &["--config", "gate.toml", "--json", "--", "/usr/bin/true"]].concat());
        if ok {
            assert_eq!(out.status.code(), Some(0), "{facts}: {}", String::from_utf8_lossy(&out.stderr));
        } else {
            assert_eq!(out.status.code(), Some(77), "{facts}");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["code"], "scope_host", "{facts}: {v}");
            assert!(v["detail"].as_str().unwrap().contains("bound by the trust root"), "{v}");
        }
    }
}

/// `nobody`'s uid and gid from `/etc/passwd`.
fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd.lines().find(|l| l.starts_with("nobody:")).expect("a `nobody` account");
    let f: Vec<&str> = line.split(':').collect();
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

/// Issue 9 items 1 and 9: only the trust root can allow a gate the weaker
/// isolation mode. Through the real `writ-gate exec` binary, run as an
/// unprivileged user (as `nobody` when the test runs as root): without
/// `allow_weaker_isolation` on its key the run is refused `scope_boundary`,
/// naming what is missing (`run_as`), and nothing runs; with it the program
/// runs, and its signed `exec_start` and `exec_end` say what was left out.
#[test]
fn an_unprivileged_gate_runs_weaker_only_when_its_trust_root_key_allows_it() {
    use std::os::unix::fs::MetadataExt as _;
    use std::os::unix::process::CommandExt as _;
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    for allow in [false, true] {
        let dir = world_with(|e| e.allow_weaker_isolation = allow);
        let p = dir.path();
        config(p, "hostname = \"build-01\"\nlabels = [\"prod\"]\n");
        // What the unprivileged gate owns: its key and spool, in `run/`.
        std::fs::create_dir(p.join("run")).unwrap();
        std::fs::rename(p.join("gate.key"), p.join("run/gate.key")).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_writ-gate"), p.join("writ-gate")).unwrap();
        let mut cmd = Command::new(p.join("writ-gate"));
        cmd.args([
            "exec",
            "--writ",
            "w.writ",
            "--trust",
            "trust.json",
            "--spool",
            "run/spool",
            "--key",
            "run/gate.key",
        ])
        .args(["--config", "gate.toml", "--json", "--status-file", "run/status.json", "--"])
        .arg(p.join("marker.sh"))
        .current_dir(p)
        .env_remove("WRIT_SPOOL");
        if root {
            let (uid, gid) = nobody();
            for f in ["", "trust.json", "w.writ", "gate.toml", "writ-gate"] {
                let mode = if f.is_empty() || f == "writ-gate" { 0o755 } else { 0o644 };
                std::fs::set_permissions(p.join(f), std::fs::Permissions::from_mode(mode)).unwrap();
            }
            std::os::unix::fs::chown(p.join("run"), Some(uid), Some(gid)).unwrap();
            std::os::unix::fs::chown(p.join("run/gate.key"), Some(uid), Some(gid)).unwrap();
            cmd.uid(uid).gid(gid);
        }
        // The writ's program: writes a marker where only the run's uid may.
        let marker = p.join("run/ran");
        std::fs::write(p.join("marker.sh"), format!("#!/bin/sh\necho ran > {}\n", marker.display())).unwrap();
        std::fs::set_permissions(p.join("marker.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        write_writ(p, &p.join("marker.sh"));
        if root {
            std::fs::set_permissions(p.join("w.writ"), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        // The copied `writ-gate` was just written: a fork in another test
        // thread may still hold its write descriptor for an instant
        // (`ETXTBSY`), so an exec that finds the file busy is tried again.
        let out = (0..50)
            .find_map(|_| match cmd.output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    None
                }
                other => Some(other.unwrap()),
            })
            .expect("the copied writ-gate stayed busy for a second");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let spooled = writ_gate::Spool::read(&p.join("run/spool")).unwrap().entries;
        let trust = writ_core::TrustRoot::from_json(&std::fs::read(p.join("trust.json")).unwrap()).unwrap();
        let records: Vec<_> = spooled
            .iter()
            .map(|b| {
                let r = writ_core::gate_record::GateRecord::decode(b).unwrap();
                assert!(r.verified_gate(&trust).is_ok(), "every record is signed by the gate key");
                r
            })
            .collect();
        let kinds: Vec<&str> = records.iter().map(|r| r.entry.kind().as_str()).collect();
        if allow {
            assert_eq!(out.status.code(), Some(0), "{stderr}");
            assert_eq!(std::fs::read_to_string(&marker).unwrap(), "ran\n");
            assert_eq!(kinds, ["exec_start", "exec_end"]);
            for r in &records {
                assert!(
                    r.weakened.iter().any(|w| w == "run_as"),
                    "{:?} says what was left out: {:?}",
                    kinds,
                    r.weakened
                );
            }
        } else {
            assert_eq!(out.status.code(), Some(77), "{stderr}");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["code"], "scope_boundary", "{v}");
            let detail = v["detail"].as_str().unwrap();
            assert!(detail.contains("run_as") && detail.contains("trust root"), "{detail}");
            assert!(!marker.exists(), "nothing ran");
            assert_eq!(kinds.last(), Some(&"denial"), "{kinds:?}");
            assert!(records.iter().all(|r| r.weakened.is_empty()), "the strong mode weakens nothing");
        }
    }
}
