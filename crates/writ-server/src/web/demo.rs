//! `/demo`: the Runtime Governance Demo, watched live. `writ demo` plays a
//! scripted scenario against this server and reports each step to a
//! [`DemoFeed`] ([`crate::AppState::demo`]); the page shows the whole plan,
//! server-rendered, and `demo.js` polls `/demo/steps.json` to redraw the
//! steps as they happen (without scripts the page refreshes itself). Each
//! step links to its proof in the Proof Viewer, its node in the Lineage
//! Explorer and, while it waits for approvals, to its request in the
//! console.

use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::W;
use super::html::{self, Nav, esc, url};
use super::pages::html_response;

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Not started.
    Pending,
    /// Running now.
    Running,
    /// Waiting for people (approvals).
    Waiting,
    /// Ended with the expected verdict.
    Done,
    /// Ended with another verdict, or could not be played.
    Failed,
}

impl StepState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// One step of the scenario.
#[derive(Debug, Clone, Serialize)]
pub struct DemoStep {
    /// 1-based position.
    pub n: usize,
    /// Short title.
    pub title: String,
    /// What the agent (or the attacker) does, in a sentence.
    pub story: String,
    /// The verdict the step must end with: `allowed`, `ran`,
    /// `stopped: revoked`, or `denied: <code>`.
    pub expect: String,
    /// Where the step is.
    pub state: StepState,
    /// The verdict it ended with.
    pub verdict: Option<String>,
    /// What happened, in words (a denial's message, an outcome).
    pub detail: Option<String>,
    /// The writ involved, when the ledger has its issuance.
    pub writ_id: Option<String>,
    /// The request involved.
    pub request_id: Option<String>,
    /// The ledger entry that records the verdict.
    pub ledger_index: Option<u64>,
    /// Proof Viewer link.
    pub proof_url: Option<String>,
    /// Lineage Explorer link.
    pub lineage_url: Option<String>,
    /// Console link (a request waiting for approvals).
    pub console_url: Option<String>,
}

impl DemoStep {
    /// The links that follow from the step's fields (a link the player set
    /// itself stays when none follows, e.g. an impact view).
    fn links(&mut self) {
        match (&self.writ_id, self.ledger_index) {
            (Some(w), _) => self.proof_url = Some(format!("/proofs?writ={}", url(w))),
            (None, Some(i)) => self.proof_url = Some(format!("/proofs?index={i}")),
            (None, None) => {}
        }
        if let Some(i) = self.ledger_index {
            self.lineage_url = Some(format!("/lineage?focus={i}"));
        }
        self.console_url = match (&self.request_id, self.state) {
            (Some(r), StepState::Waiting | StepState::Running | StepState::Done) => {
                Some(format!("/console/requests/{}", url(r)))
            }
            _ => None,
        };
    }
}

#[derive(Debug, Clone, Serialize)]
struct FeedState {
    title: String,
    /// Bumped on every change (pollers redraw when it moves).
    seq: u64,
    finished: bool,
    /// Every step ended with its expected verdict (once finished).
    ok: Option<bool>,
    /// A line for people: where to sign in, what happens next.
    note: Option<String>,
    steps: Vec<DemoStep>,
}

/// The live state of a scenario, shared by the player and the page.
#[derive(Debug)]
pub struct DemoFeed {
    state: Mutex<FeedState>,
}

impl DemoFeed {
    /// A feed for a scenario of `steps` (title, story, expected verdict),
    /// all pending.
    #[must_use]
    pub fn new(title: &str, steps: &[(&str, &str, &str)]) -> Self {
        let steps = steps
            .iter()
            .enumerate()
            .map(|(i, (t, s, e))| DemoStep {
                n: i + 1,
                title: (*t).to_string(),
                story: (*s).to_string(),
                expect: (*e).to_string(),
                state: StepState::Pending,
                verdict: None,
                detail: None,
                writ_id: None,
                request_id: None,
                ledger_index: None,
                proof_url: None,
                lineage_url: None,
                console_url: None,
            })
            .collect();
        Self {
            state: Mutex::new(FeedState {
                title: title.to_string(),
                seq: 0,
                finished: false,
                ok: None,
                note: None,
                steps,
            }),
        }
    }

    /// Change step `n` (1-based) with `f`; its links follow its fields.
    pub fn update(&self, n: usize, f: impl FnOnce(&mut DemoStep)) {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = g.steps.iter_mut().find(|s| s.n == n) {
            f(s);
            s.links();
        }
        g.seq += 1;
    }

    /// Set the line shown above the steps.
    pub fn note(&self, text: &str) {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        g.note = Some(text.to_string());
        g.seq += 1;
    }

    /// The scenario ended; `ok` when every step had its expected verdict.
    pub fn finish(&self, ok: bool) {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        g.finished = true;
        g.ok = Some(ok);
        g.seq += 1;
    }

