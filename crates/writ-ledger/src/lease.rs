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
    state: Mutex<State>,
    cv: Condvar,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").finish_non_exhaustive()
    }
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
        Ok(Self {
            url: url.to_string(),
            key: LOCK_BASE ^ mix,
            client: Mutex::new(postgres::Client::connect(url, postgres::NoTls)?),
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        })
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
                        *c = postgres::Client::connect(&self.url, postgres::NoTls)?;
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
                if let Ok(fresh) = postgres::Client::connect(&self.url, postgres::NoTls) {
                    *c = fresh;
                }
            }
            st.held_since = None;
            st.draining = false;
            self.cv.notify_all();
        }
    }
}
