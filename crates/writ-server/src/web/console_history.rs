//! The console's history: past requests, newest first, each with what the
//! ledger recorded about it — the policy decision, who voted what (and why,
//! for a denial), the outcome, the writ issued, its revocations, its runs
//! and the gates' denials — and, on the first page, the writs gates were
//! shown that the ledger never issued. Read from the ledger through the
//! lineage index (public records: the Lineage Explorer shows the same), with
//! the request's status from the authority when the reader may read it.
//! Every record links to its proof in the Proof Viewer and its node in the
//! Lineage Explorer. Every value is escaped ([`esc`]): requester, approver
//! and gate text alike.

use std::fmt::Write as _;

use writ_core::TrustRoot;
use writ_core::entry::Entry;

use super::html::{esc, url};
use super::index::Index;

/// Requests per history page.
pub const PER_PAGE: usize = 10;

fn code(s: &str) -> String {
    format!("<code>{}</code>", esc(s))
}

/// The trust root's name of a key id, if it has one.
fn name_of(trust: &TrustRoot, key_id: &str) -> Option<String> {
    let id = writ_core::KeyId::parse(key_id).ok()?;
    trust.approver(&id).map(|k| match k {
        writ_core::trust::ApproverKey::Ed25519(k) => k.entry.name.clone(),
        writ_core::trust::ApproverKey::Passkey(p) => p.entry.name.clone(),
    })
}

fn who(trust: &TrustRoot, key_id: &str) -> String {
    match name_of(trust, key_id) {
        Some(n) => format!("<b>{}</b> ({})", esc(&n), code(short(key_id))),
        None => code(key_id),
    }
}

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

fn links(i: u64) -> String {
    format!(
        " <span class=\"links\"><a class=\"proof-link\" href=\"/proofs?index={i}\">proof #{i}</a> · \
         <a class=\"lineage-link\" href=\"/lineage?focus={i}\">lineage</a></span>"
    )
}

/// One record of a request's story, as a list item (`None`: not shown).
fn event(trust: &TrustRoot, i: u64, e: &Entry) -> Option<String> {
    let (kind, text) = match e {
        Entry::Request(_) => return None,
        Entry::Decision(d) => (
            if d.allow { "decision ok" } else { "decision bad" },
            format!(
                "policy <b>{}</b> ({}{})",
                if d.allow { "allowed" } else { "denied" },
                code(&d.policy_id),
                if d.determining.is_empty() {
                    String::new()
                } else {
                    format!("; determining: {}", d.determining.iter().map(|p| code(p)).collect::<Vec<_>>().join(", "))
                }
            ),
        ),
        Entry::Approval(a) => ("vote ok", format!("<b>approve</b> by {}", who(trust, &a.approver))),
        Entry::Denial(d) if d.code == "approver_denied" => {
            ("vote bad", format!("<b>deny</b>: <span class=\"detail\">{}</span>", esc(&d.detail)))
        }
        Entry::Denial(d) => (
            "denial bad",
            format!(
                "denied {}{}: <span class=\"detail\">{}</span>",
                code(&d.code),
                d.host.as_deref().map(|h| format!(" on {}", code(h))).unwrap_or_default(),
                esc(&d.detail)
            ),
        ),
        Entry::Issuance(x) => (
            "issuance ok",
            format!(
                "<b>writ issued</b> {} by {}, valid {} to {}{} · <a class=\"writ-proof\" href=\"/proofs?writ={}\">writ in the Proof Viewer</a>",
                code(&x.writ_id),
                who(trust, &x.issuer),
                esc(&x.not_before.to_rfc3339()),
                esc(&x.not_after.to_rfc3339()),
                x.parent_writ_id.as_deref().map(|p| format!(", delegated from {}", code(p))).unwrap_or_default(),
                url(&x.writ_id)
            ),
        ),
        Entry::Revocation(r) => (
            "revocation bad",
            format!(
                "<b>writ revoked</b> by {}: “<span class=\"reason\">{}</span>”",
                esc(&r.revoked_by),
                esc(&r.reason)
            ),
        ),
        Entry::ExecStart(x) => (
            "exec",
            format!(
                "run <b>started</b> on {} (program sha256 {}…)",
                code(&x.host),
                code(short(&x.program_digest.to_hex()))
            ),
        ),
        Entry::ExecEnd(x) => (
            "exec",
            format!(
                "run <b>ended</b> on {}: {}{}",
                code(&x.host),
                esc(&x.outcome),
                x.exit_code.map(|c| format!(" (exit {c})")).unwrap_or_default()
            ),
        ),
        _ => return None,
    };
    Some(format!(
        "<li class=\"event {kind}\" data-index=\"{i}\"><span class=\"time\">{}</span> {text}{}</li>",
        esc(&e.time().to_rfc3339()),
        links(i)
    ))
}

