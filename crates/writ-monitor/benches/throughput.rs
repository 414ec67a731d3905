//! `cargo bench -p writ-monitor --bench throughput`: monitor throughput in
//! entries/s from tiles (issue 15): one full pass of [`writ_monitor::Monitor`]
//! over a log of 10,000 request entries (40 entry bundles), from an empty
//! state — checkpoint signature, every bundle decoded, the tree recomputed
//! and compared, the semantic audit, the state fsynced. The tiles are read
//! through an in-memory [`writ_monitor::Fetcher`], so the number is the
//! monitor's own cost; over HTTP add the transfer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "benchmark setup")]

use std::collections::HashMap;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use writ_core::entry::{Entry, Request};
use writ_core::tlog::checkpoint::Checkpoint;
use writ_core::tlog::note::NoteSigner;
use writ_core::tlog::tile::{self, TILE_WIDTH};
use writ_core::tlog::tree::Frontier;
use writ_core::trust::{Role, key_entry};
use writ_core::{Sha256Digest, SigningKey, Timestamp, TrustRoot};
use writ_monitor::{FetchError, Fetcher, Monitor, NoProgress};

const ORIGIN: &str = "bench.writ.example/log";
const ENTRIES: u32 = 10_000;

struct Mem(HashMap<String, Vec<u8>>);

impl Fetcher for Mem {
    fn get(&self, path: &str) -> Result<Vec<u8>, FetchError> {
        self.0.get(path).cloned().ok_or_else(|| FetchError { url: path.into(), detail: "not found".into() })
    }
}

fn log(key: &SigningKey) -> Mem {
    let entries: Vec<Vec<u8>> = (0..ENTRIES)
        .map(|n| {
            Entry::Request(Request {
                time: Timestamp(1_767_225_600 + i64::from(n)),
                request_id: format!("req-{n}"),
                requester: "alice".into(),
                action: "exec".into(),
                resource: "/usr/bin/deploy".into(),
                request_digest: Sha256Digest::of(&n.to_be_bytes()),
                reason: None,
            })
            .encode()
            .unwrap()
        })
        .collect();
    let mut files = HashMap::new();
    for t in tile::tiles_for_size(None, 0, u64::from(ENTRIES)) {
        let start = usize::try_from(t.index * TILE_WIDTH).unwrap();
        let slice = &entries[start..start + usize::from(t.width)];
        files.insert(t.path(), tile::encode_bundle(slice.iter().map(Vec::as_slice)).unwrap());
    }
    let mut f = Frontier::new();
    for e in &entries {
        f.append_entry(e);
    }
    let signer = NoteSigner::new(ORIGIN, key.as_dalek().clone()).unwrap();
    files.insert(
        "checkpoint".into(),
        Checkpoint::new(ORIGIN, u64::from(ENTRIES), f.root()).sign(&signer).unwrap().into_bytes(),
    );
    Mem(files)
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_seed(&[0x61; 32]);
    let mut trust = TrustRoot::empty();
    trust.add(key_entry(ORIGIN, vec![Role::Ledger], Vec::new(), &key.public())).unwrap();
    let files = log(&key).0;
    let mut g = c.benchmark_group("monitor");
    g.throughput(Throughput::Elements(u64::from(ENTRIES)));
    g.sample_size(10);
    g.bench_function("full_pass_10k_entries", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let mut m =
                    Monitor::open(Mem(files.clone()), trust.clone(), dir.path().join("state"), Vec::new()).unwrap();
                let r = m.pass(&mut NoProgress).unwrap();
                assert_eq!(r.size, u64::from(ENTRIES));
                dir
            },
            criterion::BatchSize::PerIteration,
        );
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
