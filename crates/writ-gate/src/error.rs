//! The gate's errors. Each maps to one stable denial code (see `docs/gate.md`).

use std::path::PathBuf;

/// Why the gate did not (or could not fully) launch a program.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The program file could not be opened, is not a regular file, or changed
    /// after it was hashed.
    #[error("program `{}`: {detail}", path.display())]
    Program {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A boundary the writ demands cannot be enforced on this host: the gate
    /// refuses to run with less confinement than granted.
    #[error("boundary `{boundary}` cannot be enforced: {detail}")]
    Boundary {
        /// The boundary's field name (`processes`, `network`, `fs_read`, …).
        boundary: &'static str,
        /// What the kernel said.
        detail: String,
    },
    /// The environment holds a loader or interpreter variable
    /// (`writ_core::loader`) whose value the writ does not fix.
    #[error("environment variable `{name}`: {detail}")]
    Environment {
        /// The variable's name.
        name: String,
        /// Why it is refused and what to do.
        detail: String,
    },
    /// The launch request itself is invalid (e.g. an empty argv or a NUL byte).
    #[error("invalid launch: {0}")]
    Invalid(String),
    /// The writ's `not_after` has already passed: nothing is started.
    #[error("the writ has expired")]
    Expired,
    /// Forking, executing or waiting failed.
    #[error("launch failed: {0}")]
    Spawn(String),
}

impl LaunchError {
    /// The stable snake_case denial code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Program { .. } => "scope_program",
            Self::Boundary { .. } => "scope_boundary",
            Self::Environment { .. } => "scope_env",
            Self::Expired => "expired",
            Self::Invalid(_) | Self::Spawn(_) => "internal",
        }
    }
}
