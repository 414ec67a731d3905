//! A differential test of `verify` against a small reference model of the
//! check order of `docs/format.md` §7, written from the document, not from
//! the code: mutated writs (field edits re-signed with the vector keys, other
//! signers, tampered signatures, time edges, approvals, modes, status, use
//! numbers, scope and host variations) must get the verdict the model
//! predicts, so a change of `verify` that drifts from the spec fails here.
//!
//! The pattern languages (§4.1, §4.2, §4.4) are checked the same way against
//! naive recursive matchers written from the prose.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use writ_core::digest::Sha256Digest;
use writ_core::fixtures::{self, NOW, T0};
use writ_core::model::{Action, Approval, Governance, Predicate};
use writ_core::spec::{AttemptSpec, ContextSpec, HostSpec, ModeSpec, StatusSpec};
use writ_core::{DenialCode, SigningKey, TrustRoot, b64, dsse, glob, issue, verify};

// ---------------------------------------------------------------- the case

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Issuer,
    Retired,
    Revoked,
    Stranger,
    Alice,
}

impl Who {
    fn key(self) -> SigningKey {
        match self {
            Self::Issuer => fixtures::issuer(),
            Self::Retired => fixtures::retired_issuer(),
            Self::Revoked => fixtures::revoked_issuer(),
            Self::Stranger => fixtures::stranger(),
            Self::Alice => fixtures::alice(),
        }
    }
    /// §7 step 2: only trust-root keys with role `issuer` are considered.
    fn is_issuer(self) -> bool {
        matches!(self, Self::Issuer | Self::Retired | Self::Revoked)
    }
}

#[derive(Clone, Copy, Debug)]
enum Appr {
    Alice,
    Bob,
    Carol,
    Dave,
    Stranger,
    Forged,
    NonCanonical,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trust {
    Vectors,
    Default,
    Strict,
}

#[derive(Clone, Copy, Debug)]
enum Stat {
    Unknown,
    Good(i64),
    Revoked,
}

#[derive(Clone, Copy, Debug)]
enum ExecEdit {
    None,
    OtherProgram,
    OtherDigest,
    ExtraArg,
    Swapped,
    OptionIntoGlob,
    ExtraEnv,
    WrongFixedEnv,
    OtherCwd,
}

#[derive(Clone, Copy, Debug)]
enum HostEdit {
    Absent,
    Good,
    UpperCase,
    Other,
    NoLabel,
}

#[derive(Clone, Debug)]
struct Case {
    signers: Vec<Who>,
    tamper: Option<usize>,
    issuer_field: Who,
    issued: i64,
    nb: i64,
    life: i64,
    required: u32,
    group: Option<&'static str>,
    approvals: Vec<Appr>,
    uses: Option<u32>,
    offline: bool,
    older_action_first: bool,
    trust: Trust,
    mode: ModeSpec,
    status: Stat,
    use_count: Option<u32>,
    now: i64,
    attempt: Option<ExecEdit>,
    host: HostEdit,
    weak_gate: bool,
}

/// Mostly `common` (so that later checks are reached), sometimes one of `rare`.
fn mostly<T: Clone + core::fmt::Debug + 'static>(common: T, rare: Vec<T>) -> BoxedStrategy<T> {
    prop_oneof![6 => Just(common), 1 => prop::sample::select(rare)].boxed()
}

