//! `writ status`: a writ's state: `valid`, or `expired`, `spent`, `revoked`
//! (exit 77 for those three).

use std::path::PathBuf;
use std::process::ExitCode;

use writ_api::wire::WritView;

use crate::config::{ConnArgs, api, finish, visible};
use crate::exit;

/// Show a writ's state; exit 0 valid, 77 expired, spent or revoked.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The writ file instead of its id (its claimed id is read, nothing trusted).
    #[arg(long, value_name = "FILE", conflicts_with = "writ_id")]
    pub writ: Option<PathBuf>,
    /// The writ id.
    #[arg(required_unless_present = "writ")]
    pub writ_id: Option<String>,
}

/// The state a person needs: revoked beats spent beats expired beats valid.
pub fn state(v: &WritView, now: writ_core::Timestamp) -> &'static str {
    if v.state == "revoked" {
        return "revoked";
    }
    if v.uses.is_some_and(|u| v.used >= u) {
        return "spent";
    }
    match writ_core::Timestamp::parse(&v.not_after) {
        Ok(t) if t.unix() <= now.unix() => "expired",
        Ok(_) => "valid",
        // An end of validity we cannot read is not `valid`.
        Err(_) => "expired",
    }
}

pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let json = args.conn.json;
    finish(
        json,
        (|| {
            let id = crate::cmd::revoke::writ_id(args.writ.as_deref(), args.writ_id.as_deref())?;
            let conn = args.conn.open(false)?;
            let v = conn.api.writ(&id).map_err(api)?;
            let st = state(&v, crate::files::now()?);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"writ_id": v.writ_id, "request_id": v.request_id, "state": st, "uses": v.uses,
                    "used": v.used, "not_after": v.not_after, "revoked_at": v.revoked_at, "reason": v.reason})
                );
            } else {
                println!("{st}");
                eprintln!(
                    "writ {} (request {}): {st}, valid until {}, uses {}/{}{}",
                    visible(&v.writ_id),
                    visible(&v.request_id),
                    v.not_after,
                    v.used,
                    v.uses.map_or_else(|| "unlimited".to_string(), |u| u.to_string()),
                    v.reason.as_deref().map(|r| format!(", revoked: {}", visible(r))).unwrap_or_default()
                );
            }
            Ok(if st == "valid" { ExitCode::SUCCESS } else { exit::denied() })
        })(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn view(state: &str, uses: Option<u32>, used: u32, not_after: &str) -> WritView {
        serde_json::from_value(serde_json::json!({
            "writ_id": "w", "request_id": "r", "state": state, "uses": uses, "used": used, "not_after": not_after,
            "revoked_at": null, "reason": null, "writ": "", "receipt": ""
        }))
        .unwrap()
    }

    #[test]
    fn expired_and_spent_are_not_valid() {
        // Regression: an expired, spent writ was reported `valid` with exit 0.
        let now = writ_core::Timestamp::parse("2026-06-01T00:00:00Z").unwrap();
        assert_eq!(state(&view("valid", None, 0, "2026-06-01T00:05:00Z"), now), "valid");
        assert_eq!(state(&view("valid", None, 0, "2026-06-01T00:00:00Z"), now), "expired");
        assert_eq!(state(&view("valid", Some(1), 1, "2026-06-01T00:05:00Z"), now), "spent");
        assert_eq!(state(&view("valid", Some(1), 1, "2026-05-01T00:00:00Z"), now), "spent");
        assert_eq!(state(&view("revoked", Some(1), 1, "2026-05-01T00:00:00Z"), now), "revoked");
        assert_eq!(state(&view("valid", Some(3), 2, "not a time"), now), "expired");
    }
}
