//! `writ-gate`: the lean gate binary (see the `writ_gate_cli` crate docs
//! and `docs/cli.md`).

use std::process::ExitCode;

use clap::Parser as _;
use writ_gate_cli::{Cli, dispatch, exit};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit::usage() } else { ExitCode::SUCCESS };
        }
    };
    match dispatch(cli.command, "writ-gate") {
        Ok(code) => code,
        Err(err) => exit::report(&err),
    }
}
