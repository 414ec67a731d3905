//! Deterministic keys, trust roots and writs for tests, benchmarks, fuzzing
//! seeds and the `testdata/` vectors. Never use these keys for anything real:
//! their seeds are public.

#![allow(
    clippy::missing_panics_doc,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "fixtures are test support built from constants"
)]

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use crate::approval::{self, Verdict};
use crate::b64;
use crate::denial::DenialCode;
use crate::digest::{DigestSet, Sha256Digest};
use crate::dsse;
use crate::issue;
use crate::json::StrictMap;
use crate::keys::SigningKey;
use crate::model::*;
use crate::spec::{AttemptSpec, ContextSpec, HostSpec, ModeSpec, StatusSpec};
use crate::time::Timestamp;
use crate::trust::{Role, TrustRoot, TrustedPasskeyFile, key_entry};

/// 2026-01-01T00:00:00Z, the fixtures' issuance time.
pub const T0: Timestamp = Timestamp(1_767_225_600);
/// The fixtures' "now": one minute after issuance.
pub const NOW: Timestamp = Timestamp(1_767_225_660);
/// The program every exec fixture names.
pub const PROGRAM: &str = "/usr/bin/deploy";
/// The bytes that program is taken to have.
pub const PROGRAM_BYTES: &[u8] = b"#!/bin/sh\necho deploying \"$@\"\n";

/// A fixture key by seed byte.
#[must_use]
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(&[seed; 32])
}

/// The issuer key.
#[must_use]
pub fn issuer() -> SigningKey {
    key(1)
}
/// Approver `alice` (group `sre`).
#[must_use]
pub fn alice() -> SigningKey {
    key(2)
}
/// Approver `bob` (group `sre`).
#[must_use]
pub fn bob() -> SigningKey {
    key(3)
}
/// Requester `carol`, who is also an approver.
#[must_use]
pub fn carol() -> SigningKey {
    key(4)
}
/// A revoked issuer key.
#[must_use]
pub fn revoked_issuer() -> SigningKey {
    key(5)
}
/// An issuer key retired at `T0 - 1 day`.
#[must_use]
pub fn retired_issuer() -> SigningKey {
    key(6)
}
/// A key no trust root lists.
#[must_use]
pub fn stranger() -> SigningKey {
    key(7)
}
/// The ledger's checkpoint key; its trust-root name is [`LEDGER_NAME`].
#[must_use]
pub fn ledger() -> SigningKey {
    key(8)
}
/// The ledger's note key name and checkpoint origin.
pub const LEDGER_NAME: &str = "ledger.writ.example";

/// A receipt proving `envelope`'s issuance: a C2SP tlog-proof of index 2 in
/// a three-entry log, checkpoint signed by [`ledger`].
#[must_use]
pub fn receipt_for(envelope: &[u8], p: &Predicate) -> Vec<u8> {
    use crate::entry::{Entry, Issuance};
    use writ_tlog::hash::{leaf_hash, node_hash};
    let entry = Entry::Issuance(Issuance {
        time: p.issued_at,
        request_id: p.request.id.clone(),
        writ_id: p.id.clone(),
        envelope_digest: Sha256Digest::of(envelope),
        issuer: p.issuer.to_string(),
        not_before: p.validity.not_before,
        not_after: p.validity.not_after,
        parent_writ_id: None,
        parent_digest: None,
    })
    .encode()
    .expect("fixture entry encodes");
    let left = node_hash(&leaf_hash(b"earlier entry 0"), &leaf_hash(b"earlier entry 1"));
    let root = node_hash(&left, &leaf_hash(&entry));
    let signer = writ_tlog::note::NoteSigner::new(LEDGER_NAME, ledger().as_dalek().clone()).expect("key name");
    let note = writ_tlog::checkpoint::Checkpoint::new(LEDGER_NAME, 3, root).sign(&signer).expect("sign");
    writ_tlog::tlog_proof::TlogProof { extra: Some(entry), index: 2, hashes: vec![left], checkpoint: note.into_bytes() }
        .to_bytes()
}

/// Bob's second approver key: listed under the same name `bob`.
#[must_use]
pub fn bob_second_key() -> SigningKey {
    key(10)
}

/// Approver `dave`, in group `dev` only.
#[must_use]
pub fn dave() -> SigningKey {
    key(9)
}

/// The fixtures' trust root (lifetime cap one day, offline cap two hours);
/// `receipts` makes it require ledger receipts.
#[must_use]
pub fn trust_root(receipts: bool) -> TrustRoot {
    let mut t = trust_keys();
    t.settings_mut().max_writ_lifetime_secs(Some(86_400)).require_receipt(receipts).max_offline_lifetime_secs(7200);
    t
}

/// The fixture keys with every trust-root setting at its default
/// (`trust-default.json`): no lifetime cap, no receipt or status required,
/// status at most 300 s old, offline only for writs of at most 600 s.
#[must_use]
pub fn trust_root_default() -> TrustRoot {
    trust_keys()
}

/// The fixture keys with a fresh status required (`trust-strict.json`).
#[must_use]
pub fn trust_root_strict() -> TrustRoot {
    let mut t = trust_keys();
    t.settings_mut().max_writ_lifetime_secs(Some(86_400)).require_status(true).max_offline_lifetime_secs(7200);
    t
}

/// Every trust-root file the vectors name, by file name.
#[must_use]
pub fn trust_files() -> Vec<(&'static str, TrustRoot)> {
    vec![
        ("trust.json", trust_root(false)),
        ("trust-receipts.json", trust_root(true)),
        ("trust-default.json", trust_root_default()),
        ("trust-strict.json", trust_root_strict()),
        ("trust-passkey.json", trust_root_passkey()),
        ("trust-witnessed.json", crate::witness_vectors::trust_root_witnessed()),
    ]
}

/// The relying-party id of the fixture passkey.
pub const PASSKEY_RP_ID: &str = "writ.example";

/// Erin's passkey (an `sre` approver holding a WebAuthn credential for
/// [`PASSKEY_RP_ID`]).
#[must_use]
pub fn erin() -> crate::webauthn::testing::Authenticator {
    crate::webauthn::testing::Authenticator::new(1, PASSKEY_RP_ID, false)
}

/// The trust-root entry of an authenticator's credential.
#[must_use]
pub fn passkey_entry(name: &str, groups: &[&str], a: &crate::webauthn::testing::Authenticator) -> TrustedPasskeyFile {
    let c = &a.credential;
    TrustedPasskeyFile {
        name: name.into(),
        roles: vec![Role::Approver],
        groups: groups.iter().map(|g| (*g).to_string()).collect(),
        public_key: b64::encode(c.public_key()),
        key_id: c.key_id(),
        credential_id: crate::webauthn::b64url_encode(&c.credential_id),
        rp_id: c.rp_id.clone(),
        user_verification: c.user_verification,
        not_before: None,
        not_after: None,
        revoked: false,
    }
}

/// [`trust_root`] (no receipts) plus erin's passkey (`trust-passkey.json`).
#[must_use]
pub fn trust_root_passkey() -> TrustRoot {
    let mut t = trust_root(false);
    t.add_passkey(passkey_entry("erin", &["sre"], &erin())).expect("the fixture passkey is valid");
    t
}

