//! Trust-root parsing never panics, and what loads round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use writ_core::TrustRoot;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = TrustRoot::from_json(data) {
        let again = TrustRoot::from_json(t.to_json_pretty().as_bytes()).expect("a loaded trust root re-loads");
        assert_eq!(again.file(), t.file());
    }
});
