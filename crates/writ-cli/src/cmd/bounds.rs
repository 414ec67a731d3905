//! `writ request` flags for the boundaries and uses a requester asks for
//! (H2). Policy's annotations set the limits; the writ gets the stricter of
//! both, and asking for more than policy allows is refused (`exceeds_policy`).

use writ_core::model::Boundaries;

use crate::exit::UsageError;

/// Boundaries and uses asked for.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BoundaryArgs {
    /// Wall-clock limit of the run, in seconds.
    #[arg(long = "wall-clock", value_name = "SECS")]
    pub wall_clock: Option<u64>,
    /// CPU-time limit, in seconds.
    #[arg(long, value_name = "SECS")]
    pub cpu: Option<u64>,
    /// Address-space limit, in bytes (suffix K, M or G).
    #[arg(long, value_name = "BYTES")]
    pub memory: Option<String>,
    /// Most processes, the program included.
    #[arg(long, value_name = "N")]
    pub processes: Option<u64>,
    /// Most open files.
    #[arg(long = "open-files", value_name = "N")]
    pub open_files: Option<u64>,
    /// Largest file it may write, in bytes (suffix K, M or G).
    #[arg(long = "file-size", value_name = "BYTES")]
    pub file_size: Option<String>,
    /// No network access.
    #[arg(long = "no-network")]
    pub no_network: bool,
    /// A path below which it may read (repeat for more; absent: not constrained).
    #[arg(long = "fs-read", value_name = "PATH")]
    pub fs_read: Vec<String>,
    /// A path below which it may write (repeat for more).
    #[arg(long = "fs-write", value_name = "PATH")]
    pub fs_write: Vec<String>,
    /// Most uses of the writ (policy's `@uses` caps it).
    #[arg(long, value_name = "N")]
    pub uses: Option<u32>,
}

fn size(flag: &str, v: &str) -> Result<u64, UsageError> {
    let (digits, mult) = match v.as_bytes().last() {
        Some(b'K') => (v.get(..v.len() - 1).unwrap_or_default(), 1u64 << 10),
        Some(b'M') => (v.get(..v.len() - 1).unwrap_or_default(), 1 << 20),
        Some(b'G') => (v.get(..v.len() - 1).unwrap_or_default(), 1 << 30),
        _ => (v, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| UsageError(format!("{flag} `{v}` is not a size in bytes (e.g. `512M`)")))
}

impl BoundaryArgs {
    /// The boundaries asked for (`None` when no flag was given).
    ///
    /// # Errors
    /// A malformed size.
    pub fn boundaries(&self) -> Result<Option<Boundaries>, UsageError> {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        let b = Boundaries {
            wall_clock_secs: self.wall_clock,
            cpu_secs: self.cpu,
            memory_bytes: self.memory.as_deref().map(|v| size("--memory", v)).transpose()?,
            processes: self.processes,
            open_files: self.open_files,
            file_size_bytes: self.file_size.as_deref().map(|v| size("--file-size", v)).transpose()?,
            network: self.no_network.then_some(false),
            fs_read: list(&self.fs_read),
            fs_write: list(&self.fs_write),
        };
        Ok((b != Boundaries::default()).then_some(b))
    }
}
