//! Shared test helpers: backends, keys, unique PostgreSQL schemas.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::SigningKey;
use writ_ledger::writ_tlog::note::NoteSigner;
use writ_ledger::{Ledger, LedgerOptions, Location, Store};

pub const ORIGIN: &str = "test.example/ledger";

pub fn signer(seed: u8) -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A unique schema per test so tests run in parallel; dropped on drop.
pub struct PgSchema {
    pub url: String,
    pub schema: String,
}

impl PgSchema {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let schema = format!("t_{tag}_{}_{}_{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let url = database_url();
        // Fail loudly (never skip) when PostgreSQL is unreachable.
        postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
            panic!("PostgreSQL at DATABASE_URL={url} is unreachable: {e}; start it (pg_ctlcluster ... start) or set DATABASE_URL")
        });
        Self { url, schema }
    }

    pub fn location(&self) -> Location {
        Location::Postgres { url: self.url.clone(), schema: self.schema.clone() }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}

/// A backend under test: where it lives, plus whatever keeps it alive.
pub enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(PgSchema),
}

impl Backend {
    pub fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }
    pub fn postgres(tag: &str) -> Self {
        Self::Postgres(PgSchema::new(tag))
    }
    pub fn location(&self) -> Location {
        match self {
            Self::Sqlite(d) => Location::Sqlite(d.path().join("ledger.sqlite")),
            Self::Postgres(p) => p.location(),
        }
    }
    pub fn store(&self) -> Box<dyn Store> {
        self.location().connect().unwrap()
    }
    pub fn open(&self, seed: u8) -> Ledger {
        Ledger::open(self.location(), signer(seed), LedgerOptions::default()).unwrap()
    }
    pub fn open_with(&self, seed: u8, opts: LedgerOptions) -> Ledger {
        Ledger::open(self.location(), signer(seed), opts).unwrap()
    }
    /// Run raw SQL against the backend (tampering in tests).
    pub fn exec(&self, sql: &str) {
        match self {
            Self::Sqlite(d) => {
                let c = rusqlite::Connection::open(d.path().join("ledger.sqlite")).unwrap();
                c.execute_batch(sql).unwrap();
            }
            Self::Postgres(p) => {
                let mut c = postgres::Client::connect(&p.url, postgres::NoTls).unwrap();
                c.batch_execute(&format!("SET search_path TO {}; {sql}", p.schema)).unwrap();
            }
        }
    }
    pub fn set_checkpoint(&self, note: &[u8]) {
        match self {
            Self::Sqlite(d) => {
                let c = rusqlite::Connection::open(d.path().join("ledger.sqlite")).unwrap();
                c.execute("UPDATE writ_state SET checkpoint = ?1", [note]).unwrap();
            }
            Self::Postgres(p) => {
                let mut c = postgres::Client::connect(&p.url, postgres::NoTls).unwrap();
                c.batch_execute(&format!("SET search_path TO {}", p.schema)).unwrap();
                c.execute("UPDATE writ_state SET checkpoint = $1", &[&note]).unwrap();
            }
        }
    }
    pub fn set_entry(&self, index: u64, data: &[u8]) {
        match self {
            Self::Sqlite(d) => {
                let c = rusqlite::Connection::open(d.path().join("ledger.sqlite")).unwrap();
                c.execute("UPDATE writ_entries SET data = ?1 WHERE idx = ?2", rusqlite::params![data, index as i64])
                    .unwrap();
            }
            Self::Postgres(p) => {
                let mut c = postgres::Client::connect(&p.url, postgres::NoTls).unwrap();
                c.batch_execute(&format!("SET search_path TO {}", p.schema)).unwrap();
                c.execute("UPDATE writ_entries SET data = $1 WHERE idx = $2", &[&data, &(index as i64)]).unwrap();
            }
        }
    }
}
