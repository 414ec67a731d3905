//! `writ sign`: the low-level signer an authority uses.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use writ_core::model::Predicate;

use crate::files;

/// Sign a writ predicate into a DSSE envelope (prints it, or writes --out).
///
/// Fills what the signer knows: `issuer` (the key), `id` (a new UUIDv7) and
/// `issued_at` (now) when absent, `validity` (now .. now + --ttl) when absent,
/// each exec action's `sha256` from the matching --subject file, and each
/// `file` argument rule's `sha256` from the matching --arg-file.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The issuer's private key.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The predicate (JSON, see docs/format.md and docs/examples/).
    #[arg(long, value_name = "FILE")]
    pub predicate: PathBuf,
    /// Program files the writ names: each is hashed and must be the `program` of an exec action.
    #[arg(long = "subject", value_name = "PATH")]
    pub subjects: Vec<PathBuf>,
    /// Files the writ binds as arguments (absolute paths): each is hashed into
    /// the `{"file": {"path": PATH}}` argument rules naming exactly this path.
    #[arg(long = "arg-file", value_name = "PATH")]
    pub arg_files: Vec<PathBuf>,
    /// Validity when the predicate has none, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl: i64,
    /// Write the envelope here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: SignArgs) -> anyhow::Result<ExitCode> {
    let key = files::read_private_key(&args.key)?;
    let text = files::read_bounded(&args.predicate, writ_core::limits::MAX_PAYLOAD_BYTES)?;
    let mut v: Value =
        serde_json::from_slice(&text).with_context(|| format!("`{}` is not JSON", args.predicate.display()))?;
    let obj = v.as_object_mut().context("the predicate must be a JSON object")?;
    let now = files::now()?;
    let issuer = key.key_id().to_string();
    match obj.get("issuer").and_then(Value::as_str) {
        Some(i) if i != issuer => bail!("the predicate names issuer {i} but --key is {issuer}"),
        _ => {
            obj.insert("issuer".into(), json!(issuer));
        }
    }
    obj.entry("id").or_insert_with(|| json!(files::new_id()));
    let issued_at = match obj.get("issued_at").and_then(Value::as_str) {
        Some(t) => writ_core::Timestamp::parse(t).map_err(|e| anyhow::anyhow!("issued_at: {e}"))?,
        None => {
            obj.insert("issued_at".into(), json!(now.to_rfc3339()));
            now
        }
    };
    obj.entry("validity").or_insert_with(
        || json!({"not_before": issued_at.to_rfc3339(), "not_after": issued_at.plus(args.ttl).to_rfc3339()}),
    );
    fill_subject_digests(obj, &args.subjects)?;
    fill_file_digests(obj, &args.arg_files)?;
    let predicate: Predicate = serde_json::from_value(v)
        .with_context(|| format!("`{}` is not a valid writ predicate", args.predicate.display()))?;
    let statement = writ_core::issue::statement(predicate);
    let envelope = writ_core::issue::sign(&statement, &key).map_err(|e| anyhow::anyhow!("cannot sign: {e}"))?;
    match &args.out {
        Some(path) => files::write_atomic(path, &envelope)?,
        None => println!("{}", String::from_utf8_lossy(&envelope)),
    }
    eprintln!("signed writ {} by {issuer}", statement.predicate.id);
    let p = &statement.predicate;
    let life = p.validity.not_after.unix().saturating_sub(p.validity.not_before.unix());
    if p.scope.offline && life > i64::try_from(writ_core::trust::DEFAULT_MAX_OFFLINE_LIFETIME_SECS).unwrap_or(i64::MAX)
    {
        eprintln!(
            "note: the writ allows offline runs but lives {life} s; gates run it offline only if the trust root's \
             `max_offline_lifetime_secs` (default {} s) allows that",
            writ_core::trust::DEFAULT_MAX_OFFLINE_LIFETIME_SECS
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn fill_subject_digests(obj: &mut serde_json::Map<String, Value>, subjects: &[PathBuf]) -> anyhow::Result<()> {
    let actions = obj
        .get_mut("scope")
        .and_then(|s| s.get_mut("actions"))
        .and_then(Value::as_array_mut)
        .context("the predicate needs `scope.actions`")?;
    for subject in subjects {
        let path = std::fs::canonicalize(subject)
            .with_context(|| format!("subject `{}` does not exist", subject.display()))?;
        let path_str = path.to_str().context("subject path is not UTF-8")?;
        let digest = files::hash_file(&path)?.to_string();
        let mut found = false;
        for a in actions.iter_mut() {
            let Some(exec) = a.get_mut("exec").and_then(Value::as_object_mut) else { continue };
            if exec.get("program").and_then(Value::as_str) != Some(path_str) {
                continue;
            }
            found = true;
            match exec.get("sha256").and_then(Value::as_str) {
                Some(d) if d != digest => {
                    bail!("`{path_str}` has sha256 {digest} but the predicate says {d}")
                }
                _ => {
                    exec.insert("sha256".into(), json!(digest));
                }
            }
        }
        if !found {
            bail!(
                "subject `{path_str}` has no exec action in the predicate; add {{\"exec\": {{\"program\": \"{path_str}\"}}}} to scope.actions"
            );
        }
    }
    Ok(())
}

/// Fills the `sha256` of every `file` argument rule whose `path` is one of
/// `files` (given as absolute paths, compared as written).
fn fill_file_digests(obj: &mut serde_json::Map<String, Value>, files_: &[PathBuf]) -> anyhow::Result<()> {
    let actions = obj
        .get_mut("scope")
        .and_then(|s| s.get_mut("actions"))
        .and_then(Value::as_array_mut)
        .context("the predicate needs `scope.actions`")?;
    for file in files_ {
        let path_str = file.to_str().context("--arg-file path is not UTF-8")?;
        if !file.is_absolute() {
            bail!("--arg-file `{path_str}` must be an absolute path (a file argument is matched as written)");
        }
        let digest = files::hash_file(file)?.to_string();
        let mut found = false;
        let rules = actions
            .iter_mut()
            .filter_map(|a| a.get_mut("exec").and_then(|e| e.get_mut("args")).and_then(Value::as_array_mut))
            .flatten()
            .filter_map(|r| r.get_mut("file").and_then(Value::as_object_mut));
        for rule in rules {
            if rule.get("path").and_then(Value::as_str) != Some(path_str) {
                continue;
            }
            found = true;
            match rule.get("sha256").and_then(Value::as_str) {
                Some(d) if d != digest => bail!("`{path_str}` has sha256 {digest} but the predicate says {d}"),
                _ => {
                    rule.insert("sha256".into(), json!(digest));
                }
            }
        }
        if !found {
            bail!(
                "--arg-file `{path_str}` has no file rule in the predicate; add {{\"file\": {{\"path\": \"{path_str}\"}}}} to an exec action's args"
            );
        }
    }
    Ok(())
}
