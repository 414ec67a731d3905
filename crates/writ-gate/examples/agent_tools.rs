//! An AI agent's tool-call dispatcher that cannot call a tool without a
//! [`Permit`]: the only way to reach a tool is `dispatch(permit)`, and the only
//! way to get a `Permit` is a successful `Gate::check` of a writ for exactly
//! that tool call. The tool then receives the checked arguments, never the raw
//! ones the model produced. Every call is recorded like the gate records a
//! run — a signed `exec_start` (fsynced) before the tool runs, an `exec_end`
//! after, a `denial` for each refusal — in a spool that `writ sync` uploads.
//!
//! Run with `cargo run -p writ-gate --example agent_tools [SPOOL]`. It uses the
//! public test keys of `writ_core::fixtures`, never meant for real use; a real
//! agent loads its trust root and its gate key (`writ keygen`, added with
//! `writ trust add --role gate`) from files. Run by the test
//! `crates/writ-gate/tests/agent_tools_example.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use writ_core::entry::{Entry, ExecEnd, ExecStart};
use writ_core::fixtures;
use writ_core::json::StrictMap;
use writ_core::model::{Action, ArgRule, ToolAction};
use writ_core::trust::{Role, key_entry};
use writ_core::{Sha256Digest, Timestamp, TrustRoot};
use writ_gate::{
    Attempt, Denial, Durability, Gate, HostFacts, Permit, Recorder, Spool, ToolAttempt, list_digest, record_denial,
    timestamp_now,
};

type Tool = fn(&BTreeMap<String, String>) -> String;

/// The agent's tools. Private: nothing outside `dispatch` can look one up.
fn tools() -> BTreeMap<&'static str, Tool> {
    let mut t: BTreeMap<&'static str, Tool> = BTreeMap::new();
    t.insert("read_ticket", |a| format!("ticket {}: printer on fire", a.get("id").map_or("?", String::as_str)));
    t.insert("refund", |a| format!("refunded {} EUR", a.get("amount").map_or("?", String::as_str)));
    t
}

const HOST: &str = "agent-1";

/// The one entry point to the tools: it takes a `Permit` by value, so a call
/// needs a fresh successful check, and uses only the checked arguments. The
/// call is recorded durably before the tool runs (no record, no call) and
/// its end after.
fn dispatch(permit: Permit, recorder: &Recorder) -> Result<String, Denial> {
    let (request_id, writ_id) = permit.ids();
    let (name, args) = permit.into_tool_call()?;
    let tool = tools()
        .get(name.as_str())
        .copied()
        .ok_or_else(|| Denial::new(writ_gate::DenialCode::ScopeProgram, format!("no tool `{name}`")))?;
    // The digests the Python gate uses too: SHA-256 of the tool name, and the
    // list digest over the name then each argument's name and value.
    let argv: Vec<&str> =
        std::iter::once(name.as_str()).chain(args.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()])).collect();
    let start = Entry::ExecStart(ExecStart {
        time: timestamp_now(),
        request_id: request_id.clone(),
        writ_id: writ_id.clone(),
        host: HOST.into(),
        program_digest: Sha256Digest::of(name.as_bytes()),
        argv_digest: list_digest(&argv),
    });
    recorder.record(&start).map_err(|e| {
        Denial::new(writ_gate::DenialCode::RecordFailed, format!("exec_start not recorded, the tool did not run: {e}"))
    })?;
    let out = tool(&args);
    let end = Entry::ExecEnd(ExecEnd {
        time: timestamp_now(),
        request_id,
        writ_id,
        host: HOST.into(),
        outcome: "returned".into(),
        exit_code: Some(0),
    });
    // The tool ran; a lost end record is reported, not a reason to hide the result.
    if let Err(e) = recorder.record_or_spool(&end, Durability::Lazy) {
        eprintln!("warning: exec_end not recorded: {e}");
    }
    Ok(out)
}

/// What the model asked for, as the agent runtime parsed it.
fn model_call(name: &str, args: &[(&str, &str)]) -> Attempt {
    Attempt::Tool(ToolAttempt {
        name: name.into(),
        args: args.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect(),
        args_sha256: None,
        definition_sha256: None,
    })
}

/// Runs the scripted agent with its records in `spool`: one line per call,
/// and the trust root the records verify under.
///
/// # Errors
/// The spool cannot be opened, or the trust root does not take the gate key.
pub fn run(spool: &Path) -> Result<(Vec<String>, TrustRoot), String> {
    // An authority issued this writ: the agent may read ticket 42-ish tickets,
    // nothing else.
    let now = timestamp_now().unix();
    let mut p = fixtures::predicate();
    p.issued_at = Timestamp(now - 10);
    p.validity.not_before = Timestamp(now - 10);
    p.validity.not_after = Timestamp(now + 600);
    let mut args = StrictMap::default();
    args.0.insert("id".to_string(), ArgRule::Glob("42*".into()));
    p.scope.actions = vec![Action::Tool(ToolAction {
        name: "read_ticket".into(),
        args,
        more_args: false,
        args_sha256: None,
        definition_sha256: None,
    })];
    p.scope.environment = Default::default();
    p.scope.boundaries = Default::default();
    let writ = fixtures::sign(p);

    // The gate's key signs every record; the trust root lists it as a `gate` key.
    let gate_key = fixtures::key(50);
    let mut file = fixtures::trust_root(false).file().clone();
    file.keys.push(key_entry("agent-gate", vec![Role::Gate], Vec::new(), &gate_key.public()));
    let trust = TrustRoot::from_file(file).map_err(|e| format!("trust root: {e}"))?;
    let host = HostFacts { hostname: HOST.into(), labels: BTreeSet::new() };
    writ_gate::check_gate_key(&trust, Some(gate_key.key_id()), &host).map_err(|d| d.detail)?;
    let spool = Spool::open(spool).map_err(|e| e.to_string())?;
    let recorder = Recorder::offline(spool).signed_by(Arc::new(gate_key));

    let gate = Gate::new(trust.clone(), host);
    let calls = [
        model_call("read_ticket", &[("id", "4217")]),
        model_call("read_ticket", &[("id", "7")]),
        model_call("read_ticket", &[("id", "4217"), ("verbose", "yes")]),
        model_call("refund", &[("amount", "5000")]),
    ];
    let mut lines = Vec::new();
    for call in &calls {
        match gate.check(&writ, call) {
            Ok(permit) => match dispatch(permit, &recorder) {
                Ok(out) => lines.push(format!("allowed: {call:?}\n  -> {out}")),
                Err(d) => lines.push(format!("denied ({}): {call:?}\n  -> {}", d.code, d.detail)),
            },
            Err(d) => {
                if let Err(e) = record_denial(&recorder, &d, &writ, HOST) {
                    eprintln!("warning: denial not recorded: {e}");
                }
                lines.push(format!("denied ({}): {call:?}\n  -> {}", d.code, d.detail));
            }
        }
    }
    Ok((lines, trust))
}

fn main() -> std::process::ExitCode {
    let spool = std::env::args_os()
        .nth(1)
        .map_or_else(|| std::env::temp_dir().join(format!("agent_tools.{}.spool", std::process::id())), PathBuf::from);
    match run(&spool) {
        Ok((lines, _)) => {
            for l in lines {
                println!("{l}");
            }
            println!("records in {}", spool.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("agent_tools: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
