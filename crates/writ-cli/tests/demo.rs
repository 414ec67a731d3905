//! README's first command, `writ demo`, must keep working: it runs the whole
//! flow (init, policy, approvals, receipts, gated execution, replay, tamper
//! and revocation denials, audit) and fails as soon as any step misbehaves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::path::Path;
use std::process::Command;

#[test]
fn the_demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_writ")).args(["demo", "--dir"]).arg(dir.path().join("demo")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("every step behaved as expected"));
    assert!(stdout.contains("deploying v2"), "the gated deploy ran");
    assert!(stdout.contains("denied (replayed)"));
    assert!(stdout.contains("exceeds_policy") || stdout.contains("policy allows at most 10"), "{stdout}");
    assert!(stdout.contains("LD_PRELOAD") && stdout.contains("@allow_env"), "{stdout}");
    assert!(
        stdout.contains("\"wall_clock_secs\": 10") || stdout.contains("wall_clock_secs"),
        "the writ carries policy's boundaries"
    );
    assert!(stdout.contains("the state agrees with the ledger"), "{stdout}");
    assert!(dir.path().join("demo/home/ledger.sqlite").exists());
}

mod common;

/// Boundaries from policy reach the run: `writ request` → the authority signs
/// policy's `@wall_clock` and `@file_size` into the writ → `writ exec` runs
/// a program that exceeds each one, and the gate stops it. A request asking
/// for more than policy allows is refused with its code.
#[test]
fn policy_boundaries_are_enforced_on_the_governed_run() {
    use common::{add_policies, home_with_dev_and_gate, writ_ok};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    home_with_dev_and_gate(d);
    // the CLI resolves the program (symlinks included), and policy names what runs
    let sh = std::fs::canonicalize(if Path::new("/bin/sh").exists() { "/bin/sh" } else { "/usr/bin/sh" }).unwrap();
    let sh = sh.to_str().unwrap();
    add_policies(
        d,
        &format!(
            "\n@id(\"sh-bounded\")\n@wall_clock(\"1\")\n@file_size(\"4K\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource)\nwhen {{ resource.path == \"{sh}\" }};\n"
        ),
    );
    // the run may execute as another uid (a root gate leases one): it must
    // be able to enter and write its working directory
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run_dir = d.join("run");
    std::fs::create_dir(&run_dir).unwrap();
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let cwd = run_dir.to_str().unwrap();
    let request = |out: &str, script: &str, extra: &[&str]| {
        let mut args = vec!["request", "--home", "h", "--key", "dev.key", "--cwd", cwd, "--out", out];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", sh, "-c", script]);
        Command::new(env!("CARGO_BIN_EXE_writ")).args(&args).current_dir(d).output().unwrap()
    };
    let home = d.join("h");
    let gate_key = d.join("gate.key");
    let exec = |w: &str, script: &str| {
        Command::new(env!("CARGO_BIN_EXE_writ"))
            .args(["exec", "--writ"])
            .arg(d.join(w))
            .arg("--home")
            .arg(&home)
            .arg("--key")
            .arg(&gate_key)
            .args(["--", sh, "-c", script])
            .current_dir(&run_dir)
            .output()
            .unwrap()
    };
    // more than policy allows: refused, nothing issued
    let out = request("x.writ", "sleep 5", &["--wall-clock", "30"]);
    assert_eq!(out.status.code(), Some(77), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exceeds_policy"));
    assert!(!d.join("x.writ").exists());
    // the signed writ carries policy's boundaries
    let out = request("sleep.writ", "sleep 5", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = writ_ok(d, &["inspect", "sleep.writ"]);
    assert!(shown.contains("wall_clock_secs") && shown.contains("file_size_bytes"), "{shown}");
    let started = std::time::Instant::now();
    let run = exec("sleep.writ", "sleep 5");
    assert!(
        matches!(run.status.code(), Some(143 | 137)),
        "the wall clock must end the run with a signal status, got {:?}: {}",
        run.status.code(),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "stopped by the 1 s wall clock");
    let script = "head -c 100000 /dev/zero > big";
    let out = request("write.writ", script, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = exec("write.writ", script);
    assert_eq!(
        run.status.code(),
        Some(128 + 25),
        "SIGXFSZ ends a write past 4 KiB: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let len = std::fs::metadata(run_dir.join("big")).unwrap().len();
    assert_eq!(len, 4096, "the file stops at the limit");
}

/// `writ demo --serve ADDR` ends with the demo's authority served, so the
/// Proof Viewer and the Lineage Explorer show the demo's own ledger.
#[test]
fn the_demo_serves_its_ledger_to_the_proof_viewer_and_lineage_explorer() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["demo", "--serve", &addr, "--dir"])
        .arg(dir.path().join("demo"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Keep draining the demo's stdout (the server it starts writes there too).
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(u) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                let _ = tx.send(u.to_owned());
            }
        }
    });
    let urls: Vec<String> = (0..2).filter_map(|_| rx.recv_timeout(std::time::Duration::from_secs(300)).ok()).collect();
    assert_eq!(urls.len(), 2, "the demo prints the viewer's and the explorer's URLs");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let get = |u: &str| {
        for _ in 0..100 {
            if let Ok(mut r) = agent.get(u).call() {
                return (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("`{u}` never answered");
    };
    let (status, viewer) = get(&urls[0]);
    let (status2, lineage) = get(&urls[1]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{viewer}");
    assert!(viewer.contains("Proof Viewer"), "{viewer}");
    assert_eq!(status2, 200, "{lineage}");
    assert!(lineage.contains("Lineage"), "{lineage}");
}
