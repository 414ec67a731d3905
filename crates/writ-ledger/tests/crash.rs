//! Crash safety, tested for real.
//!
//! SQLite: a child process appends from 8 threads and prints every
//! acknowledged `(index, entry)`; the parent SIGKILLs it at a random moment,
//! 20 times in a row, and after each kill reopens the ledger and checks that
//! no acknowledged entry is lost, indices are contiguous, the tree and
//! checkpoints verify, and the new checkpoint extends the previous one.
//!
//! PostgreSQL: appenders run while another connection repeatedly cuts the
//! ledger's connections with `pg_terminate_backend` mid-batch; afterwards
//! every acknowledged entry is present at its index and the audit passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "test code")]

mod common;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Backend, ORIGIN, PgSchema, signer};
use writ_ledger::audit::audit;
use writ_ledger::writ_tlog::checkpoint;
use writ_ledger::writ_tlog::proof::verify_consistency;
use writ_ledger::{Ledger, LedgerError, LedgerOptions, Location};

const CHILD_ENV: &str = "WRIT_CRASH_CHILD_DB";

/// Not a test on its own: the child process of `sigkill_sqlite_20_times`.
#[test]
#[ignore = "runs only as the child process of the crash test"]
fn crash_child() {
    let Ok(db) = std::env::var(CHILD_ENV) else {
        return;
    };
    let run = std::env::var("WRIT_CRASH_RUN").unwrap();
    let ledger = Arc::new(Ledger::open(Location::Sqlite(db.into()), signer(1), LedgerOptions::default()).unwrap());
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (ledger, out, run) = (ledger.clone(), out.clone(), run.clone());
            std::thread::spawn(move || {
                for i in 0u64.. {
                    let e = format!("run{run}-t{t}-{i}");
                    match ledger.append(e.clone().into_bytes()) {
                        Ok(idx) => {
                            let mut o = out.lock().unwrap();
                            writeln!(o, "ACK {idx} {e}").unwrap();
                            o.flush().unwrap();
                        }
                        Err(LedgerError::Busy { .. }) => std::thread::sleep(Duration::from_millis(1)),
                        Err(e) => panic!("append failed: {e}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// A tiny xorshift so kill moments vary without a rand dependency.
fn next_rand(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn sigkill_sqlite_20_times() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite");
    let exe = std::env::current_exe().unwrap();
    let mut acked: HashMap<u64, String> = HashMap::new();
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut prev: Option<checkpoint::Checkpoint> = None;
    for run in 0..20 {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &db)
            .env("WRIT_CRASH_RUN", run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("ACK ") {
                    let (i, e) = rest.split_once(' ').unwrap();
                    acks.push((i.parse::<u64>().unwrap(), e.to_string()));
                }
            }
            acks
        });
        // kill at a random moment: 30..530 ms after start (opening included)
        std::thread::sleep(Duration::from_millis(30 + next_rand(&mut seed) % 500));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for (i, e) in reader.join().unwrap() {
            assert!(acked.insert(i, e).is_none(), "index {i} acknowledged twice");
        }
        // Restart: recovery must accept the state, keep every ack, and extend the previous checkpoint.
        let l = Ledger::open(Location::Sqlite(db.clone()), signer(1), LedgerOptions::default())
            .unwrap_or_else(|e| panic!("run {run}: reopening after SIGKILL failed: {e}"));
        let cp = l.latest_checkpoint().checkpoint.clone();
        checkpoint::open(l.latest_checkpoint().note.as_bytes(), ORIGIN, l.verifier()).unwrap();
        for (i, e) in &acked {
            assert!(*i < cp.size, "run {run}: acknowledged index {i} is past the checkpoint size {}", cp.size);
            assert_eq!(l.entry(*i).unwrap(), e.as_bytes(), "run {run}: acknowledged entry {i} lost or changed");
        }
        if let Some(p) = &prev {
            let proof = l.consistency_proof(p.size, cp.size).unwrap();
            verify_consistency(p.size, cp.size, &proof, &p.root, &cp.root).unwrap();
        }
        prev = Some(cp);
        drop(l);
        let mut store = Location::Sqlite(db.clone()).connect().unwrap();
        let report = audit(
            store.as_mut(),
            Location::Sqlite(db.clone()).connect().unwrap().as_mut(),
            signer(1).verifier(),
            None,
            &mut |_, _| {},
        )
        .unwrap();
        assert!(report.is_ok(), "run {run}: audit after SIGKILL: {:?}", report.findings);
    }
    assert!(acked.len() > 20, "the child acknowledged too few appends ({}) to test anything", acked.len());
}

#[test]
fn postgres_connection_cut_mid_batch() {
    let pg = PgSchema::new("crash");
    let app = pg.schema.clone();
    let sep = if pg.url.contains('?') { '&' } else { '?' };
    let loc = Location::Postgres { url: format!("{}{sep}application_name={app}", pg.url), schema: pg.schema.clone() };
    let ledger = Arc::new(Ledger::open(loc.clone(), signer(1), LedgerOptions::default()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let appenders: Vec<_> = (0..8)
        .map(|t| {
            let (ledger, stop) = (ledger.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut acks, mut failures) = (Vec::new(), 0u64);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let e = format!("pg-t{t}-{i}");
                    i += 1;
                    match ledger.append(e.clone().into_bytes()) {
                        Ok(idx) => acks.push((idx, e)),
                        Err(LedgerError::Stopped(_) | LedgerError::Busy { .. }) => failures += 1,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                (acks, failures)
            })
        })
        .collect();
    let mut killer = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut cuts = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while cuts < 20 {
        assert!(std::time::Instant::now() < deadline, "the ledger stopped reconnecting after {cuts} cuts");
        std::thread::sleep(Duration::from_millis(20 + next_rand(&mut seed) % 80));
        let n: i64 = killer
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .unwrap()
            .get(0);
        if n > 0 {
            cuts += 1;
        }
    }
    // let the ledger recover and append a little more
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    let mut failures = 0;
    for a in appenders {
        let (acks, f) = a.join().unwrap();
        acked.extend(acks);
        failures += f;
    }
    assert!(failures > 0, "cutting connections never failed an append: the test did not cut mid-batch");
    let after = ledger.append(b"after the storm".to_vec()).unwrap();
    let size = ledger.size();
    assert!(after < size);
    for (i, e) in &acked {
        assert_eq!(ledger.entry(*i).unwrap(), e.as_bytes(), "acknowledged entry {i} lost");
    }
    drop(ledger);
    let backend = Backend::Postgres(pg);
    let mut store = backend.store();
    let report = audit(store.as_mut(), backend.store().as_mut(), signer(1).verifier(), None, &mut |_, _| {}).unwrap();
    assert!(report.is_ok(), "{:?}", report.findings);
    assert_eq!(report.size, size);
    let distinct: std::collections::HashSet<u64> = acked.iter().map(|(i, _)| *i).collect();
    assert_eq!(distinct.len(), acked.len(), "an index was acknowledged twice");
}
