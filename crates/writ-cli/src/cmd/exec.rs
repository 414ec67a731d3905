//! `writ exec`: the gate's `exec` (`writ_gate_cli::exec`, the same code as
//! `writ-gate exec`), plus `--home DIR` for the embedded authority.

use std::process::ExitCode;

use crate::embedded::{HomeArg, embedded};

/// Run PROGRAM under a writ, confined by its boundaries (exit: the
/// program's status, or 77 when denied).
#[derive(Debug, clap::Args)]
pub struct WritExecArgs {
    #[command(flatten)]
    pub home: HomeArg,
    #[command(flatten)]
    pub exec: writ_gate_cli::exec::ExecArgs,
}

pub fn run(args: WritExecArgs) -> anyhow::Result<ExitCode> {
    let embedded = match &args.home.home {
        None => None,
        Some(h) => match embedded(h, args.exec.gate.key.as_deref()) {
            Ok(e) => Some(e),
            Err(d) => {
                let out = writ_gate_cli::exec::Output {
                    prog: "writ",
                    json: args.exec.json,
                    status_file: args.exec.status_file.as_deref(),
                };
                return Ok(out.denied(&d));
            }
        },
    };
    writ_gate_cli::exec::run(args.exec, "writ", embedded)
}