/// A passkey approval of the fixture request at `time`, the assertion made
/// over `challenge_input` as `spec` says (the right input for a valid one).
#[must_use]
pub fn passkey_approval_with(
    a: &crate::webauthn::testing::Authenticator,
    time: Timestamp,
    challenge_input: &[u8],
    spec: &crate::webauthn::testing::AssertionSpec<'_>,
) -> Approval {
    let (parts, sig) = a.assert_with(challenge_input, spec).encode();
    Approval { approver: a.credential.key_id(), time, sig, webauthn: Some(parts) }
}

/// A valid passkey approval of the fixture request, signed at [`T0`].
#[must_use]
pub fn passkey_approval(a: &crate::webauthn::testing::Authenticator) -> Approval {
    passkey_approval_with(a, T0, &approval::signing_input(&request_digest(), Verdict::Approve, T0), &a.spec())
}

fn trust_keys() -> TrustRoot {
    let mut t = TrustRoot::empty();
    let mut add = |name: &str, roles: Vec<Role>, groups: &[&str], k: &SigningKey| {
        let mut e = key_entry(name, roles, groups.iter().map(|g| (*g).to_string()).collect(), &k.public());
        if name == "revoked-issuer" {
            e.revoked = true;
        }
        if name == "retired-issuer" {
            e.not_after = Some(T0.plus(-86_400));
        }
        t.add(e).expect("fixture keys are valid");
    };
    add("authority", vec![Role::Issuer], &[], &issuer());
    add("alice", vec![Role::Approver], &["sre"], &alice());
    add("bob", vec![Role::Approver], &["sre"], &bob());
    add("carol", vec![Role::Requester, Role::Approver], &["sre", "dev"], &carol());
    add("revoked-issuer", vec![Role::Issuer], &[], &revoked_issuer());
    add("retired-issuer", vec![Role::Issuer], &[], &retired_issuer());
    add("dave", vec![Role::Approver], &["dev"], &dave());
    // Bob's second key (a rotation): names may repeat, and name one principal.
    add("bob", vec![Role::Approver], &["sre"], &bob_second_key());
    add(LEDGER_NAME, vec![Role::Ledger], &[], &ledger());
    t
}

fn uuid(n: u8) -> String {
    alloc::format!("01940000-0000-7000-8000-0000000000{n:02x}")
}

/// The canonical request digest the fixtures' approvals sign.
#[must_use]
pub fn request_digest() -> Sha256Digest {
    Sha256Digest::of(b"fixture request")
}

/// A signed approval of the fixture request, signed at [`T0`].
#[must_use]
pub fn approval(k: &SigningKey) -> Approval {
    approval_at(k, T0)
}

/// A signed approval of the fixture request, signed at `time`.
#[must_use]
pub fn approval_at(k: &SigningKey, time: Timestamp) -> Approval {
    Approval {
        approver: k.key_id(),
        time,
        sig: b64::encode(&k.sign(&approval::signing_input(&request_digest(), Verdict::Approve, time))),
        webauthn: None,
    }
}

/// The base predicate: exec of [`PROGRAM`] with ten argument rules.
#[must_use]
pub fn predicate() -> Predicate {
    let mut args = vec![
        ArgRule::Exact("--env".into()),
        ArgRule::OneOf(vec!["staging".into(), "production".into()]),
        ArgRule::Exact("--service".into()),
        ArgRule::Glob("api-*".into()),
        ArgRule::Exact("--version".into()),
        ArgRule::Glob("v?.*".into()),
        ArgRule::Exact("--region".into()),
        ArgRule::OneOf(vec!["eu-west-1".into(), "us-east-1".into()]),
        ArgRule::Exact("--dry-run".into()),
        ArgRule::OneOf(vec!["true".into(), "false".into()]),
    ];
    args.truncate(crate::limits::MAX_ARG_RULES);
    let mut env = StrictMap::default();
    env.0.insert("PATH".into(), Some("/usr/bin:/bin".into()));
    env.0.insert("LANG".into(), None);
    Predicate {
        id: uuid(1),
        issuer: issuer().key_id(),
        issued_at: T0,
        request: RequestRef {
            id: uuid(2),
            requester: carol().key_id(),
            requester_name: "carol".into(),
            reason: "ship api v2.3 to staging".into(),
            digest: DigestSet(request_digest()),
        },
        policy: PolicyProof {
            id: "default".into(),
            digest: DigestSet(Sha256Digest::of(b"policy set")),
            decision: PolicyDecision::Allow,
            determining_policies: vec!["deploy-needs-two-sre".into()],
        },
        governance: Governance { approvals_required: 0, approver_group: None, approvals: vec![] },
        conditions: vec![Condition {
            kind: "host".into(),
            evidence_digest: DigestSet(Sha256Digest::of(b"host evidence")),
            verified_at: T0,
        }],
        scope: Scope {
            actions: vec![Action::Exec(ExecAction {
                program: PROGRAM.into(),
                sha256: Sha256Digest::of(PROGRAM_BYTES),
                args,
                more_args: false,
            })],
            environment: Environment {
                hosts: Some(vec!["build-*.example.com".into()]),
                labels: vec!["ci".into()],
                env,
                cwd: Some("/srv/app".into()),
            },
            boundaries: Boundaries {
                wall_clock_secs: Some(600),
                cpu_secs: Some(120),
                memory_bytes: Some(1 << 30),
                network: Some(false),
                ..Boundaries::default()
            },
            uses: None,
            offline: true,
        },
        validity: Validity { not_before: T0, not_after: T0.plus(3600) },
        lineage: Lineage { parent: None, depth: 0, max_depth: 2, holder: None },
    }
}

/// The base predicate with two `sre` approvals required and given.
#[must_use]
pub fn approved_predicate() -> Predicate {
    let mut p = predicate();
    p.governance = Governance {
        approvals_required: 2,
        approver_group: Some("sre".into()),
        approvals: vec![approval(&alice()), approval(&bob())],
    };
    p
}

/// Signs a predicate with `k` (no validation: fixtures may be invalid on purpose).
#[must_use]
pub fn sign_with(p: Predicate, k: &SigningKey) -> Vec<u8> {
    let st = issue::statement(p);
    let payload = serde_json::to_vec(&st).expect("serializable");
    dsse::sign(dsse::IN_TOTO_PAYLOAD_TYPE, &payload, k)
}

/// Signs with the issuer key.
#[must_use]
pub fn sign(p: Predicate) -> Vec<u8> {
    sign_with(p, &issuer())
}

/// The invocation the base predicate permits.
#[must_use]
pub fn good_args() -> Vec<String> {
    ["--env", "staging", "--service", "api-gateway", "--version", "v2.3", "--region", "eu-west-1", "--dry-run", "false"]
        .iter()
        .map(|s| (*s).to_string())
        .collect()
}

/// An exec attempt of [`PROGRAM`].
#[must_use]
pub fn exec_attempt(args: Vec<String>) -> AttemptSpec {
    let mut env = BTreeMap::new();
    env.insert("PATH".into(), "/usr/bin:/bin".into());
    env.insert("LANG".into(), "C.UTF-8".into());
    AttemptSpec::Exec {
        program: PROGRAM.into(),
        sha256: Sha256Digest::of(PROGRAM_BYTES),
        args,
        env,
        cwd: "/srv/app".into(),
        arg_files: BTreeMap::new(),
    }
}

