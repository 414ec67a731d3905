//! The witness's durable state, in SQLite: per origin, the latest checkpoint
//! it cosigned (size, root hash, the note as submitted, the time), and the
//! refused requests whose log signature verified (evidence of a log that
//! forked or rolled back, as C2SP `tlog-witness` suggests keeping).
//!
//! Durability: WAL with `synchronous=FULL`, so a committed update survives a
//! crash or power loss; [`Store::transact`] runs the check and the update in
//! one `IMMEDIATE` transaction, so two witness processes on one database
//! cannot interleave between them either.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use writ_tlog::Hash;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("witness state `{path}`: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// The error.
        source: rusqlite::Error,
    },
    /// A stored row is not what this witness writes.
    #[error("witness state `{path}` is corrupt: {detail}")]
    Corrupt {
        /// The database file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

/// The latest cosigned checkpoint of one origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
}

/// What [`Store::transact`]'s decision asks to write.
#[derive(Debug)]
pub enum Write<'a> {
    /// Record `size`/`root` (and the note) as the latest cosigned checkpoint.
    Cosign {
        /// Tree size.
        size: u64,
        /// Root hash.
        root: Hash,
        /// The submitted note.
        note: &'a [u8],
    },
    /// Keep the request as evidence of a refusal.
    Refuse {
        /// HTTP status answered.
        status: u16,
        /// Why.
        reason: String,
        /// The request body.
        body: &'a [u8],
    },
    /// Nothing.
    Nothing,
}

/// The witness's database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cosigned (
  origin TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  root BLOB NOT NULL,
  note BLOB NOT NULL,
  time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  origin TEXT NOT NULL,
  time INTEGER NOT NULL,
  status INTEGER NOT NULL,
  reason TEXT NOT NULL,
  body BLOB NOT NULL
);
";

impl Store {
    /// Open (creating) the database at `path`.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let p = path.display().to_string();
        let err = |source| StoreError::Sqlite { path: p.clone(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Self { conn, path: p })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }

    fn read(conn: &Connection, path: &str, origin: &str) -> Result<Option<Cosigned>, StoreError> {
        let row: Option<(i64, Vec<u8>)> = conn
            .query_row("SELECT size, root FROM cosigned WHERE origin = ?1", params![origin], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(|source| StoreError::Sqlite { path: path.to_string(), source })?;
        let Some((size, root)) = row else { return Ok(None) };
        let corrupt = |detail: &str| StoreError::Corrupt { path: path.to_string(), detail: detail.to_string() };
        let size = u64::try_from(size).map_err(|_| corrupt("negative tree size"))?;
        let root: Hash = root.try_into().map_err(|_| corrupt("root hash is not 32 bytes"))?;
        Ok(Some(Cosigned { size, root }))
    }

    /// The latest cosigned checkpoint of `origin`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn latest(&self, origin: &str) -> Result<Option<Cosigned>, StoreError> {
        Self::read(&self.conn, &self.path, origin)
    }

    /// Number of refused requests kept for `origin`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn refused(&self, origin: &str) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM refused WHERE origin = ?1", params![origin], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Read the state of `origin`, let `decide` choose what to write, and
    /// commit it durably, all in one `IMMEDIATE` transaction. Returns what
    /// `decide` returned once the write is on disk.
    ///
    /// # Errors
    /// [`StoreError`]; nothing is written then.
    pub fn transact<'w, T>(
        &mut self,
        origin: &str,
        now: u64,
        decide: impl FnOnce(Option<&Cosigned>) -> (T, Write<'w>),
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let current = Self::read(&tx, &path, origin)?;
        let (out, write) = decide(current.as_ref());
        let time = i64::try_from(now).unwrap_or(i64::MAX);
        match write {
            Write::Cosign { size, root, note } => {
                let size = i64::try_from(size).map_err(|_| StoreError::Corrupt {
                    path: path.clone(),
                    detail: "tree size above 2^63 cannot be stored".into(),
                })?;
                tx.execute(
                    "INSERT INTO cosigned (origin, size, root, note, time) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(origin) DO UPDATE SET size = ?2, root = ?3, note = ?4, time = ?5",
                    params![origin, size, &root[..], note, time],
                )
                .map_err(err)?;
            }
            Write::Refuse { status, reason, body } => {
                tx.execute(
                    "INSERT INTO refused (origin, time, status, reason, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![origin, time, status, reason, body],
                )
                .map_err(err)?;
            }
            Write::Nothing => {}
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }
}
