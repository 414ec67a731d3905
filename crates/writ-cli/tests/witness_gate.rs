//! The gate under a witness policy: a real `writ exec` (the gate's `exec`,
//! `writ_gate_cli::exec`, the same code as `writ-gate exec`), online against
//! a real `writ serve` whose trust root gives its ledger key a 2-of-3 policy
//! over three real `writ witness serve` processes, and requires receipts.
//!
//! One writ, one program (`touch MARKER`), several receipts: without one,
//! with the cosignatures stripped, the fork's receipt (a second log under the
//! ledger's key), and the fork's with the real log's cosignatures copied on
//! are each denied (exit 77, the code in the gate's status file) and the
//! marker is not created; the witnessed receipt runs the program.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

mod common;
mod served;
#[allow(dead_code, reason = "shared helpers, not all used here")]
mod witnessed;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use served::{run, serve};
use witnessed::{cosignatures, ok, without_cosignatures};

/// `writ exec` online through `url` with `receipt` (none: `--receipt` not
/// given and no `a.writ.receipt` beside the writ); exit code, the verdict
/// from `--status-file`, and the gate's output.
fn exec(d: &Path, url: &str, receipt: Option<&str>, marker: &str) -> (i32, serde_json::Value, String) {
    let mut args = vec!["exec", "--writ", "a.writ", "--authority", url, "--trust", "h/trust.json", "--key", "gate.key"];
    args.extend_from_slice(&["--spool", "spool", "--status-file", "status.json", "--json"]);
    if let Some(r) = receipt {
        args.extend_from_slice(&["--receipt", r]);
    }
    args.extend_from_slice(&["--", "/usr/bin/touch", marker]);
    let (c, text) = run(d, &args);
    let status = serde_json::from_slice(&std::fs::read(d.join("status.json")).unwrap()).unwrap();
    std::fs::remove_file(d.join("status.json")).unwrap();
    (c, status, text)
}

#[test]
fn the_gate_runs_only_a_writ_whose_receipt_a_quorum_cosigned() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    common::home_with_dev_and_gate(d);
    common::add_policies(
        d,
        "\n@id(\"test-touch\")\n@max_duration(\"300\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource)\nwhen { resource.path == \"/usr/bin/touch\" };\n",
    );
    let _witnesses = witnessed::witnessed(d, &["--require-receipt", "true"]);
    let srv = serve(d, &[]);
    // The program may run as another uid than the gate: let it write there.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(d.join("out")).unwrap();
    std::fs::set_permissions(d.join("out"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let marker_path = d.join("out/ran");
    let marker = marker_path.to_str().unwrap();
    ok(d, &["request", "--authority", &srv.url, "--key", "dev.key", "--out", "a.writ", "--", "/usr/bin/touch", marker]);
    // Kept out of the gate's default lookup (WRIT.receipt) so that each run
    // names the receipt it presents.
    std::fs::rename(d.join("a.writ.receipt"), d.join("witnessed.receipt")).unwrap();
    let receipt = std::fs::read_to_string(d.join("witnessed.receipt")).unwrap();
    assert!(cosignatures(&receipt).lines().count() >= 2, "the receipt carries the quorum:\n{receipt}");

    std::fs::write(d.join("bare.receipt"), without_cosignatures(&receipt)).unwrap();
    let (_fork, fork_bytes) = witnessed::fork(d, &receipt);
    std::fs::write(d.join("fork.receipt"), &fork_bytes).unwrap();
    std::fs::write(d.join("copied.receipt"), [fork_bytes, cosignatures(&receipt).into_bytes()].concat()).unwrap();
    for (receipt, code) in [
        (None, "receipt_missing"),
        (Some("bare.receipt"), "witness_quorum"),
        (Some("fork.receipt"), "witness_quorum"),
        (Some("copied.receipt"), "witness_stale"),
    ] {
        let (c, status, text) = exec(d, &srv.url, receipt, marker);
        assert_eq!(
            (c, status["verdict"].as_str(), status["code"].as_str()),
            (77, Some("deny"), Some(code)),
            "{receipt:?}: {text}"
        );
        assert!(text.contains(&format!("\"code\":\"{code}\"")), "--json prints the denial: {text}");
        assert!(!marker_path.exists(), "{receipt:?}: the program did not run");
    }

    let (c, status, text) = exec(d, &srv.url, Some("witnessed.receipt"), marker);
    assert_eq!((c, status["verdict"].as_str(), status["exit_code"].as_i64()), (0, Some("allow"), Some(0)), "{text}");
    assert!(marker_path.exists(), "the program ran: {text}");
}
