//! The execution request that policy decides on.
//!
//! These are plain data types of this crate: the authority maps its own
//! request, identity and evidence types into them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// The authenticated caller asking for a writ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    /// name in the trust root; also the Cedar entity id (`Writ::Requester::"<name>"`)
    pub name: String,
    /// hex sha256 of the requester's public key
    pub key_id: String,
    /// groups from the trust root; each becomes a parent `Writ::Group::"<group>"`
    #[serde(default)]
    pub groups: BTreeSet<String>,
}

impl Requester {
    /// A requester with a name, a key id and groups.
    pub fn new<I, S>(name: impl Into<String>, key_id: impl Into<String>, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self { name: name.into(), key_id: key_id.into(), groups: groups.into_iter().map(Into::into).collect() }
    }
}

/// The kind of execution asked for: the Cedar action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// `Writ::Action::"exec"`: run a program
    Exec,
    /// `Writ::Action::"http"`: call an HTTP endpoint
    Http,
    /// `Writ::Action::"tool"`: call an agent tool
    Tool,
}

impl ActionKind {
    /// The action's Cedar entity id: `exec`, `http` or `tool`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Exec => "exec",
            Self::Http => "http",
            Self::Tool => "tool",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What should run: the action together with its resource.
///
/// Each action applies to exactly one resource type, so the pair is one
/// value and a mismatch cannot be expressed. In JSON it is tagged by
/// `"action"`: `{"action": "exec", "path": "/usr/bin/true", "sha256": ""}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// Execute the program at `path` (`Writ::Program::"<path>"`).
    Exec {
        /// absolute path of the program
        path: String,
        /// lowercase hex sha256 of the program, `""` when not known
        #[serde(default)]
        sha256: String,
    },
    /// Call an HTTP endpoint (`Writ::Endpoint::"<METHOD> <path>"`).
    Http {
        /// upper-case method, e.g. `GET`
        method: String,
        /// request path, e.g. `/v1/status`
        path: String,
    },
    /// Call an agent tool (`Writ::Tool::"<name>"`).
    Tool {
        /// the tool's name
        name: String,
    },
}

impl Target {
    /// A program to execute, digest not known.
    pub fn exec(path: impl Into<String>) -> Self {
        Self::Exec { path: path.into(), sha256: String::new() }
    }

    /// The Cedar action this target is asked under.
    pub const fn action(&self) -> ActionKind {
        match self {
            Self::Exec { .. } => ActionKind::Exec,
            Self::Http { .. } => ActionKind::Http,
            Self::Tool { .. } => ActionKind::Tool,
        }
    }

    /// The Cedar entity id of the resource.
    pub fn entity_id(&self) -> String {
        match self {
            Self::Exec { path, .. } => path.clone(),
            Self::Http { method, path } => format!("{method} {path}"),
            Self::Tool { name } => name.clone(),
        }
    }
}

/// Facts about the host the execution would run on.
///
/// Fields are empty when unknown. They count as verified only when the
/// request's `evidence` contains `"host"`; the authority sets them from a
/// verified host statement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFacts {
    /// the host's name
    #[serde(default)]
    pub hostname: String,
    /// `/etc/machine-id` or equivalent
    #[serde(default)]
    pub machine_id: String,
    /// kernel release, e.g. `6.8.0-45-generic`
    #[serde(default)]
    pub kernel: String,
    /// labels the host's key is trusted for, e.g. `prod`
    #[serde(default)]
    pub labels: BTreeSet<String>,
}

/// An execution request, the input of [`crate::PolicySet::decide`].
///
/// Build one with [`PolicyRequest::new`] and the `with_*` methods, or fill
/// the public fields directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// who asks
    pub requester: Requester,
    /// what should run (action + resource)
    pub target: Target,
    /// the exact argv, `argv[0]` included; empty for `http` and `tool`
    #[serde(default)]
    pub argv: Vec<String>,
    /// the requested environment
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// facts about the host
    #[serde(default)]
    pub host: HostFacts,
    /// how long the writ should stay valid, in seconds
    #[serde(default)]
    pub requested_duration_secs: u64,
    /// the requester's justification
    #[serde(default)]
    pub reason: String,
    /// time of the request, unix seconds (UTC); the caller's clock, never read here
    #[serde(default)]
    pub unix_time: u64,
    /// kinds of runtime evidence the authority verified, e.g. `host`, `program`
    #[serde(default)]
    pub evidence: BTreeSet<String>,
}

