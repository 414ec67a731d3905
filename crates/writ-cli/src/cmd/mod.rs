//! Subcommands, one module each.

pub mod approve;
pub mod audit;
pub mod bench;
pub mod demo;
pub mod deny;
pub mod exec;
pub mod init;
pub mod inspect;
pub mod keygen;
pub mod log;
pub mod pending;
pub mod proxy;
pub mod request;
pub mod revoke;
pub mod serve;
pub mod sign;
pub mod status;
pub mod sync;
pub mod trust;
pub mod verify;
