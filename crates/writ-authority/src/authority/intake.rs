//! Intake: a request comes in, is bounded, checked against its evidence and
//! decided by policy; the writ's scope is planned (boundaries, uses, offline,
//! hosts) from what policy demands and what the request asks; then
//! `request`, `decision` (and `denial` or `issuance`) entries are logged in
//! one ledger commit, and stored.
//!
//! Every refusal happens before the first write: a refused request changes
//! nothing (its evidence nonce stays unused, nothing is logged or stored).

use std::collections::BTreeSet;

use writ_core::digest::DigestSet;
use writ_core::entry::{self, Entry};
use writ_core::model::{Boundaries, Condition};
use writ_core::trust::Role;
use writ_core::{Sha256Digest, Timestamp};
use writ_policy::{Decision, Outcome, PolicyRequest, Requester, Target};

use super::issue::Pending;
use super::once::{CallOptions, Op};
use super::views::{ViewParts, view};
use super::{
    Authority, Identity, NONCE_TTL_SECS, Plan, PlannedScope, bad, new_id, policy_id, retry_conflicts, truncate, ts,
};
use crate::error::{AuthorityError, Result};
use crate::home;
use crate::model::{
    HOST_EVIDENCE_PAYLOAD_TYPE, HostEvidence, MAX_ARGV, MAX_DURATION_SECS, MAX_ENV, MAX_FIELD, MAX_HOSTS, MAX_REASON,
    NonceView, RequestDocument, RequestInput, RequestView, TargetInput,
};
use crate::state::{self, RequestRow, RequestStatus};
use crate::text::{check_display, check_no_nul};

/// Most paths a request may list in `boundaries.fs_read` / `fs_write`.
const MAX_BOUNDARY_PATHS: usize = writ_policy::MAX_PATHS;

/// Host evidence, verified but not yet used (its nonce is consumed only
/// when the request is logged).
struct Evidence {
    facts: HostEvidence,
    digest: Sha256Digest,
    /// Labels the verifying gate key is trusted for (its groups).
    trusted_labels: BTreeSet<String>,
}

impl Authority {
    /// Submit a request. Records `request` and `decision` entries; issues at
    /// once when policy allows without approvals.
    ///
    /// # Errors
    /// [`AuthorityError::Forbidden`] without the requester role; bad input
    /// (`invalid_request`, `unsafe_text`); `loader_variable`,
    /// `exceeds_policy`; ledger and database failures. A policy denial is
    /// not an error: the view says `denied`.
    pub fn submit(&self, caller: &Identity, input: RequestInput, now: Timestamp) -> Result<RequestView> {
        self.submit_with(caller, input, &CallOptions::default(), now)
    }

    /// [`Self::submit`] with an idempotency key and a deadline (see
    /// [`CallOptions`]): a retry with the same key returns the first
    /// outcome; past the deadline nothing is logged or stored (`timeout`).
    ///
    /// # Errors
    /// As [`Self::submit`]; `timeout`; `invalid_request` when the key was
    /// used for another request.
    pub fn submit_with(
        &self,
        caller: &Identity,
        input: RequestInput,
        opts: &CallOptions,
        now: Timestamp,
    ) -> Result<RequestView> {
        caller.require(Role::Requester, "request writs")?;
        let body = serde_json::to_vec(&input).map_err(|e| AuthorityError::Internal(e.to_string()))?;
        self.once(
            caller,
            opts,
            Op::Submit,
            &body,
            now,
            |slot| self.submit_inner(caller, input, opts, slot, now),
            |id| self.request(caller, id),
        )
    }

