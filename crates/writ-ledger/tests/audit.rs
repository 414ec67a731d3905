//! `audit` detects each kind of tampering and names the index.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "test code")]

mod common;

use common::{Backend, ORIGIN, signer};
use writ_ledger::audit::{AuditReport, Finding, audit};
use writ_ledger::writ_tlog::checkpoint::Checkpoint;

fn entry(i: u64) -> Vec<u8> {
    format!("audit-entry-{i}").into_bytes()
}

/// A SQLite ledger with `n` entries; returns it and the note of its checkpoint.
fn ledger(n: u64) -> (Backend, String) {
    let b = Backend::sqlite();
    let l = b.open(1);
    for i in 0..n {
        l.append(entry(i)).unwrap();
    }
    let note = l.latest_checkpoint().note.clone();
    drop(l);
    (b, note)
}

fn run(b: &Backend, saved: Option<&str>) -> AuditReport {
    let mut s = b.store();
    audit(s.as_mut(), b.store().as_mut(), signer(1).verifier(), saved.map(str::as_bytes), &mut |_, _| {}).unwrap()
}

#[test]
fn clean_ledger_passes_with_and_without_saved_checkpoint() {
    let (b, saved) = ledger(10);
    let l = b.open(1);
    for i in 10..30 {
        l.append(entry(i)).unwrap();
    }
    drop(l);
    let r = run(&b, Some(&saved));
    assert!(r.is_ok(), "{:?}", r.findings);
    assert_eq!((r.size, r.entries_checked, r.saved_size), (30, 30, Some(10)));
}

#[test]
fn detects_modified_entry() {
    let (b, _) = ledger(50);
    b.set_entry(17, b"rewritten");
    let r = run(&b, None);
    assert!(!r.is_ok());
    assert_eq!(r.findings[0], Finding::ModifiedEntry { index: 17 });
    assert!(r.findings.contains(&Finding::RootMismatch { size: 50 }));
    // no noise about stored interior hashes: only the entry changed
    assert!(!r.findings.iter().any(|f| matches!(f, Finding::StoredHashMismatch { .. })), "{:?}", r.findings);
}

#[test]
fn detects_deleted_entry() {
    let (b, _) = ledger(50);
    b.exec("DELETE FROM writ_entries WHERE idx = 23");
    let r = run(&b, None);
    assert_eq!(r.findings, vec![Finding::MissingEntry { index: 23 }]);
    // deleting the last entry
    let (b, _) = ledger(50);
    b.exec("DELETE FROM writ_entries WHERE idx = 49");
    let r = run(&b, None);
    assert!(r.findings.contains(&Finding::MissingEntry { index: 49 }), "{:?}", r.findings);
    // deleting and renumbering the rest to hide the gap
    let (b, _) = ledger(50);
    b.exec("DELETE FROM writ_entries WHERE idx = 30; UPDATE writ_entries SET idx = idx - 1 WHERE idx > 30;");
    let r = run(&b, None);
    assert_eq!(r.findings[0], Finding::ModifiedEntry { index: 30 });
    assert!(r.findings.contains(&Finding::MissingEntry { index: 49 }));
}

#[test]
fn detects_swapped_entries() {
    let (b, _) = ledger(50);
    b.set_entry(5, &entry(9));
    b.set_entry(9, &entry(5));
    let r = run(&b, None);
    let named: Vec<u64> = r.findings.iter().filter_map(Finding::index).collect();
    assert_eq!(named, vec![5, 9], "{:?}", r.findings);
}

#[test]
fn detects_rewritten_entries_and_hashes_via_signed_root() {
    // An attacker without the key rewrites an entry and every stored hash:
    // only the signed checkpoint can tell, and it does.
    let (b, note) = ledger(20);
    let evil = Backend::sqlite();
    {
        let l = evil.open(9); // another key builds a consistent fake tree
        for i in 0..20 {
            l.append(if i == 3 { b"evil".to_vec() } else { entry(i) }).unwrap();
        }
    }
    // Copy the fake tables over the real ledger, keeping the real checkpoint.
    let (Backend::Sqlite(real), Backend::Sqlite(fake)) = (&b, &evil) else { unreachable!() };
    let c = rusqlite::Connection::open(real.path().join("ledger.sqlite")).unwrap();
    c.execute_batch(&format!(
        "ATTACH '{}' AS fake; DELETE FROM writ_entries; DELETE FROM writ_hashes;
         INSERT INTO writ_entries SELECT * FROM fake.writ_entries; INSERT INTO writ_hashes SELECT * FROM fake.writ_hashes;",
        fake.path().join("ledger.sqlite").display()
    ))
    .unwrap();
    b.set_checkpoint(note.as_bytes());
    let r = run(&b, None);
    assert_eq!(r.findings, vec![Finding::RootMismatch { size: 20 }]);
}

