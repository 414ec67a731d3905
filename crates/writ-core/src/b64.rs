//! Strict base64: the standard alphabet with padding, canonical encodings only.
//!
//! A non-canonical encoding (wrong padding, non-zero trailing bits, URL-safe
//! characters, whitespace) is an error, so that one artifact has exactly one
//! textual form.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Encodes bytes as standard, padded base64.
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard, padded, canonical base64, refusing inputs whose decoded
/// size would exceed `max` bytes before decoding them.
///
/// # Errors
/// Returns a message naming the problem when the text is not canonical base64
/// or is too large.
pub fn decode(text: &str, max: usize) -> Result<Vec<u8>, &'static str> {
    // Decoded length is at most 3/4 of the text length.
    if text.len() / 4 * 3 > max.saturating_add(2) {
        return Err("base64 value is larger than allowed");
    }
    let bytes = STANDARD.decode(text).map_err(|_| "value is not canonical standard base64 (with padding)")?;
    if bytes.len() > max {
        return Err("base64 value is larger than allowed");
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(decode(&encode(b"hello world"), 64).unwrap(), b"hello world");
    }

    #[test]
    fn rejects_non_canonical_forms() {
        // Missing padding, URL-safe alphabet, non-zero trailing bits, whitespace.
        for bad in ["aGVsbG8", "-_-_", "aGVsbG9=", "aGVs bG8=", "aGVsbG8=\n"] {
            assert!(decode(bad, 64).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn rejects_oversized_before_decoding() {
        assert!(decode(&encode(&[0u8; 100]), 50).is_err());
    }
}
