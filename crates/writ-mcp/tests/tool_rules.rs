//! The tool rules the MCP gateway relies on, through the real core: `range`,
//! `args_sha256`, `definition_sha256` (matching, validation, attenuation),
//! and the gateway's decisions on messages (no transport).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use serde_json::{Value, json};
use writ_core::model::{Action, ArgRule, Scope, ToolAction};
use writ_core::{Attempt, Capabilities, DenialCode, Sha256Digest, Timestamp, ToolAttempt, fixtures};
use writ_gate::{Recorder, Spool};
use writ_mcp::gateway::{DENIED, Inbound, META_KEY, Pending};
use writ_mcp::{Config, Gateway, canon};

fn tool(name: &str, args: &[(&str, ArgRule)]) -> ToolAction {
    serde_json::from_value(json!({"name": name}))
        .map(|mut t: ToolAction| {
            t.args.0 = args.iter().map(|(k, r)| ((*k).to_owned(), r.clone())).collect();
            t
        })
        .unwrap()
}

fn scope(actions: Vec<ToolAction>) -> Scope {
    serde_json::from_value(json!({"actions": []}))
        .map(|mut s: Scope| {
            s.actions = actions.into_iter().map(Action::Tool).collect();
            s
        })
        .unwrap()
}

fn attempt(name: &str, args: &[(&str, &str)], def: Option<Sha256Digest>, all: Option<Sha256Digest>) -> Attempt {
    Attempt::Tool(ToolAttempt {
        name: name.into(),
        args: args.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        args_sha256: all,
        definition_sha256: def,
    })
}

fn code(s: &Scope, a: &Attempt) -> Option<DenialCode> {
    writ_core::scope::check(s, a, None, &Capabilities::ALL).err().map(|d| d.code)
}

#[test]
fn a_range_admits_numbers_within_its_bounds_only() {
    let s = scope(vec![tool("refund", &[("amount", ArgRule::Range { min: Some(1), max: Some(100) })])]);
    for ok in ["1", "100", "42", "99.5", "1e2"] {
        assert_eq!(code(&s, &attempt("refund", &[("amount", ok)], None, None)), None, "{ok}");
    }
    for bad in ["0", "101", "100.01", "-5", "", " 5", "5 ", "NaN", "inf", "0x10", "five", "1e3"] {
        assert_eq!(
            code(&s, &attempt("refund", &[("amount", bad)], None, None)),
            Some(DenialCode::ScopeArgs),
            "{bad:?}"
        );
    }
    let open = scope(vec![tool("t", &[("n", ArgRule::Range { min: None, max: Some(-1) })])]);
    assert_eq!(code(&open, &attempt("t", &[("n", "-9223372036854775808")], None, None)), None);
    assert_eq!(code(&open, &attempt("t", &[("n", "0")], None, None)), Some(DenialCode::ScopeArgs));
}

#[test]
fn a_range_without_bounds_or_upside_down_does_not_validate() {
    let mut p = fixtures::predicate();
    p.scope = scope(vec![tool("t", &[("n", ArgRule::Range { min: None, max: None })])]);
    let st = writ_core::issue::statement(p.clone());
    assert!(st.validate().unwrap_err().contains("range"));
    p.scope = scope(vec![tool("t", &[("n", ArgRule::Range { min: Some(5), max: Some(1) })])]);
    assert!(writ_core::issue::statement(p.clone()).validate().unwrap_err().contains("above max"));
}

#[test]
fn the_definition_digest_is_scope_action_and_the_argument_digest_scope_args() {
    let def = Sha256Digest::of(b"definition as announced");
    let all = canon::digest(&json!({"amount": 5}));
    let mut t = tool("refund", &[]);
    t.more_args = true;
    t.definition_sha256 = Some(def);
    t.args_sha256 = Some(all);
    let s = scope(vec![t]);
    assert_eq!(code(&s, &attempt("refund", &[("amount", "5")], Some(def), Some(all))), None);
    let changed = Sha256Digest::of(b"a changed description");
    assert_eq!(
        code(&s, &attempt("refund", &[("amount", "5")], Some(changed), Some(all))),
        Some(DenialCode::ScopeAction)
    );
    assert_eq!(code(&s, &attempt("refund", &[("amount", "5")], None, Some(all))), Some(DenialCode::ScopeAction));
    let other = canon::digest(&json!({"amount": "5"}));
    assert_eq!(code(&s, &attempt("refund", &[("amount", "5")], Some(def), Some(other))), Some(DenialCode::ScopeArgs));
    assert_eq!(code(&s, &attempt("refund", &[("amount", "5")], Some(def), None)), Some(DenialCode::ScopeArgs));
}

