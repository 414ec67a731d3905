//! Witnessing for writ's ledger (C2SP `tlog-witness`, `tlog-cosignature`).
//!
//! | module | what |
//! |---|---|
//! | [`witness`] | the witness: `add-checkpoint` checks (log signature, old size, consistency proof) and the cosignature, over a durable [`store::Store`] |
//! | [`store`] | SQLite state (`synchronous=FULL`): the latest cosigned checkpoint per origin, and refused requests kept as evidence |
//! | [`server`] | the HTTP face: `POST /add-checkpoint` with the spec's status codes |
//! | [`submit`] | the log side: submit a ledger's checkpoints to the trust root's witnesses and keep the latest cosigned one ([`writ_ledger::witnessing::Witnessing`]) |
//!
//! INVARIANT: a witness never cosigns two checkpoints of one origin that are
//! not consistent, nor a smaller tree after a larger one, also across
//! crashes: the new state is durably committed (one SQLite transaction,
//! `synchronous=FULL`) before the cosignature is returned, and the check of
//! the old size and the commit happen under one lock and one `IMMEDIATE`
//! transaction.
#![forbid(unsafe_code)]

pub mod server;
pub mod store;
pub mod submit;
pub mod witness;

pub use witness::{Reply, Witness};
