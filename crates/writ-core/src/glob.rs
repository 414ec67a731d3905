//! The small pattern languages of a scope (argument globs, host-name globs,
//! HTTP path patterns), matched without backtracking blow-up.
//!
//! Every matcher here is the classic greedy wildcard algorithm: on a
//! mismatch it returns to the last `*` (or `**` segment) only, so a match
//! costs at most `|pattern| × |text|` steps however many wildcards the
//! pattern holds (`docs/format.md` §4.4). No pattern is refused for being
//! expensive: none can be.

use alloc::vec::Vec;

/// Matches `text` against `pattern` where `*` matches any run of characters
/// (including none) and `?` matches exactly one character. No escapes, no
/// classes: `[` is literal.
#[must_use]
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    greedy(&p, &t, |c| *c == '*', |pc, tc| *pc == '?' || pc == tc)
}

/// The greedy wildcard matcher over any element type: `is_star` elements
/// match any run of text elements (including none), every other pattern
/// element matches exactly one text element for which `one` holds.
///
/// INVARIANT: only the most recent star is ever revisited, and each revisit
/// advances its text position by one, so the loop runs at most
/// `(|pattern| + 1) × (|text| + 1)` times.
fn greedy<P, T>(p: &[P], t: &[T], is_star: impl Fn(&P) -> bool, one: impl Fn(&P, &T) -> bool) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match (p.get(pi), t.get(ti)) {
            (Some(pc), _) if is_star(pc) => {
                star = Some((pi, ti));
                pi += 1;
            }
            (Some(pc), Some(tc)) if one(pc, tc) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(is_star))
}

/// Matches an argument: a glob that never matches a value starting with `-`
/// unless the pattern itself starts with `-` (so `*.txt` cannot smuggle an
/// option such as `--output=x.txt`).
#[must_use]
pub fn arg_glob_match(pattern: &str, arg: &str) -> bool {
    if arg.starts_with('-') && !pattern.starts_with('-') {
        return false;
    }
    glob_match(pattern, arg)
}

/// Matches a host name against a host pattern (`*` and `?` as in
/// [`glob_match`]), ASCII case-insensitively: DNS names are not case
/// sensitive, so `Build-7.Example.COM` is `build-7.example.com`. Bytes
/// outside ASCII compare exactly.
#[must_use]
pub fn host_match(pattern: &str, host: &str) -> bool {
    glob_match(&pattern.to_ascii_lowercase(), &host.to_ascii_lowercase())
}

/// Whether two host patterns are the same pattern (ASCII case-insensitively).
#[must_use]
pub fn host_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Forms whose meaning depends on the upstream server: a path containing one
/// never matches, and a pattern containing one is malformed.
fn ambiguous(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c", "%00"].iter().any(|e| lower.contains(e)) {
        return Some("a percent-encoded dot, slash, backslash or NUL");
    }
    if path.contains(['\\', ';', '?', '#']) {
        return Some("a backslash, `;`, `?` or `#`");
    }
    if path.chars().any(char::is_control) {
        return Some("a control character");
    }
    None
}

/// Splits an absolute path into its segments, refusing `.`/`..` segments,
/// empty inner segments (`//`) and upstream-dependent forms. A trailing `/`
/// yields a final empty segment; `/` alone is one empty segment.
fn segments(path: &str) -> Result<Vec<&str>, &'static str> {
    let Some(rest) = path.strip_prefix('/') else { return Err("it must start with `/`") };
    if let Some(why) = ambiguous(path) {
        return Err(why);
    }
    let segs: Vec<&str> = rest.split('/').collect();
    for (i, s) in segs.iter().enumerate() {
        if *s == "." || *s == ".." {
            return Err("a `.` or `..` segment");
        }
        if s.is_empty() && i + 1 != segs.len() {
            return Err("an empty segment (`//`)");
        }
    }
    Ok(segs)
}

/// Checks an HTTP path pattern (`docs/format.md` §4.2): absolute, no `.`/`..`
/// or empty inner segments, `**` only as a whole segment, no `?`, `#`, `;`,
/// backslash, control character or percent-encoded dot, slash, backslash or NUL.
///
/// # Errors
/// What is wrong with it.
pub fn validate_path_pattern(pattern: &str) -> Result<(), &'static str> {
    let segs = segments(pattern)?;
    if segs.iter().any(|s| s.contains("**") && *s != "**") {
        return Err("`**` must be a whole segment");
    }
    Ok(())
}

