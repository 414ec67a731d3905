//! Delegation to a sub-agent through the tool gate (`Gate::check_with`):
//! an orchestrator agent holds a writ for the tools `deploy` and `read`
//! bound to its key O; it hands a sub-agent (key S) a child for `deploy`
//! with one argument value. The sub-agent, holding the child, its chain and
//! its own key, tries to widen what it may do by every field; each attempt
//! is denied with its code, and the valid child permits exactly its call.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "tests")]

use std::collections::BTreeMap;

use serde_json::json;
use writ_core::delegate::{self, Narrowing};
use writ_core::delegate_vectors::{orchestrator, root, sub_agent, tool};
use writ_core::fixtures::{self, sign, sign_with};
use writ_core::model::{Holder, Predicate};
use writ_core::{Attempt, Capabilities, DenialCode, HostFacts, Mode, Status, Timestamp, ToolAttempt};
use writ_gate::{Evidence, Gate, timestamp_now};

/// The orchestrator's root writ, valid from now for an hour.
fn live_root(now: Timestamp) -> Predicate {
    let mut p = root();
    p.issued_at = now;
    p.validity.not_before = now;
    p.validity.not_after = now.plus(3600);
    p
}

fn call(name: &str, args: &[(&str, &str)]) -> Attempt {
    Attempt::Tool(ToolAttempt {
        name: name.into(),
        args: args.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect::<BTreeMap<_, _>>(),
        args_sha256: None,
        definition_sha256: None,
    })
}

fn deploy(env: &str) -> Attempt {
    call("deploy", &[("env", env), ("service", "api-gateway")])
}

/// The tool gate, online: the authority counted this as use 1. It claims
/// every boundary kind, as a tool host that enforces them would, so that the
/// verdicts are delegation's whoever runs the test (an unprivileged user's
/// detected capabilities would refuse the fixture's boundaries first).
fn gate_check(writ: &[u8], ancestors: &[&[u8]], attempt: &Attempt) -> Result<(), DenialCode> {
    let gate = Gate::new(fixtures::trust_root(false), HostFacts::default())
        .with_mode(Mode::Online)
        .with_capabilities(Capabilities::ALL);
    let evidence = Evidence {
        status: Status::Good { checked_at: timestamp_now() },
        use_count: Some(1),
        receipt: None,
        ancestors: ancestors.iter().map(|a| a.to_vec()).collect(),
    };
    gate.check_with(writ, attempt, evidence).map(|_| ()).map_err(|d| d.code)
}

struct World {
    now: Timestamp,
    root: Predicate,
    root_env: Vec<u8>,
    child: Predicate,
    child_env: Vec<u8>,
}

/// The orchestrator delegates `deploy env=staging service=api-gateway`, one
/// use, half an hour, to the sub-agent, who may delegate once more.
fn world() -> World {
    let now = timestamp_now();
    let root = live_root(now);
    let root_env = sign(root.clone());
    let n = Narrowing {
        actions: Some(vec![
            delegate::narrow_tool(
                &root,
                "deploy",
                &[("env".into(), vec!["staging".into()]), ("service".into(), vec!["api-gateway".into()])],
            )
            .unwrap(),
        ]),
        not_after: Some(now.plus(1800)),
        uses: Some(1),
        depth: Some(1),
        holder: Some(sub_agent().public()),
        ..Narrowing::new("01940000-0000-7000-8000-000000000201".into(), now)
    };
    let child_env = delegate::mint(&root_env, &orchestrator(), &n).unwrap();
    let child = delegate::read_parent(&child_env).unwrap();
    World { now, root, root_env, child, child_env }
}

