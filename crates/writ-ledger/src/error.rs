use writ_tlog::TlogError;

/// Everything that can go wrong in the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The append queue is full: appenders outrun the disk.
    #[error("ledger is busy: {pending} appends are already queued; retry after a short delay")]
    Busy {
        /// Queue capacity.
        pending: usize,
    },
    /// An entry larger than an entry bundle can carry.
    #[error("entry is {size} bytes, over the ledger limit of {max}; shorten it")]
    EntryTooLarge {
        /// Entry size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// An index or range past the tree.
    #[error("index {index} is not in the ledger (size {size})")]
    OutOfRange {
        /// Asked.
        index: u64,
        /// Current size.
        size: u64,
    },
    /// The ledger's stored state does not match what it signed. The ledger
    /// refuses to sign anything until an operator looks.
    #[error(
        "ledger state is inconsistent with its signed checkpoint: {0}; run `writ audit` and do not sign new checkpoints until resolved"
    )]
    Inconsistent(String),
    /// The store does not extend the last checkpoint this ledger key
    /// signed: signing its tree would fork the log. Nothing is signed.
    #[error(
        "refusing to sign a checkpoint: ledger key `{origin}` last signed a tree of {last_size} entries (recorded in `{last_path}`), but the store {location} {what}; signing would fork the log. Serve this home from the store its key signed for (restore that store or fix the home's store setting), or start a new log in a new home with a new ledger key"
    )]
    Fork {
        /// The log origin (key name).
        origin: String,
        /// Size of the last checkpoint the key signed.
        last_size: u64,
        /// Where that checkpoint is recorded.
        last_path: String,
        /// The store (as `Location` displays it).
        location: String,
        /// What is wrong with the store.
        what: String,
    },
    /// Another sequencer appended to the shared store.
    #[error(
        "the store was appended to by another sequencer (expected size {expected}, found {found}); only one sequencer may write"
    )]
    Conflict {
        /// Size this sequencer expected.
        expected: u64,
        /// Size found in the store.
        found: u64,
    },
    /// The sequencer stopped (closed or failed).
    #[error("the ledger sequencer has stopped: {0}")]
    Stopped(String),
    /// A Merkle / note / format error.
    #[error(transparent)]
    Tlog(#[from] TlogError),
    /// SQLite error.
    #[cfg(feature = "sqlite")]
    #[error("sqlite ledger store: {0}")]
    Sqlite(rusqlite::Error),
    /// PostgreSQL error.
    #[cfg(feature = "postgres")]
    #[error("postgresql ledger store: {}; check the database URL and that the server is running", pg_detail(.0))]
    Postgres(postgres::Error),
    /// File-system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Stored data that cannot be what the ledger wrote.
    #[error("corrupt ledger store: {0}; run `writ audit`")]
    Corrupt(String),
    /// Bad key file or configuration.
    #[error("{0}")]
    Config(String),
}

// Not `#[from]`: the cause is already in the message, so error chains
// (anyhow's `{:#}`) do not print it twice.
#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

#[cfg(feature = "postgres")]
impl From<postgres::Error> for LedgerError {
    fn from(e: postgres::Error) -> Self {
        Self::Postgres(e)
    }
}

impl LedgerError {
    /// Whether this is a storage-level failure (a database error) after
    /// which the connection should be dropped and reopened.
    #[must_use]
    pub fn is_storage(&self) -> bool {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => true,
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => true,
            _ => false,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}

/// Result alias.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

#[cfg(feature = "postgres")]
fn pg_detail(e: &postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(s) => format!("{e}: {s}"),
        None => e.to_string(),
    }
}
