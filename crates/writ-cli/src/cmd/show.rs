//! `writ show REQUEST`: the whole request document, decoded and checked
//! against its digest, as an approver must see it before signing. Also the
//! renderer of `writ pending --long` and `writ approve`.
//!
//! Every string from the request is rendered with control characters,
//! escapes and newlines visibly escaped (`crate::config::visible`), so no
//! field can forge a line of the listing.

use std::fmt::Write as _;
use std::process::ExitCode;

use writ_api::wire::{RequestDocument, RequestView, TargetInput};

use crate::config::{ConnArgs, api, finish, visible};

/// Show one request in full: program and digest, argv, env (loader and
/// interpreter variables flagged), cwd, hosts, duration, boundaries, the
/// policy decision and the votes so far.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The request id (from `writ pending`).
    pub request_id: String,
}

fn q(s: &str) -> String {
    format!("\"{}\"", visible(s).replace('"', "\\\""))
}

/// The text rendering of a request and its checked document.
pub fn render(view: &RequestView, doc: &RequestDocument) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "request {}  ({})", visible(&view.request_id), visible(&view.status));
    let _ = writeln!(o, "  requester    {} (key {})", visible(&doc.requester_name), visible(&doc.requester));
    let _ = writeln!(o, "  submitted    {}", visible(&doc.submitted_at));
    if view.status == "pending" {
        let _ = writeln!(o, "  expires      {}", visible(&view.expires_at));
    }
    match &doc.target {
        TargetInput::Exec { program, sha256, argv } => {
            let _ = writeln!(o, "  program      {}", q(program));
            let _ = writeln!(o, "  sha256       {}", sha256.as_deref().map_or_else(|| "(none)".to_string(), visible));
            for (i, a) in argv.iter().enumerate() {
                let _ =
                    writeln!(o, "  argv[{i}]{:pad$} {}", "", q(a), pad = 6usize.saturating_sub(i.to_string().len()));
            }
        }
        TargetInput::Http { method, path } => {
            let _ = writeln!(o, "  http         {} {}", q(method), q(path));
        }
        TargetInput::Tool { name, args, args_sha256, definition_sha256 } => {
            let _ = writeln!(o, "  tool         {}", q(name));
            for (k, v) in args {
                let _ = writeln!(o, "  arg          {}={}", visible(k), q(v));
            }
            if let Some(d) = args_sha256 {
                let _ = writeln!(o, "  args sha256  {} (the whole argument object)", visible(d));
            }
            if let Some(d) = definition_sha256 {
                let _ = writeln!(o, "  definition   sha256:{} (the tool as its server announced it)", visible(d));
            }
        }
    }
    if doc.env.is_empty() {
        let _ = writeln!(o, "  env          (none)");
    }
    for (k, v) in &doc.env {
        let flag = match writ_core::loader::lookup(k) {
            Some(l) => format!(
                "   <-- LOADER/INTERPRETER VARIABLE: read by {}; it can make the program run other code",
                l.honoured_by
            ),
            None => String::new(),
        };
        let _ = writeln!(o, "  env          {}={}{flag}", visible(k), q(v));
    }
    let _ = writeln!(o, "  cwd          {}", doc.cwd.as_deref().map_or_else(|| "(not fixed)".to_string(), q));
    let _ = writeln!(
        o,
        "  hosts        {}",
        doc.hosts
            .as_ref()
            .map_or_else(|| "(any)".to_string(), |h| h.iter().map(|x| q(x)).collect::<Vec<_>>().join(", "))
    );
    if let Some(e) = &doc.evidence_sha256 {
        let _ = writeln!(o, "  evidence     sha256:{} (host facts and labels vouched for by a gate)", visible(e));
    }
    let d = doc.duration_secs;
    let _ = writeln!(o, "  duration     {d} s ({}h{:02}m{:02}s)", d / 3600, (d / 60) % 60, d % 60);
    match &doc.boundaries {
        Some(b) => {
            let v = serde_json::to_value(b).unwrap_or_default();
            let parts: Vec<String> = v
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={}", visible(&v.to_string()))).collect())
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "  boundaries   {}",
                if parts.is_empty() { "(none asked)".into() } else { parts.join(", ") }
            );
        }
        None => {
            let _ = writeln!(o, "  boundaries   (none asked; policy may set them)");
        }
    }
    if let Some(u) = doc.uses {
        let _ = writeln!(o, "  uses         {u}");
    }
    let _ = writeln!(o, "  reason       {}", q(&doc.reason));
    let dec = &view.decision;
    let _ = writeln!(
        o,
        "  policy       {} (determining: {})",
        visible(&dec.outcome),
        if dec.determining_policies.is_empty() {
            "none".to_string()
        } else {
            dec.determining_policies.iter().map(|p| visible(p)).collect::<Vec<_>>().join(", ")
        }
    );
    for r in &dec.reasons {
        let _ = writeln!(o, "               {}", visible(r));
    }
    let _ = writeln!(
        o,
        "  approvals    {} needed{}, {} so far",
        view.approvals_required,
        view.approver_group.as_deref().map(|g| format!(" from group `{}`", visible(g))).unwrap_or_default(),
        view.approvals.iter().filter(|a| a.verdict == "approve").count()
    );
    for v in &view.approvals {
        let _ = writeln!(
            o,
            "  vote         {} by {} ({}) at {}",
            visible(&v.verdict),
            visible(&v.name),
            visible(&v.approver),
            visible(&v.time)
        );
        if let Some(r) = &v.reason {
            let _ = writeln!(o, "               because {}", q(r));
        }
    }
    if let Some(w) = &view.writ_id {
        let _ = writeln!(o, "  writ         {}", visible(w));
    }
    let _ = writeln!(
        o,
        "  digest       sha256:{} (checked against the document; this is what approvers sign)",
        visible(&view.request_digest)
    );
    o
}

/// The `--json` shape of `writ show`: the request view (without `document`,
/// `writ`, `receipt`) plus the decoded `request` document and the names of
/// its loader variables.
pub fn show_json(view: &RequestView, doc: &RequestDocument) -> serde_json::Value {
    let mut v = crate::cmd::request::view_json(view, None);
    if let Some(o) = v.as_object_mut() {
        o.remove("writ_file");
        o.remove("receipt_file");
        o.insert("request".into(), serde_json::to_value(doc).unwrap_or_default());
        let loader: Vec<&String> = doc.env.keys().filter(|k| writ_core::loader::is_loader_variable(k)).collect();
        o.insert("loader_variables".into(), serde_json::to_value(loader).unwrap_or_default());
    }
    v
}

pub fn run(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let json = args.conn.json;
    finish(
        json,
        (|| {
            let conn = args.conn.open(false)?;
            let view = conn.api.request(&args.request_id).map_err(api)?;
            let (doc, _) = writ_api::approval::document(&view).map_err(api)?;
            if json {
                println!("{}", show_json(&view, &doc));
            } else {
                print!("{}", render(&view, &doc));
            }
            Ok(ExitCode::SUCCESS)
        })(),
    )
}
