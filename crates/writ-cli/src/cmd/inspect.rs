//! `writ inspect`: the gate's `inspect` (`writ_gate_cli::inspect`).

use std::process::ExitCode;

pub use writ_gate_cli::inspect::InspectArgs;

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    writ_gate_cli::inspect::run(args, "writ")
}
