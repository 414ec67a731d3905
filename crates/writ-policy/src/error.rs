//! The one error type of this crate.

/// Why a policy set was refused at load.
///
/// Loading is all or nothing: any of these refuses the whole set, and a
/// caller that reloads keeps its last good set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The policy source is larger than [`crate::MAX_POLICY_SOURCE_BYTES`].
    #[error("policy source is {size} bytes, more than the limit of {max} bytes; split or shorten the policy set")]
    TooLarge {
        /// size of the refused source, in bytes
        size: usize,
        /// the limit, in bytes
        max: usize,
    },

    /// The source is not valid Cedar.
    #[error("syntax error at line {line}, column {column}{}: {message}; fix the policy source and load it again", near_policy(.policy))]
    Syntax {
        /// 1-based line of the error
        line: usize,
        /// 1-based column of the error
        column: usize,
        /// id of the policy the error is in or after, when one could be found
        policy: Option<String>,
        /// what the Cedar parser said
        message: String,
    },

    /// A policy has no `@id("...")` annotation.
    #[error("policy at line {line} has no `@id(\"...\")` annotation; give every policy a unique id")]
    MissingId {
        /// 1-based line where the policy starts
        line: usize,
    },

    /// Two policies share an `@id`.
    #[error(
        "policy id `{id}` at line {line} is already used by the policy at line {first_line}; policy ids must be unique"
    )]
    DuplicateId {
        /// the repeated id
        id: String,
        /// 1-based line of the second policy
        line: usize,
        /// 1-based line of the first policy with that id
        first_line: usize,
    },

    /// An annotation is unknown, misplaced or has a malformed value.
    #[error("policy `{id}` at line {line}: annotation `@{key}`: {problem}")]
    Annotation {
        /// id of the policy, or `?` when the `@id` itself is malformed
        id: String,
        /// 1-based line where the policy starts
        line: usize,
        /// the annotation key, without `@`
        key: String,
        /// what is wrong and what to do
        problem: String,
    },

    /// A policy template (a policy with `?principal` or `?resource` slots).
    #[error(
        "policy at line {line} is a template (it uses `?principal` or `?resource`); writ loads static policies only, write the entity out"
    )]
    Template {
        /// 1-based line where the template starts
        line: usize,
    },

    /// A policy does not validate against [`crate::SCHEMA`] in strict mode.
    #[error(
        "policy `{id}` at line {line}, column {column} does not match the writ schema: {message}{}; see docs/policy.md for the schema",
        more_errors(*.more)
    )]
    Validation {
        /// id of the offending policy
        id: String,
        /// 1-based line of the offending expression (or of the policy)
        line: usize,
        /// 1-based column of the offending expression (or of the policy)
        column: usize,
        /// what the Cedar validator said
        message: String,
        /// how many further validation errors were found
        more: usize,
    },

    /// The built-in schema did not load. This is a bug in writ-policy.
    #[error("the built-in writ policy schema does not load: {0}; this is a bug, please report it")]
    Schema(String),
}

fn near_policy(policy: &Option<String>) -> String {
    match policy {
        Some(id) => format!(" (in or after policy `{id}`)"),
        None => String::new(),
    }
}

fn more_errors(more: usize) -> String {
    match more {
        0 => String::new(),
        1 => " (and 1 more error)".to_owned(),
        n => format!(" (and {n} more errors)"),
    }
}