    /// A copy of step `n`.
    #[must_use]
    pub fn step(&self, n: usize) -> Option<DemoStep> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).steps.iter().find(|s| s.n == n).cloned()
    }

    fn snapshot(&self) -> FeedState {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// `GET /demo/steps.json`.
pub(crate) async fn steps(State(w): W) -> Response {
    let body = match w.app.demo.get() {
        Some(f) => serde_json::to_value(f.snapshot()).unwrap_or_default(),
        None => {
            serde_json::json!({"error": {"code": "not_found", "message": "no demo runs on this server; start one with `writ demo`"}})
        }
    };
    let status =
        if w.app.demo.get().is_some() { axum::http::StatusCode::OK } else { axum::http::StatusCode::NOT_FOUND };
    (status, [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], axum::Json(body)).into_response()
}

fn step_html(s: &DemoStep) -> String {
    let (mark, label) = match s.state {
        StepState::Pending => ("·", "to come"),
        StepState::Running => ("▶", "running"),
        StepState::Waiting => ("…", "waiting for approvals"),
        StepState::Done => ("✓", "as expected"),
        StepState::Failed => ("✗", "NOT as expected"),
    };
    let mut h = format!(
        "<li class=\"demo-step {st}\" id=\"step-{n}\" data-state=\"{st}\"><div class=\"head\"><span class=\"mark\" aria-hidden=\"true\">{mark}</span>\
         <span class=\"n\">{n}</span><h2>{t}</h2><span class=\"state\">{label}</span></div><p class=\"story\">{story}</p>\
         <p class=\"verdicts\">Expected <b class=\"expect\">{e}</b>",
        st = s.state.as_str(),
        n = s.n,
        t = esc(&s.title),
        story = esc(&s.story),
        e = esc(&s.expect),
    );
    if let Some(v) = &s.verdict {
        let _ = write!(h, " · got <b class=\"verdict\">{}</b>", esc(v));
    }
    h.push_str("</p>");
    if let Some(d) = &s.detail {
        let _ = write!(h, "<p class=\"detail\">{}</p>", esc(d));
    }
    let mut links = Vec::new();
    if let Some(u) = &s.console_url {
        links.push(format!("<a class=\"console-link\" href=\"{}\">Request in the console</a>", esc(u)));
    }
    if let Some(u) = &s.proof_url {
        links.push(format!("<a class=\"proof-link\" href=\"{}\">Proof</a>", esc(u)));
    }
    if let Some(u) = &s.lineage_url {
        links.push(format!("<a class=\"lineage-link\" href=\"{}\">Lineage</a>", esc(u)));
    }
    if !links.is_empty() {
        let _ = write!(h, "<p class=\"links\">{}</p>", links.join(" · "));
    }
    h.push_str("</li>");
    h
}

fn summary(f: &FeedState) -> String {
    let done = f.steps.iter().filter(|s| matches!(s.state, StepState::Done | StepState::Failed)).count();
    match (f.finished, f.ok) {
        (true, Some(true)) => format!("Finished: all {} steps ended as expected.", f.steps.len()),
        (true, _) => "Finished: some steps did NOT end as expected (marked ✗).".into(),
        _ => format!("Playing: {done} of {} steps done.", f.steps.len()),
    }
}

/// `GET /demo`.
pub(crate) async fn page(State(w): W) -> Response {
    let Some(feed) = w.app.demo.get() else {
        let main = "<h1>Runtime Governance Demo</h1><p class=\"notice\">No demo runs on this server. \
                    Start one with <code>writ demo</code>: it starts an authority of its own, serves these pages and plays \
                    an AI agent's day — allowed, approved, refused — here, step by step.</p>";
        return (axum::http::StatusCode::NOT_FOUND, html_response(html::page("Demo", Nav::Demo, main, &[])))
            .into_response();
    };
    let f = feed.snapshot();
    let mut main = format!(
        "<h1>{}</h1><p class=\"lede\">An AI agent asks the authority for writs and runs tools through the gate; \
         every decision is in the transparency log. Watch each step as it happens.</p>",
        esc(&f.title)
    );
    if let Some(n) = &f.note {
        let _ = write!(main, "<p class=\"notice\" id=\"demo-note\">{}</p>", esc(n));
    }
    let cls = match (f.finished, f.ok) {
        (true, Some(true)) => "ok",
        (true, _) => "bad",
        _ => "",
    };
    let _ = write!(
        main,
        "<p class=\"demo-summary {cls}\" id=\"demo-summary\" role=\"status\" aria-live=\"polite\" data-finished=\"{}\">{}</p><ol class=\"demo-steps\" id=\"demo-steps\" data-seq=\"{}\">",
        f.finished,
        esc(&summary(&f)),
        f.seq
    );
    for s in &f.steps {
        main.push_str(&step_html(s));
    }
    main.push_str("</ol>");
    let head = if f.finished { "" } else { "<noscript><meta http-equiv=\"refresh\" content=\"3\"></noscript>\n" };
    html_response(html::page_with_head("Demo", Nav::Demo, head, &main, &["demo.js"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_link_to_their_proof_lineage_and_console() {
        let f = DemoFeed::new("t", &[("a", "b", "allowed"), ("c <x>", "d", "denied: scope_args")]);
        f.update(1, |s| {
            s.state = StepState::Waiting;
            s.request_id = Some("r-1".into());
        });
        f.update(2, |s| {
            s.state = StepState::Done;
            s.ledger_index = Some(7);
        });
        let one = f.step(1).unwrap();
        assert_eq!(one.console_url.as_deref(), Some("/console/requests/r-1"));
        let two = f.step(2).unwrap();
        assert_eq!(two.proof_url.as_deref(), Some("/proofs?index=7"));
        assert_eq!(two.lineage_url.as_deref(), Some("/lineage?focus=7"));
        assert!(step_html(&two).contains("c &lt;x&gt;"));
    }
}
