//! The embedded SQLite store (the default).
//!
//! Durability: the database runs in WAL mode with `synchronous=FULL`. In WAL
//! mode, `FULL` fsyncs the write-ahead log at every commit, so a committed
//! batch survives both process death (`kill -9`) and power loss / OS crash;
//! `NORMAL` would only survive process death. Group commit amortises that
//! fsync over every entry in the batch.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use writ_tlog::Hash;

use crate::error::{LedgerError, Result};
use crate::store::{Batch, Store};

const SCHEMA_VERSION: i64 = 1;

const MIGRATION: &str = "
CREATE TABLE IF NOT EXISTS writ_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS writ_entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS writ_hashes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS writ_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    checkpoint BLOB
);
INSERT OR IGNORE INTO writ_state (id, size, checkpoint) VALUES (1, 0, NULL);
";

/// A ledger store in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| LedgerError::Corrupt(format!("index {v} does not fit the store")))
}

fn to_u64(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| LedgerError::Corrupt(format!("negative index {v} in the store")))
}

fn to_hash(v: Vec<u8>, id: i64) -> Result<Hash> {
    v.try_into().map_err(|_| LedgerError::Corrupt(format!("stored hash {id} is not 32 bytes")))
}

impl SqliteStore {
    /// Open (creating if needed) the ledger database at `path` and apply migrations.
    ///
    /// # Errors
    /// SQLite errors; [`LedgerError::Config`] for a database of a newer schema.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // INVARIANT: FULL fsyncs the WAL on every commit (acknowledged = durable).
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {MIGRATION} COMMIT;"))?;
        let v: Option<String> =
            conn.query_row("SELECT value FROM writ_meta WHERE key = 'schema_version'", [], |r| r.get(0)).optional()?;
        match v {
            None => {
                conn.execute(
                    "INSERT OR IGNORE INTO writ_meta (key, value) VALUES ('schema_version', ?1)",
                    params![SCHEMA_VERSION.to_string()],
                )?;
            }
            Some(v) if v == SCHEMA_VERSION.to_string() => {}
            Some(v) => {
                return Err(LedgerError::Config(format!(
                    "ledger database `{}` has schema version {v}, this build knows {SCHEMA_VERSION}; upgrade writ",
                    path.display()
                )));
            }
        }
        Ok(Self { conn, path: path.to_path_buf() })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Direct access to the connection (tests use it to tamper with a ledger).
    #[doc(hidden)]
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Store for SqliteStore {
    fn size(&mut self) -> Result<u64> {
        let s: i64 = self.conn.query_row("SELECT size FROM writ_state WHERE id = 1", [], |r| r.get(0))?;
        to_u64(s)
    }

    fn latest_checkpoint(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.conn.query_row("SELECT checkpoint FROM writ_state WHERE id = 1", [], |r| r.get(0))?)
    }

    fn state(&mut self) -> Result<(u64, Option<Vec<u8>>)> {
        // One statement reads one row: a single read transaction (snapshot).
        let (s, cp): (i64, Option<Vec<u8>>) =
            self.conn.query_row("SELECT size, checkpoint FROM writ_state WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        Ok((to_u64(s)?, cp))
    }

    fn read_hashes(&mut self, indexes: &[u64]) -> Result<Vec<Hash>> {
        let mut stmt = self.conn.prepare_cached("SELECT hash FROM writ_hashes WHERE id = ?1")?;
        let mut out = Vec::with_capacity(indexes.len());
        for &i in indexes {
            let id = to_i64(i)?;
            let h: Option<Vec<u8>> = stmt.query_row(params![id], |r| r.get(0)).optional()?;
            let h = h.ok_or_else(|| LedgerError::Corrupt(format!("stored hash {i} is missing")))?;
            out.push(to_hash(h, id)?);
        }
        Ok(out)
    }

    fn scan_hashes(&mut self, start: u64, limit: usize) -> Result<Vec<(u64, Hash)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT id, hash FROM writ_hashes WHERE id >= ?1 ORDER BY id LIMIT ?2")?;
        let mut rows = stmt.query(params![to_i64(start)?, limit as i64])?;
        let mut out = Vec::with_capacity(limit.min(65_536));
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            // Borrow the blob instead of allocating a Vec per hash.
            let h: Hash = row
                .get_ref(1)?
                .as_blob()
                .map_err(rusqlite::Error::from)?
                .try_into()
                .map_err(|_| LedgerError::Corrupt(format!("stored hash {id} is not 32 bytes")))?;
            out.push((to_u64(id)?, h));
        }
        Ok(out)
    }

    fn scan_entries(&mut self, start: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT idx, data FROM writ_entries WHERE idx >= ?1 ORDER BY idx LIMIT ?2")?;
        let rows = stmt
            .query_map(params![to_i64(start)?, limit as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut out = Vec::with_capacity(limit.min(65_536));
        for row in rows {
            let (i, d) = row?;
            out.push((to_u64(i)?, d));
        }
        Ok(out)
    }

    fn commit(&mut self, batch: &Batch<'_>) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let size: i64 = tx.query_row("SELECT size FROM writ_state WHERE id = 1", [], |r| r.get(0))?;
        let size = to_u64(size)?;
        if size != batch.start {
            return Err(LedgerError::Conflict { expected: batch.start, found: size });
        }
        {
            let mut ins = tx.prepare_cached("INSERT INTO writ_entries (idx, data) VALUES (?1, ?2)")?;
            for (i, e) in batch.entries.iter().enumerate() {
                ins.execute(params![to_i64(batch.start + i as u64)?, e])?;
            }
            let mut insh = tx.prepare_cached("INSERT INTO writ_hashes (id, hash) VALUES (?1, ?2)")?;
            for (id, h) in batch.hashes {
                insh.execute(params![to_i64(*id)?, &h[..]])?;
            }
        }
        let new_size = batch.start + batch.entries.len() as u64;
        tx.execute(
            "UPDATE writ_state SET size = ?1, checkpoint = ?2 WHERE id = 1",
            params![to_i64(new_size)?, batch.checkpoint],
        )?;
        tx.commit()?;
        Ok(())
    }
}
