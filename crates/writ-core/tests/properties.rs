//! Adversarial properties of `verify` and attenuation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use proptest::prelude::*;
use writ_core::attenuate;
use writ_core::fixtures::{self, run_context};
use writ_core::model::{Action, ArgRule, ExecAction};
use writ_core::scope::args_match;
use writ_core::{Context, DenialCode, Timestamp, TrustRoot, verify};

fn ctx() -> Context {
    run_context().to_context().unwrap()
}

/// INVARIANT 1 (no writ, no execution): flipping any single bit of a valid
/// envelope yields a denial, never an allow and never a panic.
#[test]
fn every_single_bit_flip_is_denied() {
    let trust = fixtures::trust_root(false);
    let ctx = ctx();
    let good = fixtures::sign(fixtures::approved_predicate());
    assert!(verify(&good, &trust, &ctx).is_ok());
    for byte in 0..good.len() {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[byte] ^= 1 << bit;
            let verdict = verify(&bad, &trust, &ctx);
            assert!(verdict.is_err(), "flipping bit {bit} of byte {byte} still verified");
        }
    }
}

/// Verifying a writ that signs correctly but whose approval list was
/// tampered with is denied: the approvals are inside the signed payload.
#[test]
fn tampering_is_never_allowed_with_a_valid_looking_code() {
    let trust = fixtures::trust_root(false);
    let good = fixtures::sign(fixtures::predicate());
    let text = String::from_utf8(good).unwrap();
    // Swap the signature for one over other bytes by another trusted key.
    let other = fixtures::sign_with(fixtures::predicate(), &fixtures::alice());
    let other_sig: serde_json::Value = serde_json::from_str(&String::from_utf8(other).unwrap()).unwrap();
    let mut env: serde_json::Value = serde_json::from_str(&text).unwrap();
    env["signatures"] = other_sig["signatures"].clone();
    let d = verify(&serde_json::to_vec(&env).unwrap(), &trust, &ctx()).unwrap_err();
    // alice is an approver, not an issuer: her signature is ignored.
    assert_eq!(d.code, DenialCode::UnknownKey);
}

#[test]
fn verification_is_deterministic() {
    let trust = fixtures::trust_root(false);
    for v in fixtures::vectors() {
        let c = v.context.to_context().unwrap();
        let a = verify(&v.envelope, &trust, &c).map(|x| x.envelope_digest());
        let b = verify(&v.envelope, &trust, &c).map(|x| x.envelope_digest());
        assert_eq!(a, b, "{}", v.name);
    }
}

fn rule() -> impl Strategy<Value = ArgRule> {
    let word = prop::sample::select(vec!["a", "b", "ab", "-a", "a*", "*", "?", "b?", "-*", "*b"]);
    prop_oneof![
        word.clone().prop_map(|w| ArgRule::Exact(w.replace(['*', '?'], ""))),
        word.clone().prop_map(|w| ArgRule::Glob(w.to_owned())),
        prop::collection::vec(word.prop_map(|w| w.replace(['*', '?'], "")), 1..3).prop_map(ArgRule::OneOf),
    ]
}

fn exec(rules: Vec<ArgRule>, more: bool) -> ExecAction {
    ExecAction { program: "/bin/x".into(), sha256: writ_core::Sha256Digest([0; 32]), args: rules, more_args: more }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A child that attenuation accepts never permits an invocation its parent refuses.
    #[test]
    fn accepted_children_never_widen(
        parent_rules in prop::collection::vec(rule(), 0..4),
        child_rules in prop::collection::vec(rule(), 0..5),
        parent_more: bool,
        child_more: bool,
        args in prop::collection::vec(prop::sample::select(vec!["a", "b", "ab", "-a", "a-b", "bb", "--x", ""]), 0..6),
    ) {
        let mut parent = fixtures::predicate();
        parent.scope.actions = vec![Action::Exec(exec(parent_rules.clone(), parent_more))];
        let mut child = parent.clone();
        child.lineage.depth = 1;
        child.lineage.max_depth = 1;
        child.scope.actions = vec![Action::Exec(exec(child_rules.clone(), child_more))];
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        if attenuate::check(&parent, &child).is_ok() && args_match(&exec(child_rules, child_more), &args) {
            prop_assert!(args_match(&exec(parent_rules, parent_more), &args));
        }
    }

    /// Arbitrary bytes never panic and never verify.
    #[test]
    fn random_bytes_are_denied(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let trust = fixtures::trust_root(false);
        prop_assert!(verify(&bytes, &trust, &Context::check_at(Timestamp(0))).is_err());
    }

    /// Re-signed payloads with random edits never panic, and verify only if
    /// they still parse strictly.
    #[test]
    fn resigned_random_payload_edits_never_panic(pos in 0usize..2000, byte: u8) {
        let st = writ_core::issue::statement(fixtures::predicate());
        let mut payload = serde_json::to_vec(&st).unwrap();
        let i = pos % payload.len();
        payload[i] = byte;
        let env = writ_core::dsse::sign(writ_core::dsse::IN_TOTO_PAYLOAD_TYPE, &payload, &fixtures::issuer());
        let _ = verify(&env, &fixtures::trust_root(false), &ctx());
    }
}

#[test]
fn empty_trust_root_denies_everything() {
    let d = verify(&fixtures::sign(fixtures::predicate()), &TrustRoot::empty(), &ctx()).unwrap_err();
    assert_eq!(d.code, DenialCode::UnknownKey);
}

#[test]
fn a_retired_key_still_verifies_writs_it_issued_inside_its_window() {
    let mut p = fixtures::predicate();
    p.issuer = fixtures::retired_issuer().key_id();
    p.issued_at = fixtures::T0.plus(-2 * 86_400);
    p.validity.not_before = p.issued_at;
    p.validity.not_after = p.issued_at.plus(3600);
    let env = fixtures::sign_with(p, &fixtures::retired_issuer());
    let mut c = ctx();
    c.now = fixtures::T0.plus(-2 * 86_400 + 60);
    assert!(verify(&env, &fixtures::trust_root(false), &c).is_ok());
}

#[test]
fn duplicate_json_keys_in_the_payload_are_malformed() {
    let st = writ_core::issue::statement(fixtures::predicate());
    let text = serde_json::to_string(&st).unwrap();
    let dup = text.replacen("\"reason\":", "\"reason\":\"x\",\"reason\":", 1);
    let env = writ_core::dsse::sign(writ_core::dsse::IN_TOTO_PAYLOAD_TYPE, dup.as_bytes(), &fixtures::issuer());
    let d = verify(&env, &fixtures::trust_root(false), &ctx()).unwrap_err();
    assert_eq!(d.code, DenialCode::Malformed, "{}", d.detail);
    let unknown = text.replacen("\"reason\":", "\"extra\":1,\"reason\":", 1);
    let env = writ_core::dsse::sign(writ_core::dsse::IN_TOTO_PAYLOAD_TYPE, unknown.as_bytes(), &fixtures::issuer());
    assert_eq!(verify(&env, &fixtures::trust_root(false), &ctx()).unwrap_err().code, DenialCode::Malformed);
    let version = text.replace("https://writ.dev/authorization/v1", "https://writ.dev/authorization/v2");
    let env = writ_core::dsse::sign(writ_core::dsse::IN_TOTO_PAYLOAD_TYPE, version.as_bytes(), &fixtures::issuer());
    assert_eq!(verify(&env, &fixtures::trust_root(false), &ctx()).unwrap_err().code, DenialCode::Unsupported);
}
