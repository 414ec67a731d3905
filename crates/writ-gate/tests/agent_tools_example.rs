//! Runs `examples/agent_tools.rs` (the Rust-library way of gating an agent in
//! `docs/agents.md`) and checks what it did: the permitted call ran, the
//! three others were denied with their codes, and every record in its spool
//! is a gate record signed by the gate key the trust root lists.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "tests")]

#[path = "../examples/agent_tools.rs"]
#[allow(dead_code, reason = "the example's `main` is not called here")]
mod agent_tools;

use writ_core::entry::Entry;
use writ_core::gate_record::GateRecord;

#[test]
fn the_documented_rust_example_runs_permitted_calls_only_and_signs_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("agent.spool");
    let (lines, trust) = agent_tools::run(&spool).unwrap();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[0].starts_with("allowed: ") && lines[0].ends_with("-> ticket 4217: printer on fire"), "{}", lines[0]);
    assert!(lines[1].starts_with("denied (scope_args): "), "{}", lines[1]);
    assert!(lines[2].starts_with("denied (scope_args): "), "{}", lines[2]);
    assert!(lines[3].starts_with("denied (scope_program): "), "{}", lines[3]);

    let records = writ_gate::Spool::read(&spool).unwrap();
    assert_eq!(records.torn_bytes, 0);
    let kinds: Vec<&str> = records
        .entries
        .iter()
        .map(|bytes| {
            let r = GateRecord::decode(bytes).unwrap();
            // Each verifies under the trust root's gate key (what the authority and `writ audit` check).
            r.verified_gate(&trust).unwrap();
            match r.entry {
                Entry::ExecStart(_) => "exec_start",
                Entry::ExecEnd(_) => "exec_end",
                Entry::Denial(_) => "denial",
                _ => "other",
            }
        })
        .collect();
    assert_eq!(kinds, ["exec_start", "exec_end", "denial", "denial", "denial"]);
}