/// Page `page` of the history: HTML and the number of pages. `status`
/// gives a request's status from the authority when the reader may see it.
pub fn render(ix: &Index, trust: &TrustRoot, page: usize, status: &dyn Fn(&str) -> Option<String>) -> (String, usize) {
    let (ids, total) = ix.requests_newest(page, PER_PAGE);
    let pages = total.div_ceil(PER_PAGE).max(1);
    let mut s = String::new();
    if page == 0 {
        unissued(&mut s, ix);
    }
    if ids.is_empty() {
        s.push_str("<p class=\"muted\" id=\"history-empty\">No request in the ledger yet.</p>");
    }
    for ri in ids {
        let Some(Entry::Request(r)) = ix.get(ri) else { continue };
        let mut events: Vec<(u64, &Entry)> = ix.of_request(&r.request_id);
        let writs: Vec<String> = events
            .iter()
            .filter_map(|(_, e)| match e {
                Entry::Issuance(x) => Some(x.writ_id.clone()),
                _ => None,
            })
            .collect();
        for w in &writs {
            events.extend(ix.of_writ(w));
        }
        events.sort_by_key(|(i, _)| *i);
        events.dedup_by_key(|(i, _)| *i);
        let derived = if !writs.is_empty() {
            "issued"
        } else if events.iter().any(|(_, e)| matches!(e, Entry::Decision(d) if !d.allow)) {
            "denied"
        } else if events.iter().any(|(_, e)| matches!(e, Entry::Denial(d) if d.code == "approver_denied")) {
            "voted down"
        } else {
            "no writ"
        };
        let st = status(&r.request_id).unwrap_or_else(|| derived.to_string());
        let badge = match st.as_str() {
            "issued" => "ok",
            "denied" | "expired" | "voted down" => "bad",
            _ => "warn",
        };
        let revoked = events.iter().any(|(_, e)| matches!(e, Entry::Revocation(_)));
        let _ = write!(
            s,
            "<article class=\"history-item\" data-request=\"{id}\" data-status=\"{st}\" data-index=\"{ri}\">\
             <h3><a href=\"/console/requests/{u}\" class=\"open-request\">{c}</a> <span class=\"badge {badge}\">{st}</span>{rv}</h3>\
             <p class=\"what\">{action} <code class=\"resource\">{res}</code> — requested by {by} at {t}{links}</p>",
            id = esc(&r.request_id),
            st = esc(&st),
            u = url(&r.request_id),
            c = code(&r.request_id),
            rv = if revoked { " <span class=\"badge bad\">writ revoked</span>" } else { "" },
            action = code(&r.action),
            res = esc(&r.resource),
            by = who(trust, &r.requester),
            t = esc(&r.time.to_rfc3339()),
            links = links(ri),
        );
        if let Some(reason) = &r.reason {
            let _ = write!(s, "<p class=\"why\">Reason: “<span class=\"reason\">{}</span>”</p>", esc(reason));
        }
        s.push_str("<ol class=\"history-events\">");
        for (i, e) in &events {
            if let Some(li) = event(trust, *i, e) {
                s.push_str(&li);
            }
        }
        s.push_str("</ol></article>");
    }
    let _ = write!(
        s,
        "<nav class=\"pager history-pager\" aria-label=\"history pages\" data-page=\"{page}\" data-pages=\"{pages}\">\
         <button type=\"button\" class=\"small\" data-goto=\"{prev}\"{pd}>Newer</button> \
         <span>page {} of {pages} ({total} requests)</span> \
         <button type=\"button\" class=\"small\" data-goto=\"{next}\"{nd}>Older</button></nav>",
        page + 1,
        prev = page.saturating_sub(1),
        next = page + 1,
        pd = if page == 0 { " disabled" } else { "" },
        nd = if page + 1 >= pages { " disabled" } else { "" },
    );
    (s, pages)
}