fn case() -> impl Strategy<Value = Case> {
    let who = prop_oneof![
        6 => Just(vec![Who::Issuer]),
        1 => prop::sample::subsequence(vec![Who::Issuer, Who::Retired, Who::Revoked, Who::Stranger, Who::Alice], 1..=3)
            .prop_shuffle(),
    ];
    let appr = prop::sample::select(vec![
        Appr::Alice,
        Appr::Bob,
        Appr::Alice,
        Appr::Bob,
        Appr::Carol,
        Appr::Dave,
        Appr::Stranger,
        Appr::Forged,
        Appr::NonCanonical,
    ]);
    let approvals = prop_oneof![3 => Just(vec![]), 1 => prop::collection::vec(appr, 1..=3)];
    let edit = prop::sample::select(vec![
        ExecEdit::None,
        ExecEdit::OtherProgram,
        ExecEdit::OtherDigest,
        ExecEdit::ExtraArg,
        ExecEdit::Swapped,
        ExecEdit::OptionIntoGlob,
        ExecEdit::ExtraEnv,
        ExecEdit::WrongFixedEnv,
        ExecEdit::OtherCwd,
    ]);
    (
        (who, prop::option::weighted(0.05, 0usize..3), mostly(Who::Issuer, vec![Who::Retired, Who::Alice])),
        (
            mostly(0i64, vec![-172_800, -60, 120]),
            mostly(0i64, vec![60]),
            mostly(3600i64, vec![600, 601, 3601, 7200, 7201, 90_000, 0]),
        ),
        (mostly(0u32, vec![1, 2, 3]), mostly(None, vec![Some("sre"), Some("dev")]), approvals),
        (mostly(None, vec![Some(0u32), Some(1), Some(2)]), mostly(true, vec![false]), prop::bool::weighted(0.2)),
        (
            prop::sample::select(vec![Trust::Vectors, Trust::Vectors, Trust::Default, Trust::Strict]),
            prop::sample::select(vec![ModeSpec::Check, ModeSpec::Offline, ModeSpec::Offline, ModeSpec::Online]),
            prop::sample::select(vec![
                Stat::Unknown,
                Stat::Good(0),
                Stat::Good(300),
                Stat::Good(301),
                Stat::Good(-1),
                Stat::Revoked,
            ]),
            prop::option::of(0u32..=3),
        ),
        (
            mostly(60i64, vec![-1, 0, 59, 600, 3599, 3600, 7199, 7200]),
            prop::option::weighted(0.9, prop_oneof![2 => Just(ExecEdit::None), 3 => edit]),
            mostly(HostEdit::Good, vec![HostEdit::Absent, HostEdit::UpperCase, HostEdit::Other, HostEdit::NoLabel]),
            prop::bool::weighted(0.1),
        ),
    )
        .prop_map(
            |(
                (signers, tamper, issuer_field),
                (issued, nb, life),
                (required, group, approvals),
                (uses, offline, older),
                (trust, mode, status, use_count),
                (now, attempt, host, weak_gate),
            )| Case {
                tamper: tamper.filter(|t| *t < signers.len()),
                signers,
                issuer_field,
                issued,
                nb,
                life,
                required,
                group,
                approvals,
                uses,
                offline,
                older_action_first: older,
                trust,
                mode,
                status,
                use_count,
                now,
                attempt,
                host,
                weak_gate,
            },
        )
}

// ------------------------------------------------------- building the writ

fn non_canonical_b64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b = text.as_bytes().to_vec();
    let i = b.len() - 3;
    let v = ALPHABET.iter().position(|c| *c == b[i]).unwrap();
    b[i] = ALPHABET[v | 1];
    String::from_utf8(b).unwrap()
}

fn approval(a: Appr) -> Approval {
    match a {
        Appr::Alice => fixtures::approval(&fixtures::alice()),
        Appr::Bob => fixtures::approval(&fixtures::bob()),
        Appr::Carol => fixtures::approval(&fixtures::carol()),
        Appr::Dave => fixtures::approval(&fixtures::dave()),
        Appr::Stranger => fixtures::approval(&fixtures::stranger()),
        Appr::Forged => {
            Approval { sig: fixtures::approval(&fixtures::alice()).sig, ..fixtures::approval(&fixtures::bob()) }
        }
        Appr::NonCanonical => {
            let a = fixtures::approval(&fixtures::bob());
            Approval { sig: non_canonical_b64(&a.sig), ..a }
        }
    }
}

