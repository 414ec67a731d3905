//! The state of recorded delegated writs (`auth_delegations`): every SQL
//! statement about them, over typed rows, beside [`crate::state`].
//!
//! A delegated writ (`docs/format.md` §18) is signed by its parent's holder,
//! not by the authority; once recorded (`POST /v1/delegations`) the
//! authority answers its status and counts its uses. The functions named
//! `*_or_delegated` / `*_chain` answer for an issued writ exactly as
//! [`crate::state`] does and fall back to the delegation record only when
//! no issued writ has the id, so the issued writ's path costs no extra query.

use crate::db::{Row, Tx, Val};
use crate::error::{AuthorityError, Result};
use crate::state::{self, WritRow};

// The table `auth_delegations` is created with the rest of the schema
// (`crate::db`).

/// Longest chain walked (the writ format's `MAX_DEPTH`, with room).
const MAX_HOPS: usize = 16;

/// A recorded delegated writ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationRow {
    /// The child's id.
    pub id: String,
    /// Its parent's id (an issued writ or another recorded child).
    pub parent_id: String,
    /// The issued writ its chain starts at.
    pub root_id: String,
    /// The chain's request.
    pub request_id: String,
    /// Key id of the holder that signed it.
    pub holder: String,
    /// `lineage.depth`.
    pub depth: i64,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
    /// Hex SHA-256 of the envelope.
    pub envelope_sha256: String,
    /// The receipt of its `delegation` entry (tlog-proof text).
    pub receipt: Vec<u8>,
    /// Ledger index of the `delegation` entry.
    pub idx: i64,
    /// Uses it permits (`None` = not counted).
    pub uses: Option<i64>,
    /// Its uses consumed.
    pub used: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// Unix seconds, when it itself was revoked.
    pub revoked_at: Option<i64>,
    /// Why.
    pub reason: Option<String>,
}

const COLUMNS: &str = "id, parent_id, root_id, request_id, holder, depth, envelope, envelope_sha256, receipt, idx, uses, used, not_after, revoked_at, reason";

fn col(r: &Row, i: usize) -> &Val {
    r.get(i).unwrap_or(&Val::Null)
}

fn text(r: &Row, i: usize) -> String {
    col(r, i).text().unwrap_or_default().to_string()
}

fn row(r: &Row) -> DelegationRow {
    DelegationRow {
        id: text(r, 0),
        parent_id: text(r, 1),
        root_id: text(r, 2),
        request_id: text(r, 3),
        holder: text(r, 4),
        depth: col(r, 5).int().unwrap_or_default(),
        envelope: col(r, 6).blob().map(<[u8]>::to_vec).unwrap_or_default(),
        envelope_sha256: text(r, 7),
        receipt: col(r, 8).blob().map(<[u8]>::to_vec).unwrap_or_default(),
        idx: col(r, 9).int().unwrap_or_default(),
        uses: col(r, 10).int(),
        used: col(r, 11).int().unwrap_or_default(),
        not_after: col(r, 12).int().unwrap_or_default(),
        revoked_at: col(r, 13).int(),
        reason: col(r, 14).text().map(str::to_string),
    }
}

