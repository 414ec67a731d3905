//! Decisions: outcomes, determining policies, obligations and reasons.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

use writ_policy::{
    DEFAULT_POLICIES, Decision, HostFacts, Obligations, Outcome, PolicyRequest, PolicySet, Requester, Target,
};

fn defaults() -> PolicySet {
    PolicySet::load(DEFAULT_POLICIES).unwrap()
}

fn who(groups: &[&str]) -> Requester {
    Requester::new("alice", "a1b2", groups.iter().copied())
}

fn exec(groups: &[&str], argv: &[&str]) -> PolicyRequest {
    PolicyRequest::new(who(groups), Target::exec(argv[0]))
        .with_argv(argv.iter().copied())
        .with_duration_secs(60)
        .with_unix_time(1_704_115_800)
}

#[test]
fn dev_may_echo_at_once() {
    let set = defaults();
    let d = set.decide(&exec(&["dev"], &["/bin/echo", "hi"]));
    assert_eq!(d.outcome, Outcome::Allow, "{d:?}");
    assert_eq!(d.determining_policies, ["dev-harmless-exec"]);
    assert_eq!(
        d.obligations,
        Obligations {
            max_duration_secs: Some(300),
            boundaries: writ_policy::Boundaries {
                wall_clock_secs: Some(10),
                cpu_secs: Some(2),
                open_files: Some(64),
                ..writ_policy::Boundaries::default()
            },
            ..Obligations::default()
        }
    );
    assert_eq!(d.reasons, ["permitted by policy `dev-harmless-exec`"]);
    assert_eq!(d.policy_digest, set.digest());
}

#[test]
fn deploy_needs_two_sre_approvals() {
    let set = defaults();
    for group in ["dev", "sre"] {
        let req = exec(&[group], &["/usr/local/bin/deploy", "v1"]).with_reason("release v1");
        let d = set.decide(&req);
        assert_eq!(d.outcome, Outcome::NeedsApproval, "{d:?}");
        assert_eq!(d.determining_policies, ["deploy-needs-two-sre"]);
        assert_eq!(d.obligations.approvals, 2);
        assert_eq!(d.obligations.approver_group.as_deref(), Some("sre"));
        assert_eq!(d.obligations.max_duration_secs, Some(3600));
        assert!(d.obligations.single_use);
        assert!(d.reasons.iter().any(|r| r.contains("2 approval")));
    }
}

#[test]
fn deploy_without_reason_is_denied() {
    let d = defaults().decide(&exec(&["dev"], &["/usr/local/bin/deploy"]));
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(d.determining_policies.is_empty());
    assert_eq!(d.reasons, ["no permit policy matched"]);
    assert_eq!(d.obligations, Obligations::default());
}

#[test]
fn strangers_and_other_programs_are_denied() {
    let set = defaults();
    assert!(set.decide(&exec(&[], &["/bin/echo", "hi"])).is_deny());
    assert!(set.decide(&exec(&["ops"], &["/bin/echo"])).is_deny());
    assert!(set.decide(&exec(&["dev"], &["/bin/sh", "-c", "true"])).is_deny());
    // group membership is by group entity, not by requester name
    let named_dev = PolicyRequest::new(Requester::new("dev", "k", [] as [&str; 0]), Target::exec("/bin/echo"));
    assert!(set.decide(&named_dev).is_deny());
}

#[test]
fn forbid_overrides_permit() {
    let src = format!("{DEFAULT_POLICIES}\n@id(\"anything-goes\")\npermit(principal, action, resource);\n");
    let set = PolicySet::load(&src).unwrap();
    let ok = set.decide(&exec(&[], &["/bin/rm", "-r", "/tmp/x"]));
    assert_eq!(ok.outcome, Outcome::Allow);
    for argv in [&["/bin/rm", "-rf", "/"][..], &["/usr/bin/rm", "/", "--recursive"][..], &["rm", "-R", "/*"][..]] {
        let d = set.decide(&exec(&["dev"], argv));
        assert_eq!(d.outcome, Outcome::Deny, "{argv:?}");
        assert_eq!(d.determining_policies, ["forbid-rm-rf-root"]);
        assert_eq!(d.reasons, ["forbidden by policy `forbid-rm-rf-root`"]);
        assert_eq!(d.obligations, Obligations::default());
    }
}

