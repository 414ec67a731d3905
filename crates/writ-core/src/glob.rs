//! The two small pattern languages of a scope, matched without backtracking
//! blow-up (linear-time two-pointer algorithm).

/// Matches `text` against `pattern` where `*` matches any run of characters
/// (including none) and `?` matches exactly one character. No escapes, no
/// classes: `[` is literal.
#[must_use]
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: alloc::vec::Vec<char> = pattern.chars().collect();
    let t: alloc::vec::Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
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
    p.get(pi..).is_some_and(|rest| rest.iter().all(|&c| c == '*'))
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

/// Matches an HTTP path: segments split on `/`; a `**` segment matches any
/// number of segments (including none); elsewhere `*` matches within one
/// segment. Paths containing `.`/`..` segments or empty inner segments never
/// match (they could mean something else upstream).
#[must_use]
pub fn path_match(pattern: &str, path: &str) -> bool {
    let Some(path) = path.strip_prefix('/') else { return false };
    let Some(pattern) = pattern.strip_prefix('/') else { return false };
    let segs: alloc::vec::Vec<&str> = path.split('/').collect();
    if segs.iter().enumerate().any(|(i, s)| *s == "." || *s == ".." || (s.is_empty() && i + 1 != segs.len())) {
        return false;
    }
    let pats: alloc::vec::Vec<&str> = pattern.split('/').collect();
    match_segments(&pats, &segs)
}

fn match_segments(pats: &[&str], segs: &[&str]) -> bool {
    match pats.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|i| segs.get(i..).is_some_and(|tail| match_segments(rest, tail))),
        Some((p, rest)) => match segs.split_first() {
            Some((s, tail)) => !s.contains('*') && glob_match(p, s) && match_segments(rest, tail),
            None => false,
        },
    }
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
    fn paths() {
        assert!(path_match("/v1/items/*", "/v1/items/42"));
        assert!(!path_match("/v1/items/*", "/v1/items/42/delete"));
        assert!(path_match("/v1/**", "/v1/items/42/delete"));
        assert!(path_match("/v1/**/x", "/v1/x"));
        assert!(!path_match("/v1/**", "/v1/../admin"));
        assert!(!path_match("/v1/*", "/v1//x"));
    }
}
