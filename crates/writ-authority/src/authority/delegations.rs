//! Delegated writs over the API (`POST /v1/delegations`, `docs/api.md`;
//! `docs/format.md` §18).
//!
//! The holder of a writ this authority issued (the key its
//! `lineage.holder` names) signs a narrower child of it and submits it with
//! its chain. The authority verifies it with the same `writ_core::verify`
//! every gate runs, against the chain **it holds** (the issued root and the
//! children it recorded, never copies the caller sent), refuses it when an
//! ancestor is revoked or has fewer uses left than the child permits,
//! appends a `delegation` ledger entry and keeps the child
//! (`auth_delegations`, [`crate::delegation_state`]). From then on the
//! child's status is answered from that record (revoked when any ancestor
//! is), and each use of it consumes one use of every ancestor.

use writ_api::delegation::{DelegationInput, DelegationView};
use writ_core::entry::{self, Entry};
use writ_core::limits::{MAX_DEPTH, MAX_ENVELOPE_BYTES};
use writ_core::trust::Role;
use writ_core::{Context, Sha256Digest, Timestamp};

use super::{Authority, Identity, retry_conflicts, ts};
use crate::db::Tx;
use crate::delegation_state::{self as ds, DelegationRow, Link};
use crate::error::{AuthorityError, Result};
use crate::state;

fn refused(code: &str, detail: impl std::fmt::Display) -> AuthorityError {
    AuthorityError::DelegationRefused(format!("{code}: {detail}"))
}

fn view(d: &DelegationRow, links: &[Link]) -> DelegationView {
    DelegationView {
        writ_id: d.id.clone(),
        parent_writ_id: d.parent_id.clone(),
        root_writ_id: d.root_id.clone(),
        request_id: d.request_id.clone(),
        holder: d.holder.clone(),
        depth: u32::try_from(d.depth).unwrap_or(u32::MAX),
        state: if ds::chain_revoked(links).is_some() { "revoked" } else { "valid" }.into(),
        uses: d.uses.and_then(|u| u32::try_from(u).ok()),
        used: u32::try_from(d.used).unwrap_or(u32::MAX),
        not_after: ts(d.not_after),
        index: u64::try_from(d.idx).unwrap_or(0),
        receipt: String::from_utf8_lossy(&d.receipt).into_owned(),
    }
}

