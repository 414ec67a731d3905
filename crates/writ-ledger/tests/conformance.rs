//! The conformance suite: every test runs against SQLite and against the
//! real PostgreSQL server (`DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; the PostgreSQL tests fail when it
//! is unreachable).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "test code")]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{Backend, ORIGIN, signer};
use writ_ledger::audit::{Finding, audit};
use writ_ledger::writ_tlog::checkpoint::{self, Checkpoint};
use writ_ledger::writ_tlog::hash::{EMPTY_ROOT, leaf_hash};
use writ_ledger::writ_tlog::proof::{verify_consistency, verify_inclusion};
use writ_ledger::writ_tlog::tile::{Tile, decode_bundle};
use writ_ledger::{Batch, LedgerError, LedgerOptions};

fn entry(i: u64) -> Vec<u8> {
    format!("entry-{i}").into_bytes()
}

fn append_and_prove(b: &Backend) {
    let l = b.open(1);
    assert_eq!(l.size(), 0);
    let first = l.latest_checkpoint();
    assert_eq!(first.checkpoint.root, EMPTY_ROOT);
    let mut cps = vec![first.clone()];
    for i in 0..40u64 {
        let r = l.append_with_receipt(entry(i)).unwrap();
        assert_eq!(r.index, i);
        assert!(r.checkpoint.checkpoint.size > i);
        l.verify_receipt(&entry(i), &r).unwrap();
        let p = r.to_tlog_proof();
        let parsed = writ_ledger::writ_tlog::tlog_proof::TlogProof::parse(&p.to_bytes()).unwrap();
        parsed.verify_entry(&entry(i), ORIGIN, l.verifier()).unwrap();
        assert!(parsed.verify_entry(&entry(i + 1), ORIGIN, l.verifier()).is_err());
        cps.push(r.checkpoint.clone());
    }
    let cp = l.latest_checkpoint();
    assert_eq!(cp.checkpoint.size, 40);
    let opened = checkpoint::open(cp.note.as_bytes(), ORIGIN, l.verifier()).unwrap();
    assert_eq!(opened, cp.checkpoint);
    // every inclusion proof at every size; consistency between all recorded checkpoints
    for n in 1..=40u64 {
        let root = cps[n as usize].checkpoint.root;
        for i in 0..n {
            let p = l.inclusion_proof(i, n).unwrap();
            verify_inclusion(i, n, &leaf_hash(&entry(i)), &p, &root).unwrap();
        }
    }
    for a in 0..=40u64 {
        for c in [a, (a + 7).min(40), 40] {
            let p = l.consistency_proof(a, c).unwrap();
            verify_consistency(a, c, &p, &cps[a as usize].checkpoint.root, &cps[c as usize].checkpoint.root).unwrap();
        }
    }
    assert!(matches!(l.inclusion_proof(40, 40), Err(LedgerError::OutOfRange { .. })));
    assert!(matches!(l.consistency_proof(5, 41), Err(LedgerError::OutOfRange { .. })));
    assert_eq!(l.entries(3, 6).unwrap(), vec![entry(3), entry(4), entry(5)]);
    assert_eq!(l.entry(39).unwrap(), entry(39));
    assert!(l.entry(40).is_err());
    let offline = l.prove(7).unwrap();
    offline.verify_entry(&entry(7), ORIGIN, l.verifier()).unwrap();
}

