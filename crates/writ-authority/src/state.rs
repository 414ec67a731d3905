//! The authority's state: every SQL statement the use cases run, over typed
//! rows.
//!
//! The use cases (`intake`, `issue`, `vote`, `writs`, `views`) never write
//! SQL; they call the functions here inside one [`Tx`] of the state database
//! ([`crate::db`]). The ledger is the source of truth; this state is an index
//! of it plus what is pending (see [`crate::recover`]).

use writ_core::approval::Verdict;
use writ_core::entry::Entry;

use crate::db::{Row, Tx, Val};
use crate::error::{AuthorityError, Result};

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    /// Waiting for approvals.
    Pending,
    /// Allowed; the writ is being issued (never visible outside a transaction
    /// that also issues it).
    Approved,
    /// The writ was issued.
    Issued,
    /// Denied by policy or by approvers.
    Denied,
    /// Expired before quorum.
    Expired,
}

impl RequestStatus {
    /// Stable snake_case name (stored, and shown in views).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Issued => "issued",
            Self::Denied => "denied",
            Self::Expired => "expired",
        }
    }

    /// Parse a stored name.
    ///
    /// # Errors
    /// [`AuthorityError::Internal`] for a name this version does not know.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "issued" => Self::Issued,
            "denied" => Self::Denied,
            "expired" => Self::Expired,
            other => return Err(AuthorityError::Internal(format!("stored request status `{other}` is unknown"))),
        })
    }
}

impl std::fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stable name of a verdict, as stored.
#[must_use]
pub const fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Approve => "approve",
        Verdict::Deny => "deny",
    }
}

