//! Tool requests that carry the call's arguments (`args`, `args_sha256`,
//! `definition_sha256`): the issued writ binds exactly them, the request view
//! shows them, and bad ones are refused before anything is stored. On a real
//! SQLite home.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;

use writ_authority::model::{RequestInput, RequestView, TargetInput};
use writ_authority::{Authority, Config, Identity, home};
use writ_core::model::{Action, ArgRule, ToolAction};
use writ_core::trust::{Role, key_entry};
use writ_core::{Attempt, Context, DenialCode, Sha256Digest, SigningKey, Timestamp, ToolAttempt, TrustRoot};

const NOW: Timestamp = Timestamp(1_800_000_000);

const POLICIES: &str = r#"
@id("refund-at-once")
@max_duration("300")
@single_use("true")
permit (principal in Writ::Group::"agents", action == Writ::Action::"tool", resource == Writ::Tool::"refund");
"#;

struct Env {
    _dir: tempfile::TempDir,
    trust: TrustRoot,
    a: Authority,
    me: Identity,
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    std::fs::write(h.join("policies.cedar"), POLICIES).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    let key = SigningKey::from_seed(&[1; 32]);
    trust.add(key_entry("gw", vec![Role::Requester], vec!["agents".into()], &key.public())).unwrap();
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
    let a = Authority::open(&Config::new(&h)).unwrap();
    let me = a.identify(&key.key_id(), NOW).unwrap();
    Env { _dir: dir, trust, a, me }
}

fn tool(args: &[(&str, &str)], args_sha256: Option<Sha256Digest>, definition: Option<Sha256Digest>) -> RequestInput {
    RequestInput {
        target: TargetInput::Tool {
            name: "refund".into(),
            args: args.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect(),
            args_sha256: args_sha256.map(|d| d.to_hex()),
            definition_sha256: definition.map(|d| d.to_hex()),
        },
        reason: "agent call".into(),
        duration_secs: 120,
        env: BTreeMap::new(),
        cwd: None,
        hosts: None,
        evidence: None,
        boundaries: None,
        uses: Some(1),
        holder: None,
        delegation_depth: None,
    }
}

fn attempt(args: &[(&str, &str)], args_sha256: Sha256Digest, definition: Sha256Digest) -> Attempt {
    Attempt::Tool(ToolAttempt {
        name: "refund".into(),
        args: args.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect(),
        args_sha256: Some(args_sha256),
        definition_sha256: Some(definition),
    })
}

/// The verdict of the issued writ for `a`: `None` = allowed.
fn verdict(e: &Env, v: &RequestView, a: Attempt) -> Option<DenialCode> {
    let ctx = Context { attempt: Some(a), ..Context::check_at(NOW.plus(1)) };
    writ_core::verify(v.writ.as_ref().expect("writ").as_bytes(), &e.trust, &ctx).err().map(|d| d.code)
}

fn the_tool(e: &Env, v: &RequestView) -> ToolAction {
    let ctx = Context::check_at(NOW.plus(1));
    let verified = writ_core::verify(v.writ.as_ref().expect("writ").as_bytes(), &e.trust, &ctx).unwrap();
    match verified.scope().actions.as_slice() {
        [Action::Tool(t)] => t.clone(),
        other => panic!("expected one tool action, got {other:?}"),
    }
}

