//! The public read API behind the pages (`/v1/public/...`), all from the
//! ledger. Every list is paginated (`page`, [`PAGE`] rows a page).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use writ_core::entry::{Entry, EntryKind};

use super::index::Index;
use super::{W, WebError, envelope_for, gate_names, graph, quorum_for};
use crate::AppState;

/// Rows per page of every list.
pub const PAGE: usize = 50;
/// Largest `hops` of a neighbourhood.
pub const MAX_HOPS: u32 = 6;

type R = Result<Response, WebError>;

pub(crate) fn entry_view(i: u64, e: &Entry) -> Value {
    let mut v = super::entry_json(e);
    if let Value::Object(m) = &mut v {
        m.insert("index".into(), json!(i));
    }
    v
}

pub(crate) fn kind_from(s: &str) -> Result<Option<EntryKind>, WebError> {
    if s.is_empty() {
        return Ok(None);
    }
    const ALL: [EntryKind; 11] = [
        EntryKind::Request,
        EntryKind::Decision,
        EntryKind::Approval,
        EntryKind::Issuance,
        EntryKind::Revocation,
        EntryKind::ExecStart,
        EntryKind::ExecEnd,
        EntryKind::Denial,
        EntryKind::KeyChange,
        EntryKind::PolicyChange,
        EntryKind::Delegation,
    ];
    ALL.into_iter().find(|k| k.as_str() == s).map(Some).ok_or_else(|| {
        WebError::bad(format!("kind `{s}` is not an entry kind (request, decision, approval, issuance, …)"))
    })
}

