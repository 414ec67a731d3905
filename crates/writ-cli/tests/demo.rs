//! README's first command, `writ demo`, must keep working: it runs the whole
//! flow (init, policy, approvals, receipts, gated execution, replay, tamper
//! and revocation denials, audit) and fails as soon as any step misbehaves.

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
    assert!(dir.path().join("demo/home/ledger.sqlite").exists());
}
