//! The authority itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use writ_core::approval::{self, Verdict};
use writ_core::digest::DigestSet;
use writ_core::entry::{self, Entry, EntryKind};
use writ_core::model::{
    Action, ArgRule, Condition, Environment, ExecAction, Governance, HttpAction, Lineage, PolicyDecision, PolicyProof,
    Predicate, RequestRef, Scope, ToolAction, Validity,
};
use writ_core::status::{StatusStatement, WritState};
use writ_core::trust::Role;
use writ_core::{KeyId, Sha256Digest, SigningKey, Timestamp, TrustRoot};
use writ_ledger::{Ledger, LedgerOptions, Location};
use writ_policy::{Outcome, PolicyRequest, PolicySet, Requester, Target};

use crate::db::{Db, Row, Tx, Val};
use crate::error::{AuthorityError, Result};
use crate::home;
use crate::model::{
    DecisionView, HOST_EVIDENCE_PAYLOAD_TYPE, HostEvidence, MAX_ARGV, MAX_DURATION_SECS, MAX_ENV, MAX_FIELD, MAX_HOSTS,
    MAX_REASON, NonceView, RequestDocument, RequestInput, RequestView, TargetInput, VoteView, WritView,
};

/// How long a pending request waits for approvals.
pub const DEFAULT_PENDING_TTL_SECS: i64 = 24 * 3600;
/// How long an evidence nonce is accepted.
pub const NONCE_TTL_SECS: i64 = 300;
/// Largest program file the authority hashes itself.
const MAX_HASHED_PROGRAM: u64 = 1 << 30;

/// Where and how to open an authority.
#[derive(Debug, Clone)]
pub struct Config {
    /// Home directory (keys, trust root, policies; SQLite files by default).
    pub home: PathBuf,
    /// `postgres://` URL for the ledger and state; `None` = SQLite in the home.
    pub database: Option<String>,
    /// PostgreSQL schema.
    pub schema: String,
    /// How long pending requests wait.
    pub pending_ttl_secs: i64,
}

impl Config {
    /// Embedded defaults for `home`.
    #[must_use]
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self { home: home.into(), database: None, schema: "writ".into(), pending_ttl_secs: DEFAULT_PENDING_TTL_SECS }
    }
}

/// An authenticated caller, as the trust root knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Key id.
    pub key_id: KeyId,
    /// Name in the trust root.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Groups.
    pub groups: Vec<String>,
}

impl Identity {
    /// Whether it holds `role`.
    #[must_use]
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    fn require(&self, role: Role, what: &str) -> Result<()> {
        if self.has(role) {
            Ok(())
        } else {
            Err(AuthorityError::Forbidden(format!(
                "key `{}` may not {what}: it needs the `{}` role in the trust root",
                self.name,
                role_name(role)
            )))
        }
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Issuer => "issuer",
        Role::Approver => "approver",
        Role::Requester => "requester",
        Role::Gate => "gate",
        Role::Ledger => "ledger",
    }
}

/// A request about to be issued.
struct Pending<'a> {
    id: &'a str,
    requester: KeyId,
    requester_name: String,
    doc: &'a RequestDocument,
    digest: Sha256Digest,
    approvals_required: u32,
    approver_group: Option<String>,
    plan: &'a Plan,
}

/// A signed, logged writ not yet stored.
struct Minted {
    writ_id: String,
    envelope: Vec<u8>,
    env_digest: Sha256Digest,
    receipt: Vec<u8>,
    index: u64,
    issuance: Entry,
    uses: Option<u32>,
    not_after: Timestamp,
}

/// A signed writ whose issuance entry is not logged yet. It must not leave
/// the authority before [`Draft::finish`] gives it the receipt of that
/// entry, durable and covered by a signed checkpoint.
struct Draft {
    writ_id: String,
    envelope: Vec<u8>,
    env_digest: Sha256Digest,
    issuance: Entry,
    uses: Option<u32>,
    not_after: Timestamp,
}

impl Draft {
    /// The minted writ, given the receipt of its durable issuance entry
    /// (`issuance_bytes`, which the receipt carries as its `extra` line).
    fn finish(self, receipt: &writ_ledger::Receipt, issuance_bytes: Vec<u8>) -> Minted {
        let Self { writ_id, envelope, env_digest, issuance, uses, not_after } = self;
        Minted {
            writ_id,
            envelope,
            env_digest,
            receipt: receipt.to_tlog_proof_with_extra(issuance_bytes).to_bytes(),
            index: receipt.index,
            issuance,
            uses,
            not_after,
        }
    }
}

/// What the authority decided to do before issuance, stored with a request.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Plan {
    decision: writ_policy::Decision,
    conditions: Vec<Condition>,
}

struct PolicyCache {
    mtime: Option<SystemTime>,
    set: Arc<PolicySet>,
}

/// The policy id recorded for a policy set digest (hex).
fn policy_id(digest: &str) -> String {
    format!("policies.cedar#{}", digest.get(..16).unwrap_or(digest))
}

struct TrustCache {
    mtime: Option<SystemTime>,
    root: Arc<TrustRoot>,
}

/// The authority: decides, collects approvals, issues, revokes, answers
/// status. Every method is blocking and safe to call from many threads.
pub struct Authority {
    home: PathBuf,
    issuer: SigningKey,
    trust: RwLock<TrustCache>,
    policy: RwLock<PolicyCache>,
    ledger: Ledger,
    db: Db,
    lease: Option<crate::lease::Lease>,
    pending_ttl: i64,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").field("home", &self.home).finish_non_exhaustive()
    }
}

fn ts(t: i64) -> String {
    Timestamp(t).to_rfc3339()
}

fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

