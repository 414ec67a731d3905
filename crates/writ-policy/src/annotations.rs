//! Policy annotations: the `@id` and the obligations of permit policies.
//!
//! Every annotation key is checked: an unknown key (say `@approval` for
//! `@approvals`) is a load error, because silently ignoring it would drop an
//! obligation.

use crate::bounds::{parse_paths, parse_size};
use crate::decision::Obligations;

/// Annotation keys writ understands.
pub const KNOWN_ANNOTATIONS: &[&str] = &[
    "id",
    "description",
    "approvals",
    "approver_group",
    "max_duration",
    "evidence",
    "single_use",
    "uses",
    "offline",
    "allow_env",
    "wall_clock",
    "cpu",
    "memory",
    "processes",
    "open_files",
    "file_size",
    "network",
    "fs_read",
    "fs_write",
    "delegation",
];

/// Largest value of `@delegation`: the writ format's deepest chain
/// (`writ_core::limits::MAX_DEPTH`).
pub const MAX_DELEGATION_DEPTH: u32 = 8;

/// Largest value of `@uses`.
pub const MAX_USES: u32 = 1_000_000;

/// Most names in one `@allow_env`.
pub const MAX_ALLOW_ENV: usize = 32;

/// Evidence kinds `@evidence` may name.
///
/// `host`: a verified host statement (hostname, machine id, kernel,
/// labels); `program`: a verified program digest.
pub const EVIDENCE_KINDS: &[&str] = &["host", "program"];

/// Largest value of `@approvals`.
pub const MAX_APPROVALS: u32 = 100;

/// Largest value of `@max_duration`, in seconds (366 days).
pub const MAX_DURATION_SECS: u64 = 366 * 86_400;

/// Longest policy id and approver group name, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// A problem with one annotation: `(key, problem)`.
pub(crate) type AnnotationProblem = (String, String);

/// Whether `id` is a valid policy id: 1..=128 bytes of `[A-Za-z0-9_.:-]`,
/// starting with a letter or digit.
pub(crate) fn valid_id(id: &str) -> bool {
    id.len() <= MAX_NAME_LEN
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
}

