//! The pure core of writ.
//!
//! A *writ* is a signed, scoped, expiring runtime authorization: a DSSE
//! envelope carrying an in-toto Statement v1 whose predicate holds the six
//! proofs (approval, policy, runtime conditions, governance, scope, lineage).
//! This crate parses, signs and verifies writs. It does no I/O, reads no
//! clock and draws no randomness, so that every gate, the authority, the CLI
//! and the browser (compiled to WebAssembly) reach the same verdict with the
//! same [`verify`].
//!
//! ```
//! use writ_core::{verify, Context, Timestamp, TrustRoot};
//! let verdict = verify(b"{}", &TrustRoot::empty(), &Context::check_at(Timestamp(0)));
//! assert_eq!(verdict.unwrap_err().code.as_str(), "malformed");
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod approval;
pub mod attenuate;
pub mod b64;
pub mod delegate;
#[cfg(feature = "fixtures")]
pub mod delegate_vectors;
pub mod denial;
pub mod digest;
pub mod dsse;
pub mod entry;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod gate_record;
pub mod glob;
pub mod hybrid;
pub mod issue;
pub mod json;
pub mod keys;
pub mod limits;
pub mod loader;
pub mod model;
pub mod receipt;
pub mod scope;
pub mod spec;
pub mod status;
pub mod time;
pub mod trust;
pub mod trust_chain;
pub mod unverified;
pub mod verify;
pub mod webauthn;
pub mod witness;
#[cfg(feature = "fixtures")]
pub mod witness_vectors;

/// The transparency-log primitives (Merkle proofs, signed notes, checkpoints).
pub use writ_tlog as tlog;

pub use denial::{Denial, DenialCode};
pub use digest::Sha256Digest;
pub use keys::{KeyId, PublicKey, SigningKey};
pub use scope::{Attempt, Capabilities, ExecAttempt, HostFacts, HttpAttempt, ToolAttempt};
pub use time::Timestamp;
pub use trust::{Role, TrustRoot};
pub use unverified::Unverified;
pub use verify::{Context, Mode, Status, Verified, verify};
