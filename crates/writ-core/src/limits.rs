//! Every size the parser accepts, checked before anything is allocated.
//!
//! These numbers are part of the format specification (`docs/format.md`): a
//! second implementation must reject the same inputs.

/// Largest DSSE envelope accepted, in bytes (the JSON text as received).
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;
/// Largest decoded payload (the in-toto Statement), in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 48 * 1024;
/// Most signatures one envelope may carry.
pub const MAX_SIGNATURES: usize = 4;
/// Most subjects in one Statement.
pub const MAX_SUBJECTS: usize = 16;
/// Most actions in one scope.
pub const MAX_ACTIONS: usize = 16;
/// Most argument rules of one `exec` action (or argument constraints of a `tool` action).
pub const MAX_ARG_RULES: usize = 64;
/// Most alternatives in one `one_of` rule.
pub const MAX_ONE_OF: usize = 64;
/// Most approvals carried by one writ.
pub const MAX_APPROVALS: usize = 16;
/// Most runtime conditions carried by one writ.
pub const MAX_CONDITIONS: usize = 16;
/// Most entries of any other list (hosts, labels, env allow-list, fs paths, policy ids).
pub const MAX_LIST: usize = 64;
/// Longest string value anywhere in a writ, in bytes.
pub const MAX_STRING: usize = 4096;
/// Deepest delegation chain (`lineage.max_depth` may not exceed it).
pub const MAX_DEPTH: u32 = 8;
/// Most keys in a trust root.
pub const MAX_TRUST_KEYS: usize = 1024;
/// Largest trust-root file, in bytes.
pub const MAX_TRUST_ROOT_BYTES: usize = 1024 * 1024;
/// Largest receipt, in bytes.
pub const MAX_RECEIPT_BYTES: usize = 64 * 1024;
