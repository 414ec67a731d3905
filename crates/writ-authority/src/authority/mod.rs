//! The authority: one [`Authority`] and its use cases, one module each.
//!
//! - [`intake`]: requests come in (bounds, evidence, policy) and are logged;
//! - [`issue`]: a writ is built, signed, logged and stored with its receipt;
//! - [`vote`]: approvers approve or deny;
//! - [`writs`]: revocation, signed status with use consumption, gate records;
//! - [`start`]: a gate's status and `exec_start` in one transaction;
//! - [`views`]: what approvers and requesters read.
//!
//! None of them writes SQL: every statement and typed row is in
//! [`crate::state`].

mod delegations;
mod intake;
mod issue;
mod once;
pub mod recover;
mod start;
mod views;
mod vote;
mod writs;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use writ_core::entry::{self, Entry};
use writ_core::model::Condition;
use writ_core::trust::Role;
use writ_core::{KeyId, Sha256Digest, Timestamp, TrustRoot};
use writ_ledger::{Ledger, LedgerOptions, Location};
use writ_policy::PolicySet;

pub use issue::MAX_OFFLINE_SECS;
pub use once::CallOptions;
pub use start::Started;
pub use vote::VoteSignature;

use crate::db::{Db, Tx};
use crate::error::{AuthorityError, Result};
use crate::{home, state};

/// How long a pending request waits for approvals.
pub const DEFAULT_PENDING_TTL_SECS: i64 = 24 * 3600;
/// How long an evidence nonce is accepted.
pub const NONCE_TTL_SECS: i64 = 300;

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
        Role::Root => "root",
    }
}

/// What the authority decided to do before issuance, stored with a request.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Plan {
    decision: writ_policy::Decision,
    conditions: Vec<Condition>,
    /// The writ's scope as planned at intake (absent in plans stored by
    /// older versions: see [`Plan::scope`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<PlannedScope>,
}

/// What the writ will carry beyond the request itself, planned at intake
/// from policy's obligations and what the request asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlannedScope {
    /// The stricter of policy's and the request's boundaries.
    #[serde(default)]
    boundaries: writ_core::model::Boundaries,
    /// Uses (`None` = not counted).
    #[serde(default)]
    uses: Option<u32>,
    /// Whether a gate may run it without asking the authority.
    #[serde(default)]
    offline: bool,
    /// Hosts it may run on.
    #[serde(default)]
    hosts: Option<Vec<String>>,
    /// Host labels it is bound to (from verified evidence).
    #[serde(default)]
    labels: Vec<String>,
    /// The holder key (base64), which may delegate the writ (§18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    holder: Option<String>,
    /// How many levels of delegation below the writ (with `holder`).
    #[serde(default, skip_serializing_if = "is_zero")]
    max_depth: u32,
}

#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl PlannedScope {
    /// The writ's lineage: a root, with the holder and depth planned.
    fn lineage(&self) -> writ_core::model::Lineage {
        writ_core::model::Lineage {
            parent: None,
            depth: 0,
            max_depth: if self.holder.is_some() { self.max_depth } else { 0 },
            holder: self.holder.clone().map(|public_key| writ_core::model::Holder { public_key }),
        }
    }
}

impl Plan {
    /// The planned scope; for a plan stored before scopes were planned,
    /// the safe reading of its obligations (single use counted, online only).
    fn scope(&self, doc_hosts: Option<&Vec<String>>) -> PlannedScope {
        self.scope.clone().unwrap_or_else(|| PlannedScope {
            uses: self.decision.obligations.single_use.then_some(1),
            hosts: doc_hosts.cloned(),
            ..PlannedScope::default()
        })
    }
}

struct PolicyCache {
    mtime: Option<SystemTime>,
    set: Arc<PolicySet>,
}

/// The policy id recorded for a policy set digest (hex).
fn policy_id(digest: &str) -> String {
    format!("policies.cedar#{}", digest.get(..16).unwrap_or(digest))
}

