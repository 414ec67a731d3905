//! Documented exit codes (see `docs/cli.md`) and the one place errors are
//! printed.

use std::process::ExitCode;

/// Operational error (I/O, bad configuration, unreachable service).
pub const FAILURE_CODE: u8 = 1;
/// Usage error: bad flags or arguments.
pub const USAGE_CODE: u8 = 2;
/// Denied: the reason code is printed (and in `--json` / `--status-file`).
pub const DENIED_CODE: u8 = 77;

/// Usage error, as an [`ExitCode`].
pub fn usage() -> ExitCode {
    ExitCode::from(USAGE_CODE)
}

/// Denied, as an [`ExitCode`].
pub fn denied() -> ExitCode {
    ExitCode::from(DENIED_CODE)
}

/// A usage error raised after clap parsing (e.g. a value out of bounds).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Prints an error chain on stderr and picks the exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    if err.downcast_ref::<UsageError>().is_some() { usage() } else { ExitCode::from(FAILURE_CODE) }
}
