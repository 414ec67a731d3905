//! One log per key: a ledger key never signs a checkpoint whose tree does
//! not extend the last one it signed, whichever store it is pointed at.
//!
//! Each test serves one home (one `ledger.key`) from a second store, from a
//! restored older store or from an empty store, on SQLite and on the real
//! PostgreSQL server (`DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; these tests fail when it is
//! unreachable), and then checks like a third party would: every signed
//! checkpoint that exists anywhere (stores, the key's record, receipts) is
//! collected, and no two of the same size may have different roots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "test code")]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::PgSchema;
use writ_ledger::guard::{SLOT_SIZE, last_signed_path, read_last_signed};
use writ_ledger::writ_tlog::Hash;
use writ_ledger::writ_tlog::checkpoint;
use writ_ledger::writ_tlog::note::VerifierKey;
use writ_ledger::{Ledger, LedgerError, LedgerOptions, Location, key};

const ORIGIN: &str = "one-log.example/ledger";

/// A home: a key file (and, beside it, the key's last-signed record).
struct Home {
    dir: tempfile::TempDir,
    verifier: VerifierKey,
    /// Every signed checkpoint note seen anywhere.
    seen: Vec<Vec<u8>>,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let s = key::create(&dir.path().join("ledger.key"), ORIGIN).unwrap();
        Self { verifier: s.verifier().clone(), dir, seen: Vec::new() }
    }
    fn key(&self) -> PathBuf {
        self.dir.path().join("ledger.key")
    }
    fn sqlite(&self, name: &str) -> Location {
        Location::Sqlite(self.dir.path().join(name))
    }
    fn open(&self, loc: &Location) -> Result<Ledger, LedgerError> {
        Ledger::open_keyed(loc.clone(), &self.key(), LedgerOptions::default())
    }
    /// Append `n` entries tagged `tag` through the real sequencer, keeping the receipts' checkpoints.
    fn fill(&mut self, loc: &Location, tag: &str, n: u32) {
        let l = self.open(loc).unwrap();
        for i in 0..n {
            let r = l.append_with_receipt(format!("{tag}-{i}").into_bytes()).unwrap();
            self.seen.push(r.checkpoint.note.as_bytes().to_vec());
        }
        l.close();
        self.observe(loc);
    }
    /// Collect the store's latest checkpoint and the key's record.
    fn observe(&mut self, loc: &Location) {
        if let Some(n) = loc.connect().unwrap().latest_checkpoint().unwrap() {
            self.seen.push(n);
        }
        if let Some(cp) = read_last_signed(&self.key(), ORIGIN, &self.verifier).unwrap() {
            self.seen.push(cp.note.into_bytes());
        }
    }
    /// The third party's check: no two checkpoints of one size with different roots.
    fn assert_no_fork(&self) {
        let mut by_size: BTreeMap<u64, Hash> = BTreeMap::new();
        for n in &self.seen {
            let cp = checkpoint::open(n, ORIGIN, &self.verifier).unwrap();
            if let Some(r) = by_size.insert(cp.size, cp.root) {
                assert_eq!(r, cp.root, "two signed checkpoints of size {} with different roots: a fork", cp.size);
            }
        }
        assert!(!by_size.is_empty());
    }
    fn last_signed_size(&self) -> u64 {
        read_last_signed(&self.key(), ORIGIN, &self.verifier).unwrap().unwrap().checkpoint.size
    }
}

fn refused(r: Result<Ledger, LedgerError>, what: &str) -> String {
    match r {
        Err(e @ LedgerError::Fork { .. }) => {
            let m = e.to_string();
            assert!(m.contains(what), "{m}");
            assert!(m.contains("refusing to sign") && m.contains("new ledger key"), "says what to do: {m}");
            m
        }
        Err(e) => panic!("expected a fork refusal, got: {e}"),
        Ok(_) => panic!("a store that does not extend the key's last checkpoint was accepted"),
    }
}

fn pg_clone(from: &PgSchema, to: &PgSchema) {
    let mut c = postgres::Client::connect(&from.url, postgres::NoTls).unwrap();
    let mut sql = format!("CREATE SCHEMA {};", to.schema);
    for t in ["writ_meta", "writ_entries", "writ_hashes", "writ_state"] {
        sql.push_str(&format!(
            "CREATE TABLE {to}.{t} (LIKE {from}.{t} INCLUDING ALL); INSERT INTO {to}.{t} SELECT * FROM {from}.{t};",
            to = to.schema,
            from = from.schema
        ));
    }
    c.batch_execute(&sql).unwrap();
}

fn sqlite_backup(from: &Path, to: &Path) {
    let c = rusqlite::Connection::open(from).unwrap();
    c.execute("VACUUM INTO ?1", [to.to_str().unwrap()]).unwrap();
}

