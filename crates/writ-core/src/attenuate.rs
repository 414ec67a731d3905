//! Attenuation: a child writ may only narrow its parent, never widen it.
//!
//! The check is conservative: when narrowing cannot be decided simply (two
//! different globs, say), the child is treated as wider and refused.

use alloc::string::String;

use crate::glob::{arg_glob_match, host_eq, host_match, path_match};
use crate::model::{Action, ArgRule, Boundaries, Environment, ExecAction, HttpAction, Predicate, ToolAction};

/// Checks that `child` grants nothing `parent` does not; `Err` names the
/// first widened field.
///
/// # Errors
/// A message naming what the child widens.
pub fn check(parent: &Predicate, child: &Predicate) -> Result<(), String> {
    let (p, c) = (&parent.scope, &child.scope);
    if child.lineage.depth != parent.lineage.depth.saturating_add(1) {
        return Err("lineage.depth must be the parent's depth + 1".into());
    }
    if child.lineage.depth > parent.lineage.max_depth || child.lineage.max_depth > parent.lineage.max_depth {
        return Err("delegation goes deeper than the parent's max_depth".into());
    }
    if child.validity.not_before < parent.validity.not_before || child.validity.not_after > parent.validity.not_after {
        return Err("validity extends beyond the parent's".into());
    }
    if let Some(pu) = p.uses
        && c.uses.is_none_or(|cu| cu > pu)
    {
        return Err("uses exceed the parent's".into());
    }
    if c.offline && !p.offline {
        return Err("offline execution is allowed but the parent does not allow it".into());
    }
    if child.governance.approvals_required < parent.governance.approvals_required {
        return Err("fewer approvals required than the parent".into());
    }
    for (i, a) in c.actions.iter().enumerate() {
        if !p.actions.iter().any(|pa| action_within(a, pa)) {
            return Err(alloc::format!("scope.actions[{i}] is not within any parent action"));
        }
    }
    environment_within(&c.environment, &p.environment)?;
    boundaries_within(&c.boundaries, &p.boundaries)
}

/// A glob without wildcards: it matches exactly itself.
fn literal(pattern: &str) -> bool {
    !pattern.contains('*') && !pattern.contains('?')
}

/// Whether every argument `child` accepts is accepted by `parent`
/// (`docs/format.md` §7): a value rule narrows when each value it admits is
/// admitted by the parent; a non-literal glob only under the identical glob;
/// a `file` rule only as the parent's identical `file` rule.
fn rule_within(child: &ArgRule, parent: &ArgRule) -> bool {
    if let ArgRule::File { .. } = parent {
        return child == parent;
    }
    let value_ok = |v: &str| match parent {
        ArgRule::Exact(p) => p == v,
        ArgRule::Glob(p) => arg_glob_match(p, v),
        ArgRule::OneOf(ps) => ps.iter().any(|p| p == v),
        ArgRule::Range { .. } => crate::scope::rule_matches(parent, v),
        ArgRule::File { .. } => false,
    };
    match child {
        ArgRule::Exact(v) => value_ok(v),
        ArgRule::OneOf(vs) => vs.iter().all(|v| value_ok(v)),
        ArgRule::Glob(g) if literal(g) => value_ok(g),
        ArgRule::Glob(g) => matches!(parent, ArgRule::Glob(p) if p == g),
        // A range narrows only a range, with bounds at least as tight.
        ArgRule::Range { min, max } => match parent {
            ArgRule::Range { min: pmin, max: pmax } => {
                pmin.is_none_or(|p| min.is_some_and(|c| c >= p)) && pmax.is_none_or(|p| max.is_some_and(|c| c <= p))
            }
            _ => false,
        },
        ArgRule::File { .. } => false,
    }
}

fn exec_within(c: &ExecAction, p: &ExecAction) -> bool {
    if c.program != p.program || c.sha256 != p.sha256 || (c.more_args && !p.more_args) {
        return false;
    }
    if c.args.len() < p.args.len() || (c.args.len() > p.args.len() && !p.more_args) {
        return false;
    }
    // Rules beyond the parent's constrain arguments the parent let through
    // freely (`more_args`); a `file` rule there would be new, not kept.
    if c.args.iter().skip(p.args.len()).any(|r| matches!(r, ArgRule::File { .. })) {
        return false;
    }
    c.args.iter().zip(&p.args).all(|(cr, pr)| rule_within(cr, pr))
}

