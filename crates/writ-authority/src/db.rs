//! The authority's state database: SQLite (embedded) or PostgreSQL (shared
//! by replicas), behind one tiny value-based interface so that every query
//! is written once.
//!
//! SQL is written with numbered `?N` placeholders; for PostgreSQL they become
//! `$N`. Every state change runs in [`Db::tx`]: `BEGIN IMMEDIATE` on SQLite
//! (one writer at a time), a normal transaction with `FOR UPDATE` row locks on
//! PostgreSQL.

use std::any::Any;
use std::path::Path;
use std::sync::mpsc::{self, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};

use crate::error::{AuthorityError, Result};

/// A SQL value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Val {
    /// The integer, if it is one.
    #[must_use]
    pub fn int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// The text, if it is some.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            _ => None,
        }
    }
    /// The bytes, if they are some.
    #[must_use]
    pub fn blob(&self) -> Option<&[u8]> {
        match self {
            Self::Blob(b) => Some(b),
            _ => None,
        }
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Self::Text(s.to_string())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}
impl From<Vec<u8>> for Val {
    fn from(b: Vec<u8>) -> Self {
        Self::Blob(b)
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(o: Option<T>) -> Self {
        o.map_or(Self::Null, Into::into)
    }
}

/// One row.
pub type Row = Vec<Val>;

/// What a transaction can do.
pub trait Tx {
    /// Run a statement; returns the number of rows changed.
    ///
    /// # Errors
    /// Database errors.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64>;
    /// Run a query.
    ///
    /// # Errors
    /// Database errors.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>>;
    /// What to append to a `SELECT` to lock its rows until the transaction
    /// ends: ` FOR UPDATE` on PostgreSQL, nothing on SQLite (whose
    /// transactions are exclusive).
    fn for_update(&self) -> &'static str;
    /// Whether this is PostgreSQL (some writes take one statement there).
    fn postgres(&self) -> bool {
        false
    }
    /// Run a statement without parameters or preparation (`SAVEPOINT`…).
    ///
    /// # Errors
    /// Database errors.
    fn raw(&mut self, sql: &str) -> Result<()>;
}

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS auth_requests (
  id TEXT PRIMARY KEY, requester TEXT NOT NULL, requester_name TEXT NOT NULL,
  document BLOB NOT NULL, digest TEXT NOT NULL, status TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  approvals_required INTEGER NOT NULL, approver_group TEXT, plan TEXT NOT NULL, writ_id TEXT);
CREATE INDEX IF NOT EXISTS auth_requests_status ON auth_requests(status);
CREATE TABLE IF NOT EXISTS auth_votes (
  request_id TEXT NOT NULL, approver TEXT NOT NULL, approver_name TEXT NOT NULL, verdict TEXT NOT NULL,
  time INTEGER NOT NULL, sig TEXT NOT NULL, reason TEXT, PRIMARY KEY (request_id, approver));
CREATE TABLE IF NOT EXISTS auth_writs (
  id TEXT PRIMARY KEY, request_id TEXT NOT NULL, requester TEXT NOT NULL, envelope BLOB NOT NULL,
  envelope_sha256 TEXT NOT NULL, receipt BLOB NOT NULL, uses INTEGER, used INTEGER NOT NULL DEFAULT 0,
  not_after INTEGER NOT NULL, revoked_at INTEGER, reason TEXT);
CREATE TABLE IF NOT EXISTS auth_nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS auth_http_nonces (k TEXT PRIMARY KEY, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS auth_entries (idx INTEGER PRIMARY KEY, kind TEXT NOT NULL, request_id TEXT, writ_id TEXT);
CREATE INDEX IF NOT EXISTS auth_entries_request ON auth_entries(request_id);
CREATE INDEX IF NOT EXISTS auth_entries_writ ON auth_entries(writ_id);
CREATE TABLE IF NOT EXISTS auth_gate_records (digest TEXT PRIMARY KEY, idx INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS auth_delegations (
  id TEXT PRIMARY KEY, parent_id TEXT NOT NULL, root_id TEXT NOT NULL, request_id TEXT NOT NULL,
  holder TEXT NOT NULL, depth INTEGER NOT NULL, envelope BLOB NOT NULL, envelope_sha256 TEXT NOT NULL,
  receipt BLOB NOT NULL, idx INTEGER NOT NULL, uses INTEGER, used INTEGER NOT NULL DEFAULT 0,
  not_after INTEGER NOT NULL, revoked_at INTEGER, reason TEXT);
CREATE INDEX IF NOT EXISTS auth_delegations_parent ON auth_delegations(parent_id);
CREATE TABLE IF NOT EXISTS auth_idempotency (
  caller TEXT NOT NULL, k TEXT NOT NULL, op TEXT NOT NULL, body_sha256 TEXT NOT NULL, state TEXT NOT NULL,
  outcome TEXT, created INTEGER NOT NULL, PRIMARY KEY (caller, k));
";

/// The state database: SQLite or PostgreSQL, each with the committer that
/// groups the transactions of concurrent callers ([`Db::tx_grouped`]).
pub enum Db {
    /// An embedded SQLite file.
    Sqlite(Grouped),
    /// A PostgreSQL schema, over a small pool of connections.
    Postgres(Grouped),
}

/// A store and its group committer.
pub struct Grouped {
    store: Arc<Store>,
    /// The committer's queue, started on first use.
    group: Mutex<Option<mpsc::SyncSender<GroupJob>>>,
}

impl Grouped {
    fn new(store: Store) -> Self {
        Self { store: Arc::new(store), group: Mutex::new(None) }
    }
}

/// The store behind a [`Db`].
enum Store {
    Sqlite(Mutex<rusqlite::Connection>),
    Postgres(Vec<Mutex<PgConn>>),
}

/// The value a grouped job returns, type-erased for the committer.
type Erased = Box<dyn Any + Send>;
/// A grouped job: re-runnable (a batch whose job failed is rolled back and
/// run again with each job isolated in a savepoint).
type JobFn = Box<dyn FnMut(&mut dyn Tx) -> Result<Erased> + Send>;

struct GroupJob {
    run: JobFn,
    reply: mpsc::SyncSender<Result<Erased>>,
}

/// Most jobs one grouped transaction takes.
const MAX_GROUP: usize = 512;
/// Most jobs waiting for the committer before callers are refused `busy`.
const MAX_GROUP_PENDING: usize = 4096;

/// A pooled PostgreSQL connection with its prepared statements (by SQL text):
/// each hot statement is parsed once per connection, not once per call (one
/// round trip instead of two).
pub struct PgConn {
    client: postgres::Client,
    stmts: std::collections::HashMap<String, postgres::Statement>,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn").field("statements", &self.stmts.len()).finish_non_exhaustive()
    }
}

/// Most statements cached per connection (the authority uses a few dozen).
const PG_STATEMENT_CACHE: usize = 128;

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sqlite(_) => "Db::Sqlite",
            Self::Postgres(_) => "Db::Postgres",
        })
    }
}