fn bad(msg: impl Into<String>) -> AuthorityError {
    AuthorityError::InvalidRequest(msg.into())
}

fn col(row: &Row, i: usize) -> &Val {
    row.get(i).unwrap_or(&Val::Null)
}
fn col_text(row: &Row, i: usize) -> String {
    col(row, i).text().unwrap_or_default().to_string()
}
fn col_int(row: &Row, i: usize) -> i64 {
    col(row, i).int().unwrap_or_default()
}
fn col_blob(row: &Row, i: usize) -> Vec<u8> {
    col(row, i).blob().map(<[u8]>::to_vec).unwrap_or_default()
}

fn load_trust(path: &Path) -> Result<TrustRoot> {
    let bytes =
        std::fs::read(path).map_err(|e| AuthorityError::Config(format!("cannot read `{}`: {e}", path.display())))?;
    TrustRoot::from_json(&bytes).map_err(|e| AuthorityError::Config(format!("`{}`: {e}", path.display())))
}

impl Authority {
    /// Open the authority of a home directory (see [`crate::home`]).
    ///
    /// # Errors
    /// [`AuthorityError::Config`] for a missing or bad key, trust root or
    /// policy set (an invalid policy set refuses to load: fail closed);
    /// ledger and database errors.
    pub fn open(config: &Config) -> Result<Self> {
        let home = config.home.clone();
        if !home.join(home::ISSUER_KEY).exists() {
            return Err(AuthorityError::Config(format!(
                "`{}` is not a writ home (no `{}`); create one with `writ init --home {}`",
                home.display(),
                home::ISSUER_KEY,
                home.display()
            )));
        }
        let issuer = home::read_private_key(&home.join(home::ISSUER_KEY))?;
        let trust_path = home.join(home::TRUST);
        let root = load_trust(&trust_path)?;
        let mtime = std::fs::metadata(&trust_path).and_then(|m| m.modified()).ok();
        let policy_path = home.join(home::POLICIES);
        let policy_mtime = std::fs::metadata(&policy_path).and_then(|m| m.modified()).ok();
        let src = std::fs::read_to_string(&policy_path)
            .map_err(|e| AuthorityError::Config(format!("cannot read `{}`: {e}", policy_path.display())))?;
        let policy = PolicySet::load(&src).map_err(|e| {
            AuthorityError::Config(format!("policy set `{}` does not load: {e}", policy_path.display()))
        })?;
        let (ledger, db, lease) = match &config.database {
            None => (
                Ledger::open_home(&home, "writ.local/unnamed", LedgerOptions::default())?,
                Db::open_sqlite(&home.join(home::STATE_DB))?,
                None,
            ),
            Some(url) => {
                let signer = writ_ledger::key::load(&home.join(home::LEDGER_KEY))?;
                let loc = Location::Postgres { url: url.clone(), schema: config.schema.clone() };
                let lease = crate::lease::Lease::connect(url, &config.schema)?;
                // Opening reads the tree: do it under the lease too, so no
                // other replica commits in between.
                let ledger = lease.with(|| Ok(Ledger::open(loc, signer, LedgerOptions::default())?))?;
                (ledger, Db::open_postgres(url, &config.schema)?, Some(lease))
            }
        };
        let a = Self {
            home,
            issuer,
            trust: RwLock::new(TrustCache { mtime, root: Arc::new(root) }),
            policy: RwLock::new(PolicyCache { mtime: policy_mtime, set: Arc::new(policy) }),
            ledger,
            db,
            lease,
            pending_ttl: config.pending_ttl_secs,
        };
        a.check_keys()?;
        Ok(a)
    }

    fn check_keys(&self) -> Result<()> {
        let trust = self.trust();
        match trust.key(&self.issuer.key_id()) {
            Some(k) if k.has_role(Role::Issuer) && !k.entry.revoked => {}
            _ => {
                return Err(AuthorityError::Config(format!(
                    "the issuer key {} is not an issuer in `{}`",
                    self.issuer.key_id(),
                    self.home.join(home::TRUST).display()
                )));
            }
        }
        let origin = self.ledger.origin();
        if !trust.keys().iter().any(|k| k.has_role(Role::Ledger) && k.entry.name == origin) {
            return Err(AuthorityError::Config(format!(
                "the trust root lists no ledger key named `{origin}`; receipts would not verify"
            )));
        }
        Ok(())
    }

    /// The current trust root (reloaded when `trust.json` changes; a broken
    /// edit keeps the last good one).
    #[must_use]
    pub fn trust(&self) -> Arc<TrustRoot> {
        let path = self.home.join(home::TRUST);
        let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        {
            let g = self.trust.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if g.mtime == mtime {
                return g.root.clone();
            }
        }
        let mut g = self.trust.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.mtime != mtime
            && let Ok(root) = load_trust(&path)
        {
            g.root = Arc::new(root);
            g.mtime = mtime;
        }
        g.root.clone()
    }

