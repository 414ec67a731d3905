//! The witness state machine against C2SP `tlog-witness`: every answer the
//! spec defines, on a real SQLite state file and real ledgers (a log and a
//! fork of it under the same key), and the state surviving a reopen.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use ed25519_dalek::SigningKey;
use writ_ledger::{Ledger, LedgerOptions, Location};
use writ_tlog::cosig::{self, Cosigner};
use writ_tlog::note::NoteSigner;
use writ_witness::Witness;
use writ_witness::store::Store;
use writ_witness::witness::{AddCheckpoint, SIZE_CONTENT_TYPE};

const ORIGIN: &str = "example.com/log";

fn signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[7; 32])).unwrap()
}

fn ledger(dir: &std::path::Path, name: &str, entries: &[&str]) -> Ledger {
    let l = Ledger::open(Location::Sqlite(dir.join(name)), signer(), LedgerOptions::default()).unwrap();
    for e in entries {
        l.append(e.as_bytes().to_vec()).unwrap();
    }
    l
}

fn witness(dir: &std::path::Path) -> Witness {
    let cosigner = Cosigner::new("witness.example/w1", SigningKey::from_bytes(&[1; 32])).unwrap();
    Witness::new(
        cosigner,
        vec![(ORIGIN.into(), signer().verifier().clone())],
        Store::open(&dir.join("w.sqlite")).unwrap(),
    )
}

fn request(l: &Ledger, old: u64) -> Vec<u8> {
    let cp = l.latest_checkpoint();
    let proof = if old == 0 { Vec::new() } else { l.consistency_proof(old, cp.checkpoint.size).unwrap() };
    AddCheckpoint { old, proof, note: cp.note.as_bytes().to_vec() }.to_bytes()
}

#[test]
fn answers_as_the_spec_says_and_keeps_its_state() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let w = witness(d);
    let log = ledger(d, "log.sqlite", &["a", "b", "c"]);

    // First contact from 0: cosigned; the line verifies over the checkpoint.
    let r = w.add_checkpoint(&request(&log, 0), 1_000);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let cp = log.latest_checkpoint();
    let note = format!("{}{}", cp.note, String::from_utf8(r.body).unwrap());
    let found = cosig::verify_quorum(note.as_bytes(), core::slice::from_ref(w.verifier()), 1).unwrap();
    assert_eq!(found[0].timestamp, 1_000);
    assert_eq!(w.latest(ORIGIN).unwrap(), Some((3, cp.checkpoint.root)));

    // Stale old size: 409 with the size it holds.
    let r = w.add_checkpoint(&request(&log, 0), 1_001);
    assert_eq!((r.status, r.content_type, r.body.as_slice()), (409, Some(SIZE_CONTENT_TYPE), &b"3\n"[..]));

    // The same checkpoint again: cosigned again.
    assert_eq!(w.add_checkpoint(&request(&log, 3), 1_002).status, 200);

    // Growth with a proof: cosigned.
    for e in ["d", "e", "f", "g", "h"] {
        log.append(e.as_bytes().to_vec()).unwrap();
    }
    assert_eq!(w.add_checkpoint(&request(&log, 3), 1_003).status, 200);

    // A bad proof: 422.
    log.append(b"i".to_vec()).unwrap();
    let mut bad = AddCheckpoint::parse(&request(&log, 8)).unwrap();
    bad.proof[0][0] ^= 1;
    assert_eq!(w.add_checkpoint(&bad.to_bytes(), 1_004).status, 422);

    // A fork under the same key, larger than what the witness holds: 422,
    // and the refusal is kept as evidence.
    let fork = ledger(d, "fork.sqlite", &["a", "b", "c", "X", "Y", "Z", "W", "V", "U", "T"]);
    let r = w.add_checkpoint(&request(&fork, 8), 1_005);
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    // A fork of the same size: 409.
    let same = ledger(d, "same.sqlite", &["a", "b", "c", "X", "Y", "Z", "W", "V"]);
    let r = w.add_checkpoint(&request(&same, 8), 1_006);
    assert_eq!(r.status, 409);
    assert_eq!(w.refused(ORIGIN).unwrap(), 3);

    // A rolled-back (older) checkpoint: 409 when claiming its own size, 400
    // when the old size is above it.
    let older = ledger(d, "older.sqlite", &["a", "b", "c"]);
    let r = w.add_checkpoint(&request(&older, 3), 1_007);
    assert_eq!((r.status, r.body.as_slice()), (409, &b"8\n"[..]));
    let mut above = AddCheckpoint::parse(&request(&older, 3)).unwrap();
    above.old = 8;
    assert_eq!(w.add_checkpoint(&above.to_bytes(), 1_008).status, 400);

    // Unknown origin 404, unknown key 403, malformed 400.
    let other = Ledger::open(
        Location::Sqlite(d.join("other.sqlite")),
        NoteSigner::new("other.example/log", SigningKey::from_bytes(&[8; 32])).unwrap(),
        LedgerOptions::default(),
    )
    .unwrap();
    assert_eq!(w.add_checkpoint(&request(&other, 0), 1_009).status, 404);
    let impostor = Ledger::open(
        Location::Sqlite(d.join("impostor.sqlite")),
        NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[9; 32])).unwrap(),
        LedgerOptions::default(),
    )
    .unwrap();
    assert_eq!(w.add_checkpoint(&request(&impostor, 0), 1_010).status, 403);
    for body in [&b""[..], b"old 01\n\n", b"old 3\nnot base64\n\n", b"new 3\n\n", b"old 3\n"] {
        assert_eq!(w.add_checkpoint(body, 1_011).status, 400, "{}", String::from_utf8_lossy(body));
    }
    let mut long = AddCheckpoint::parse(&request(&log, 8)).unwrap();
    long.proof = vec![[0; 32]; 64];
    assert_eq!(w.add_checkpoint(&long.to_bytes(), 1_012).status, 400, "more than 63 proof lines");

    // Reopened (a restart): the state is the last cosigned one.
    drop(w);
    let w = witness(d);
    assert_eq!(w.latest(ORIGIN).unwrap().map(|(s, _)| s), Some(8));
    assert_eq!(w.add_checkpoint(&request(&log, 8), 1_013).status, 200);
    assert_eq!(w.latest(ORIGIN).unwrap().map(|(s, _)| s), Some(9));
}

#[test]
fn size_zero_needs_the_empty_root() {
    let tmp = tempfile::tempdir().unwrap();
    let w = witness(tmp.path());
    let log = ledger(tmp.path(), "log.sqlite", &[]);
    assert_eq!(w.add_checkpoint(&request(&log, 0), 5).status, 200);
    let forged = writ_tlog::checkpoint::Checkpoint::new(ORIGIN, 0, [1; 32]).sign(&signer()).unwrap();
    let body = AddCheckpoint { old: 0, proof: Vec::new(), note: forged.into_bytes() }.to_bytes();
    assert_eq!(w.add_checkpoint(&body, 6).status, 422);
}