impl Authority {
    /// Record a delegated writ: `input.writ`, signed by its parent's holder
    /// key, with `input.ancestors` (parent first). Callers with the
    /// `requester` or `issuer` role may submit (the child's authority is
    /// the holder's signature, not the submitter's; the entry names both).
    ///
    /// Refused (`delegation_refused`, the message starting with the precise
    /// code), nothing logged: `delegation_unknown_parent` (the parent is
    /// neither issued nor recorded here), `lineage_broken` (the ancestors
    /// sent are not the ones this authority holds), every refusal of
    /// `writ_core::verify` for the chain (`delegation_signature`,
    /// `delegation_depth`, `delegation_widened`, `expired`, …), `revoked`
    /// (an ancestor is revoked), `delegation_uses` (the child permits more
    /// uses than its chain has left), `delegation_duplicate` (another writ
    /// has the id). The same child again is answered with its record.
    ///
    /// # Errors
    /// As above; `forbidden`; `malformed`; ledger and database failures.
    pub fn record_delegation(
        &self,
        caller: &Identity,
        input: &DelegationInput,
        now: Timestamp,
    ) -> Result<DelegationView> {
        if !caller.has(Role::Requester) && !caller.has(Role::Issuer) {
            return Err(AuthorityError::Forbidden(format!(
                "key `{}` may not record delegated writs: it needs the `requester` or `issuer` role in the trust root",
                caller.name
            )));
        }
        let child = input.writ.as_bytes().to_vec();
        if child.len() > MAX_ENVELOPE_BYTES {
            return Err(AuthorityError::Malformed(format!("the writ is over {MAX_ENVELOPE_BYTES} bytes")));
        }
        if input.ancestors.is_empty() {
            return Err(refused(
                "unknown_key",
                "no ancestors: a writ signed by a holder key needs its chain (the `WRIT.chain` file `writ delegate` wrote)",
            ));
        }
        if input.ancestors.len() > MAX_DEPTH as usize {
            return Err(AuthorityError::Malformed(format!(
                "{} ancestors; a chain has at most {MAX_DEPTH}",
                input.ancestors.len()
            )));
        }
        let sent: Vec<Vec<u8>> = input
            .ancestors
            .iter()
            .enumerate()
            .map(|(i, a)| {
                writ_core::b64::decode(a, MAX_ENVELOPE_BYTES)
                    .map_err(|e| AuthorityError::Malformed(format!("ancestors[{i}] is not base64 of an envelope: {e}")))
            })
            .collect::<Result<_>>()?;
        let child_pred = writ_core::delegate::read_parent(&child)
            .map_err(|d| refused(d.code.as_str(), format!("the writ: {}", d.detail)))?;
        let parent_pred = writ_core::delegate::read_parent(sent.first().map_or(&[][..], Vec::as_slice))
            .map_err(|d| refused(d.code.as_str(), format!("its parent: {}", d.detail)))?;
        let child_sha = Sha256Digest::of(&child).to_hex();
        let trust = self.trust();
        self.db.tx(|t| {
            if let Some(d) = ds::get(t, &child_pred.id)? {
                if d.envelope_sha256 == child_sha {
                    let links = ds::chain(t, &d.id)?.unwrap_or_default();
                    return Ok(view(&d, &links));
                }
                return Err(refused(
                    "delegation_duplicate",
                    format!("another writ `{}` is recorded already", child_pred.id),
                ));
            }
            if state::writ(t, &child_pred.id, false).is_ok() {
                return Err(refused(
                    "delegation_duplicate",
                    format!("`{}` is the id of a writ this authority issued", child_pred.id),
                ));
            }
            let Some(links) = ds::chain(t, &parent_pred.id)? else {
                return Err(refused(
                    "delegation_unknown_parent",
                    format!(
                        "the parent writ `{}` is neither issued nor recorded by this authority; record the parent first",
                        parent_pred.id
                    ),
                ));
            };
            // The chain this authority holds, parent first; what was sent
            // must be exactly it.
            let held: Vec<Vec<u8>> = links.iter().map(|l| l.envelope().to_vec()).collect();
            if held.len() != sent.len() || held.iter().zip(&sent).any(|(h, s)| h != s) {
                return Err(refused(
                    "lineage_broken",
                    format!(
                        "the ancestors sent are not the chain of `{}` this authority holds ({} envelope(s), parent first)",
                        parent_pred.id,
                        held.len()
                    ),
                ));
            }
            let ctx = Context { ancestors: held, ..Context::check_at(now) };
            let verified =
                writ_core::verify(&child, &trust, &ctx).map_err(|d| refused(d.code.as_str(), d.detail))?;
            if verified.root_issuer() != self.issuer.key_id()
                && trust.key(&verified.root_issuer()).is_none_or(|k| !k.has_role(Role::Issuer))
            {
                return Err(refused("unknown_key", "the chain's root is not signed by an issuer key of this authority"));
            }
            if let Some((at, reason)) = ds::chain_revoked(&links) {
                return Err(refused(
                    "revoked",
                    format!(
                        "the chain of `{}` was revoked at {}{}",
                        parent_pred.id,
                        ts(at),
                        reason.map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                ));
            }
            let uses = verified.scope().uses;
            if let Some(left) = ds::chain_uses_left(&links) {
                let asked = uses.map_or(i64::MAX, i64::from);
                if asked > left {
                    return Err(refused(
                        "delegation_uses",
                        format!(
                            "the child permits {} use(s); its chain has {left} left",
                            uses.map_or_else(|| "unlimited".to_string(), |u| u.to_string())
                        ),
                    ));
                }
            }
            let root_id = links.last().map(|l| l.id().to_string()).unwrap_or_default();
            let entry = Entry::Delegation(entry::Delegation {
                time: now,
                request_id: child_pred.request.id.clone(),
                writ_id: child_pred.id.clone(),
                envelope_digest: verified.envelope_digest(),
                holder: verified.signer().to_string(),
                parent_writ_id: parent_pred.id.clone(),
                parent_digest: Sha256Digest::of(links.first().map_or(&[][..], Link::envelope)),
                root_writ_id: root_id.clone(),
                not_before: child_pred.validity.not_before,
                not_after: child_pred.validity.not_after,
                depth: i64::from(child_pred.lineage.depth),
                uses: uses.map(i64::from),
                recorded_by: format!("{} ({})", caller.name, caller.key_id),
            });
            let (idx, receipt) = self.log_delegation(t, &entry)?;
            let row = DelegationRow {
                id: child_pred.id.clone(),
                parent_id: parent_pred.id.clone(),
                root_id,
                request_id: child_pred.request.id.clone(),
                holder: verified.signer().to_string(),
                depth: i64::from(child_pred.lineage.depth),
                envelope: child.clone(),
                envelope_sha256: child_sha.clone(),
                receipt,
                idx: i64::try_from(idx).unwrap_or(i64::MAX),
                uses: uses.map(i64::from),
                used: 0,
                not_after: child_pred.validity.not_after.unix(),
                revoked_at: None,
                reason: None,
            };
            ds::insert(t, &row)?;
            let mut chain = vec![Link::Delegated(row.clone())];
            chain.extend(links);
            Ok(view(&row, &chain))
        })
    }

    /// Append the `delegation` entry (inside the caller's transaction) and
    /// index it; `(index, receipt text)`. A `delegation` entry of the same
    /// child already in the ledger (a crash between the append and the
    /// state commit) is not appended again: its index is reused.
    fn log_delegation(&self, t: &mut dyn Tx, e: &Entry) -> Result<(u64, Vec<u8>)> {
        let bytes = e.encode().map_err(|err| AuthorityError::InvalidRequest(err.to_string()))?;
        let writ_id = e.writ_id().unwrap_or_default().to_string();
        for (idx, kind) in state::entries_for(t, None, Some(&writ_id))? {
            if kind != "delegation" {
                continue;
            }
            if let (Ok(Entry::Delegation(old)), Entry::Delegation(new)) = (Entry::decode(&self.ledger.entry(idx)?), e)
                && old.envelope_digest == new.envelope_digest
            {
                let mut p = self.ledger.prove(idx)?;
                p.extra = Some(self.ledger.entry(idx)?);
                return Ok((idx, p.to_bytes()));
            }
        }
        let receipt = self.sequenced(|| retry_conflicts(|| self.ledger.append_with_receipt(bytes.clone())))?;
        state::index_entry(t, receipt.index, e)?;
        let mut p = receipt.to_tlog_proof();
        p.extra = Some(bytes);
        Ok((receipt.index, p.to_bytes()))
    }

    /// A recorded delegated writ.
    ///
    /// # Errors
    /// `unknown_writ`.
    pub fn delegation(&self, writ_id: &str) -> Result<DelegationView> {
        self.db.tx(|t| {
            let d = ds::get(t, writ_id)?.ok_or_else(|| AuthorityError::UnknownWrit(writ_id.into()))?;
            let links = ds::chain(t, writ_id)?.unwrap_or_default();
            Ok(view(&d, &links))
        })
    }

    /// The recorded children of writ `parent_id` (issued or delegated).
    ///
    /// # Errors
    /// Database errors.
    pub fn delegations_of(&self, parent_id: &str) -> Result<Vec<DelegationView>> {
        self.db.tx(|t| {
            let mut out = Vec::new();
            for d in ds::children(t, parent_id)? {
                let links = ds::chain(t, &d.id)?.unwrap_or_default();
                out.push(view(&d, &links));
            }
            Ok(out)
        })
    }

    /// Every recorded delegated writ's envelope, by id (the audit's input).
    ///
    /// # Errors
    /// Database errors.
    pub fn delegated_envelopes(&self) -> Result<Vec<(String, Vec<u8>)>> {
        self.db.tx(|t| Ok(ds::all(t)?.into_iter().map(|d| (d.id, d.envelope)).collect()))
    }
}