impl std::fmt::Debug for Grouped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Grouped")
    }
}

impl Db {
    /// Open (creating) the SQLite state database at `path`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn open_sqlite(path: &Path) -> Result<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // INVARIANT: an acknowledged revocation or use consumption survives
        // a power loss: WAL + FULL syncs the log on every commit (NORMAL
        // would only survive a crash of the process). The ledger runs with
        // synchronous=FULL too; `writ recover` rebuilds the rest from it.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SQLITE_SCHEMA)?;
        // Migration: databases made before votes kept their reason.
        let has_reason: i64 =
            conn.query_row("SELECT COUNT(*) FROM pragma_table_info('auth_votes') WHERE name = 'reason'", [], |r| {
                r.get(0)
            })?;
        if has_reason == 0 {
            conn.execute_batch("ALTER TABLE auth_votes ADD COLUMN reason TEXT")?;
        }
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self::Sqlite(Grouped::new(Store::Sqlite(Mutex::new(conn)))))
    }

    /// Connect to PostgreSQL at `url` and use (creating) `schema`.
    ///
    /// # Errors
    /// PostgreSQL errors; a bad schema name.
    pub fn open_postgres(url: &str, schema: &str) -> Result<Self> {
        if !writ_ledger::postgres::valid_schema(schema) {
            return Err(AuthorityError::Config(format!(
                "invalid postgresql schema name `{schema}`: use lowercase letters, digits and `_`"
            )));
        }
        let mut client = postgres::Client::connect(url, postgres::NoTls)?;
        let pg_schema = SQLITE_SCHEMA.replace("BLOB", "BYTEA").replace("INTEGER", "BIGINT");
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock(7297484920)", &[])?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; SET LOCAL search_path TO {schema}; {pg_schema}
             ALTER TABLE auth_votes ADD COLUMN IF NOT EXISTS reason TEXT;"
        ))?;
        tx.commit()?;
        // INVARIANT: a commit is acknowledged only once it is durable on the
        // server (the PostgreSQL default, made explicit so a server or role
        // setting of `synchronous_commit = off` cannot lose a revocation).
        client.batch_execute(&format!("SET search_path TO {schema}; SET synchronous_commit TO on"))?;
        let mut pool = vec![Mutex::new(PgConn { client, stmts: Default::default() })];
        for _ in 1..PG_POOL {
            let mut c = postgres::Client::connect(url, postgres::NoTls)?;
            c.batch_execute(&format!("SET search_path TO {schema}; SET synchronous_commit TO on"))?;
            pool.push(Mutex::new(PgConn { client: c, stmts: Default::default() }));
        }
        Ok(Self::Postgres(Grouped::new(Store::Postgres(pool))))
    }

    fn grouped(&self) -> &Grouped {
        match self {
            Self::Sqlite(g) | Self::Postgres(g) => g,
        }
    }

    /// Run `f` in one transaction of its own; commit when it returns `Ok`.
    ///
    /// # Errors
    /// Whatever `f` returns; database errors.
    pub fn tx<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        self.grouped().store.tx(f)
    }

    /// Run `f` in a transaction shared with the concurrent callers of this
    /// method (group commit): one commit, so one fsync (SQLite) or one WAL
    /// flush (PostgreSQL), for a whole batch instead of one each. Returns
    /// once the transaction holding `f`'s writes has committed, durably.
    ///
    /// `f` may run more than once: when a job of the batch fails, the batch
    /// is rolled back and run again with each job in a savepoint, so a
    /// failing job leaves no trace and the others still commit. `f` must
    /// therefore only touch the database (no side effects outside it).
    ///
    /// # Errors
    /// Whatever `f` returns; database errors; [`AuthorityError::Busy`] when
    /// too many jobs wait for the committer already.
    pub fn tx_grouped<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, rx) = mpsc::sync_channel(1);
        let job = GroupJob { run: Box::new(move |t: &mut dyn Tx| f(t).map(|v| Box::new(v) as Erased)), reply };
        self.grouped().submit(job)?;
        let v = rx
            .recv()
            .map_err(|_| AuthorityError::Database("the state committer stopped before answering".into()))??;
        v.downcast::<T>().map(|b| *b).map_err(|_| AuthorityError::Internal("grouped transaction result type".into()))
    }

    /// Whether this is PostgreSQL (row locks need `FOR UPDATE`).
    #[must_use]
    pub fn for_update(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "",
            Self::Postgres(_) => " FOR UPDATE",
        }
    }

    /// A liveness check.
    ///
    /// # Errors
    /// Database errors.
    pub fn ping(&self) -> Result<()> {
        self.tx(|t| t.query("SELECT 1", &[]).map(|_| ()))
    }
}