fn concurrent_appenders(b: &Backend) {
    let l = Arc::new(b.open(1));
    let threads: Vec<_> = (0..16u64)
        .map(|t| {
            let l = l.clone();
            std::thread::spawn(move || {
                (0..50u64)
                    .map(|i| {
                        let e = format!("t{t}-{i}").into_bytes();
                        (l.append(e.clone()).unwrap(), e)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    for t in threads {
        for (i, e) in t.join().unwrap() {
            assert!(seen.insert(i), "index {i} handed out twice");
            all.push((i, e));
        }
    }
    assert_eq!(seen.len(), 800);
    assert_eq!(l.size(), 800);
    assert!(seen.iter().all(|&i| i < 800), "indices are contiguous");
    for (i, e) in &all {
        assert_eq!(&l.entry(*i).unwrap(), e);
    }
    let mut store = b.store();
    let report = audit(store.as_mut(), b.store().as_mut(), l.verifier(), None, &mut |_, _| {}).unwrap();
    assert!(report.is_ok(), "{:?}", report.findings);
}

fn restart_keeps_consistency(b: &Backend) {
    let l = b.open(1);
    for i in 0..10 {
        l.append(entry(i)).unwrap();
    }
    let before = l.latest_checkpoint();
    l.close();
    let l = b.open(1);
    assert_eq!(*l.latest_checkpoint(), *before, "reopening signs nothing new");
    for i in 10..25 {
        assert_eq!(l.append(entry(i)).unwrap(), i);
    }
    let after = l.latest_checkpoint();
    let p = l.consistency_proof(10, 25).unwrap();
    verify_consistency(10, 25, &p, &before.checkpoint.root, &after.checkpoint.root).unwrap();
    drop(l);
    // a different key must not take over (and never signs over) this ledger
    let err = writ_ledger::Ledger::open(b.location(), signer(2), LedgerOptions::default()).unwrap_err();
    assert!(matches!(err, LedgerError::Inconsistent(_)), "{err}");
}

fn refuses_tampered_state(b: &Backend) {
    let l = b.open(1);
    for i in 0..5 {
        l.append(entry(i)).unwrap();
    }
    let good = l.latest_checkpoint();
    drop(l);
    // checkpoint re-signed by another key
    let forged = Checkpoint::new(ORIGIN, 5, good.checkpoint.root).sign(&signer(3)).unwrap();
    b.set_checkpoint(forged.as_bytes());
    assert!(matches!(
        writ_ledger::Ledger::open(b.location(), signer(1), LedgerOptions::default()),
        Err(LedgerError::Inconsistent(_))
    ));
    // a validly signed checkpoint whose root the stored tree does not have
    let wrong = Checkpoint::new(ORIGIN, 5, leaf_hash(b"x")).sign(&signer(1)).unwrap();
    b.set_checkpoint(wrong.as_bytes());
    let e = writ_ledger::Ledger::open(b.location(), signer(1), LedgerOptions::default()).unwrap_err();
    assert!(matches!(e, LedgerError::Inconsistent(_)));
    b.set_checkpoint(good.note.as_bytes());
    let l = b.open(1);
    assert_eq!(l.append(entry(5)).unwrap(), 5);
}

fn store_contract(b: &Backend) {
    let mut s = b.store();
    assert_eq!(s.size().unwrap(), 0);
    assert_eq!(s.latest_checkpoint().unwrap(), None);
    let e = vec![b"a".to_vec()];
    let h = [(0u64, leaf_hash(b"a"))];
    s.commit(&Batch { start: 0, entries: &e, hashes: &h, checkpoint: b"cp1" }).unwrap();
    assert_eq!(s.size().unwrap(), 1);
    assert_eq!(s.latest_checkpoint().unwrap().as_deref(), Some(&b"cp1"[..]));
    // a stale sequencer is fenced off
    let err = s.commit(&Batch { start: 0, entries: &e, hashes: &h, checkpoint: b"cp2" }).unwrap_err();
    assert!(matches!(err, LedgerError::Conflict { expected: 0, found: 1 }));
    // a failed commit leaves nothing behind (atomicity): duplicate hash id
    let e2 = vec![b"b".to_vec()];
    let bad = [(0u64, leaf_hash(b"b"))];
    assert!(s.commit(&Batch { start: 1, entries: &e2, hashes: &bad, checkpoint: b"cp3" }).is_err());
    let mut s = b.store();
    assert_eq!(s.size().unwrap(), 1);
    assert_eq!(s.scan_entries(0, 10).unwrap().len(), 1);
    assert_eq!(s.latest_checkpoint().unwrap().as_deref(), Some(&b"cp1"[..]));
    assert!(matches!(s.read_hashes(&[5]), Err(LedgerError::Corrupt(_))));
    assert_eq!(s.read_hashes(&[0]).unwrap(), vec![leaf_hash(b"a")]);
    assert_eq!(s.scan_hashes(0, 10).unwrap(), vec![(0, leaf_hash(b"a"))]);
}

fn limits_and_busy(b: &Backend) {
    let opts = LedgerOptions { max_pending: 2, max_batch: 1, tiles_dir: None };
    let l = Arc::new(b.open_with(1, opts));
    let too_big = vec![0u8; 65_536];
    assert!(matches!(l.append(too_big), Err(LedgerError::EntryTooLarge { .. })));
    l.append(vec![0u8; 65_535]).unwrap();
    // Block the store's writers so the sequencer stalls on one commit.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let blocker = match b {
        Backend::Sqlite(d) => {
            let path = d.path().join("ledger.sqlite");
            std::thread::spawn(move || {
                let c = rusqlite::Connection::open(path).unwrap();
                c.execute_batch("BEGIN IMMEDIATE").unwrap();
                locked_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                c.execute_batch("COMMIT").unwrap();
            })
        }
        Backend::Postgres(p) => {
            let (url, schema) = (p.url.clone(), p.schema.clone());
            std::thread::spawn(move || {
                let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
                c.batch_execute(&format!(
                    "SET search_path TO {schema}; BEGIN; LOCK TABLE writ_state IN EXCLUSIVE MODE"
                ))
                .unwrap();
                locked_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                c.batch_execute("COMMIT").unwrap();
            })
        }
    };
    locked_rx.recv().unwrap();
    // One append is taken by the stalled sequencer, two fill the queue; the
    // queue can hold no more, so one of four appends must be refused as busy.
    let waiters: Vec<_> = (0..4u64)
        .map(|i| {
            let l = l.clone();
            std::thread::spawn(move || l.append(entry(100 + i)))
        })
        .collect();
    // Wait until the busy refusal happened (it returns immediately).
    let mut results = Vec::new();
    let mut pending = waiters;
    while results.is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (done, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|h| h.is_finished());
        pending = rest;
        results.extend(done.into_iter().map(|h| h.join().unwrap()));
    }
    assert!(results.iter().all(|r| matches!(r, Err(LedgerError::Busy { pending: 2 }))), "{results:?}");
    assert!(results[0].as_ref().unwrap_err().to_string().contains("busy"));
    release_tx.send(()).unwrap();
    blocker.join().unwrap();
    for h in pending {
        h.join().unwrap().unwrap();
    }
    assert_eq!(l.size(), 1 + 4 - results.len() as u64);
}

fn tiles_written_and_served(b: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    let opts = LedgerOptions { tiles_dir: Some(dir.path().to_path_buf()), ..LedgerOptions::default() };
    let l = b.open_with(1, opts.clone());
    for i in 0..300u64 {
        l.append(entry(i)).unwrap();
    }
    let cp = l.latest_checkpoint();
    drop(l); // joins the tile writer
    let l = b.open_with(1, opts);
    assert_eq!(l.tile_error(), None);
    let cpf = std::fs::read(dir.path().join("checkpoint")).unwrap();
    assert_eq!(cpf, cp.note.as_bytes());
    let t0 = std::fs::read(dir.path().join("tile/0/000")).unwrap();
    assert_eq!(t0.len(), 256 * 32);
    for i in 0..256usize {
        assert_eq!(&t0[i * 32..(i + 1) * 32], &leaf_hash(&entry(i as u64))[..]);
    }
    let p = std::fs::read(dir.path().join("tile/0/001.p/44")).unwrap();
    assert_eq!(p.len(), 44 * 32);
    let t1 = std::fs::read(dir.path().join("tile/1/000.p/1")).unwrap();
    let mut f = writ_ledger::writ_tlog::tree::Frontier::new();
    for i in 0..256u64 {
        f.append(leaf_hash(&entry(i)));
    }
    assert_eq!(t1, f.root().to_vec(), "level-1 tile holds the root of full level-0 tile 0");
    let bundle = decode_bundle(&std::fs::read(dir.path().join("tile/entries/000")).unwrap()).unwrap();
    assert_eq!(bundle.len(), 256);
    assert_eq!(bundle[17], entry(17));
    let pb = decode_bundle(&std::fs::read(dir.path().join("tile/entries/001.p/44")).unwrap()).unwrap();
    assert_eq!(pb[43], entry(299));
    // the served bytes equal the written files
    for path in
        ["tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1", "tile/entries/000", "tile/entries/001.p/44", "checkpoint"]
    {
        assert_eq!(l.read_tile(path).unwrap(), std::fs::read(dir.path().join(path)).unwrap(), "{path}");
    }
    assert!(matches!(l.read_tile("tile/0/001"), Err(LedgerError::OutOfRange { .. })));
    assert!(l.read_tile("tile/0/1").is_err());
    assert_eq!(Tile::parse_path("tile/0/001.p/44").unwrap().width, 44);
}

fn audit_clean_and_tampered(b: &Backend) {
    let l = b.open(1);
    for i in 0..20 {
        l.append(entry(i)).unwrap();
    }
    let v = l.verifier().clone();
    drop(l);
    let mut s = b.store();
    assert!(audit(s.as_mut(), b.store().as_mut(), &v, None, &mut |_, _| {}).unwrap().is_ok());
    b.set_entry(4, b"rewritten");
    let r = audit(s.as_mut(), b.store().as_mut(), &v, None, &mut |_, _| {}).unwrap();
    assert!(r.findings.contains(&Finding::ModifiedEntry { index: 4 }), "{:?}", r.findings);
    assert!(r.findings.contains(&Finding::RootMismatch { size: 20 }));
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&super::Backend::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(&super::Backend::postgres(stringify!($name))); })*
        }
    };
}

conformance!(
    append_and_prove,
    concurrent_appenders,
    restart_keeps_consistency,
    refuses_tampered_state,
    store_contract,
    limits_and_busy,
    tiles_written_and_served,
    audit_clean_and_tampered,
);
