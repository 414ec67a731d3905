//! Boundaries policy demands of a writ: kernel limits and confinement the
//! gate enforces (`@wall_clock`, `@cpu`, `@memory`, `@processes`,
//! `@open_files`, `@file_size`, `@network`, `@fs_read`, `@fs_write`).
//!
//! The field names are those of the writ format's `scope.boundaries`
//! (`docs/format.md`); the authority copies them into the signed predicate.
//! [`Boundaries::combine`] keeps the stricter of two sets,
//! [`Boundaries::admits`] says whether a requested set asks for no more than
//! this one allows.

use serde::{Deserialize, Serialize};

/// Most paths in `@fs_read` / `@fs_write`.
pub const MAX_PATHS: usize = 32;
/// Longest path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// Limits and confinement; `None` = policy does not constrain it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boundaries {
    /// Wall-clock seconds (`@wall_clock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_clock_secs: Option<u64>,
    /// CPU seconds (`@cpu`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_secs: Option<u64>,
    /// Address-space bytes (`@memory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Processes, the program included (`@processes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<u64>,
    /// Open file descriptors (`@open_files`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_files: Option<u64>,
    /// Largest file it may write, in bytes (`@file_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size_bytes: Option<u64>,
    /// Network access (`@network("false")` = none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<bool>,
    /// Paths below which it may read and execute (`@fs_read`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_read: Option<Vec<String>>,
    /// Paths below which it may write (`@fs_write`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_write: Option<Vec<String>>,
}

/// Whether `path` is `base` or below it (component-wise, so `/tmpx` is not
/// below `/tmp`).
#[must_use]
pub fn path_within(path: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    if base.is_empty() {
        return path.starts_with('/');
    }
    path == base || path.strip_prefix(base).is_some_and(|rest| rest.starts_with('/'))
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// The paths both lists allow: for each pair, the deeper of the two when one
/// is within the other.
fn intersect_paths(a: &Option<Vec<String>>, b: &Option<Vec<String>>) -> Option<Vec<String>> {
    match (a, b) {
        (Some(x), Some(y)) => {
            let mut out: Vec<String> = Vec::new();
            for p in x {
                for q in y {
                    let deeper = if path_within(p, q) {
                        Some(p)
                    } else if path_within(q, p) {
                        Some(q)
                    } else {
                        None
                    };
                    if let Some(d) = deeper
                        && !out.contains(d)
                    {
                        out.push(d.clone());
                    }
                }
            }
            out.sort();
            Some(out)
        }
        (x, y) => x.clone().or_else(|| y.clone()),
    }
}

impl Boundaries {
    /// Whether nothing is constrained.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Keep the stricter of each: the smaller limit, no network if either
    /// says none, only the paths both allow.
    pub fn combine(&mut self, other: &Self) {
        self.wall_clock_secs = min_opt(self.wall_clock_secs, other.wall_clock_secs);
        self.cpu_secs = min_opt(self.cpu_secs, other.cpu_secs);
        self.memory_bytes = min_opt(self.memory_bytes, other.memory_bytes);
        self.processes = min_opt(self.processes, other.processes);
        self.open_files = min_opt(self.open_files, other.open_files);
        self.file_size_bytes = min_opt(self.file_size_bytes, other.file_size_bytes);
        self.network = match (self.network, other.network) {
            (Some(a), Some(b)) => Some(a && b),
            (a, b) => a.or(b),
        };
        self.fs_read = intersect_paths(&self.fs_read, &other.fs_read);
        self.fs_write = intersect_paths(&self.fs_write, &other.fs_write);
    }

    /// The first thing `requested` asks for beyond what `self` (policy)
    /// allows, as `(field, what)`; `None` when it stays within.
    #[must_use]
    pub fn exceeded_by(&self, requested: &Self) -> Option<(&'static str, String)> {
        let limit = |name: &'static str, p: Option<u64>, r: Option<u64>| match (p, r) {
            (Some(p), Some(r)) if r > p => Some((name, format!("asks for {r}; policy allows at most {p}"))),
            _ => None,
        };
        let paths = |name: &'static str, p: &Option<Vec<String>>, r: &Option<Vec<String>>| match (p, r) {
            (Some(p), Some(r)) => r
                .iter()
                .find(|x| !p.iter().any(|b| path_within(x, b)))
                .map(|x| (name, format!("asks for `{x}`, which is not within what policy allows ({})", p.join(", ")))),
            _ => None,
        };
        limit("wall_clock_secs", self.wall_clock_secs, requested.wall_clock_secs)
            .or_else(|| limit("cpu_secs", self.cpu_secs, requested.cpu_secs))
            .or_else(|| limit("memory_bytes", self.memory_bytes, requested.memory_bytes))
            .or_else(|| limit("processes", self.processes, requested.processes))
            .or_else(|| limit("open_files", self.open_files, requested.open_files))
            .or_else(|| limit("file_size_bytes", self.file_size_bytes, requested.file_size_bytes))
            .or_else(|| match (self.network, requested.network) {
                (Some(false), Some(true)) => Some(("network", "asks for network access; policy allows none".into())),
                _ => None,
            })
            .or_else(|| paths("fs_read", &self.fs_read, &requested.fs_read))
            .or_else(|| paths("fs_write", &self.fs_write, &requested.fs_write))
    }
}

