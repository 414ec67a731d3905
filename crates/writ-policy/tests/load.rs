//! Loading policy sets: what loads, what is refused and how the refusal
//! names the policy and line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

use writ_policy::{DEFAULT_POLICIES, MAX_POLICY_SOURCE_BYTES, PolicyError, PolicySet};

fn load_err(src: &str) -> PolicyError {
    match PolicySet::load(src) {
        Ok(_) => panic!("policy set should have been refused:\n{src}"),
        Err(e) => e,
    }
}

#[test]
fn default_policies_load_cleanly() {
    let set = PolicySet::load(DEFAULT_POLICIES).unwrap();
    assert_eq!(
        set.policy_ids().collect::<Vec<_>>(),
        ["dba-migrate-on-prod", "deploy-needs-two-sre", "dev-harmless-exec", "forbid-rm-rf-root"]
    );
    assert!(set.warnings().is_empty(), "{:?}", set.warnings());
}

#[test]
fn default_policies_examples_in_comments_load_when_enabled() {
    // The disabled examples at the end must be valid once uncommented.
    let tail = DEFAULT_POLICIES
        .split("// 5. More examples")
        .nth(1)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("// "))
        .filter(|l| ["@", "permit", "forbid", "when"].iter().any(|k| l.starts_with(k)))
        .collect::<Vec<_>>()
        .join("\n");
    let set = PolicySet::load(&tail).unwrap();
    assert_eq!(set.policy_ids().collect::<Vec<_>>(), ["agents-search", "dev-batch", "ops-status"]);
}

#[test]
fn empty_and_comment_only_sets_load_empty() {
    for src in ["", "   \n", "// nothing here\n"] {
        let set = PolicySet::load(src).unwrap();
        assert!(set.is_empty());
        assert_eq!(set.len(), 0);
    }
}

#[test]
fn syntax_error_names_line_and_nearest_policy() {
    let src = "@id(\"a\")\npermit(principal, action, resource);\n\n@id(\"b\")\npermit(principal, action, resource)\nwhen { 1 + };\n";
    match load_err(src) {
        PolicyError::Syntax { line, policy, message, .. } => {
            assert_eq!(line, 6);
            assert_eq!(policy.as_deref(), Some("b"));
            assert!(!message.is_empty());
        }
        e => panic!("unexpected error: {e}"),
    }
}