    /// The current policy set. `policies.cedar` is reloaded when it changes:
    /// a set that loads replaces the old one and is recorded in the ledger
    /// (`policy_change`); one that does not load is refused and the last good
    /// set stays in force (fail closed, never open).
    pub fn policy(&self, now: Timestamp) -> Arc<PolicySet> {
        let path = self.home.join(home::POLICIES);
        let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        {
            let g = self.policy.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if g.mtime == mtime {
                return g.set.clone();
            }
        }
        let mut g = self.policy.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.mtime == mtime {
            return g.set.clone();
        }
        g.mtime = mtime;
        let loaded = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|src| PolicySet::load(&src).map_err(|e| e.to_string()));
        match loaded {
            Ok(set) if set.digest() != g.set.digest() => {
                let change = Entry::PolicyChange(entry::PolicyChange {
                    time: now,
                    policy_id: policy_id(set.digest()),
                    policy_digest: Sha256Digest::from_hex(set.digest()).unwrap_or(Sha256Digest([0; 32])),
                    actor: format!("file {}", path.display()),
                    previous_digest: Sha256Digest::from_hex(g.set.digest()).ok(),
                });
                match self.log(&change) {
                    Ok(_) => g.set = Arc::new(set),
                    Err(e) => {
                        eprintln!("writ-authority: policy change not recorded ({e}); keeping the previous policy set")
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("writ-authority: `{}` does not load ({e}); keeping the last good policy set", path.display())
            }
        }
        g.set.clone()
    }

    /// The ledger.
    #[must_use]
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The home directory.
    #[must_use]
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The issuer key id.
    #[must_use]
    pub fn issuer_key_id(&self) -> KeyId {
        self.issuer.key_id()
    }

    /// The operator's identity (the issuer key): what the embedded CLI acts
    /// as when no `--key` is given for operator commands.
    ///
    /// # Errors
    /// When the issuer key is no longer in the trust root.
    pub fn operator(&self, now: Timestamp) -> Result<Identity> {
        self.identify(&self.issuer.key_id(), now)
    }

    /// Ready to serve: keys, policy, database and ledger usable.
    ///
    /// # Errors
    /// What is not usable.
    pub fn ready(&self) -> Result<()> {
        self.check_keys()?;
        self.db.ping()?;
        self.ledger.entries(0, 0)?;
        Ok(())
    }

    /// Whether request-signature nonces must be remembered in the shared
    /// database (several replicas) rather than in the process.
    #[must_use]
    pub fn shared_nonces(&self) -> bool {
        matches!(self.db, Db::Postgres(_))
    }

    /// Remember an HTTP request-signature nonce; `false` when it was seen
    /// before (a replay). Forgets nonces whose `created` is older than
    /// `forget_before`.
    ///
    /// # Errors
    /// Database errors.
    pub fn claim_nonce(&self, key: &str, created: i64, forget_before: i64) -> Result<bool> {
        self.db.tx(|t| {
            if created % 64 == 0 {
                t.exec("DELETE FROM auth_http_nonces WHERE created < ?1", &[forget_before.into()])?;
            }
            let n = t.exec(
                "INSERT INTO auth_http_nonces (k, created) VALUES (?1, ?2) ON CONFLICT (k) DO NOTHING",
                &[key.into(), created.into()],
            )?;
            Ok(n == 1)
        })
    }

    /// Who holds `key_id`.
    ///
    /// # Errors
    /// [`AuthorityError::UnknownKey`] when it is not in the trust root, is
    /// revoked or outside its window at `now`.
    pub fn identify(&self, key_id: &KeyId, now: Timestamp) -> Result<Identity> {
        let trust = self.trust();
        match trust.key(key_id) {
            Some(k) if !k.entry.revoked && k.valid_at(now) => Ok(Identity {
                key_id: *key_id,
                name: k.entry.name.clone(),
                roles: k.entry.roles.clone(),
                groups: k.entry.groups.clone(),
            }),
            _ => Err(AuthorityError::UnknownKey(key_id.to_string())),
        }
    }

    /// The public key of a trusted key id.
    fn public_key(&self, key_id: &KeyId) -> Option<writ_core::PublicKey> {
        self.trust().key(key_id).map(|k| k.key)
    }

    fn append(&self, t: &mut dyn Tx, e: &Entry) -> Result<u64> {
        let idx = self.log(e)?;
        self.index_entry(t, idx, e)?;
        Ok(idx)
    }

    /// Append an entry to the ledger (durable when this returns).
    fn log(&self, e: &Entry) -> Result<u64> {
        let bytes = e.encode().map_err(|err| bad(err.to_string()))?;
        self.sequenced(|| retry_conflicts(|| self.ledger.append(bytes.clone())))
    }

    /// Run a ledger append under the sequencer lease (PostgreSQL replicas).
    fn sequenced<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        match &self.lease {
            Some(l) => l.with(f),
            None => f(),
        }
    }