/// Check the annotations of one policy and read its obligations.
///
/// `annotations` are `(key, value)` pairs; `is_permit` is whether the
/// policy is a permit (obligations on a forbid are an error: they would
/// never apply).
pub(crate) fn parse_obligations<'a>(
    annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
    is_permit: bool,
) -> Result<Obligations, AnnotationProblem> {
    let mut ob = Obligations::default();
    let mut has_group = false;
    for (key, value) in annotations {
        let problem = |p: String| (key.to_owned(), p);
        if !KNOWN_ANNOTATIONS.contains(&key) {
            return Err(problem(format!(
                "unknown annotation; writ understands {}",
                KNOWN_ANNOTATIONS.iter().map(|k| format!("`@{k}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        if matches!(key, "id" | "description") {
            continue;
        }
        if !is_permit {
            return Err(problem(
                "obligations apply to permit policies only; remove it from this forbid policy".to_owned(),
            ));
        }
        match key {
            "approvals" => {
                let n = parse_number(value)
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n <= MAX_APPROVALS)
                    .ok_or_else(|| {
                        problem(format!(
                            "`{value}` is not a count from 0 to {MAX_APPROVALS}; write e.g. `@approvals(\"2\")`"
                        ))
                    })?;
                ob.approvals = n;
            }
            "approver_group" => {
                if value.is_empty()
                    || value.len() > MAX_NAME_LEN
                    || value.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(problem(format!(
                        "`{value}` is not a group name (1 to {MAX_NAME_LEN} bytes, no spaces); write e.g. `@approver_group(\"sre\")`"
                    )));
                }
                ob.approver_group = Some(value.to_owned());
                has_group = true;
            }
            "max_duration" => {
                let secs = parse_number(value)
                    .filter(|s| (1..=MAX_DURATION_SECS).contains(s))
                    .ok_or_else(|| {
                        problem(format!(
                            "`{value}` is not a number of seconds from 1 to {MAX_DURATION_SECS}; write e.g. `@max_duration(\"3600\")`"
                        ))
                    })?;
                ob.max_duration_secs = Some(secs);
            }
            "evidence" => {
                let mut kinds = Vec::new();
                for kind in value.split(',').map(str::trim) {
                    if !EVIDENCE_KINDS.contains(&kind) {
                        return Err(problem(format!(
                            "`{kind}` is not an evidence kind; use a comma-separated list of {}",
                            EVIDENCE_KINDS.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                        )));
                    }
                    kinds.push(kind.to_owned());
                }
                kinds.sort();
                kinds.dedup();
                ob.required_evidence = kinds;
            }
            "single_use" => {
                ob.single_use =
                    parse_bool(value).ok_or_else(|| problem(format!("`{value}` is not `true` or `false`")))?;
            }
            "uses" => {
                let n = parse_number(value)
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=MAX_USES).contains(n))
                    .ok_or_else(|| {
                        problem(format!("`{value}` is not a count from 1 to {MAX_USES}; write e.g. `@uses(\"3\")`"))
                    })?;
                ob.uses = Some(n);
            }
            "delegation" => {
                let n = parse_number(value)
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=MAX_DELEGATION_DEPTH).contains(n))
                    .ok_or_else(|| {
                        problem(format!(
                            "`{value}` is not a delegation depth from 1 to {MAX_DELEGATION_DEPTH}; write e.g. `@delegation(\"1\")`"
                        ))
                    })?;
                ob.delegation = Some(n);
            }
            "offline" => {
                ob.offline = parse_bool(value).ok_or_else(|| problem(format!("`{value}` is not `true` or `false`")))?
            }
            "network" => {
                ob.boundaries.network =
                    Some(parse_bool(value).ok_or_else(|| problem(format!("`{value}` is not `true` or `false`")))?);
            }
            "allow_env" => {
                let mut names = Vec::new();
                for name in value.split(',').map(str::trim) {
                    if name.is_empty()
                        || name.len() > 256
                        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        return Err(problem(format!(
                            "`{name}` is not an environment variable name; write e.g. `@allow_env(\"LD_LIBRARY_PATH\")`"
                        )));
                    }
                    names.push(name.to_owned());
                }
                names.sort();
                names.dedup();
                if names.len() > MAX_ALLOW_ENV {
                    return Err(problem(format!("names at most {MAX_ALLOW_ENV} variables")));
                }
                ob.allow_env = names;
            }
            "wall_clock" | "cpu" | "processes" | "open_files" => {
                let n = parse_number(value).filter(|n| (1..=u64::from(u32::MAX)).contains(n)).ok_or_else(|| {
                    problem(format!(
                        "`{value}` is not a whole number from 1 to {}; write e.g. `@{key}(\"60\")`",
                        u32::MAX
                    ))
                })?;
                let slot = match key {
                    "wall_clock" => &mut ob.boundaries.wall_clock_secs,
                    "cpu" => &mut ob.boundaries.cpu_secs,
                    "processes" => &mut ob.boundaries.processes,
                    _ => &mut ob.boundaries.open_files,
                };
                *slot = Some(n);
            }
            "memory" | "file_size" => {
                let n = parse_size(value).ok_or_else(|| {
                    problem(format!("`{value}` is not a size in bytes (a number, optionally with K, M or G); write e.g. `@{key}(\"512M\")`"))
                })?;
                if key == "memory" {
                    ob.boundaries.memory_bytes = Some(n);
                } else {
                    ob.boundaries.file_size_bytes = Some(n);
                }
            }
            "fs_read" | "fs_write" => {
                let paths = parse_paths(value).ok_or_else(|| {
                    problem(format!(
                        "`{value}` is not a comma-separated list of at most {} absolute paths without `..`; write e.g. `@{key}(\"/usr,/tmp\")`",
                        crate::bounds::MAX_PATHS
                    ))
                })?;
                if key == "fs_read" {
                    ob.boundaries.fs_read = Some(paths);
                } else {
                    ob.boundaries.fs_write = Some(paths);
                }
            }
            _ => {}
        }
    }
    if has_group && ob.approvals == 0 {
        return Err((
            "approver_group".to_owned(),
            "has no effect without `@approvals` of 1 or more; add `@approvals(\"1\")` or remove it".to_owned(),
        ));
    }
    Ok(ob)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A plain decimal number: digits only, no sign, no spaces.
