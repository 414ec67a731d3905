//! Intake: a request comes in, is bounded, checked against its evidence and
//! decided by policy; `request`, `decision` (and `denial` or `issuance`)
//! entries are logged in one ledger commit, then stored.

use std::collections::BTreeSet;
use std::path::Path;

use writ_core::digest::DigestSet;
use writ_core::entry::{self, Entry};
use writ_core::model::Condition;
use writ_core::trust::Role;
use writ_core::{Sha256Digest, Timestamp};
use writ_policy::{Outcome, PolicyRequest, Requester, Target};

use super::issue::Pending;
use super::views::{ViewParts, view};
use super::{Authority, Identity, NONCE_TTL_SECS, Plan, bad, new_id, policy_id, retry_conflicts, truncate, ts};
use crate::error::{AuthorityError, Result};
use crate::home;
use crate::model::{
    HOST_EVIDENCE_PAYLOAD_TYPE, HostEvidence, MAX_ARGV, MAX_DURATION_SECS, MAX_ENV, MAX_FIELD, MAX_HOSTS, MAX_REASON,
    NonceView, RequestDocument, RequestInput, RequestView, TargetInput,
};
use crate::state::{self, RequestRow, RequestStatus};

/// Largest program file the authority hashes itself.
const MAX_HASHED_PROGRAM: u64 = 1 << 30;

