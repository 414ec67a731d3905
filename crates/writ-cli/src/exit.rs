//! Documented exit codes and the one place errors are printed.

use std::process::ExitCode;

/// Operational error (I/O, bad file contents, unreachable service).
pub const FAILURE_CODE: u8 = 1;
/// Usage error: bad flags or arguments.
pub const USAGE_CODE: u8 = 2;
/// Denied: verification failed with a reason code.
pub const DENIED_CODE: u8 = 77;

/// Usage error, as an [`ExitCode`].
pub fn usage() -> ExitCode {
    ExitCode::from(USAGE_CODE)
}

/// Operational error, as an [`ExitCode`].
pub fn failure() -> ExitCode {
    ExitCode::from(FAILURE_CODE)
}

/// Denied, as an [`ExitCode`].
pub fn denied() -> ExitCode {
    ExitCode::from(DENIED_CODE)
}

/// A usage error raised after clap parsing (e.g. an argument that fails validation).
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
    if err.downcast_ref::<UsageError>().is_some() { usage() } else { failure() }
}
