//! Signed webhooks: `writ serve --webhook URL --webhook-secret-file FILE`
//! posts a Slack-compatible JSON message when a request starts waiting for
//! approvals and on every vote and decision, linking to the console
//! (`<public url>/console/requests/<id>`). Nobody approves in chat: the
//! message only says what happened and where to look.
//!
//! Each POST carries `X-Writ-Event` (`request.pending`, `request.vote`,
//! `request.issued`, `request.denied`) and
//! `X-Writ-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//! Receivers recompute the HMAC over the exact body bytes, compare in
//! constant time and refuse a `t` far from their clock. Delivery is
//! best-effort, off the request path: three attempts (after 0, 1 and 4 s),
//! failures logged.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use writ_api::wire::RequestView;

use crate::AppState;

/// Header naming the event.
pub const EVENT_HEADER: &str = "x-writ-event";
/// Header carrying the timestamp and HMAC.
pub const SIGNATURE_HEADER: &str = "x-writ-signature";

/// One webhook target.
#[derive(Clone)]
pub struct Webhook {
    url: String,
    secret: Arc<[u8]>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("url", &self.url).finish_non_exhaustive()
    }
}

/// The configured webhooks and the console's public base URL.
#[derive(Clone, Debug, Default)]
pub struct Webhooks {
    targets: Vec<Webhook>,
    base_url: String,
}

impl Webhooks {
    /// Webhooks posting to `urls`, each signed with `secret`; links point
    /// under `base_url` (e.g. `https://writ.example.com`).
    ///
    /// # Errors
    /// A message for a URL that is not `http://` or `https://`, or a secret
    /// shorter than 16 bytes.
    pub fn new(urls: &[String], secret: &[u8], base_url: &str) -> Result<Self, String> {
        if !urls.is_empty() && secret.len() < 16 {
            return Err(
                "the webhook secret must be at least 16 bytes; generate one with `head -c 32 /dev/urandom | base64`"
                    .into(),
            );
        }
        for u in urls {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!("webhook URL `{u}` is not http:// or https://"));
            }
        }
        let secret: Arc<[u8]> = Arc::from(secret);
        Ok(Self {
            targets: urls.iter().map(|u| Webhook { url: u.clone(), secret: secret.clone() }).collect(),
            base_url: base_url.trim_end_matches('/').to_string(),
        })
    }
}

/// `X-Writ-Signature` of `body` at `t` with `secret`.
#[must_use]
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length: this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else { return String::new() };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Slack's escaping of `&`, `<`, `>` in message text.
fn slack(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The message of `event` about `v` (Slack-compatible: `text` and
/// `blocks`; writ's own fields under `writ`).
#[must_use]
pub fn payload(event: &str, v: &RequestView, base_url: &str, time: i64) -> serde_json::Value {
    let link = format!("{base_url}/console/requests/{}", v.request_id);
    let approvals = v.approvals.iter().filter(|a| a.verdict == "approve").count();
    let what = match event {
        "request.pending" => format!(
            "waits for {} approval{}{}",
            v.approvals_required,
            if v.approvals_required == 1 { "" } else { "s" },
            v.approver_group.as_deref().map(|g| format!(" from `{}`", slack(g))).unwrap_or_default()
        ),
        "request.vote" => format!("got a vote ({approvals} of {} approvals)", v.approvals_required),
        "request.issued" => format!("was approved; writ `{}` issued", v.writ_id.as_deref().unwrap_or("?")),
        _ => "was denied".to_string(),
    };
    let text = format!(
        "writ: request `{}` by {} {what}: {} — <{link}|open it in the console>",
        slack(&v.request_id),
        slack(&v.requester_name),
        slack(&v.summary),
    );
    serde_json::json!({
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        "writ": {
            "event": event,
            "request_id": v.request_id,
            "status": v.status,
            "requester": v.requester_name,
            "summary": v.summary,
            "approvals": approvals,
            "approvals_required": v.approvals_required,
            "writ_id": v.writ_id,
            "url": link,
            "time": time,
        }
    })
}

fn send(app: &AppState, event: &'static str, v: &RequestView) {
    let Some(hooks) = app.webhooks.get().filter(|h| !h.targets.is_empty()) else { return };
    let t = crate::now().map(|n| n.unix()).unwrap_or_default();
    let body = payload(event, v, &hooks.base_url, t).to_string();
    for target in hooks.targets.clone() {
        let body = body.clone();
        tokio::task::spawn_blocking(move || deliver(&target, event, t, &body));
    }
}

fn deliver(target: &Webhook, event: &str, t: i64, body: &str) {
    let sig = signature(&target.secret, t, body.as_bytes());
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
    let mut last = String::new();
    for wait in [0, 1, 4] {
        std::thread::sleep(Duration::from_secs(wait));
        match agent
            .post(&target.url)
            .header("content-type", "application/json")
            .header(EVENT_HEADER, event)
            .header(SIGNATURE_HEADER, &sig)
            .send(body)
        {
            Ok(_) => return,
            Err(e) => last = e.to_string(),
        }
    }
    eprintln!("writ-server: webhook {}: {event} not delivered after 3 attempts: {last}", target.url);
}

/// After a request was filed: `request.pending` when it waits for approvals.
pub(crate) fn after_submit(app: &AppState, v: &RequestView) {
    if v.status == "pending" {
        send(app, "request.pending", v);
    }
}

/// After a vote: `request.issued` or `request.denied` when it decided the
/// request, else `request.vote`.
pub(crate) fn after_vote(app: &AppState, v: &RequestView) {
    let event = match v.status.as_str() {
        "issued" => "request.issued",
        "denied" => "request.denied",
        _ => "request.vote",
    };
    send(app, event, v);
}