impl Authority {
    /// Submit a request. Records `request` and `decision` entries; issues at
    /// once when policy allows without approvals.
    ///
    /// # Errors
    /// [`AuthorityError::Forbidden`] without the requester role; bad input;
    /// ledger and database failures. A policy denial is not an error: the
    /// view says `denied`.
    pub fn submit(&self, caller: &Identity, input: RequestInput, now: Timestamp) -> Result<RequestView> {
        caller.require(Role::Requester, "request writs")?;
        let target = validate_input(&input)?;
        let mut evidence_kinds = BTreeSet::new();
        let mut host = writ_policy::HostFacts::default();
        let mut conditions = Vec::new();
        let mut evidence_sha256 = None;
        let program_sha = match &target {
            TargetInput::Exec { sha256, .. } => sha256.clone(),
            _ => None,
        };
        if let Some(ev) = &input.evidence {
            let (facts, digest) = self.check_evidence(ev, now)?;
            evidence_kinds.insert("host".to_string());
            conditions.push(Condition { kind: "host".into(), evidence_digest: DigestSet(digest), verified_at: now });
            if facts.program_sha256.is_some() && facts.program_sha256 == program_sha {
                evidence_kinds.insert("program".to_string());
                conditions.push(Condition {
                    kind: "program".into(),
                    evidence_digest: DigestSet(digest),
                    verified_at: now,
                });
            }
            let trusted_labels: BTreeSet<String> = self.gate_groups(ev);
            host = writ_policy::HostFacts {
                hostname: facts.hostname,
                machine_id: facts.machine_id,
                kernel: facts.kernel,
                labels: facts.labels.into_iter().filter(|l| trusted_labels.contains(l)).collect(),
            };
            evidence_sha256 = Some(digest.to_hex());
        }
        let id = new_id();
        let doc = RequestDocument {
            version: "writ.request/v1".into(),
            id: id.clone(),
            requester: caller.key_id.to_string(),
            requester_name: caller.name.clone(),
            submitted_at: now.to_rfc3339(),
            target: target.clone(),
            reason: input.reason.clone(),
            duration_secs: input.duration_secs,
            env: input.env.clone(),
            cwd: input.cwd.clone(),
            hosts: input.hosts.clone(),
            evidence_sha256,
        };
        let doc_bytes = serde_json::to_vec(&doc).map_err(|e| AuthorityError::Internal(e.to_string()))?;
        let digest = Sha256Digest::of(&doc_bytes);
        let (pol_target, argv) = match &target {
            TargetInput::Exec { program, sha256, argv } => {
                (Target::Exec { path: program.clone(), sha256: sha256.clone().unwrap_or_default() }, argv.clone())
            }
            TargetInput::Http { method, path } => {
                (Target::Http { method: method.clone(), path: path.clone() }, Vec::new())
            }
            TargetInput::Tool { name } => (Target::Tool { name: name.clone() }, Vec::new()),
        };
        let mut preq = PolicyRequest::new(
            Requester::new(caller.name.clone(), caller.key_id.to_string(), caller.groups.iter().cloned()),
            pol_target,
        )
        .with_argv(argv)
        .with_host(host)
        .with_duration_secs(input.duration_secs)
        .with_reason(input.reason.clone())
        .with_unix_time(u64::try_from(now.unix()).unwrap_or(0));
        preq.env = input.env.clone();
        preq.evidence = evidence_kinds.clone();
        let mut decision = self.policy(now).decide(&preq);
        let missing: Vec<&String> =
            decision.obligations.required_evidence.iter().filter(|k| !evidence_kinds.contains(*k)).collect();
        if decision.outcome != Outcome::Deny && !missing.is_empty() {
            let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            decision.reasons.push(format!(
                "denied: policy requires verified runtime evidence ({}) that the request did not carry",
                list.join(", ")
            ));
            decision.outcome = Outcome::Deny;
        }
        let policy_digest = Sha256Digest::from_hex(&decision.policy_digest).unwrap_or(Sha256Digest([0; 32]));
        let expires = now.unix().saturating_add(self.pending_ttl);
        let status = match decision.outcome {
            Outcome::Deny => RequestStatus::Denied,
            Outcome::NeedsApproval => RequestStatus::Pending,
            Outcome::Allow => RequestStatus::Approved,
        };
        let plan = Plan { decision: decision.clone(), conditions };
        let plan_json = serde_json::to_string(&plan).map_err(|e| AuthorityError::Internal(e.to_string()))?;
        let (resource, action) = match &target {
            TargetInput::Exec { program, .. } => (program.clone(), "exec"),
            TargetInput::Http { method, path } => (format!("{method} {path}"), "http"),
            TargetInput::Tool { name } => (name.clone(), "tool"),
        };
        let mut entries = vec![
            Entry::Request(entry::Request {
                time: now,
                request_id: id.clone(),
                requester: caller.key_id.to_string(),
                action: action.into(),
                resource,
                request_digest: digest,
                reason: (!input.reason.is_empty()).then(|| input.reason.clone()),
            }),
            Entry::Decision(entry::Decision {
                time: now,
                request_id: id.clone(),
                allow: decision.outcome != Outcome::Deny,
                policy_id: policy_id(&decision.policy_digest),
                policy_digest,
                determining: decision.determining_policies.clone(),
            }),
        ];
        if decision.outcome == Outcome::Deny {
            entries.push(Entry::Denial(entry::Denial {
                time: now,
                request_id: Some(id.clone()),
                writ_id: None,
                code: "policy_denied".into(),
                detail: truncate(&decision.reasons.join("; ")),
                host: None,
            }));
        }
        let draft = if decision.outcome == Outcome::Allow {
            let pending = Pending {
                id: &id,
                requester: caller.key_id,
                requester_name: caller.name.clone(),
                doc: &doc,
                digest,
                approvals_required: 0,
                approver_group: None,
                plan: &plan,
            };
            Some(self.draft(&pending, Vec::new(), now)?)
        } else {
            None
        };
        let mut bytes =
            entries.iter().map(|e| e.encode().map_err(|err| bad(err.to_string()))).collect::<Result<Vec<Vec<u8>>>>()?;
        // One ledger job: request, decision and (denial | issuance) get
        // contiguous indices in that order and one durable group commit (all
        // or none), so a request waits for one commit, not three. It happens
        // outside the state transaction so concurrent requests share commits.
        let (range, minted) = match draft {
            Some((draft, issuance_bytes)) => {
                bytes.push(issuance_bytes.clone());
                // INVARIANT (7, nothing runs unlogged): the writ leaves the
                // authority only with the receipt of its durable issuance entry.
                let (range, receipt) =
                    self.sequenced(|| retry_conflicts(|| self.ledger.append_many_with_receipt(bytes.clone())))?;
                (range, Some(draft.finish(&receipt, issuance_bytes)))
            }
            None => (self.sequenced(|| retry_conflicts(|| self.ledger.append_many(bytes.clone())))?, None),
        };
        if range.end - range.start != bytes.len() as u64 {
            return Err(AuthorityError::Internal("the ledger returned a short index range".into()));
        }
        let logged: Vec<(u64, Entry)> = range.zip(entries).collect();
        let row = RequestRow {
            id: id.clone(),
            status,
            requester: caller.key_id.to_string(),
            requester_name: caller.name.clone(),
            document: doc_bytes.clone(),
            digest: digest.to_hex(),
            created_at: now.unix(),
            expires_at: expires,
            approvals_required: decision.obligations.approvals,
            approver_group: decision.obligations.approver_group.clone(),
            plan: plan_json,
            writ_id: None,
        };
        self.db.tx(|t| {
            for (idx, e) in &logged {
                state::index_entry(t, *idx, e)?;
            }
            state::insert_request(t, &row)?;
            if let Some(m) = &minted {
                self.store_minted(t, &id, &caller.key_id, m)?;
            }
            Ok(())
        })?;
        // The view of what was just stored, without reading it back (the
        // same fields `request_view_internal` reads from the database).
        let (status, writ_id, writ, receipt) = match minted {
            Some(m) => (
                RequestStatus::Issued,
                Some(m.writ_id),
                Some(String::from_utf8_lossy(&m.envelope).into_owned()),
                Some(String::from_utf8_lossy(&m.receipt).into_owned()),
            ),
            None => (status, None, None, None),
        };
        Ok(view(ViewParts {
            id,
            status,
            requester: caller.key_id.to_string(),
            requester_name: caller.name.clone(),
            doc_bytes: &doc_bytes,
            doc,
            digest: digest.to_hex(),
            created: now.unix(),
            expires,
            approvals_required: decision.obligations.approvals,
            approver_group: decision.obligations.approver_group.clone(),
            plan: &plan,
            approvals: Vec::new(),
            writ_id,
            writ,
            receipt,
        }))
    }

