//! Matching an attempted action against a writ's scope.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use crate::denial::{Denial, DenialCode};
use crate::digest::Sha256Digest;
use crate::glob::{arg_glob_match, host_match, path_match};
use crate::model::{Action, ArgRule, Boundaries, Environment, ExecAction, Scope};

/// What somebody is trying to do, as the gate observed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Run a program.
    Exec(ExecAttempt),
    /// Call an HTTP endpoint.
    Http(HttpAttempt),
    /// Call an agent tool.
    Tool(ToolAttempt),
}

/// A program invocation exactly as it would run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecAttempt {
    /// Absolute, resolved path of the program.
    pub program: String,
    /// sha256 of the bytes that will execute (hashed from the open file).
    pub sha256: Sha256Digest,
    /// Arguments after the program name, unchanged.
    pub args: Vec<String>,
    /// The complete environment the program will receive.
    pub env: BTreeMap<String, String>,
    /// The working directory it will start in.
    pub cwd: String,
    /// For each argument (index into `args`) the gate hands the program as a
    /// file it hashed: the sha256 of exactly those bytes. A `file` argument
    /// rule is met only when its index is here with its digest.
    pub arg_files: BTreeMap<usize, Sha256Digest>,
}

/// An HTTP request as a proxy gate received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpAttempt {
    /// Method.
    pub method: String,
    /// Path (no query string).
    pub path: String,
    /// sha256 of the body.
    pub body_sha256: Sha256Digest,
}

/// An agent tool call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolAttempt {
    /// Tool name.
    pub name: String,
    /// Named string arguments.
    pub args: BTreeMap<String, String>,
    /// sha256 of the whole argument object, when the caller computed one (an
    /// action's `args_sha256` is met only by an equal digest here).
    pub args_sha256: Option<Sha256Digest>,
    /// sha256 of the tool's definition as its server announced it, when
    /// known (an action's `definition_sha256` is met only by an equal one).
    pub definition_sha256: Option<Sha256Digest>,
}

/// Facts about the host the gate runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// Host name.
    pub hostname: String,
    /// Labels the host carries.
    pub labels: BTreeSet<String>,
}

/// Which boundaries the enforcing gate can actually enforce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools, reason = "one flag per boundary kind is the clearest form")]
pub struct Capabilities {
    /// Wall-clock limit.
    pub wall_clock: bool,
    /// CPU-time limit.
    pub cpu: bool,
    /// Memory limit.
    pub memory: bool,
    /// Process-count limit.
    pub processes: bool,
    /// Open-files limit.
    pub open_files: bool,
    /// File-size limit.
    pub file_size: bool,
    /// Network isolation.
    pub network: bool,
    /// Filesystem allow-lists.
    pub fs: bool,
}

impl Capabilities {
    /// Everything (a checker that does not enforce, such as `writ verify`).
    pub const ALL: Self = Self {
        wall_clock: true,
        cpu: true,
        memory: true,
        processes: true,
        open_files: true,
        file_size: true,
        network: true,
        fs: true,
    };
    /// Nothing: any boundary denies.
    pub const NONE: Self = Self {
        wall_clock: false,
        cpu: false,
        memory: false,
        processes: false,
        open_files: false,
        file_size: false,
        network: false,
        fs: false,
    };
}

fn deny(code: DenialCode, detail: String) -> Denial {
    Denial::new(code, detail)
}

/// Checks `attempt` (and the host) against `scope`; returns the index of the
/// action that permitted it.
///
/// # Errors
/// The [`Denial`] of the first rule that failed, with the most specific code:
/// `scope_action` when no action of that kind exists, `scope_program` when
/// none names this program/endpoint/tool, `scope_args` when none accepts the
/// arguments, then `scope_env`, `scope_cwd`, `scope_host`, `scope_boundary`.
pub fn check(scope: &Scope, attempt: &Attempt, host: Option<&HostFacts>, caps: &Capabilities) -> Result<usize, Denial> {
    let index = match attempt {
        Attempt::Exec(a) => match_exec(scope, a)?,
        Attempt::Http(a) => match_http(scope, a)?,
        Attempt::Tool(a) => match_tool(scope, a)?,
    };
    if let Attempt::Exec(a) = attempt {
        check_env(&scope.environment, a)?;
    }
    check_host(&scope.environment, host)?;
    check_boundaries(&scope.boundaries, caps)?;
    Ok(index)
}