impl Store {
    fn tx<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match self {
            Self::Sqlite(m) => {
                let mut conn = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let mut w = SqliteTx(&tx);
                let v = f(&mut w)?;
                tx.commit()?;
                Ok(v)
            }
            Self::Postgres(pool) => {
                let mut conn = pg_connection(pool)?;
                let PgConn { client, stmts } = &mut *conn;
                let r = (|| {
                    let mut tx = client.transaction()?;
                    let mut w = PgTx { tx: &mut tx, stmts: &mut *stmts };
                    let v = f(&mut w)?;
                    tx.commit()?;
                    Ok(v)
                })();
                if r.is_err() {
                    // Re-prepare after any failure rather than trust a
                    // statement the failure may have invalidated.
                    stmts.clear();
                }
                r
            }
        }
    }

    /// One grouped transaction: every job, in order. Fast path: no
    /// savepoints. When a job fails, everything is rolled back and run again
    /// with each job isolated in a savepoint (its failure undoes only its
    /// own writes). Returns each job's result; a failed commit fails all.
    fn run_group(&self, jobs: &mut [GroupJob]) -> Vec<Result<Erased>> {
        let mut attempt = |isolated: bool| -> Result<std::result::Result<Vec<Result<Erased>>, ()>> {
            self.tx(|t| {
                let mut out = Vec::with_capacity(jobs.len());
                for j in jobs.iter_mut() {
                    if isolated {
                        t.raw("SAVEPOINT writ_job")?;
                    }
                    let r = (j.run)(t);
                    if r.is_err() {
                        if !isolated {
                            // Roll the whole batch back; run it again isolated.
                            return Err(AuthorityError::Internal(ROLLBACK_MARK.into()));
                        }
                        t.raw("ROLLBACK TO SAVEPOINT writ_job")?;
                    }
                    if isolated {
                        t.raw("RELEASE SAVEPOINT writ_job")?;
                    }
                    out.push(r);
                }
                Ok(Ok(out))
            })
            .or_else(|e| match e {
                AuthorityError::Internal(m) if m == ROLLBACK_MARK => Ok(Err(())),
                e => Err(e),
            })
        };
        let result = match attempt(false) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(())) => attempt(true)
                .and_then(|r| r.map_err(|()| AuthorityError::Internal("grouped transaction rolled back twice".into()))),
            Err(e) => Err(e),
        };
        match result {
            Ok(v) => v,
            Err(e) => {
                let msg = e.to_string();
                jobs.iter().map(|_| Err(same_error(&e, &msg))).collect()
            }
        }
    }
}

