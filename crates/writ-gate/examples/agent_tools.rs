//! An AI agent's tool-call dispatcher that cannot call a tool without a
//! [`Permit`]: the only way to reach a tool is `dispatch(permit)`, and the only
//! way to get a `Permit` is a successful `Gate::check` of a writ for exactly
//! that tool call. The tool then receives the checked arguments, never the raw
//! ones the model produced.
//!
//! Run with `cargo run -p writ-gate --example agent_tools`. It uses the public
//! test keys of `writ_core::fixtures`, never meant for real use.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use writ_core::Timestamp;
use writ_core::fixtures;
use writ_core::json::StrictMap;
use writ_core::model::{Action, ArgRule, ToolAction};
use writ_gate::{Attempt, Denial, Gate, HostFacts, Permit, ToolAttempt};

type Tool = fn(&BTreeMap<String, String>) -> String;

/// The agent's tools. Private: nothing outside `dispatch` can look one up.
fn tools() -> BTreeMap<&'static str, Tool> {
    let mut t: BTreeMap<&'static str, Tool> = BTreeMap::new();
    t.insert("read_ticket", |a| format!("ticket {}: printer on fire", a.get("id").map_or("?", String::as_str)));
    t.insert("refund", |a| format!("refunded {} EUR", a.get("amount").map_or("?", String::as_str)));
    t
}

/// The one entry point to the tools: it takes a `Permit` by value, so a call
/// needs a fresh successful check, and uses only the checked arguments.
fn dispatch(permit: Permit) -> Result<String, Denial> {
    let (name, args) = permit.into_tool_call()?;
    let tool = tools()
        .get(name.as_str())
        .copied()
        .ok_or_else(|| Denial::new(writ_gate::DenialCode::ScopeProgram, format!("no tool `{name}`")))?;
    Ok(tool(&args))
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

fn main() {
    // An authority issued this writ: the agent may read ticket 42-ish tickets,
    // nothing else.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let now = i64::try_from(now).unwrap_or(i64::MAX);
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

    let gate =
        Gate::new(fixtures::trust_root(false), HostFacts { hostname: "agent-1".into(), labels: BTreeSet::new() });
    let calls = [
        model_call("read_ticket", &[("id", "4217")]),
        model_call("read_ticket", &[("id", "7")]),
        model_call("read_ticket", &[("id", "4217"), ("verbose", "yes")]),
        model_call("refund", &[("amount", "5000")]),
    ];
    for call in &calls {
        match gate.check(&writ, call).and_then(dispatch) {
            Ok(out) => println!("allowed: {call:?}\n  -> {out}"),
            Err(d) => println!("denied ({}): {call:?}\n  -> {}", d.code, d.detail),
        }
    }
}
