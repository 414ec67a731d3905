//! HTML of the Governance Console: the page shell, the queue and the
//! request card. The card shows what `writ show` shows (the same fields of
//! the checked request document, in the same order): program path and
//! digest, every argument, the environment with loader and interpreter
//! variables flagged ([`writ_core::loader`]), cwd, hosts, boundaries,
//! duration, the policy decision with its determining policies and
//! obligations, quorum progress and every vote. Every value a requester or
//! approver wrote goes through [`esc`].

use std::fmt::Write as _;

use writ_api::wire::{RequestDocument, RequestView, TargetInput};
use writ_authority::Identity;
use writ_core::Role;

use super::html::{NOSCRIPT, esc, url};

fn code(s: &str) -> String {
    format!("<code>{}</code>", esc(s))
}

/// The page: sign-in, the queue, the selected request, the request form.
/// `request` is the id of `/console/requests/<id>` (opened after sign-in).
pub fn shell(request: Option<&str>) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<h1>Governance Console</h1>\n{NOSCRIPT}\n\
<p class=\"lead\">Sign in with a key of the trust root. Every vote, revocation and request is signed in this \
page by your key (an Ed25519 key file held in memory, or your passkey); nothing rides on a session.</p>\n\
<section id=\"trust\" aria-labelledby=\"trust-h\"><h2 id=\"trust-h\">Trust root</h2>\
<p id=\"trust-status\">Loading…</p><div id=\"trust-controls\"></div></section>\n\
<section id=\"signin\" aria-labelledby=\"signin-h\"><h2 id=\"signin-h\">Sign in</h2>\
<p class=\"hint\">New approver? <a href=\"/console/enrol\" id=\"enrol-link\">Enrol a passkey</a> (root key holders sign it into the trust root).</p>\
<div class=\"signin-options\">\
<div class=\"card\"><h3>Passkey</h3><p>Approvers whose passkey is in the trust root.</p>\
<label for=\"passkey-name\">Passkey of</label> <select id=\"passkey-name\"></select> \
<button type=\"button\" id=\"passkey-signin\">Sign in with passkey</button></div>\
<div class=\"card\"><h3>Key file</h3><p>An Ed25519 private key file (<code>writ keygen</code>). \
It is read into this page's memory and never uploaded.</p>\
<label for=\"key-file\">Key file</label> <input type=\"file\" id=\"key-file\"></div>\
</div><p id=\"signin-status\" role=\"status\"></p></section>\n\
<section id=\"me\" hidden aria-labelledby=\"me-h\"><h2 id=\"me-h\">Signed in</h2><p id=\"me-line\"></p>\
<button type=\"button\" id=\"signout\" class=\"small\">Sign out</button></section>\n\
<section id=\"queue\" hidden aria-labelledby=\"queue-h\"><h2 id=\"queue-h\">Queue</h2>\
<div id=\"queue-body\"></div></section>\n\
<section id=\"request\" hidden aria-labelledby=\"request-h\"><h2 id=\"request-h\">Request</h2>\
<div id=\"request-body\"></div><div id=\"request-actions\"></div><p id=\"action-status\" role=\"status\"></p></section>\n\
<section id=\"history\" hidden aria-labelledby=\"history-h\"><h2 id=\"history-h\">History</h2>\
<p class=\"hint\">Past requests, newest first, as the ledger recorded them: the decision, who voted what, the writ issued, \
revocations and runs. Each record links to its proof and its lineage.</p><div id=\"history-body\"></div></section>\n\
<section id=\"file\" hidden aria-labelledby=\"file-h\"><h2 id=\"file-h\">File a request</h2>\
<form id=\"file-form\" class=\"form\">\
<label for=\"f-program\">Program (absolute path)</label><input id=\"f-program\" name=\"program\" required placeholder=\"/usr/bin/deploy\">\
<label for=\"f-sha256\">Program sha256 (optional)</label><input id=\"f-sha256\" name=\"sha256\" pattern=\"[0-9a-f]{{64}}\">\
<label for=\"f-argv\">Arguments, one a line</label><textarea id=\"f-argv\" name=\"argv\" rows=\"3\"></textarea>\
<label for=\"f-env\">Environment, NAME=value a line</label><textarea id=\"f-env\" name=\"env\" rows=\"2\"></textarea>\
<label for=\"f-cwd\">Working directory (optional)</label><input id=\"f-cwd\" name=\"cwd\">\
<label for=\"f-hosts\">Hosts, comma-separated (optional)</label><input id=\"f-hosts\" name=\"hosts\">\
<label for=\"f-duration\">Duration (seconds)</label><input id=\"f-duration\" name=\"duration\" type=\"number\" min=\"1\" value=\"900\" required>\
<label for=\"f-reason\">Reason</label><textarea id=\"f-reason\" name=\"reason\" rows=\"2\" required></textarea>\
<button type=\"submit\" id=\"f-submit\">Sign and file</button></form><p id=\"file-status\" role=\"status\"></p></section>\n"
    );
    let _ = write!(s, "<div id=\"console-config\" hidden data-request=\"{}\"></div>", esc(request.unwrap_or_default()));
    s
}

