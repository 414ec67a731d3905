//! Property tests: random requests never panic the decision, decisions are
//! internally consistent, and an empty set denies everything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use proptest::prelude::*;
use writ_policy::{DEFAULT_POLICIES, HostFacts, Obligations, Outcome, PolicyRequest, PolicySet, Requester, Target};

static DEFAULTS: LazyLock<PolicySet> = LazyLock::new(|| PolicySet::load(DEFAULT_POLICIES).unwrap());
static EMPTY: LazyLock<PolicySet> = LazyLock::new(|| PolicySet::load("").unwrap());

fn any_string() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z/._-]{0,12}", ".{0,16}", Just(String::new()), Just("/".to_owned()), Just("-rf".to_owned()),]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        (
            prop_oneof![
                Just("/bin/echo".to_owned()),
                Just("/usr/bin/true".to_owned()),
                Just("/usr/local/bin/deploy".to_owned()),
                Just("/usr/local/bin/db-migrate".to_owned()),
                Just("/bin/rm".to_owned()),
                any_string(),
            ],
            prop_oneof![Just(String::new()), "[0-9a-f]{64}", any_string()],
        )
            .prop_map(|(path, sha256)| Target::Exec { path, sha256 }),
        (any_string(), any_string()).prop_map(|(method, path)| Target::Http { method, path }),
        any_string().prop_map(|name| Target::Tool { name }),
    ]
}

fn groups() -> impl Strategy<Value = BTreeSet<String>> {
    proptest::collection::btree_set(
        prop_oneof![
            Just("dev".to_owned()),
            Just("sre".to_owned()),
            Just("dba".to_owned()),
            Just("ops".to_owned()),
            any_string(),
        ],
        0..4,
    )
}

fn request() -> impl Strategy<Value = PolicyRequest> {
    (
        (any_string(), any_string(), groups()),
        target(),
        proptest::collection::vec(any_string(), 0..6),
        proptest::collection::btree_map(any_string(), any_string(), 0..4),
        (any_string(), proptest::collection::btree_set(any_string(), 0..3)),
        prop_oneof![0u64..4000, any::<u64>()],
        any_string(),
        prop_oneof![1_700_000_000u64..1_800_000_000, any::<u64>()],
        proptest::collection::btree_set(
            prop_oneof![Just("host".to_owned()), Just("program".to_owned()), any_string()],
            0..3,
        ),
    )
        .prop_map(
            |((name, key_id, groups), target, argv, env, (hostname, labels), dur, reason, time, evidence)| {
                PolicyRequest {
                    requester: Requester { name, key_id, groups },
                    target,
                    argv,
                    env: env.into_iter().collect::<BTreeMap<_, _>>(),
                    host: HostFacts { hostname, labels, ..HostFacts::default() },
                    requested_duration_secs: dur,
                    reason,
                    unix_time: time,
                    evidence,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn default_set_never_panics_and_is_consistent(req in request()) {
        let set = &*DEFAULTS;
        let d = set.decide(&req);
        prop_assert_eq!(&d.policy_digest, set.digest());
        prop_assert!(!d.reasons.is_empty());
        // every generated request maps onto the schema (checked in debug builds)
        prop_assert!(
            !d.reasons.iter().any(|r| r.contains("cannot be evaluated")),
            "{:?}",
            d.reasons
        );
        let mut sorted = d.determining_policies.clone();
        sorted.sort();
        prop_assert_eq!(&sorted, &d.determining_policies);
        match d.outcome {
            Outcome::Deny => prop_assert_eq!(&d.obligations, &Obligations::default()),
            Outcome::NeedsApproval => prop_assert!(d.obligations.approvals > 0),
            Outcome::Allow => prop_assert_eq!(d.obligations.approvals, 0),
        }
        if d.outcome != Outcome::Deny {
            prop_assert!(!d.determining_policies.is_empty());
            if let Some(max) = d.obligations.max_duration_secs {
                prop_assert!(req.requested_duration_secs <= max);
            }
        }
        prop_assert_eq!(set.decide(&req), d);
    }

    #[test]
    fn empty_set_always_denies(req in request()) {
        let d = EMPTY.decide(&req);
        prop_assert_eq!(d.outcome, Outcome::Deny);
        prop_assert!(d.determining_policies.is_empty());
        prop_assert_eq!(d.reasons, vec!["no permit policy matched".to_owned()]);
    }

    #[test]
    fn load_never_panics_on_arbitrary_source(src in ".{0,200}") {
        let _ = PolicySet::load(&src);
    }

    #[test]
    fn load_never_panics_on_mutated_defaults(cut in 0usize..4000, insert in ".{0,8}") {
        let mut src = DEFAULT_POLICIES.to_owned();
        let mut at = cut.min(src.len());
        while !src.is_char_boundary(at) {
            at -= 1;
        }
        src.insert_str(at, &insert);
        if let Err(e) = PolicySet::load(&src) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