/// Marks the internal rollback of a grouped batch (never leaves [`Store::run_group`]).
const ROLLBACK_MARK: &str = "writ: grouped batch rolled back to isolate a failed job";

/// The error of a failed group commit, for each job of the group.
fn same_error(e: &AuthorityError, msg: &str) -> AuthorityError {
    match e {
        AuthorityError::Busy => AuthorityError::Busy,
        AuthorityError::Timeout => AuthorityError::Timeout,
        _ => AuthorityError::Database(msg.to_string()),
    }
}

impl Grouped {
    fn submit(&self, job: GroupJob) -> Result<()> {
        let mut g = self.group.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.is_none() {
            let (tx, rx) = mpsc::sync_channel::<GroupJob>(MAX_GROUP_PENDING);
            let rx = Arc::new(Mutex::new(rx));
            // SQLite has one writer: one committer. PostgreSQL runs a few
            // groups at once on pooled connections, so one group's round
            // trips overlap another's commit.
            let committers = match &*self.store {
                Store::Sqlite(_) => 1,
                Store::Postgres(_) => PG_COMMITTERS,
            };
            for _ in 0..committers {
                let (store, rx) = (self.store.clone(), rx.clone());
                std::thread::Builder::new()
                    .name("writ-state-committer".into())
                    .spawn(move || committer(&store, &rx))
                    .map_err(|e| AuthorityError::Internal(format!("cannot start the state committer: {e}")))?;
            }
            *g = Some(tx);
        }
        let Some(tx) = g.as_ref() else { return Err(AuthorityError::Internal("no state committer".into())) };
        match tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(AuthorityError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                *g = None;
                Err(AuthorityError::Database("the state committer stopped; retry".into()))
            }
        }
    }
}