/// The review's case: a home with a SQLite ledger served from PostgreSQL
/// (which starts empty) under the same key.
#[test]
fn second_store_sqlite_then_postgres_is_refused() {
    let mut h = Home::new();
    let sqlite = h.sqlite("ledger.sqlite");
    h.fill(&sqlite, "sqlite", 3);
    let pg = PgSchema::new("second");
    let m = refused(h.open(&pg.location()), "is empty");
    assert!(m.contains(&pg.schema) && m.contains("3 entries"), "names the store and the size: {m}");
    // nothing was signed into the second store
    assert_eq!(pg.location().connect().unwrap().latest_checkpoint().unwrap(), None);
    h.observe(&pg.location());
    // and the first store still works
    h.fill(&sqlite, "sqlite-more", 2);
    assert_eq!(h.last_signed_size(), 5);
    h.assert_no_fork();
}

#[test]
fn second_store_postgres_then_sqlite_is_refused() {
    let mut h = Home::new();
    let pg = PgSchema::new("first");
    h.fill(&pg.location(), "pg", 3);
    let leftover = h.sqlite("ledger.sqlite");
    refused(h.open(&leftover), "is empty");
    h.observe(&leftover);
    h.fill(&pg.location(), "pg-more", 1);
    h.assert_no_fork();
}

/// A second store that already holds a longer tree of its own (signed by
/// the same key without the record, e.g. an old copy of the key): refused
/// by the consistency proof, not by size.
#[test]
fn second_store_with_a_longer_different_tree_is_refused() {
    for second in ["sqlite", "postgres"] {
        let mut h = Home::new();
        let first = h.sqlite("first.sqlite");
        h.fill(&first, "first", 3);
        let pg = PgSchema::new("longer");
        let other = if second == "sqlite" { h.sqlite("other.sqlite") } else { pg.location() };
        let unguarded = Ledger::open(other.clone(), key::load(&h.key()).unwrap(), LedgerOptions::default()).unwrap();
        for i in 0..7u8 {
            unguarded.append(vec![b'x', i]).unwrap();
        }
        unguarded.close();
        // (that store's checkpoint is not added to `seen`: the guard did not sign it)
        refused(h.open(&other), "different tree of 7 entries");
        assert_eq!(h.last_signed_size(), 3, "the record did not move");
        h.fill(&first, "first-more", 1);
        h.observe(&first);
        h.assert_no_fork();
    }
}

#[test]
fn restored_older_sqlite_store_is_refused() {
    let mut h = Home::new();
    let live = h.dir.path().join("ledger.sqlite");
    let loc = Location::Sqlite(live.clone());
    h.fill(&loc, "a", 3);
    let backup = h.dir.path().join("backup.sqlite");
    sqlite_backup(&live, &backup);
    h.fill(&loc, "b", 2);
    // restore the backup in place
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", live.display()));
    }
    std::fs::copy(&backup, &live).unwrap();
    refused(h.open(&loc), "holds only 3 entries");
    // the restored store is unchanged: still size 3, no new signature
    let cp = loc.connect().unwrap().latest_checkpoint().unwrap().unwrap();
    assert_eq!(checkpoint::open(&cp, ORIGIN, &h.verifier).unwrap().size, 3);
    h.observe(&loc);
    h.assert_no_fork();
}

#[test]
fn restored_older_postgres_store_is_refused() {
    let mut h = Home::new();
    let live = PgSchema::new("live");
    h.fill(&live.location(), "a", 3);
    let backup = PgSchema::new("backup");
    pg_clone(&live, &backup);
    h.fill(&live.location(), "b", 2);
    refused(h.open(&backup.location()), "holds only 3 entries");
    h.observe(&backup.location());
    h.assert_no_fork();
}

#[test]
fn empty_store_is_refused_on_both_backends() {
    let mut h = Home::new();
    let live = h.sqlite("ledger.sqlite");
    h.fill(&live, "a", 2);
    // the database file was lost / replaced with a fresh one
    std::fs::remove_file(h.dir.path().join("ledger.sqlite")).unwrap();
    let _ = std::fs::remove_file(h.dir.path().join("ledger.sqlite-wal"));
    refused(h.open(&live), "is empty");
    let pg = PgSchema::new("empty");
    refused(h.open(&pg.location()), "is empty");
    h.observe(&live);
    h.observe(&pg.location());
    h.assert_no_fork();
}

