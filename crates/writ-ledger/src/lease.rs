//! The sequencer lease: with several replicas on one PostgreSQL database,
//! exactly one of them appends to the ledger at a time.
//!
//! The lease is a PostgreSQL session advisory lock. A replica takes it when
//! its first append starts and lets it go when its last in-flight append
//! ends, so concurrent appends of one replica still share group commits. A
//! replica holds it for at most [`MAX_HOLD`] while new appends keep coming;
//! after that it admits no new append until it has released the lock once,
//! so replicas take turns. When the holder dies, PostgreSQL drops its session
//! and with it the lock: another replica takes over (leader election through
//! the database).
//!
//! The lease lives next to the sequencer because it is the sequencer's
//! election: a [`crate::Ledger`] on a shared PostgreSQL schema must only be
//! appended to (and opened) under it, e.g.
//! `lease.with(|| Ledger::open(location, signer, options))`.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{LedgerError, Result};

/// Longest a replica keeps admitting appends under one lease.
pub const MAX_HOLD: Duration = Duration::from_millis(100);
/// Advisory lock key of the sequencer lease ("writ-seq"), mixed with the
/// schema so that ledgers in different schemas do not contend.
const LOCK_BASE: i64 = 0x7772_6974_2d73_6571;

#[derive(Debug, Default)]
struct State {
    inflight: u32,
    held_since: Option<Instant>,
    draining: bool,
}

/// The lease of one replica.
pub struct Lease {
    url: String,
    key: i64,
    client: Mutex<postgres::Client>,
    /// A second connection for [`Lease::view`] (the first may be waiting
    /// for the lock).
    observer: Mutex<Option<postgres::Client>>,
    /// Backend pid of `client` (updated when it reconnects).
    pid: Mutex<i32>,
    state: Mutex<State>,
    cv: Condvar,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").finish_non_exhaustive()
    }
}

/// What [`Lease::view`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseView {
    /// Replicas connected for this ledger's lease (this one included).
    pub replicas: u64,
    /// The server process (PostgreSQL backend pid) of the lease connection
    /// that holds the lease now; `None` while no append is in flight.
    pub leader: Option<i32>,
    /// This replica's lease connection (its backend pid).
    pub this_replica: i32,
}

/// The `application_name` every lease connection of one ledger carries, so
/// that the replicas can be counted in `pg_stat_activity`.
fn application_name(key: i64) -> String {
    format!("writ-seq-{key:016x}")
}

/// A lease connection, named for its ledger, and its backend pid.
fn connect_named(url: &str, key: i64) -> Result<(postgres::Client, i32)> {
    let mut c = postgres::Client::connect(url, postgres::NoTls)?;
    c.execute(&format!("SET application_name = '{}'", application_name(key)), &[])?;
    let pid = c.query_one("SELECT pg_backend_pid()", &[])?.get::<_, i32>(0);
    Ok((c, pid))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Lease {
    /// A lease for the ledger in `schema`, over its own connection to `url`.
    ///
    /// # Errors
    /// PostgreSQL errors.
    pub fn connect(url: &str, schema: &str) -> Result<Self> {
        let h = writ_tlog::hash::sha256(schema.as_bytes());
        let mix = i64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
        let key = LOCK_BASE ^ mix;
        let (client, pid) = connect_named(url, key)?;
        Ok(Self {
            url: url.to_string(),
            key,
            client: Mutex::new(client),
            observer: Mutex::new(None),
            pid: Mutex::new(pid),
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        })
    }

    /// Who takes part in this ledger's sequencing right now: the replicas
    /// connected for its lease and the one holding it, if any. Read over a
    /// connection of its own, so it never waits behind an append.
    ///
    /// # Errors
    /// PostgreSQL errors.
    pub fn view(&self) -> Result<LeaseView> {
        let mut obs = lock(&self.observer);
        let mut c = match obs.take() {
            Some(c) if !c.is_closed() => c,
            _ => postgres::Client::connect(&self.url, postgres::NoTls)?,
        };
        let replicas = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&application_name(self.key)],
            )?
            .get::<_, i64>(0);
        let leader = c
            .query_opt(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND (classid::bigint << 32 | objid::bigint) = $1",
                &[&self.key],
            )?
            .map(|r| r.get::<_, i32>(0));
        *obs = Some(c);
        let own = *lock(&self.pid);
        Ok(LeaseView { replicas: u64::try_from(replicas).unwrap_or(0), leader, this_replica: own })
    }

    /// Run `f` (a ledger append, or opening the ledger) under the lease.
    /// `f` may return any error type a [`LedgerError`] converts into.
    ///
    /// # Errors
    /// PostgreSQL errors taking the lock; whatever `f` returns.
    pub fn with<T, E: From<LedgerError>>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        self.enter()?;
        let r = f();
        self.exit();
        r
    }

    fn enter(&self) -> Result<()> {
        let mut st = lock(&self.state);
        loop {
            match st.held_since {
                Some(since) if !st.draining => {
                    if since.elapsed() > MAX_HOLD {
                        // Hand over only when another replica is waiting.
                        if self.others_waiting() {
                            st.draining = true;
                            continue;
                        }
                        st.held_since = Some(Instant::now());
                    }
                    st.inflight += 1;
                    return Ok(());
                }
                None => {
                    // Holding the state lock while waiting for the database
                    // lock is fine: nobody is in flight, everyone else waits.
                    let mut c = lock(&self.client);
                    if c.is_closed() {
                        let (fresh, pid) = connect_named(&self.url, self.key)?;
                        *c = fresh;
                        *lock(&self.pid) = pid;
                    }
                    c.execute("SELECT pg_advisory_lock($1)", &[&self.key])?;
                    st.held_since = Some(Instant::now());
                    st.draining = false;
                    st.inflight = 1;
                    return Ok(());
                }
                Some(_) => st = self.cv.wait(st).unwrap_or_else(PoisonError::into_inner),
            }
        }
    }

    fn others_waiting(&self) -> bool {
        lock(&self.client)
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND (classid::bigint << 32 | objid::bigint) = $1",
                &[&self.key],
            )
            .map_or(true, |r| r.get::<_, i64>(0) > 0)
    }

    fn exit(&self) {
        let mut st = lock(&self.state);
        st.inflight = st.inflight.saturating_sub(1);
        if st.inflight == 0 {
            let mut c = lock(&self.client);
            if c.execute("SELECT pg_advisory_unlock($1)", &[&self.key]).is_err() {
                // The session is broken, so PostgreSQL already dropped the
                // lock; reconnect now (or on the next enter).
                if let Ok((fresh, pid)) = connect_named(&self.url, self.key) {
                    *c = fresh;
                    *lock(&self.pid) = pid;
                }
            }
            st.held_since = None;
            st.draining = false;
            self.cv.notify_all();
        }
    }
}