/// A list of absolute paths: comma-separated, each absolute, no `..`, no
/// control characters.
pub(crate) fn parse_paths(value: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for p in value.split(',').map(|p| p.trim_matches(' ')) {
        if !p.starts_with('/')
            || p.len() > MAX_PATH_LEN
            || p.split('/').any(|c| c == "..")
            || p.chars().any(char::is_control)
        {
            return None;
        }
        out.push(p.to_owned());
    }
    out.sort();
    out.dedup();
    (out.len() <= MAX_PATHS).then_some(out)
}

/// A byte size: digits with an optional `K`, `M` or `G` suffix (powers of 1024).
pub(crate) fn parse_size(value: &str) -> Option<u64> {
    let (digits, mult) = match value.as_bytes().last() {
        Some(b'K') => (value.get(..value.len() - 1)?, 1u64 << 10),
        Some(b'M') => (value.get(..value.len() - 1)?, 1 << 20),
        Some(b'G') => (value.get(..value.len() - 1)?, 1 << 30),
        _ => (value, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mult).filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within() {
        assert!(path_within("/tmp/x", "/tmp"));
        assert!(path_within("/tmp", "/tmp/"));
        assert!(!path_within("/tmpx", "/tmp"));
        assert!(path_within("/etc", "/"));
    }

    #[test]
    fn combine_is_strict() {
        let mut a = Boundaries {
            wall_clock_secs: Some(300),
            network: Some(true),
            fs_write: Some(vec!["/tmp".into()]),
            ..Boundaries::default()
        };
        let b = Boundaries {
            wall_clock_secs: Some(60),
            cpu_secs: Some(5),
            network: Some(false),
            fs_write: Some(vec!["/tmp/job".into(), "/var".into()]),
            ..Boundaries::default()
        };
        a.combine(&b);
        assert_eq!(a.wall_clock_secs, Some(60));
        assert_eq!(a.cpu_secs, Some(5));
        assert_eq!(a.network, Some(false));
        assert_eq!(a.fs_write, Some(vec!["/tmp/job".to_string()]));
    }

    #[test]
    fn exceeding() {
        let p = Boundaries {
            wall_clock_secs: Some(300),
            network: Some(false),
            fs_read: Some(vec!["/usr".into()]),
            ..Boundaries::default()
        };
        assert_eq!(p.exceeded_by(&Boundaries { wall_clock_secs: Some(300), ..Boundaries::default() }), None);
        assert_eq!(
            p.exceeded_by(&Boundaries { wall_clock_secs: Some(301), ..Boundaries::default() }).unwrap().0,
            "wall_clock_secs"
        );
        assert_eq!(p.exceeded_by(&Boundaries { network: Some(true), ..Boundaries::default() }).unwrap().0, "network");
        assert_eq!(
            p.exceeded_by(&Boundaries { fs_read: Some(vec!["/etc".into()]), ..Boundaries::default() }).unwrap().0,
            "fs_read"
        );
        assert_eq!(
            p.exceeded_by(&Boundaries { fs_read: Some(vec!["/usr/lib".into()]), ..Boundaries::default() }),
            None
        );
    }

    #[test]
    fn sizes_and_paths() {
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("1024"), Some(1024));
        for bad in ["", "M", "-1", "1.5G", "0", "99999999999999999999G", "1T"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(parse_paths("/tmp, /var/x"), Some(vec!["/tmp".into(), "/var/x".into()]));
        for bad in ["", "tmp", "/a/../b", "/a,", "/a\n"] {
            assert_eq!(parse_paths(bad), None, "{bad:?}");
        }
    }
}