/// Store a recorded delegated writ.
///
/// # Errors
/// Database errors.
pub fn insert(t: &mut dyn Tx, d: &DelegationRow) -> Result<()> {
    t.exec(
        &format!(
            "INSERT INTO auth_delegations ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ),
        &[
            d.id.clone().into(),
            d.parent_id.clone().into(),
            d.root_id.clone().into(),
            d.request_id.clone().into(),
            d.holder.clone().into(),
            d.depth.into(),
            Val::Blob(d.envelope.clone()),
            d.envelope_sha256.clone().into(),
            Val::Blob(d.receipt.clone()),
            d.idx.into(),
            d.uses.into(),
            d.used.into(),
            d.not_after.into(),
            d.revoked_at.into(),
            d.reason.clone().into(),
        ],
    )?;
    Ok(())
}

/// The recorded delegated writ `id`, if any.
///
/// # Errors
/// Database errors.
pub fn get(t: &mut dyn Tx, id: &str) -> Result<Option<DelegationRow>> {
    let rows = t.query(&format!("SELECT {COLUMNS} FROM auth_delegations WHERE id = ?1"), &[id.into()])?;
    Ok(rows.first().map(row))
}

/// The recorded children of `parent_id`, in id order.
///
/// # Errors
/// Database errors.
pub fn children(t: &mut dyn Tx, parent_id: &str) -> Result<Vec<DelegationRow>> {
    let rows = t.query(
        &format!("SELECT {COLUMNS} FROM auth_delegations WHERE parent_id = ?1 ORDER BY id LIMIT 1000"),
        &[parent_id.into()],
    )?;
    Ok(rows.iter().map(row).collect())
}

/// Every recorded delegated writ (the audit's envelopes).
///
/// # Errors
/// Database errors.
pub fn all(t: &mut dyn Tx) -> Result<Vec<DelegationRow>> {
    let rows = t.query(&format!("SELECT {COLUMNS} FROM auth_delegations ORDER BY id"), &[])?;
    Ok(rows.iter().map(row).collect())
}

/// One link of a chain, child to root.
#[derive(Debug, Clone)]
pub enum Link {
    /// A recorded delegated writ.
    Delegated(DelegationRow),
    /// The issued writ at the top.
    Root(WritRow),
}

impl Link {
    /// Its id.
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            Self::Delegated(d) => &d.id,
            Self::Root(w) => &w.id,
        }
    }

    /// Its envelope.
    #[must_use]
    pub fn envelope(&self) -> &[u8] {
        match self {
            Self::Delegated(d) => &d.envelope,
            Self::Root(w) => &w.envelope,
        }
    }

    /// Hex SHA-256 of its envelope.
    #[must_use]
    pub fn envelope_sha256(&self) -> &str {
        match self {
            Self::Delegated(d) => &d.envelope_sha256,
            Self::Root(w) => &w.envelope_sha256,
        }
    }

    /// Its own revocation: `(at, reason)`.
    #[must_use]
    pub fn revoked(&self) -> Option<(i64, Option<String>)> {
        match self {
            Self::Delegated(d) => d.revoked_at.map(|at| (at, d.reason.clone())),
            Self::Root(w) => w.revoked_at.map(|at| (at, w.reason.clone())),
        }
    }

    /// Uses left, when counted.
    #[must_use]
    pub fn uses_left(&self) -> Option<i64> {
        let (uses, used) = match self {
            Self::Delegated(d) => (d.uses, d.used),
            Self::Root(w) => (w.uses, w.used),
        };
        uses.map(|u| u.saturating_sub(used).max(0))
    }

    /// `lineage.depth`.
    #[must_use]
    pub fn depth(&self) -> i64 {
        match self {
            Self::Delegated(d) => d.depth,
            Self::Root(_) => 0,
        }
    }
}

/// The chain of `id`: the link itself first, up to the issued root;
/// `None` when `id` is neither issued nor recorded.
///
/// # Errors
/// Database errors; `internal` for a chain that does not end at an issued
/// writ within [`MAX_HOPS`].
pub fn chain(t: &mut dyn Tx, id: &str) -> Result<Option<Vec<Link>>> {
    let mut out = Vec::new();
    let mut cur = id.to_string();
    for _ in 0..MAX_HOPS {
        if let Some(d) = get(t, &cur)? {
            cur.clone_from(&d.parent_id);
            out.push(Link::Delegated(d));
            continue;
        }
        return match state::writ(t, &cur, false) {
            Ok(w) => {
                out.push(Link::Root(w));
                Ok(Some(out))
            }
            Err(AuthorityError::UnknownWrit(_)) if out.is_empty() => Ok(None),
            Err(AuthorityError::UnknownWrit(_)) => {
                Err(AuthorityError::Internal(format!("recorded delegated writ `{id}` has no issued root")))
            }
            Err(e) => Err(e),
        };
    }
    Err(AuthorityError::Internal(format!("the chain of `{id}` is longer than {MAX_HOPS}")))
}

/// The earliest revocation in a chain: `(at, reason)`.
#[must_use]
pub fn chain_revoked(links: &[Link]) -> Option<(i64, Option<String>)> {
    links.iter().filter_map(Link::revoked).min_by_key(|(at, _)| *at)
}

/// The fewest uses left along a chain (`None`: nothing in it is counted).
#[must_use]
pub fn chain_uses_left(links: &[Link]) -> Option<i64> {
    links.iter().filter_map(Link::uses_left).min()
}

