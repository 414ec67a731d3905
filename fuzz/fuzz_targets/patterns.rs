//! The scope pattern matchers (`docs/format.md` §4): arbitrary patterns and
//! texts never panic, and a wildcard-free valid HTTP pattern matches itself.
//! Every call is bounded by |pattern| × |text| steps (§4.6), so a slow input
//! here is a finding too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use writ_core::glob;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (pattern, subject) = text.split_once('\n').unwrap_or((text, text));
    let _ = glob::glob_match(pattern, subject);
    let _ = glob::arg_glob_match(pattern, subject);
    let _ = glob::host_match(pattern, subject);
    let matched = glob::path_match(pattern, subject);
    if glob::validate_path_pattern(pattern).is_ok() && !pattern.contains('*') {
        assert!(glob::path_match(pattern, pattern), "a literal pattern must match itself: {pattern:?}");
    }
    if matched {
        assert!(glob::validate_path_pattern(pattern).is_ok(), "an invalid pattern matched: {pattern:?}");
    }
});
