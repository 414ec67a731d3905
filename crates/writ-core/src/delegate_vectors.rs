//! Test vectors of delegation (`docs/format.md` §18): an orchestrator agent
//! holds a root writ for the tools `deploy` and `read`, bound to its key
//! [`orchestrator`]; it hands a sub-agent ([`sub_agent`]) a child writ for
//! `deploy` with one argument value. Every way the child could grant more
//! than its parent is one `deny_delegation_*` vector with its code.

#![allow(clippy::missing_panics_doc, clippy::expect_used, reason = "fixtures are test support built from constants")]

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use serde_json::json;

use crate::b64;
use crate::delegate::{self, Narrowing};
use crate::denial::DenialCode;
use crate::digest::{DigestSet, Sha256Digest};
use crate::fixtures::{NOW, T0, Vector, key, predicate, sign, sign_with, stranger};
use crate::keys::SigningKey;
use crate::model::{Action, Holder, Lineage, ParentRef, Predicate};
use crate::spec::{AttemptSpec, ContextSpec, ModeSpec, StatusSpec};

/// The orchestrator agent's holder key (public test seed 40).
#[must_use]
pub fn orchestrator() -> SigningKey {
    key(40)
}

/// The sub-agent's key (public test seed 41).
#[must_use]
pub fn sub_agent() -> SigningKey {
    key(41)
}

fn uuid(n: u8) -> String {
    alloc::format!("01940000-0000-7000-8000-0000000001{n:02x}")
}

/// A tool action from its JSON form (`{"name": …, "args": …}`).
#[must_use]
pub fn tool(v: serde_json::Value) -> Action {
    serde_json::from_value(json!({ "tool": v })).expect("fixture tool action")
}

/// The orchestrator's root writ: `deploy` (argument `env` one of staging
/// or production, `service` any `api-*`) and `read` (any arguments), five
/// counted uses, one hour, delegable two levels deep by [`orchestrator`].
#[must_use]
pub fn root() -> Predicate {
    let mut p = predicate();
    p.id = uuid(1);
    p.scope.actions = vec![
        tool(
            json!({"name": "deploy", "args": {"env": {"one_of": ["staging", "production"]}, "service": {"glob": "api-*"}}}),
        ),
        tool(json!({"name": "read", "more_args": true})),
    ];
    p.scope.environment = crate::model::Environment::default();
    p.scope.uses = Some(5);
    p.scope.offline = false;
    p.lineage = Lineage { parent: None, depth: 0, max_depth: 2, holder: Some(Holder::new(&orchestrator().public())) };
    p
}

/// The narrowing the orchestrator gives the sub-agent: `deploy` with
/// `env=staging` and `service=api-gateway`, one use, half an hour.
#[must_use]
pub fn narrowing() -> Narrowing {
    Narrowing {
        actions: Some(vec![tool(
            json!({"name": "deploy", "args": {"env": {"exact": "staging"}, "service": {"exact": "api-gateway"}}}),
        )]),
        not_after: Some(T0.plus(1800)),
        uses: Some(1),
        holder: Some(sub_agent().public()),
        depth: Some(0),
        ..Narrowing::new(uuid(2), T0)
    }
}

/// The valid child predicate under the signed `parent`.
#[must_use]
pub fn child(parent_env: &[u8], parent: &Predicate) -> Predicate {
    delegate::child_predicate(parent_env, parent, &orchestrator(), &narrowing()).expect("fixture narrowing is valid")
}

/// The sub-agent's call: `deploy` with the one value.
#[must_use]
pub fn deploy_attempt(env: &str) -> AttemptSpec {
    serde_json::from_value(json!({"tool": {"name": "deploy", "args": {"env": env, "service": "api-gateway"}}}))
        .expect("fixture tool attempt")
}

/// Online (the child's use counted), with the chain `ancestors` (parent first).
#[must_use]
pub fn context(ancestors: &[&[u8]], attempt: AttemptSpec) -> ContextSpec {
    ContextSpec {
        mode: ModeSpec::Online,
        attempt: Some(attempt),
        status: StatusSpec::Good { checked_at: NOW },
        use_count: Some(1),
        ancestors: ancestors.iter().map(|a| b64::encode(a)).collect(),
        ..ContextSpec::check_at(NOW)
    }
}

