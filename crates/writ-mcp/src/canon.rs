//! What a writ binds of a tool call, computed the same way everywhere: the
//! canonical JSON of a value and its SHA-256, and the string form of each
//! argument that the per-field rules match.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;
use writ_core::Sha256Digest;

/// The canonical JSON text of `v`: object members sorted by name (by their
/// UTF-8 bytes), no whitespace, strings and numbers as `serde_json` writes
/// them. Python's `json.dumps(v, sort_keys=True, separators=(",", ":"),
/// ensure_ascii=False)` gives the same text for strings, integers, booleans,
/// `null` and decimals written in plain notation.
#[must_use]
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(inner) = m.get(k.as_str()) {
                    write_canonical(inner, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, inner) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(inner, out);
            }
            out.push(']');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

/// SHA-256 of the canonical JSON of `v`.
#[must_use]
pub fn digest(v: &Value) -> Sha256Digest {
    Sha256Digest::of(canonical(v).as_bytes())
}

/// The digest a writ's `definition_sha256` binds: of the tool's entry in the
/// upstream's `tools/list` result, whole (name, title, description, input
/// and output schema, annotations, `_meta`), canonical JSON.
#[must_use]
pub fn definition_digest(tool: &Value) -> Sha256Digest {
    digest(tool)
}

/// The string each per-field rule (`exact`, `one_of`, `glob`, `range`)
/// matches: a JSON string is itself; any other value (number, boolean,
/// `null`, array, object) is its canonical JSON text, so `5` and `"5"` both
/// read `5` (bind the whole object with `args_sha256` when the type matters).
#[must_use]
pub fn arg_strings(args: &serde_json::Map<String, Value>) -> BTreeMap<String, String> {
    args.iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => canonical(other),
            };
            (k.clone(), s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_members_and_drops_whitespace() {
        let v: Value = serde_json::from_str(r#"{ "b": [1, {"z": null, "a": true}], "a": "x\n\"y\"", "é": 1.5 }"#)
            .unwrap_or_default();
        assert_eq!(canonical(&v), r#"{"a":"x\n\"y\"","b":[1,{"a":true,"z":null}],"é":1.5}"#);
    }

    #[test]
    fn arguments_read_as_strings() {
        let v: Value =
            serde_json::from_str(r#"{"n": 5, "s": "5", "o": {"b": 1, "a": 2}, "t": true}"#).unwrap_or_default();
        let Value::Object(m) = v else { return };
        let s = arg_strings(&m);
        assert_eq!(s.get("n").map(String::as_str), Some("5"));
        assert_eq!(s.get("s").map(String::as_str), Some("5"));
        assert_eq!(s.get("o").map(String::as_str), Some(r#"{"a":2,"b":1}"#));
        assert_eq!(s.get("t").map(String::as_str), Some("true"));
    }
}