#[test]
fn the_new_fields_are_absent_from_old_writs_and_kept_by_children() {
    let t = tool("refund", &[("amount", ArgRule::Glob("?".into()))]);
    assert_eq!(serde_json::to_value(&t).unwrap(), json!({"name": "refund", "args": {"amount": {"glob": "?"}}}));
    let mut parent = fixtures::predicate();
    let mut pt = tool("refund", &[("amount", ArgRule::Range { min: Some(1), max: Some(100) })]);
    pt.definition_sha256 = Some(Sha256Digest::of(b"d"));
    parent.scope = scope(vec![pt.clone()]);
    let child_with = |ct: ToolAction| {
        let mut c = parent.clone();
        c.lineage.depth = parent.lineage.depth + 1;
        c.lineage.max_depth = parent.lineage.max_depth.max(c.lineage.depth);
        c.scope = scope(vec![ct]);
        c
    };
    let mut narrower = pt.clone();
    narrower.args.0.insert("amount".into(), ArgRule::Range { min: Some(10), max: Some(50) });
    let mut parent_deep = parent.clone();
    parent_deep.lineage.max_depth = 3;
    let check = |c: &writ_core::model::Predicate| writ_core::attenuate::check(&parent_deep, c);
    let mut c = child_with(narrower);
    c.lineage.max_depth = 3;
    assert_eq!(check(&c), Ok(()));
    let mut exact = pt.clone();
    exact.args.0.insert("amount".into(), ArgRule::Exact("7".into()));
    let mut c = child_with(exact);
    c.lineage.max_depth = 3;
    assert_eq!(check(&c), Ok(()), "an exact value inside the range narrows it");
    for widened in [
        {
            let mut w = pt.clone();
            w.args.0.insert("amount".into(), ArgRule::Range { min: Some(0), max: Some(50) });
            w
        },
        {
            let mut w = pt.clone();
            w.args.0.insert("amount".into(), ArgRule::Range { min: Some(1), max: None });
            w
        },
        {
            let mut w = pt.clone();
            w.args.0.insert("amount".into(), ArgRule::Exact("500".into()));
            w
        },
        {
            let mut w = pt.clone();
            w.definition_sha256 = None;
            w
        },
        {
            let mut w = pt.clone();
            w.definition_sha256 = Some(Sha256Digest::of(b"other"));
            w
        },
    ] {
        let mut c = child_with(widened.clone());
        c.lineage.max_depth = 3;
        assert!(check(&c).is_err(), "{widened:?}");
    }
}

// ---- the gateway's decisions, without a transport ----

fn now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn offline_writ(actions: Vec<ToolAction>) -> Vec<u8> {
    let mut p = fixtures::predicate();
    let t = now();
    (p.issued_at, p.validity.not_before, p.validity.not_after) =
        (Timestamp(t - 5), Timestamp(t - 5), Timestamp(t + 600));
    p.scope = scope(actions);
    p.scope.offline = true;
    fixtures::sign(p)
}

fn gateway(dir: &std::path::Path) -> Gateway {
    Gateway::new(Config {
        trust: fixtures::trust_root(false),
        host: writ_core::HostFacts::default(),
        online: None,
        // Offline the spool holds the records, each signed by the gate's key.
        recorder: Recorder::offline(Spool::open(&dir.join("spool")).unwrap())
            .signed_by(std::sync::Arc::new(fixtures::key(90))),
        methods: Default::default(),
        approvals: None,
    })
}