    fn gate_groups(&self, envelope: &str) -> BTreeSet<String> {
        let trust = self.trust();
        writ_core::dsse::decode(envelope.as_bytes())
            .ok()
            .and_then(|env| env.signatures.first().map(|(kid, _)| *kid))
            .and_then(|kid| trust.key(&kid).map(|k| k.entry.groups.iter().cloned().collect()))
            .unwrap_or_default()
    }

    /// Check a gate-signed host evidence envelope and consume its nonce.
    fn check_evidence(&self, envelope: &str, now: Timestamp) -> Result<(HostEvidence, Sha256Digest)> {
        let env = writ_core::dsse::decode(envelope.as_bytes())
            .map_err(|e| AuthorityError::BadEvidence(format!("host evidence: {e}")))?;
        if env.payload_type != HOST_EVIDENCE_PAYLOAD_TYPE {
            return Err(AuthorityError::BadEvidence(format!(
                "host evidence has payloadType `{}`, expected `{HOST_EVIDENCE_PAYLOAD_TYPE}`",
                env.payload_type
            )));
        }
        let trust = self.trust();
        let input = env.signing_input();
        let signed = env.signatures.iter().any(|(kid, sig)| {
            trust.key(kid).is_some_and(|k| {
                k.has_role(Role::Gate) && !k.entry.revoked && k.valid_at(now) && k.key.verify_strict(&input, sig)
            })
        });
        if !signed {
            return Err(AuthorityError::BadSignature("host evidence is not signed by a trusted gate key".into()));
        }
        let facts: HostEvidence = writ_core::json::from_slice(&env.payload)
            .map_err(|e| AuthorityError::BadEvidence(format!("host evidence: {e}")))?;
        let stated = Timestamp::parse(&facts.time)
            .map_err(|e| AuthorityError::BadEvidence(format!("host evidence `time`: {e}")))?;
        if (stated.unix() - now.unix()).abs() > NONCE_TTL_SECS {
            return Err(AuthorityError::BadEvidence(format!(
                "host evidence was made at {}, more than {NONCE_TTL_SECS} s away from the authority's clock",
                facts.time
            )));
        }
        let nonce = facts.nonce.clone();
        let used = self.db.tx(|t| state::use_evidence_nonce(t, &nonce, now.unix()))?;
        if !used {
            return Err(AuthorityError::BadEvidence(
                "host evidence nonce is unknown, expired or already used; ask for a fresh one (POST /v1/nonces)".into(),
            ));
        }
        Ok((facts, Sha256Digest::of(envelope.as_bytes())))
    }