/// The committer: takes whatever queued while the last commit ran (up to
/// [`MAX_GROUP`]) and commits it as one transaction.
fn committer(store: &Store, rx: &Mutex<mpsc::Receiver<GroupJob>>) {
    let mut jobs: Vec<GroupJob> = Vec::with_capacity(MAX_GROUP);
    loop {
        {
            // The queue is taken whole by one committer at a time.
            let rx = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let Ok(first) = rx.recv() else { return };
            jobs.push(first);
            while jobs.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
        }
        let results = store.run_group(&mut jobs);
        for (j, r) in jobs.drain(..).zip(results) {
            let _ = j.reply.send(r);
        }
    }
}

/// Group committers on PostgreSQL (each on its own pooled connection).
const PG_COMMITTERS: usize = 4;

/// Connections per PostgreSQL pool.
const PG_POOL: usize = 8;

/// A free pooled connection, or (all busy) one picked by a rotating counter.
fn pg_connection(pool: &[Mutex<PgConn>]) -> Result<std::sync::MutexGuard<'_, PgConn>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    for m in pool {
        if let Ok(g) = m.try_lock() {
            return Ok(g);
        }
    }
    let n = pool.len().max(1);
    let m = pool
        .get(NEXT.fetch_add(1, Ordering::Relaxed) % n)
        .ok_or_else(|| AuthorityError::Database("no postgresql connection".into()))?;
    Ok(m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

struct SqliteTx<'a>(&'a rusqlite::Transaction<'a>);

/// Parameters are bound by reference: no copy of a text or blob per statement.
impl rusqlite::types::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Null => ValueRef::Null,
            Self::Int(i) => ValueRef::Integer(*i),
            Self::Text(s) => ValueRef::Text(s.as_bytes()),
            Self::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl Tx for SqliteTx<'_> {
    fn for_update(&self) -> &'static str {
        ""
    }

    fn raw(&mut self, sql: &str) -> Result<()> {
        Ok(self.0.execute_batch(sql)?)
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        // Cached: the hot statements are parsed once per connection, not per call.
        let mut stmt = self.0.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.0.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(match r.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(i) => Val::Int(i),
                    ValueRef::Real(f) => Val::Int(f as i64),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Val::Blob(b.to_vec()),
                });
            }
            out.push(row);
        }
        Ok(out)
    }
}

struct PgTx<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
    stmts: &'a mut std::collections::HashMap<String, postgres::Statement>,
}

impl PgTx<'_, '_> {
    /// The prepared statement for `sql` (`?N` placeholders), cached.
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(st) = self.stmts.get(sql) {
            return Ok(st.clone());
        }
        let st = self.tx.prepare(&pg_sql(sql))?;
        if self.stmts.len() < PG_STATEMENT_CACHE {
            self.stmts.insert(sql.to_string(), st.clone());
        }
        Ok(st)
    }
}

fn pg_sql(sql: &str) -> String {
    sql.replace('?', "$")
}