    fn submit_inner(
        &self,
        caller: &Identity,
        input: RequestInput,
        opts: &CallOptions,
        slot: Option<&super::once::Slot>,
        now: Timestamp,
    ) -> Result<RequestView> {
        let target = validate_input(&input)?;
        let evidence = input.evidence.as_deref().map(|ev| self.check_evidence(ev, now)).transpose()?;
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
            evidence_sha256: evidence.as_ref().map(|e| e.digest.to_hex()),
            boundaries: input.boundaries.clone(),
            uses: input.uses,
            holder: input.holder.clone(),
            delegation_depth: input.delegation_depth,
        };
        let doc_bytes = serde_json::to_vec(&doc).map_err(|e| AuthorityError::Internal(e.to_string()))?;
        let digest = Sha256Digest::of(&doc_bytes);
        let (decision, conditions) = self.decide(caller, &target, &input, evidence.as_ref(), now);
        let scope = if decision.outcome == Outcome::Deny {
            PlannedScope::default()
        } else {
            plan_scope(&decision, &input, &target, evidence.as_ref())?
        };
        let policy_digest = Sha256Digest::from_hex(&decision.policy_digest).unwrap_or(Sha256Digest([0; 32]));
        let expires = now.unix().saturating_add(self.pending_ttl);
        let status = match decision.outcome {
            Outcome::Deny => RequestStatus::Denied,
            Outcome::NeedsApproval => RequestStatus::Pending,
            Outcome::Allow => RequestStatus::Approved,
        };
        let plan = Plan { decision: decision.clone(), conditions, scope: Some(scope) };
        let plan_json = serde_json::to_string(&plan).map_err(|e| AuthorityError::Internal(e.to_string()))?;
        let entries = request_entries(&id, caller, &target, &input, digest, &decision, policy_digest, now);
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
        // The evidence nonce is used now, after every refusal and just before
        // the commit point: a refused request leaves it unused.
        if let Some(ev) = &evidence {
            let nonce = ev.facts.nonce.clone();
            if !self.db.tx(|t| state::use_evidence_nonce(t, &nonce, now.unix()))? {
                return Err(AuthorityError::BadEvidence(
                    "host evidence nonce is unknown, expired or already used; ask for a fresh one (POST /v1/nonces)"
                        .into(),
                ));
            }
        }
        // INVARIANT (deadline): past its deadline a call is rolled back, not
        // finished; the ledger append below is the commit point.
        opts.check_deadline()?;
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
        // The issuance entry (last in the range) is indexed with the writ's.
        let logged: Vec<(u64, Entry)> = range.zip(entries).collect();
        let row = RequestRow {
            id: id.clone(),
            // A request issued at once is stored as issued (one row write).
            status: if minted.is_some() { RequestStatus::Issued } else { status },
            requester: caller.key_id.to_string(),
            requester_name: caller.name.clone(),
            document: doc_bytes.clone(),
            digest: digest.to_hex(),
            created_at: now.unix(),
            expires_at: expires,
            approvals_required: decision.obligations.approvals,
            approver_group: decision.obligations.approver_group.clone(),
            plan: plan_json,
            writ_id: minted.as_ref().map(|m| m.writ_id.clone()),
        };
        // One transaction shared with concurrent submissions (group commit):
        // the state's writes of a batch of requests cost one commit.
        let minted = minted.map(std::sync::Arc::new);
        let (m2, slot2, id2, requester) = (minted.clone(), slot.cloned(), id.clone(), caller.key_id);
        let writ_row = m2.as_ref().map(|m| super::issue::writ_row(&id2, &requester, m));
        self.db.tx_grouped(move |t| {
            // Request, decision and (denial | issuance) indexed together;
            // on PostgreSQL everything below is one statement.
            let mut index: Vec<(u64, &Entry)> = logged.iter().map(|(i, e)| (*i, e)).collect();
            if let Some(m) = &m2 {
                index.push((m.index, &m.issuance));
            }
            let done = slot2.as_ref().map(|s| {
                let (caller, key) = s.parts();
                (caller, key, id2.as_str())
            });
            state::store_submission(t, &index, &row, writ_row.as_ref(), done)
        })?;
        // The view of what was just stored, without reading it back (the
        // same fields `request_view_internal` reads from the database).
        let (status, writ_id, writ, receipt) = match minted {
            Some(m) => (
                RequestStatus::Issued,
                Some(m.writ_id.clone()),
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

    /// The policy decision on a request, with the evidence conditions it
    /// rests on. Required evidence that is missing denies.
    fn decide(
        &self,
        caller: &Identity,
        target: &TargetInput,
        input: &RequestInput,
        evidence: Option<&Evidence>,
        now: Timestamp,
    ) -> (Decision, Vec<Condition>) {
        let mut kinds = BTreeSet::new();
        let mut conditions = Vec::new();
        let mut host = writ_policy::HostFacts::default();
        if let Some(ev) = evidence {
            let program_sha = match target {
                TargetInput::Exec { sha256, .. } => sha256.clone(),
                _ => None,
            };
            kinds.insert("host".to_string());
            conditions.push(Condition { kind: "host".into(), evidence_digest: DigestSet(ev.digest), verified_at: now });
            if ev.facts.program_sha256.is_some() && ev.facts.program_sha256 == program_sha {
                kinds.insert("program".to_string());
                conditions.push(Condition {
                    kind: "program".into(),
                    evidence_digest: DigestSet(ev.digest),
                    verified_at: now,
                });
            }
            host = writ_policy::HostFacts {
                hostname: ev.facts.hostname.clone(),
                machine_id: ev.facts.machine_id.clone(),
                kernel: ev.facts.kernel.clone(),
                labels: ev.verified_labels().into_iter().collect(),
            };
        }
        let (pol_target, argv) = match target {
            TargetInput::Exec { program, sha256, argv } => {
                (Target::Exec { path: program.clone(), sha256: sha256.clone().unwrap_or_default() }, argv.clone())
            }
            TargetInput::Http { method, path } => {
                (Target::Http { method: method.clone(), path: path.clone() }, Vec::new())
            }
            TargetInput::Tool { name, .. } => (Target::Tool { name: name.clone() }, Vec::new()),
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
        preq.evidence = kinds.clone();
        let mut decision = self.policy(now).decide(&preq);
        let missing: Vec<&str> =
            decision.obligations.required_evidence.iter().filter(|k| !kinds.contains(*k)).map(String::as_str).collect();
        if decision.outcome != Outcome::Deny && !missing.is_empty() {
            decision.reasons.push(format!(
                "denied: policy requires verified runtime evidence ({}) that the request did not carry",
                missing.join(", ")
            ));
            decision.outcome = Outcome::Deny;
        }
        (decision, conditions)
    }

    /// Check a gate-signed host evidence envelope (signature by a trusted
    /// gate key, payload, time). Its nonce is consumed later, at commit.
    fn check_evidence(&self, envelope: &str, now: Timestamp) -> Result<Evidence> {
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
        // The labels the evidence may carry are those of the key whose
        // signature verified, not of whichever key is named first.
        let verifier = env.signatures.iter().find_map(|(kid, sig)| {
            trust.key(kid).filter(|k| {
                k.has_role(Role::Gate) && !k.entry.revoked && k.valid_at(now) && k.key.verify_strict(&input, sig)
            })
        });
        let Some(verifier) = verifier else {
            return Err(AuthorityError::BadSignature("host evidence is not signed by a trusted gate key".into()));
        };
        let trusted_labels = verifier.entry.groups.iter().cloned().collect();
        let facts: HostEvidence = writ_core::json::from_slice(&env.payload)
            .map_err(|e| AuthorityError::BadEvidence(format!("host evidence: {e}")))?;
        let stated = Timestamp::parse(&facts.time)
            .map_err(|e| AuthorityError::BadEvidence(format!("host evidence `time`: {e}")))?;
        if stated.unix().abs_diff(now.unix()) > NONCE_TTL_SECS.unsigned_abs() {
            return Err(AuthorityError::BadEvidence(format!(
                "host evidence was made at {}, more than {NONCE_TTL_SECS} s away from the authority's clock",
                facts.time
            )));
        }
        if facts.hostname.is_empty() {
            return Err(AuthorityError::BadEvidence("host evidence names no host".into()));
        }
        check_display("evidence hostname", &facts.hostname)?;
        for l in &facts.labels {
            check_display("evidence label", l)?;
        }
        // Host facts are bound to the gate key in the trust root (issue 9 item 9).
        if let Some(why) = verifier.host_binding_error(&facts.hostname, &facts.labels) {
            return Err(AuthorityError::BadEvidence(format!("host evidence: {why}")));
        }
        Ok(Evidence { facts, digest: Sha256Digest::of(envelope.as_bytes()), trusted_labels })
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

impl Evidence {
    /// The labels the gate claimed and is trusted for.
    fn verified_labels(&self) -> Vec<String> {
        let mut l: Vec<String> =
            self.facts.labels.iter().filter(|l| self.trusted_labels.contains(*l)).cloned().collect();
        l.sort();
        l.dedup();
        l
    }
}

/// The `request`, `decision` (and, on deny, `denial`) entries of a request.
#[expect(clippy::too_many_arguments, reason = "one call site; the fields of one entry set")]
fn request_entries(
    id: &str,
    caller: &Identity,
    target: &TargetInput,
    input: &RequestInput,
    digest: Sha256Digest,
    decision: &Decision,
    policy_digest: Sha256Digest,
    now: Timestamp,
) -> Vec<Entry> {
    let (resource, action) = match target {
        TargetInput::Exec { program, .. } => (program.clone(), "exec"),
        TargetInput::Http { method, path } => (format!("{method} {path}"), "http"),
        TargetInput::Tool { name, .. } => (name.clone(), "tool"),
    };
    let mut entries = vec![
        Entry::Request(entry::Request {
            time: now,
            request_id: id.into(),
            requester: caller.key_id.to_string(),
            action: action.into(),
            resource,
            request_digest: digest,
            reason: (!input.reason.is_empty()).then(|| input.reason.clone()),
        }),
        Entry::Decision(entry::Decision {
            time: now,
            request_id: id.into(),
            allow: decision.outcome != Outcome::Deny,
            policy_id: policy_id(&decision.policy_digest),
            policy_digest,
            determining: decision.determining_policies.clone(),
        }),
    ];
    if decision.outcome == Outcome::Deny {
        entries.push(Entry::Denial(entry::Denial {
            time: now,
            request_id: Some(id.into()),
            writ_id: None,
            code: "policy_denied".into(),
            detail: truncate(&decision.reasons.join("; ")),
            host: None,
        }));
    }
    entries
}

/// The holder binding asked for (§18), as deep as asked (default 1) and
/// no deeper than policy's `@delegation` allows; none unless policy allows
/// delegation (`exceeds_policy`).
fn plan_holder(decision: &Decision, input: &RequestInput) -> Result<(Option<String>, u32)> {
    let Some(holder) = &input.holder else {
        if input.delegation_depth.is_some() {
            return Err(bad("`delegation_depth` needs a `holder` (`writ request --holder KEY.pub`)"));
        }
        return Ok((None, 0));
    };
    writ_core::model::Holder { public_key: holder.clone() }
        .key()
        .map_err(|e| bad(format!("`holder` is not an Ed25519 public key: {e}")))?;
    let depth = input.delegation_depth.unwrap_or(1);
    if !(1..=writ_core::limits::MAX_DEPTH).contains(&depth) {
        return Err(bad(format!("`delegation_depth` is 1 to {}", writ_core::limits::MAX_DEPTH)));
    }
    let policies = decision.determining_policies.join(", ");
    match decision.obligations.delegation {
        None => Err(AuthorityError::ExceedsPolicy(format!(
            "the request names a holder, and no policy lets this writ be delegated: every policy that permits it (policies {policies}) must say `@delegation(\"N\")`"
        ))),
        Some(p) if depth > p => Err(AuthorityError::ExceedsPolicy(format!(
            "the request asks for {depth} level(s) of delegation; policy allows at most {p} (policies {policies})"
        ))),
        Some(_) => Ok((Some(holder.clone()), depth)),
    }
}

/// The writ's scope from what policy demands and what the request asks: the
/// stricter of each boundary, the fewer uses, offline only where policy
/// allows it, the host the evidence names. Asking for more than policy
/// allows is refused (`exceeds_policy`); a loader variable no policy permits
/// by name is refused (`loader_variable`); relative paths in argv need a
/// working directory to bind.
fn plan_scope(
    decision: &Decision,
    input: &RequestInput,
    target: &TargetInput,
    evidence: Option<&Evidence>,
) -> Result<PlannedScope> {
    let ob = &decision.obligations;
    for name in input.env.keys() {
        if writ_core::loader::is_loader_variable(name) && !ob.allow_env.iter().any(|a| a == name) {
            return Err(AuthorityError::LoaderVariable(format!(
                "environment variable `{name}` changes how programs load or what code an interpreter runs; no policy that permits this request allows it (a policy may, by name: `@allow_env(\"{name}\")`)"
            )));
        }
    }
    let policy_bounds = to_policy(&core_of(&ob.boundaries));
    let boundaries = match &input.boundaries {
        Some(asked) => {
            let asked = to_policy(asked);
            if let Some((field, what)) = policy_bounds.exceeded_by(&asked) {
                return Err(AuthorityError::ExceedsPolicy(format!(
                    "boundary `{field}` {what}; ask for no more than policy allows (policies {})",
                    decision.determining_policies.join(", ")
                )));
            }
            let mut b = policy_bounds;
            b.combine(&asked);
            core_of(&b)
        }
        None => core_of(&policy_bounds),
    };
    let policy_uses = match (ob.single_use, ob.uses) {
        (true, _) => Some(1),
        (false, u) => u,
    };
    let uses = match (policy_uses, input.uses) {
        (Some(p), Some(r)) if r > p => {
            return Err(AuthorityError::ExceedsPolicy(format!(
                "the request asks for {r} uses; policy allows at most {p}"
            )));
        }
        (Some(p), Some(r)) => Some(p.min(r)),
        (p, r) => p.or(r),
    };
    if uses == Some(0) {
        return Err(bad("`uses` must be at least 1"));
    }
    // Host evidence binds the writ to that host, and its labels to what the
    // verifying gate key is trusted for; such a writ is online-only.
    let (hosts, labels) = match evidence {
        Some(ev) => {
            let host = ev.facts.hostname.clone();
            if let Some(asked) = &input.hosts
                && !asked.iter().any(|p| writ_core::glob::host_match(p, &host))
            {
                return Err(bad(format!(
                    "the host evidence is for `{host}`, which none of the requested hosts ({}) matches",
                    asked.join(", ")
                )));
            }
            (Some(vec![host]), ev.verified_labels())
        }
        None => (input.hosts.clone(), Vec::new()),
    };
    // Offline only when every determining policy says so, and never for a
    // writ whose uses must be counted or whose host came from evidence.
    let offline = ob.offline && uses.is_none() && evidence.is_none();
    if let TargetInput::Exec { argv, .. } = target
        && input.cwd.is_none()
        && let Some(rel) = argv.iter().skip(1).find(|a| is_relative_path(a))
    {
        return Err(bad(format!(
            "argument `{rel}` is a relative path, so the writ must bind the working directory; give `cwd` (`writ request --cwd DIR`)"
        )));
    }
    let (holder, max_depth) = plan_holder(decision, input)?;
    Ok(PlannedScope { boundaries, uses, offline, hosts, labels, holder, max_depth })
}

/// Whether an argument names a path relative to the working directory
/// (after an `--option=` prefix): it contains a `/` but does not start with
/// one, or it is `.` or `..`.
fn is_relative_path(arg: &str) -> bool {
    let value = match arg.split_once('=') {
        Some((k, v)) if k.starts_with('-') => v,
        _ => arg,
    };
    value == "." || value == ".." || (value.contains('/') && !value.starts_with('/') && !value.contains("://"))
}

fn to_policy(b: &Boundaries) -> writ_policy::Boundaries {
    writ_policy::Boundaries {
        wall_clock_secs: b.wall_clock_secs,
        cpu_secs: b.cpu_secs,
        memory_bytes: b.memory_bytes,
        processes: b.processes,
        open_files: b.open_files,
        file_size_bytes: b.file_size_bytes,
        network: b.network,
        fs_read: b.fs_read.clone(),
        fs_write: b.fs_write.clone(),
    }
}

fn core_of(b: &writ_policy::Boundaries) -> Boundaries {
    Boundaries {
        wall_clock_secs: b.wall_clock_secs,
        cpu_secs: b.cpu_secs,
        memory_bytes: b.memory_bytes,
        processes: b.processes,
        open_files: b.open_files,
        file_size_bytes: b.file_size_bytes,
        network: b.network,
        fs_read: b.fs_read.clone(),
        fs_write: b.fs_write.clone(),
    }
}

fn check_len(field: &str, s: &str, max: usize) -> Result<()> {
    if s.len() > max {
        return Err(bad(format!("`{field}` is {} bytes; the limit is {max}", s.len())));
    }
    Ok(())
}

/// A field shown to people: bounded, no NUL, no control characters.
fn check_str(field: &str, s: &str, max: usize) -> Result<()> {
    check_len(field, s, max)?;
    check_display(field, s)
}

fn check_paths(field: &str, list: Option<&Vec<String>>) -> Result<()> {
    let Some(list) = list else { return Ok(()) };
    if list.len() > MAX_BOUNDARY_PATHS {
        return Err(bad(format!("`{field}` lists at most {MAX_BOUNDARY_PATHS} paths")));
    }
    for p in list {
        check_str(field, p, MAX_FIELD)?;
        if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
            return Err(bad(format!("`{field}` path `{p}` must be absolute, without `..`")));
        }
    }
    Ok(())
}

fn check_boundaries(b: &Boundaries) -> Result<()> {
    for (name, v) in [
        ("wall_clock_secs", b.wall_clock_secs),
        ("cpu_secs", b.cpu_secs),
        ("memory_bytes", b.memory_bytes),
        ("processes", b.processes),
        ("open_files", b.open_files),
        ("file_size_bytes", b.file_size_bytes),
    ] {
        if v == Some(0) {
            return Err(bad(format!("boundary `{name}` must be at least 1")));
        }
    }
    check_paths("boundaries.fs_read", b.fs_read.as_ref())?;
    check_paths("boundaries.fs_write", b.fs_write.as_ref())
}

/// Checks bounds and text; returns the target to record. The program's
/// digest comes from the requester: the authority never opens a file a
/// requester names.
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
        check_len("evidence", e, writ_core::limits::MAX_ENVELOPE_BYTES)?;
        check_no_nul("evidence", e)?;
    }
    if let Some(b) = &input.boundaries {
        check_boundaries(b)?;
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
            let Some(sha) = sha256 else {
                return Err(bad(format!(
                    "send the sha256 of program `{program}` (`writ request` does); the authority never opens files a requester names"
                )));
            };
            Sha256Digest::from_hex(sha).map_err(|e| bad(format!("`sha256`: {e}")))?;
            Ok(input.target.clone())
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
        TargetInput::Tool { name, args, args_sha256, definition_sha256 } => {
            check_str("name", name, 256)?;
            if name.is_empty() {
                return Err(bad("tool name is empty"));
            }
            if args.len() > MAX_ARGV {
                return Err(bad(format!("a tool call carries at most {MAX_ARGV} `args`; send `args_sha256` alone")));
            }
            for (k, v) in args {
                check_str("args", k, MAX_FIELD)?;
                check_str(&format!("args.{k}"), v, MAX_FIELD)?;
            }
            for (field, d) in [("args_sha256", args_sha256), ("definition_sha256", definition_sha256)] {
                if let Some(d) = d {
                    Sha256Digest::from_hex(d).map_err(|e| bad(format!("`{field}`: {e}")))?;
                }
            }
            Ok(input.target.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_relative_path;

    #[test]
    fn relative_paths() {
        for a in ["./x", "../x", "build/out", "--out=build/x", ".", ".."] {
            assert!(is_relative_path(a), "{a}");
        }
        for a in ["/abs", "--out=/abs", "hello", "-v", "https://example.com/x", "--url=https://e/x"] {
            assert!(!is_relative_path(a), "{a}");
        }
    }
}