/// Writ `id` as [`state::writ`] reads it; for a recorded delegated writ,
/// its record in the same shape: its own envelope, receipt, uses and use
/// count, its chain's request and requester, and revoked when it or any
/// ancestor is (the earliest revocation).
///
/// # Errors
/// As [`state::writ`] (`unknown_writ` when it is neither issued nor
/// recorded).
pub fn writ_or_delegated(t: &mut dyn Tx, id: &str, lock: bool) -> Result<WritRow> {
    match state::writ(t, id, lock) {
        Err(AuthorityError::UnknownWrit(u)) => {
            let Some(links) = chain(t, id)? else { return Err(AuthorityError::UnknownWrit(u)) };
            Ok(as_writ_row(&links))
        }
        other => other,
    }
}

/// A chain's first link as a [`WritRow`] (see [`writ_or_delegated`]).
#[must_use]
pub fn as_writ_row(links: &[Link]) -> WritRow {
    let requester = match links.last() {
        Some(Link::Root(w)) => w.requester.clone(),
        _ => String::new(),
    };
    let revoked = chain_revoked(links);
    match links.first() {
        Some(Link::Delegated(d)) => WritRow {
            id: d.id.clone(),
            request_id: d.request_id.clone(),
            requester,
            envelope: d.envelope.clone(),
            envelope_sha256: d.envelope_sha256.clone(),
            receipt: d.receipt.clone(),
            uses: d.uses,
            used: d.used,
            not_after: d.not_after,
            revoked_at: revoked.as_ref().map(|(at, _)| *at),
            reason: revoked.and_then(|(_, r)| r),
        },
        Some(Link::Root(w)) => w.clone(),
        None => WritRow {
            id: String::new(),
            request_id: String::new(),
            requester,
            envelope: Vec::new(),
            envelope_sha256: String::new(),
            receipt: Vec::new(),
            uses: None,
            used: 0,
            not_after: 0,
            revoked_at: None,
            reason: None,
        },
    }
}

/// Consume one use of writ `id` as [`state::consume_use`] does; for a
/// recorded delegated writ, one use of it **and of every ancestor** up to
/// the issued root, atomically (the caller's transaction rolls back on
/// `replayed`). `Some((used, uses))`: the writ's use count after the
/// increment and, when anything in the chain is counted, `used` plus the
/// fewest uses left along the chain (so `uses - used` is what is left).
/// `None` when the writ (or, for a child, anything in its chain) is
/// revoked or spent, or unknown.
///
/// # Errors
/// Database errors.
pub fn consume_chain(t: &mut dyn Tx, id: &str) -> Result<Option<(i64, Option<i64>)>> {
    if let Some(got) = state::consume_use(t, id)? {
        return Ok(Some(got));
    }
    let Some(links) = chain(t, id)? else { return Ok(None) };
    if !matches!(links.first(), Some(Link::Delegated(_))) || chain_revoked(&links).is_some() {
        return Ok(None);
    }
    let mut child_used = 0;
    for link in &links {
        match link {
            Link::Delegated(d) => {
                let got = t.query(
                    "UPDATE auth_delegations SET used = used + 1 WHERE id = ?1 AND revoked_at IS NULL AND (uses IS NULL OR used < uses) RETURNING used",
                    &[d.id.clone().into()],
                )?;
                let Some(r) = got.first() else { return Ok(None) };
                if d.id == id {
                    child_used = col(r, 0).int().unwrap_or_default();
                }
            }
            Link::Root(w) => {
                if state::consume_use(t, &w.id)?.is_none() {
                    return Ok(None);
                }
            }
        }
    }
    // What is left after this use, along the chain.
    let left = chain_uses_left(&links).map(|l| (l - 1).max(0));
    Ok(Some((child_used, left.map(|l| child_used + l))))
}

/// Mark writ `id` revoked, issued or delegated.
///
/// # Errors
/// Database errors.
pub fn revoke(t: &mut dyn Tx, id: &str, at: i64, reason: &str) -> Result<()> {
    state::revoke_writ(t, id, at, reason)?;
    t.exec(
        "UPDATE auth_delegations SET revoked_at = ?1, reason = ?2 WHERE id = ?3 AND revoked_at IS NULL",
        &[at.into(), reason.into(), id.into()],
    )?;
    Ok(())
}