fn call(id: u64, name: &str, args: Value, writ: Option<&[u8]>) -> Value {
    use base64::Engine as _;
    let mut params = json!({"name": name, "arguments": args, "_meta": {"progressToken": 1}});
    if let Some(w) = writ {
        params["_meta"][META_KEY] = Value::String(base64::engine::general_purpose::STANDARD.encode(w));
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

#[test]
fn the_gateway_forwards_a_permitted_call_without_the_writ_and_answers_the_rest_itself() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path());
    let w = offline_writ(vec![tool("refund", &[("amount", ArgRule::Range { min: Some(1), max: Some(9) })])]);

    let Inbound::Forward { message, pending } = gw.inbound(call(1, "refund", json!({"amount": 5}), Some(&w)), &[])
    else {
        panic!("a permitted call is forwarded");
    };
    assert_eq!(message["params"]["_meta"], json!({"progressToken": 1}), "the writ is stripped, the rest kept");
    assert_eq!(message["params"]["arguments"], json!({"amount": 5}));
    let answer = json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [], "isError": true}});
    assert_eq!(gw.outbound(pending, answer.clone()), answer);

    for (msg, want) in [
        (call(2, "refund", json!({"amount": 50}), Some(&w)), "scope_args"),
        (call(3, "wire_money", json!({}), Some(&w)), "scope_program"),
        (call(4, "refund", json!({"amount": 5}), None), "malformed"),
        (call(5, "refund", json!("five"), Some(&w)), "malformed"),
    ] {
        let Inbound::Reply(r) = gw.inbound(msg, &[]) else { panic!("denied calls are answered here") };
        assert_eq!(r["error"]["code"], json!(DENIED));
        assert_eq!(r["error"]["data"]["writ"]["code"], json!(want), "{r}");
    }
    let Inbound::Reply(r) = gw.inbound(json!([call(6, "refund", json!({}), Some(&w))]), &[]) else { panic!() };
    assert_eq!(r["error"]["code"], json!(-32600), "batches are refused");
    let Inbound::Reply(r) = gw.inbound(json!({"jsonrpc": "2.0", "id": 7, "method": "resources/read"}), &[]) else {
        panic!()
    };
    assert_eq!(r["error"]["code"], json!(-32601));

    let spooled: Vec<writ_core::entry::Entry> = Spool::read(&dir.path().join("spool"))
        .unwrap()
        .entries
        .iter()
        .map(|b| writ_core::entry::Entry::decode(b).unwrap())
        .collect();
    let kinds: Vec<&str> = spooled.iter().map(|e| e.kind().as_str()).collect();
    assert_eq!(kinds, ["exec_start", "exec_end", "denial", "denial", "denial", "denial"]);
    let writ_core::entry::Entry::ExecEnd(end) = &spooled[1] else { panic!() };
    assert!(end.outcome.starts_with("tool_error duration_us="), "{}", end.outcome);
    assert_eq!(end.exit_code, Some(1));
}

#[test]
fn a_listing_shows_only_permitted_tools_with_their_definition_digest() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path());
    let announced = json!([
        {"name": "refund", "description": "Refund.", "inputSchema": {"type": "object"}},
        {"name": "delete_everything", "inputSchema": {"type": "object"}},
    ]);
    let def = canon::definition_digest(&announced[0]);
    let mut t = tool("refund", &[("amount", ArgRule::Exact("5".into()))]);
    t.definition_sha256 = Some(def);
    let w = offline_writ(vec![t]);
    let list = |w: &[u8]| {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::STANDARD.encode(w);
        let Inbound::Forward { message, pending } = gw.inbound(
            json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {"_meta": {META_KEY: b}}}),
            &[],
        ) else {
            panic!()
        };
        assert!(message["params"].get("_meta").is_none());
        assert!(matches!(pending, Pending::List(_)));
        gw.outbound(pending, json!({"jsonrpc": "2.0", "id": 9, "result": {"tools": announced.clone()}}))
    };
    let shown = list(&w);
    let tools = shown["result"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["name"], "refund");
    assert_eq!(tools[0]["_meta"]["dev.writ/definition_sha256"], json!(def.to_hex()));
}