#[test]
fn empty_set_denies_everything() {
    let set = PolicySet::load("").unwrap();
    for req in [
        exec(&["dev"], &["/bin/echo"]),
        PolicyRequest::new(who(&["ops"]), Target::Http { method: "GET".into(), path: "/".into() }),
        PolicyRequest::new(who(&[]), Target::Tool { name: "x".into() }),
    ] {
        let d = set.decide(&req);
        assert_eq!(d.outcome, Outcome::Deny);
        assert_eq!(d.reasons, ["no permit policy matched"]);
    }
}

#[test]
fn duration_above_max_is_denied_not_clamped() {
    let set = defaults();
    let at_max = exec(&["dev"], &["/bin/echo"]).with_duration_secs(300);
    assert_eq!(set.decide(&at_max).outcome, Outcome::Allow);
    let above = exec(&["dev"], &["/bin/echo"]).with_duration_secs(301);
    let d = set.decide(&above);
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.determining_policies, ["dev-harmless-exec"]);
    assert_eq!(d.reasons.len(), 1);
    assert!(d.reasons[0].contains("301s") && d.reasons[0].contains("300s"));
    assert!(d.reasons[0].contains("`dev-harmless-exec`"));
    let huge = exec(&["dev"], &["/bin/echo"]).with_duration_secs(u64::MAX);
    assert!(set.decide(&huge).is_deny());
}

const TWO_PERMITS: &str = r#"
@id("b-strict-time")
@approvals("3")
@max_duration("600")
@evidence("program")
@single_use("true")
permit(principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/opt/job" };

@id("a-sre")
@approvals("1")
@approver_group("sre")
@max_duration("3600")
@evidence("host")
permit(principal, action == Writ::Action::"exec", resource == Writ::Program::"/opt/job");
"#;

#[test]
fn obligations_combine_strictly() {
    let set = PolicySet::load(TWO_PERMITS).unwrap();
    let d = set.decide(&exec(&["dev"], &["/opt/job"]));
    assert_eq!(d.outcome, Outcome::NeedsApproval, "{d:?}");
    assert_eq!(d.determining_policies, ["a-sre", "b-strict-time"]);
    assert_eq!(
        d.obligations,
        Obligations {
            approvals: 3,
            approver_group: Some("sre".into()),
            max_duration_secs: Some(600),
            required_evidence: vec!["host".into(), "program".into()],
            single_use: true,
            ..Obligations::default()
        }
    );
    // the shorter maximum, from the other policy, decides
    let d = set.decide(&exec(&["dev"], &["/opt/job"]).with_duration_secs(601));
    assert!(d.is_deny());
    assert!(d.reasons[0].contains("`b-strict-time`"), "{:?}", d.reasons);
    // only one policy matches for a non-dev: its own obligations
    let d = set.decide(&exec(&["ops"], &["/opt/job"]));
    assert_eq!(d.determining_policies, ["a-sre"]);
    assert_eq!(d.obligations.approvals, 1);
    assert_eq!(d.obligations.max_duration_secs, Some(3600));
    assert_eq!(d.obligations.required_evidence, ["host"]);
    assert!(!d.obligations.single_use);
}

#[test]
fn conflicting_approver_groups_deny() {
    let src = r#"
@id("x") @approvals("1") @approver_group("sre")
permit(principal, action, resource);
@id("y") @approvals("1") @approver_group("security")
permit(principal, action, resource);
"#;
    let set = PolicySet::load(src).unwrap();
    let d = set.decide(&exec(&[], &["/bin/true"]));
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.determining_policies, ["x", "y"]);
    assert!(d.reasons[0].contains("`sre`") && d.reasons[0].contains("`security`"));
}