#[test]
fn the_valid_child_permits_exactly_its_call_through_the_tool_gate() {
    let w = world();
    assert_eq!(gate_check(&w.child_env, &[&w.root_env], &deploy("staging")), Ok(()));
    // The parent would allow these; the child does not.
    assert_eq!(gate_check(&w.child_env, &[&w.root_env], &deploy("production")), Err(DenialCode::ScopeArgs));
    assert_eq!(gate_check(&w.child_env, &[&w.root_env], &call("read", &[])), Err(DenialCode::ScopeProgram));
    assert_eq!(gate_check(&w.root_env, &[], &call("read", &[("path", "/etc")])), Ok(()));
    // Without its chain the child is signed by no issuer key.
    assert_eq!(gate_check(&w.child_env, &[], &deploy("staging")), Err(DenialCode::UnknownKey));
    let permit = Gate::new(fixtures::trust_root(false), HostFacts::default())
        .with_mode(Mode::Check)
        .with_capabilities(Capabilities::ALL)
        .check_with(
            &w.child_env,
            &deploy("staging"),
            Evidence { ancestors: vec![w.root_env.clone()], ..Evidence::default() },
        )
        .unwrap();
    assert_eq!(permit.verified().signer(), orchestrator().key_id());
    assert_eq!(permit.verified().root_issuer(), fixtures::issuer().key_id());
    let (name, args) = permit.into_tool_call().unwrap();
    assert_eq!(name, "deploy");
    assert_eq!(args.get("env").map(String::as_str), Some("staging"));
    assert_eq!(args.len(), 2);
}

#[test]
fn the_sub_agent_cannot_widen_its_child_by_any_field() {
    let w = world();
    let s = sub_agent();
    let grandchild = |f: &dyn Fn(&mut Predicate)| {
        let mut n = Narrowing::new("01940000-0000-7000-8000-000000000202".into(), w.now);
        n.depth = Some(0);
        let mut g = delegate::child_predicate(&w.child_env, &w.child, &s, &n).unwrap();
        f(&mut g);
        sign_with(g, &s)
    };
    let chain: [&[u8]; 2] = [&w.child_env, &w.root_env];
    // Its own narrower grandchild is fine: the sub-agent is the child's holder.
    assert_eq!(gate_check(&grandchild(&|_| {}), &chain, &deploy("staging")), Ok(()));
    type Case<'a> = (&'a str, Box<dyn Fn(&mut Predicate)>, DenialCode);
    let widened = DenialCode::DelegationWidened;
    let cases: Vec<Case<'_>> = vec![
        (
            "a second tool",
            Box::new(|g| g.scope.actions.push(tool(json!({"name": "read", "more_args": true})))),
            widened,
        ),
        (
            "another tool",
            Box::new(|g| g.scope.actions = vec![tool(json!({"name": "read", "more_args": true}))]),
            widened,
        ),
        (
            "another argument value",
            Box::new(|g| {
                g.scope.actions = vec![tool(json!({"name": "deploy", "args": {"env": {"exact": "production"},
                    "service": {"exact": "api-gateway"}}}))];
            }),
            widened,
        ),
        (
            "a dropped argument rule",
            Box::new(|g| {
                g.scope.actions = vec![tool(json!({"name": "deploy", "args": {"env": {"exact": "staging"}}}))]
            }),
            widened,
        ),
        (
            "free arguments",
            Box::new(|g| {
                g.scope.actions = vec![tool(json!({"name": "deploy", "more_args": true,
                    "args": {"env": {"exact": "staging"}, "service": {"exact": "api-gateway"}}}))];
            }),
            widened,
        ),
        ("a later end", Box::new(|g| g.validity.not_after = g.validity.not_after.plus(60)), widened),
        (
            "an earlier start",
            Box::new(|g| {
                g.issued_at = g.issued_at.plus(-60);
                g.validity.not_before = g.validity.not_before.plus(-60);
            }),
            widened,
        ),
        ("more uses", Box::new(|g| g.scope.uses = Some(2)), widened),
        ("unlimited uses", Box::new(|g| g.scope.uses = None), widened),
        ("a longer wall clock", Box::new(|g| g.scope.boundaries.wall_clock_secs = Some(601)), widened),
        ("no CPU limit", Box::new(|g| g.scope.boundaries.cpu_secs = None), widened),
        ("the network", Box::new(|g| g.scope.boundaries.network = Some(true)), widened),
        ("offline runs", Box::new(|g| g.scope.offline = true), widened),
        ("another reason", Box::new(|g| g.request.reason = "anything".into()), widened),
        ("another policy", Box::new(|g| g.policy.id = "lenient".into()), widened),
        ("changed governance", Box::new(|g| g.governance.approver_group = Some("dev".into())), widened),
        ("dropped conditions", Box::new(|g| g.conditions.clear()), widened),
        ("more depth", Box::new(|g| g.lineage.max_depth = 3), DenialCode::DelegationDepth),
        (
            "a skipped level",
            Box::new(|g| {
                g.lineage.depth = 3;
                g.lineage.max_depth = 3;
            }),
            DenialCode::DelegationDepth,
        ),
    ];
    for (what, f, code) in &cases {
        assert_eq!(gate_check(&grandchild(f.as_ref()), &chain, &deploy("staging")), Err(*code), "{what}");
    }
}