/// A context that runs the good invocation on a good host, offline.
#[must_use]
pub fn run_context() -> ContextSpec {
    ContextSpec {
        mode: ModeSpec::Offline,
        attempt: Some(exec_attempt(good_args())),
        host: Some(HostSpec {
            hostname: "build-7.example.com".into(),
            labels: ["ci".to_string()].into_iter().collect(),
        }),
        ..ContextSpec::check_at(NOW)
    }
}

/// One test vector: an envelope, a context, a trust root and the expected verdict.
#[derive(Clone, Debug)]
pub struct Vector {
    /// File stem.
    pub name: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// Envelope bytes.
    pub envelope: Vec<u8>,
    /// `trust.json` or `trust-receipts.json`.
    pub trust: &'static str,
    /// The verification context.
    pub context: ContextSpec,
    /// `None` = allow, else the denial code.
    pub expected: Option<DenialCode>,
}

fn flip_payload_byte(envelope: &[u8]) -> Vec<u8> {
    let mut env: dsse::Envelope = serde_json::from_slice(envelope).expect("fixture envelope");
    let mut payload = b64::decode(&env.payload, 1 << 20).expect("b64");
    let i = payload.iter().position(|&c| c == b'2').expect("has a 2");
    payload[i] = b'3';
    env.payload = b64::encode(&payload);
    serde_json::to_vec(&env).expect("json")
}

