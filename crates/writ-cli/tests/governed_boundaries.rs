//! Boundaries from policy on the whole governed path: `writ request` (pending:
//! the policy needs an approver) → `writ approve --yes` by another person →
//! `writ request --fetch` → `writ exec` runs a program that exceeds one
//! boundary at a time (CPU, memory, open files, network, writable paths), and
//! the gate stops or confines it; the same writ's boundaries let a run inside
//! them succeed. (Wall clock and file size: `demo.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

fn writ(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_writ")).args(args).current_dir(cwd).env_remove("WRIT_HOME").output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The run started (not a gate denial, exit 77) and did not succeed.
fn stopped(o: &Output) {
    assert!(!matches!(o.status.code(), Some(0 | 77)), "{}", text(o));
}

#[test]
fn every_policy_boundary_is_enforced_after_approval() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::home_with_dev_and_gate(d);
    common::writ_ok(d, &["keygen", "--out", "bob.key", "--name", "bob"]);
    common::writ_ok(
        d,
        &["trust", "add", "--trust", "h/trust.json", "--role", "approver", "--group", "sre", "--key", "bob.key.pub"],
    );
    let bash =
        std::fs::canonicalize(if Path::new("/bin/bash").exists() { "/bin/bash" } else { "/usr/bin/bash" }).unwrap();
    let bash = bash.to_str().unwrap();
    // The run may execute as another uid (a root gate leases one).
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run_dir = d.join("run");
    let allowed = run_dir.join("allowed");
    std::fs::create_dir_all(&allowed).unwrap();
    for p in [&run_dir, &allowed] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    common::add_policies(
        d,
        &format!(
            "\n@id(\"bash-bounded-approved\")\n@approvals(\"1\")\n@approver_group(\"sre\")\n@cpu(\"1\")\n@memory(\"256M\")\n@open_files(\"16\")\n@network(\"false\")\n@fs_write(\"{}\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource)\nwhen {{ resource.path == \"{bash}\" }};\n",
            allowed.display()
        ),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    // request → approve → fetch → exec, for one script.
    let governed = |name: &str, script: &str| -> Output {
        let out = format!("{name}.writ");
        let cwd = run_dir.to_str().unwrap();
        let r =
            writ(&["request", "--home", "h", "--key", "dev.key", "--json", "--cwd", cwd, "--", bash, "-c", script], d);
        assert!(r.status.success(), "{}", text(&r));
        let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        assert_eq!(v["status"], "pending", "the policy needs an approval: {v}");
        let id = v["request_id"].as_str().unwrap().to_owned();
        let a = writ(&["approve", "--home", "h", "--key", "bob.key", "--yes", &id], d);
        assert!(a.status.success(), "{}", text(&a));
        let f = writ(&["request", "--home", "h", "--key", "dev.key", "--fetch", &id, "--out", &out], d);
        assert!(f.status.success(), "{}", text(&f));
        let writ_path = d.join(&out);
        let gate_key = d.join("gate.key");
        let home = d.join("h");
        writ(
            &[
                "exec",
                "--writ",
                writ_path.to_str().unwrap(),
                "--home",
                home.to_str().unwrap(),
                "--key",
                gate_key.to_str().unwrap(),
                "--",
                bash,
                "-c",
                script,
            ],
            &run_dir,
        )
    };

    // Inside every boundary: runs, writes where it may.
    let inside = format!(
        "exec 5</dev/null; x=$(head -c 1000000 /dev/zero | tr '\\0' a); echo ok > {}/f; echo ${{#x}}",
        allowed.display()
    );
    let o = governed("inside", &inside);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1000000"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(allowed.join("f")).unwrap(), "ok\n");

    // CPU: a busy loop is stopped.
    let o = governed("cpu", "while :; do :; done");
    stopped(&o);
    // Memory: 400 MB in one string does not fit in 256 MiB.
    let o = governed("memory", "x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo ${#x}");
    stopped(&o);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("400000000"), "{}", text(&o));
    // Open files: descriptor 20 is past the limit of 16.
    let o = governed("files", "exec 20</dev/null && echo opened");
    stopped(&o);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("opened"), "{}", text(&o));
    // Network: the test's listener on loopback is out of reach.
    let o = governed("network", &format!("exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"));
    stopped(&o);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("connected"), "{}", text(&o));
    // Writable paths: outside `@fs_write`, nothing is written.
    let outside = run_dir.join("outside");
    let o = governed("fs", &format!("echo x > {} && echo wrote", outside.display()));
    stopped(&o);
    assert!(!outside.exists(), "{}", text(&o));
    drop(listener);
}