/// `YYYY-MM-DD` (start or end of that day) or RFC 3339 UTC, to unix seconds.
pub(crate) fn time_from(s: &str, end_of_day: bool) -> Result<Option<i64>, WebError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let full = if s.len() == 10 {
        format!("{s}T{}Z", if end_of_day { "23:59:59" } else { "00:00:00" })
    } else {
        s.to_string()
    };
    writ_core::Timestamp::parse(&full)
        .map(|t| Some(t.unix()))
        .map_err(|_| WebError::bad(format!("time `{s}` must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub page: usize,
    #[serde(default)]
    pub focus: Option<u64>,
    #[serde(default)]
    pub hops: Option<u32>,
}

/// One page of search hits: (total, rows).
pub(crate) fn search_page(ix: &Index, q: &SearchQuery) -> Result<(usize, Vec<(u64, Entry)>), WebError> {
    let kind = kind_from(&q.kind)?;
    let hits = ix.search(&q.q, kind, time_from(&q.from, false)?, time_from(&q.to, true)?);
    let rows = hits
        .iter()
        .skip(q.page.saturating_mul(PAGE))
        .take(PAGE)
        .filter_map(|&i| ix.get(i).map(|e| (i, e.clone())))
        .collect();
    Ok((hits.len(), rows))
}

fn q<T>(r: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, WebError> {
    r.map(|Query(v)| v).map_err(|e| WebError::bad(e.body_text()))
}

pub(crate) async fn entry(State(w): W, Path(index): Path<u64>) -> R {
    w.with_index(move |ix, _| {
        let e = ix.get(index).ok_or_else(|| WebError::not_found(format!("no decodable entry at index {index}")))?;
        Ok(Json(entry_view(index, e)).into_response())
    })
    .await
}

pub(crate) async fn search(State(w): W, qr: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>) -> R {
    let sq = q(qr)?;
    w.with_index(move |ix, _| {
        let (total, rows) = search_page(ix, &sq)?;
        let results: Vec<Value> = rows.iter().map(|(i, e)| entry_view(*i, e)).collect();
        Ok(Json(json!({"total": total, "page": sq.page, "per_page": PAGE, "results": results})).into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HopsQuery {
    #[serde(default)]
    hops: Option<u32>,
}

/// Neighbourhood of `focus`, laid out: the JSON the page and tests read.
pub(crate) fn neighbourhood(ix: &Index, focus: u64, hops: u32) -> Result<Value, WebError> {
    if ix.get(focus).is_none() {
        return Err(WebError::not_found(format!("no decodable entry at index {focus}")));
    }
    let (nodes, edges, left_out) = ix.neighbourhood(focus, hops.min(MAX_HOPS));
    let placed = graph::layout(&nodes, &edges);
    let nodes: Vec<Value> = placed
        .iter()
        .filter_map(|p| {
            let e = ix.get(p.index)?;
            let mut v = entry_view(p.index, e);
            if let Value::Object(m) = &mut v {
                m.insert("layer".into(), json!(p.layer));
                m.insert("x".into(), json!(p.x));
                m.insert("y".into(), json!(p.y));
            }
            Some(v)
        })
        .collect();
    Ok(json!({"focus": focus, "hops": hops.min(MAX_HOPS), "nodes": nodes, "edges": edges, "left_out": left_out}))
}

pub(crate) async fn lineage(
    State(w): W,
    Path(index): Path<u64>,
    qr: Result<Query<HopsQuery>, axum::extract::rejection::QueryRejection>,
) -> R {
    let hq = q(qr)?;
    w.with_index(move |ix, _| Ok(Json(neighbourhood(ix, index, hq.hops.unwrap_or(2))?).into_response())).await
}

/// The proof bundle of entry `index`: the entry, its inclusion proof against
/// the latest checkpoint (a C2SP tlog-proof), and for an issuance the writ
/// envelope and its receipt when the authority holds them.
pub(crate) fn bundle_json(app: &AppState, ix: &Index, index: u64) -> Result<Value, WebError> {
    let ledger = app.authority.ledger();
    let bytes = ledger.entry(index).map_err(|_| WebError::not_found(format!("no entry at index {index}")))?;
    let proof = ledger.prove(index).map_err(|_| {
        WebError::not_found(format!("entry {index} is not covered by a signed checkpoint yet; retry in a second"))
    })?;
    let decoded = ix.get(index).map(|e| entry_view(index, e));
    let (writ, receipt) = ix.get(index).and_then(|e| envelope_for(app, e)).unzip();
    Ok(json!({
        "format": "writ-proof-bundle/v1",
        "index": index,
        "entry": writ_core::b64::encode(&bytes),
        "decoded": decoded,
        "proof": String::from_utf8_lossy(&proof.to_bytes()),
        "writ": writ,
        "receipt": receipt,
    }))
}

pub(crate) async fn bundle(State(w): W, Path(index): Path<u64>) -> R {
    w.with_index(move |ix, app| Ok(Json(bundle_json(app, ix, index)?).into_response())).await
}

pub(crate) async fn writ_bundle(State(w): W, Path(id): Path<String>) -> R {
    w.with_index(move |ix, app| {
        let i = ix.issuance_of(&id).ok_or_else(|| WebError::not_found(format!("the ledger records no writ `{id}`")))?;
        Ok(Json(bundle_json(app, ix, i)?).into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    old: u64,
    new: u64,
}

pub(crate) async fn consistency(
    State(w): W,
    qr: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> R {
    let cq = q(qr)?;
    let app = w.app.clone();
    let proof = tokio::task::spawn_blocking(move || app.authority.ledger().consistency_proof(cq.old, cq.new))
        .await
        .map_err(WebError::internal)?
        .map_err(|_| WebError::not_found(format!("no consistency proof from size {} to {}", cq.old, cq.new)))?;
    let lines: Vec<String> = proof.iter().map(|h| writ_core::b64::encode(h)).collect();
    Ok(Json(json!({"old": cq.old, "new": cq.new, "proof": lines})).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImpactQuery {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub writ: String,
    #[serde(default)]
    pub page: usize,
}

/// Impact rows for a key or a writ: (total, page of rows).
pub(crate) fn impact_rows(ix: &Index, iq: &ImpactQuery) -> Result<(usize, Vec<(u64, Entry)>), WebError> {
    let all = match (iq.key.trim(), iq.writ.trim()) {
        (k, "") if !k.is_empty() => ix.key_impact(k),
        ("", w) if !w.is_empty() => ix.writ_impact(w),
        _ => return Err(WebError::bad("give exactly one of `key` or `writ`")),
    };
    let rows = all
        .iter()
        .skip(iq.page.saturating_mul(PAGE))
        .take(PAGE)
        .filter_map(|&i| ix.get(i).map(|e| (i, e.clone())))
        .collect();
    Ok((all.len(), rows))
}

pub(crate) async fn impact(State(w): W, qr: Result<Query<ImpactQuery>, axum::extract::rejection::QueryRejection>) -> R {
    let iq = q(qr)?;
    w.with_index(move |ix, _| {
        let (total, rows) = impact_rows(ix, &iq)?;
        let results: Vec<Value> = rows.iter().map(|(i, e)| entry_view(*i, e)).collect();
        Ok(Json(json!({"total": total, "page": iq.page, "per_page": PAGE, "results": results})).into_response())
    })
    .await
}

/// The gap report.
pub(crate) fn gap_list(ix: &Index, app: &AppState) -> Vec<super::index::Gap> {
    let gates = gate_names(app);
    let known = |h: &str| gates.iter().any(|g| g == h);
    let quorum = |w: &str| ix.issuance_of(w).and_then(|i| ix.get(i)).and_then(|e| quorum_for(app, e));
    ix.gaps(&known, &quorum)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    #[serde(default)]
    pub page: usize,
}

pub(crate) async fn gaps(State(w): W, qr: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>) -> R {
    let pq = q(qr)?;
    w.with_index(move |ix, app| {
        let all = gap_list(ix, app);
        let rows: Vec<_> = all.iter().skip(pq.page.saturating_mul(PAGE)).take(PAGE).collect();
        Ok(Json(json!({"total": all.len(), "page": pq.page, "per_page": PAGE, "gaps": rows})).into_response())
    })
    .await
}
