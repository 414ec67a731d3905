//! `writ`: the one command-line tool of writ.
//!
//! Exit codes (part of the public contract, see `docs/cli.md`):
//! - `0`  success / allowed
//! - `1`  an operational error (I/O, bad file contents, unreachable service)
//! - `2`  a usage error (bad flags or arguments)
//! - `77` denied: the writ did not verify; the reason code is printed

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod config;
mod demo;
mod embedded;
mod exit;
mod files;

#[derive(Debug, Parser)]
#[command(name = "writ", version, about = "Execution as an authenticated act: signed, scoped, expiring writs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an Ed25519 key pair.
    Keygen(cmd::keygen::KeygenArgs),
    /// Manage a trust root.
    Trust(cmd::trust::TrustArgs),
    /// Sign a writ predicate (the low-level issuer).
    Sign(cmd::sign::SignArgs),
    /// Verify a writ offline (exit 0 allowed, 77 denied).
    Verify(cmd::verify::VerifyArgs),
    /// Decode a writ without trusting it.
    Inspect(cmd::inspect::InspectArgs),
    /// Walk through the whole flow in a scratch directory.
    Demo(cmd::demo::DemoArgs),
    /// Run a program under a writ, confined by its boundaries (77 when denied).
    Exec(cmd::exec::WritExecArgs),
    /// The transparency ledger: verifier key, checkpoint, proofs.
    Log(cmd::log::LogArgs),
    /// Recompute the ledger and name any tampering (77 when found).
    Audit(cmd::audit::AuditArgs),
    /// Create an authority home (keys, trust root, policies, ledger).
    Init(cmd::init::InitArgs),
    /// Run the authority's HTTP API.
    Serve(cmd::serve::ServeArgs),
    /// Ask the authority for a writ.
    Request(cmd::request::RequestArgs),
    /// List requests waiting for approval.
    Pending(cmd::pending::PendingArgs),
    /// Approve a pending request with your own signature.
    Approve(cmd::approve::ApproveArgs),
    /// Deny a pending request with your own signature.
    Deny(cmd::deny::DenyArgs),
    /// Revoke a writ.
    Revoke(cmd::revoke::RevokeArgs),
    /// Show a writ's state (77 when revoked).
    Status(cmd::status::StatusArgs),
    /// Load-test an authority with auto-allowed requests.
    Bench(cmd::bench::BenchArgs),
    /// Upload records a gate spooled while offline to the authority.
    Sync(cmd::sync::WritSyncArgs),
    /// Put the gate in front of an HTTP service (403 + reason without a matching writ).
    Proxy(cmd::proxy::WritProxyArgs),
    /// Export a writ and its receipt as a page that verifies offline.
    Proofs(cmd::proofs::ProofsArgs),
    /// Show one request in full, as an approver must see it before signing.
    Show(cmd::show::ShowArgs),
    /// Print a shell completion script.
    Completions(cmd::completions::CompletionsArgs),
    /// Write man pages into a directory.
    Man(cmd::completions::ManArgs),
    /// Rebuild the authority's state from the ledger (--check: name every difference).
    Recover(cmd::recover::RecoverArgs),
    /// Run a transparency-log witness (C2SP tlog-witness): cosign consistent checkpoints.
    Witness(cmd::witness::WitnessArgs),
    /// Mint a narrower child of a writ you hold, for a sub-agent (signed by your holder key).
    Delegate(cmd::delegate::DelegateArgs),
    /// Record delegated writs with the authority (submit, show).
    Delegations(cmd::delegations::DelegationsArgs),
    /// Follow a remote log from its checkpoint and tiles: consistency, semantic audit, watches.
    Monitor(cmd::monitor::MonitorArgs),
    // @subcommands (one line per subcommand; keep this marker)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit::usage() } else { ExitCode::SUCCESS };
        }
    };
    let result = match cli.command {
        Command::Keygen(a) => cmd::keygen::run(a),
        Command::Trust(a) => cmd::trust::run(a),
        Command::Sign(a) => cmd::sign::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Exec(a) => cmd::exec::run(a),
        Command::Log(a) => cmd::log::run(a),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Init(a) => cmd::init::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Request(a) => cmd::request::run(a),
        Command::Pending(a) => cmd::pending::run(a),
        Command::Approve(a) => cmd::approve::run(a),
        Command::Deny(a) => cmd::deny::run(a),
        Command::Revoke(a) => cmd::revoke::run(a),
        Command::Status(a) => cmd::status::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Sync(a) => cmd::sync::run(a),
        Command::Proxy(a) => cmd::proxy::run(a),
        Command::Proofs(a) => cmd::proofs::run(a),
        Command::Show(a) => cmd::show::run(a),
        Command::Completions(a) => cmd::completions::completions(a),
        Command::Man(a) => cmd::completions::man(a),
        Command::Recover(a) => cmd::recover::run(a),
        Command::Witness(a) => cmd::witness::run(a),
        Command::Delegate(a) => cmd::delegate::run(a),
        Command::Delegations(a) => cmd::delegations::run(a),
        Command::Monitor(a) => cmd::monitor::run(a),
        // @dispatch (one arm per subcommand; keep this marker)
    };
    match result {
        Ok(code) => code,
        Err(err) => exit::report(&err),
    }
}