/// Every delegation vector.
#[must_use]
#[allow(clippy::too_many_lines, reason = "one entry per vector reads best as a list")]
pub fn vectors() -> Vec<Vector> {
    let v = |name, description, envelope, context, expected| Vector {
        name,
        description,
        envelope,
        trust: "trust.json",
        context,
        expected,
    };
    let root_p = root();
    let root_env = sign(root_p.clone());
    let good = child(&root_env, &root_p);
    let ok_ctx = || context(&[&root_env], deploy_attempt("staging"));
    let by_holder = |p: Predicate| sign_with(p, &orchestrator());
    // A child the holder signs after changing one thing of the valid one.
    let altered = |f: &dyn Fn(&mut Predicate)| {
        let mut c = good.clone();
        f(&mut c);
        by_holder(c)
    };
    let mut out = Vec::new();
    out.push(v(
        "allow_delegated_child",
        "a sub-agent's child writ, signed by the orchestrator's holder key, narrowing tool, argument, time, uses and depth",
        by_holder(good.clone()),
        ok_ctx(),
        None,
    ));
    out.push(v(
        "deny_delegated_child_scope_args",
        "the valid child used with an argument value it does not permit (the parent would)",
        by_holder(good.clone()),
        context(&[&root_env], deploy_attempt("production")),
        Some(DenialCode::ScopeArgs),
    ));
    out.push(v(
        "deny_delegation_no_parent",
        "a child presented without its parent: no issuer signature, nothing to check the holder against",
        by_holder(good.clone()),
        context(&[], deploy_attempt("staging")),
        Some(DenialCode::UnknownKey),
    ));
    out.push(v(
        "deny_delegation_tool_added",
        "a child adding a tool the parent does not permit",
        altered(&|c| c.scope.actions.push(tool(json!({"name": "admin"})))),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_tool_renamed",
        "a child naming another tool than the parent's",
        altered(&|c| {
            c.scope.actions = vec![tool(json!({"name": "deploy-all", "args": {"env": {"exact": "staging"}}}))]
        }),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_arg_widened",
        "a child allowing an argument value the parent does not",
        altered(&|c| {
            c.scope.actions = vec![tool(json!({"name": "deploy", "args": {"env": {"one_of": ["staging", "dev"]}, "service": {"exact": "api-gateway"}}}))];
        }),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_arg_dropped",
        "a child dropping the parent's constraint on an argument",
        altered(&|c| c.scope.actions = vec![tool(json!({"name": "deploy", "args": {"env": {"exact": "staging"}}}))]),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_more_args",
        "a child letting unconstrained arguments through where the parent does not",
        altered(&|c| {
            c.scope.actions = vec![tool(json!({"name": "deploy", "more_args": true, "args": {"env": {"exact": "staging"}, "service": {"exact": "api-gateway"}}}))];
        }),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_not_after",
        "a child valid after its parent expires",
        altered(&|c| c.validity.not_after = T0.plus(7200)),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_not_before",
        "a child valid before its parent",
        altered(&|c| {
            c.issued_at = T0.plus(-60);
            c.validity.not_before = T0.plus(-60);
        }),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_uses",
        "a child permitting more uses than its parent",
        altered(&|c| c.scope.uses = Some(6)),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_uses_unlimited",
        "a child of a counted parent without a use limit",
        altered(&|c| c.scope.uses = None),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_boundaries",
        "a child raising the parent's wall-clock limit",
        altered(&|c| c.scope.boundaries.wall_clock_secs = Some(1200)),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_network",
        "a child allowing the network the parent forbids",
        altered(&|c| c.scope.boundaries.network = None),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_offline",
        "a child allowing offline execution the parent does not",
        altered(&|c| {
            c.scope.offline = true;
        }),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_request_changed",
        "a child claiming another request (reason) than its parent's",
        altered(&|c| c.request.reason = "ship everything".into()),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    {
        let parent = approved_root();
        let parent_env = sign(parent.clone());
        let mut c = child(&parent_env, &parent);
        c.governance.approvals_required = 1;
        out.push(v(
            "deny_delegation_approvals_lowered",
            "a child of an approved writ lowering its approval obligation",
            by_holder(c),
            context(&[&parent_env], deploy_attempt("staging")),
            Some(DenialCode::DelegationWidened),
        ));
    }
    out.push(v(
        "deny_delegation_policy_changed",
        "a child claiming another policy decision than its parent's",
        altered(&|c| c.policy.determining_policies = vec!["anything-goes".into()]),
        ok_ctx(),
        Some(DenialCode::DelegationWidened),
    ));
    out.push(v(
        "deny_delegation_max_depth",
        "a child allowing deeper delegation than its parent",
        altered(&|c| c.lineage.max_depth = 3),
        ok_ctx(),
        Some(DenialCode::DelegationDepth),
    ));
    out.push(v(
        "deny_delegation_depth_skipped",
        "a child claiming depth 2 directly under a root",
        altered(&|c| {
            c.lineage.depth = 2;
            c.lineage.max_depth = 2;
        }),
        ok_ctx(),
        Some(DenialCode::DelegationDepth),
    ));
    {
        // A root delegable one level: the sub-agent's grandchild is too deep.
        let mut shallow = root();
        shallow.lineage.max_depth = 1;
        let shallow_env = sign(shallow.clone());
        let mut n = narrowing();
        n.depth = Some(0);
        let c = delegate::child_predicate(&shallow_env, &shallow, &orchestrator(), &n).expect("valid child");
        let c_env = by_holder(c.clone());
        let mut g = c.clone();
        g.id = uuid(3);
        g.issuer = sub_agent().key_id();
        g.lineage = Lineage {
            parent: Some(ParentRef { id: c.id.clone(), digest: DigestSet(Sha256Digest::of(&c_env)) }),
            depth: 2,
            max_depth: 2,
            holder: None,
        };
        out.push(v(
            "deny_delegation_too_deep",
            "a grandchild below a root delegable only one level",
            sign_with(g, &sub_agent()),
            context(&[&c_env, &shallow_env], deploy_attempt("staging")),
            Some(DenialCode::DelegationDepth),
        ));
    }
    {
        // Root → orchestrator's child (holder: sub-agent) → sub-agent's grandchild.
        let mut n = narrowing();
        n.depth = Some(1);
        let c = delegate::child_predicate(&root_env, &root_p, &orchestrator(), &n).expect("valid child");
        let c_env = by_holder(c.clone());
        let g = delegate::child_predicate(&c_env, &c, &sub_agent(), &Narrowing::new(uuid(4), T0.plus(30)))
            .expect("valid grandchild");
        out.push(v(
            "allow_delegated_grandchild",
            "a grandchild signed by the holder the child names, the chain presented parent first",
            sign_with(g.clone(), &sub_agent()),
            context(&[&c_env, &root_env], deploy_attempt("staging")),
            None,
        ));
        out.push(v(
            "deny_delegation_chain_order",
            "the same grandchild with its ancestors in the wrong order",
            sign_with(g, &sub_agent()),
            context(&[&root_env, &c_env], deploy_attempt("staging")),
            Some(DenialCode::DelegationSignature),
        ));
    }
    out.push(v(
        "deny_delegation_wrong_signer",
        "a child signed by the sub-agent itself, not by the parent's holder",
        {
            let mut c = good.clone();
            c.issuer = sub_agent().key_id();
            sign_with(c, &sub_agent())
        },
        ok_ctx(),
        Some(DenialCode::DelegationSignature),
    ));
    out.push(v(
        "deny_delegation_holder_rebound",
        "the valid child with its holder changed to another key after signing",
        {
            let env = by_holder(good.clone());
            let mut e: crate::dsse::Envelope = serde_json::from_slice(&env).expect("fixture envelope");
            let mut c = good.clone();
            c.lineage.holder = Some(Holder::new(&stranger().public()));
            e.payload = b64::encode(&serde_json::to_vec(&crate::issue::statement(c)).expect("json"));
            serde_json::to_vec(&e).expect("json")
        },
        ok_ctx(),
        Some(DenialCode::DelegationSignature),
    ));
    {
        let mut no_holder = root();
        no_holder.lineage.holder = None;
        let nh_env = sign(no_holder.clone());
        let mut c = good.clone();
        c.lineage.parent = Some(ParentRef { id: no_holder.id.clone(), digest: DigestSet(Sha256Digest::of(&nh_env)) });
        out.push(v(
            "deny_delegation_no_holder",
            "a child of a writ that names no holder",
            by_holder(c),
            context(&[&nh_env], deploy_attempt("staging")),
            Some(DenialCode::DelegationSignature),
        ));
    }
    {
        // The sub-agent presents the child under a wider parent of its own
        // (same id, same holder, every tool): the digest does not match.
        let mut wide = root();
        wide.scope.actions.push(tool(json!({"name": "admin", "more_args": true})));
        wide.scope.uses = None;
        out.push(v(
            "deny_delegation_parent_replaced",
            "the valid child presented with a different, wider parent of the same id",
            by_holder(good.clone()),
            context(&[&sign(wide)], deploy_attempt("staging")),
            Some(DenialCode::LineageBroken),
        ));
    }
    out.push(v(
        "deny_delegation_parent_forged",
        "the valid child under a parent signed by the holder instead of an issuer",
        by_holder(good.clone()),
        context(&[&sign_with(root(), &orchestrator())], deploy_attempt("staging")),
        Some(DenialCode::LineageBroken),
    ));
    out.push(v(
        "deny_delegation_use_spent",
        "the valid child's second use (it permits one)",
        by_holder(good.clone()),
        ContextSpec { use_count: Some(2), ..ok_ctx() },
        Some(DenialCode::Replayed),
    ));
    // Recorded children (docs/format.md §18, "Receipt"): under a trust root
    // that requires receipts, the receipt of the child's `delegation` entry.
    let child_env = by_holder(good.clone());
    let receipts = |name, description, receipt: Option<Vec<u8>>, expected| Vector {
        trust: "trust-receipts.json",
        ..v(
            name,
            description,
            child_env.clone(),
            ContextSpec { receipt: receipt.map(|r| String::from_utf8(r).expect("text")), ..ok_ctx() },
            expected,
        )
    };
    out.push(receipts(
        "allow_delegated_child_with_receipt",
        "a recorded child with the receipt of its delegation entry, where the trust root requires receipts",
        Some(delegation_receipt(&child_env, &good, &good.lineage.parent.as_ref().expect("a child").id)),
        None,
    ));
    out.push(receipts(
        "deny_delegated_child_receipt_missing",
        "an unrecorded child (no receipt) where the trust root requires receipts",
        None,
        Some(DenialCode::ReceiptMissing),
    ));
    out.push(receipts(
        "deny_delegated_child_receipt_other_parent",
        "a delegation entry naming another parent than the child's",
        Some(delegation_receipt(&child_env, &good, &uuid(0xee))),
        Some(DenialCode::ReceiptInvalid),
    ));
    out
}

/// A receipt of the `delegation` entry recording `child` (envelope
/// `child_env`) under parent id `parent_id`: a C2SP tlog-proof of index 2 in
/// a three-entry log, checkpoint signed by the fixtures' ledger key.
#[must_use]
pub fn delegation_receipt(child_env: &[u8], child: &Predicate, parent_id: &str) -> Vec<u8> {
    use alloc::string::ToString;

    use crate::entry::{Delegation, Entry};
    use writ_tlog::hash::{leaf_hash, node_hash};
    let entry = Entry::Delegation(Delegation {
        time: child.issued_at,
        request_id: child.request.id.clone(),
        writ_id: child.id.clone(),
        envelope_digest: Sha256Digest::of(child_env),
        holder: child.issuer.to_string(),
        parent_writ_id: parent_id.into(),
        parent_digest: child.lineage.parent.as_ref().map_or(Sha256Digest([0; 32]), |p| p.digest.0),
        root_writ_id: parent_id.into(),
        not_before: child.validity.not_before,
        not_after: child.validity.not_after,
        depth: i64::from(child.lineage.depth),
        uses: child.scope.uses.map(i64::from),
        recorded_by: "orchestrator".into(),
    })
    .encode()
    .expect("fixture entry encodes");
    let left = node_hash(&leaf_hash(b"earlier entry 0"), &leaf_hash(b"earlier entry 1"));
    let root = node_hash(&left, &leaf_hash(&entry));
    let name = crate::fixtures::LEDGER_NAME;
    let signer =
        writ_tlog::note::NoteSigner::new(name, crate::fixtures::ledger().as_dalek().clone()).expect("key name");
    let note = writ_tlog::checkpoint::Checkpoint::new(name, 3, root).sign(&signer).expect("sign");
    writ_tlog::tlog_proof::TlogProof { extra: Some(entry), index: 2, hashes: vec![left], checkpoint: note.into_bytes() }
        .to_bytes()
}

/// [`root`] with two `sre` approvals required and given.
#[must_use]
pub fn approved_root() -> Predicate {
    let mut p = root();
    p.governance = crate::fixtures::approved_predicate().governance;
    p
}