#[test]
fn the_writ_binds_the_requested_arguments_and_digests() {
    let e = setup();
    let args = [("amount", "5"), ("currency", "EUR")];
    let (digest, definition) = (Sha256Digest::of(br#"{"amount":5,"currency":"EUR"}"#), Sha256Digest::of(b"refund v1"));
    let v = e.a.submit(&e.me, tool(&args, Some(digest), Some(definition)), NOW).unwrap();
    assert_eq!(v.status, "issued", "{:?}", v.decision);
    assert_eq!(v.summary, "tool refund amount=5 currency=EUR");
    let t = the_tool(&e, &v);
    assert_eq!(t.args.0.get("amount"), Some(&ArgRule::Exact("5".into())));
    assert_eq!(t.args.0.get("currency"), Some(&ArgRule::Exact("EUR".into())));
    assert!(!t.more_args);
    assert_eq!((t.args_sha256, t.definition_sha256), (Some(digest), Some(definition)));

    // The approved call, and no other.
    assert_eq!(verdict(&e, &v, attempt(&args, digest, definition)), None);
    let other = Sha256Digest::of(br#"{"amount":500,"currency":"EUR"}"#);
    assert_eq!(
        verdict(&e, &v, attempt(&[("amount", "500"), ("currency", "EUR")], other, definition)),
        Some(DenialCode::ScopeArgs)
    );
    // Same string forms, other JSON (`"5"` instead of `5`): the digest tells them apart.
    assert_eq!(verdict(&e, &v, attempt(&args, other, definition)), Some(DenialCode::ScopeArgs));
    let extra = [("amount", "5"), ("currency", "EUR"), ("to", "mallory")];
    assert_eq!(verdict(&e, &v, attempt(&extra, digest, definition)), Some(DenialCode::ScopeArgs));
    assert_eq!(verdict(&e, &v, attempt(&args, digest, Sha256Digest::of(b"refund v2"))), Some(DenialCode::ScopeAction));
}

#[test]
fn the_digest_alone_pins_arguments_the_request_could_not_show() {
    let e = setup();
    let digest = Sha256Digest::of(b"{\"note\":\"a\\nb\"}");
    let v = e.a.submit(&e.me, tool(&[], Some(digest), None), NOW).unwrap();
    assert_eq!(v.summary, "tool refund");
    let t = the_tool(&e, &v);
    assert!(t.args.0.is_empty() && t.more_args && t.args_sha256 == Some(digest));
    let def = Sha256Digest::of(b"any");
    assert_eq!(verdict(&e, &v, attempt(&[("note", "a\nb")], digest, def)), None);
    assert_eq!(
        verdict(&e, &v, attempt(&[("note", "a\nc")], Sha256Digest::of(b"{\"note\":\"a\\nc\"}"), def)),
        Some(DenialCode::ScopeArgs)
    );

    // A name-only request is issued as before: no rules, no digests, no extra arguments.
    let plain = e.a.submit(&e.me, tool(&[], None, None), NOW).unwrap();
    let t = the_tool(&e, &plain);
    assert!(t.args.0.is_empty() && !t.more_args && t.args_sha256.is_none() && t.definition_sha256.is_none());
}

#[test]
fn bad_tool_arguments_are_refused_before_anything_is_stored() {
    let e = setup();
    let before = e.a.ledger().size();
    let mut bad_digest = tool(&[("amount", "5")], None, None);
    if let TargetInput::Tool { args_sha256, .. } = &mut bad_digest.target {
        *args_sha256 = Some("zz".into());
    }
    let mut bad_definition = tool(&[], None, None);
    if let TargetInput::Tool { definition_sha256, .. } = &mut bad_definition.target {
        *definition_sha256 = Some("0".repeat(63));
    }
    let names: Vec<String> = (0..65).map(|i| format!("a{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    let long = "x".repeat(5000);
    let cases = [
        (bad_digest, "invalid_request"),
        (bad_definition, "invalid_request"),
        (tool(&many, None, None), "invalid_request"),
        (tool(&[("note", long.as_str())], None, None), "invalid_request"),
        // Text shown to the approver: no line breaks, escapes or bidi controls.
        (tool(&[("note", "ok\nAPPROVED")], None, None), "unsafe_text"),
        (tool(&[("no\u{202e}te", "1")], None, None), "unsafe_text"),
    ];
    for (input, code) in cases {
        let err = e.a.submit(&e.me, input, NOW).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
    }
    assert_eq!(e.a.ledger().size(), before);
}

/// The wire form: the new members are optional and omitted when unset, so a
/// name-only target keeps its bytes (and request digests their values).
#[test]
fn a_name_only_tool_target_keeps_its_wire_bytes() {
    let plain =
        TargetInput::Tool { name: "t".into(), args: BTreeMap::new(), args_sha256: None, definition_sha256: None };
    assert_eq!(serde_json::to_string(&plain).unwrap(), r#"{"action":"tool","name":"t"}"#);
    let back: TargetInput = serde_json::from_str(r#"{"action":"tool","name":"t","args":{"a":"1"}}"#).unwrap();
    assert!(matches!(back, TargetInput::Tool { ref args, .. } if args.get("a").map(String::as_str) == Some("1")));
    assert!(serde_json::from_str::<TargetInput>(r#"{"action":"tool","name":"t","args":{"a":"1","a":"2"}}"#).is_err());
    assert!(serde_json::from_str::<TargetInput>(r#"{"action":"tool","name":"t","args_sha256":null,"x":1}"#).is_err());
}
