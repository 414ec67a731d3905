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
use crate::trust::{Role, TrustRoot, key_entry};

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

/// Approver `dave`, in group `dev` only.
#[must_use]
pub fn dave() -> SigningKey {
    key(9)
}

/// The fixtures' trust root; `receipts` makes it require ledger receipts.
#[must_use]
pub fn trust_root(receipts: bool) -> TrustRoot {
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
    add(LEDGER_NAME, vec![Role::Ledger], &[], &ledger());
    t.settings_mut().max_writ_lifetime_secs(Some(86_400)).require_receipt(receipts);
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

/// A signed approval of the fixture request.
#[must_use]
pub fn approval(k: &SigningKey) -> Approval {
    Approval {
        approver: k.key_id(),
        time: T0,
        sig: b64::encode(&k.sign(&approval::signing_input(&request_digest(), Verdict::Approve))),
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
        lineage: Lineage { parent: None, depth: 0, max_depth: 2 },
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
    out
}
