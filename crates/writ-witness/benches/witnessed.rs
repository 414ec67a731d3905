//! Added latency from append to witnessed checkpoint, with three local
//! witnesses (real HTTP on loopback, real SQLite state with
//! `synchronous=FULL`) and a 2-of-3 quorum: each sample is one
//! `Ledger::append_with_receipt`, once with the submitter installed and once
//! without, sequentially and under concurrent load (16 appenders).
//!
//! `cargo bench -p writ-witness --bench witnessed` (prints p50 / p99 in ms).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "bench")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use writ_ledger::{Ledger, LedgerOptions, Location};
use writ_tlog::cosig::Cosigner;
use writ_tlog::note::NoteSigner;
use writ_witness::Witness;
use writ_witness::store::Store;
use writ_witness::submit::{DEFAULT_TIMEOUT, Endpoint, Submitter};

const ORIGIN: &str = "bench.example/log";
const SEQUENTIAL: usize = 300;
const THREADS: usize = 16;
const PER_THREAD: usize = 40;

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

fn sequential(l: &Ledger, tag: &str) -> Vec<Duration> {
    (0..SEQUENTIAL)
        .map(|i| {
            let t = Instant::now();
            l.append_with_receipt(format!("{tag} {i}").into_bytes()).unwrap();
            t.elapsed()
        })
        .collect()
}

fn concurrent(l: &Arc<Ledger>, tag: &str) -> Vec<Duration> {
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let l = l.clone();
            let tag = tag.to_string();
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|i| {
                        let s = Instant::now();
                        l.append_with_receipt(format!("{tag} {t} {i}").into_bytes()).unwrap();
                        s.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
}

fn report(what: &str, bare: &[Duration], witnessed: &[Duration]) {
    let (b50, b99) = (pct(bare.to_vec(), 0.5), pct(bare.to_vec(), 0.99));
    let (w50, w99) = (pct(witnessed.to_vec(), 0.5), pct(witnessed.to_vec(), 0.99));
    println!(
        "{what}: append {b50:.2} / {b99:.2} ms, append → witnessed receipt {w50:.2} / {w99:.2} ms (p50 / p99); added {:.2} / {:.2} ms",
        w50 - b50,
        w99 - b99
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let signer = || NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[3; 32])).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut endpoints = Vec::new();
    for i in 1..=3u8 {
        let cosigner = Cosigner::new(&format!("bench.example/w{i}"), SigningKey::from_bytes(&[i; 32])).unwrap();
        let verifier = cosigner.verifier().clone();
        let store = Store::open(&dir.path().join(format!("w{i}.sqlite"))).unwrap();
        let w = Arc::new(Witness::new(cosigner, vec![(ORIGIN.into(), signer().verifier().clone())], store));
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        rt.spawn(writ_witness::server::serve(listener, w));
        endpoints.push(Endpoint { url, verifier });
    }
    let l = Arc::new(
        Ledger::open(Location::Sqlite(dir.path().join("ledger.sqlite")), signer(), LedgerOptions::default()).unwrap(),
    );
    let bare_seq = sequential(&l, "bare");
    let bare_con = concurrent(&l, "bare");
    let sub = Submitter::new(endpoints, 2, DEFAULT_TIMEOUT);
    l.set_witnessing(Some(Arc::new(sub.clone())));
    sub.witness_now(&l).unwrap();
    let wit_seq = sequential(&l, "witnessed");
    let wit_con = concurrent(&l, "witnessed");
    let cp = l.witnessed_checkpoint().unwrap();
    assert!(cp.note.matches("\u{2014} bench.example/w").count() >= 2, "receipts were witnessed");
    println!(
        "3 local witnesses, quorum 2, SQLite ledger, {SEQUENTIAL} sequential appends, {THREADS}x{PER_THREAD} concurrent"
    );
    report("sequential", &bare_seq, &wit_seq);
    report(&format!("{THREADS} concurrent appenders"), &bare_con, &wit_con);
}