#[test]
fn evaluation_error_fails_closed_even_if_a_permit_matches() {
    let src = r#"
@id("allow-all")
permit(principal, action, resource);
@id("overflows")
forbid(principal, action, resource)
when { context.requested_duration_secs + 9223372036854775807 < 0 };
"#;
    let set = PolicySet::load(src).unwrap();
    // no overflow at duration 0: allowed
    let ok = exec(&[], &["/bin/true"]).with_duration_secs(0);
    assert_eq!(set.decide(&ok).outcome, Outcome::Allow);
    // overflow: denied, error in reasons
    let d = set.decide(&exec(&[], &["/bin/true"]).with_duration_secs(5));
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(d.determining_policies.is_empty());
    assert!(d.reasons.iter().any(|r| r.contains("overflows") && r.contains("failing closed")), "{:?}", d.reasons);
}

#[test]
fn http_and_tool_actions() {
    let src = r#"
@id("ops-status")
permit(principal in Writ::Group::"ops", action == Writ::Action::"http", resource)
when { resource.method == "GET" && resource.path == "/v1/status" };
@id("agents-search")
@max_duration("60")
permit(principal in Writ::Group::"agents", action == Writ::Action::"tool", resource == Writ::Tool::"search")
when { context.weekday <= 5 && context.hour >= 8 && context.hour < 18 };
"#;
    let set = PolicySet::load(src).unwrap();
    let get = |m: &str| PolicyRequest::new(who(&["ops"]), Target::Http { method: m.into(), path: "/v1/status".into() });
    assert_eq!(set.decide(&get("GET")).outcome, Outcome::Allow);
    assert!(set.decide(&get("POST")).is_deny());

    let search = |t: u64| {
        PolicyRequest::new(who(&["agents"]), Target::Tool { name: "search".into() })
            .with_unix_time(t)
            .with_duration_secs(30)
    };
    // Monday 13:30 UTC
    assert_eq!(set.decide(&search(1_704_115_800)).outcome, Outcome::Allow);
    // Sunday 23:59 UTC
    assert!(set.decide(&search(1_704_671_999)).is_deny());
}

#[test]
fn context_argv_env_host_evidence() {
    let src = r#"
@id("ctx")
permit(principal, action == Writ::Action::"exec", resource)
when {
  context.argv0 == "/bin/echo" &&
  context.argc == 3 &&
  context.args.contains("hello world") &&
  context.command_line == "/bin/echo 'hello world' x" &&
  context.command_line like "/bin/echo *" &&
  context.env.contains("LANG=C") &&
  context.env_names.contains("LANG") &&
  context.host.hostname == "h1" &&
  context.host.labels.contains("prod") &&
  context.evidence.contains("host") &&
  context.reason == "why" &&
  context.time == 1704115800
};
"#;
    let set = PolicySet::load(src).unwrap();
    let req = exec(&[], &["/bin/echo", "hello world", "x"])
        .with_env("LANG", "C")
        .with_host(HostFacts { hostname: "h1".into(), labels: ["prod".to_owned()].into(), ..HostFacts::default() })
        .with_evidence("host")
        .with_reason("why");
    assert_eq!(set.decide(&req).outcome, Outcome::Allow);
    let mut without_evidence = req.clone();
    without_evidence.evidence.clear();
    assert!(set.decide(&without_evidence).is_deny());
}

#[test]
fn dba_migration_needs_verified_prod_host() {
    let set = defaults();
    let base = PolicyRequest::new(
        who(&["dba"]),
        Target::Exec { path: "/usr/local/bin/db-migrate".into(), sha256: "ab".repeat(32) },
    )
    .with_argv(["/usr/local/bin/db-migrate"])
    .with_duration_secs(600);
    let prod = HostFacts { hostname: "db1".into(), labels: ["prod".to_owned()].into(), ..HostFacts::default() };
    assert!(set.decide(&base).is_deny());
    let d = set.decide(&base.clone().with_host(prod).with_evidence("host"));
    assert_eq!(d.outcome, Outcome::NeedsApproval, "{d:?}");
    assert_eq!(d.obligations.required_evidence, ["host", "program"]);
    assert_eq!(d.obligations.approver_group.as_deref(), Some("dba"));
}