/// The gates' denials of writs the ledger never issued, newest first.
fn unissued(s: &mut String, ix: &Index) {
    let list = ix.unissued_denials();
    if list.is_empty() {
        return;
    }
    let _ = write!(
        s,
        "<section class=\"alert-panel bad\" id=\"history-unissued\" role=\"alert\"><h3>Writs the ledger never issued, presented to gates: {}</h3>\
         <p class=\"hint\">A writ with no issuance was forged or signed with a stolen issuer key: check and rotate the issuer keys \
         (semantic audit finding <code>unissued_writ_presented</code>).</p><ul>",
        list.len()
    );
    for &i in list.iter().rev().take(PER_PAGE) {
        let Some(Entry::Denial(d)) = ix.get(i) else { continue };
        let _ = write!(
            s,
            "<li class=\"unissued\" data-index=\"{i}\"><span class=\"time\">{}</span> writ {} denied {}{}: <span class=\"detail\">{}</span>{}</li>",
            esc(&d.time.to_rfc3339()),
            code(d.writ_id.as_deref().unwrap_or_default()),
            code(&d.code),
            d.host.as_deref().map(|h| format!(" on {}", code(h))).unwrap_or_default(),
            esc(&d.detail),
            links(i)
        );
    }
    s.push_str("</ul></section>");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use writ_core::Timestamp;
    use writ_core::entry::{self, Entry};

    use super::*;

    const BAD: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&";

    #[test]
    fn every_requester_approver_and_gate_field_is_escaped() {
        let t = Timestamp(1_800_000_000);
        let mut ix = Index::default();
        let rid = format!("r{BAD}");
        let wid = format!("w{BAD}");
        let d = writ_core::Sha256Digest::of(b"x");
        for e in [
            Entry::Request(entry::Request {
                time: t,
                request_id: rid.clone(),
                requester: BAD.into(),
                action: BAD.into(),
                resource: BAD.into(),
                request_digest: d,
                reason: Some(BAD.into()),
            }),
            Entry::Decision(entry::Decision {
                time: t,
                request_id: rid.clone(),
                allow: true,
                policy_id: BAD.into(),
                policy_digest: d,
                determining: vec![BAD.into()],
            }),
            Entry::Approval(entry::Approval {
                time: t,
                request_id: rid.clone(),
                approver: BAD.into(),
                request_digest: d,
                approval_digest: d,
            }),
            Entry::Denial(entry::Denial {
                time: t,
                request_id: Some(rid.clone()),
                writ_id: None,
                code: "approver_denied".into(),
                detail: BAD.into(),
                host: None,
            }),
            Entry::Issuance(entry::Issuance {
                time: t,
                request_id: rid.clone(),
                writ_id: wid.clone(),
                envelope_digest: d,
                issuer: BAD.into(),
                not_before: t,
                not_after: t,
                parent_writ_id: Some(BAD.into()),
                parent_digest: None,
            }),
            Entry::Revocation(entry::Revocation {
                time: t,
                request_id: rid.clone(),
                writ_id: wid.clone(),
                revoked_by: BAD.into(),
                reason: BAD.into(),
            }),
            Entry::ExecEnd(entry::ExecEnd {
                time: t,
                request_id: rid.clone(),
                writ_id: wid.clone(),
                host: BAD.into(),
                outcome: BAD.into(),
                exit_code: Some(1),
            }),
            Entry::Denial(entry::Denial {
                time: t,
                request_id: Some(BAD.into()),
                writ_id: Some(format!("ghost{BAD}")),
                code: BAD.into(),
                detail: BAD.into(),
                host: Some(BAD.into()),
            }),
        ] {
            ix.add(Some(e));
        }
        let trust = writ_core::fixtures::trust_root(false);
        let (html, pages) = render(&ix, &trust, 0, &|_| Some(BAD.to_string()));
        assert_eq!(pages, 1);
        for bad in ["<script", "<img", "onerror=alert(2)>", "\"'&"] {
            assert!(!html.contains(bad), "`{bad}` reached the HTML: {html}");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
        // every record links to its proof and its lineage node
        for i in 1..8 {
            assert!(html.contains(&format!("href=\"/proofs?index={i}\"")), "no proof link of entry {i}");
            assert!(html.contains(&format!("href=\"/lineage?focus={i}\"")), "no lineage link of entry {i}");
        }
        assert!(html.contains("id=\"history-unissued\""), "the unissued writ is an alert");
        assert!(html.contains("writ revoked"));
    }

    #[test]
    fn pages_run_newest_first() {
        let t = Timestamp(1_800_000_000);
        let mut ix = Index::default();
        for n in 0..(PER_PAGE + 3) {
            ix.add(Some(Entry::Request(entry::Request {
                time: t,
                request_id: format!("req-{n}"),
                requester: "k".into(),
                action: "exec".into(),
                resource: "/bin/x".into(),
                request_digest: writ_core::Sha256Digest::of(b"x"),
                reason: None,
            })));
        }
        let trust = writ_core::fixtures::trust_root(false);
        let (first, pages) = render(&ix, &trust, 0, &|_| None);
        assert_eq!(pages, 2);
        assert!(first.contains("data-request=\"req-12\"") && !first.contains("data-request=\"req-2\""));
        let (second, _) = render(&ix, &trust, 1, &|_| None);
        assert!(second.contains("data-request=\"req-2\"") && second.contains("data-request=\"req-0\""));
        assert!(!second.contains("data-request=\"req-3\""));
        assert!(second.contains("data-goto=\"2\" disabled"));
    }
}
