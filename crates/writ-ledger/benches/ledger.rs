//! Ledger benchmarks: `cargo bench -p writ-ledger`.
//!
//! - appends/s with 1 and 64 concurrent appenders, SQLite and PostgreSQL
//!   (each append returns only once durable and covered by a signed checkpoint);
//! - append → covering checkpoint latency p50/p99 under 64 appenders (printed);
//! - inclusion-proof generation at 1M and 10M entries (SQLite; the trees are
//!   bulk-built once and cached under `target/writ-bench/`);
//! - audit speed in entries/s over the 1M-entry ledger.
//!
//! PostgreSQL benchmarks use `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and panic when it is unreachable.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "bench code"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use writ_ledger::writ_tlog::checkpoint::Checkpoint;
use writ_ledger::writ_tlog::hash::leaf_hash;
use writ_ledger::writ_tlog::note::NoteSigner;
use writ_ledger::writ_tlog::tree::Frontier;
use writ_ledger::{Batch, Ledger, LedgerError, LedgerOptions, Location};

const ORIGIN: &str = "bench.example/ledger";

fn signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[42; 32])).unwrap()
}

fn entry(t: u64, i: u64) -> Vec<u8> {
    // ~120 bytes, the size of a typical encoded issuance entry
    format!("{t:04}-{i:012}-{}", "x".repeat(100)).into_bytes()
}

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn pg_location(tag: &str) -> Location {
    let schema = format!("bench_{tag}_{}", std::process::id());
    let mut c = postgres::Client::connect(&database_url(), postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL unreachable at {}: {e}", database_url()));
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
    Location::Postgres { url: database_url(), schema }
}

/// Append `per_thread * threads` entries with `threads` concurrent appenders.
fn run_appenders(ledger: &Arc<Ledger>, threads: u64, per_thread: u64, round: u64) -> Vec<Duration> {
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let l = ledger.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(per_thread as usize);
                for i in 0..per_thread {
                    let e = entry(t, round * 1_000_000 + i);
                    loop {
                        let s = Instant::now();
                        match l.append(e.clone()) {
                            Ok(_) => {
                                lat.push(s.elapsed());
                                break;
                            }
                            Err(LedgerError::Busy { .. }) => std::thread::sleep(Duration::from_micros(200)),
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                lat
            })
        })
        .collect();
    hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
}

fn bench_appends(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    let dir = tempfile::tempdir().unwrap();
    let backends: Vec<(&str, Location)> =
        vec![("sqlite", Location::Sqlite(dir.path().join("append.sqlite"))), ("postgres", pg_location("append"))];
    for (name, loc) in backends {
        let ledger = Arc::new(Ledger::open(loc.clone(), signer(), LedgerOptions::default()).unwrap());
        for threads in [1u64, 64] {
            let per_thread = if threads == 1 { 200 } else { 100 };
            g.throughput(Throughput::Elements(threads * per_thread));
            let mut round = 0;
            g.bench_with_input(BenchmarkId::new(name, format!("{threads}_appenders")), &threads, |b, &threads| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        round += 1;
                        run_appenders(&ledger, threads, per_thread, round);
                    }
                    start.elapsed()
                });
            });
        }
        // Latency from append to the covering signed checkpoint under 64 appenders:
        // each append returns once its batch and the checkpoint over it are durable.
        let mut lat = run_appenders(&ledger, 64, 200, 999);
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize];
        let start = Instant::now();
        let n = run_appenders(&ledger, 64, 200, 998).len();
        let rate = n as f64 / start.elapsed().as_secs_f64();
        println!(
            "append->checkpoint latency ({name}, 64 appenders, {} appends): p50 {:?} p99 {:?} max {:?}; sustained {rate:.0} appends/s",
            lat.len(),
            p(0.50),
            p(0.99),
            lat[lat.len() - 1]
        );
        drop(ledger);
        if let Location::Postgres { schema, .. } = &loc {
            let mut c = postgres::Client::connect(&database_url(), postgres::NoTls).unwrap();
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
        }
    }
    g.finish();
}

/// A SQLite ledger of `n` entries, bulk-built once with the store API and cached.
fn big_ledger(n: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/writ-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("ledger-{n}.sqlite"));
    if path.exists() {
        let mut s = Location::Sqlite(path.clone()).connect().unwrap();
        if s.size().unwrap() == n {
            return path;
        }
        drop(s);
        std::fs::remove_file(&path).unwrap();
    }
    let start = Instant::now();
    let mut s = Location::Sqlite(path.clone()).connect().unwrap();
    let signer = signer();
    let mut f = Frontier::new();
    let chunk = 100_000u64;
    let mut i = 0;
    while i < n {
        let end = (i + chunk).min(n);
        let entries: Vec<Vec<u8>> = (i..end).map(|j| entry(0, j)).collect();
        let mut hashes = Vec::with_capacity(entries.len() * 2);
        for e in &entries {
            hashes.extend(f.append(leaf_hash(e)));
        }
        let note = Checkpoint::new(ORIGIN, end, f.root()).sign(&signer).unwrap();
        s.commit(&Batch { start: i, entries: &entries, hashes: &hashes, checkpoint: note.as_bytes() }).unwrap();
        i = end;
    }
    println!("built {n}-entry ledger in {:?}", start.elapsed());
    path
}

fn bench_proofs(c: &mut Criterion) {
    let mut g = c.benchmark_group("inclusion_proof");
    for n in [1_000_000u64, 10_000_000] {
        let path = big_ledger(n);
        let ledger = Ledger::open(Location::Sqlite(path), signer(), LedgerOptions::default()).unwrap();
        let mut k = 0x1234_5678u64;
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let idx = (k >> 11) % n;
                ledger.inclusion_proof(idx, n).unwrap()
            });
        });
        g.bench_function(BenchmarkId::new("consistency", n), |b| {
            b.iter(|| {
                k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let old = 1 + (k >> 11) % (n - 1);
                ledger.consistency_proof(old, n).unwrap()
            });
        });
    }
    g.finish();
}

fn bench_audit(c: &mut Criterion) {
    let n = 1_000_000u64;
    let path = big_ledger(n);
    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    let verifier = signer().verifier().clone();
    g.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| {
            let mut s = Location::Sqlite(path.clone()).connect().unwrap();
            let r = writ_ledger::audit::audit(
                s.as_mut(),
                Location::Sqlite(path.clone()).connect().unwrap().as_mut(),
                &verifier,
                None,
                &mut |_, _| {},
            )
            .unwrap();
            assert!(r.is_ok());
        });
    });
    g.finish();
}

criterion_group!(benches, bench_proofs, bench_audit, bench_appends);
criterion_main!(benches);
