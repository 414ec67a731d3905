//! Witnesses on loopback (C2SP `tlog-witness`, `tlog-cosignature`): three
//! real `writ witness serve` processes and a real `writ serve` whose trust
//! root asks for 2 of the 3.
//!
//! - the authority's receipts carry a quorum of cosignatures; `writ verify
//!   --receipt` (the gate's `writ_core::verify`) accepts them, and so does
//!   `tests/interop/cosig_verify.py`, written from the C2SP texts alone;
//! - a fork (a second log under the ledger's key, built here with the
//!   writ-ledger library) is refused by a witness (422, kept as evidence),
//!   and its writ is denied for lack of quorum (`witness_quorum`), or with
//!   the real log's cosignatures copied onto it (`witness_stale`);
//! - a rolled-back checkpoint is refused (409 with the size held);
//! - a witness killed with SIGKILL while answering a stream of requests
//!   loses no cosigned state: restarted, it still holds (at least) the last
//!   size it acknowledged and refuses the rolled-back one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

mod served;
mod witnessed;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use served::{run, serve};
use witnessed::{cosignatures, ok, start_witness, without_cosignatures};
use writ_ledger::writ_tlog::note::NoteSigner;
use writ_ledger::writ_tlog::tlog_proof::TlogProof;
use writ_ledger::{Ledger, LedgerOptions, Location};
use writ_witness::witness::AddCheckpoint;

/// POST an add-checkpoint body: status, content type, body.
fn post(url: &str, body: &[u8]) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut r = agent.post(&format!("{url}/add-checkpoint")).send(body).unwrap();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (r.status().as_u16(), ct, r.body_mut().read_to_string().unwrap())
}

fn python(args: &[&str]) -> (bool, String) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/cosig_verify.py");
    let out = Command::new("python3").arg(script).args(args).output().expect("python3 must be installed");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn cosignature_lines(note: &str) -> usize {
    cosignatures(note).lines().count()
}

fn request(dir: &Path, url: &str, out: &str) {
    ok(dir, &["request", "--authority", url, "--key", "alice.key", "--out", out, "--", "/usr/bin/echo", "hi"]);
}

fn verify(dir: &Path, writ: &str, receipt: &str) -> (i32, String) {
    run(dir, &["verify", writ, "--trust", "h/trust.json", "--receipt", receipt, "--json"])
}

#[test]
fn witnessed_receipts_forks_and_rollbacks() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["init", "--home", "h"]);
    ok(d, &["keygen", "--out", "alice.key", "--name", "alice"]);
    // Three witnesses; the trust root's ledger key gets the 2-of-3 policy,
    // published as a signed version.
    let witnessed::Witnessed { witnesses, keys: wkeys, log_vkey } =
        witnessed::witnessed(d, &["--add-key", "alice.key.pub", "--role", "requester", "--group", "dev"]);

    // A witnessed receipt.
    let srv = serve(d, &[]);
    request(d, &srv.url, "a.writ");
    let receipt = std::fs::read_to_string(d.join("a.writ.receipt")).unwrap();
    assert!(cosignature_lines(&receipt) >= 2, "the receipt carries the quorum's cosignatures:\n{receipt}");
    let (c, text) = verify(d, "a.writ", "a.writ.receipt");
    assert_eq!(c, 0, "a witnessed receipt verifies: {text}");
    let quorum = |file: &str| {
        let path = d.join(file);
        let mut args = vec!["quorum", log_vkey.as_str(), path.to_str().unwrap(), "2"];
        args.extend(wkeys.iter().map(String::as_str));
        python(&args)
    };
    let (good, out) = quorum("a.writ.receipt");
    assert!(good, "independent check of the receipt's cosignatures: {out}");
    let witnessed = ureq::get(&format!("{}/v1/log/witnessed-checkpoint", srv.url))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(cosignature_lines(&witnessed) >= 2, "{witnessed}");
    std::fs::write(d.join("witnessed.cp"), &witnessed).unwrap();
    let (good, out) = quorum("witnessed.cp");
    assert!(good, "independent check of the served witnessed checkpoint: {out}");

    // Without the cosignature lines the same receipt is denied.
    std::fs::write(d.join("bare.receipt"), without_cosignatures(&receipt)).unwrap();
    let (c, text) = verify(d, "a.writ", "bare.receipt");
    assert!(c == 77 && text.contains("witness_quorum"), "{text}");

    // A fork: a second log under the ledger's key holding the same issuance
    // entry, larger than what the witnesses cosigned.
    let (fork, fork_bytes) = witnessed::fork(d, &receipt);
    let real_size = TlogProof::parse(receipt.as_bytes()).unwrap().index + 1;
    let fork_cp = fork.latest_checkpoint();
    let probe = AddCheckpoint { old: 0, proof: vec![], note: fork_cp.note.clone().into_bytes() };
    let (status, _, text) = post(&witnesses[0].url, &probe.to_bytes());
    assert_eq!(status, 409, "{text}");
    let known: u64 = text.trim().parse().unwrap();
    assert!(known >= real_size && known < fork_cp.checkpoint.size, "the witness holds the real log's size {known}");
    let body = AddCheckpoint {
        old: known,
        proof: fork.consistency_proof(known, fork_cp.checkpoint.size).unwrap(),
        note: fork_cp.note.clone().into_bytes(),
    };
    let (status, _, text) = post(&witnesses[0].url, &body.to_bytes());
    assert_eq!(status, 422, "the fork is refused: {text}");
    let refused: i64 = rusqlite::Connection::open(d.join("w1/witness.sqlite"))
        .unwrap()
        .query_row("SELECT count(*) FROM refused", [], |r| r.get(0))
        .unwrap();
    assert_eq!(refused, 1, "the fork's signed checkpoint is kept as evidence");
    std::fs::write(d.join("fork.receipt"), &fork_bytes).unwrap();
    let (c, text) = verify(d, "a.writ", "fork.receipt");
    assert!(c == 77 && text.contains("witness_quorum"), "the fork's receipt lacks the quorum: {text}");
    // The real log's cosignatures copied onto the fork's checkpoint.
    std::fs::write(d.join("copied.receipt"), [fork_bytes, cosignatures(&receipt).into_bytes()].concat()).unwrap();
    let (c, text) = verify(d, "a.writ", "copied.receipt");
    assert!(c == 77 && text.contains("witness_stale"), "cosignatures of another checkpoint: {text}");
    let (good, out) = quorum("copied.receipt");
    assert!(!good, "the independent check refuses them too: {out}");

    // A rolled-back checkpoint: the log grows, then its older checkpoint
    // comes back.
    request(d, &srv.url, "b.writ");
    let later = std::fs::read_to_string(d.join("b.writ.receipt")).unwrap();
    let later_size = TlogProof::parse(later.as_bytes()).unwrap().index + 1;
    assert_eq!(verify(d, "b.writ", "b.writ.receipt").0, 0);
    let old_note = witnessed.as_bytes().to_vec();
    let old_size: u64 = witnessed.lines().nth(1).unwrap().parse().unwrap();
    assert!(old_size < later_size);
    for w in &witnesses[..2] {
        let (status, ct, text) =
            post(&w.url, &AddCheckpoint { old: old_size, proof: vec![], note: old_note.clone() }.to_bytes());
        assert_eq!((status, ct.as_str()), (409, "text/x.tlog.size"), "{text}");
        assert!(text.trim().parse::<u64>().unwrap() >= later_size, "it holds the newer size: {text}");
    }
}