/// Matches an HTTP request path against a pattern: segments split on `/`; a
/// `**` segment matches any number of segments (including none, and a
/// trailing empty one); any other pattern segment matches exactly one
/// non-empty segment, with `*` matching any run of characters within it (an
/// empty pattern segment, from a trailing `/`, matches only the empty final
/// segment). A path with `.`/`..` segments, an empty inner segment, a `*`, or
/// a form whose meaning depends on the upstream never matches, and neither
/// does a pattern [`validate_path_pattern`] refuses.
#[must_use]
pub fn path_match(pattern: &str, path: &str) -> bool {
    // An invalid pattern matches nothing (fail closed, even if a writ that
    // carries one could never verify).
    let (Ok(pats), Ok(segs)) = (segments(pattern), segments(path)) else { return false };
    if pats.iter().any(|p| p.contains("**") && *p != "**") {
        return false;
    }
    if segs.iter().any(|s| s.contains('*')) {
        return false;
    }
    greedy(
        &pats,
        &segs,
        |p| *p == "**",
        |p, s| if p.is_empty() { s.is_empty() } else { !s.is_empty() && glob_match(p, s) },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.txt", "a.txt"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("*.txt", "a.txt.sh"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("[ab]", "a"));
    }

    #[test]
    fn arg_globs_refuse_option_injection() {
        assert!(!arg_glob_match("*", "--exec=sh"));
        assert!(!arg_glob_match("*.txt", "-rf.txt"));
        assert!(arg_glob_match("--level=*", "--level=3"));
    }

    #[test]
    fn hosts_ignore_ascii_case() {
        assert!(host_match("build-*.example.com", "Build-7.EXAMPLE.com"));
        assert!(host_match("BUILD-*.example.com", "build-7.example.com"));
        assert!(!host_match("build-*.example.com", "build-7.example.com.evil"));
    }

    #[test]
    fn paths() {
        assert!(path_match("/v1/items/*", "/v1/items/42"));
        assert!(!path_match("/v1/items/*", "/v1/items/42/delete"));
        assert!(path_match("/v1/**", "/v1/items/42/delete"));
        assert!(path_match("/v1/**/x", "/v1/x"));
        assert!(path_match("/v1/**", "/v1"));
        assert!(path_match("/v1/**", "/v1/"));
        assert!(!path_match("/v1/**", "/v1/../admin"));
        assert!(!path_match("/v1/*", "/v1//x"));
        // A trailing slash is an empty final segment: `*` does not match it.
        assert!(!path_match("/v1/items/*", "/v1/items/"));
        assert!(path_match("/v1/items/", "/v1/items/"));
        assert!(!path_match("/v1/items", "/v1/items/"));
        assert!(path_match("/", "/"));
        assert!(!path_match("/*", "/"));
        // Upstream-dependent forms never match.
        for p in ["/v1/%2e%2E/admin", "/v1/a%2Fb", "/v1/a\\b", "/v1/a;x=1", "/v1/a?q", "/v1/*"] {
            assert!(!path_match("/v1/**", p), "{p}");
        }
        assert!(validate_path_pattern("/v1/a**").is_err());
        assert!(validate_path_pattern("/v1/?").is_err());
        assert!(validate_path_pattern("/v1/**/**/x").is_ok());
    }

    /// Regression (issue 10 item 8): several `**` made matching exponential.
    /// The step count of the greedy matcher stays within its bound on an
    /// adversarial pattern (forty `**` against 1,500 segments that never match).
    #[test]
    fn adversarial_patterns_match_in_bounded_steps() {
        let pattern = alloc::format!("/{}x", "**/".repeat(40));
        let path = alloc::format!("/{}y", "a/".repeat(1500));
        assert!(!path_match(&pattern, &path));
        let pats: Vec<&str> = pattern[1..].split('/').collect();
        let segs: Vec<&str> = path[1..].split('/').collect();
        let steps = core::cell::Cell::new(0usize);
        let matched = greedy(
            &pats,
            &segs,
            |p| {
                steps.set(steps.get() + 1);
                *p == "**"
            },
            |p, s| !s.is_empty() && glob_match(p, s),
        );
        assert!(!matched);
        let bound = 2 * (pats.len() + 1) * (segs.len() + 1) + pats.len() + 1;
        assert!(steps.get() <= bound, "{} steps; bound {bound}", steps.get());
        let glob = alloc::format!("{}b", "*a".repeat(200));
        assert!(!glob_match(&glob, &"a".repeat(4000)));
    }
}