/// The queue: each pending request with whether the signed-in key may vote
/// on it and, if not, why.
pub fn queue(rows: &[(RequestView, Option<String>)], note: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(n) = note {
        let _ = write!(s, "<p class=\"notice\">{}</p>", esc(n));
    }
    if rows.is_empty() {
        if note.is_none() {
            s.push_str("<p class=\"muted\" id=\"queue-empty\">No request is pending.</p>");
        }
        return s;
    }
    s.push_str(
        "<table class=\"queue\"><thead><tr><th scope=\"col\">Request</th><th scope=\"col\">What would run</th>\
<th scope=\"col\">Requester</th><th scope=\"col\">Approvals</th><th scope=\"col\">You</th></tr></thead><tbody>",
    );
    for (v, why) in rows {
        let approvals = v.approvals.iter().filter(|a| a.verdict == "approve").count();
        let you = match why {
            None => "<span class=\"ok\">you may vote</span>".to_string(),
            Some(w) => format!("<span class=\"muted why-not\">{}</span>", esc(w)),
        };
        let _ = write!(
            s,
            "<tr data-request=\"{id}\" class=\"{cls}\"><td><a href=\"/console/requests/{u}\" class=\"open-request\">{c}</a></td>\
<td>{sum}<br><span class=\"reason\">{reason}</span></td><td>{who}</td><td>{approvals} of {need}{grp}</td><td>{you}</td></tr>",
            id = esc(&v.request_id),
            cls = if why.is_none() { "votable" } else { "not-votable" },
            u = url(&v.request_id),
            c = code(&v.request_id),
            sum = esc(&v.summary),
            reason = esc(&v.reason),
            who = esc(&v.requester_name),
            need = v.approvals_required,
            grp = v.approver_group.as_deref().map(|g| format!(" from <code>{}</code>", esc(g))).unwrap_or_default(),
        );
    }
    s.push_str("</tbody></table>");
    s
}

fn row(s: &mut String, k: &str, v: &str) {
    let _ = write!(s, "<tr><th scope=\"row\">{}</th><td>{v}</td></tr>", esc(k));
}

