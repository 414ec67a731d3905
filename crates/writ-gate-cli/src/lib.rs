//! writ-gate-cli: the lean `writ-gate` binary's argument parsing and
//! commands — `exec`, `proxy`, `verify`, `inspect`, `sync` — as a library,
//! so that the `writ` binary forwards the same subcommands to the same code.
//!
//! Each command parses its clap arguments into the typed request of a
//! library call ([`writ_gate::exec`], `writ_proxy::serve`,
//! [`writ_core::verify`], [`writ_gate::Spool::drain`]) and formats the
//! result. This crate links only the core, the gate, the proxy, `writ-api`
//! and `writ-client`: no policy engine, database or HTTP server framework
//! (checked by `scripts/check-gate-deps.sh`).
//!
//! Exit codes (part of the public contract, see `docs/cli.md`): `0` success
//! / allowed (for `exec`: the program's own status), `1` an operational
//! error, `2` a usage error, `77` denied, with the reason code printed.
#![forbid(unsafe_code)]

pub mod config;
pub mod exec;
pub mod exit;
pub mod files;
pub mod gate;
pub mod inspect;
pub mod mcp;
pub mod proxy;
pub mod sync;
pub mod trust;
pub mod verify;

use std::process::ExitCode;

/// The subcommands of `writ-gate` (and of `writ`, which forwards them).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run a program under a writ, confined by its boundaries (77 when denied).
    Exec(exec::ExecArgs),
    /// Put the gate in front of an HTTP service (403 + reason without a matching writ).
    Proxy(proxy::ProxyArgs),
    /// Put the gate in front of an MCP server (stdio or Streamable HTTP): tools/call needs a writ.
    Mcp(mcp::McpArgs),
    /// Verify a writ offline (exit 0 allowed, 77 denied).
    Verify(verify::VerifyArgs),
    /// Decode a writ without trusting it.
    Inspect(inspect::InspectArgs),
    /// Upload records this gate spooled to the authority.
    Sync(sync::SyncArgs),
    /// Pin the authority's signed trust root by digest, and take signed successors.
    Trust(trust::TrustArgs),
}

/// `writ-gate`'s command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "writ-gate",
    version,
    about = "The writ gate: run programs and serve requests only under a verified writ"
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Runs `command` as `prog`.
///
/// # Errors
/// The command's usage or operational error.
pub fn dispatch(command: Command, prog: &str) -> anyhow::Result<ExitCode> {
    match command {
        Command::Exec(a) => exec::run(a, prog, None),
        Command::Proxy(a) => proxy::run(a, prog, None),
        Command::Mcp(a) => mcp::run(a, prog, None),
        Command::Verify(a) => verify::run(a),
        Command::Inspect(a) => inspect::run(a, prog),
        Command::Sync(a) => sync::run(a, None),
        Command::Trust(a) => trust::run(a, prog),
    }
}