#[test]
fn the_sub_agent_cannot_rebind_the_holder_or_replace_the_parent() {
    let w = world();
    let s = sub_agent();
    // Re-signing its own child, widened, with its own key: the child's
    // parent (the root) names the orchestrator as holder.
    let mut wide = w.child.clone();
    wide.scope.uses = Some(5);
    wide.issuer = s.key_id();
    assert_eq!(
        gate_check(&sign_with(wide, &s), &[&w.root_env], &deploy("staging")),
        Err(DenialCode::DelegationSignature)
    );
    // Rebinding the child's holder after the orchestrator signed it.
    let mut env: writ_core::dsse::Envelope = serde_json::from_slice(&w.child_env).unwrap();
    let mut rebound = w.child.clone();
    rebound.lineage.holder = Some(Holder::new(&fixtures::stranger().public()));
    env.payload = writ_core::b64::encode(&serde_json::to_vec(&writ_core::issue::statement(rebound)).unwrap());
    let rebound_env = serde_json::to_vec(&env).unwrap();
    assert_eq!(gate_check(&rebound_env, &[&w.root_env], &deploy("staging")), Err(DenialCode::DelegationSignature));
    // A wider parent of the same id under the child: the digest differs.
    let mut other = w.root.clone();
    other.scope.uses = None;
    other.scope.actions.push(tool(json!({"name": "admin", "more_args": true})));
    assert_eq!(gate_check(&w.child_env, &[&sign(other)], &deploy("staging")), Err(DenialCode::LineageBroken));
    // A parent the sub-agent signed itself is no writ of the trust root.
    let mut own = w.root.clone();
    own.issuer = s.key_id();
    own.lineage.holder = Some(Holder::new(&s.public()));
    let own_env = sign_with(own.clone(), &s);
    let n = Narrowing::new("01940000-0000-7000-8000-000000000203".into(), w.now);
    let forged = delegate::mint(&own_env, &s, &n).unwrap();
    assert_eq!(gate_check(&forged, &[&own_env], &deploy("staging")), Err(DenialCode::LineageBroken));
    // Minting refuses what the verifier would refuse: no widening leaves the library.
    let mut more = Narrowing::new("01940000-0000-7000-8000-000000000204".into(), w.now);
    more.uses = Some(3);
    assert_eq!(delegate::mint(&w.child_env, &s, &more).unwrap_err().code, DenialCode::DelegationWidened);
    let mut deep = Narrowing::new("01940000-0000-7000-8000-000000000205".into(), w.now);
    deep.depth = Some(2);
    assert_eq!(delegate::mint(&w.child_env, &s, &deep).unwrap_err().code, DenialCode::DelegationDepth);
    assert_eq!(
        delegate::mint(&w.root_env, &s, &Narrowing::new("01940000-0000-7000-8000-000000000206".into(), w.now))
            .unwrap_err()
            .code,
        DenialCode::DelegationSignature
    );
    // The grandchild's own child goes past the depth the chain allows.
    let mut n = Narrowing::new("01940000-0000-7000-8000-000000000207".into(), w.now);
    n.depth = Some(0);
    n.holder = Some(s.public());
    let g_env = delegate::mint(&w.child_env, &s, &n).unwrap();
    let g = delegate::read_parent(&g_env).unwrap();
    let mut too_deep = g.clone();
    too_deep.id = "01940000-0000-7000-8000-000000000208".into();
    too_deep.lineage.parent = Some(writ_core::model::ParentRef {
        id: g.id.clone(),
        digest: writ_core::digest::DigestSet(writ_core::Sha256Digest::of(&g_env)),
    });
    too_deep.lineage.depth = 3;
    too_deep.lineage.max_depth = 3;
    assert_eq!(
        gate_check(&sign_with(too_deep, &s), &[&g_env, &w.child_env, &w.root_env], &deploy("staging")),
        Err(DenialCode::DelegationDepth)
    );
}
