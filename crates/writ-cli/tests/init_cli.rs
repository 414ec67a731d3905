//! `writ init` signs the new home's trust root by default, for a SQLite home
//! and a PostgreSQL one: version 1 signed by `HOME/root.key`, its pin and
//! root key id printed (text and `--json`), its `key_change` record in the
//! ledger of the store the home is bound to. A hand edit of `trust.json` is
//! then refused (a key added by hand cannot request), and `writ trust add`
//! publishes a signed version whose `key_change` entries come before the new
//! key's first request. Real `writ` binary, real SQLite files, the local
//! PostgreSQL (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::path::Path;
use std::process::{Command, Output};

use writ_core::entry::Entry;

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn writ(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(args)
        .current_dir(dir)
        .env_remove("WRIT_HOME")
        .env_remove("WRIT_DATABASE_URL")
        .output()
        .expect("run writ")
}

fn code(dir: &Path, args: &[&str]) -> (i32, String) {
    let o = writ(dir, args);
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), text)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = writ(dir, args);
    assert!(
        o.status.success(),
        "writ {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Where the home's ledger lives.
enum Ledger {
    Sqlite,
    Postgres(String),
}

impl Ledger {
    /// Every entry of the home's ledger, in order.
    fn entries(&self, dir: &Path) -> Vec<(u64, Entry)> {
        let rows: Vec<(i64, Vec<u8>)> = match self {
            Self::Sqlite => {
                let db = rusqlite::Connection::open(dir.join("h/ledger.sqlite")).unwrap();
                let mut st = db.prepare("SELECT idx, data FROM writ_entries ORDER BY idx").unwrap();
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
            }
            Self::Postgres(schema) => {
                let mut pg = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
                pg.query(&format!("SELECT idx, data FROM {schema}.writ_entries ORDER BY idx"), &[])
                    .unwrap()
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect()
            }
        };
        rows.into_iter().map(|(i, b)| (u64::try_from(i).unwrap(), Entry::decode(&b).unwrap())).collect()
    }

    /// `(index, role, change, key_id)` of every `key_change` entry.
    fn key_changes(&self, dir: &Path) -> Vec<(u64, String, String, String)> {
        self.entries(dir)
            .into_iter()
            .filter_map(|(i, e)| match e {
                Entry::KeyChange(k) => Some((i, k.role, k.change, k.key_id)),
                _ => None,
            })
            .collect()
    }

    /// Indexes of the `request` entries.
    fn requests(&self, dir: &Path) -> Vec<u64> {
        self.entries(dir).into_iter().filter(|(_, e)| matches!(e, Entry::Request(_))).map(|(i, _)| i).collect()
    }
}

fn request_echo(dir: &Path, key: &str) -> (i32, String) {
    code(dir, &["request", "--home", "h", "--key", key, "--", "/usr/bin/echo", "hi"])
}

/// `writ init` (with `extra` flags), then the whole story on that home.
fn init_signs_and_hand_edits_are_refused(dir: &Path, extra: &[&str], ledger: &Ledger) {
    // The text report names the pin and the root key id.
    let mut args = vec!["init", "--home", "h"];
    args.extend_from_slice(extra);
    let text = ok(dir, &args);
    let pin = std::fs::read_to_string(dir.join("h/trust/root.pin")).unwrap().trim().to_string();
    assert_eq!(pin.len(), 64, "{pin}");
    assert!(text.contains(&format!("trust pin       {pin}")), "{text}");
    let root_pub = std::fs::read_to_string(dir.join("h/root.key.pub")).unwrap();
    let show = ok(dir, &["trust", "show", "--trust", "h/trust.json"]);
    let root_id = show
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"root")).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| panic!("no root key in trust.json: {show}"));
    assert!(text.contains(&format!("root key        {root_id}")), "{text}\n{root_pub}");
    assert!(dir.join("h/trust/1.root.json").exists() && dir.join("h/trust/1.logged").exists());

    // Version 1 is in the ledger of the store the home is bound to, at the
    // index its `.logged` file names, with the root key's own `add`.
    let logged: u64 = std::fs::read_to_string(dir.join("h/trust/1.logged")).unwrap().trim().parse().unwrap();
    let changes = ledger.key_changes(dir);
    assert!(changes.iter().any(|k| k.0 == logged && k.1 == "trust_root" && k.2 == "version 1"), "{changes:?}");
    assert!(changes.iter().any(|k| k.1 == "root" && k.2 == "add" && k.3 == root_id), "{changes:?}");
    let verified = ok(dir, &["trust", "verify", "--home", "h"]);
    assert!(verified.contains("version 1") && verified.contains(&pin), "{verified}");

    // Eve adds herself to a copy with the plain-file command and copies it in.
    ok(dir, &["keygen", "--out", "eve.key", "--name", "eve"]);
    std::fs::copy(dir.join("h/trust.json"), dir.join("copy.json")).unwrap();
    ok(dir, &["trust", "add", "--trust", "copy.json", "--role", "requester", "--group", "dev", "--key", "eve.key.pub"]);
    std::fs::copy(dir.join("copy.json"), dir.join("h/trust.json")).unwrap();
    let (c, text) = request_echo(dir, "eve.key");
    assert_ne!(c, 0, "a requester added by hand gets nothing: {text}");
    assert!(text.contains("not in the authority's trust root"), "{text}");
    assert!(text.contains("edited by hand"), "the refusal is loud: {text}");
    assert!(!ledger.key_changes(dir).iter().any(|k| k.2 == "version 2"), "the hand edit is not logged");
    assert!(ledger.requests(dir).is_empty(), "nothing was requested");

    // `writ trust add` on the home signs with h/root.key and publishes:
    // version 2's key_change entries come before alice's first request.
    ok(dir, &["keygen", "--out", "alice.key", "--name", "alice"]);
    ok(
        dir,
        &["trust", "add", "--trust", "h/trust.json", "--role", "requester", "--group", "dev", "--key", "alice.key.pub"],
    );
    let show = ok(dir, &["trust", "show", "--trust", "h/trust.json"]);
    let alice = show
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&"alice") && f.get(2) == Some(&"requester")).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| panic!("alice is not in trust.json: {show}"));
    assert!(!show.contains("eve"), "the published version is the one in force, not the hand edit: {show}");
    let changes = ledger.key_changes(dir);
    let v2 =
        changes.iter().find(|k| k.1 == "trust_root" && k.2 == "version 2").unwrap_or_else(|| panic!("{changes:?}"));
    let add = changes
        .iter()
        .find(|k| k.1 == "requester" && k.2 == "add" && k.3 == alice)
        .unwrap_or_else(|| panic!("no key_change adding alice: {changes:?}"));
    let (c, text) = request_echo(dir, "alice.key");
    assert_eq!(c, 0, "{text}");
    assert!(!text.contains("edited by hand"), "{text}");
    let requests = ledger.requests(dir);
    assert!(!requests.is_empty(), "alice's request is logged");
    assert!(requests.iter().all(|&r| r > v2.0 && r > add.0), "key_change {v2:?} {add:?} before requests {requests:?}");
    assert_ne!(request_echo(dir, "eve.key").0, 0, "eve's hand edit never took effect");

    // The ledger's own audit sees both versions as a chain.
    let u = url();
    let mut audit = vec!["audit", "--home", "h", "--json"];
    if let Ledger::Postgres(schema) = ledger {
        audit.extend_from_slice(&["--ledger", u.as_str(), "--pg-schema", schema.as_str()]);
    }
    let report: serde_json::Value = serde_json::from_str(&ok(dir, &audit)).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["semantic"]["checked"]["trust_versions"], 2, "{report}");
}

