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
    assert!(stdout.contains("exceeds_policy") || stdout.contains("policy allows at most 10"), "{stdout}");
    assert!(stdout.contains("LD_PRELOAD") && stdout.contains("@allow_env"), "{stdout}");
    assert!(
        stdout.contains("\"wall_clock_secs\": 10") || stdout.contains("wall_clock_secs"),
        "the writ carries policy's boundaries"
    );
    assert!(stdout.contains("the state agrees with the ledger"), "{stdout}");
    assert!(dir.path().join("demo/home/ledger.sqlite").exists());
}
