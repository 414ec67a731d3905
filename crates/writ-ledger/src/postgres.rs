//! The PostgreSQL store, for several authority replicas sharing one database.
//!
//! All tables live in one schema (default `writ`), created with migrations on
//! connect under an advisory lock, so replicas can start concurrently. A
//! commit takes a row lock on the state row and checks the expected size, so
//! two sequencers can never interleave: the loser gets
//! [`LedgerError::Conflict`]. PostgreSQL's default `synchronous_commit = on`
//! makes a committed batch durable (WAL flushed) before `COMMIT` returns.
//!
//! The client is the blocking `postgres` crate: call it from plain threads
//! (or `tokio::task::spawn_blocking`), never directly on an async executor.

use postgres::{Client, NoTls};
use writ_tlog::Hash;

use crate::error::{LedgerError, Result};
use crate::store::{Batch, Store};

/// Longest schema name accepted.
pub const MAX_SCHEMA_NAME: usize = 48;

/// A ledger store in a PostgreSQL schema.
pub struct PgStore {
    client: Client,
    schema: String,
    /// Prepared hot statements (one round trip per call instead of two).
    /// Dropped with the store, which the ledger does after any failure.
    stmts: std::collections::HashMap<&'static str, postgres::Statement>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("schema", &self.schema).finish_non_exhaustive()
    }
}

/// Whether `s` is an acceptable schema name: `[a-z_][a-z0-9_]*`, bounded.
#[must_use]
pub fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SCHEMA_NAME
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes().first().is_some_and(u8::is_ascii_digit)
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

impl PgStore {
    /// Connect to `url` and use (creating and migrating) `schema`.
    ///
    /// # Errors
    /// [`LedgerError::Config`] for a bad schema name; PostgreSQL errors.
    pub fn connect(url: &str, schema: &str) -> Result<Self> {
        if !valid_schema(schema) {
            return Err(LedgerError::Config(format!(
                "invalid postgresql schema name `{schema}`: use lowercase letters, digits and `_`"
            )));
        }
        let mut client = Client::connect(url, NoTls)?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock(7297484919)", &[])?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             SET LOCAL search_path TO {schema};
             CREATE TABLE IF NOT EXISTS writ_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS writ_entries (idx BIGINT PRIMARY KEY, data BYTEA NOT NULL);
             CREATE TABLE IF NOT EXISTS writ_hashes (id BIGINT PRIMARY KEY, hash BYTEA NOT NULL);
             CREATE TABLE IF NOT EXISTS writ_state (
                 id INT PRIMARY KEY CHECK (id = 1),
                 size BIGINT NOT NULL,
                 checkpoint BYTEA
             );
             INSERT INTO writ_state (id, size, checkpoint) VALUES (1, 0, NULL) ON CONFLICT DO NOTHING;
             INSERT INTO writ_meta (key, value) VALUES ('schema_version', '1') ON CONFLICT DO NOTHING;"
        ))?;
        let v: String = tx.query_one("SELECT value FROM writ_meta WHERE key = 'schema_version'", &[])?.get(0);
        if v != "1" {
            return Err(LedgerError::Config(format!(
                "postgresql ledger schema `{schema}` has version {v}, this build knows 1; upgrade writ"
            )));
        }
        tx.commit()?;
        client.batch_execute(&format!("SET search_path TO {schema}"))?;
        Ok(Self { client, schema: schema.to_string(), stmts: std::collections::HashMap::new() })
    }

    /// The schema in use.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The prepared statement for `sql` (prepared once per connection).
    fn statement(&mut self, sql: &'static str) -> Result<postgres::Statement> {
        if let Some(st) = self.stmts.get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(sql)?;
        self.stmts.insert(sql, st.clone());
        Ok(st)
    }

    /// Direct access to the client (tests use it to tamper or cut connections).
    #[doc(hidden)]
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl Store for PgStore {
    fn size(&mut self) -> Result<u64> {
        let s: i64 = self.client.query_one("SELECT size FROM writ_state WHERE id = 1", &[])?.get(0);
        to_u64(s)
    }

    fn latest_checkpoint(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.client.query_one("SELECT checkpoint FROM writ_state WHERE id = 1", &[])?.get(0))
    }

    fn state(&mut self) -> Result<(u64, Option<Vec<u8>>)> {
        // One statement reads one row: a single (autocommit) transaction.
        let row = self.client.query_one("SELECT size, checkpoint FROM writ_state WHERE id = 1", &[])?;
        Ok((to_u64(row.get(0))?, row.get(1)))
    }

    fn read_hashes(&mut self, indexes: &[u64]) -> Result<Vec<Hash>> {
        let ids: Vec<i64> = indexes.iter().map(|&i| to_i64(i)).collect::<Result<_>>()?;
        let st = self.statement("SELECT id, hash FROM writ_hashes WHERE id = ANY($1)")?;
        let rows = self.client.query(&st, &[&ids])?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.get(0);
            found.insert(id, to_hash(r.get(1), id)?);
        }
        ids.iter()
            .map(|id| {
                found.get(id).copied().ok_or_else(|| LedgerError::Corrupt(format!("stored hash {id} is missing")))
            })
            .collect()
    }

    fn scan_hashes(&mut self, start: u64, limit: usize) -> Result<Vec<(u64, Hash)>> {
        let rows = self.client.query(
            "SELECT id, hash FROM writ_hashes WHERE id >= $1 ORDER BY id LIMIT $2",
            &[&to_i64(start)?, &(limit as i64)],
        )?;
        rows.into_iter()
            .map(|r| {
                let id: i64 = r.get(0);
                Ok((to_u64(id)?, to_hash(r.get(1), id)?))
            })
            .collect()
    }

    fn scan_entries(&mut self, start: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let rows = self.client.query(
            "SELECT idx, data FROM writ_entries WHERE idx >= $1 ORDER BY idx LIMIT $2",
            &[&to_i64(start)?, &(limit as i64)],
        )?;
        rows.into_iter().map(|r| Ok((to_u64(r.get(0))?, r.get(1)))).collect()
    }

    fn commit(&mut self, batch: &Batch<'_>) -> Result<()> {
        let lock = self.statement("SELECT size FROM writ_state WHERE id = 1 FOR UPDATE")?;
        let ins_entries =
            self.statement("INSERT INTO writ_entries (idx, data) SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[])")?;
        let ins_hashes =
            self.statement("INSERT INTO writ_hashes (id, hash) SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[])")?;
        let update = self.statement("UPDATE writ_state SET size = $1, checkpoint = $2 WHERE id = 1")?;
        let mut tx = self.client.transaction()?;
        let size: i64 = tx.query_one(&lock, &[])?.get(0);
        let size = to_u64(size)?;
        if size != batch.start {
            return Err(LedgerError::Conflict { expected: batch.start, found: size });
        }
        let idx: Vec<i64> = (0..batch.entries.len() as u64).map(|i| to_i64(batch.start + i)).collect::<Result<_>>()?;
        let data: Vec<&[u8]> = batch.entries.iter().map(Vec::as_slice).collect();
        tx.execute(&ins_entries, &[&idx, &data])?;
        let hid: Vec<i64> = batch.hashes.iter().map(|(i, _)| to_i64(*i)).collect::<Result<_>>()?;
        let hs: Vec<&[u8]> = batch.hashes.iter().map(|(_, h)| &h[..]).collect();
        tx.execute(&ins_hashes, &[&hid, &hs])?;
        let new_size = to_i64(batch.start + batch.entries.len() as u64)?;
        tx.execute(&update, &[&new_size, &batch.checkpoint])?;
        tx.commit()?;
        Ok(())
    }
}