pub(crate) fn rule_matches(rule: &ArgRule, arg: &str) -> bool {
    match rule {
        ArgRule::Exact(s) => s == arg,
        ArgRule::Glob(p) => arg_glob_match(p, arg),
        ArgRule::OneOf(v) => v.iter().any(|s| s == arg),
        ArgRule::Range { min, max } => number_within(arg, *min, *max),
        // A string alone never meets a file rule: only an attempt that says
        // which bytes the gate hands the program can (see `args_match_files`).
        ArgRule::File { .. } => false,
    }
}

/// Whether `arg` is decimal number text (`-12`, `3.5`, `1e3`; no spaces, no
/// `inf`/`nan`) within `min..=max` (an absent bound is open). Integers
/// compare exactly; other numbers as `f64`.
fn number_within(arg: &str, min: Option<i64>, max: Option<i64>) -> bool {
    let plain = arg.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if arg.is_empty() || !plain {
        return false;
    }
    if let Ok(n) = arg.parse::<i64>() {
        return min.is_none_or(|lo| n >= lo) && max.is_none_or(|hi| n <= hi);
    }
    match arg.parse::<f64>() {
        #[allow(clippy::cast_precision_loss, reason = "bounds beyond 2^53 compare approximately with non-integers")]
        Ok(x) if x.is_finite() => min.is_none_or(|lo| x >= lo as f64) && max.is_none_or(|hi| x <= hi as f64),
        _ => false,
    }
}

/// Whether `args` satisfy an exec action's rules, no argument being a file
/// the gate hashed (so no `file` rule can be met).
#[must_use]
pub fn args_match(action: &ExecAction, args: &[String]) -> bool {
    args_match_files(action, args, &BTreeMap::new())
}

/// Whether `args` satisfy an exec action's rules, `files` giving the digest
/// of the bytes the gate hands the program for an argument (by index).
#[must_use]
pub fn args_match_files(action: &ExecAction, args: &[String], files: &BTreeMap<usize, Sha256Digest>) -> bool {
    if args.len() < action.args.len() || (args.len() > action.args.len() && !action.more_args) {
        return false;
    }
    action.args.iter().zip(args).enumerate().all(|(i, (rule, arg))| match rule {
        ArgRule::File { path, sha256 } => path == arg && files.get(&i) == Some(sha256),
        other => rule_matches(other, arg),
    })
}

fn match_exec(scope: &Scope, a: &ExecAttempt) -> Result<usize, Denial> {
    // Every action is tried: the first that matches completely wins. Only
    // when none does is the code the furthest any action got (kind, then
    // program path and digest, then arguments).
    let mut any_kind = false;
    let mut path_seen: Option<&ExecAction> = None;
    let mut program_seen = false;
    for (i, action) in scope.actions.iter().enumerate() {
        let Action::Exec(e) = action else { continue };
        any_kind = true;
        if e.program != a.program {
            continue;
        }
        path_seen.get_or_insert(e);
        if e.sha256 != a.sha256 {
            continue;
        }
        program_seen = true;
        if args_match_files(e, &a.args, &a.arg_files) {
            return Ok(i);
        }
    }
    Err(if !any_kind {
        deny(DenialCode::ScopeAction, "the writ permits no program execution".into())
    } else if let (false, Some(e)) = (program_seen, path_seen) {
        deny(
            DenialCode::ScopeProgram,
            alloc::format!("program `{}` has sha256 {} but the writ permits {}", a.program, a.sha256, e.sha256),
        )
    } else if !program_seen {
        deny(DenialCode::ScopeProgram, alloc::format!("the writ does not permit program `{}`", a.program))
    } else {
        deny(
            DenialCode::ScopeArgs,
            alloc::format!("arguments {:?} do not match the writ's argument rules for `{}`", a.args, a.program),
        )
    })
}

fn match_http(scope: &Scope, a: &HttpAttempt) -> Result<usize, Denial> {
    let mut any_kind = false;
    let mut endpoint_seen = false;
    for (i, action) in scope.actions.iter().enumerate() {
        let Action::Http(h) = action else { continue };
        any_kind = true;
        if h.method != a.method || !path_match(&h.path, &a.path) {
            continue;
        }
        endpoint_seen = true;
        if h.body_sha256.is_none_or(|d| d == a.body_sha256) {
            return Ok(i);
        }
    }
    Err(if !any_kind {
        deny(DenialCode::ScopeAction, "the writ permits no HTTP request".into())
    } else if !endpoint_seen {
        deny(DenialCode::ScopeProgram, alloc::format!("the writ does not permit `{} {}`", a.method, a.path))
    } else {
        deny(DenialCode::ScopeArgs, alloc::format!("the body of `{} {}` is not the one permitted", a.method, a.path))
    })
}

