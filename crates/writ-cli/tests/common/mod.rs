//! Set-up shared by the CLI integration tests that need an authority home.

use std::path::Path;
use std::process::Command;

/// Runs `writ ARGS` in `dir` and asserts it succeeded; returns its stdout.
pub fn writ_ok(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_writ")).args(args).current_dir(dir).output().expect("run writ");
    assert!(out.status.success(), "writ {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `writ init --home h` in `dir`, plus a requester `dev` (group `dev`, key
/// `dev.key`) and a gate `gate1` (key `gate.key`) in its trust root; returns
/// dev's key id.
pub fn home_with_dev_and_gate(dir: &Path) -> String {
    home_with_dev_and_gate_on(dir, &[])
}

/// [`home_with_dev_and_gate`] with more `writ init` arguments (e.g.
/// `--database URL --pg-schema S` for a home bound to PostgreSQL).
pub fn home_with_dev_and_gate_on(dir: &Path, init: &[&str]) -> String {
    let mut args = vec!["init", "--home", "h"];
    args.extend_from_slice(init);
    writ_ok(dir, &args);
    let dev = writ_ok(dir, &["keygen", "--out", "dev.key", "--name", "dev"]).trim().to_owned();
    writ_ok(dir, &["keygen", "--out", "gate.key", "--name", "gate1"]);
    writ_ok(
        dir,
        &["trust", "add", "--trust", "h/trust.json", "--role", "requester", "--group", "dev", "--key", "dev.key.pub"],
    );
    writ_ok(dir, &["trust", "add", "--trust", "h/trust.json", "--role", "gate", "--key", "gate.key.pub"]);
    dev
}

/// Appends Cedar policies to the home's `h/policies.cedar`.
pub fn add_policies(dir: &Path, cedar: &str) {
    let path = dir.join("h/policies.cedar");
    let mut pol = std::fs::read_to_string(&path).expect("policies.cedar");
    pol.push_str(cedar);
    std::fs::write(path, pol).expect("write policies.cedar");
}
