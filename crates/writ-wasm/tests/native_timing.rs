//! Native timing of the same calls the browser makes, for the wasm/native
//! ratio in `docs/performance.md`:
//! `cargo test -p writ-wasm --release --test native_timing -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

#[test]
#[ignore = "timing, run by hand"]
fn native_verify_timing() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/writs/");
    for name in ["allow_two_approvals", "allow_with_receipt"] {
        let exp: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}{name}.expected.json")).unwrap()).unwrap();
        let env = std::fs::read(format!("{dir}{name}.writ.json")).unwrap();
        let trust = std::fs::read_to_string(format!("{dir}{}", exp["trust"].as_str().unwrap())).unwrap();
        let ctx = exp["context"].to_string();
        let v = writ_wasm::Verifier::new(&trust).unwrap();
        let n = 2000;
        for (label, f) in [
            (
                "verify(trust json per call)",
                Box::new(|| writ_wasm::verify_json(&env, &trust, &ctx)) as Box<dyn Fn() -> String>,
            ),
            ("Verifier.verify", Box::new(|| v.verify(&env, &ctx))),
        ] {
            for _ in 0..200 {
                f();
            }
            let t0 = Instant::now();
            for _ in 0..n {
                f();
            }
            println!("{name} {label} {:.1} µs", t0.elapsed().as_secs_f64() * 1e6 / f64::from(n));
        }
    }
}