impl PolicyRequest {
    /// A request with empty argv, environment, host facts, reason and
    /// evidence, zero duration and time 0.
    pub fn new(requester: Requester, target: Target) -> Self {
        Self {
            requester,
            target,
            argv: Vec::new(),
            env: BTreeMap::new(),
            host: HostFacts::default(),
            requested_duration_secs: 0,
            reason: String::new(),
            unix_time: 0,
            evidence: BTreeSet::new(),
        }
    }

    /// Set the argv (`argv[0]` included).
    #[must_use]
    pub fn with_argv<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.argv = argv.into_iter().map(Into::into).collect();
        self
    }

    /// Add one environment variable.
    #[must_use]
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// Set the host facts.
    #[must_use]
    pub fn with_host(mut self, host: HostFacts) -> Self {
        self.host = host;
        self
    }

    /// Set the requested duration, in seconds.
    #[must_use]
    pub fn with_duration_secs(mut self, secs: u64) -> Self {
        self.requested_duration_secs = secs;
        self
    }

    /// Set the reason.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Set the time of the request, unix seconds.
    #[must_use]
    pub fn with_unix_time(mut self, unix_time: u64) -> Self {
        self.unix_time = unix_time;
        self
    }

    /// Add a verified evidence kind.
    #[must_use]
    pub fn with_evidence(mut self, kind: impl Into<String>) -> Self {
        self.evidence.insert(kind.into());
        self
    }
}

/// `argv` joined by single spaces, each element POSIX-shell-quoted when it
/// is empty or holds a character outside `[A-Za-z0-9_@%+=:,./-]`.
///
/// This is the `context.command_line` that policies see.
pub fn command_line(argv: &[String]) -> String {
    let mut out = String::new();
    for (i, arg) in argv.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let plain = !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
        if plain {
            out.push_str(arg);
        } else {
            out.push('\'');
            for c in arg.chars() {
                if c == '\'' {
                    out.push_str("'\\''");
                } else {
                    out.push(c);
                }
            }
            out.push('\'');
        }
    }
    out
}

/// Hour of the day (0..=23) and ISO weekday (1 = Monday ..= 7 = Sunday) of
/// a unix time, in UTC.
pub const fn hour_and_weekday(unix_time: u64) -> (u64, u64) {
    let days = unix_time / 86_400;
    let hour = (unix_time % 86_400) / 3_600;
    // 1970-01-01 was a Thursday (ISO weekday 4).
    let weekday = (days + 3) % 7 + 1;
    (hour, weekday)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_quotes_only_when_needed() {
        let argv: Vec<String> =
            ["/bin/echo", "hello world", "", "it's", "-rf", "/"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(command_line(&argv), "/bin/echo 'hello world' '' 'it'\\''s' -rf /");
        assert_eq!(command_line(&[]), "");
    }

    #[test]
    fn weekday_and_hour() {
        // 1970-01-01T00:00:00Z, a Thursday
        assert_eq!(hour_and_weekday(0), (0, 4));
        // 2024-01-01T13:30:00Z, a Monday
        assert_eq!(hour_and_weekday(1_704_115_800), (13, 1));
        // 2024-01-07T23:59:59Z, a Sunday
        assert_eq!(hour_and_weekday(1_704_671_999), (23, 7));
    }

    #[test]
    fn target_json_is_tagged_by_action() {
        let t: Target = serde_json::from_str(r#"{"action":"http","method":"GET","path":"/v1/status"}"#).unwrap();
        assert_eq!(t.action(), ActionKind::Http);
        assert_eq!(t.entity_id(), "GET /v1/status");
        let bad = serde_json::from_str::<Target>(r#"{"action":"tool","name":"x","extra":1}"#);
        assert!(bad.is_err(), "unknown fields must be rejected");
    }
}