/// Every vector, in a fixed order.
#[must_use]
#[allow(clippy::too_many_lines, reason = "one entry per vector reads best as a list")]
pub fn vectors() -> Vec<Vector> {
    let ctx = run_context;
    let base = || sign(predicate());
    let v = |name, description, envelope, context, expected| Vector {
        name,
        description,
        envelope,
        trust: "trust.json",
        context,
        expected,
    };
    let mut out = Vec::new();

    out.push(v("allow_exec", "the permitted invocation on a permitted host, offline", base(), ctx(), None));
    out.push(v(
        "allow_check_only",
        "authenticity and validity only, no attempt",
        base(),
        ContextSpec::check_at(NOW),
        None,
    ));
    out.push(v(
        "allow_two_approvals",
        "two distinct sre approvals meet the quorum",
        sign(approved_predicate()),
        ctx(),
        None,
    ));
    {
        let mut p = predicate();
        p.scope.actions = vec![
            Action::Http(HttpAction { method: "POST".into(), path: "/v1/deploys/*".into(), body_sha256: None }),
            Action::Tool(ToolAction {
                name: "refund".into(),
                args: StrictMap([("amount".to_string(), ArgRule::Glob("?".into()))].into_iter().collect()),
                more_args: false,
                args_sha256: None,
                definition_sha256: None,
            }),
        ];
        let http = ContextSpec {
            attempt: Some(AttemptSpec::Http {
                method: "POST".into(),
                path: "/v1/deploys/42".into(),
                body_sha256: Sha256Digest::of(b"{}"),
            }),
            ..ctx()
        };
        out.push(v("allow_http", "an HTTP action matched by method and path pattern", sign(p.clone()), http, None));
        let tool = ContextSpec {
            attempt: Some(AttemptSpec::Tool {
                name: "refund".into(),
                args: [("amount".to_string(), "5".to_string())].into_iter().collect(),
                args_sha256: None,
                definition_sha256: None,
            }),
            ..ctx()
        };
        out.push(v("allow_tool", "a tool action with a constrained argument", sign(p.clone()), tool, None));
        let wrong_kind = ctx();
        out.push(v(
            "deny_scope_action",
            "an exec attempt against a writ that only permits http and tool",
            sign(p),
            wrong_kind,
            Some(DenialCode::ScopeAction),
        ));
    }
    // Lineage: a child that narrows, one that widens, one without its parent.
    {
        let parent = base();
        let mut child = predicate();
        child.id = uuid(3);
        child.lineage = Lineage {
            parent: Some(ParentRef { id: uuid(1), digest: DigestSet(Sha256Digest::of(&parent)) }),
            depth: 1,
            max_depth: 1,
            holder: None,
        };
        child.validity.not_after = T0.plus(1800);
        let with_parent = ContextSpec { ancestors: vec![b64::encode(&parent)], ..ctx() };
        out.push(v(
            "allow_child",
            "a child writ that narrows its parent",
            sign(child.clone()),
            with_parent.clone(),
            None,
        ));
        let mut wide = child.clone();
        wide.scope.boundaries.cpu_secs = Some(100_000);
        out.push(v(
            "deny_lineage_widened",
            "a child raising the parent's CPU limit",
            sign(wide),
            with_parent,
            Some(DenialCode::LineageWidened),
        ));
        out.push(v(
            "deny_lineage_broken",
            "a child presented without its parent",
            sign(child),
            ctx(),
            Some(DenialCode::LineageBroken),
        ));
    }

    out.push(v(
        "deny_malformed",
        "an envelope that is not JSON",
        b"{\"payload\":".to_vec(),
        ctx(),
        Some(DenialCode::Malformed),
    ));
    out.push(v(
        "deny_too_large",
        "an envelope over the size limit",
        vec![b' '; crate::limits::MAX_ENVELOPE_BYTES + 1],
        ctx(),
        Some(DenialCode::TooLarge),
    ));
    {
        let st = issue::statement(predicate());
        let payload = serde_json::to_vec(&st).expect("json");
        let env = dsse::sign("application/json", &payload, &issuer());
        out.push(v("deny_unsupported", "a payload type other than in-toto", env, ctx(), Some(DenialCode::Unsupported)));
    }
    out.push(v(
        "deny_unknown_key",
        "signed by a key the trust root does not list",
        sign_with(Predicate { issuer: stranger().key_id(), ..predicate() }, &stranger()),
        ctx(),
        Some(DenialCode::UnknownKey),
    ));
    out.push(v(
        "deny_key_revoked",
        "signed by a revoked issuer key",
        sign_with(Predicate { issuer: revoked_issuer().key_id(), ..predicate() }, &revoked_issuer()),
        ctx(),
        Some(DenialCode::KeyRevoked),
    ));
    out.push(v(
        "deny_key_not_valid",
        "signed by a retired key after its window",
        sign_with(Predicate { issuer: retired_issuer().key_id(), ..predicate() }, &retired_issuer()),
        ctx(),
        Some(DenialCode::KeyNotValid),
    ));
    out.push(v(
        "deny_bad_signature",
        "one payload byte changed after signing",
        flip_payload_byte(&base()),
        ctx(),
        Some(DenialCode::BadSignature),
    ));
    out.push(v(
        "deny_not_yet_valid",
        "verified before not_before",
        base(),
        ContextSpec { now: T0.plus(-1), ..ctx() },
        Some(DenialCode::NotYetValid),
    ));
    out.push(v(
        "deny_expired",
        "verified at not_after",
        base(),
        ContextSpec { now: T0.plus(3600), ..ctx() },
        Some(DenialCode::Expired),
    ));
    {
        let mut p = predicate();
        p.validity.not_after = T0.plus(2 * 86_400);
        out.push(v(
            "deny_lifetime_exceeded",
            "valid for two days; the trust root caps at one",
            sign(p),
            ctx(),
            Some(DenialCode::LifetimeExceeded),
        ));
    }
    {
        let mut p = approved_predicate();
        p.governance.approvals = vec![approval(&alice()), approval(&alice())];
        out.push(v(
            "deny_approvals_insufficient",
            "the same approver twice counts once",
            sign(p),
            ctx(),
            Some(DenialCode::ApprovalsInsufficient),
        ));
        let mut p = approved_predicate();
        p.governance.approvals = vec![approval(&alice()), approval(&dave())];
        out.push(v(
            "deny_approvals_wrong_group",
            "an approver outside the required group does not count",
            sign(p),
            ctx(),
            Some(DenialCode::ApprovalsInsufficient),
        ));
        let mut p = approved_predicate();
        let mut forged = approval(&bob());
        forged.sig = approval(&alice()).sig;
        p.governance.approvals = vec![approval(&alice()), forged];
        out.push(v(
            "deny_bad_approval",
            "bob's approval carries alice's signature",
            sign(p),
            ctx(),
            Some(DenialCode::BadApproval),
        ));
        let mut p = approved_predicate();
        p.governance.approvals = vec![approval(&alice()), approval(&carol())];
        out.push(v(
            "deny_self_approval",
            "the requester approved their own request",
            sign(p),
            ctx(),
            Some(DenialCode::SelfApproval),
        ));
    }
    {
        let mut bad_digest = ctx();
        if let Some(AttemptSpec::Exec { sha256, .. }) = &mut bad_digest.attempt {
            *sha256 = Sha256Digest::of(b"#!/bin/sh\nrm -rf /\n");
        }
        out.push(v(
            "deny_scope_program",
            "the program's bytes changed after issuance",
            base(),
            bad_digest,
            Some(DenialCode::ScopeProgram),
        ));
        let mut other = ctx();
        if let Some(AttemptSpec::Exec { program, .. }) = &mut other.attempt {
            *program = "/usr/bin/other".into();
        }
        out.push(v(
            "deny_scope_program_path",
            "a program the writ does not name",
            base(),
            other,
            Some(DenialCode::ScopeProgram),
        ));
        let mut args = good_args();
        args.push("--force".into());
        out.push(v(
            "deny_scope_args_extra",
            "one argument more than the rules",
            base(),
            ContextSpec { attempt: Some(exec_attempt(args)), ..ctx() },
            Some(DenialCode::ScopeArgs),
        ));
        let mut args = good_args();
        args.swap(0, 2);
        out.push(v(
            "deny_scope_args_reordered",
            "two arguments swapped",
            base(),
            ContextSpec { attempt: Some(exec_attempt(args)), ..ctx() },
            Some(DenialCode::ScopeArgs),
        ));
        let mut args = good_args();
        args[3] = "--exec=api-x".into();
        out.push(v(
            "deny_scope_args_glob_option",
            "a glob never matches an injected option",
            base(),
            ContextSpec { attempt: Some(exec_attempt(args)), ..ctx() },
            Some(DenialCode::ScopeArgs),
        ));
        let mut env = ctx();
        if let Some(AttemptSpec::Exec { env, .. }) = &mut env.attempt {
            env.insert("LD_PRELOAD".into(), "/tmp/evil.so".into());
        }
        out.push(v("deny_scope_env", "LD_PRELOAD is not on the allow-list", base(), env, Some(DenialCode::ScopeEnv)));
        let mut cwd = ctx();
        if let Some(AttemptSpec::Exec { cwd, .. }) = &mut cwd.attempt {
            *cwd = "/tmp".into();
        }
        out.push(v("deny_scope_cwd", "another working directory", base(), cwd, Some(DenialCode::ScopeCwd)));
        let mut host = ctx();
        host.host =
            Some(HostSpec { hostname: "laptop.example.com".into(), labels: ["ci".to_string()].into_iter().collect() });
        out.push(v("deny_scope_host", "a host the writ does not name", base(), host, Some(DenialCode::ScopeHost)));
        let weak =
            ContextSpec { capabilities: Some(vec!["wall_clock".into(), "cpu".into(), "memory".into()]), ..ctx() };
        out.push(v(
            "deny_scope_boundary",
            "a gate that cannot isolate the network",
            base(),
            weak,
            Some(DenialCode::ScopeBoundary),
        ));
    }
    {
        let mut p = predicate();
        p.scope.offline = false;
        out.push(v(
            "deny_offline_not_allowed",
            "an online-only writ run offline",
            sign(p),
            ctx(),
            Some(DenialCode::OfflineNotAllowed),
        ));
        let revoked = ContextSpec { status: StatusSpec::Revoked { at: T0.plus(30) }, ..ctx() };
        out.push(v("deny_revoked", "the authority reported it revoked", base(), revoked, Some(DenialCode::Revoked)));
        let mut p = predicate();
        p.scope.uses = Some(1);
        let online = ContextSpec { mode: ModeSpec::Online, ..ctx() };
        out.push(v(
            "deny_status_unknown",
            "a single-use writ whose use the authority did not count",
            sign(p.clone()),
            online.clone(),
            Some(DenialCode::StatusUnknown),
        ));
        out.push(v(
            "allow_single_use_first",
            "the first use of a single-use writ",
            sign(p.clone()),
            ContextSpec { use_count: Some(1), ..online.clone() },
            None,
        ));
        out.push(v(
            "deny_replayed",
            "the second use of a single-use writ",
            sign(p),
            ContextSpec { use_count: Some(2), ..online },
            Some(DenialCode::Replayed),
        ));
    }
    out.push(Vector {
        trust: "trust-receipts.json",
        ..v(
            "deny_receipt_missing",
            "a trust root that requires receipts, none presented",
            base(),
            ctx(),
            Some(DenialCode::ReceiptMissing),
        )
    });
    out.push(Vector {
        trust: "trust-receipts.json",
        ..v(
            "deny_receipt_invalid",
            "a receipt that proves nothing",
            base(),
            ContextSpec { receipt: Some("{}".into()), ..ctx() },
            Some(DenialCode::ReceiptInvalid),
        )
    });
    {
        let receipt = |env: &[u8], p: &Predicate| Some(String::from_utf8(receipt_for(env, p)).expect("text"));
        let good = base();
        let with = ContextSpec { receipt: receipt(&good, &predicate()), ..ctx() };
        out.push(Vector {
            trust: "trust-receipts.json",
            ..v("allow_with_receipt", "a writ with its ledger receipt", good.clone(), with.clone(), None)
        });
        let mut other = predicate();
        other.id = uuid(9);
        let other_env = sign(other.clone());
        let wrong = ContextSpec { receipt: receipt(&other_env, &other), ..ctx() };
        out.push(Vector {
            trust: "trust-receipts.json",
            ..v(
                "deny_receipt_other_writ",
                "the receipt of another writ",
                good.clone(),
                wrong,
                Some(DenialCode::ReceiptInvalid),
            )
        });
        let forged = with.receipt.clone().expect("receipt").replace("index 2", "index 1");
        out.push(Vector {
            trust: "trust-receipts.json",
            ..v(
                "deny_receipt_wrong_index",
                "a receipt whose index was edited",
                good,
                ContextSpec { receipt: Some(forged), ..ctx() },
                Some(DenialCode::ReceiptInvalid),
            )
        });
    }
    decided_vectors(&mut out);
    passkey_vectors(&mut out);
    out.extend(crate::delegate_vectors::vectors());
    out.extend(crate::witness_vectors::vectors());
    out
}