impl postgres::types::ToSql for Val {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Self::Null => Ok(postgres::types::IsNull::Yes),
            Self::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Self::Int(i) => i.to_sql(ty, out),
            Self::Text(s) => s.as_str().to_sql(ty, out),
            Self::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl Tx for PgTx<'_, '_> {
    fn for_update(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn postgres(&self) -> bool {
        true
    }

    fn raw(&mut self, sql: &str) -> Result<()> {
        Ok(self.tx.batch_execute(sql)?)
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        let p: Vec<&(dyn postgres::types::ToSql + Sync)> =
            params.iter().map(|v| v as &(dyn postgres::types::ToSql + Sync)).collect();
        let st = self.statement(sql)?;
        Ok(self.tx.execute(&st, &p)?)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        use postgres::types::Type;
        let p: Vec<&(dyn postgres::types::ToSql + Sync)> =
            params.iter().map(|v| v as &(dyn postgres::types::ToSql + Sync)).collect();
        let st = self.statement(sql)?;
        let rows = self.tx.query(&st, &p)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut row = Vec::with_capacity(r.len());
            for (i, c) in r.columns().iter().enumerate() {
                let t = c.type_();
                let v = if *t == Type::INT8 {
                    r.try_get::<_, Option<i64>>(i)?.map_or(Val::Null, Val::Int)
                } else if *t == Type::INT4 {
                    r.try_get::<_, Option<i32>>(i)?.map_or(Val::Null, |v| Val::Int(i64::from(v)))
                } else if *t == Type::BYTEA {
                    r.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Val::Null, Val::Blob)
                } else {
                    r.try_get::<_, Option<String>>(i)?.map_or(Val::Null, Val::Text)
                };
                row.push(v);
            }
            out.push(row);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    /// Concurrent grouped jobs share commits; a failing job (after writing)
    /// leaves no trace while the others of its batch still commit.
    #[test]
    fn grouped_transactions_isolate_a_failing_job() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open_sqlite(&dir.path().join("state.sqlite")).unwrap());
        let threads: Vec<_> = (0..16i64)
            .map(|i| {
                let db = db.clone();
                std::thread::spawn(move || {
                    db.tx_grouped(move |t| {
                        t.exec(
                            "INSERT INTO auth_http_nonces (k, created) VALUES (?1, ?2)",
                            &[format!("k{i}").into(), i.into()],
                        )?;
                        if i % 4 == 3 {
                            return Err(AuthorityError::InvalidRequest(format!("job {i} refuses")));
                        }
                        Ok(i * 10)
                    })
                })
            })
            .collect();
        for (i, h) in threads.into_iter().enumerate() {
            let r = h.join().unwrap();
            if i % 4 == 3 {
                assert!(matches!(r, Err(AuthorityError::InvalidRequest(ref m)) if m.contains("refuses")), "{r:?}");
            } else {
                assert_eq!(r.unwrap(), i as i64 * 10);
            }
        }
        let rows = db.tx(|t| t.query("SELECT k FROM auth_http_nonces ORDER BY created", &[])).unwrap();
        let got: Vec<String> = rows.iter().map(|r| r[0].text().unwrap().to_string()).collect();
        let want: Vec<String> = (0..16).filter(|i| i % 4 != 3).map(|i| format!("k{i}")).collect();
        assert_eq!(got, want);
        // A job whose statement fails in the database is isolated too.
        let dup = db.tx_grouped(|t| {
            t.exec("INSERT INTO auth_http_nonces (k, created) VALUES ('k0', 0)", &[])?;
            Ok(())
        });
        assert!(matches!(dup, Err(AuthorityError::Database(_))), "{dup:?}");
    }

    #[test]
    fn an_old_sqlite_state_gains_the_vote_reason_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE auth_votes (
               request_id TEXT NOT NULL, approver TEXT NOT NULL, approver_name TEXT NOT NULL, verdict TEXT NOT NULL,
               time INTEGER NOT NULL, sig TEXT NOT NULL, PRIMARY KEY (request_id, approver));
             INSERT INTO auth_votes VALUES ('r1', 'k', 'bob', 'deny', 1, 's');",
        )
        .unwrap();
        drop(old);
        for _ in 0..2 {
            let db = Db::open_sqlite(&path).unwrap();
            let rows = db.tx(|t| t.query("SELECT request_id, reason FROM auth_votes", &[])).unwrap();
            assert_eq!(rows, vec![vec![Val::Text("r1".into()), Val::Null]]);
        }
    }
}