/// Two stores open at once under one key (`writ serve` on PostgreSQL while
/// `writ request` opens the leftover SQLite file): whichever signs first
/// wins; the other's next signature is refused and it stops.
#[test]
fn two_live_stores_under_one_key_never_both_sign() {
    let mut h = Home::new();
    let pg = PgSchema::new("live2");
    let sqlite = h.sqlite("ledger.sqlite");
    let a = h.open(&pg.location()).unwrap();
    let b = h.open(&sqlite).unwrap(); // both empty: both consistent so far
    let r = a.append_with_receipt(b"on postgres".to_vec()).unwrap();
    h.seen.push(r.checkpoint.note.as_bytes().to_vec());
    let e = b.append(b"on sqlite".to_vec()).unwrap_err().to_string();
    assert!(e.contains("refusing to sign") && e.contains("is empty"), "{e}");
    let e = b.append(b"again".to_vec()).unwrap_err().to_string();
    assert!(e.contains("refusing to sign"), "stays stopped: {e}");
    a.append(b"postgres goes on".to_vec()).unwrap();
    a.close();
    b.close();
    h.observe(&pg.location());
    h.observe(&sqlite);
    assert_eq!(sqlite.connect().unwrap().size().unwrap(), 0, "nothing appended to the second store");
    h.assert_no_fork();
}

/// Sequencers sharing one store and one key (replicas, or `writ serve` and
/// `writ log append` on one home) keep working: the record only ever says
/// what the shared tree already extends.
#[test]
fn sequencers_sharing_a_store_and_key_keep_working() {
    for backend in ["sqlite", "postgres"] {
        let mut h = Home::new();
        let pg = PgSchema::new("shared");
        let loc = if backend == "sqlite" { h.sqlite("ledger.sqlite") } else { pg.location() };
        let a = h.open(&loc).unwrap();
        let b = h.open(&loc).unwrap();
        let mut ok = 0;
        for i in 0..10u8 {
            let l = if i % 2 == 0 { &a } else { &b };
            // the other sequencer moved the store: one retry after the conflict
            let r = l.append_with_receipt(vec![i]).or_else(|_| l.append_with_receipt(vec![i])).unwrap();
            h.seen.push(r.checkpoint.note.as_bytes().to_vec());
            ok += 1;
        }
        a.close();
        b.close();
        assert_eq!(ok, 10);
        assert_eq!(loc.connect().unwrap().size().unwrap(), 10);
        assert_eq!(h.last_signed_size(), 10, "{backend}");
        h.observe(&loc);
        h.assert_no_fork();
    }
}

/// A home from before the record: the first open adopts the store's state,
/// from then on the guard holds.
#[test]
fn a_key_without_a_record_adopts_the_store_once() {
    let mut h = Home::new();
    let loc = h.sqlite("ledger.sqlite");
    let old = Ledger::open(loc.clone(), key::load(&h.key()).unwrap(), LedgerOptions::default()).unwrap();
    old.append(b"before the guard".to_vec()).unwrap();
    old.close();
    assert!(!last_signed_path(&h.key()).exists());
    h.fill(&loc, "after", 1);
    assert_eq!(h.last_signed_size(), 2);
    let pg = PgSchema::new("adopt");
    refused(h.open(&pg.location()), "is empty");
    h.assert_no_fork();
}

/// A record that is not a checkpoint of this key is an error, not ignored.
#[test]
fn a_tampered_record_is_refused() {
    let mut h = Home::new();
    let loc = h.sqlite("ledger.sqlite");
    h.fill(&loc, "a", 1);
    std::fs::write(last_signed_path(&h.key()), b"not a checkpoint\n").unwrap();
    let e = h.open(&loc).unwrap_err().to_string();
    assert!(e.contains("does not hold a checkpoint signed by ledger key"), "{e}");
}

/// A torn write (power loss mid-update) spoils only the slot being
/// written: the record falls back to the previous checkpoint, which the
/// store still extends, so the home keeps working and the guard holds.
#[test]
fn a_torn_record_update_keeps_the_previous_checkpoint() {
    use std::os::unix::fs::FileExt as _;
    let mut h = Home::new();
    let loc = h.sqlite("ledger.sqlite");
    h.fill(&loc, "a", 3);
    let path = last_signed_path(&h.key());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 * SLOT_SIZE);
    // find the slot holding size 3 and tear it
    let bytes = std::fs::read(&path).unwrap();
    let newest = (0..2u64)
        .find(|s| {
            let at = (s * SLOT_SIZE) as usize;
            let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let note = &bytes[at + 4..at + 4 + len];
            len > 0 && checkpoint::open(note, ORIGIN, &h.verifier).unwrap().size == 3
        })
        .unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(b"\x00\x00\x00\x40garbage", newest * SLOT_SIZE).unwrap();
    assert_eq!(h.last_signed_size(), 2, "the other slot still holds the previous record");
    h.fill(&loc, "b", 1);
    assert_eq!(h.last_signed_size(), 4);
    let pg = PgSchema::new("torn");
    refused(h.open(&pg.location()), "is empty");
    h.assert_no_fork();
}
