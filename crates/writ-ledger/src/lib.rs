//! The writ transparency ledger.
//!
//! Every request, decision, approval, issuance, execution, denial and
//! revocation is appended here as an entry (see `writ_core::entry`). The
//! ledger keeps an RFC 9162 Merkle tree over the entries, signs C2SP
//! checkpoints with Ed25519, serves inclusion and consistency proofs, and
//! publishes C2SP tiles, so anyone can check the lineage without trusting
//! the authority. The pure math and formats live in [`writ_tlog`] (re-exported
//! by `writ_core::tlog`); this crate adds storage, sequencing and I/O.
//!
//! - [`Ledger`]: open by path or `postgres://` URL, [`Ledger::append`] (returns
//!   once durable), [`Ledger::append_with_receipt`] (index + inclusion proof +
//!   covering signed checkpoint), proofs, entry ranges, tiles.
//! - [`Store`]: the storage contract, with [`SqliteStore`] (embedded default,
//!   WAL + `synchronous=FULL`) and [`PgStore`] (shared by replicas).
//! - [`audit::audit`]: recompute everything and name what was tampered with.
//! - [`semantic::semantic_audit`]: check the recorded history against the rules
//!   (allow decisions, approvals, exec after revocation, trust-root versions).
//! - `lease::Lease`: the sequencer lease for replicas sharing PostgreSQL.
//!
//! Backends are cargo features: `sqlite` (default) and `postgres`; a binary
//! that needs only one links only that one. A [`Location`] of a backend the
//! build lacks fails to open with a message saying which feature to enable.
//!
//! Appends go through one sequencer thread that group-commits whatever queued
//! up during the previous commit: one transaction (one fsync) stores the
//! entries, the new tree hashes and the checkpoint signed over them, so an
//! acknowledged entry is durable *and* covered by a durable signed
//! checkpoint. The queue is bounded; past it appends fail fast with
//! [`LedgerError::Busy`].
//!
//! The API is blocking (usable as is from the CLI). From async code, call it
//! inside `tokio::task::spawn_blocking`: the PostgreSQL client is the blocking
//! `postgres` crate, which must not run on an async executor thread.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use writ_ledger::{Ledger, LedgerOptions, Location, key};
//! let dir = tempfile::tempdir().unwrap();
//! let signer = key::generate("example.com/ledger").unwrap();
//! let ledger = Ledger::open(Location::Sqlite(dir.path().join("l.sqlite")), signer, LedgerOptions::default()).unwrap();
//! let receipt = ledger.append_with_receipt(b"hello".to_vec()).unwrap();
//! assert_eq!(receipt.index, 0);
//! ledger.verify_receipt(b"hello", &receipt).unwrap();
//! let proof = receipt.to_tlog_proof(); // C2SP tlog-proof, checkable offline
//! proof.verify_entry(b"hello", ledger.origin(), ledger.verifier()).unwrap();
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod audit;
mod checkpoint;
mod error;
pub mod guard;
pub mod key;
#[cfg(feature = "postgres")]
pub mod lease;
mod ledger;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod semantic;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod store;
pub mod tiles;
pub mod witnessing;

pub use checkpoint::SignedCheckpoint;
pub use error::{LedgerError, Result};
pub use ledger::{IntegrationObserver, Ledger, LedgerOptions, Location, MAX_RANGE, Receipt};
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use store::{Batch, Store};
pub use writ_tlog;
