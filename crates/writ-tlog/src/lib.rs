//! Algorithm-only transparency-log primitives for writ.
//!
//! This crate is the pure, `#![no_std]` (+ `alloc`) half of writ's ledger, in
//! the spirit of Cloudflare azul's `tlog_core`: it does Merkle math, parses and
//! formats the C2SP text formats, and verifies signatures. It performs no I/O,
//! reads no clock and draws no randomness, so the gate, the authority, the CLI
//! and the browser (`wasm32-unknown-unknown`, through `writ_core::tlog`) all run
//! the very same checks.
//!
//! | module | what |
//! |---|---|
//! | [`hash`] | RFC 9162 / RFC 6962 hashing: leaf `SHA-256(0x00‖entry)`, node `SHA-256(0x01‖l‖r)` |
//! | [`proof`] | inclusion and consistency proof **verification** (RFC 9162 §2.1.3.2, §2.1.4.2) |
//! | [`tree`] | tree geometry: stored-hash indexes, the compact [`tree::Frontier`], and the node lists proof generation needs |
//! | [`note`] | C2SP `signed-note` with Ed25519: sign, verify, verifier-key strings |
//! | [`checkpoint`] | C2SP `tlog-checkpoint` body parse / format |
//! | [`cosig`] | C2SP `tlog-cosignature` (`cosignature/v1`, Ed25519): cosign, verify, witness quorum |
//! | [`tile`] | C2SP `tlog-tiles` path encoding (`tile/0/x001/x234/067.p/12`) |
//! | [`tlog_proof`] | C2SP `tlog-proof@v1`: an offline proof of one entry |
//!
//! Every parser is bounded (`MAX_*` constants, checked before allocating) and
//! returns [`TlogError`] instead of panicking on hostile input.
//!
//! ```
//! use writ_tlog::{hash, proof, tree::Frontier};
//! let mut f = Frontier::new();
//! for e in [&b"a"[..], b"b", b"c"] {
//!     f.append(hash::leaf_hash(e));
//! }
//! let root = f.root();
//! // Inclusion of "c" (index 2) in the 3-entry tree: sibling is the hash of leaves 0..2.
//! let ab = hash::node_hash(&hash::leaf_hash(b"a"), &hash::leaf_hash(b"b"));
//! assert!(proof::verify_inclusion(2, 3, &hash::leaf_hash(b"c"), &[ab], &root).is_ok());
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod checkpoint;
pub mod cosig;
mod error;
pub mod hash;
pub mod mldsa;
pub mod note;
pub mod proof;
pub mod tile;
pub mod tlog_proof;
pub mod tree;

pub use error::TlogError;
pub use hash::{HASH_SIZE, Hash};