fn match_tool(scope: &Scope, a: &ToolAttempt) -> Result<usize, Denial> {
    let mut any_kind = false;
    let mut tool_seen = false;
    let mut definition_seen = false;
    for (i, action) in scope.actions.iter().enumerate() {
        let Action::Tool(t) = action else { continue };
        any_kind = true;
        if t.name != a.name {
            continue;
        }
        tool_seen = true;
        if t.definition_sha256.is_some() && t.definition_sha256 != a.definition_sha256 {
            continue;
        }
        definition_seen = true;
        let all_constrained_ok = t.args.0.iter().all(|(k, rule)| a.args.get(k).is_some_and(|v| rule_matches(rule, v)));
        let no_extras = t.more_args || a.args.keys().all(|k| t.args.0.contains_key(k));
        let digest_ok = t.args_sha256.is_none() || t.args_sha256 == a.args_sha256;
        if all_constrained_ok && no_extras && digest_ok {
            return Ok(i);
        }
    }
    Err(if !any_kind {
        deny(DenialCode::ScopeAction, "the writ permits no tool call".into())
    } else if !tool_seen {
        deny(DenialCode::ScopeProgram, alloc::format!("the writ does not permit tool `{}`", a.name))
    } else if !definition_seen {
        let got = a.definition_sha256.map_or_else(|| "unknown".into(), |d| alloc::format!("sha256 {d}"));
        deny(
            DenialCode::ScopeAction,
            alloc::format!("tool `{}` is not the one the writ permits: its definition is {got}", a.name),
        )
    } else {
        deny(DenialCode::ScopeArgs, alloc::format!("the arguments of tool `{}` do not match the writ", a.name))
    })
}

fn check_env(env: &Environment, a: &ExecAttempt) -> Result<(), Denial> {
    for (k, v) in &a.env {
        match env.env.0.get(k) {
            None => {
                return Err(deny(DenialCode::ScopeEnv, alloc::format!("environment variable `{k}` is not allowed")));
            }
            Some(Some(fixed)) if fixed != v => {
                return Err(deny(DenialCode::ScopeEnv, alloc::format!("environment variable `{k}` must be `{fixed}`")));
            }
            Some(_) => {}
        }
    }
    if let Some(cwd) = &env.cwd
        && *cwd != a.cwd
    {
        return Err(deny(DenialCode::ScopeCwd, alloc::format!("working directory must be `{cwd}`, not `{}`", a.cwd)));
    }
    Ok(())
}

fn check_host(env: &Environment, host: Option<&HostFacts>) -> Result<(), Denial> {
    if env.hosts.is_none() && env.labels.is_empty() {
        return Ok(());
    }
    let Some(host) = host else {
        return Err(deny(DenialCode::ScopeHost, "the writ is bound to hosts but no host facts were given".into()));
    };
    if let Some(hosts) = &env.hosts
        && !hosts.iter().any(|h| host_match(h, &host.hostname))
    {
        return Err(deny(DenialCode::ScopeHost, alloc::format!("host `{}` is not one the writ names", host.hostname)));
    }
    if let Some(missing) = env.labels.iter().find(|l| !host.labels.contains(*l)) {
        return Err(deny(DenialCode::ScopeHost, alloc::format!("host lacks required label `{missing}`")));
    }
    Ok(())
}

fn check_boundaries(b: &Boundaries, caps: &Capabilities) -> Result<(), Denial> {
    let demands = [
        ("wall_clock_secs", b.wall_clock_secs.is_some(), caps.wall_clock),
        ("cpu_secs", b.cpu_secs.is_some(), caps.cpu),
        ("memory_bytes", b.memory_bytes.is_some(), caps.memory),
        ("processes", b.processes.is_some(), caps.processes),
        ("open_files", b.open_files.is_some(), caps.open_files),
        ("file_size_bytes", b.file_size_bytes.is_some(), caps.file_size),
        ("network", b.network == Some(false), caps.network),
        ("fs_read", b.fs_read.is_some(), caps.fs),
        ("fs_write", b.fs_write.is_some(), caps.fs),
    ];
    match demands.iter().find(|(_, demanded, can)| *demanded && !*can) {
        Some((name, _, _)) => Err(deny(
            DenialCode::ScopeBoundary,
            alloc::format!("the writ demands boundary `{name}` which this gate cannot enforce"),
        )),
        None => Ok(()),
    }
}
