//! What the gate's test binaries share about the identity they run as. CI
//! runs them twice: as root (the strong isolation: a leased uid, a cgroup)
//! and as `nobody` (`scripts/gate-unprivileged.sh`), where the strong mode
//! refuses every run with `scope_boundary`.

use writ_gate::{LaunchOptions, Outcome};

/// Whether this process runs with effective uid 0 (read from `/proc`, so the
/// tests need no `unsafe`).
pub fn root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().nth(1));
    assert!(euid.is_some(), "no effective uid in /proc/self/status");
    euid == Some("0")
}

/// Launch options for a test about something other than isolation: as
/// root, the strong mode (the default, unchanged); otherwise the weaker mode,
/// opted into explicitly, which [`assert_isolation`] then checks was
/// reported.
#[allow(dead_code, reason = "`exec` takes no launch options: tests/exec.rs does not use this")]
pub fn launch_options() -> LaunchOptions {
    let mut opts = LaunchOptions::default();
    opts.isolation.allow_weaker = !root();
    opts
}

/// As root the run had the strong isolation (its own uid, nothing left out);
/// otherwise the outcome says what the weaker mode left out.
pub fn assert_isolation(o: &Outcome) {
    if root() {
        assert!(o.weakened.is_empty() && o.run_uid.is_some(), "as root the strong mode runs: {o:?}");
    } else {
        assert!(!o.weakened.is_empty(), "the weaker mode must say what it left out: {o:?}");
        assert!(o.weakened.iter().any(|w| w == "run_as"), "an unprivileged gate cannot switch uid: {o:?}");
    }
}
