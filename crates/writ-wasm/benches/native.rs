//! Benchmark: native timing of the same calls the browser makes, for the
//! wasm/native ratio in `docs/performance.md`: `cargo bench -p writ-wasm --bench native`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::print_stdout, reason = "benchmark")]

use std::time::Instant;

fn time(f: &dyn Fn() -> String) -> f64 {
    let n = 200;
    for _ in 0..n {
        f();
    }
    let mut best = f64::MAX;
    for _ in 0..15 {
        let t0 = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t0.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    }
    best
}

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/writs/");
    for name in ["allow_two_approvals", "allow_with_receipt"] {
        let exp: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}{name}.expected.json")).unwrap()).unwrap();
        let env = std::fs::read(format!("{dir}{name}.writ.json")).unwrap();
        let trust = std::fs::read_to_string(format!("{dir}{}", exp["trust"].as_str().unwrap())).unwrap();
        let ctx = exp["context"].to_string();
        let v = writ_wasm::Verifier::new(&trust).unwrap();
        let fresh = || writ_wasm::Verifier::new(&trust).unwrap().verify(&env, &ctx);
        println!(
            "{name}: parse trust root + verify {:.1} µs; verify (root parsed once) {:.1} µs",
            time(&fresh),
            time(&|| v.verify(&env, &ctx))
        );
    }
}