#[test]
fn detects_forged_checkpoint() {
    let (b, note) = ledger(10);
    // signed by another key under the same name
    let forged = Checkpoint::new(
        ORIGIN,
        10,
        Checkpoint::parse(note.split("\n\n").next().map(|t| format!("{t}\n")).as_deref().unwrap()).unwrap().root,
    )
    .sign(&signer(2))
    .unwrap();
    b.set_checkpoint(forged.as_bytes());
    let r = run(&b, None);
    assert!(matches!(r.findings[0], Finding::ForgedCheckpoint { .. }), "{:?}", r.findings);
    // a genuine signature over an altered body (size changed)
    let altered = note.replacen("\n10\n", "\n9\n", 1);
    b.set_checkpoint(altered.as_bytes());
    let r = run(&b, None);
    assert!(matches!(r.findings[0], Finding::ForgedCheckpoint { .. }), "{:?}", r.findings);
}

#[test]
fn detects_checkpoint_inconsistent_with_saved_one() {
    // The operator (who holds the key) rewrites history and re-signs: every
    // stored hash and the latest checkpoint agree, but the auditor's saved
    // checkpoint from before no longer matches the prefix.
    let (b, saved) = ledger(10);
    let rewritten = Backend::sqlite();
    {
        let l = rewritten.open(1); // same key
        for i in 0..15 {
            l.append(if i == 4 { b"rewritten".to_vec() } else { entry(i) }).unwrap();
        }
    }
    let r = run(&rewritten, Some(&saved));
    assert_eq!(r.findings, vec![Finding::InconsistentWithSaved { size: 10 }]);
    // and a rollback below the saved size
    let small = Backend::sqlite();
    {
        let l = small.open(1);
        for i in 0..5 {
            l.append(entry(i)).unwrap();
        }
    }
    let r = run(&small, Some(&saved));
    assert_eq!(r.findings, vec![Finding::Rollback { saved: 10, current: 5 }]);
    // a saved checkpoint that is itself forged
    let r = run(&b, Some(&saved.replacen("\n10\n", "\n11\n", 1)));
    assert!(matches!(r.findings[0], Finding::SavedCheckpointInvalid { .. }));
    drop(b);
}

#[test]
fn detects_inserted_entry_and_tampered_interior_hash() {
    let (b, _) = ledger(8);
    b.exec("INSERT INTO writ_entries (idx, data) VALUES (8, x'00')");
    let r = run(&b, None);
    assert!(r.findings.contains(&Finding::UnexpectedEntry { index: 8 }), "{:?}", r.findings);
    let (b, _) = ledger(8);
    // stored hash 2 is the node over leaves 0 and 1
    b.exec("UPDATE writ_hashes SET hash = zeroblob(32) WHERE id = 2");
    let r = run(&b, None);
    assert_eq!(r.findings, vec![Finding::StoredHashMismatch { stored_index: 2 }]);
}

#[test]
fn multi_chunk_ledger_names_tampering_across_chunks() {
    use writ_ledger::writ_tlog::hash::leaf_hash;
    use writ_ledger::writ_tlog::tree::Frontier;
    let n = 2 * writ_ledger::audit::AUDIT_CHUNK as u64 + 1234;
    let b = Backend::sqlite();
    {
        let mut s = b.store();
        let mut f = Frontier::new();
        let entries: Vec<Vec<u8>> = (0..n).map(entry).collect();
        let mut hashes = Vec::new();
        for e in &entries {
            hashes.extend(f.append(leaf_hash(e)));
        }
        let note = Checkpoint::new(ORIGIN, n, f.root()).sign(&signer(1)).unwrap();
        s.commit(&writ_ledger::Batch { start: 0, entries: &entries, hashes: &hashes, checkpoint: note.as_bytes() })
            .unwrap();
    }
    let mut calls = 0;
    let mut s = b.store();
    let r = audit(s.as_mut(), b.store().as_mut(), signer(1).verifier(), None, &mut |done, total| {
        assert!(done <= total);
        calls += 1;
    })
    .unwrap();
    assert!(r.is_ok(), "{:?}", r.findings);
    assert_eq!(r.entries_checked, n);
    assert!(calls >= 3);
    b.exec("DELETE FROM writ_entries WHERE idx = 16384");
    b.set_entry(30000, b"changed");
    b.exec(&format!("DELETE FROM writ_entries WHERE idx = {}", n - 1));
    let r = audit(s.as_mut(), b.store().as_mut(), signer(1).verifier(), None, &mut |_, _| {}).unwrap();
    let named: Vec<(&str, u64)> = r.findings.iter().filter_map(|f| f.index().map(|i| (f.code(), i))).collect();
    assert_eq!(
        named,
        vec![("missing_entry", 16384), ("modified_entry", 30000), ("missing_entry", n - 1)],
        "{:?}",
        r.findings
    );
}