/// A child HTTP action narrows when the method is the same, the path is the
/// parent's pattern itself or a wildcard-free path the parent's pattern
/// matches, and a parent body digest is kept (a child may add one).
fn http_within(c: &HttpAction, p: &HttpAction) -> bool {
    c.method == p.method
        && (c.path == p.path || (!c.path.contains('*') && path_match(&p.path, &c.path)))
        && (p.body_sha256.is_none() || c.body_sha256 == p.body_sha256)
}

fn tool_within(c: &ToolAction, p: &ToolAction) -> bool {
    if c.name != p.name || (c.more_args && !p.more_args) {
        return false;
    }
    // A digest the parent binds (whole arguments, tool definition) is kept.
    if (p.args_sha256.is_some() && c.args_sha256 != p.args_sha256)
        || (p.definition_sha256.is_some() && c.definition_sha256 != p.definition_sha256)
    {
        return false;
    }
    // Every parent constraint must be present in the child and at least as narrow.
    let constrained = p.args.0.iter().all(|(k, pr)| c.args.0.get(k).is_some_and(|cr| rule_within(cr, pr)));
    // A child constraint on an argument the parent did not list is only
    // acceptable when the parent allows extra arguments.
    let extras_ok = p.more_args || c.args.0.keys().all(|k| p.args.0.contains_key(k));
    constrained && extras_ok
}

fn action_within(c: &Action, p: &Action) -> bool {
    match (c, p) {
        (Action::Exec(c), Action::Exec(p)) => exec_within(c, p),
        (Action::Tool(c), Action::Tool(p)) => tool_within(c, p),
        (Action::Http(c), Action::Http(p)) => http_within(c, p),
        _ => false,
    }
}

fn environment_within(c: &Environment, p: &Environment) -> Result<(), String> {
    if let Some(ph) = &p.hosts {
        let Some(ch) = &c.hosts else { return Err("hosts are unconstrained but the parent names hosts".into()) };
        if !ch.iter().all(|h| ph.iter().any(|pp| host_eq(pp, h) || (literal(h) && host_match(pp, h)))) {
            return Err("hosts include one the parent does not".into());
        }
    }
    if !p.labels.iter().all(|l| c.labels.contains(l)) {
        return Err("a label the parent requires is dropped".into());
    }
    for (k, v) in &c.env.0 {
        match p.env.0.get(k) {
            None => return Err(alloc::format!("environment variable `{k}` is allowed but not by the parent")),
            Some(Some(pv)) if v.as_ref() != Some(pv) => {
                return Err(alloc::format!("environment variable `{k}` loses the parent's fixed value"));
            }
            Some(_) => {}
        }
    }
    if p.cwd.is_some() && c.cwd != p.cwd {
        return Err("cwd differs from the parent's".into());
    }
    Ok(())
}

fn path_within(child: &str, parents: &[String]) -> bool {
    parents
        .iter()
        .any(|p| child == p || child.strip_prefix(p.trim_end_matches('/')).is_some_and(|rest| rest.starts_with('/')))
}

fn boundaries_within(c: &Boundaries, p: &Boundaries) -> Result<(), String> {
    let nums = [
        ("wall_clock_secs", c.wall_clock_secs, p.wall_clock_secs),
        ("cpu_secs", c.cpu_secs, p.cpu_secs),
        ("memory_bytes", c.memory_bytes, p.memory_bytes),
        ("processes", c.processes, p.processes),
        ("open_files", c.open_files, p.open_files),
        ("file_size_bytes", c.file_size_bytes, p.file_size_bytes),
    ];
    for (name, cv, pv) in nums {
        if let Some(pv) = pv
            && cv.is_none_or(|cv| cv > pv)
        {
            return Err(alloc::format!("boundaries.{name} exceeds the parent's"));
        }
    }
    if p.network == Some(false) && c.network != Some(false) {
        return Err("network is allowed but the parent forbids it".into());
    }
    for (name, cl, pl) in [("fs_read", &c.fs_read, &p.fs_read), ("fs_write", &c.fs_write, &p.fs_write)] {
        if let Some(pl) = pl {
            let Some(cl) = cl else { return Err(alloc::format!("boundaries.{name} is unconstrained")) };
            if !cl.iter().all(|x| path_within(x, pl)) {
                return Err(alloc::format!("boundaries.{name} reaches outside the parent's paths"));
            }
        }
    }
    Ok(())
}
