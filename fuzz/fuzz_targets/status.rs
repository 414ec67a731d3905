//! Signed status responses (`docs/format.md` §14): arbitrary bytes never
//! panic, and nothing the fuzzer invents is accepted unless it carries a
//! signature by the writ's issuer key (i.e. is a fixture-signed response).
#![no_main]

use libfuzzer_sys::fuzz_target;
use writ_core::{Sha256Digest, fixtures, status};

fuzz_target!(|data: &[u8]| {
    let trust = fixtures::trust_root(false);
    let issuer = fixtures::issuer().key_id();
    let writ = fixtures::sign(fixtures::predicate());
    let a = status::open(data, &trust, &issuer, &fixtures::predicate().id, &Sha256Digest::of(&writ), None);
    let b = status::open(data, &trust, &issuer, &fixtures::predicate().id, &Sha256Digest::of(&writ), None);
    assert_eq!(a, b, "status::open must be deterministic");
});