fn col(row: &Row, i: usize) -> &Val {
    row.get(i).unwrap_or(&Val::Null)
}
fn col_text(row: &Row, i: usize) -> String {
    col(row, i).text().unwrap_or_default().to_string()
}
fn col_opt_text(row: &Row, i: usize) -> Option<String> {
    col(row, i).text().map(str::to_string)
}
fn col_int(row: &Row, i: usize) -> i64 {
    col(row, i).int().unwrap_or_default()
}
fn col_blob(row: &Row, i: usize) -> Vec<u8> {
    col(row, i).blob().map(<[u8]>::to_vec).unwrap_or_default()
}
fn idx_val(idx: u64) -> Val {
    Val::Int(i64::try_from(idx).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------- requests

/// A stored request.
#[derive(Debug, Clone)]
pub struct RequestRow {
    /// Request id.
    pub id: String,
    /// Where it is.
    pub status: RequestStatus,
    /// Requester key id (hex).
    pub requester: String,
    /// Requester name.
    pub requester_name: String,
    /// The exact request document bytes.
    pub document: Vec<u8>,
    /// Hex sha256 of `document`.
    pub digest: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Approvals needed.
    pub approvals_required: u32,
    /// Approver group.
    pub approver_group: Option<String>,
    /// The plan (JSON).
    pub plan: String,
    /// The writ, once issued.
    pub writ_id: Option<String>,
}

const REQUEST_COLUMNS: &str = "id, status, requester, requester_name, document, digest, created_at, expires_at, approvals_required, approver_group, plan, writ_id";

fn request_row(r: &Row) -> Result<RequestRow> {
    Ok(RequestRow {
        id: col_text(r, 0),
        status: RequestStatus::parse(&col_text(r, 1))?,
        requester: col_text(r, 2),
        requester_name: col_text(r, 3),
        document: col_blob(r, 4),
        digest: col_text(r, 5),
        created_at: col_int(r, 6),
        expires_at: col_int(r, 7),
        approvals_required: u32::try_from(col_int(r, 8)).unwrap_or(0),
        approver_group: col_opt_text(r, 9),
        plan: col_text(r, 10),
        writ_id: col_opt_text(r, 11),
    })
}

/// Store a new request.
///
/// # Errors
/// Database errors (a duplicate id included).
pub fn insert_request(t: &mut dyn Tx, r: &RequestRow) -> Result<()> {
    t.exec(
        &format!(
            "INSERT INTO auth_requests ({REQUEST_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ),
        &request_params(r),
    )?;
    Ok(())
}

fn request_params(r: &RequestRow) -> Vec<Val> {
    vec![
        r.id.clone().into(),
        r.status.as_str().into(),
        r.requester.clone().into(),
        r.requester_name.clone().into(),
        Val::Blob(r.document.clone()),
        r.digest.clone().into(),
        r.created_at.into(),
        r.expires_at.into(),
        i64::from(r.approvals_required).into(),
        r.approver_group.clone().into(),
        r.plan.clone().into(),
        r.writ_id.clone().into(),
    ]
}

/// One request; with `lock`, its row is locked until the transaction ends
/// (PostgreSQL `FOR UPDATE`; SQLite transactions are exclusive anyway).
///
/// # Errors
/// Database errors; [`AuthorityError::UnknownRequest`].
pub fn request(t: &mut dyn Tx, id: &str, lock: bool) -> Result<RequestRow> {
    let sql =
        format!("SELECT {REQUEST_COLUMNS} FROM auth_requests WHERE id = ?1{}", if lock { t.for_update() } else { "" });
    let rows = t.query(&sql, &[id.into()])?;
    rows.first().map(request_row).transpose()?.ok_or_else(|| AuthorityError::UnknownRequest(id.into()))
}

/// Ids of pending, unexpired requests, oldest first.
///
/// # Errors
/// Database errors.
pub fn pending_ids(t: &mut dyn Tx, now: i64) -> Result<Vec<String>> {
    let rows = t.query(
        "SELECT id FROM auth_requests WHERE status = 'pending' AND expires_at > ?1 ORDER BY created_at, id LIMIT 1000",
        &[now.into()],
    )?;
    Ok(rows.iter().map(|r| col_text(r, 0)).collect())
}

/// Set a request's status.
///
/// # Errors
/// Database errors.
pub fn set_request_status(t: &mut dyn Tx, id: &str, status: RequestStatus) -> Result<()> {
    t.exec("UPDATE auth_requests SET status = ?1 WHERE id = ?2", &[status.as_str().into(), id.into()])?;
    Ok(())
}

/// Every request: `(id, status, writ_id)`, for the consistency check.
///
/// # Errors
/// Database errors.
pub fn all_requests(t: &mut dyn Tx) -> Result<Vec<(String, RequestStatus, Option<String>)>> {
    let rows = t.query("SELECT id, status, writ_id FROM auth_requests ORDER BY id", &[])?;
    rows.iter().map(|r| Ok((col_text(r, 0), RequestStatus::parse(&col_text(r, 1))?, col_opt_text(r, 2)))).collect()
}

// ------------------------------------------------------------------- votes

/// One stored vote.
#[derive(Debug, Clone)]
pub struct VoteRow {
    /// Approver key id (hex).
    pub approver: String,
    /// Approver name.
    pub approver_name: String,
    /// `approve` or `deny`.
    pub verdict: String,
    /// Unix seconds.
    pub time: i64,
    /// Base64 signature.
    pub sig: String,
    /// The approver's reason, if they gave one (not signed).
    pub reason: Option<String>,
}

/// The votes on a request, in time order.
///
/// # Errors
/// Database errors.
pub fn votes(t: &mut dyn Tx, request_id: &str) -> Result<Vec<VoteRow>> {
    let rows = t.query(
        "SELECT approver, approver_name, verdict, time, sig, reason FROM auth_votes WHERE request_id = ?1 ORDER BY time, approver",
        &[request_id.into()],
    )?;
    Ok(rows
        .iter()
        .map(|v| VoteRow {
            approver: col_text(v, 0),
            approver_name: col_text(v, 1),
            verdict: col_text(v, 2),
            time: col_int(v, 3),
            sig: col_text(v, 4),
            reason: col_opt_text(v, 5),
        })
        .collect())
}

/// Whether this key, or a key of the same trust-root name, already voted.
///
/// # Errors
/// Database errors.
pub fn has_voted(t: &mut dyn Tx, request_id: &str, approver: &str, name: &str) -> Result<bool> {
    let seen = t.query(
        "SELECT 1 FROM auth_votes WHERE request_id = ?1 AND (approver = ?2 OR approver_name = ?3)",
        &[request_id.into(), approver.into(), name.into()],
    )?;
    Ok(!seen.is_empty())
}

/// Store a vote.
///
/// # Errors
/// Database errors.
pub fn insert_vote(t: &mut dyn Tx, request_id: &str, v: &VoteRow) -> Result<()> {
    t.exec(
        "INSERT INTO auth_votes (request_id, approver, approver_name, verdict, time, sig, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            request_id.into(),
            v.approver.clone().into(),
            v.approver_name.clone().into(),
            v.verdict.clone().into(),
            v.time.into(),
            v.sig.clone().into(),
            v.reason.clone().into(),
        ],
    )?;
    Ok(())
}

/// How many votes of `verdict` a request has.
///
/// # Errors
/// Database errors.
pub fn count_votes(t: &mut dyn Tx, request_id: &str, verdict: Verdict) -> Result<i64> {
    let count = t.query(
        "SELECT COUNT(*) FROM auth_votes WHERE request_id = ?1 AND verdict = ?2",
        &[request_id.into(), verdict_str(verdict).into()],
    )?;
    Ok(count.first().map_or(0, |r| col_int(r, 0)))
}

// ------------------------------------------------------------------- writs

/// A stored writ.
#[derive(Debug, Clone)]
pub struct WritRow {
    /// Writ id.
    pub id: String,
    /// Request id.
    pub request_id: String,
    /// Requester key id (hex).
    pub requester: String,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
    /// Hex sha256 of the envelope.
    pub envelope_sha256: String,
    /// The receipt (tlog-proof text).
    pub receipt: Vec<u8>,
    /// Uses permitted (`None` = unlimited).
    pub uses: Option<i64>,
    /// Uses consumed.
    pub used: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// Unix seconds, when revoked.
    pub revoked_at: Option<i64>,
    /// Why revoked.
    pub reason: Option<String>,
}

const WRIT_COLUMNS: &str =
    "id, request_id, requester, envelope, envelope_sha256, receipt, uses, used, not_after, revoked_at, reason";

fn writ_row(r: &Row) -> WritRow {
    WritRow {
        id: col_text(r, 0),
        request_id: col_text(r, 1),
        requester: col_text(r, 2),
        envelope: col_blob(r, 3),
        envelope_sha256: col_text(r, 4),
        receipt: col_blob(r, 5),
        uses: col(r, 6).int(),
        used: col_int(r, 7),
        not_after: col_int(r, 8),
        revoked_at: col(r, 9).int(),
        reason: col_opt_text(r, 10),
    }
}

/// Store a newly issued writ and mark its request issued.
///
/// # Errors
/// Database errors.
pub fn insert_writ(t: &mut dyn Tx, w: &WritRow) -> Result<()> {
    insert_writ_row(t, w)?;
    t.exec(
        "UPDATE auth_requests SET status = 'issued', writ_id = ?1 WHERE id = ?2",
        &[w.id.clone().into(), w.request_id.clone().into()],
    )?;
    Ok(())
}

/// Store a newly issued writ whose request row says so already.
///
/// # Errors
/// Database errors.
pub fn insert_writ_row(t: &mut dyn Tx, w: &WritRow) -> Result<()> {
    t.exec(
        &format!("INSERT INTO auth_writs ({WRIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
        &writ_params(w),
    )?;
    Ok(())
}

fn writ_params(w: &WritRow) -> Vec<Val> {
    vec![
        w.id.clone().into(),
        w.request_id.clone().into(),
        w.requester.clone().into(),
        Val::Blob(w.envelope.clone()),
        w.envelope_sha256.clone().into(),
        Val::Blob(w.receipt.clone()),
        w.uses.into(),
        w.used.into(),
        w.not_after.into(),
        w.revoked_at.into(),
        w.reason.clone().into(),
    ]
}

/// `(?a, ?b, …)` for `n` parameters after the `params.len()` already taken.
fn placeholders(params: &[Val], n: usize) -> String {
    let start = params.len();
    let list: Vec<String> = (start + 1..=start + n).map(|i| format!("?{i}")).collect();
    format!("({})", list.join(", "))
}

/// Everything a submission stores, in one go: its ledger entries' index
/// rows, the request, the writ issued at once (if any) and the completion
/// of its idempotency key `(caller, key, outcome)` (if any). On PostgreSQL
/// this is one statement (data-modifying CTEs: one round trip instead of
/// four); SQLite runs the statements one by one (no round trips to save).
///
/// # Errors
/// Database errors.
pub fn store_submission(
    t: &mut dyn Tx,
    entries: &[(u64, &Entry)],
    r: &RequestRow,
    w: Option<&WritRow>,
    idempotency: Option<(&str, &str, &str)>,
) -> Result<()> {
    if !t.postgres() || entries.is_empty() {
        index_entries(t, entries)?;
        insert_request(t, r)?;
        if let Some(w) = w {
            insert_writ_row(t, w)?;
        }
        if let Some((caller, key, outcome)) = idempotency {
            complete_idempotency(t, caller, key, outcome)?;
        }
        return Ok(());
    }
    let mut params: Vec<Val> = Vec::new();
    let mut ctes = Vec::new();
    let ph = placeholders(&params, 12);
    params.extend(request_params(r));
    ctes.push(format!("r AS (INSERT INTO auth_requests ({REQUEST_COLUMNS}) VALUES {ph})"));
    if let Some(w) = w {
        let ph = placeholders(&params, 11);
        params.extend(writ_params(w));
        ctes.push(format!("w AS (INSERT INTO auth_writs ({WRIT_COLUMNS}) VALUES {ph})"));
    }
    if let Some((caller, key, outcome)) = idempotency {
        let b = params.len();
        params.extend([caller.into(), key.into(), outcome.into()]);
        ctes.push(format!(
            "i AS (UPDATE auth_idempotency SET state = 'done', outcome = ?{} WHERE caller = ?{} AND k = ?{})",
            b + 3,
            b + 1,
            b + 2
        ));
    }
    let mut rows = Vec::with_capacity(entries.len());
    for (idx, e) in entries {
        rows.push(placeholders(&params, 4));
        params.push(idx_val(*idx));
        params.push(e.kind().as_str().into());
        params.push(e.request_id().map(str::to_string).into());
        params.push(e.writ_id().map(str::to_string).into());
    }
    let sql = format!(
        "WITH {} INSERT INTO auth_entries (idx, kind, request_id, writ_id) VALUES {}",
        ctes.join(", "),
        rows.join(", ")
    );
    t.exec(&sql, &params)?;
    Ok(())
}

/// One writ; with `lock`, locked until the transaction ends.
///
/// # Errors
/// Database errors; [`AuthorityError::UnknownWrit`].
pub fn writ(t: &mut dyn Tx, id: &str, lock: bool) -> Result<WritRow> {
    let sql = format!("SELECT {WRIT_COLUMNS} FROM auth_writs WHERE id = ?1{}", if lock { t.for_update() } else { "" });
    let rows = t.query(&sql, &[id.into()])?;
    rows.first().map(writ_row).ok_or_else(|| AuthorityError::UnknownWrit(id.into()))
}

/// The writ issued for a request, if any.
///
/// # Errors
/// Database errors.
pub fn writ_of_request(t: &mut dyn Tx, request_id: &str) -> Result<Option<WritRow>> {
    let rows = t.query(
        &format!("SELECT {WRIT_COLUMNS} FROM auth_writs WHERE request_id = ?1 ORDER BY id LIMIT 1"),
        &[request_id.into()],
    )?;
    Ok(rows.first().map(writ_row))
}

/// Every writ, for the consistency check.
///
/// # Errors
/// Database errors.
pub fn all_writs(t: &mut dyn Tx) -> Result<Vec<WritRow>> {
    let rows = t.query(&format!("SELECT {WRIT_COLUMNS} FROM auth_writs ORDER BY id"), &[])?;
    Ok(rows.iter().map(writ_row).collect())
}

/// Mark a writ revoked.
///
/// # Errors
/// Database errors.
pub fn revoke_writ(t: &mut dyn Tx, id: &str, at: i64, reason: &str) -> Result<()> {
    t.exec("UPDATE auth_writs SET revoked_at = ?1, reason = ?2 WHERE id = ?3", &[at.into(), reason.into(), id.into()])?;
    Ok(())
}

/// Consume one use: `Some((used, uses))` after the increment, `None` when
/// the writ is revoked or spent.
///
/// # Errors
/// Database errors.
pub fn consume_use(t: &mut dyn Tx, id: &str) -> Result<Option<(i64, Option<i64>)>> {
    // INVARIANT: one use is handed out once, also across replicas: the
    // conditional increment is atomic in the database.
    let got = t.query(
        "UPDATE auth_writs SET used = used + 1 WHERE id = ?1 AND revoked_at IS NULL AND (uses IS NULL OR used < uses) RETURNING used, uses",
        &[id.into()],
    )?;
    Ok(got.first().map(|r| (col_int(r, 0), col(r, 1).int())))
}

/// Set a writ's use count (recovery from the ledger).
///
/// # Errors
/// Database errors.
pub fn set_used(t: &mut dyn Tx, id: &str, used: i64) -> Result<()> {
    t.exec("UPDATE auth_writs SET used = ?1 WHERE id = ?2", &[used.into(), id.into()])?;
    Ok(())
}

/// Set a writ's permitted uses (recovery: the signed writ's).
///
/// # Errors
/// Database errors.
pub fn set_uses(t: &mut dyn Tx, id: &str, uses: Option<i64>) -> Result<()> {
    t.exec("UPDATE auth_writs SET uses = ?1 WHERE id = ?2", &[uses.into(), id.into()])?;
    Ok(())
}

/// Mark a request issued with its writ (recovery).
///
/// # Errors
/// Database errors.
pub fn set_request_issued(t: &mut dyn Tx, id: &str, writ_id: &str) -> Result<()> {
    t.exec("UPDATE auth_requests SET status = 'issued', writ_id = ?1 WHERE id = ?2", &[writ_id.into(), id.into()])?;
    Ok(())
}

// ------------------------------------------------------------------ nonces

/// Remember an HTTP signature nonce; `false` when seen before.
///
/// # Errors
/// Database errors.
pub fn claim_http_nonce(t: &mut dyn Tx, key: &str, created: i64, forget_before: i64) -> Result<bool> {
    if created % 64 == 0 {
        t.exec("DELETE FROM auth_http_nonces WHERE created < ?1", &[forget_before.into()])?;
    }
    let n = t.exec(
        "INSERT INTO auth_http_nonces (k, created) VALUES (?1, ?2) ON CONFLICT (k) DO NOTHING",
        &[key.into(), created.into()],
    )?;
    Ok(n == 1)
}

/// Store a fresh evidence nonce (and forget ones long expired).
///
/// # Errors
/// Database errors.
pub fn insert_evidence_nonce(t: &mut dyn Tx, nonce: &str, expires_at: i64, forget_before: i64) -> Result<()> {
    t.exec("DELETE FROM auth_nonces WHERE expires_at < ?1", &[forget_before.into()])?;
    t.exec("INSERT INTO auth_nonces (nonce, expires_at, used) VALUES (?1, ?2, 0)", &[nonce.into(), expires_at.into()])?;
    Ok(())
}

/// Use an evidence nonce; `false` when unknown, expired or used.
///
/// # Errors
/// Database errors.
pub fn use_evidence_nonce(t: &mut dyn Tx, nonce: &str, now: i64) -> Result<bool> {
    let n = t.exec(
        "UPDATE auth_nonces SET used = 1 WHERE nonce = ?1 AND used = 0 AND expires_at > ?2",
        &[nonce.into(), now.into()],
    )?;
    Ok(n == 1)
}

// ----------------------------------------------------------------- entries

/// Index a ledger entry by request and writ.
///
/// # Errors
/// Database errors.
pub fn index_entry(t: &mut dyn Tx, idx: u64, e: &Entry) -> Result<()> {
    t.exec(
        "INSERT INTO auth_entries (idx, kind, request_id, writ_id) VALUES (?1, ?2, ?3, ?4)",
        &[
            idx_val(idx),
            e.kind().as_str().into(),
            e.request_id().map(str::to_string).into(),
            e.writ_id().map(str::to_string).into(),
        ],
    )?;
    Ok(())
}

/// Index several ledger entries in one statement (one round trip on
/// PostgreSQL; the statement for each count is prepared once).
///
/// # Errors
/// Database errors.
pub fn index_entries(t: &mut dyn Tx, entries: &[(u64, &Entry)]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut sql = String::from("INSERT INTO auth_entries (idx, kind, request_id, writ_id) VALUES ");
    let mut params = Vec::with_capacity(entries.len() * 4);
    for (i, (idx, e)) in entries.iter().enumerate() {
        let b = i * 4;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(?{}, ?{}, ?{}, ?{})", b + 1, b + 2, b + 3, b + 4));
        params.push(idx_val(*idx));
        params.push(e.kind().as_str().into());
        params.push(e.request_id().map(str::to_string).into());
        params.push(e.writ_id().map(str::to_string).into());
    }
    t.exec(&sql, &params)?;
    Ok(())
}

/// Indexed entries of a request or a writ: `(index, kind)`, in log order.
///
/// # Errors
/// Database errors.
pub fn entries_for(t: &mut dyn Tx, request_id: Option<&str>, writ_id: Option<&str>) -> Result<Vec<(u64, String)>> {
    let rows = match (request_id, writ_id) {
        (Some(r), _) => {
            t.query("SELECT idx, kind FROM auth_entries WHERE request_id = ?1 ORDER BY idx LIMIT 1000", &[r.into()])?
        }
        (None, Some(w)) => {
            t.query("SELECT idx, kind FROM auth_entries WHERE writ_id = ?1 ORDER BY idx LIMIT 1000", &[w.into()])?
        }
        (None, None) => Vec::new(),
    };
    Ok(rows.iter().map(|r| (u64::try_from(col_int(r, 0)).unwrap_or(0), col_text(r, 1))).collect())
}

/// The ledger index of the gate record whose bytes have SHA-256 `digest`,
/// if one was logged.
///
/// # Errors
/// Database errors.
pub fn gate_record_index(t: &mut dyn Tx, digest: &str) -> Result<Option<u64>> {
    let rows = t.query("SELECT idx FROM auth_gate_records WHERE digest = ?1", &[digest.into()])?;
    Ok(rows.first().map(|r| u64::try_from(col_int(r, 0)).unwrap_or(0)))
}

/// Notes that the gate record with SHA-256 `digest` is at `idx`.
///
/// # Errors
/// Database errors.
pub fn insert_gate_record(t: &mut dyn Tx, digest: &str, idx: u64) -> Result<()> {
    t.exec("INSERT INTO auth_gate_records (digest, idx) VALUES (?1, ?2)", &[digest.into(), idx_val(idx)])?;
    Ok(())
}

/// Index an entry from its parts (recovery).
///
/// # Errors
/// Database errors.
pub fn index_raw(t: &mut dyn Tx, idx: u64, kind: &str, request_id: Option<&str>, writ_id: Option<&str>) -> Result<()> {
    t.exec(
        "INSERT INTO auth_entries (idx, kind, request_id, writ_id) VALUES (?1, ?2, ?3, ?4)",
        &[idx_val(idx), kind.into(), request_id.map(str::to_string).into(), writ_id.map(str::to_string).into()],
    )?;
    Ok(())
}

/// Every indexed entry: `(index, kind)`.
///
/// # Errors
/// Database errors.
pub fn all_indexed(t: &mut dyn Tx) -> Result<Vec<(u64, String)>> {
    let rows = t.query("SELECT idx, kind FROM auth_entries ORDER BY idx", &[])?;
    Ok(rows.iter().map(|r| (u64::try_from(col_int(r, 0)).unwrap_or(u64::MAX), col_text(r, 1))).collect())
}

/// Forget the whole entry index (recovery rebuilds it).
///
/// # Errors
/// Database errors.
pub fn clear_index(t: &mut dyn Tx) -> Result<()> {
    t.exec("DELETE FROM auth_entries", &[])?;
    Ok(())
}

/// The number of ledger entries indexed (the next index to index).
///
/// # Errors
/// Database errors.
pub fn indexed_through(t: &mut dyn Tx) -> Result<u64> {
    let rows = t.query("SELECT COALESCE(MAX(idx) + 1, 0) FROM auth_entries", &[])?;
    Ok(rows.first().map_or(0, |r| u64::try_from(col_int(r, 0)).unwrap_or(0)))
}

/// Whether the entry at `idx` is indexed.
///
/// # Errors
/// Database errors.
pub fn is_indexed(t: &mut dyn Tx, idx: u64) -> Result<bool> {
    Ok(!t.query("SELECT 1 FROM auth_entries WHERE idx = ?1", &[idx_val(idx)])?.is_empty())
}

// ------------------------------------------------------------- idempotency

/// Where an idempotent call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdempotencyState {
    /// Reserved; the call is running (or its process died).
    Started,
    /// Completed; `outcome` names the request or writ.
    Done,
}

/// A stored idempotency key.
#[derive(Debug, Clone)]
pub struct IdempotencyRow {
    /// Digest of the call (operation and body).
    pub body_sha256: String,
    /// Where it is.
    pub state: IdempotencyState,
    /// The request or writ id of the outcome.
    pub outcome: Option<String>,
    /// When reserved (unix seconds).
    pub created: i64,
}

/// The state of `(caller, key)`.
///
/// # Errors
/// Database errors.
pub fn idempotency(t: &mut dyn Tx, caller: &str, key: &str) -> Result<Option<IdempotencyRow>> {
    let sql = format!(
        "SELECT body_sha256, state, outcome, created FROM auth_idempotency WHERE caller = ?1 AND k = ?2{}",
        t.for_update()
    );
    let rows = t.query(&sql, &[caller.into(), key.into()])?;
    Ok(rows.first().map(|r| IdempotencyRow {
        body_sha256: col_text(r, 0),
        state: if col_text(r, 1) == "done" { IdempotencyState::Done } else { IdempotencyState::Started },
        outcome: col_opt_text(r, 2),
        created: col_int(r, 3),
    }))
}

/// Reserve (or take over) `(caller, key)`.
///
/// # Errors
/// Database errors.
pub fn reserve_idempotency(t: &mut dyn Tx, caller: &str, key: &str, op: &str, body: &str, now: i64) -> Result<()> {
    t.exec(
        "INSERT INTO auth_idempotency (caller, k, op, body_sha256, state, outcome, created) VALUES (?1, ?2, ?3, ?4, 'started', NULL, ?5) ON CONFLICT (caller, k) DO UPDATE SET state = 'started', outcome = NULL, created = ?5",
        &[caller.into(), key.into(), op.into(), body.into(), now.into()],
    )?;
    Ok(())
}

/// Record the outcome of `(caller, key)`.
///
/// # Errors
/// Database errors.
pub fn complete_idempotency(t: &mut dyn Tx, caller: &str, key: &str, outcome: &str) -> Result<()> {
    t.exec(
        "UPDATE auth_idempotency SET state = 'done', outcome = ?3 WHERE caller = ?1 AND k = ?2",
        &[caller.into(), key.into(), outcome.into()],
    )?;
    Ok(())
}

/// Forget a reservation whose call failed.
///
/// # Errors
/// Database errors.
pub fn release_idempotency(t: &mut dyn Tx, caller: &str, key: &str) -> Result<()> {
    t.exec(
        "DELETE FROM auth_idempotency WHERE caller = ?1 AND k = ?2 AND state = 'started'",
        &[caller.into(), key.into()],
    )?;
    Ok(())
}