fn predicate(c: &Case) -> Predicate {
    let mut p = fixtures::predicate();
    p.issuer = c.issuer_field.key().key_id();
    p.issued_at = T0.plus(c.issued);
    p.validity.not_before = T0.plus(c.nb);
    p.validity.not_after = T0.plus(c.nb + c.life);
    p.governance = Governance {
        approvals_required: c.required,
        approver_group: c.group.map(String::from),
        approvals: c.approvals.iter().map(|a| approval(*a)).collect(),
    };
    p.scope.uses = c.uses;
    p.scope.offline = c.offline;
    if c.older_action_first {
        let mut older = p.scope.actions[0].clone();
        if let Action::Exec(e) = &mut older {
            e.sha256 = Sha256Digest::of(b"an older build");
        }
        p.scope.actions.insert(0, older);
    }
    p
}

fn envelope(c: &Case) -> Vec<u8> {
    let payload = serde_json::to_vec(&issue::statement(predicate(c))).unwrap();
    let keys: Vec<SigningKey> = c.signers.iter().map(|w| w.key()).collect();
    let refs: Vec<&SigningKey> = keys.iter().collect();
    let bytes = dsse::sign_multi(dsse::IN_TOTO_PAYLOAD_TYPE, &payload, &refs);
    let Some(t) = c.tamper else { return bytes };
    let mut env: dsse::Envelope = serde_json::from_slice(&bytes).unwrap();
    let mut sig = b64::decode(&env.signatures[t].sig, 64).unwrap();
    sig[5] ^= 0x01;
    env.signatures[t].sig = b64::encode(&sig);
    serde_json::to_vec(&env).unwrap()
}

fn context(c: &Case) -> ContextSpec {
    let base = fixtures::run_context();
    let mut args = fixtures::good_args();
    let mut attempt = c.attempt.map(|_| fixtures::exec_attempt(args.clone()));
    if let (Some(edit), Some(AttemptSpec::Exec { program, sha256, args: a, env, cwd, .. })) = (c.attempt, &mut attempt)
    {
        match edit {
            ExecEdit::None => {}
            ExecEdit::OtherProgram => *program = "/usr/bin/other".into(),
            ExecEdit::OtherDigest => *sha256 = Sha256Digest::of(b"tampered"),
            ExecEdit::ExtraArg => a.push("--force".into()),
            ExecEdit::Swapped => a.swap(0, 2),
            ExecEdit::OptionIntoGlob => a[3] = "--exec=api-x".into(),
            ExecEdit::ExtraEnv => {
                env.insert("LD_PRELOAD".into(), "/tmp/x.so".into());
            }
            ExecEdit::WrongFixedEnv => {
                env.insert("PATH".into(), "/tmp".into());
            }
            ExecEdit::OtherCwd => *cwd = "/tmp".into(),
        }
        args.clone_from(a);
    }
    let labels: BTreeSet<String> = ["ci".to_string()].into_iter().collect();
    let host = match c.host {
        HostEdit::Absent => None,
        HostEdit::Good => Some(HostSpec { hostname: "build-7.example.com".into(), labels }),
        HostEdit::UpperCase => Some(HostSpec { hostname: "BUILD-7.Example.COM".into(), labels }),
        HostEdit::Other => Some(HostSpec { hostname: "laptop.example.com".into(), labels }),
        HostEdit::NoLabel => Some(HostSpec { hostname: "build-7.example.com".into(), labels: BTreeSet::new() }),
    };
    ContextSpec {
        now: NOW.plus(c.now - 60),
        mode: c.mode,
        attempt,
        host,
        capabilities: c.weak_gate.then(|| vec!["wall_clock".into(), "cpu".into(), "memory".into()]),
        status: match c.status {
            Stat::Unknown => StatusSpec::Unknown,
            Stat::Good(age) => StatusSpec::Good { checked_at: NOW.plus(c.now - 60 - age) },
            Stat::Revoked => StatusSpec::Revoked { at: T0 },
        },
        use_count: c.use_count,
        ..base
    }
}

fn trust(t: Trust) -> TrustRoot {
    match t {
        Trust::Vectors => fixtures::trust_root(false),
        Trust::Default => fixtures::trust_root_default(),
        Trust::Strict => fixtures::trust_root_strict(),
    }
}

// ------------------------------------------------------ the reference model

/// The trust-root settings the model reads (§6), with their defaults.
struct Settings {
    lifetime_cap: Option<i64>,
    require_status: bool,
    status_max_age: i64,
    offline_cap: i64,
}