#[test]
fn typo_in_attribute_is_a_schema_violation() {
    let src = "@id(\"ok\")\npermit(principal, action, resource);\n\n@id(\"typo\")\npermit(principal, action == Writ::Action::\"exec\", resource)\nwhen { resource.pth == \"/bin/ls\" };\n";
    let e = load_err(src);
    match &e {
        PolicyError::Validation { id, line, .. } => {
            assert_eq!(id, "typo");
            assert_eq!(*line, 6);
        }
        e => panic!("unexpected error: {e}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("`typo`") && msg.contains("line 6"), "{msg}");
    assert!(msg.contains("path"), "suggests the right attribute: {msg}");
}

#[test]
fn schema_violations_are_refused() {
    for (src, why) in [
        ("@id(\"a\") permit(principal, action == Writ::Action::\"run\", resource);", "unknown action"),
        ("@id(\"a\") permit(principal is Writ::User, action, resource);", "unknown entity type"),
        ("@id(\"a\") permit(principal, action, resource) when { context.argc == \"2\" };", "type mismatch"),
        ("@id(\"a\") permit(principal, action, resource) when { context.nope };", "unknown context attribute"),
        (
            "@id(\"a\") permit(principal, action == Writ::Action::\"http\", resource) when { resource.sha256 == \"\" };",
            "attribute of another resource type",
        ),
    ] {
        assert!(matches!(load_err(src), PolicyError::Validation { .. }), "{why}");
    }
}

#[test]
fn one_bad_policy_refuses_the_whole_set() {
    let src = format!(
        "{DEFAULT_POLICIES}\n@id(\"bad\")\npermit(principal, action, resource) when {{ context.hostname == \"x\" }};\n"
    );
    match load_err(&src) {
        PolicyError::Validation { id, .. } => assert_eq!(id, "bad"),
        e => panic!("unexpected error: {e}"),
    }
}

#[test]
fn missing_id_is_refused() {
    let src = "@id(\"a\")\npermit(principal, action, resource);\n\n\npermit(principal, action, resource);\n";
    assert_eq!(load_err(src), PolicyError::MissingId { line: 5 });
    assert!(load_err(src).to_string().contains("line 5"));
}

#[test]
fn duplicate_id_is_refused() {
    let src = "@id(\"a\")\npermit(principal, action, resource);\n@id(\"a\")\nforbid(principal, action, resource);\n";
    assert_eq!(load_err(src), PolicyError::DuplicateId { id: "a".to_owned(), line: 3, first_line: 1 });
}

#[test]
fn malformed_id_is_refused() {
    for id in ["", "has space", "-leading", "semi;colon"] {
        let src = format!("@id(\"{id}\") permit(principal, action, resource);");
        assert!(matches!(load_err(&src), PolicyError::Annotation { ref key, .. } if key == "id"), "{id:?}");
    }
}

#[test]
fn bad_annotations_are_refused() {
    for (ann, key) in [
        ("@approvals(\"two\")", "approvals"),
        ("@approvals(\"-1\")", "approvals"),
        ("@approvals(\"1000\")", "approvals"),
        ("@max_duration(\"1h\")", "max_duration"),
        ("@max_duration(\"0\")", "max_duration"),
        ("@evidence(\"host,hots\")", "evidence"),
        ("@single_use(\"yes\")", "single_use"),
        ("@approver_group(\"sre\")", "approver_group"),
        ("@approval(\"2\")", "approval"),
    ] {
        let src = format!("@id(\"p\")\n{ann}\npermit(principal, action, resource);");
        match load_err(&src) {
            PolicyError::Annotation { id, line, key: k, .. } => {
                assert_eq!((id.as_str(), line, k.as_str()), ("p", 1, key), "{ann}");
            }
            e => panic!("{ann}: unexpected error: {e}"),
        }
    }
}

#[test]
fn obligations_on_forbid_are_refused() {
    let src = "@id(\"f\")\n@approvals(\"2\")\nforbid(principal, action, resource);";
    assert!(matches!(load_err(src), PolicyError::Annotation { .. }));
    // but a description is fine
    PolicySet::load("@id(\"f\")\n@description(\"x\")\nforbid(principal, action, resource);").unwrap();
}

#[test]
fn templates_are_refused() {
    let src = "@id(\"a\")\npermit(principal, action, resource);\n@id(\"t\")\npermit(principal == ?principal, action, resource);";
    assert_eq!(load_err(src), PolicyError::Template { line: 3 });
}

#[test]
fn oversized_source_is_refused_before_parsing() {
    let src = " ".repeat(MAX_POLICY_SOURCE_BYTES + 1);
    assert!(matches!(load_err(&src), PolicyError::TooLarge { .. }));
}

#[test]
fn digest_is_sha256_of_exact_source_bytes() {
    let empty = PolicySet::load("").unwrap();
    assert_eq!(empty.digest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    let a = PolicySet::load(DEFAULT_POLICIES).unwrap();
    let b = PolicySet::load(DEFAULT_POLICIES).unwrap();
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a.digest().len(), 64);
    // a comment is part of the bytes, so it changes the digest
    let c = PolicySet::load(&format!("{DEFAULT_POLICIES}// edited\n")).unwrap();
    assert_ne!(a.digest(), c.digest());
}

#[test]
fn error_messages_are_lowercase_and_actionable() {
    let errors = [
        load_err("@id(\"a\") permit(principal, action, resource) when { 1 + };"),
        load_err("permit(principal, action, resource);"),
        load_err("@id(\"a\") @approvals(\"x\") permit(principal, action, resource);"),
        load_err("@id(\"a\") permit(principal, action, resource) when { context.x };"),
    ];
    for e in errors {
        let msg = e.to_string();
        assert!(msg.chars().next().is_some_and(|c| !c.is_uppercase()), "{msg}");
        assert!(!msg.ends_with('.'), "{msg}");
    }
}
