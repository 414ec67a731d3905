//! Subcommands, one module each.

pub mod audit;
pub mod demo;
pub mod exec;
pub mod proxy;
pub mod inspect;
pub mod keygen;
pub mod log;
pub mod sign;
pub mod trust;
pub mod verify;
pub mod approve;
pub mod deny;
pub mod init;
pub mod pending;
pub mod request;
pub mod revoke;
pub mod serve;
pub mod status;
pub mod sync;
pub mod bench;
