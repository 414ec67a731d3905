//! `@delegation("N")`: how deep a writ's holder may delegate it; only as
//! deep as every determining permit allows, none unless each allows it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

use writ_policy::{Outcome, PolicyRequest, PolicySet, Requester, Target};

fn req(path: &str) -> PolicyRequest {
    PolicyRequest::new(Requester::new("alice", "a1b2", ["dev"]), Target::exec(path))
        .with_argv([path])
        .with_duration_secs(60)
        .with_unix_time(1_704_115_800)
}

fn permit(id: &str, extra: &str, path: &str) -> String {
    format!(
        "@id(\"{id}\")\n{extra}permit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource) when {{ resource.path == \"{path}\" }};\n"
    )
}

#[test]
fn the_depth_is_the_smallest_every_permit_allows() {
    let src = [
        permit("deep", "@delegation(\"3\")\n", "/opt/a"),
        permit("shallow", "@delegation(\"1\")\n", "/opt/a"),
        permit("only-deep", "@delegation(\"2\")\n", "/opt/b"),
        permit("none", "", "/opt/b"),
        permit("alone", "@delegation(\"8\")\n", "/opt/c"),
    ]
    .concat();
    let set = PolicySet::load(&src).unwrap();
    let d = set.decide(&req("/opt/a"));
    assert_eq!(d.outcome, Outcome::Allow, "{d:?}");
    assert_eq!(d.obligations.delegation, Some(1));
    // One determining permit without it: no delegation.
    let d = set.decide(&req("/opt/b"));
    assert_eq!(d.outcome, Outcome::Allow, "{d:?}");
    assert_eq!(d.obligations.delegation, None);
    assert_eq!(set.decide(&req("/opt/c")).obligations.delegation, Some(8));
}

#[test]
fn out_of_range_or_on_a_forbid_does_not_load() {
    for bad in ["0", "9", "x", "-1"] {
        let src = permit("p", &format!("@delegation(\"{bad}\")\n"), "/opt/a");
        let e = PolicySet::load(&src).unwrap_err().to_string();
        assert!(e.contains("delegation"), "{bad}: {e}");
    }
    let forbid = "@id(\"f\")\n@delegation(\"1\")\nforbid (principal, action, resource);\n";
    assert!(PolicySet::load(forbid).is_err());
}