/// The statement of `p` as a JSON value, for vectors that edit the text form.
fn statement_value(p: Predicate) -> serde_json::Value {
    serde_json::to_value(issue::statement(p)).expect("serializable")
}

/// `v` with every object's members in key order, at every level, whatever
/// map serde_json is built with (insertion-ordered under the workspace's
/// `preserve_order`): what vector files are written from, so a committed file
/// is the same from every build.
#[must_use]
pub fn key_ordered(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut members: Vec<(String, serde_json::Value)> = m.into_iter().collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(members.into_iter().map(|(k, v)| (k, key_ordered(v))).collect())
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.into_iter().map(key_ordered).collect()),
        other => other,
    }
}

/// `v` as compact JSON with every object's keys in byte order, whatever
/// features serde_json is built with (the workspace unifies `preserve_order`
/// in, which would otherwise make these vectors depend on the build).
fn sorted_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let members: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String(k.clone()),
                        m.get(k).map_or_else(String::new, sorted_json)
                    )
                })
                .collect();
            format!("{{{}}}", members.join(","))
        }
        serde_json::Value::Array(a) => format!("[{}]", a.iter().map(sorted_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Signs a statement given as JSON text with the issuer key.
fn sign_text(text: &str) -> Vec<u8> {
    dsse::sign(dsse::IN_TOTO_PAYLOAD_TYPE, text.as_bytes(), &issuer())
}

/// The same envelope with the first signature's `S` replaced by `S + L`
/// (same signature under the permissive rule, refused by the strict one).
fn non_canonical_s(envelope: &[u8]) -> Vec<u8> {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut env: dsse::Envelope = serde_json::from_slice(envelope).expect("fixture envelope");
    let mut sig = b64::decode(&env.signatures[0].sig, 64).expect("b64");
    let mut carry = 0u16;
    for (i, l) in L.iter().enumerate() {
        let sum = u16::from(sig[32 + i]) + u16::from(*l) + carry;
        sig[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    env.signatures[0].sig = b64::encode(&sig);
    serde_json::to_vec(&env).expect("json")
}

/// `text` (canonical base64 with `==` padding) with a non-zero trailing bit:
/// it decodes to the same bytes in a lenient decoder, and is not canonical.
fn non_canonical_b64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b = text.as_bytes().to_vec();
    let i = b.len() - 3;
    let v = ALPHABET.iter().position(|c| *c == b[i]).expect("base64");
    b[i] = ALPHABET[v | 1];
    String::from_utf8(b).expect("ascii")
}

fn http_attempt(method: &str, path: &str, body: &[u8]) -> AttemptSpec {
    AttemptSpec::Http { method: method.into(), path: path.into(), body_sha256: Sha256Digest::of(body) }
}

fn http_action(method: &str, path: &str, body: Option<&[u8]>) -> Action {
    Action::Http(HttpAction { method: method.into(), path: path.into(), body_sha256: body.map(Sha256Digest::of) })
}

/// A child of `parent` (signed here) valid for the first half hour, and the
/// context that presents the parent.
fn child_of(parent: &Predicate) -> (Predicate, ContextSpec) {
    let parent_env = sign(parent.clone());
    let mut child = parent.clone();
    child.id = uuid(3);
    child.lineage = Lineage {
        parent: Some(ParentRef { id: parent.id.clone(), digest: DigestSet(Sha256Digest::of(&parent_env)) }),
        depth: parent.lineage.depth + 1,
        max_depth: parent.lineage.max_depth.max(parent.lineage.depth + 1),
        holder: None,
    };
    child.validity.not_after = T0.plus(1800);
    (child, ContextSpec { ancestors: vec![b64::encode(&parent_env)], ..run_context() })
}

/// The path and bytes of the file argument the file-rule fixtures bind.
pub const CONFIG_PATH: &str = "/srv/app/deploy.toml";
/// The bytes of [`CONFIG_PATH`] the file-rule fixtures bind.
pub const CONFIG_BYTES: &[u8] = b"region = \"eu-west-1\"\n";

/// The base predicate whose exec action takes `--config <file>` bound by digest.
#[must_use]
pub fn file_predicate() -> Predicate {
    let mut p = predicate();
    if let Action::Exec(e) = &mut p.scope.actions[0] {
        e.args = vec![
            ArgRule::Exact("--config".into()),
            ArgRule::File { path: CONFIG_PATH.into(), sha256: Sha256Digest::of(CONFIG_BYTES) },
        ];
    }
    p
}

fn file_attempt(digest: Option<Sha256Digest>) -> ContextSpec {
    let mut c =
        ContextSpec { attempt: Some(exec_attempt(vec!["--config".into(), CONFIG_PATH.into()])), ..run_context() };
    if let Some(AttemptSpec::Exec { arg_files, .. }) = &mut c.attempt {
        arg_files.extend(digest.map(|d| (1usize, d)));
    }
    c
}

/// Passkey approvals (`docs/format.md` §5.1): alice's Ed25519 approval and
/// erin's passkey approval, valid and broken each way a WebAuthn assertion
/// can be; verified against `trust-passkey.json`, and by py_webauthn in
/// `tests/interop/webauthn_check.py`.
fn passkey_vectors(out: &mut Vec<Vector>) {
    let e = erin();
    let input = approval::signing_input(&request_digest(), Verdict::Approve, T0);
    let with = |a: Approval| {
        let mut p = approved_predicate();
        p.governance.approvals = vec![approval(&alice()), a];
        sign(p)
    };
    let v = |name, description, a: Approval, expected| Vector {
        name,
        description,
        envelope: with(a),
        trust: "trust-passkey.json",
        context: run_context(),
        expected,
    };
    let spec = |f: &dyn Fn(&mut crate::webauthn::testing::AssertionSpec<'static>)| {
        let mut s = e.spec();
        f(&mut s);
        s
    };
    out.push(v("allow_passkey_approval", "alice (Ed25519) and erin (passkey) approve", passkey_approval(&e), None));
    let forger = crate::webauthn::testing::Authenticator::new(2, PASSKEY_RP_ID, false);
    let mut forged = passkey_approval_with(&forger, T0, &input, &forger.spec());
    forged.approver = e.credential.key_id();
    out.push(v(
        "deny_passkey_forged_signature",
        "an assertion in erin's name signed by another P-256 key",
        forged,
        Some(DenialCode::BadApproval),
    ));
    let other = approval::signing_input(&Sha256Digest::of(b"another request"), Verdict::Approve, T0);
    out.push(v(
        "deny_passkey_replayed_other_request",
        "erin's valid assertion approving another request, replayed here",
        passkey_approval_with(&e, T0, &other, &e.spec()),
        Some(DenialCode::BadApproval),
    ));
    out.push(v(
        "deny_passkey_wrong_challenge",
        "erin's assertion over a console sign-in challenge, not this approval's signing input",
        passkey_approval_with(&e, T0, b"writ-console-signin-v1:0123456789abcdef", &e.spec()),
        Some(DenialCode::BadApproval),
    ));
    out.push(v(
        "deny_passkey_wrong_rp_id",
        "erin's assertion made on the right origin with the rpIdHash of evil.example",
        passkey_approval_with(&e, T0, &input, &spec(&|s| s.rp_id = "evil.example".into())),
        Some(DenialCode::BadApproval),
    ));
    out.push(v(
        "deny_passkey_wrong_origin",
        "erin's assertion made on https://evil.example (right rpIdHash)",
        passkey_approval_with(&e, T0, &input, &spec(&|s| s.origin = "https://evil.example".into())),
        Some(DenialCode::BadApproval),
    ));
    out.push(v(
        "deny_passkey_no_up_flag",
        "erin's assertion without the User Present flag",
        passkey_approval_with(&e, T0, &input, &spec(&|s| s.flags = 0)),
        Some(DenialCode::BadApproval),
    ));
    out.push(v(
        "deny_passkey_wrong_type",
        "erin's client data says webauthn.create (a registration), not webauthn.get",
        passkey_approval_with(&e, T0, &input, &spec(&|s| s.kind = "webauthn.create")),
        Some(DenialCode::BadApproval),
    ));
    let mut no_parts = passkey_approval(&e);
    no_parts.webauthn = None;
    out.push(v(
        "deny_passkey_without_assertion",
        "erin's approval with the DER signature but no authenticator data or client data",
        no_parts,
        Some(DenialCode::BadApproval),
    ));
    let mut ed_with_parts = approval(&bob());
    ed_with_parts.webauthn = passkey_approval(&e).webauthn;
    out.push(v(
        "deny_passkey_parts_on_ed25519_key",
        "bob's valid Ed25519 approval carrying WebAuthn parts",
        ed_with_parts,
        Some(DenialCode::BadApproval),
    ));
}

/// One vector (at least) per point `docs/format.md` decides (issue 16 and
/// the file-argument, offline-cap and bounded-glob rules).
#[allow(clippy::too_many_lines, reason = "one entry per vector reads best as a list")]
fn decided_vectors(out: &mut Vec<Vector>) {
    let ctx = run_context;
    let v = |name, description, envelope, context, expected| Vector {
        name,
        description,
        envelope,
        trust: "trust.json",
        context,
        expected,
    };

    // §3: optional members are absent or carry a value; `null` is malformed.
    for (name, description, path) in [
        ("deny_null_uses", "`scope.uses: null` (absent is the only way to say unlimited)", "/predicate/scope/uses"),
        ("deny_null_governance", "`governance: null`", "/predicate/governance"),
        ("deny_null_hosts", "`environment.hosts: null`", "/predicate/scope/environment/hosts"),
    ] {
        let mut st = statement_value(predicate());
        let (parent, key) = path.rsplit_once('/').expect("path");
        st.pointer_mut(parent)
            .and_then(|o| o.as_object_mut())
            .expect("object")
            .insert(key.into(), serde_json::Value::Null);
        out.push(v(name, description, sign_text(&sorted_json(&st)), ctx(), Some(DenialCode::Malformed)));
    }
    // §3: integers are plain JSON integers: `-0` is not one.
    {
        let text = serde_json::to_string(&issue::statement(predicate()))
            .expect("json")
            .replace("\"approvals_required\":0", "\"approvals_required\":-0");
        assert!(text.contains("-0"), "fixture text changed");
        out.push(v(
            "deny_negative_zero",
            "`governance.approvals_required: -0` (0 is allowed; the spelling `-0` is not)",
            sign_text(&text),
            ctx(),
            Some(DenialCode::Malformed),
        ));
    }
    // §7 step 2/3: `predicate.issuer` may be any key whose signature verified.
    {
        let st = serde_json::to_vec(&issue::statement(predicate())).expect("json");
        let two = dsse::sign_multi(dsse::IN_TOTO_PAYLOAD_TYPE, &st, &[&retired_issuer(), &issuer()]);
        out.push(v(
            "allow_issuer_second_signature",
            "two issuer signatures; `predicate.issuer` names the second, in-window key",
            two,
            ctx(),
            None,
        ));
        let p = Predicate { issuer: retired_issuer().key_id(), ..predicate() };
        let st = serde_json::to_vec(&issue::statement(p)).expect("json");
        let two = dsse::sign_multi(dsse::IN_TOTO_PAYLOAD_TYPE, &st, &[&issuer(), &retired_issuer()]);
        out.push(v(
            "deny_issuer_second_signature_window",
            "the binding issuer (second signature) is out of its window, though the first signer is not",
            two,
            ctx(),
            Some(DenialCode::KeyNotValid),
        ));
        let p = Predicate { issuer: alice().key_id(), ..predicate() };
        out.push(v(
            "deny_issuer_not_signer",
            "`predicate.issuer` names a key that did not sign",
            sign(p),
            ctx(),
            Some(DenialCode::Malformed),
        ));
    }
    // §1: strict Ed25519 refuses a non-canonical `S`.
    out.push(v(
        "deny_signature_non_canonical_s",
        "the signature's S replaced by S + L (valid under the permissive rule)",
        non_canonical_s(&sign(predicate())),
        ctx(),
        Some(DenialCode::BadSignature),
    ));
    // §17: a hybrid-length signature by a key the trust root pins as plain
    // Ed25519 (the suite is the trust root's to say, never the writ's).
    out.push(v(
        "deny_suite_mismatch",
        "a valid Ed25519 signature padded to the ed25519+ml-dsa-65 length, by a plain Ed25519 key",
        {
            let mut env: dsse::Envelope = serde_json::from_slice(&sign(predicate())).expect("fixture envelope");
            let mut sig = b64::decode(&env.signatures[0].sig, 64).expect("b64");
            sig.resize(crate::hybrid::HYBRID_SIGNATURE_LEN, 0);
            env.signatures[0].sig = b64::encode(&sig);
            serde_json::to_vec(&env).expect("json")
        },
        ctx(),
        Some(DenialCode::SuiteMismatch),
    ));
    // §6: names may repeat; two keys of one name are one approver.
    {
        let mut p = approved_predicate();
        p.governance.approvals = vec![approval(&bob()), approval(&bob_second_key())];
        out.push(v(
            "deny_approvals_one_name_two_keys",
            "bob approves with both of his keys: one distinct approver",
            sign(p),
            ctx(),
            Some(DenialCode::ApprovalsInsufficient),
        ));
        let mut p = approved_predicate();
        p.governance.approvals = vec![approval(&alice()), approval(&bob_second_key())];
        out.push(v("allow_approval_by_second_key", "bob's second key counts as bob", sign(p), ctx(), None));
    }
    // §5: an approval signature that is not canonical base64 is `bad_approval`.
    {
        let mut p = approved_predicate();
        p.governance.approvals[1].sig = non_canonical_b64(&p.governance.approvals[1].sig);
        out.push(v(
            "deny_approval_non_canonical_base64",
            "bob's approval signature with a non-zero trailing base64 bit",
            sign(p),
            ctx(),
            Some(DenialCode::BadApproval),
        ));
    }
    // §5: the approval's time is signed: moving it breaks the signature.
    {
        let mut p = approved_predicate();
        p.governance.approvals[1].time = T0.plus(-30);
        out.push(v(
            "deny_approval_time_altered",
            "bob's approval with its time moved 30 s earlier than the time bob signed",
            sign(p),
            ctx(),
            Some(DenialCode::BadApproval),
        ));
    }
    // §5: an approval signed (its signature verifies over its time) after
    // the writ's issuance is refused. Since `issued_at ≤ not_before ≤ now`,
    // this is also what refuses an approval from the verifier's future.
    {
        let mut p = approved_predicate();
        p.governance.approvals = vec![approval(&alice()), approval_at(&bob(), T0.plus(30))];
        out.push(v(
            "deny_approval_after_issuance",
            "bob signed his approval 30 s after the writ's issued_at (and before the verifier's now)",
            sign(p),
            ctx(),
            Some(DenialCode::BadApproval),
        ));
    }
    // §4.1: several actions for one program: any complete match permits.
    {
        let mut p = predicate();
        let mut other = p.scope.actions[0].clone();
        if let Action::Exec(e) = &mut other {
            e.sha256 = Sha256Digest::of(b"an older build");
        }
        p.scope.actions.insert(0, other);
        out.push(v(
            "allow_second_action_same_program",
            "the first action names the program with another digest, the second matches",
            sign(p),
            ctx(),
            None,
        ));
    }
    // §4.1: file arguments.
    {
        let p = file_predicate();
        out.push(v(
            "allow_file_argument",
            "a file argument handed over with the bound digest",
            sign(p.clone()),
            file_attempt(Some(Sha256Digest::of(CONFIG_BYTES))),
            None,
        ));
        out.push(v(
            "deny_file_argument_digest",
            "a file argument whose bytes changed",
            sign(p.clone()),
            file_attempt(Some(Sha256Digest::of(b"region = \"us-east-1\"\n"))),
            Some(DenialCode::ScopeArgs),
        ));
        out.push(v(
            "deny_file_argument_unhashed",
            "the path alone, without the bytes the gate hashed",
            sign(p),
            file_attempt(None),
            Some(DenialCode::ScopeArgs),
        ));
        let mut rel = file_predicate();
        if let Action::Exec(e) = &mut rel.scope.actions[0] {
            e.args[1] = ArgRule::File { path: "deploy.toml".into(), sha256: Sha256Digest::of(CONFIG_BYTES) };
        }
        out.push(v(
            "deny_file_argument_relative",
            "a file rule with a relative path",
            sign(rel),
            ctx(),
            Some(DenialCode::Malformed),
        ));
    }
    // §4.3: host names compare ASCII case-insensitively.
    {
        let mut c = ctx();
        c.host =
            Some(HostSpec { hostname: "Build-7.EXAMPLE.com".into(), labels: ["ci".to_string()].into_iter().collect() });
        out.push(v("allow_host_case_insensitive", "a host name in other letter case", sign(predicate()), c, None));
    }
    // §4.2: HTTP paths.
    {
        let mut p = predicate();
        p.scope.actions = vec![
            http_action("POST", "/v1/deploys/*", None),
            http_action("GET", "/v1/status/**", None),
            http_action("PUT", "/v1/config", Some(b"{\"a\":1}")),
        ];
        let env = sign(p);
        let at = |m: &str, path: &str, body: &[u8]| ContextSpec { attempt: Some(http_attempt(m, path, body)), ..ctx() };
        out.push(v(
            "allow_http_double_star_zero",
            "`**` matches zero segments",
            env.clone(),
            at("GET", "/v1/status", b""),
            None,
        ));
        out.push(v(
            "deny_http_trailing_slash",
            "`*` does not match the empty segment after a trailing `/`",
            env.clone(),
            at("POST", "/v1/deploys/", b"{}"),
            Some(DenialCode::ScopeProgram),
        ));
        out.push(v(
            "deny_http_percent_encoded_dot",
            "a percent-encoded `..` segment never matches",
            env.clone(),
            at("GET", "/v1/status/%2e%2e/admin", b""),
            Some(DenialCode::ScopeProgram),
        ));
        out.push(v(
            "deny_http_body",
            "the body differs from the bound digest",
            env,
            at("PUT", "/v1/config", b"{\"a\":2}"),
            Some(DenialCode::ScopeArgs),
        ));
        let mut q = predicate();
        q.scope.actions = vec![http_action("GET", &alloc::format!("/{}x", "**/".repeat(40)), None)];
        out.push(v(
            "deny_http_adversarial_pattern",
            "forty `**` segments against a long path: bounded time, no match",
            sign(q),
            at("GET", &alloc::format!("/{}y", "a/".repeat(400)), b""),
            Some(DenialCode::ScopeProgram),
        ));
        let mut bad = predicate();
        bad.scope.actions = vec![http_action("GET", "/v1/a**", None)];
        out.push(v(
            "deny_http_pattern_partial_double_star",
            "`**` inside a segment is malformed",
            sign(bad),
            ctx(),
            Some(DenialCode::Malformed),
        ));
    }
    // §8 (attenuation) per action kind.
    {
        let mut parent = predicate();
        parent.scope.actions = vec![http_action("POST", "/v1/deploys/*", None)];
        let (mut child, with) = child_of(&parent);
        child.scope.actions = vec![http_action("POST", "/v1/deploys/42", None)];
        let http42 = ContextSpec { attempt: Some(http_attempt("POST", "/v1/deploys/42", b"{}")), ..with.clone() };
        out.push(v(
            "allow_child_http_literal",
            "a child naming one path the parent's pattern matches",
            sign(child.clone()),
            http42.clone(),
            None,
        ));
        child.scope.actions = vec![http_action("POST", "/v1/deploys/4*", None)];
        out.push(v(
            "deny_lineage_http_glob",
            "a child pattern other than the parent's (globs narrow only by identity)",
            sign(child),
            http42,
            Some(DenialCode::LineageWidened),
        ));
        let mut parent = predicate();
        parent.scope.actions = vec![http_action("PUT", "/v1/config", Some(b"{}"))];
        let (mut child, with) = child_of(&parent);
        child.scope.actions = vec![http_action("PUT", "/v1/config", None)];
        out.push(v(
            "deny_lineage_http_body_dropped",
            "a child dropping the parent's body digest",
            sign(child),
            ContextSpec { attempt: None, ..with },
            Some(DenialCode::LineageWidened),
        ));
        let mut parent = predicate();
        parent.scope.actions = vec![Action::Tool(ToolAction {
            name: "refund".into(),
            args: StrictMap([("amount".to_string(), ArgRule::Glob("?".into()))].into_iter().collect()),
            more_args: false,
            args_sha256: None,
            definition_sha256: None,
        })];
        let (mut child, with) = child_of(&parent);
        if let Action::Tool(t) = &mut child.scope.actions[0] {
            t.args.0.insert("note".into(), ArgRule::Exact("x".into()));
        }
        out.push(v(
            "deny_lineage_tool_extra_argument",
            "a child permitting a tool argument the parent does not",
            sign(child),
            ContextSpec { attempt: None, ..with },
            Some(DenialCode::LineageWidened),
        ));
        let (mut child, with) = child_of(&file_predicate());
        if let Action::Exec(e) = &mut child.scope.actions[0] {
            e.args[1] = ArgRule::File { path: CONFIG_PATH.into(), sha256: Sha256Digest::of(b"other") };
        }
        out.push(v(
            "deny_lineage_file_changed",
            "a child changing the digest of the parent's file rule",
            sign(child),
            ContextSpec { attempt: None, ..with },
            Some(DenialCode::LineageWidened),
        ));
        let (mut child, with) = child_of(&predicate());
        child.scope.environment.hosts = Some(vec!["build-7.example.com".into()]);
        out.push(v(
            "allow_child_host_literal",
            "a child naming one host the parent's host glob matches",
            sign(child),
            with,
            None,
        ));
        let mut undelegable = predicate();
        undelegable.lineage = Lineage::default();
        let (child, with) = child_of(&undelegable);
        out.push(v(
            "deny_lineage_no_delegation",
            "a child of a writ without `lineage` (max_depth 0)",
            sign(child),
            with,
            Some(DenialCode::LineageWidened),
        ));
    }
    // §7 step 8: offline cap.
    {
        let mut p = predicate();
        p.validity.not_after = T0.plus(7201);
        out.push(v(
            "deny_offline_lifetime_cap",
            "an offline writ living 7201 s; the trust root lets writs of two hours run offline",
            sign(p),
            ctx(),
            Some(DenialCode::OfflineNotAllowed),
        ));
        out.push(Vector {
            trust: "trust-default.json",
            ..v(
                "deny_offline_default_cap",
                "an offline writ living one hour under the default cap of 600 s",
                sign(predicate()),
                ctx(),
                Some(DenialCode::OfflineNotAllowed),
            )
        });
        let mut short = predicate();
        short.validity.not_after = T0.plus(600);
        out.push(Vector {
            trust: "trust-default.json",
            ..v("allow_offline_at_default_cap", "an offline writ living exactly 600 s", sign(short), ctx(), None)
        });
    }
    // §7 step 8: status freshness and use numbers.
    {
        let online = |status| ContextSpec { mode: ModeSpec::Online, status, ..ctx() };
        let strict = |name, description, context, expected| Vector {
            trust: "trust-strict.json",
            ..v(name, description, sign(predicate()), context, expected)
        };
        out.push(strict(
            "allow_status_at_max_age",
            "a status exactly status_max_age_secs old",
            online(StatusSpec::Good { checked_at: NOW.plus(-300) }),
            None,
        ));
        out.push(strict(
            "deny_status_stale",
            "a status one second older than allowed",
            online(StatusSpec::Good { checked_at: NOW.plus(-301) }),
            Some(DenialCode::StatusUnknown),
        ));
        out.push(strict(
            "deny_status_future",
            "a status dated after now",
            online(StatusSpec::Good { checked_at: NOW.plus(1) }),
            Some(DenialCode::StatusUnknown),
        ));
        out.push(strict(
            "deny_status_offline_required",
            "offline, under a trust root that requires status",
            ctx(),
            Some(DenialCode::StatusUnknown),
        ));
        let mut p = predicate();
        p.scope.uses = Some(3);
        out.push(v(
            "deny_use_count_zero",
            "use number 0 (use numbers start at 1)",
            sign(p),
            ContextSpec { mode: ModeSpec::Online, use_count: Some(0), ..ctx() },
            Some(DenialCode::Replayed),
        ));
    }
}

/// One status-response vector (`testdata/status/`): a signed response, the
/// writ it is checked for, and the expected outcome of
/// [`crate::status::open`] (`docs/format.md` §14).
#[derive(Clone, Debug)]
pub struct StatusVector {
    /// File stem.
    pub name: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// The response envelope.
    pub response: Vec<u8>,
    /// The writ's `predicate.issuer`.
    pub issuer: crate::keys::KeyId,
    /// The writ's id.
    pub writ_id: String,
    /// sha256 of the writ's envelope.
    pub envelope_sha256: Sha256Digest,
    /// The nonce the gate sent.
    pub nonce: Option<&'static str>,
    /// `None` = accepted, else the denial code.
    pub expected: Option<DenialCode>,
}

/// The status-response vectors, in a fixed order.
#[must_use]
pub fn status_vectors() -> Vec<StatusVector> {
    use crate::status::{StatusStatement, WritState, sign as sign_status};
    let writ = sign(predicate());
    let digest = Sha256Digest::of(&writ);
    let st = |state, checked_at: Timestamp| StatusStatement {
        writ_id: uuid(1),
        envelope_sha256: digest,
        state,
        revoked_at: None,
        reason: None,
        use_count: None,
        uses_left: None,
        checked_at,
        nonce: Some("gate-nonce-1".into()),
    };
    let v = |name, description, response, issuer: &SigningKey, expected| StatusVector {
        name,
        description,
        response,
        issuer: issuer.key_id(),
        writ_id: uuid(1),
        envelope_sha256: digest,
        nonce: Some("gate-nonce-1"),
        expected,
    };
    let mut revoked = st(WritState::Revoked, NOW);
    revoked.revoked_at = Some(T0.plus(30));
    revoked.reason = Some("key compromise".into());
    let mut other_writ = st(WritState::Valid, NOW);
    other_writ.writ_id = uuid(9);
    let mut other_nonce = st(WritState::Valid, NOW);
    other_nonce.nonce = Some("gate-nonce-2".into());
    vec![
        v(
            "accept_valid",
            "signed by the writ's issuer key",
            sign_status(&st(WritState::Valid, NOW), &issuer()),
            &issuer(),
            None,
        ),
        v(
            "accept_revoked",
            "a revocation signed by the writ's issuer key",
            sign_status(&revoked, &issuer()),
            &issuer(),
            None,
        ),
        v(
            "deny_other_issuer_key",
            "signed by another issuer key of the same trust root",
            sign_status(&st(WritState::Valid, T0.plus(-2 * 86_400)), &retired_issuer()),
            &issuer(),
            Some(DenialCode::StatusUnknown),
        ),
        v(
            "deny_outside_key_window",
            "the writ's (retired) issuer key answering after its window closed",
            sign_status(&st(WritState::Valid, NOW), &retired_issuer()),
            &retired_issuer(),
            Some(DenialCode::StatusUnknown),
        ),
        v(
            "accept_inside_key_window",
            "the writ's (retired) issuer key answering inside its window",
            sign_status(&st(WritState::Valid, T0.plus(-2 * 86_400)), &retired_issuer()),
            &retired_issuer(),
            None,
        ),
        v(
            "deny_revoked_issuer_key",
            "the writ's issuer key is revoked",
            sign_status(&st(WritState::Valid, NOW), &revoked_issuer()),
            &revoked_issuer(),
            Some(DenialCode::StatusUnknown),
        ),
        v(
            "deny_not_an_issuer",
            "signed by an approver key",
            sign_status(&st(WritState::Valid, NOW), &alice()),
            &issuer(),
            Some(DenialCode::StatusUnknown),
        ),
        v(
            "deny_other_writ",
            "about another writ",
            sign_status(&other_writ, &issuer()),
            &issuer(),
            Some(DenialCode::StatusUnknown),
        ),
        v(
            "deny_other_nonce",
            "echoes another gate's nonce",
            sign_status(&other_nonce, &issuer()),
            &issuer(),
            Some(DenialCode::StatusUnknown),
        ),
    ]
}
