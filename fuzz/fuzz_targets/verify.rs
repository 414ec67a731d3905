//! Parse + verify arbitrary envelopes against the fixture trust root, in
//! every mode, and check the verdict is deterministic. Seeds: testdata/writs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use writ_core::{Mode, fixtures, verify};

fuzz_target!(|data: &[u8]| {
    let trust = fixtures::trust_root(false);
    let mut ctx = fixtures::run_context().to_context().expect("fixture context");
    for mode in [Mode::Check, Mode::Offline, Mode::Online] {
        ctx.mode = mode;
        let a = verify(data, &trust, &ctx).map(|v| v.envelope_digest());
        let b = verify(data, &trust, &ctx).map(|v| v.envelope_digest());
        assert_eq!(a, b, "verify must be deterministic");
        // Anything that verifies must be the bytes a trusted issuer signed;
        // nothing the fuzzer invents can carry a valid fixture signature
        // unless it is byte-identical to a signed envelope's payload.
        if let Ok(digest) = a {
            assert_eq!(digest, writ_core::Sha256Digest::of(data));
        }
    }
});