#[test]
fn init_signs_the_trust_root_of_a_sqlite_home() {
    let tmp = tempfile::tempdir().unwrap();
    init_signs_and_hand_edits_are_refused(tmp.path(), &[], &Ledger::Sqlite);
}

#[test]
fn init_signs_the_trust_root_of_a_postgres_home() {
    let mut pg = postgres::Client::connect(&url(), postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL={} is unreachable: {e}", url()));
    let schema = format!("writ_init_{}", std::process::id());
    pg.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let u = url();
    init_signs_and_hand_edits_are_refused(
        tmp.path(),
        &["--database", &u, "--pg-schema", &schema],
        &Ledger::Postgres(schema.clone()),
    );
    // Nothing went to SQLite files in the home.
    assert!(!tmp.path().join("h/ledger.sqlite").exists());
    let _ = pg.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
}

#[test]
fn init_json_reports_the_pin_and_the_root_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let r: serde_json::Value = serde_json::from_str(&ok(dir, &["init", "--home", "h", "--json"])).unwrap();
    let pin = std::fs::read_to_string(dir.join("h/trust/root.pin")).unwrap();
    assert_eq!(r["trust_pin"], pin.trim(), "{r}");
    assert_eq!(r["trust_version"], 1, "{r}");
    let root_id = r["root_key_id"].as_str().unwrap();
    assert_eq!(root_id.len(), 64, "{r}");
    let show = ok(dir, &["trust", "show", "--trust", "h/trust.json"]);
    assert!(show.lines().any(|l| l.starts_with(root_id) && l.contains("root")), "{show}\n{r}");
    let verified = ok(dir, &["trust", "verify", "--pin", pin.trim(), "h/trust/1.root.json"]);
    assert!(verified.contains("version 1"), "{verified}");
    // A second init refuses and leaves the signed root as it was.
    let (c, text) = code(dir, &["init", "--home", "h"]);
    assert_ne!(c, 0, "{text}");
    assert_eq!(std::fs::read_to_string(dir.join("h/trust/root.pin")).unwrap(), pin);
}
