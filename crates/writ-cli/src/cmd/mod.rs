//! Subcommands, one module each.

pub mod approve;
pub mod audit;
pub mod bench;
pub mod bounds;
pub mod completions;
pub mod delegate;
pub mod demo;
pub mod deny;
pub mod exec;
pub mod init;
pub mod inspect;
pub mod keygen;
pub mod log;
pub mod pending;
pub mod proofs;
pub mod proxy;
pub mod recover;
pub mod request;
pub mod revoke;
pub mod serve;
pub mod show;
pub mod sign;
pub mod status;
pub mod sync;
pub mod trust;
pub mod verify;