fn settings(t: Trust) -> Settings {
    match t {
        Trust::Vectors => {
            Settings { lifetime_cap: Some(86_400), require_status: false, status_max_age: 300, offline_cap: 7200 }
        }
        Trust::Default => Settings { lifetime_cap: None, require_status: false, status_max_age: 300, offline_cap: 600 },
        Trust::Strict => {
            Settings { lifetime_cap: Some(86_400), require_status: true, status_max_age: 300, offline_cap: 7200 }
        }
    }
}

/// §4.1 globs, as naively as the prose says it: `*` any run, `?` one char.
fn ref_glob(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|i| ref_glob(rest, &t[i..])),
        Some((c, rest)) => t.split_first().is_some_and(|(tc, trest)| (*c == '?' || c == tc) && ref_glob(rest, trest)),
    }
}

fn ref_glob_str(p: &str, t: &str) -> bool {
    ref_glob(&p.chars().collect::<Vec<_>>(), &t.chars().collect::<Vec<_>>())
}

/// The base fixture's argument rules, as the prose reads them.
fn ref_args_ok(args: &[String]) -> bool {
    let one_of = |v: &str, set: &[&str]| set.contains(&v);
    let glob = |p: &str, v: &str| (!v.starts_with('-') || p.starts_with('-')) && ref_glob_str(p, v);
    args.len() == 10
        && args[0] == "--env"
        && one_of(&args[1], &["staging", "production"])
        && args[2] == "--service"
        && glob("api-*", &args[3])
        && args[4] == "--version"
        && glob("v?.*", &args[5])
        && args[6] == "--region"
        && one_of(&args[7], &["eu-west-1", "us-east-1"])
        && args[8] == "--dry-run"
        && one_of(&args[9], &["true", "false"])
}

