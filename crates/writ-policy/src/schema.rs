//! The Cedar schema every writ policy set is validated against.

/// The writ Cedar schema, in Cedar schema syntax.
///
/// Every policy set is validated against this schema in strict mode when it
/// is loaded, and every request is checked against it before evaluation. The
/// same text is reproduced and explained in `docs/policy.md`.
///
/// Entity ids: a requester is `Writ::Requester::"<name>"`, a group is
/// `Writ::Group::"<name>"`, a program is `Writ::Program::"<path>"`, an
/// endpoint is `Writ::Endpoint::"<METHOD> <path>"` and a tool is
/// `Writ::Tool::"<name>"`.
pub const SCHEMA: &str = r#"// writ policy schema (Cedar schema syntax).
namespace Writ {
  // A group of requesters, e.g. Writ::Group::"sre". Groups carry no attributes;
  // use `principal in Writ::Group::"sre"` to test membership.
  entity Group;

  // The authenticated caller asking for a writ. Its entity id is its name.
  entity Requester in [Group] = {
    // the requester's name in the trust root
    "name": String,
    // hex sha256 of the requester's public key
    "key_id": String,
  };

  // A program to execute. Its entity id is its absolute path.
  entity Program = {
    // absolute path, e.g. "/usr/bin/true"
    "path": String,
    // lowercase hex sha256 of the program file, "" when not known
    "sha256": String,
  };

  // An HTTP endpoint to call. Its entity id is "<METHOD> <path>".
  entity Endpoint = {
    // upper-case method, e.g. "GET"
    "method": String,
    // request path, e.g. "/v1/status"
    "path": String,
  };

  // A tool an agent wants to call. Its entity id is its name.
  entity Tool = {
    "name": String,
  };

  // Facts about the host the execution would run on. All fields are "" (or
  // empty) when unknown; they are backed by a verified host statement only
  // when context.evidence contains "host".
  type HostFacts = {
    "hostname": String,
    "machine_id": String,
    "kernel": String,
    "labels": Set<String>,
  };

  // The context of every request, the same shape for every action.
  type RequestContext = {
    // argv[0], "" when argv is empty
    "argv0": String,
    // argv[1..] as a set (Cedar has no ordered list)
    "args": Set<String>,
    // number of elements of argv, argv[0] included
    "argc": Long,
    // argv joined by single spaces; an element that is empty or holds a
    // character outside [A-Za-z0-9_@%+=:,./-] is wrapped in single quotes
    // (POSIX shell quoting), so the string is unambiguous
    "command_line": String,
    // the requested environment as "NAME=value" strings
    "env": Set<String>,
    // the names of the requested environment variables
    "env_names": Set<String>,
    "host": HostFacts,
    // how long the writ should stay valid, in seconds
    "requested_duration_secs": Long,
    // the requester's free-text justification
    "reason": String,
    // time of the request, unix seconds (UTC)
    "time": Long,
    // hour of the day of `time`, 0..=23, UTC
    "hour": Long,
    // ISO weekday of `time`, 1 = Monday ..= 7 = Sunday, UTC
    "weekday": Long,
    // kinds of runtime evidence verified for this request, e.g. "host", "program"
    "evidence": Set<String>,
  };

  // Execute a program.
  action "exec" appliesTo {
    principal: [Requester],
    resource: [Program],
    context: RequestContext,
  };

  // Call an HTTP endpoint.
  action "http" appliesTo {
    principal: [Requester],
    resource: [Endpoint],
    context: RequestContext,
  };

  // Call an agent tool.
  action "tool" appliesTo {
    principal: [Requester],
    resource: [Tool],
    context: RequestContext,
  };
}
"#;
