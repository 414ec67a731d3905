//! `cargo bench -p writ-bench --bench hybrid`: what the post-quantum hybrid
//! suite `ed25519+ml-dsa-65` costs a verifier (issue 15, item 4).
//!
//! Groups, all over the vectors in `testdata/` (so the numbers are for the
//! very bytes the tests and the WebAssembly build check):
//!
//! - `signature/ed25519`: Ed25519 `verify_strict` of a writ's PAE bytes;
//! - `signature/ml_dsa_65`: ML-DSA-65 verify of the same bytes;
//! - `signature/hybrid`: both, as the trust root's pinned suite demands;
//! - `writ_verify/ed25519` and `writ_verify/hybrid`: `writ_core::verify` of
//!   `testdata/writs/allow_check_only` and `testdata/hybrid/allow_hybrid`
//!   (same predicate, check mode);
//! - `receipt/ed25519` and `receipt/hybrid`: `verify` with the ledger
//!   receipt (checkpoint note: one line, or the Ed25519 and ML-DSA-65 lines).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "benchmark setup")]

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use writ_core::spec::ContextSpec;
use writ_core::{Context, TrustRoot, dsse};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A vector: envelope, trust root, context.
fn vector(dir: &str, stem: &str) -> (Vec<u8>, TrustRoot, Context) {
    let d = testdata().join(dir);
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join(format!("{stem}.expected.json"))).unwrap()).unwrap();
    let trust = TrustRoot::from_json(&std::fs::read(d.join(expected["trust"].as_str().unwrap())).unwrap()).unwrap();
    let ctx = serde_json::from_value::<ContextSpec>(expected["context"].clone()).unwrap().to_context().unwrap();
    let writ = std::fs::read(d.join(format!("{stem}.writ.json"))).unwrap();
    writ_core::verify(&writ, &trust, &ctx).expect("the vector is an allow vector");
    (writ, trust, ctx)
}

fn bench(c: &mut Criterion) {
    let (hybrid_writ, hybrid_trust, hybrid_ctx) = vector("hybrid", "allow_hybrid");
    let env = dsse::decode(&hybrid_writ).unwrap();
    let (kid, sig) = &env.signatures[0];
    let key = hybrid_trust.key(kid).unwrap();
    let pq = key.ml_dsa.clone().unwrap();
    let input = env.signing_input();
    let (ed_sig, pq_sig) = sig.split_at(64);
    assert!(key.key.verify_strict(&input, ed_sig) && pq.verify(&input, pq_sig));
    assert!(key.verify_signature(&input, sig).is_ok());

    let mut g = c.benchmark_group("signature");
    g.bench_function("ed25519", |b| b.iter(|| black_box(&key.key).verify_strict(black_box(&input), black_box(ed_sig))));
    g.bench_function("ml_dsa_65", |b| b.iter(|| black_box(&pq).verify(black_box(&input), black_box(pq_sig))));
    g.bench_function("hybrid", |b| b.iter(|| black_box(key).verify_signature(black_box(&input), black_box(sig))));
    g.finish();

    let (plain_writ, plain_trust, plain_ctx) = vector("writs", "allow_check_only");
    let mut g = c.benchmark_group("writ_verify");
    g.bench_function("ed25519", |b| b.iter(|| writ_core::verify(black_box(&plain_writ), &plain_trust, &plain_ctx)));
    g.bench_function("hybrid", |b| b.iter(|| writ_core::verify(black_box(&hybrid_writ), &hybrid_trust, &hybrid_ctx)));
    g.finish();

    let (pw, pt, pc) = vector("writs", "allow_with_receipt");
    let (hw, ht, hc) = vector("hybrid", "allow_hybrid_with_receipt");
    let mut g = c.benchmark_group("receipt");
    g.bench_function("ed25519", |b| b.iter(|| writ_core::verify(black_box(&pw), &pt, &pc)));
    g.bench_function("hybrid", |b| b.iter(|| writ_core::verify(black_box(&hw), &ht, &hc)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