/// The authority: decides, collects approvals, issues, revokes, answers
/// status. Every method is blocking and safe to call from many threads.
pub struct Authority {
    home: PathBuf,
    issuer: home::IssuerKey,
    trust: crate::trust_store::TrustStore,
    policy: RwLock<PolicyCache>,
    ledger: Ledger,
    db: Db,
    lease: Option<writ_ledger::lease::Lease>,
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
        let issuer = home::read_issuer_key(&home.join(home::ISSUER_KEY))?;
        let policy_path = home.join(home::POLICIES);
        let policy_mtime = std::fs::metadata(&policy_path).and_then(|m| m.modified()).ok();
        let src = std::fs::read_to_string(&policy_path)
            .map_err(|e| AuthorityError::Config(format!("cannot read `{}`: {e}", policy_path.display())))?;
        let policy = PolicySet::load(&src).map_err(|e| {
            AuthorityError::Config(format!("policy set `{}` does not load: {e}", policy_path.display()))
        })?;
        // One log per key: the home's store, or the one asked for if it is
        // the same; recorded on first use (see `home::resolve_store`).
        let (store, unbound) = home::resolve_store(&home, config.database.as_deref(), &config.schema)?;
        let origin = writ_ledger::key::load(&home.join(home::LEDGER_KEY))?.verifier().name().to_string();
        let (ledger, db, lease) = match &store {
            home::Store::Sqlite => (
                Ledger::open_home(&home, &origin, LedgerOptions::default())?,
                Db::open_sqlite(&home.join(home::STATE_DB))?,
                None,
            ),
            home::Store::Postgres { url, schema } => {
                let loc = Location::Postgres { url: url.clone(), schema: schema.clone() };
                let lease = writ_ledger::lease::Lease::connect(url, schema)?;
                // Opening reads the tree: do it under the lease too, so no
                // other replica commits in between.
                let ledger = lease.with(|| Ledger::open_home_at(&home, loc, &origin, LedgerOptions::default()))?;
                (ledger, Db::open_postgres(url, schema)?, Some(lease))
            }
        };
        if unbound {
            home::bind_store(&home, &store)?;
        }
        let trust = crate::trust_store::TrustStore::open(&home, &ledger)?;
        let a = Self {
            home,
            issuer,
            trust,
            policy: RwLock::new(PolicyCache { mtime: policy_mtime, set: Arc::new(policy) }),
            ledger,
            db,
            lease,
            pending_ttl: config.pending_ttl_secs,
        };
        a.check_keys()?;
        // A crash between a ledger append and the state commit leaves
        // entries the state has not applied: apply them now.
        let n = a.recover_tail()?;
        if n > 0 {
            eprintln!(
                "writ-authority: applied {n} ledger entries the state had not recorded (see `writ recover --check`)"
            );
        }
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

    /// The trust root in force (see [`crate::trust_store`]: reloaded when
    /// its files change; an unsigned, unlogged or broken edit is refused and
    /// the last good version stays).
    #[must_use]
    pub fn trust(&self) -> Arc<TrustRoot> {
        self.trust.current(&self.ledger)
    }

    /// The trust store (signed versions of the trust root).
    #[must_use]
    pub fn trust_store(&self) -> &crate::trust_store::TrustStore {
        &self.trust
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
        // Grouped with concurrent requests' claims: one commit for all.
        let key = key.to_string();
        self.db.tx_grouped(move |t| state::claim_http_nonce(t, &key, created, forget_before))
    }

    /// Who holds `key_id`.
    ///
    /// # Errors
    /// [`AuthorityError::UnknownKey`] when it is not in the trust root, is
    /// revoked or outside its window at `now`.
    pub fn identify(&self, key_id: &KeyId, now: Timestamp) -> Result<Identity> {
        self.identify_with_key(key_id, now).map(|(who, _)| who)
    }

    /// [`Self::identify`], with the caller's public key, both from one
    /// reading of the trust root (one check of its files): what a request's
    /// signature is verified with.
    ///
    /// # Errors
    /// As [`Self::identify`].
    pub fn identify_with_key(&self, key_id: &KeyId, now: Timestamp) -> Result<(Identity, writ_core::PublicKey)> {
        let trust = self.trust();
        match trust.key(key_id) {
            Some(k) if !k.entry.revoked && k.valid_at(now) => Ok((
                Identity {
                    key_id: *key_id,
                    name: k.entry.name.clone(),
                    roles: k.entry.roles.clone(),
                    groups: k.entry.groups.clone(),
                },
                k.key,
            )),
            _ => Err(AuthorityError::UnknownKey(key_id.to_string())),
        }
    }

    /// The public key of a trusted key id.
    fn public_key(&self, key_id: &KeyId) -> Option<writ_core::PublicKey> {
        self.trust().key(key_id).map(|k| k.key)
    }

    fn append(&self, t: &mut dyn Tx, e: &Entry) -> Result<u64> {
        let idx = self.log(e)?;
        state::index_entry(t, idx, e)?;
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

fn truncate(s: &str) -> String {
    let mut end = s.len().min(writ_core::entry::MAX_STR_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}
