//! Properties of passkey assertions: one flipped byte anywhere (authenticator
//! data, client data, DER signature) never verifies; an assertion verifies
//! only over the exact challenge it was made for; verification never panics
//! on arbitrary parts.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use proptest::prelude::*;
use writ_core::webauthn::testing::Authenticator;
use writ_core::webauthn::{Assertion, verify_assertion};

const INPUT: &[u8] = b"DSSEv1 32 application/vnd.writ.approval.v2 3 abc";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_flipped_byte_never_verifies(part in 0usize..3, at in any::<usize>(), flip in 1u8..=255) {
        let a = Authenticator::new(3, "writ.example", false);
        let mut bad = a.assert(INPUT);
        let v = match part {
            0 => &mut bad.authenticator_data,
            1 => &mut bad.client_data_json,
            _ => &mut bad.signature,
        };
        let i = at % v.len();
        v[i] ^= flip;
        prop_assert!(verify_assertion(&a.credential, INPUT, &bad).is_err());
    }

    #[test]
    fn only_the_exact_challenge_verifies(other in proptest::collection::vec(any::<u8>(), 0..200)) {
        prop_assume!(other != INPUT);
        let a = Authenticator::new(4, "writ.example", false);
        let made = a.assert(&other);
        prop_assert!(verify_assertion(&a.credential, &other, &made).is_ok());
        prop_assert_eq!(verify_assertion(&a.credential, INPUT, &made).unwrap_err().code(), "webauthn_challenge");
    }

    #[test]
    fn arbitrary_parts_never_panic(
        ad in proptest::collection::vec(any::<u8>(), 0..300),
        cd in proptest::collection::vec(any::<u8>(), 0..300),
        sig in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let a = Authenticator::new(5, "writ.example", false);
        let r = verify_assertion(&a.credential, INPUT, &Assertion { authenticator_data: ad, client_data_json: cd, signature: sig });
        prop_assert!(r.is_err());
    }
}
