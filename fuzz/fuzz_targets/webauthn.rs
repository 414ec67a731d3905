//! WebAuthn assertion verification never panics, and an assertion built from
//! fuzzed parts verifies only if it is the fixture authenticator's own
//! signature over exactly the expected challenge.
#![no_main]

use libfuzzer_sys::fuzz_target;
use writ_core::webauthn::testing::Authenticator;
use writ_core::webauthn::{Assertion, verify_assertion};

fuzz_target!(|data: &[u8]| {
    let a = Authenticator::new(1, "writ.example", false);
    let challenge = b"DSSEv1 32 application/vnd.writ.approval.v2 3 abc";
    // Split the input into authenticator data, client data and signature.
    let (head, rest) = data.split_at(data.len().min(64));
    let (cd, sig) = rest.split_at(rest.len() / 2);
    let fuzzed =
        Assertion { authenticator_data: head.to_vec(), client_data_json: cd.to_vec(), signature: sig.to_vec() };
    let _ = verify_assertion(&a.credential, challenge, &fuzzed);
    // A valid assertion with one byte flipped anywhere never verifies.
    let good = a.assert(challenge);
    if let Some(&b) = data.first() {
        let mut bad = good.clone();
        let parts = [bad.authenticator_data.len(), bad.client_data_json.len(), bad.signature.len()];
        let i = usize::from(b) % (parts[0] + parts[1] + parts[2]);
        let flip = data.get(1).copied().unwrap_or(1) | 1;
        if i < parts[0] {
            bad.authenticator_data[i] ^= flip;
        } else if i < parts[0] + parts[1] {
            bad.client_data_json[i - parts[0]] ^= flip;
        } else {
            bad.signature[i - parts[0] - parts[1]] ^= flip;
        }
        assert!(verify_assertion(&a.credential, challenge, &bad).is_err(), "a flipped byte verified");
    }
    assert!(verify_assertion(&a.credential, challenge, &good).is_ok());
});