/// The request card: exactly what would run, the decision, the quorum and
/// the votes. `why_not` says why `who` may not vote (`None`: they may).
pub fn card(v: &RequestView, doc: &RequestDocument, why_not: Option<&str>, who: &Identity) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<article class=\"request-card\" data-request=\"{}\" data-status=\"{}\"><h3>Request {} <span class=\"badge {}\">{}</span></h3>",
        esc(&v.request_id),
        esc(&v.status),
        code(&v.request_id),
        match v.status.as_str() {
            "issued" => "ok",
            "denied" | "expired" => "bad",
            _ => "warn",
        },
        esc(&v.status)
    );
    s.push_str("<table class=\"kv\"><tbody>");
    row(&mut s, "requester", &format!("{} (key {})", esc(&doc.requester_name), code(&doc.requester)));
    row(&mut s, "submitted", &esc(&doc.submitted_at));
    if v.status == "pending" {
        row(&mut s, "expires", &esc(&v.expires_at));
    }
    match &doc.target {
        TargetInput::Exec { program, sha256, argv } => {
            row(&mut s, "program", &format!("<code class=\"program\">{}</code>", esc(program)));
            row(
                &mut s,
                "sha256",
                &sha256.as_deref().map_or_else(|| "<span class=\"muted\">(none)</span>".into(), code),
            );
            if argv.is_empty() {
                row(&mut s, "argv", "<span class=\"muted\">(none)</span>");
            }
            for (i, a) in argv.iter().enumerate() {
                row(&mut s, &format!("argv[{i}]"), &format!("<code class=\"arg\">{}</code>", esc(a)));
            }
        }
        TargetInput::Http { method, path } => row(&mut s, "http", &format!("{} {}", code(method), code(path))),
        TargetInput::Tool { name, args, args_sha256, definition_sha256 } => {
            row(&mut s, "tool", &code(name));
            for (k, v) in args {
                row(&mut s, "arg", &format!("{}={}", code(k), code(v)));
            }
            if let Some(d) = args_sha256 {
                row(&mut s, "args sha256", &code(d));
            }
            if let Some(d) = definition_sha256 {
                row(&mut s, "definition", &code(d));
            }
        }
    }
    if doc.env.is_empty() {
        row(&mut s, "env", "<span class=\"muted\">(none)</span>");
    }
    for (k, val) in &doc.env {
        let flag = writ_core::loader::lookup(k)
            .map(|l| {
                format!(
                    " <strong class=\"loader-flag bad\">LOADER/INTERPRETER VARIABLE: read by {}; it can make the program run other code</strong>",
                    esc(l.honoured_by)
                )
            })
            .unwrap_or_default();
        row(&mut s, "env", &format!("<code class=\"env\">{}={}</code>{flag}", esc(k), esc(val)));
    }
    row(&mut s, "cwd", &doc.cwd.as_deref().map_or_else(|| "<span class=\"muted\">(not fixed)</span>".into(), code));
    row(
        &mut s,
        "hosts",
        &doc.hosts.as_ref().map_or_else(
            || "<span class=\"muted\">(any)</span>".into(),
            |h| h.iter().map(|x| code(x)).collect::<Vec<_>>().join(", "),
        ),
    );
    if let Some(e) = &doc.evidence_sha256 {
        row(&mut s, "evidence", &format!("sha256:{} (host facts vouched for by a gate)", code(e)));
    }
    let d = doc.duration_secs;
    row(&mut s, "duration", &format!("{d} s ({}h{:02}m{:02}s)", d / 3600, (d / 60) % 60, d % 60));
    let boundaries = match &doc.boundaries {
        Some(b) => {
            let val = serde_json::to_value(b).unwrap_or_default();
            let parts: Vec<String> =
                val.as_object().map(|m| m.iter().map(|(k, x)| code(&format!("{k}={x}"))).collect()).unwrap_or_default();
            if parts.is_empty() { "<span class=\"muted\">(none asked)</span>".into() } else { parts.join(", ") }
        }
        None => "<span class=\"muted\">(none asked; policy may set them)</span>".into(),
    };
    row(&mut s, "boundaries", &boundaries);
    if let Some(u) = doc.uses {
        row(&mut s, "uses", &u.to_string());
    }
    row(&mut s, "reason", &format!("<span class=\"reason\">{}</span>", esc(&doc.reason)));
    let dec = &v.decision;
    let determining = if dec.determining_policies.is_empty() {
        "none".to_string()
    } else {
        dec.determining_policies.iter().map(|p| code(p)).collect::<Vec<_>>().join(", ")
    };
    let mut policy = format!("<b>{}</b> (determining: {determining})", esc(&dec.outcome));
    for r in &dec.reasons {
        let _ = write!(policy, "<br><span class=\"muted\">{}</span>", esc(r));
    }
    row(&mut s, "policy", &policy);
    let approvals = v.approvals.iter().filter(|a| a.verdict == "approve").count();
    let need = v.approvals_required.max(1);
    row(
        &mut s,
        "obligations",
        &format!(
            "{} approval{} needed{}",
            v.approvals_required,
            if v.approvals_required == 1 { "" } else { "s" },
            v.approver_group.as_deref().map(|g| format!(" from group {}", code(g))).unwrap_or_default()
        ),
    );
    row(
        &mut s,
        "quorum",
        &format!(
            "<progress max=\"{need}\" value=\"{}\" aria-label=\"approvals\"></progress> <span id=\"quorum\">{approvals} of {}</span>",
            approvals.min(need as usize),
            v.approvals_required
        ),
    );
    if let Some(w) = &v.writ_id {
        row(
            &mut s,
            "writ",
            &format!(
                "{} · <a href=\"/proofs?writ={}\">Proof Viewer</a> · <a href=\"/lineage?q={}\">Lineage</a>",
                code(w),
                url(w),
                url(w)
            ),
        );
    }
    row(
        &mut s,
        "digest",
        &format!(
            "sha256:{} (the page checks it against the document; this is what approvers sign)",
            code(&v.request_digest)
        ),
    );
    s.push_str("</tbody></table>");
    s.push_str("<h4>Votes</h4>");
    if v.approvals.is_empty() {
        s.push_str("<p class=\"muted\">No vote yet.</p>");
    } else {
        s.push_str("<ul class=\"votes\">");
        for a in &v.approvals {
            let _ = write!(
                s,
                "<li class=\"vote {}\"><b>{}</b> by {} ({}) at {}{}</li>",
                if a.verdict == "approve" { "ok" } else { "bad" },
                esc(&a.verdict),
                esc(&a.name),
                code(&a.approver),
                esc(&a.time),
                a.reason
                    .as_deref()
                    .map(|r| format!(": “<span class=\"reason\">{}</span>”", esc(r)))
                    .unwrap_or_default()
            );
        }
        s.push_str("</ul>");
    }
    match why_not {
        None => s.push_str("<p class=\"ok\" id=\"may-vote\">You may vote on this request.</p>"),
        Some(w) => {
            let _ = write!(s, "<p class=\"notice\" id=\"why-not\">You may not vote: {}</p>", esc(w));
        }
    }
    let may_revoke = v.writ_id.is_some()
        && (who.has(Role::Approver) || who.has(Role::Issuer) || v.requester == who.key_id.to_string());
    let _ = write!(s, "<div hidden class=\"card-flags\" data-may-revoke=\"{may_revoke}\"></div>");
    s.push_str("</article>");
    s
}
