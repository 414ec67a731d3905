//! docs/policy.md stays true: its schema is the shipped one and its
//! examples load.

#![allow(clippy::unwrap_used, reason = "test code")]

use writ_policy::{PolicySet, SCHEMA};

const DOC: &str = include_str!("../../../docs/policy.md");

fn blocks(lang: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    DOC.split(fence.as_str()).skip(1).map(|b| b.split("```").next().unwrap().to_owned()).collect()
}

#[test]
fn documented_schema_is_the_shipped_schema() {
    assert_eq!(blocks("cedarschema"), [SCHEMA]);
}

#[test]
fn documented_examples_load_together() {
    let examples = blocks("cedar");
    assert!(examples.len() >= 6);
    let set = PolicySet::load(&examples.join("\n")).unwrap();
    assert!(set.warnings().is_empty(), "{:?}", set.warnings());
    assert_eq!(set.len(), 7);
}