    /// A fresh single-use evidence nonce.
    ///
    /// # Errors
    /// Database errors.
    pub fn new_nonce(&self, _caller: &Identity, now: Timestamp) -> Result<NonceView> {
        let nonce = home::random_hex::<16>()?;
        let exp = now.unix().saturating_add(NONCE_TTL_SECS);
        self.db.tx(|t| state::insert_evidence_nonce(t, &nonce, exp, now.unix().saturating_sub(3600)))?;
        Ok(NonceView { nonce, expires_at: ts(exp) })
    }
}
fn check_str(field: &str, s: &str, max: usize) -> Result<()> {
    if s.len() > max {
        return Err(bad(format!("`{field}` is {} bytes; the limit is {max}", s.len())));
    }
    if s.contains('\0') {
        return Err(bad(format!("`{field}` contains a NUL byte")));
    }
    Ok(())
}

/// Checks bounds and fills in the program digest; returns the target to record.
fn validate_input(input: &RequestInput) -> Result<TargetInput> {
    check_str("reason", &input.reason, MAX_REASON)?;
    if input.duration_secs == 0 || input.duration_secs > MAX_DURATION_SECS {
        return Err(bad(format!("`duration_secs` must be 1 to {MAX_DURATION_SECS}")));
    }
    if input.env.len() > MAX_ENV {
        return Err(bad(format!("at most {MAX_ENV} environment variables")));
    }
    for (k, v) in &input.env {
        check_str("env", k, 256)?;
        check_str("env", v, MAX_FIELD)?;
        if k.is_empty() || k.contains('=') {
            return Err(bad(format!("environment variable name `{k}` is not valid")));
        }
    }
    if let Some(c) = &input.cwd {
        check_str("cwd", c, MAX_FIELD)?;
        if !c.starts_with('/') {
            return Err(bad(format!("cwd `{c}` must be an absolute path")));
        }
    }
    if let Some(h) = &input.hosts {
        if h.len() > MAX_HOSTS || h.is_empty() {
            return Err(bad(format!("`hosts` lists 1 to {MAX_HOSTS} patterns")));
        }
        for x in h {
            check_str("hosts", x, 256)?;
        }
    }
    if let Some(e) = &input.evidence {
        check_str("evidence", e, writ_core::limits::MAX_ENVELOPE_BYTES)?;
    }
    match &input.target {
        TargetInput::Exec { program, sha256, argv } => {
            check_str("program", program, MAX_FIELD)?;
            if !program.starts_with('/') {
                return Err(bad(format!("program `{program}` must be an absolute path")));
            }
            if argv.is_empty() || argv.len() > MAX_ARGV {
                return Err(bad(format!("`argv` holds 1 to {MAX_ARGV} items, argv[0] included")));
            }
            for a in argv {
                check_str("argv", a, MAX_FIELD)?;
            }
            let sha = match sha256 {
                Some(s) => {
                    Sha256Digest::from_hex(s).map_err(|e| bad(format!("`sha256`: {e}")))?;
                    s.clone()
                }
                None => hash_program(Path::new(program))?,
            };
            Ok(TargetInput::Exec { program: program.clone(), sha256: Some(sha), argv: argv.clone() })
        }
        TargetInput::Http { method, path } => {
            if method.is_empty() || method.len() > 16 || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(bad(format!("http method `{method}` must be upper-case letters")));
            }
            check_str("path", path, MAX_FIELD)?;
            if !path.starts_with('/') {
                return Err(bad(format!("http path `{path}` must start with `/`")));
            }
            Ok(input.target.clone())
        }
        TargetInput::Tool { name } => {
            check_str("name", name, 256)?;
            if name.is_empty() {
                return Err(bad("tool name is empty"));
            }
            Ok(input.target.clone())
        }
    }
}

fn hash_program(path: &Path) -> Result<String> {
    use sha2::Digest as _;
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(|e| {
        bad(format!("cannot hash program `{}` on the authority ({e}); send its `sha256`", path.display()))
    })?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f.take(MAX_HASHED_PROGRAM), &mut h)
        .map_err(|e| bad(format!("cannot read program `{}`: {e}", path.display())))?;
    Ok(hex::encode(h.finalize()))
}