#[test]
fn a_witness_killed_mid_request_keeps_what_it_cosigned() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["witness", "init", "--dir", "w", "--name", "witness.example/crash"]);
    let signer = NoteSigner::new("test.example/log", ed25519_dalek::SigningKey::from_bytes(&[5; 32])).unwrap();
    let log_arg = format!("test.example/log={}", signer.verifier());
    let log = Arc::new(Ledger::open(Location::Sqlite(d.join("log.sqlite")), signer, LedgerOptions::default()).unwrap());
    let mut w = start_witness(d, "w", std::slice::from_ref(&log_arg));

    // A stream of valid extensions; the witness is killed while it runs.
    let acked = Arc::new(AtomicU64::new(0));
    let (l, a, url) = (log.clone(), acked.clone(), w.url.clone());
    let submitter = std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut known = 0u64;
        let mut notes = Vec::new();
        for i in 0u64.. {
            l.append(format!("entry {i}").into_bytes()).unwrap();
            let cp = l.latest_checkpoint();
            let proof = if known == 0 { vec![] } else { l.consistency_proof(known, cp.checkpoint.size).unwrap() };
            let body = AddCheckpoint { old: known, proof, note: cp.note.clone().into_bytes() }.to_bytes();
            match agent.post(&format!("{url}/add-checkpoint")).send(&body[..]) {
                Ok(r) if r.status().as_u16() == 200 => {
                    known = cp.checkpoint.size;
                    notes.push(cp.note.clone());
                    a.store(known, Ordering::SeqCst);
                }
                Ok(r) => panic!("the witness refused a valid extension: {}", r.status()),
                Err(_) => break, // killed
            }
        }
        notes
    });
    while acked.load(Ordering::SeqCst) < 25 {
        std::thread::yield_now();
    }
    w.child.kill().unwrap(); // SIGKILL
    w.child.wait().unwrap();
    let notes = submitter.join().unwrap();
    let last = acked.load(Ordering::SeqCst);

    // Restarted on the same directory.
    let w = start_witness(d, "w", std::slice::from_ref(&log_arg));
    let cp = log.latest_checkpoint();
    let (status, ct, text) =
        post(&w.url, &AddCheckpoint { old: 0, proof: vec![], note: cp.note.clone().into_bytes() }.to_bytes());
    assert_eq!((status, ct.as_str()), (409, "text/x.tlog.size"), "{text}");
    let held: u64 = text.trim().parse().unwrap();
    assert!(held == last || held == last + 1, "acknowledged {last}, holds {held}: nothing cosigned was lost");
    // A rolled-back checkpoint (one it cosigned before the crash) is refused.
    let rolled_back = notes[notes.len() - 10].clone();
    let size: u64 = rolled_back.lines().nth(1).unwrap().parse().unwrap();
    let (status, _, text) =
        post(&w.url, &AddCheckpoint { old: size, proof: vec![], note: rolled_back.into_bytes() }.to_bytes());
    assert_eq!(status, 409, "{text}");
    assert_eq!(text.trim().parse::<u64>().unwrap(), held);
    // And it goes on from where it was.
    let proof = log.consistency_proof(held, cp.checkpoint.size).unwrap();
    let (status, _, text) =
        post(&w.url, &AddCheckpoint { old: held, proof, note: cp.note.clone().into_bytes() }.to_bytes());
    assert_eq!(status, 200, "{text}");
}
