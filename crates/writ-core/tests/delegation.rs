//! `writ_core::delegate` beyond the vectors: the chain file's parsing, a
//! holder binding that is not a key, and the narrowing helpers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "tests")]

use writ_core::delegate::{self, Chain, Narrowing};
use writ_core::delegate_vectors::{orchestrator, root};
use writ_core::fixtures::{T0, sign, trust_root};
use writ_core::model::{Action, ArgRule, Holder};
use writ_core::{Context, DenialCode, verify};

#[test]
fn the_chain_file_keeps_bytes_exactly_and_refuses_what_is_not_one() {
    let a = sign(root());
    let chain = Chain::below(&a, &[b"grandparent".to_vec()]);
    assert_eq!(Chain::parse(chain.to_json().as_bytes()).unwrap(), vec![a, b"grandparent".to_vec()]);
    for (bad, says) in [
        (&b"[]"[..], "chain file"),
        (b"{\"ancestors\": [\"not base64!\"]}", "ancestors[0]"),
        (b"{\"ancestors\": [], \"x\": 1}", "unknown field"),
    ] {
        let e = Chain::parse(bad).unwrap_err();
        assert!(e.contains(says), "{e}");
    }
    let nine = Chain::new(&vec![b"x".to_vec(); 9]).to_json();
    assert!(Chain::parse(nine.as_bytes()).unwrap_err().contains("limit is 8"));
}

#[test]
fn a_holder_that_is_not_a_public_key_makes_the_writ_malformed() {
    for bad in ["AAAA", "not base64", &"A".repeat(43)] {
        let mut p = root();
        p.lineage.holder = Some(Holder { public_key: bad.into() });
        let d = verify(&sign(p), &trust_root(false), &Context::check_at(T0.plus(60))).unwrap_err();
        assert_eq!(d.code, DenialCode::Malformed, "{bad}: {}", d.detail);
        assert!(d.detail.contains("lineage.holder.public_key"), "{}", d.detail);
    }
}

#[test]
fn narrowing_a_tool_keeps_unnamed_rules_and_frees_nothing() {
    let p = root();
    let Action::Tool(t) =
        delegate::narrow_tool(&p, "read", &[("path".into(), vec!["/a".into(), "/b".into()])]).unwrap()
    else {
        panic!("a tool action");
    };
    assert!(!t.more_args);
    assert_eq!(t.args.0.get("path"), Some(&ArgRule::OneOf(vec!["/a".into(), "/b".into()])));
    let Action::Tool(d) = delegate::narrow_tool(&p, "deploy", &[]).unwrap() else { panic!("a tool action") };
    assert_eq!(d.args.0.len(), 2, "the parent's rules are kept");
    assert_eq!(delegate::narrow_tool(&p, "admin", &[]).unwrap_err().code, DenialCode::DelegationWidened);
    // A writ without a holder cannot be minted from.
    let mut plain = root();
    plain.lineage.holder = None;
    let n = Narrowing::new("01940000-0000-7000-8000-000000000301".into(), T0);
    assert_eq!(delegate::mint(&sign(plain), &orchestrator(), &n).unwrap_err().code, DenialCode::DelegationSignature);
    assert_eq!(delegate::mint(b"{}", &orchestrator(), &n).unwrap_err().code, DenialCode::Malformed);
}
