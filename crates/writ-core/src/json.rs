//! Strict JSON: bounded input, unknown fields and duplicate keys rejected.
//!
//! Structs deny unknown fields and serde rejects a repeated field of a
//! struct; maps in writ's types use [`StrictMap`], which rejects a repeated
//! key instead of letting the last one win. Trailing data after the value is
//! an error (whitespace excepted, as JSON allows).

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::limits::MAX_LIST;

/// Parses one JSON value of type `T` from `bytes`.
///
/// # Errors
/// Returns serde_json's message (which names the field and position).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    // Checking UTF-8 once up front and parsing the `str` spares serde_json a
    // UTF-8 check per string. Input that is not UTF-8 takes the byte parser,
    // so its error message stays exactly what it was; for UTF-8 input the two
    // parsers accept, reject and report alike.
    match core::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
    .map_err(|e| alloc::format!("{e}"))
}

/// A string-keyed map that refuses duplicate keys and more than
/// [`MAX_LIST`] entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct StrictMap<V>(pub BTreeMap<String, V>);

impl<V> StrictMap<V> {
    /// Whether it has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<V> Default for StrictMap<V> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for StrictMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = StrictMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with distinct keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.len() >= MAX_LIST {
                        return Err(de::Error::custom(alloc::format!("more than {MAX_LIST} keys")));
                    }
                    if out.contains_key(&key) {
                        return Err(de::Error::custom(alloc::format!("duplicate key `{key}`")));
                    }
                    let value = map.next_value()?;
                    out.insert(key, value);
                }
                Ok(StrictMap(out))
            }
        }
        d.deserialize_map(MapVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_map_rejects_duplicates() {
        assert!(from_slice::<StrictMap<u8>>(br#"{"a":1,"b":2}"#).is_ok());
        assert!(from_slice::<StrictMap<u8>>(br#"{"a":1,"a":2}"#).unwrap_err().contains("duplicate key"));
    }
}
