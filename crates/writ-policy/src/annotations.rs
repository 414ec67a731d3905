//! Policy annotations: the `@id` and the obligations of permit policies.
//!
//! Every annotation key is checked: an unknown key (say `@approval` for
//! `@approvals`) is a load error, because silently ignoring it would drop an
//! obligation.

use crate::decision::Obligations;

/// Annotation keys writ understands.
pub const KNOWN_ANNOTATIONS: &[&str] =
    &["id", "description", "approvals", "approver_group", "max_duration", "evidence", "single_use"];

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
                ob.single_use = match value {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(problem(format!("`{value}` is not `true` or `false`")));
                    }
                };
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
        ] {
            let r = parse_obligations([("approvals", "1"), (k, v)], true);
            assert!(r.is_err(), "@{k}({v:?}) must be refused");
        }
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
