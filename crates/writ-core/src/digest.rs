//! SHA-256 digests, written as 64 lowercase hex characters.

use alloc::string::String;
use core::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// Hashes `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Lowercase hex form.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 64 lowercase hex characters.
    ///
    /// # Errors
    /// Returns a message when the text is not 64 lowercase hex characters.
    pub fn from_hex(text: &str) -> Result<Self, &'static str> {
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err("a sha256 digest must be 64 lowercase hex characters");
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|_| "a sha256 digest must be 64 lowercase hex characters")?;
        Ok(Self(out))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Serializes as a bare hex string.
pub mod hex_str {
    use super::*;

    /// Serialize a digest as a hex string.
    ///
    /// # Errors
    /// Propagates the serializer's errors.
    pub fn serialize<S: Serializer>(d: &Sha256Digest, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.to_hex())
    }

    /// Deserialize a digest from a hex string.
    ///
    /// # Errors
    /// Fails when the string is not 64 lowercase hex characters.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Sha256Digest, D::Error> {
        let s = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        Sha256Digest::from_hex(&s).map_err(de::Error::custom)
    }
}

/// The in-toto `DigestSet` form `{"sha256": "<hex>"}`; no other algorithm is
/// accepted (an unknown algorithm is an unknown field).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DigestSet(pub Sha256Digest);

impl Serialize for DigestSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("sha256", &self.0.to_hex())?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for DigestSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DigestSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a digest set {\"sha256\": \"<64 hex>\"}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DigestSet, A::Error> {
                let mut found: Option<Sha256Digest> = None;
                while let Some(key) = map.next_key::<alloc::borrow::Cow<'de, str>>()? {
                    if key != "sha256" {
                        return Err(de::Error::custom(alloc::format!(
                            "unsupported digest algorithm `{key}`: only sha256 is accepted"
                        )));
                    }
                    if found.is_some() {
                        return Err(de::Error::custom("duplicate key `sha256`"));
                    }
                    let v: alloc::borrow::Cow<'de, str> = map.next_value()?;
                    found = Some(Sha256Digest::from_hex(&v).map_err(de::Error::custom)?);
                }
                found.map(DigestSet).ok_or_else(|| de::Error::custom("digest set has no `sha256`"))
            }
        }
        d.deserialize_map(V)
    }
}
