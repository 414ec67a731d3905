//! `cargo bench -p writ-core`: `verify` of a writ with one issuer signature,
//! two approvals and ten argument rules, beside the raw `verify_strict`
//! checks of the same three signatures — the ratio the core must keep
//! (≤ 1.15×). The comparison with biscuit-auth and jsonwebtoken lives in
//! `cargo bench -p writ-bench`, so that `cargo test` never builds the peers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "benchmark setup")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use writ_core::approval::{self, Verdict};
use writ_core::{dsse, fixtures};

fn bench(c: &mut Criterion) {
    let predicate = fixtures::approved_predicate();
    let writ = fixtures::sign(predicate.clone());
    let trust = fixtures::trust_root(false);
    let ctx = fixtures::run_context().to_context().unwrap();
    assert!(writ_core::verify(&writ, &trust, &ctx).unwrap().matched_action().is_some());

    let env = dsse::decode(&writ).unwrap();
    let issuer = fixtures::issuer().public();
    let pae = env.signing_input();
    let issuer_sig = env.signatures[0].1.clone();
    let approval_input = approval::signing_input(&fixtures::request_digest(), Verdict::Approve, fixtures::T0);
    let approvals: Vec<_> = predicate
        .governance
        .approvals
        .iter()
        .zip([fixtures::alice(), fixtures::bob()])
        .map(|(a, k)| (k.public(), writ_core::b64::decode(&a.sig, 64).unwrap()))
        .collect();

    c.bench_function("core/writ_verify", |b| b.iter(|| writ_core::verify(black_box(&writ), &trust, &ctx).is_ok()));
    c.bench_function("core/raw_verify_strict_x3", |b| {
        b.iter(|| {
            let mut ok = issuer.verify_strict(black_box(&pae), &issuer_sig);
            for (k, s) in &approvals {
                ok &= k.verify_strict(black_box(&approval_input), s);
            }
            ok
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