fn model(c: &Case) -> Option<DenialCode> {
    use DenialCode::*;
    let s = settings(c.trust);
    // Step 2: signatures in order; only issuer-role keys are considered.
    let mut verified = Vec::new();
    for (i, w) in c.signers.iter().enumerate() {
        if !w.is_issuer() {
            continue;
        }
        if *w == Who::Revoked {
            return Some(KeyRevoked);
        }
        if c.tamper == Some(i) {
            return Some(BadSignature);
        }
        verified.push(*w);
    }
    if verified.is_empty() {
        return Some(UnknownKey);
    }
    // Step 3: statement rules, then the issuer binding and its window.
    let (issued, nb, na) = (c.issued, c.nb, c.nb + c.life);
    if nb >= na || issued > nb || c.uses == Some(0) {
        return Some(Malformed);
    }
    if !verified.contains(&c.issuer_field) {
        return Some(Malformed);
    }
    if c.issuer_field == Who::Retired && issued >= -86_400 {
        return Some(KeyNotValid);
    }
    // Step 4.
    let now = c.now;
    if now < nb {
        return Some(NotYetValid);
    }
    if now >= na {
        return Some(Expired);
    }
    if s.lifetime_cap.is_some_and(|cap| na - issued > cap) {
        return Some(LifetimeExceeded);
    }
    // Step 5: approvals (all dated T0), distinct names in the group.
    let mut names = BTreeSet::new();
    for a in &c.approvals {
        let (name, groups): (&str, &[&str]) = match a {
            Appr::Stranger => return Some(BadApproval),
            Appr::Carol => return Some(SelfApproval),
            Appr::Alice => ("alice", &["sre"]),
            Appr::Bob | Appr::Forged | Appr::NonCanonical => ("bob", &["sre"]),
            Appr::Dave => ("dave", &["dev"]),
        };
        if 0 > issued || matches!(a, Appr::Forged | Appr::NonCanonical) {
            return Some(BadApproval);
        }
        if c.group.is_none_or(|g| groups.contains(&g)) {
            names.insert(name);
        }
    }
    if names.len() < c.required as usize {
        return Some(ApprovalsInsufficient);
    }
    // Steps 6, 7: no lineage, no receipt required by these trust roots.
    // Step 8.
    if matches!(c.status, Stat::Revoked) {
        return Some(Revoked);
    }
    match c.mode {
        ModeSpec::Check => {}
        ModeSpec::Offline => {
            if !c.offline || c.uses.is_some() || na - nb > s.offline_cap {
                return Some(OfflineNotAllowed);
            }
            if s.require_status {
                return Some(StatusUnknown);
            }
        }
        ModeSpec::Online => {
            let fresh = matches!(c.status, Stat::Good(age) if age >= 0 && age <= s.status_max_age);
            if s.require_status && !fresh {
                return Some(StatusUnknown);
            }
            if let Some(uses) = c.uses {
                match c.use_count {
                    None => return Some(StatusUnknown),
                    Some(n) if n == 0 || n > uses => return Some(Replayed),
                    Some(_) => {}
                }
            }
        }
    }
    // Step 9: any action matching completely permits; env, cwd, host, boundaries.
    let edit = c.attempt?;
    let mut args = fixtures::good_args();
    match edit {
        ExecEdit::OtherProgram => return Some(ScopeProgram),
        ExecEdit::OtherDigest => return Some(ScopeProgram),
        ExecEdit::ExtraArg => args.push("--force".into()),
        ExecEdit::Swapped => args.swap(0, 2),
        ExecEdit::OptionIntoGlob => args[3] = "--exec=api-x".into(),
        _ => {}
    }
    if !ref_args_ok(&args) {
        return Some(ScopeArgs);
    }
    match edit {
        ExecEdit::ExtraEnv | ExecEdit::WrongFixedEnv => return Some(ScopeEnv),
        ExecEdit::OtherCwd => return Some(ScopeCwd),
        _ => {}
    }
    match c.host {
        HostEdit::Absent | HostEdit::Other | HostEdit::NoLabel => return Some(ScopeHost),
        HostEdit::Good | HostEdit::UpperCase => {}
    }
    if c.weak_gate {
        return Some(ScopeBoundary);
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn verify_agrees_with_the_reference_model(c in case()) {
        let got = verify(&envelope(&c), &trust(c.trust), &context(&c).to_context().unwrap()).err();
        let want = model(&c);
        prop_assert_eq!(got.as_ref().map(|d| d.code), want, "{:?}: {:?}", c, got.map(|d| d.detail));
    }
}

// ------------------------------------------- pattern languages (§4.1–§4.4)

/// §4.2 written as plainly as the prose: segments, `**` any number of
/// segments, other segments exactly one non-empty segment (an empty pattern
/// segment only the empty one), and the forms that never match.
fn ref_path(pattern: &str, path: &str) -> bool {
    fn never(p: &str) -> bool {
        let l = p.to_ascii_lowercase();
        !p.starts_with('/')
            || ["%2e", "%2f", "%5c", "%00"].iter().any(|e| l.contains(e))
            || p.contains(['\\', ';', '?', '#'])
            || p.chars().any(char::is_control)
            || {
                let segs: Vec<&str> = p[1..].split('/').collect();
                segs.iter().enumerate().any(|(i, s)| *s == "." || *s == ".." || (s.is_empty() && i + 1 != segs.len()))
            }
    }
    fn segs_match(p: &[&str], s: &[&str]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((&"**", rest)) => (0..=s.len()).any(|i| segs_match(rest, &s[i..])),
            Some((ps, rest)) => s.split_first().is_some_and(|(ss, srest)| {
                (if ps.is_empty() { ss.is_empty() } else { !ss.is_empty() && ref_glob_str(ps, ss) })
                    && segs_match(rest, srest)
            }),
        }
    }
    if never(pattern) || never(path) || path.contains('*') || pattern.split('/').any(|s| s.contains("**") && s != "**")
    {
        return false;
    }
    let p: Vec<&str> = pattern[1..].split('/').collect();
    let s: Vec<&str> = path[1..].split('/').collect();
    segs_match(&p, &s)
}

fn seg() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "ab", "", "*", "**", "a*", "*b", ".", "..", "%2e", "A", "a**"])
        .prop_map(String::from)
}