#[test]
fn decisions_are_deterministic_and_serialise() {
    let set = defaults();
    let req = exec(&["dev"], &["/usr/local/bin/deploy"]).with_reason("r");
    let a = set.decide(&req);
    let b = set.decide(&req);
    assert_eq!(a, b);
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("\"outcome\":\"needs_approval\""), "{json}");
    let back: Decision = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
    // requests round-trip too
    let rj = serde_json::to_string(&req).unwrap();
    assert_eq!(serde_json::from_str::<PolicyRequest>(&rj).unwrap(), req);
}

#[test]
fn policy_set_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicySet>();
    let set = std::sync::Arc::new(defaults());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let set = set.clone();
            std::thread::spawn(move || set.decide(&exec(&["dev"], &["/bin/echo"])).outcome)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), Outcome::Allow);
    }
}

const BOUNDED: &str = r#"
@id("job-bounded")
@wall_clock("300")
@cpu("10")
@memory("256M")
@network("false")
@fs_write("/tmp")
@uses("5")
@offline("true")
@allow_env("LD_LIBRARY_PATH,PYTHONPATH")
permit(principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/opt/job" };

@id("job-stricter")
@wall_clock("60")
@processes("4")
@fs_write("/tmp/job,/var/spool")
@uses("2")
@allow_env("PYTHONPATH")
permit(principal in Writ::Group::"ops", action == Writ::Action::"exec", resource == Writ::Program::"/opt/job");
"#;

#[test]
fn boundaries_uses_offline_and_env_come_from_policy_and_combine_strictly() {
    let set = PolicySet::load(BOUNDED).unwrap();
    let d = set.decide(&exec(&["dev"], &["/opt/job"]));
    assert_eq!(d.outcome, Outcome::Allow, "{d:?}");
    let ob = &d.obligations;
    assert_eq!(ob.boundaries.wall_clock_secs, Some(300));
    assert_eq!(ob.boundaries.cpu_secs, Some(10));
    assert_eq!(ob.boundaries.memory_bytes, Some(256 << 20));
    assert_eq!(ob.boundaries.network, Some(false));
    assert_eq!(ob.boundaries.fs_write, Some(vec!["/tmp".to_string()]));
    assert_eq!(ob.uses, Some(5));
    assert!(ob.offline);
    assert_eq!(ob.allow_env, ["LD_LIBRARY_PATH", "PYTHONPATH"]);
    // both match: the stricter of each; offline only if both say so
    let d = set.decide(&exec(&["dev", "ops"], &["/opt/job"]));
    assert_eq!(d.determining_policies, ["job-bounded", "job-stricter"]);
    let ob = &d.obligations;
    assert_eq!(ob.boundaries.wall_clock_secs, Some(60));
    assert_eq!(ob.boundaries.cpu_secs, Some(10));
    assert_eq!(ob.boundaries.processes, Some(4));
    assert_eq!(ob.boundaries.network, Some(false));
    assert_eq!(ob.boundaries.fs_write, Some(vec!["/tmp/job".to_string()]));
    assert_eq!(ob.uses, Some(2));
    assert!(!ob.offline, "one policy does not allow offline");
    assert_eq!(ob.allow_env, ["PYTHONPATH"]);
}

#[test]
fn bad_boundary_annotations_refuse_the_set() {
    for bad in [
        "@id(\"x\") @wall_clock(\"5m\") permit(principal, action, resource);",
        "@id(\"x\") @network(\"off\") permit(principal, action, resource);",
        "@id(\"x\") @fs_read(\"relative\") permit(principal, action, resource);",
        "@id(\"x\") @uses(\"0\") permit(principal, action, resource);",
        "@id(\"x\") @offline(\"true\") forbid(principal, action, resource);",
    ] {
        assert!(PolicySet::load(bad).is_err(), "{bad}");
    }
}
