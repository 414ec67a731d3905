//! `/health`: the Infrastructure Health Dashboard. Public, server-rendered,
//! charts drawn here as inline SVG, refreshed by the browser itself
//! (`<meta http-equiv="refresh">`), no script. It draws one
//! [`crate::metrics::Snapshot`], the same one `/metrics` renders, and marks
//! each figure with the Prometheus series it shows (`data-metric`,
//! `data-labels`), so a reader (or a test) can check one against the other.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use serde::Deserialize;

use super::html::{self, Nav, esc};
use super::pages::html_response;
use super::{PageError, W, WebError};
use crate::metrics::{BUCKETS, HistogramView, QUANTILES, Snapshot};

/// Default seconds between two refreshes of the page.
pub const DEFAULT_REFRESH: u32 = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HealthQuery {
    /// Seconds between refreshes, 0 for none (2 to 3600).
    refresh: Option<u32>,
}

pub(crate) async fn health(
    State(w): W,
    qr: Result<Query<HealthQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::response::Response, PageError> {
    let Query(q) = qr.map_err(|e| PageError::from(WebError::bad(e.body_text())))?;
    let refresh = q.refresh.unwrap_or(DEFAULT_REFRESH);
    if refresh != 0 && !(2..=3600).contains(&refresh) {
        return Err(WebError::bad("`refresh` is 0 (no refresh) or 2 to 3600 seconds").into());
    }
    let now = wall_clock();
    let app = w.app.clone();
    let snap = tokio::task::spawn_blocking(move || crate::metrics::snapshot(&app, now))
        .await
        .map_err(WebError::internal)?
        .map_err(WebError::internal)?;
    let head =
        if refresh > 0 { format!("<meta http-equiv=\"refresh\" content=\"{refresh}\">\n") } else { String::new() };
    Ok(html_response(html::page_with_head("Health", Nav::Health, &head, &render(&snap, refresh), &[])))
}

/// The wall clock as a [`writ_core::Timestamp`].
fn wall_clock() -> writ_core::Timestamp {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    writ_core::Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// A number with the series it is: `<span data-metric=… data-value=…>`,
/// showing the value itself.
fn fig(metric: &str, labels: &str, value: &str) -> String {
    fig_as(metric, labels, value, value)
}

/// A figure shown for people as `shown` (e.g. `16.4 ms`), with its exact
/// value (as `/metrics` has it) in `data-value`.
fn fig_as(metric: &str, labels: &str, value: &str, shown: &str) -> String {
    let labels = if labels.is_empty() { String::new() } else { format!(" data-labels=\"{}\"", esc(labels)) };
    format!(
        "<span class=\"num\" data-metric=\"{}\"{labels} data-value=\"{}\">{}</span>",
        esc(metric),
        esc(value),
        esc(shown)
    )
}

fn secs(v: f64) -> String {
    if v < 1.0 { format!("{:.1} ms", v * 1000.0) } else { format!("{v:.2} s") }
}

fn age(v: f64) -> String {
    let s = v.round() as u64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}

fn tile(title: &str, body: &str, extra_class: &str) -> String {
    format!("<section class=\"tile{extra_class}\"><h2>{}</h2>{body}</section>", esc(title))
}

/// Quantiles of a histogram, each marked with its series.
fn quantile_list(metric: &str, h: &HistogramView) -> String {
    if h.count == 0 {
        return "<p class=\"hint\">no observations yet</p>".into();
    }
    let mut s = String::from("<dl class=\"facts\">");
    for q in QUANTILES {
        if let Some(v) = h.quantile(q) {
            let _ = write!(
                s,
                "<dt>p{}</dt><dd>{}</dd>",
                (q * 100.0).round(),
                fig_as(metric, &format!("quantile={q}"), &format!("{v}"), &secs(v)),
            );
        }
    }
    s.push_str("</dl>");
    s
}

/// Horizontal bars, one per `(label, value)`, with the value as text (the
/// colour is never the only carrier of the figure).
fn bars(title: &str, metric: &str, key: &str, items: &[(String, u64)], class: &str) -> String {
    if items.is_empty() {
        return format!(
            "<figure class=\"chart\"><figcaption>{}</figcaption><p class=\"hint\">none recorded</p></figure>",
            esc(title)
        );
    }
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(1).max(1);
    let (row, label_w, bar_w) = (24_usize, 190_usize, 300_usize);
    let h = items.len() * row + 8;
    let mut s = format!(
        "<figure class=\"chart\"><figcaption>{}</figcaption><svg class=\"bars {class}\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title),
        w = label_w + bar_w + 60,
    );
    for (i, (k, v)) in items.iter().enumerate() {
        let y = i * row + 4;
        let len = (*v as f64 / max as f64 * bar_w as f64).round().max(2.0);
        let _ = write!(
            s,
            "<text class=\"l\" x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{k}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{len}\" height=\"{bh}\" rx=\"3\"></rect>\
             <text class=\"v\" x=\"{vx}\" y=\"{ty}\">{v}</text>",
            lx = label_w - 8,
            ty = y + 15,
            k = esc(k),
            bh = row - 6,
            vx = label_w as f64 + len + 6.0,
        );
    }
    s.push_str("</svg><ul class=\"sr\">");
    for (k, v) in items {
        let _ = write!(s, "<li>{}: {}</li>", esc(k), fig(metric, &format!("{key}={k}"), &v.to_string()));
    }
    s.push_str("</ul></figure>");
    s
}

/// A histogram's buckets as vertical bars.
fn histogram(title: &str, h: &HistogramView) -> String {
    if h.count == 0 {
        return format!(
            "<figure class=\"chart\"><figcaption>{}</figcaption><p class=\"hint\">no observations yet</p></figure>",
            esc(title)
        );
    }
    let per = h.per_bucket();
    let max = per.iter().copied().max().unwrap_or(1).max(1);
    let (col, top, plot) = (54_usize, 16_usize, 110_usize);
    let w = per.len() * col + 10;
    let mut s = format!(
        "<figure class=\"chart\"><figcaption>{}</figcaption><svg class=\"hist\" viewBox=\"0 0 {w} {hh}\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title),
        hh = top + plot + 22
    );
    for (i, n) in per.iter().enumerate() {
        let bh = (*n as f64 / max as f64 * plot as f64).round();
        let x = i * col + 8;
        let label = match BUCKETS.get(i) {
            Some(b) if *b < 1.0 => format!("≤{}ms", b * 1000.0),
            Some(b) => format!("≤{b}s"),
            None => ">1s".into(),
        };
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{bw}\" height=\"{bh}\" rx=\"2\"></rect>\
             <text class=\"v\" x=\"{cx}\" y=\"{vy}\" text-anchor=\"middle\">{n}</text>\
             <text class=\"l\" x=\"{cx}\" y=\"{ly}\" text-anchor=\"middle\">{label}</text>",
            y = top as f64 + plot as f64 - bh,
            bw = col - 8,
            cx = x + (col - 8) / 2,
            vy = (top as f64 + plot as f64 - bh - 3.0).max(11.0),
            ly = top + plot + 16,
            label = esc(&label),
        );
    }
    s.push_str("</svg></figure>");
    s
}

/// A line over the history (`points`: Unix seconds, value).
fn line(title: &str, points: &[(i64, f64)]) -> String {
    if points.len() < 2 {
        return format!(
            "<figure class=\"chart\"><figcaption>{}</figcaption><p class=\"hint\">collecting: a point every {} s</p></figure>",
            esc(title),
            crate::BACKGROUND_INTERVAL.as_secs()
        );
    }
    let (w, h, pad) = (560.0_f64, 130.0_f64, 28.0_f64);
    let (t0, t1) = (points.first().map_or(0, |p| p.0), points.last().map_or(1, |p| p.0));
    let span = (t1 - t0).max(1) as f64;
    let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let range = (hi - lo).max(1.0);
    let xy = |(t, v): (i64, f64)| {
        (pad + (t - t0) as f64 / span * (w - 2.0 * pad), h - pad / 2.0 - (v - lo) / range * (h - pad * 1.5))
    };
    let pts: Vec<String> = points.iter().map(|p| xy(*p)).map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    format!(
        "<figure class=\"chart\"><figcaption>{t}</figcaption><svg class=\"line\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-label=\"{t}: from {lo} to {hi} over {m} min\">\
         <line class=\"axis\" x1=\"{pad}\" y1=\"{base}\" x2=\"{right}\" y2=\"{base}\"></line>\
         <polyline points=\"{p}\"></polyline>\
         <text class=\"l\" x=\"2\" y=\"14\">{hi}</text>{lo_label}\
         <text class=\"l\" x=\"{right}\" y=\"{h}\" text-anchor=\"end\">now</text>\
         <text class=\"l\" x=\"{pad}\" y=\"{h}\">−{m} min</text></svg></figure>",
        t = esc(title),
        p = pts.join(" "),
        base = h - pad / 2.0,
        right = w - pad,
        m = ((t1 - t0) as f64 / 60.0).ceil(),
        lo_label = if hi > lo {
            format!("<text class=\"l\" x=\"2\" y=\"{}\">{lo}</text>", h - pad / 2.0)
        } else {
            String::new()
        },
    )
}

fn sorted(m: &std::collections::BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = m.iter().map(|(k, n)| (k.clone(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn selfcheck_panel(s: &Snapshot) -> String {
    let sc = &s.selfcheck;
    let failures = sc.total_failures();
    let runs: u64 = sc.runs.values().sum();
    let (class, mark, headline) = match (failures, runs) {
        (0, 0) => (" warn", "…", "Self-verification has not run yet".to_string()),
        (0, _) => (" ok", "✓", "Self-verification: 0 failures".to_string()),
        (n, _) => (" bad", "✗", format!("Self-verification: {n} FAILURES")),
    };
    let mut b = format!(
        "<section class=\"selfcheck{class}\" id=\"selfcheck\" aria-live=\"polite\"><h2><span class=\"mark\" aria-hidden=\"true\">{mark}</span> {headline}</h2>\
         <p>Every {} s this server re-verifies its newest checkpoint's signature against the ledger keys of the trust root, \
         the inclusion proofs of its newest entry and of one more entry that walks the whole tree, and the consistency of the \
         newest checkpoint with the one it verified before, with writ-tlog — as an outside verifier would. Failures must stay at 0.</p>\
         <table class=\"entries\"><thead><tr><th scope=\"col\">Check</th><th scope=\"col\">Made</th><th scope=\"col\">Failed</th></tr></thead><tbody>",
        crate::BACKGROUND_INTERVAL.as_secs()
    );
    for c in ["checkpoint", "inclusion", "consistency"] {
        let f = sc.failures.get(c).copied().unwrap_or(0);
        let _ = write!(
            b,
            "<tr><td>{c}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            fig("writ_selfcheck_runs_total", &format!("check={c}"), &sc.runs.get(c).copied().unwrap_or(0).to_string()),
            if f == 0 { "ok" } else { "bad" },
            fig("writ_selfcheck_failures_total", &format!("check={c}"), &f.to_string()),
        );
    }
    b.push_str("</tbody></table><p class=\"hint\">");
    match (sc.last_run, sc.verified_size) {
        (Some(t), Some(n)) => {
            let _ = write!(b, "Last round {} · newest checkpoint verified: size {n}", esc(&t.to_rfc3339()));
        }
        (Some(t), None) => {
            let _ = write!(b, "Last round {}", esc(&t.to_rfc3339()));
        }
        _ => b.push_str("The first round runs within seconds of the server's start."),
    }
    b.push_str("</p>");
    if let Some((t, c, why)) = &sc.last_failure {
        let _ = write!(
            b,
            "<p class=\"notice bad\" id=\"selfcheck-failure\">Last failure ({}, {}): {}</p>",
            esc(c),
            esc(&t.to_rfc3339()),
            esc(why)
        );
    }
    b.push_str("</section>");
    b
}

/// The alert on writs presented to gates that the ledger never issued.
fn unissued_panel(s: &Snapshot) -> String {
    let n = s.ledger.unissued_presented;
    let count = fig("writ_unissued_writs_presented_total", "", &n.to_string());
    let Some((i, w, host)) = &s.ledger.last_unissued else {
        return format!(
            "<section class=\"alert-panel ok\" id=\"unissued\"><h2>Unissued writs presented: {count}</h2>\
             <p class=\"hint\">No gate has denied a writ the ledger never issued.</p></section>"
        );
    };
    format!(
        "<section class=\"alert-panel bad\" id=\"unissued\" role=\"alert\"><h2>Unissued writs presented: {count}</h2>\
         <p>A gate{} denied writ <code>{}</code>, which the ledger never issued: someone holds a writ with no issuance \
         (forged, or signed with a stolen issuer key). Check and rotate the issuer keys.</p>\
         <p>Newest: <a class=\"proof-link\" href=\"/proofs?index={i}\">ledger entry {i}</a> · \
         <a class=\"lineage-link\" href=\"/lineage?focus={i}\">Lineage</a> · audit finding <code>unissued_writ_presented</code></p></section>",
        host.as_deref().map(|h| format!(" on <code>{}</code>", esc(h))).unwrap_or_default(),
        esc(w),
    )
}

fn render(s: &Snapshot, refresh: u32) -> String {
    let mut m = String::with_capacity(16 * 1024);
    let _ = write!(
        m,
        "<h1>Infrastructure health</h1><p class=\"lede\">The figures of <a href=\"/metrics\"><code>/metrics</code></a>, drawn for people: \
         log <code>{}</code> at {}. {}</p>",
        esc(&s.origin),
        esc(&s.at.to_rfc3339()),
        if refresh > 0 {
            format!("This page refreshes every {refresh} s (<a href=\"/health?refresh=0\">stop</a>).")
        } else {
            "Refresh is off (<a href=\"/health\">turn it on</a>).".into()
        }
    );
    m.push_str(&selfcheck_panel(s));
    m.push_str(&unissued_panel(s));
    m.push_str("<div class=\"tiles\">");
    m.push_str(&tile(
        "Log",
        &format!(
            "<dl class=\"facts\"><dt>Tree size</dt><dd>{}</dd><dt>Checkpoint age</dt><dd>{}</dd>\
             <dt>Root</dt><dd><code>{}…</code></dd></dl>",
            fig("writ_ledger_size", "", &s.ledger_size.to_string()),
            fig_as("writ_checkpoint_age_seconds", "", &format!("{}", s.checkpoint_age), &age(s.checkpoint_age)),
            esc(s.checkpoint_root.get(..16).unwrap_or(&s.checkpoint_root)),
        ),
        "",
    ));
    m.push_str(&tile(
        "Integration",
        &format!(
            "<p>Backlog: {} append jobs in the sequencer queue</p><p class=\"hint\">{} appends covered by a signed checkpoint; latency from entering the sequencer queue to the covering checkpoint</p>{}",
            fig("writ_integration_backlog", "", &s.backlog.to_string()),
            fig("writ_integration_seconds_count", "", &s.integration.count.to_string()),
            quantile_list("writ_integration_quantile_seconds", &s.integration),
        ),
        "",
    ));
    m.push_str(&tile(
        "Issuance",
        &format!(
            "<p>{} per minute <span class=\"hint\">(ledger, last {} min)</span></p><p class=\"hint\">{} writs issued at once on request here</p>{}",
            fig_as(
                "writ_issuance_rate_per_minute",
                "",
                &format!("{}", s.ledger.issuance_rate_per_minute()),
                &format!("{:.1}", s.ledger.issuance_rate_per_minute())
            ),
            crate::metrics::RATE_WINDOW_SECS / 60,
            fig("writ_issued_total", "", &s.issuance.count.to_string()),
            quantile_list("writ_issuance_quantile_seconds", &s.issuance),
        ),
        "",
    ));
    let expires = match s.trust.expires_in {
        Some(left) if left < 0 => format!("<dt>Expires</dt><dd class=\"bad\">expired {} ago</dd>", age(-left as f64)),
        Some(left) => format!(
            "<dt>Expires in</dt><dd>{}</dd>",
            fig_as("writ_trust_expires_seconds", "", &left.to_string(), &age(left as f64))
        ),
        None => String::new(),
    };
    m.push_str(&tile(
        "Trust root and policy",
        &format!(
            "<dl class=\"facts\"><dt>Trust root</dt><dd>version {}{}</dd>{}{expires}<dt>Signed</dt><dd>{}</dd><dt>Refused on disk</dt><dd>{}</dd>\
             <dt>Policy set</dt><dd><code data-metric=\"writ_policy_info\" data-labels=\"digest={}\">{}…</code></dd>\
             <dt>Policy versions</dt><dd>{} recorded</dd></dl>",
            fig("writ_trust_version", "", &s.trust.version.to_string()),
            if s.trust.version == 0 { " (unsigned)" } else { "" },
            s.trust_digest
                .as_deref()
                .map(|d| format!("<dt>Digest</dt><dd><code>{}…</code></dd>", esc(d.get(..12).unwrap_or(d))))
                .unwrap_or_default(),
            fig("writ_trust_signed", "", &u8::from(s.trust.signed).to_string()),
            fig("writ_trust_refused", "", &u8::from(s.trust.refused).to_string()),
            esc(&s.policy_digest),
            esc(s.policy_digest.get(..12).unwrap_or(&s.policy_digest)),
            fig("writ_policy_changes_total", "", &s.ledger.policy_changes().to_string()),
        ),
        "",
    ));
    m.push_str(&tile(
        "Replicas and sequencer",
        &format!(
            "<dl class=\"facts\"><dt>Backend</dt><dd><code data-metric=\"writ_sequencer_info\" data-labels=\"backend={b}\">{b}</code></dd>{}\
             </dl><p class=\"hint\">{}</p>",
            s.sequencer.replicas.map(|n| format!("<dt>Replicas</dt><dd>{}</dd>", fig("writ_replicas", "", &n.to_string()))).unwrap_or_default(),
            esc(&s.sequencer.detail),
            b = esc(s.sequencer.backend),
        ),
        "",
    ));
    m.push_str("</div><div class=\"charts\">");
    let size: Vec<(i64, f64)> = s.series.iter().map(|p| (p.at, p.ledger_size as f64)).collect();
    m.push_str(&line("Tree size over time", &size));
    let backlog: Vec<(i64, f64)> = s.series.iter().map(|p| (p.at, p.backlog as f64)).collect();
    m.push_str(&line("Backlog over time", &backlog));
    m.push_str(&histogram("Issuance latency (request → writ)", &s.issuance));
    m.push_str(&histogram("Integration latency (sequencer queue → covering signed checkpoint)", &s.integration));
    m.push_str(&bars(
        "Denials recorded in the ledger, by code",
        "writ_denials_total",
        "code",
        &sorted(&s.ledger.denials),
        "bad",
    ));
    m.push_str(&bars("Gate records, by gate", "writ_gate_records_total", "gate", &sorted(&s.ledger.gate_records), ""));
    m.push_str(&bars("API refusals, by code", "writ_api_refusals_total", "code", &sorted(&s.refusals), "warn"));
    m.push_str(&bars("Ledger entries, by kind", "writ_ledger_entries_total", "kind", &sorted(&s.ledger.by_kind), ""));
    m.push_str("</div>");
    let _ = write!(
        m,
        "<p class=\"hint\">Policy decisions that denied (ledger): {}. Served by this process; other replicas keep their own counters for what they served, \
         the ledger-wide figures (denials, gate records, entries, issuance rate) are the same on every replica.</p>",
        fig("writ_policy_denials_total", "", &s.ledger.policy_denied.to_string())
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_values_are_escaped_in_charts() {
        let items = vec![("<script>x</script>".to_string(), 3)];
        let svg = bars("t", "writ_denials_total", "code", &items, "");
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("data-labels=\"code=&lt;script&gt;x&lt;/script&gt;\""));
    }
}