fn path_of(segs: Vec<String>) -> String {
    format!("/{}", segs.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn http_paths_match_as_the_prose_says(p in prop::collection::vec(seg(), 0..5), t in prop::collection::vec(seg(), 0..6)) {
        let (pattern, path) = (path_of(p), path_of(t));
        prop_assert_eq!(glob::path_match(&pattern, &path), ref_path(&pattern, &path), "{} vs {}", pattern, path);
    }

    #[test]
    fn globs_match_as_the_prose_says(p in "[ab*?-]{0,7}", t in "[ab-]{0,8}") {
        prop_assert_eq!(glob::glob_match(&p, &t), ref_glob_str(&p, &t));
        let arg = (!t.starts_with('-') || p.starts_with('-')) && ref_glob_str(&p, &t);
        prop_assert_eq!(glob::arg_glob_match(&p, &t), arg);
    }

    #[test]
    fn hosts_match_ignoring_ascii_case(p in "[aB*?.]{0,6}", t in "[AbB.é]{0,6}") {
        let want = ref_glob_str(&p.to_ascii_lowercase(), &t.to_ascii_lowercase());
        prop_assert_eq!(glob::host_match(&p, &t), want);
    }
}

/// The model must itself be able to fail: a handful of pinned cases.
#[test]
fn the_model_is_not_vacuous() {
    let base = Case {
        signers: vec![Who::Issuer],
        tamper: None,
        issuer_field: Who::Issuer,
        issued: 0,
        nb: 0,
        life: 3600,
        required: 0,
        group: None,
        approvals: vec![],
        uses: None,
        offline: true,
        older_action_first: false,
        trust: Trust::Vectors,
        mode: ModeSpec::Offline,
        status: Stat::Unknown,
        use_count: None,
        now: 60,
        attempt: Some(ExecEdit::None),
        host: HostEdit::Good,
        weak_gate: false,
    };
    let cases: BTreeMap<&str, (Case, Option<DenialCode>)> = [
        ("allow", (base.clone(), None)),
        ("second signer binds", (Case { signers: vec![Who::Retired, Who::Issuer], ..base.clone() }, None)),
        ("older action first", (Case { older_action_first: true, ..base.clone() }, None)),
        ("default offline cap", (Case { trust: Trust::Default, ..base.clone() }, Some(DenialCode::OfflineNotAllowed))),
        ("tampered", (Case { tamper: Some(0), ..base.clone() }, Some(DenialCode::BadSignature))),
    ]
    .into_iter()
    .collect();
    for (name, (c, want)) in cases {
        assert_eq!(model(&c), want, "model: {name}");
        let got = verify(&envelope(&c), &trust(c.trust), &context(&c).to_context().unwrap()).err().map(|d| d.code);
        assert_eq!(got, want, "verify: {name}");
    }
}

/// The generated cases reach every step of §7 the model covers (so the
/// differential test above cannot pass by exercising one path only).
#[test]
fn the_cases_reach_every_verdict() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let mut seen: BTreeMap<Option<DenialCode>, usize> = BTreeMap::new();
    for _ in 0..4000 {
        let c = strategy.new_tree(&mut runner).unwrap().current();
        *seen.entry(model(&c)).or_default() += 1;
    }
    use DenialCode::*;
    for want in [
        None,
        Some(Malformed),
        Some(UnknownKey),
        Some(KeyRevoked),
        Some(KeyNotValid),
        Some(BadSignature),
        Some(NotYetValid),
        Some(Expired),
        Some(LifetimeExceeded),
        Some(ApprovalsInsufficient),
        Some(BadApproval),
        Some(SelfApproval),
        Some(Revoked),
        Some(OfflineNotAllowed),
        Some(StatusUnknown),
        Some(Replayed),
        Some(ScopeProgram),
        Some(ScopeArgs),
        Some(ScopeEnv),
        Some(ScopeCwd),
        Some(ScopeHost),
        Some(ScopeBoundary),
    ] {
        assert!(seen.contains_key(&want), "no generated case gives {want:?}: {seen:?}");
    }
}
