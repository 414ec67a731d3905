//! The starter policy set `writ init` writes.

/// A deny-by-default starter policy set with commented examples.
///
/// `writ init` writes it to the authority's home directory. It loads and
/// validates against [`crate::SCHEMA`] (a test pins that).
pub const DEFAULT_POLICIES: &str = r#"// writ policy set (Cedar). See docs/policy.md for the schema and annotations.
//
// Deny by default: a request is allowed only if some `permit` below matches
// it and no `forbid` does. `forbid` always wins. An empty file denies
// everything.
//
// Every policy needs a unique @id("..."): it is recorded in every decision
// and writ. Obligations ride on annotations of permit policies:
//   @approvals("N")          N distinct approvers must approve first
//   @approver_group("g")     ...and they must be in group g
//   @max_duration("S")       the writ lasts at most S seconds; asking for more is denied
//   @evidence("host,program") runtime evidence the authority must verify first
//   @single_use("true")      the writ can be used once
//   @uses("N")               the writ can be used at most N times
//   @offline("true")         a gate may run it without asking the authority
//                            (short-lived; only for writs without a use count)
//   @allow_env("LD_LIBRARY_PATH")  a loader/interpreter variable the request may set
// Boundaries the gate enforces on the run (the writ gets the stricter of
// these and what the request asks for; asking for more is refused):
//   @wall_clock("S") @cpu("S") @memory("512M") @processes("N")
//   @open_files("N") @file_size("64M") @network("false")
//   @fs_read("/usr,/etc") @fs_write("/tmp")
// When several permits match, the strictest of each applies.

// 1. Harmless programs: anyone in group "dev" may run `true` and `echo`
//    at once, for up to five minutes; each run gets 10 s of wall clock,
//    2 s of CPU and 64 open files.
@id("dev-harmless-exec")
@description("group dev may run true and echo without approval")
@max_duration("300")
@wall_clock("10")
@cpu("2")
@open_files("64")
permit (
  principal in Writ::Group::"dev",
  action == Writ::Action::"exec",
  resource
)
when {
  ["/usr/bin/true", "/bin/true", "/usr/bin/echo", "/bin/echo"].contains(resource.path)
};

// 2. Deploys: developers and SREs may run the deploy program, with a
//    reason, once two distinct SREs have approved. The writ is single-use,
//    lasts at most one hour, and the deploy may run for 15 minutes.
@id("deploy-needs-two-sre")
@description("deploys need a reason and two SRE approvals")
@approvals("2")
@approver_group("sre")
@max_duration("3600")
@single_use("true")
@wall_clock("900")
permit (
  principal,
  action == Writ::Action::"exec",
  resource
)
when {
  (principal in Writ::Group::"dev" || principal in Writ::Group::"sre") &&
  resource.path == "/usr/local/bin/deploy" &&
  context.reason != ""
};

// 3. Database migrations only on hosts labelled "prod" whose facts the
//    authority verified, with a known program digest, after one DBA approval;
//    the writ is bound to that host, and the run may write only below
//    /var/lib/migrate and /tmp.
@id("dba-migrate-on-prod")
@approvals("1")
@approver_group("dba")
@evidence("host,program")
@max_duration("1800")
@wall_clock("1800")
@fs_write("/var/lib/migrate,/tmp")
permit (
  principal in Writ::Group::"dba",
  action == Writ::Action::"exec",
  resource
)
when {
  resource.path == "/usr/local/bin/db-migrate" &&
  resource.sha256 != "" &&
  context.evidence.contains("host") &&
  context.host.labels.contains("prod")
};

// 4. Never remove the root file system recursively, whoever asks and
//    whatever else permits it.
@id("forbid-rm-rf-root")
@description("no recursive rm of /")
forbid (
  principal,
  action == Writ::Action::"exec",
  resource
)
when {
  (resource.path like "*/rm" || context.argv0 like "*rm") &&
  (context.args.contains("/") || context.args.contains("/*")) &&
  context.args.containsAny(["-r", "-R", "-rf", "-fr", "-Rf", "-fR", "--recursive"])
};

// 5. More examples, disabled: remove the leading `//` to use them.
//
// An HTTP endpoint for group "ops", at once:
// @id("ops-status")
// permit (principal in Writ::Group::"ops", action == Writ::Action::"http", resource)
// when { resource.method == "GET" && resource.path == "/v1/status" };
//
// A batch job for group "dev", up to 3 runs, no network (the gate needs
// CAP_SYS_ADMIN for that), half a GiB of memory, PYTHONPATH allowed:
// @id("dev-batch")
// @uses("3")
// @network("false")
// @memory("512M")
// @allow_env("PYTHONPATH")
// permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
// when { resource.path == "/usr/local/bin/batch" };
//
// An agent tool for group "agents", one use, one minute, office hours only (UTC):
// @id("agents-search")
// @max_duration("60")
// @single_use("true")
// permit (principal in Writ::Group::"agents", action == Writ::Action::"tool", resource == Writ::Tool::"search")
// when { context.weekday <= 5 && context.hour >= 8 && context.hour < 18 };
"#;
