//! RFC 3986 path normalization, refusing the forms whose meaning depends on
//! the upstream.
//!
//! [`normalize`] turns a request target's path into the one form the writ
//! is matched against and the proxy forwards:
//!
//! - percent-encoded unreserved characters (`ALPHA DIGIT - _ ~`) are decoded
//!   (RFC 3986 §6.2.2.2), other percent-encodings are upper-cased (§6.2.2.1);
//! - `.` and `..` segments are removed (§5.2.4; `..` never climbs above `/`).
//!
//! Refused (`malformed`), because upstreams disagree on what they mean:
//! percent-encoded `.` (`%2e`), `/` (`%2f`), `\` (`%5c`), `;`, `%` (double
//! encoding) and control characters; a raw `\`; a `;` (matrix parameters);
//! an empty segment (`//`); a `%` not followed by two hex digits; anything
//! outside RFC 3986 `pchar`; a path that does not start with `/`.

use writ_core::{Denial, DenialCode};

/// Longest path accepted, in bytes.
pub const MAX_PATH: usize = 4096;

fn refuse(detail: impl Into<String>) -> Denial {
    Denial::new(DenialCode::Malformed, detail)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~' | b'.')
}

/// `pchar` minus `%` (handled apart) and minus `;` (refused).
fn plain(b: u8) -> bool {
    unreserved(b) || matches!(b, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'=' | b':' | b'@')
}

/// One segment, percent-encodings normalized.
fn segment(raw: &str) -> Result<String, Denial> {
    let mut out = String::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let (Some(h), Some(l)) = (bytes.next().and_then(hex), bytes.next().and_then(hex)) else {
                    return Err(refuse("a `%` in the path is not followed by two hex digits"));
                };
                let v = (h << 4) | l;
                if matches!(v, b'.' | b'/' | b'\\' | b';' | b'%') || v < 0x20 || v == 0x7f {
                    return Err(refuse(format!(
                        "the path holds an encoded `%{v:02X}`, whose meaning depends on the upstream; send the path decoded"
                    )));
                }
                if unreserved(v) {
                    out.push(char::from(v));
                } else {
                    out.push_str(&format!("%{v:02X}"));
                }
            }
            b'\\' => return Err(refuse("the path holds a `\\`; use `/`")),
            b';' => return Err(refuse("the path holds a `;` (a segment parameter); writs cover plain paths only")),
            b if plain(b) => out.push(char::from(b)),
            b => return Err(refuse(format!("the path holds byte 0x{b:02x}, which RFC 3986 does not allow"))),
        }
    }
    Ok(out)
}

/// The normalized form of `raw` (an origin-form path, without query).
///
/// # Errors
///
/// `malformed` for every form listed in the module docs.
pub fn normalize(raw: &str) -> Result<String, Denial> {
    if raw.len() > MAX_PATH {
        return Err(Denial::new(DenialCode::TooLarge, format!("the path is longer than {MAX_PATH} bytes")));
    }
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(refuse("the request target must be a path starting with `/`"));
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let last = parts.len().saturating_sub(1);
    let mut out: Vec<String> = Vec::new();
    let mut trailing_slash = false;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() && i != last {
            return Err(refuse("the path holds an empty segment (`//`)"));
        }
        let seg = segment(part)?;
        match seg.as_str() {
            "." => trailing_slash = i == last,
            ".." => {
                out.pop();
                trailing_slash = i == last;
            }
            "" => trailing_slash = true,
            _ => {
                out.push(seg);
                trailing_slash = false;
            }
        }
    }
    let mut path = String::with_capacity(raw.len());
    for s in &out {
        path.push('/');
        path.push_str(s);
    }
    if trailing_slash || path.is_empty() {
        path.push('/');
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn normal_paths_stay_and_dot_segments_go() {
        for (raw, want) in [
            ("/", "/"),
            ("/public/a.txt", "/public/a.txt"),
            ("/public/", "/public/"),
            ("/public/./a", "/public/a"),
            ("/public/../secret", "/secret"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
            ("/%70ublic/%7euser", "/public/~user"),
            ("/a%c3%a9", "/a%C3%A9"),
            ("/v1/things/1", "/v1/things/1"),
        ] {
            assert_eq!(normalize(raw).unwrap(), want, "{raw}");
        }
    }

    #[test]
    fn forms_that_depend_on_the_upstream_are_refused() {
        for raw in [
            "/public/%2e%2e/secret",
            "/public/%2E%2E/secret",
            "/public/.%2e/secret",
            "/public%2fsecret",
            "/public%2F..%2Fsecret",
            "/public/..%5csecret",
            "/public\\..\\secret",
            "/public/a;jsessionid=1",
            "/public/..;/secret",
            "/public//secret",
            "/public/%252e%252e/secret",
            "/public/%00",
            "/public/%zz",
            "/public/%2",
            "public",
            "/a b",
            "/a\"b",
        ] {
            let d = normalize(raw).unwrap_err();
            assert_eq!(d.code, DenialCode::Malformed, "{raw}");
        }
        assert_eq!(normalize(&format!("/{}", "a".repeat(MAX_PATH))).unwrap_err().code, DenialCode::TooLarge);
    }
}
