//! Benchmarks for writ, kept out of the shipped crates.
//!
//! This crate has no code of its own: `benches/verify.rs` measures
//! `writ_core::verify` of a fixture writ (one issuer signature, two
//! approvals, ten argv rules) beside raw `ed25519-dalek` `verify_strict` of
//! the same three signatures, `biscuit-auth` verification + authorization of
//! a token carrying the equivalent facts, and `jsonwebtoken` EdDSA decoding
//! of a JWT with equivalent claims. Run it with `cargo bench -p writ-bench`;
//! the results live in `docs/performance.md`.