fn parse_number(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(valid_id("dev-harmless-exec"));
        assert!(valid_id("a.b:c_d"));
        assert!(!valid_id(""));
        assert!(!valid_id("-x"));
        assert!(!valid_id("has space"));
        assert!(!valid_id(&"x".repeat(129)));
    }

    #[test]
    fn obligations_parse() {
        let ob = parse_obligations(
            [
                ("id", "x"),
                ("approvals", "2"),
                ("approver_group", "sre"),
                ("max_duration", "60"),
                ("evidence", "program, host,host"),
                ("single_use", "true"),
            ],
            true,
        )
        .unwrap();
        assert_eq!(ob.approvals, 2);
        assert_eq!(ob.approver_group.as_deref(), Some("sre"));
        assert_eq!(ob.max_duration_secs, Some(60));
        assert_eq!(ob.required_evidence, vec!["host", "program"]);
        assert!(ob.single_use);
    }

    #[test]
    fn malformed_values() {
        for (k, v) in [
            ("approvals", "-1"),
            ("approvals", "two"),
            ("approvals", "101"),
            ("approvals", ""),
            ("approvals", " 2"),
            ("max_duration", "0"),
            ("max_duration", "1h"),
            ("max_duration", "99999999999999999999999"),
            ("evidence", "hots"),
            ("evidence", ""),
            ("evidence", "host,"),
            ("single_use", "yes"),
            ("approver_group", ""),
            ("approver_group", "a b"),
            ("approvel", "2"),
            ("uses", "0"),
            ("uses", "x"),
            ("offline", "yes"),
            ("network", "no"),
            ("wall_clock", "0"),
            ("wall_clock", "5m"),
            ("memory", "1T"),
            ("fs_read", "tmp"),
            ("fs_write", "/a/../etc"),
            ("allow_env", "LD PRELOAD"),
            ("allow_env", ""),
        ] {
            let r = parse_obligations([("approvals", "1"), (k, v)], true);
            assert!(r.is_err(), "@{k}({v:?}) must be refused");
        }
    }

    #[test]
    fn boundaries_parse() {
        let ob = parse_obligations(
            [
                ("wall_clock", "300"),
                ("cpu", "10"),
                ("memory", "256M"),
                ("processes", "4"),
                ("open_files", "64"),
                ("file_size", "1G"),
                ("network", "false"),
                ("fs_read", "/usr,/etc"),
                ("fs_write", "/tmp"),
                ("uses", "3"),
                ("offline", "true"),
                ("allow_env", "LD_LIBRARY_PATH, PYTHONPATH"),
            ],
            true,
        )
        .unwrap();
        let b = &ob.boundaries;
        assert_eq!(b.wall_clock_secs, Some(300));
        assert_eq!(b.cpu_secs, Some(10));
        assert_eq!(b.memory_bytes, Some(256 << 20));
        assert_eq!(b.processes, Some(4));
        assert_eq!(b.open_files, Some(64));
        assert_eq!(b.file_size_bytes, Some(1 << 30));
        assert_eq!(b.network, Some(false));
        assert_eq!(b.fs_read, Some(vec!["/etc".to_string(), "/usr".to_string()]));
        assert_eq!(b.fs_write, Some(vec!["/tmp".to_string()]));
        assert_eq!(ob.uses, Some(3));
        assert!(ob.offline);
        assert_eq!(ob.allow_env, ["LD_LIBRARY_PATH", "PYTHONPATH"]);
    }

    #[test]
    fn group_needs_approvals() {
        assert!(parse_obligations([("approver_group", "sre")], true).is_err());
    }

    #[test]
    fn obligations_on_forbid_refused() {
        assert!(parse_obligations([("id", "x"), ("description", "d")], false).is_ok());
        assert!(parse_obligations([("approvals", "1")], false).is_err());
    }
}