    fn index_entry(&self, t: &mut dyn Tx, idx: u64, e: &Entry) -> Result<()> {
        t.exec(
            "INSERT INTO auth_entries (idx, kind, request_id, writ_id) VALUES (?1, ?2, ?3, ?4)",
            &[
                Val::Int(i64::try_from(idx).unwrap_or(i64::MAX)),
                e.kind().as_str().into(),
                e.request_id().map(str::to_string).into(),
                e.writ_id().map(str::to_string).into(),
            ],
        )?;
        Ok(())
    }

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
            Outcome::Deny => "denied",
            Outcome::NeedsApproval => "pending",
            Outcome::Allow => "approved",
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
        self.db.tx(|t| {
            for (idx, e) in &logged {
                self.index_entry(t, *idx, e)?;
            }
            t.exec(
                "INSERT INTO auth_requests (id, requester, requester_name, document, digest, status, created_at, expires_at, approvals_required, approver_group, plan, writ_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL)",
                &[
                    id.clone().into(),
                    caller.key_id.to_string().into(),
                    caller.name.clone().into(),
                    Val::Blob(doc_bytes.clone()),
                    digest.to_hex().into(),
                    status.into(),
                    now.unix().into(),
                    expires.into(),
                    i64::from(decision.obligations.approvals).into(),
                    decision.obligations.approver_group.clone().into(),
                    plan_json.clone().into(),
                ],
            )?;
            if let Some(m) = &minted {
                self.store_minted(t, &id, &caller.key_id, m)?;
            }
            Ok(())
        })?;
        // The view of what was just stored, without reading it back (the
        // same fields `request_view_internal` reads from the database).
        let (status, writ_id, writ, receipt) = match minted {
            Some(m) => (
                "issued",
                Some(m.writ_id),
                Some(String::from_utf8_lossy(&m.envelope).into_owned()),
                Some(String::from_utf8_lossy(&m.receipt).into_owned()),
            ),
            None => (status, None, None, None),
        };
        Ok(view(ViewParts {
            id,
            status: status.into(),
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
        let used = self.db.tx(|t| {
            t.exec(
                "UPDATE auth_nonces SET used = 1 WHERE nonce = ?1 AND used = 0 AND expires_at > ?2",
                &[nonce.clone().into(), now.unix().into()],
            )
        })?;
        if used != 1 {
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
        self.db.tx(|t| {
            t.exec("DELETE FROM auth_nonces WHERE expires_at < ?1", &[now.unix().saturating_sub(3600).into()])?;
            t.exec(
                "INSERT INTO auth_nonces (nonce, expires_at, used) VALUES (?1, ?2, 0)",
                &[nonce.clone().into(), exp.into()],
            )
        })?;
        Ok(NonceView { nonce, expires_at: ts(exp) })
    }

    /// Issue the writ of request `id` (inside the caller's transaction).
    fn issue(&self, t: &mut dyn Tx, id: &str, now: Timestamp) -> Result<()> {
        let rows = t.query(
            "SELECT requester, requester_name, document, digest, approvals_required, approver_group, plan FROM auth_requests WHERE id = ?1",
            &[id.into()],
        )?;
        let row = rows.first().ok_or_else(|| AuthorityError::UnknownRequest(id.into()))?;
        let doc: RequestDocument = serde_json::from_slice(&col_blob(row, 2))
            .map_err(|e| AuthorityError::Internal(format!("stored request document: {e}")))?;
        let plan: Plan = serde_json::from_str(&col_text(row, 6))
            .map_err(|e| AuthorityError::Internal(format!("stored plan: {e}")))?;
        let requester = KeyId::parse(&col_text(row, 0)).map_err(|e| AuthorityError::Internal(e.into()))?;
        let digest = Sha256Digest::from_hex(&col_text(row, 3)).map_err(|e| AuthorityError::Internal(e.into()))?;
        let votes = t.query(
            "SELECT approver, time, sig FROM auth_votes WHERE request_id = ?1 AND verdict = 'approve' ORDER BY time, approver",
            &[id.into()],
        )?;
        let approvals = votes
            .iter()
            .map(|v| {
                Ok(writ_core::model::Approval {
                    approver: KeyId::parse(&col_text(v, 0)).map_err(|e| AuthorityError::Internal(e.into()))?,
                    time: Timestamp(col_int(v, 1)),
                    sig: col_text(v, 2),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let minted = self.mint(
            &Pending {
                id,
                requester,
                requester_name: col_text(row, 1),
                doc: &doc,
                digest,
                approvals_required: u32::try_from(col_int(row, 4)).unwrap_or(0),
                approver_group: col(row, 5).text().map(str::to_string),
                plan: &plan,
            },
            approvals,
            now,
        )?;
        self.store_minted(t, id, &requester, &minted)
    }

    /// Build, sign and log a writ; returns it with its receipt. Touches no
    /// state: the caller stores it ([`Self::store_minted`]).
    fn mint(&self, p: &Pending<'_>, approvals: Vec<writ_core::model::Approval>, now: Timestamp) -> Result<Minted> {
        let (draft, issuance_bytes) = self.draft(p, approvals, now)?;
        // INVARIANT (7, nothing runs unlogged): the writ leaves the authority
        // only with the receipt of its durable issuance entry.
        let receipt = self.sequenced(|| retry_conflicts(|| self.ledger.append_with_receipt(issuance_bytes.clone())))?;
        Ok(draft.finish(&receipt, issuance_bytes))
    }

    /// Build and sign a writ and its issuance entry (encoded), without
    /// logging it: [`Draft::finish`] attaches the receipt once it is durable.
    fn draft(
        &self,
        p: &Pending<'_>,
        approvals: Vec<writ_core::model::Approval>,
        now: Timestamp,
    ) -> Result<(Draft, Vec<u8>)> {
        let trust = self.trust();
        let mut duration = i64::try_from(p.doc.duration_secs).unwrap_or(i64::MAX);
        if let Some(m) = p.plan.decision.obligations.max_duration_secs {
            duration = duration.min(i64::try_from(m).unwrap_or(i64::MAX));
        }
        if let Some(m) = trust.file().max_writ_lifetime_secs {
            duration = duration.min(i64::try_from(m).unwrap_or(i64::MAX));
        }
        let action = match &p.doc.target {
            TargetInput::Exec { program, sha256, argv } => Action::Exec(ExecAction {
                program: program.clone(),
                sha256: Sha256Digest::from_hex(sha256.as_deref().unwrap_or_default())
                    .map_err(|e| AuthorityError::Internal(e.into()))?,
                args: argv.iter().skip(1).map(|a| ArgRule::Exact(a.clone())).collect(),
                more_args: false,
            }),
            TargetInput::Http { method, path } => {
                Action::Http(HttpAction { method: method.clone(), path: path.clone(), body_sha256: None })
            }
            TargetInput::Tool { name } => {
                Action::Tool(ToolAction { name: name.clone(), args: Default::default(), more_args: false })
            }
        };
        let uses = p.plan.decision.obligations.single_use.then_some(1);
        let writ_id = new_id();
        let predicate = Predicate {
            id: writ_id.clone(),
            issuer: self.issuer.key_id(),
            issued_at: now,
            request: RequestRef {
                id: p.id.into(),
                requester: p.requester,
                requester_name: p.requester_name.clone(),
                reason: p.doc.reason.clone(),
                digest: DigestSet(p.digest),
            },
            policy: PolicyProof {
                id: policy_id(&p.plan.decision.policy_digest),
                digest: DigestSet(
                    Sha256Digest::from_hex(&p.plan.decision.policy_digest).unwrap_or(Sha256Digest([0; 32])),
                ),
                decision: PolicyDecision::Allow,
                determining_policies: p.plan.decision.determining_policies.clone(),
            },
            governance: Governance {
                approvals_required: p.approvals_required,
                approver_group: p.approver_group.clone(),
                approvals,
            },
            conditions: p.plan.conditions.clone(),
            scope: Scope {
                actions: vec![action],
                environment: Environment {
                    hosts: p.doc.hosts.clone(),
                    labels: Vec::new(),
                    env: writ_core::json::StrictMap(
                        p.doc.env.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect(),
                    ),
                    cwd: p.doc.cwd.clone(),
                },
                boundaries: writ_core::model::Boundaries::default(),
                uses,
                offline: uses.is_none(),
            },
            validity: Validity { not_before: now, not_after: now.plus(duration.max(1)) },
            lineage: Lineage::default(),
        };
        let statement = writ_core::issue::statement(predicate);
        let envelope = writ_core::issue::sign(&statement, &self.issuer).map_err(AuthorityError::Internal)?;
        let env_digest = Sha256Digest::of(&envelope);
        let issuance = Entry::Issuance(entry::Issuance {
            time: now,
            request_id: p.id.into(),
            writ_id: writ_id.clone(),
            envelope_digest: env_digest,
            issuer: self.issuer.key_id().to_string(),
            not_before: statement.predicate.validity.not_before,
            not_after: statement.predicate.validity.not_after,
            parent_writ_id: None,
            parent_digest: None,
        });
        let issuance_bytes = issuance.encode().map_err(|e| AuthorityError::Internal(e.to_string()))?;
        let not_after = statement.predicate.validity.not_after;
        Ok((Draft { writ_id, envelope, env_digest, issuance, uses, not_after }, issuance_bytes))
    }

    fn store_minted(&self, t: &mut dyn Tx, id: &str, requester: &KeyId, m: &Minted) -> Result<()> {
        self.index_entry(t, m.index, &m.issuance)?;
        t.exec(
            "INSERT INTO auth_writs (id, request_id, requester, envelope, envelope_sha256, receipt, uses, used, not_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
            &[
                m.writ_id.clone().into(),
                id.into(),
                requester.to_string().into(),
                Val::Blob(m.envelope.clone()),
                m.env_digest.to_hex().into(),
                Val::Blob(m.receipt.clone()),
                m.uses.map(i64::from).into(),
                m.not_after.unix().into(),
            ],
        )?;
        t.exec(
            "UPDATE auth_requests SET status = 'issued', writ_id = ?1 WHERE id = ?2",
            &[m.writ_id.clone().into(), id.into()],
        )?;
        Ok(())
    }

    /// Pending requests (for approvers).
    ///
    /// # Errors
    /// [`AuthorityError::Forbidden`] without the approver role.
    pub fn pending(&self, caller: &Identity, now: Timestamp) -> Result<Vec<RequestView>> {
        if !caller.has(Role::Issuer) {
            caller.require(Role::Approver, "list pending requests")?;
        }
        let ids = self.db.tx(|t| {
            t.query(
                "SELECT id FROM auth_requests WHERE status = 'pending' AND expires_at > ?1 ORDER BY created_at, id LIMIT 1000",
                &[now.unix().into()],
            )
        })?;
        ids.iter().map(|r| self.request_view_internal(&col_text(r, 0), false)).collect()
    }

    /// One request. The requester sees the writ once issued.
    ///
    /// # Errors
    /// [`AuthorityError::UnknownRequest`]; [`AuthorityError::Forbidden`] for
    /// callers who are neither its requester, an approver nor an issuer.
    pub fn request(&self, caller: &Identity, id: &str) -> Result<RequestView> {
        let v = self.request_view_internal(id, false)?;
        let own = v.requester == caller.key_id.to_string();
        if !own && !caller.has(Role::Approver) && !caller.has(Role::Issuer) {
            return Err(AuthorityError::Forbidden(
                "only the requester, approvers and issuers may read a request".into(),
            ));
        }
        if own || caller.has(Role::Issuer) { self.request_view_internal(id, true) } else { Ok(v) }
    }

    fn request_view_internal(&self, id: &str, with_writ: bool) -> Result<RequestView> {
        let (rows, votes, writ) = self.db.tx(|t| {
            let rows = t.query(
                "SELECT id, status, requester, requester_name, document, digest, created_at, expires_at, approvals_required, approver_group, plan, writ_id FROM auth_requests WHERE id = ?1",
                &[id.into()],
            )?;
            let votes = t.query(
                "SELECT approver, approver_name, verdict, time FROM auth_votes WHERE request_id = ?1 ORDER BY time, approver",
                &[id.into()],
            )?;
            let writ = t.query(
                "SELECT w.envelope, w.receipt FROM auth_writs w JOIN auth_requests r ON r.writ_id = w.id WHERE r.id = ?1",
                &[id.into()],
            )?;
            Ok((rows, votes, writ))
        })?;
        let row = rows.first().ok_or_else(|| AuthorityError::UnknownRequest(id.into()))?;
        let doc_bytes = col_blob(row, 4);
        let doc: RequestDocument = serde_json::from_slice(&doc_bytes)
            .map_err(|e| AuthorityError::Internal(format!("stored request document: {e}")))?;
        let plan: Plan = serde_json::from_str(&col_text(row, 10))
            .map_err(|e| AuthorityError::Internal(format!("stored plan: {e}")))?;
        let (writ, receipt) = match writ.first() {
            Some(w) if with_writ => (
                Some(String::from_utf8_lossy(&col_blob(w, 0)).into_owned()),
                Some(String::from_utf8_lossy(&col_blob(w, 1)).into_owned()),
            ),
            _ => (None, None),
        };
        Ok(view(ViewParts {
            id: col_text(row, 0),
            status: col_text(row, 1),
            requester: col_text(row, 2),
            requester_name: col_text(row, 3),
            doc_bytes: &doc_bytes,
            doc,
            digest: col_text(row, 5),
            created: col_int(row, 6),
            expires: col_int(row, 7),
            approvals_required: u32::try_from(col_int(row, 8)).unwrap_or(0),
            approver_group: col(row, 9).text().map(str::to_string),
            plan: &plan,
            approvals: votes
                .iter()
                .map(|v| VoteView {
                    approver: col_text(v, 0),
                    name: col_text(v, 1),
                    verdict: col_text(v, 2),
                    time: ts(col_int(v, 3)),
                })
                .collect(),
            writ_id: col(row, 11).text().map(str::to_string),
            writ,
            receipt,
        }))
    }

    /// An approver's vote: `signature` is their Ed25519 signature over
    /// [`approval::signing_input`] of the request digest and the verdict.
    /// Issues the writ when the approvals reach quorum; denies the request
    /// when the denials do.
    ///
    /// # Errors
    /// `forbidden`, `self_approval`, `not_in_group`, `unknown_request`,
    /// `request_not_pending`, `request_expired`, `already_voted`,
    /// `bad_signature`; nothing is stored on any of them.
    pub fn vote(
        &self,
        caller: &Identity,
        id: &str,
        verdict: Verdict,
        signature: &[u8],
        now: Timestamp,
    ) -> Result<RequestView> {
        caller.require(Role::Approver, "approve or deny requests")?;
        let lock = self.db.for_update();
        self.db.tx(|t| {
            let rows = t.query(
                &format!(
                    "SELECT status, requester, requester_name, digest, expires_at, approvals_required, approver_group FROM auth_requests WHERE id = ?1{lock}"
                ),
                &[id.into()],
            )?;
            let row = rows.first().ok_or_else(|| AuthorityError::UnknownRequest(id.into()))?;
            let status = col_text(row, 0);
            if status != "pending" {
                return Err(AuthorityError::NotPending { id: id.into(), status });
            }
            // INVARIANT (6, nothing self-authorizes): the requester never votes,
            // not with the same key nor under the same name with another key.
            if col_text(row, 1) == caller.key_id.to_string() || col_text(row, 2) == caller.name {
                return Err(AuthorityError::SelfApproval);
            }
            if let Some(g) = col(row, 6).text()
                && !caller.groups.iter().any(|cg| cg == g)
            {
                return Err(AuthorityError::NotInGroup(g.into()));
            }
            if col_int(row, 4) <= now.unix() {
                return Err(AuthorityError::Expired(id.into()));
            }
            let digest = Sha256Digest::from_hex(&col_text(row, 3)).map_err(|e| AuthorityError::Internal(e.into()))?;
            let key = self.public_key(&caller.key_id).ok_or_else(|| AuthorityError::UnknownKey(caller.key_id.to_string()))?;
            if !key.verify_strict(&approval::signing_input(&digest, verdict), signature) {
                return Err(AuthorityError::BadSignature(format!(
                    "the signature does not verify over the {} input for request digest {digest}; sign what `writ pending` shows",
                    verdict_str(verdict)
                )));
            }
            // Distinct approvers: one vote per key and per trust-root name
            // (a person holding two approver keys still counts once).
            let seen = t.query(
                "SELECT 1 FROM auth_votes WHERE request_id = ?1 AND (approver = ?2 OR approver_name = ?3)",
                &[id.into(), caller.key_id.to_string().into(), caller.name.clone().into()],
            )?;
            if !seen.is_empty() {
                return Err(AuthorityError::AlreadyVoted(id.into()));
            }
            let sig_b64 = writ_core::b64::encode(signature);
            let approval_obj = serde_json::json!({
                "request_id": id, "approver": caller.key_id.to_string(), "verdict": verdict_str(verdict),
                "time": now.to_rfc3339(), "sig": sig_b64,
            });
            let approval_digest = Sha256Digest::of(approval_obj.to_string().as_bytes());
            match verdict {
                Verdict::Approve => self.append(
                    t,
                    &Entry::Approval(entry::Approval {
                        time: now,
                        request_id: id.into(),
                        approver: caller.key_id.to_string(),
                        request_digest: digest,
                        approval_digest,
                    }),
                )?,
                Verdict::Deny => self.append(
                    t,
                    &Entry::Denial(entry::Denial {
                        time: now,
                        request_id: Some(id.into()),
                        writ_id: None,
                        code: "approver_denied".into(),
                        detail: truncate(&format!("approver `{}` ({}) denied the request", caller.name, caller.key_id)),
                        host: None,
                    }),
                )?,
            };
            t.exec(
                "INSERT INTO auth_votes (request_id, approver, approver_name, verdict, time, sig) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    id.into(),
                    caller.key_id.to_string().into(),
                    caller.name.clone().into(),
                    verdict_str(verdict).into(),
                    now.unix().into(),
                    sig_b64.into(),
                ],
            )?;
            let required = col_int(row, 5).max(1);
            let count = t.query(
                "SELECT COUNT(*) FROM auth_votes WHERE request_id = ?1 AND verdict = ?2",
                &[id.into(), verdict_str(verdict).into()],
            )?;
            let n = count.first().map_or(0, |r| col_int(r, 0));
            if n >= required {
                match verdict {
                    Verdict::Approve => self.issue(t, id, now)?,
                    Verdict::Deny => {
                        t.exec("UPDATE auth_requests SET status = 'denied' WHERE id = ?1", &[id.into()])?;
                    }
                }
            }
            Ok(())
        })?;
        self.request_view_internal(id, false)
    }

    /// Revoke a writ. Issuers, approvers and the writ's own requester may.
    ///
    /// # Errors
    /// `unknown_writ`, `already_revoked`, `forbidden`, `invalid_request`
    /// (empty reason).
    pub fn revoke(&self, caller: &Identity, writ_id: &str, reason: &str, now: Timestamp) -> Result<WritView> {
        if reason.trim().is_empty() || reason.len() > MAX_REASON {
            return Err(bad(format!("a revocation needs a reason of 1 to {MAX_REASON} bytes")));
        }
        let lock = self.db.for_update();
        self.db.tx(|t| {
            let rows = t.query(
                &format!("SELECT request_id, requester, revoked_at FROM auth_writs WHERE id = ?1{lock}"),
                &[writ_id.into()],
            )?;
            let row = rows.first().ok_or_else(|| AuthorityError::UnknownWrit(writ_id.into()))?;
            let own = col_text(row, 1) == caller.key_id.to_string();
            if !own && !caller.has(Role::Issuer) && !caller.has(Role::Approver) {
                return Err(AuthorityError::Forbidden(
                    "only issuers, approvers and the writ's requester may revoke it".into(),
                ));
            }
            if !matches!(col(row, 2), Val::Null) {
                return Err(AuthorityError::AlreadyRevoked(writ_id.into()));
            }
            self.append(
                t,
                &Entry::Revocation(entry::Revocation {
                    time: now,
                    request_id: col_text(row, 0),
                    writ_id: writ_id.into(),
                    revoked_by: format!("{} ({})", caller.name, caller.key_id),
                    reason: reason.into(),
                }),
            )?;
            t.exec(
                "UPDATE auth_writs SET revoked_at = ?1, reason = ?2 WHERE id = ?3",
                &[now.unix().into(), reason.into(), writ_id.into()],
            )?;
            Ok(())
        })?;
        self.writ(writ_id)
    }

    /// A writ's state.
    ///
    /// # Errors
    /// `unknown_writ`.
    pub fn writ(&self, writ_id: &str) -> Result<WritView> {
        let rows = self.db.tx(|t| {
            t.query(
                "SELECT id, request_id, uses, used, not_after, revoked_at, reason, envelope, receipt FROM auth_writs WHERE id = ?1",
                &[writ_id.into()],
            )
        })?;
        let row = rows.first().ok_or_else(|| AuthorityError::UnknownWrit(writ_id.into()))?;
        let revoked = col(row, 5).int();
        Ok(WritView {
            writ_id: col_text(row, 0),
            request_id: col_text(row, 1),
            state: if revoked.is_some() { "revoked" } else { "valid" }.into(),
            uses: col(row, 2).int().and_then(|u| u32::try_from(u).ok()),
            used: u32::try_from(col_int(row, 3)).unwrap_or(u32::MAX),
            not_after: ts(col_int(row, 4)),
            revoked_at: revoked.map(ts),
            reason: col(row, 6).text().map(str::to_string),
            writ: String::from_utf8_lossy(&col_blob(row, 7)).into_owned(),
            receipt: String::from_utf8_lossy(&col_blob(row, 8)).into_owned(),
        })
    }

    /// A signed status response for a writ (see `writ_core::status`). With
    /// `consume`, one use is consumed atomically and its number returned.
    ///
    /// # Errors
    /// `unknown_writ`; `replayed` when every use is consumed; `forbidden`
    /// when a non-gate key asks to consume.
    pub fn status(
        &self,
        caller: &Identity,
        writ_id: &str,
        consume: bool,
        nonce: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<u8>> {
        if consume {
            caller.require(Role::Gate, "consume writ uses")?;
        }
        if nonce.as_ref().is_some_and(|n| n.is_empty() || n.len() > 128) {
            return Err(bad("a status nonce is 1 to 128 characters"));
        }
        let st = self.db.tx(|t| {
            let rows = t.query(
                "SELECT envelope_sha256, uses, used, revoked_at, reason FROM auth_writs WHERE id = ?1",
                &[writ_id.into()],
            )?;
            let row = rows.first().ok_or_else(|| AuthorityError::UnknownWrit(writ_id.into()))?;
            let envelope_sha256 =
                Sha256Digest::from_hex(&col_text(row, 0)).map_err(|e| AuthorityError::Internal(e.into()))?;
            let uses = col(row, 1).int();
            let mut st = StatusStatement {
                writ_id: writ_id.into(),
                envelope_sha256,
                state: WritState::Valid,
                revoked_at: None,
                reason: None,
                use_count: None,
                uses_left: None,
                checked_at: now,
                nonce: nonce.clone(),
            };
            if let Some(at) = col(row, 3).int() {
                st.state = WritState::Revoked;
                st.revoked_at = Some(Timestamp(at));
                st.reason = col(row, 4).text().map(str::to_string);
                return Ok(st);
            }
            if consume {
                // INVARIANT: one use is handed out once, also across replicas:
                // the conditional increment is atomic in the database.
                let got = t.query(
                    "UPDATE auth_writs SET used = used + 1 WHERE id = ?1 AND revoked_at IS NULL AND (uses IS NULL OR used < uses) RETURNING used, uses",
                    &[writ_id.into()],
                )?;
                let r = got.first().ok_or_else(|| AuthorityError::Replayed(writ_id.into()))?;
                let used = col_int(r, 0);
                st.use_count = u32::try_from(used).ok();
                st.uses_left = col(r, 1).int().and_then(|u| u32::try_from(u.saturating_sub(used)).ok());
            } else if let Some(u) = uses {
                st.uses_left = u32::try_from(u.saturating_sub(col_int(row, 2))).ok();
            }
            Ok(st)
        })?;
        Ok(writ_core::status::sign(&st, &self.issuer))
    }

    /// Record a gate's `exec_start`, `exec_end` or `denial` entry.
    ///
    /// # Errors
    /// `forbidden` without the gate role; `malformed` entry bytes or another kind.
    pub fn record(&self, caller: &Identity, entry_bytes: &[u8]) -> Result<(u64, Vec<u8>)> {
        caller.require(Role::Gate, "record execution entries")?;
        let e = Entry::decode(entry_bytes).map_err(|err| AuthorityError::Malformed(format!("entry: {err}")))?;
        if !matches!(e.kind(), EntryKind::ExecStart | EntryKind::ExecEnd | EntryKind::Denial) {
            return Err(bad(format!(
                "gates record exec_start, exec_end and denial entries, not `{}`",
                e.kind().as_str()
            )));
        }
        self.db.tx(|t| {
            let receipt =
                self.sequenced(|| retry_conflicts(|| self.ledger.append_with_receipt(entry_bytes.to_vec())))?;
            self.index_entry(t, receipt.index, &e)?;
            let mut p = receipt.to_tlog_proof();
            p.extra = Some(entry_bytes.to_vec());
            Ok((receipt.index, p.to_bytes()))
        })
    }

    /// Ledger entries of a request or writ: `(index, kind, bytes)`.
    ///
    /// # Errors
    /// Database and ledger errors.
    pub fn entries_for(&self, request_id: Option<&str>, writ_id: Option<&str>) -> Result<Vec<(u64, String, Vec<u8>)>> {
        let rows = self.db.tx(|t| match (request_id, writ_id) {
            (Some(r), _) => {
                t.query("SELECT idx, kind FROM auth_entries WHERE request_id = ?1 ORDER BY idx LIMIT 1000", &[r.into()])
            }
            (None, Some(w)) => {
                t.query("SELECT idx, kind FROM auth_entries WHERE writ_id = ?1 ORDER BY idx LIMIT 1000", &[w.into()])
            }
            (None, None) => Ok(Vec::new()),
        })?;
        rows.iter()
            .map(|r| {
                let idx = u64::try_from(col_int(r, 0)).unwrap_or(0);
                Ok((idx, col_text(r, 1), self.ledger.entry(idx)?))
            })
            .collect()
    }
}

/// Everything a [`RequestView`] is made of, from the state database or (just
/// after [`Authority::submit`] stored it) from memory.
struct ViewParts<'a> {
    id: String,
    status: String,
    requester: String,
    requester_name: String,
    doc_bytes: &'a [u8],
    doc: RequestDocument,
    digest: String,
    created: i64,
    expires: i64,
    approvals_required: u32,
    approver_group: Option<String>,
    plan: &'a Plan,
    approvals: Vec<VoteView>,
    writ_id: Option<String>,
    writ: Option<String>,
    receipt: Option<String>,
}

fn view(p: ViewParts<'_>) -> RequestView {
    let summary = match &p.doc.target {
        TargetInput::Exec { argv, program, .. } => {
            let mut a = argv.clone();
            if let Some(first) = a.first_mut() {
                first.clone_from(program);
            }
            writ_policy::command_line(&a)
        }
        TargetInput::Http { method, path } => format!("http {method} {path}"),
        TargetInput::Tool { name } => format!("tool {name}"),
    };
    let d = &p.plan.decision;
    RequestView {
        request_id: p.id,
        status: p.status,
        requester: p.requester,
        requester_name: p.requester_name,
        document: writ_core::b64::encode(p.doc_bytes),
        request_digest: p.digest,
        summary,
        reason: p.doc.reason,
        created_at: ts(p.created),
        expires_at: ts(p.expires),
        approvals_required: p.approvals_required,
        approver_group: p.approver_group,
        approvals: p.approvals,
        decision: DecisionView {
            outcome: d.outcome.as_str().into(),
            determining_policies: d.determining_policies.clone(),
            reasons: d.reasons.clone(),
            approvals_required: d.obligations.approvals,
            approver_group: d.obligations.approver_group.clone(),
            policy_digest: d.policy_digest.clone(),
        },
        writ_id: p.writ_id,
        writ: p.writ,
        receipt: p.receipt,
    }
}

/// Replicas sharing one PostgreSQL ledger race to commit; the loser's batch
/// is refused whole (`Conflict`: nothing of it was stored) and its sequencer
/// reloads the tree. Such an append is safe to retry; nothing else is retried.
fn retry_conflicts<T>(mut f: impl FnMut() -> writ_ledger::Result<T>) -> Result<T> {
    let mut attempt = 0u32;
    loop {
        match f() {
            Err(writ_ledger::LedgerError::Stopped(m)) if m.contains("another sequencer") && attempt < 50 => {
                attempt += 1;
                let jitter = u64::from(uuid::Uuid::now_v7().as_bytes().last().copied().unwrap_or(0) % 8);
                std::thread::sleep(std::time::Duration::from_millis(1 + jitter));
            }
            other => return Ok(other?),
        }
    }
}

fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Approve => "approve",
        Verdict::Deny => "deny",
    }
}

fn truncate(s: &str) -> String {
    let mut end = s.len().min(writ_core::entry::MAX_STR_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
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
