//! The server-rendered pages. Everything user-controlled goes through
//! [`esc`]; the scripts only add verification results.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use writ_core::entry::Entry;

use super::api::{self, ImpactQuery, PAGE, PageQuery, SearchQuery};
use super::html::{self, Nav, esc, url};
use super::index::Index;
use super::{PageError, W, WebError, graph};

type P = Result<Response, PageError>;

pub(super) fn html_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], body).into_response()
}

fn q<T>(r: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, PageError> {
    r.map(|Query(v)| v).map_err(|e| PageError::from(WebError::bad(e.body_text())))
}

/// Key facts of an entry, for a table cell.
fn summary(e: &Entry) -> String {
    let c = |s: &str| format!("<code>{}</code>", esc(s));
    match e {
        Entry::Request(r) => format!(
            "{} asks to <b>{}</b> {} — request {}{}",
            c(&r.requester),
            esc(&r.action),
            c(&r.resource),
            c(&r.request_id),
            r.reason.as_deref().map(|x| format!(": “<span class=\"reason\">{}</span>”", esc(x))).unwrap_or_default()
        ),
        Entry::Decision(d) => format!(
            "policy {} {} request {}",
            c(&d.policy_id),
            if d.allow { "<b class=\"ok\">allowed</b>" } else { "<b class=\"bad\">denied</b>" },
            c(&d.request_id)
        ),
        Entry::Approval(a) => format!("{} approved request {}", c(&a.approver), c(&a.request_id)),
        Entry::Issuance(i) => format!(
            "writ {} issued by key {} for request {}, valid {} – {}{}",
            c(&i.writ_id),
            c(&i.issuer),
            c(&i.request_id),
            esc(&i.not_before.to_string()),
            esc(&i.not_after.to_string()),
            i.parent_writ_id.as_deref().map(|p| format!(", child of {}", c(p))).unwrap_or_default()
        ),
        Entry::Revocation(r) => format!(
            "writ {} revoked by {}: “<span class=\"reason\">{}</span>”",
            c(&r.writ_id),
            c(&r.revoked_by),
            esc(&r.reason)
        ),
        Entry::ExecStart(s) => format!(
            "run of writ {} started on {} (program {})",
            c(&s.writ_id),
            c(&s.host),
            c(&s.program_digest.to_string())
        ),
        Entry::ExecEnd(x) => format!(
            "run of writ {} on {} ended: {}{}",
            c(&x.writ_id),
            c(&x.host),
            esc(&x.outcome),
            x.exit_code.map(|v| format!(" (exit {v})")).unwrap_or_default()
        ),
        Entry::Denial(d) => format!(
            "denied <code class=\"code\">{}</code>{}: {}",
            esc(&d.code),
            d.writ_id.as_deref().map(|w| format!(" for writ {}", c(w))).unwrap_or_default(),
            esc(&d.detail)
        ),
        Entry::KeyChange(k) => format!("key {} ({}) {} by {}", c(&k.key_id), esc(&k.role), esc(&k.change), c(&k.actor)),
        Entry::PolicyChange(p) => format!("policy {} changed by {}", c(&p.policy_id), c(&p.actor)),
        Entry::Delegation(d) => format!(
            "writ {} delegated from writ {} by holder key {} (depth {}, valid {} – {}{}), recorded by {}",
            c(&d.writ_id),
            c(&d.parent_writ_id),
            c(&d.holder),
            d.depth,
            esc(&d.not_before.to_string()),
            esc(&d.not_after.to_string()),
            d.uses.map(|u| format!(", {u} use(s)")).unwrap_or_default(),
            c(&d.recorded_by)
        ),
    }
}

/// The flag on a denial of a writ the ledger had not issued before it.
fn unissued_flag(ix: &Index, i: u64, e: &Entry) -> String {
    match e {
        Entry::Denial(d) if d.writ_id.as_deref().is_some_and(|w| ix.issuance_of(w).is_none_or(|x| x > i)) => {
            " <strong class=\"bad unissued\">— a writ the ledger never issued was presented (forged, or signed with a \
             stolen issuer key)</strong>"
                .to_string()
        }
        _ => String::new(),
    }
}

/// A table of entries; a gate's denial of a writ the ledger had not issued
/// before it is flagged (`unissued_writ_presented`).
fn rows_table(ix: &Index, caption: &str, rows: &[(u64, Entry)]) -> String {
    let mut s = format!(
        "<div class=\"scroll\"><table class=\"entries\"><caption>{}</caption><thead><tr><th scope=\"col\">Index</th>\
         <th scope=\"col\">Kind</th><th scope=\"col\">Time</th><th scope=\"col\">Record</th><th scope=\"col\">In log</th></tr></thead><tbody>",
        esc(caption)
    );
    for (i, e) in rows {
        let _ = write!(
            s,
            "<tr><td><a href=\"/lineage?focus={i}\">#{i}</a></td><td><span class=\"kind {k}\">{k}</span></td>\
             <td><time>{t}</time></td><td>{sum}</td><td><span class=\"badge\" data-index=\"{i}\" role=\"status\">not checked</span></td></tr>",
            k = e.kind().as_str(),
            t = esc(&e.time().to_string()),
            sum = summary(e) + &unissued_flag(ix, *i, e),
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

fn pager(total: usize, page: usize, link: &dyn Fn(usize) -> String) -> String {
    let pages = total.div_ceil(PAGE).max(1);
    let mut s = format!(
        "<nav class=\"pager\" aria-label=\"Pages\"><span>{total} results · page {} of {pages}</span>",
        page + 1
    );
    if page > 0 {
        let _ = write!(s, " <a rel=\"prev\" href=\"{}\">Previous</a>", esc(&link(page - 1)));
    }
    if page + 1 < pages {
        let _ = write!(s, " <a rel=\"next\" href=\"{}\">Next</a>", esc(&link(page + 1)));
    }
    s.push_str("</nav>");
    s
}

const TRUST_CARD: &str = "<section class=\"card\" id=\"trust\" aria-labelledby=\"trust-h\"><h2 id=\"trust-h\">Trust root</h2>\
<p id=\"trust-status\" role=\"status\">Checks need a pinned trust root; scripts set it up.</p>\
<div id=\"trust-controls\"></div></section>";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProofsQuery {
    #[serde(default)]
    writ: String,
    #[serde(default)]
    index: Option<u64>,
}

pub(crate) async fn proofs(State(w): W, qr: Result<Query<ProofsQuery>, axum::extract::rejection::QueryRejection>) -> P {
    let pq = q(qr)?;
    let (writ_value, index_value) = (pq.writ.clone(), pq.index.map(|i| i.to_string()).unwrap_or_default());
    let subject = if pq.writ.trim().is_empty() && pq.index.is_none() {
        String::new()
    } else {
        w.with_index(move |ix, _| Ok(subject(ix, &pq))).await.map_err(PageError::from)?
    };
    let main = format!(
        "<h1>Proof Viewer</h1>{noscript}\
         <p class=\"lede\">Open a writ and this page verifies, with writ-core compiled to WebAssembly: the issuer's DSSE signature \
         against your pinned trust root, every approval signature and the quorum, the validity window, the receipt's inclusion \
         proof and its checkpoint signature, and that the checkpoint is consistent with the newest one this browser saw before.</p>\
         {TRUST_CARD}\
         <section class=\"card\" aria-labelledby=\"open-h\"><h2 id=\"open-h\">Open a writ</h2>\
         <div class=\"forms\"><form method=\"get\" action=\"/proofs\"><label for=\"writ\">Writ id</label>\
         <input id=\"writ\" name=\"writ\" autocomplete=\"off\" spellcheck=\"false\" value=\"{wv}\"><button type=\"submit\">Open</button></form>\
         <form method=\"get\" action=\"/proofs\"><label for=\"index\">Ledger index</label>\
         <input id=\"index\" name=\"index\" type=\"number\" min=\"0\" inputmode=\"numeric\" value=\"{iv}\"><button type=\"submit\">Open</button></form></div>\
         <div id=\"drop\" class=\"drop\"><label for=\"files\">Files: a writ (<code>.writ.json</code>) and its receipt (<code>.tlog-proof</code>), or a proof bundle (<code>.json</code>)</label>\
         <input type=\"file\" id=\"files\" multiple><p class=\"hint\">…or drop them anywhere in this box.</p></div>\
         <details><summary>Paste instead</summary><label for=\"paste-writ\">Writ (DSSE envelope JSON)</label>\
         <textarea id=\"paste-writ\" rows=\"5\" spellcheck=\"false\"></textarea>\
         <label for=\"paste-receipt\">Receipt (tlog-proof text, optional)</label><textarea id=\"paste-receipt\" rows=\"5\" spellcheck=\"false\"></textarea>\
         <button type=\"button\" id=\"verify-paste\">Verify pasted text</button></details></section>\
         {subject}<section id=\"result\" aria-live=\"polite\"></section>",
        noscript = html::NOSCRIPT,
        wv = esc(&writ_value),
        iv = esc(&index_value),
    );
    Ok(html_response(html::page("Proof Viewer", Nav::Proofs, &main, &["proofs.js"])))
}

fn subject(ix: &Index, pq: &ProofsQuery) -> String {
    let found = match pq.index {
        Some(i) => ix.get(i).map(|e| (i, e)),
        None => ix.issuance_of(pq.writ.trim()).and_then(|i| ix.get(i).map(|e| (i, e))),
    };
    let Some((i, e)) = found else {
        let what = pq.index.map_or_else(|| format!("writ `{}`", pq.writ.trim()), |i| format!("index {i}"));
        return format!(
            "<section class=\"card\"><p class=\"notice bad\" role=\"alert\">The ledger has no record for {}. Check the id, or search the <a href=\"/lineage\">Lineage Explorer</a>.</p></section>",
            esc(&what)
        );
    };
    let title = match e {
        Entry::Issuance(is) => format!("Writ <code>{}</code>", esc(&is.writ_id)),
        other => format!("Ledger entry #{i} ({})", other.kind().as_str()),
    };
    format!(
        "<section class=\"card\" id=\"subject\" data-bundle=\"/v1/public/bundle/{i}\" aria-labelledby=\"subject-h\">\
         <h2 id=\"subject-h\">{title}</h2><p class=\"notice\">What the ledger's entry #{i} says (as served, not yet verified):</p>{table}\
         <p><a href=\"/lineage?focus={i}\">Show its lineage</a> · <a href=\"/v1/public/bundle/{i}\">Proof bundle (JSON)</a></p></section>",
        table = rows_table(ix, "Ledger record", &[(i, e.clone())]),
    )
}

pub(crate) async fn lineage(
    State(w): W,
    qr: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> P {
    let sq = q(qr)?;
    let main = w
        .with_index(move |ix, _| {
            let mut s = format!("<h1>Lineage Explorer</h1>{}", html::NOSCRIPT);
            s.push_str(TRUST_CARD);
            let _ = write!(
                s,
                "<section class=\"card\" aria-labelledby=\"search-h\"><h2 id=\"search-h\">Search</h2>\
                 <form method=\"get\" action=\"/lineage\" class=\"search\">\
                 <div><label for=\"q\">Writ id, request id, requester, approver, program digest or key id</label>\
                 <input id=\"q\" name=\"q\" value=\"{q}\" spellcheck=\"false\" autocomplete=\"off\"></div>\
                 <div><label for=\"kind\">Kind</label><input id=\"kind\" name=\"kind\" value=\"{k}\" placeholder=\"any\"></div>\
                 <div><label for=\"from\">From</label><input id=\"from\" name=\"from\" value=\"{f}\" placeholder=\"YYYY-MM-DD\"></div>\
                 <div><label for=\"to\">To</label><input id=\"to\" name=\"to\" value=\"{t}\" placeholder=\"YYYY-MM-DD\"></div>\
                 <div><button type=\"submit\">Search</button></div></form>\
                 <form method=\"get\" action=\"/lineage/impact\" class=\"search\"><div><label for=\"key\">Impact of a key (key id)</label>\
                 <input id=\"key\" name=\"key\" spellcheck=\"false\"></div><div><button type=\"submit\">Impact</button></div></form></section>",
                q = esc(&sq.q),
                k = esc(&sq.kind),
                f = esc(&sq.from),
                t = esc(&sq.to),
            );
            if let Some(focus) = sq.focus {
                s.push_str(&focus_view(ix, focus, sq.hops.unwrap_or(2))?);
            }
            let searching = !(sq.q.is_empty() && sq.kind.is_empty() && sq.from.is_empty() && sq.to.is_empty());
            if searching || sq.focus.is_none() {
                let (total, rows) = api::search_page(ix, &sq)?;
                let caption = if searching { "Search results, newest first" } else { "Latest records" };
                s.push_str("<section class=\"card\" aria-labelledby=\"res-h\"><h2 id=\"res-h\">Records</h2>");
                s.push_str(&rows_table(ix, caption, &rows));
                let (qq, kk, ff, tt) = (url(&sq.q), url(&sq.kind), url(&sq.from), url(&sq.to));
                s.push_str(&pager(total, sq.page, &|p| format!("/lineage?q={qq}&kind={kk}&from={ff}&to={tt}&page={p}")));
                s.push_str("</section>");
            }
            Ok(s)
        })
        .await
        .map_err(PageError::from)?;
    Ok(html_response(html::page("Lineage Explorer", Nav::Lineage, &main, &["lineage.js"])))
}

fn focus_view(ix: &Index, focus: u64, hops: u32) -> Result<String, WebError> {
    let hops = hops.clamp(1, api::MAX_HOPS);
    if ix.get(focus).is_none() {
        return Err(WebError::not_found(format!("no decodable entry at index {focus}")));
    }
    let (nodes, edges, left_out) = ix.neighbourhood(focus, hops);
    let placed = graph::layout(&nodes, &edges);
    let svg =
        graph::svg(&placed, &edges, focus, &|i| ix.get(i).cloned(), &|i| format!("/lineage?focus={i}&hops={hops}"));
    let rows: Vec<(u64, Entry)> = nodes.iter().filter_map(|&i| ix.get(i).map(|e| (i, e.clone()))).collect();
    let mut s = format!(
        "<section class=\"card\" id=\"focus\" data-focus=\"{focus}\" aria-labelledby=\"focus-h\"><h2 id=\"focus-h\">Around #{focus}, ±{hops} hops</h2>\
         <p class=\"controls\"><a href=\"/lineage?focus={focus}&amp;hops={less}\">Fewer hops</a> · \
         <a href=\"/lineage?focus={focus}&amp;hops={more}\">More hops</a> · <a href=\"/lineage?focus={focus}&amp;hops={hops}\">Permalink</a> · \
         <a href=\"/proofs?index={focus}\">Open in the Proof Viewer</a>",
        less = hops.saturating_sub(1).max(1),
        more = (hops + 1).min(api::MAX_HOPS),
    );
    if let Some(Entry::Issuance(is)) = ix.get(focus) {
        let _ = write!(
            s,
            " · <a href=\"/lineage/impact?writ={}\">Runs and children of this writ</a>",
            esc(&url(&is.writ_id))
        );
    }
    if let Some(Entry::KeyChange(k)) = ix.get(focus) {
        let _ = write!(s, " · <a href=\"/lineage/impact?key={}\">Impact of this key</a>", esc(&url(&k.key_id)));
    }
    s.push_str("</p>");
    if left_out > 0 {
        let _ = write!(
            s,
            "<p class=\"notice\">{left_out} more neighbours are not drawn; focus on a node to see its own.</p>"
        );
    }
    let _ = write!(
        s,
        "<div class=\"scroll graph-wrap\">{svg}</div><p class=\"legend\"><span class=\"dot ok\"></span> inclusion proof checked in this page \
         <span class=\"dot bad\"></span> proof failed <span class=\"dot\"></span> not checked</p>{}</section>",
        rows_table(ix, "Records in this view", &rows)
    );
    Ok(s)
}

pub(crate) async fn impact(State(w): W, qr: Result<Query<ImpactQuery>, axum::extract::rejection::QueryRejection>) -> P {
    let iq = q(qr)?;
    let main = w
        .with_index(move |ix, _| {
            let (total, rows) = api::impact_rows(ix, &iq)?;
            let (what, link): (String, Box<dyn Fn(usize) -> String>) = if iq.key.trim().is_empty() {
                let wv = url(iq.writ.trim());
                (
                    format!("writ <code>{}</code>: its issuance, runs and child writs", esc(iq.writ.trim())),
                    Box::new(move |p| format!("/lineage/impact?writ={wv}&page={p}")),
                )
            } else {
                let kv = url(iq.key.trim());
                (
                    format!(
                        "key <code>{}</code>: every writ it issued or approved, and every run under them",
                        esc(iq.key.trim())
                    ),
                    Box::new(move |p| format!("/lineage/impact?key={kv}&page={p}")),
                )
            };
            let mut s = format!(
                "<h1>Impact</h1>{}{TRUST_CARD}<section class=\"card\" id=\"impact\"><h2>Impact of {what}</h2>",
                html::NOSCRIPT
            );
            s.push_str(&rows_table(ix, "Affected records", &rows));
            s.push_str(&pager(total, iq.page, &*link));
            s.push_str("</section>");
            Ok(s)
        })
        .await
        .map_err(PageError::from)?;
    Ok(html_response(html::page("Impact", Nav::Lineage, &main, &["lineage.js"])))
}

pub(crate) async fn gaps(State(w): W, qr: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>) -> P {
    let pq = q(qr)?;
    let main = w
        .with_index(move |ix, app| {
            let all = api::gap_list(ix, app);
            let mut s = String::from(
                "<h1>Gap report</h1><p class=\"lede\">Known unknowns in the ledger: runs without an end record, runs after their writ's \
                 revocation or expiry, runs under writs the ledger never issued, issuances without their request, allow decision or \
                 quorum, records from hosts no gate key names, entries that do not decode.</p>",
            );
            let _ = write!(s, "<section class=\"card\" id=\"gaps\"><h2>{} findings</h2>", all.len());
            s.push_str("<div class=\"scroll\"><table class=\"entries\"><caption>Findings, by ledger index</caption><thead><tr><th scope=\"col\">Index</th><th scope=\"col\">Finding</th><th scope=\"col\">Detail</th></tr></thead><tbody>");
            for g in all.iter().skip(pq.page.saturating_mul(PAGE)).take(PAGE) {
                let _ = write!(
                    s,
                    "<tr><td><a href=\"/lineage?focus={i}\">#{i}</a></td><td><code class=\"code\">{k}</code></td><td>{d}</td></tr>",
                    i = g.index,
                    k = g.kind,
                    d = esc(&g.detail)
                );
            }
            s.push_str("</tbody></table></div>");
            s.push_str(&pager(all.len(), pq.page, &|p| format!("/lineage/gaps?page={p}")));
            s.push_str("</section>");
            Ok(s)
        })
        .await
        .map_err(PageError::from)?;
    Ok(html_response(html::page("Gap report", Nav::Lineage, &main, &[])))
}
