//! Two `writ serve` replicas on one PostgreSQL database issue concurrently;
//! one is killed with SIGKILL under load. Afterwards the ledger audits clean,
//! holds no duplicate entry, and exactly request + decision + issuance for
//! every issued writ; the surviving replica's clients saw no error.
//! Needs `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn writ(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_writ"));
    c.current_dir(dir).env_remove("WRIT_HOME");
    c
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = writ(dir).args(args).output().unwrap();
    assert!(o.status.success(), "writ {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn serve(dir: &Path, schema: &str) -> (Child, String) {
    let mut child = writ(dir)
        .args(["serve", "--home", "h", "--listen", "127.0.0.1:0", "--database", &url(), "--pg-schema", schema])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let u = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("replica did not start: {line}"))
        .to_string();
    (child, u)
}

/// POST `{}` with `headers`; the raw response.
fn http(url: &str, path: &str, headers: &[(&str, &str)]) -> String {
    use std::io::{Read as _, Write as _};
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: 2\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n{}");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// GET `path`; the raw response.
fn get(url: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The `writ_replicas` gauge a replica's `/metrics` shows, once it reads
/// `want` (PostgreSQL drops a killed replica's session a moment later).
fn replicas_seen(url: &str, want: u64) -> u64 {
    let mut seen = 0;
    for _ in 0..100 {
        let m = get(url, "/metrics");
        seen = m
            .lines()
            .find_map(|l| l.strip_prefix("writ_replicas "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no writ_replicas in /metrics:\n{m}"));
        if seen == want {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    seen
}

#[test]
fn two_replicas_one_killed_under_load() {
    let mut pg = postgres::Client::connect(&url(), postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL={} is unreachable: {e}", url()));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let schema = format!("writ_replicas_{}", std::process::id());
    // The home is bound to its PostgreSQL store at init (one log per key).
    ok(dir, &["init", "--home", "h", "--database", &url(), "--pg-schema", &schema]);
    ok(dir, &["keygen", "--out", "b.key", "--name", "bench"]);
    ok(
        dir,
        &[
            "trust",
            "add",
            "--trust",
            "h/trust.json",
            "--name",
            "bench",
            "--role",
            "requester",
            "--group",
            "dev",
            "--key",
            "b.key.pub",
        ],
    );
    // `writ init` signed trust root version 1 and `trust add` published
    // version 2: their key_change entries are all the ledger holds so far.
    let setup: Vec<Vec<u8>> = pg
        .query(&format!("SELECT data FROM {schema}.writ_entries ORDER BY idx"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!setup.is_empty(), "the signed trust root is logged at init");
    for bytes in &setup {
        let e = writ_core::entry::Entry::decode(bytes).unwrap();
        assert!(matches!(e, writ_core::entry::Entry::KeyChange(_)), "only key_change entries before the load: {e:?}");
    }
    let base = i64::try_from(setup.len()).unwrap();
    let (mut r1, u1) = serve(dir, &schema);
    let (mut r2, u2) = serve(dir, &schema);
    let bench = |u: &str, n: &str| {
        writ(dir)
            .args(["bench", "--authority", u, "--key", "b.key", "--requests", n, "--concurrency", "8", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // a signed request accepted by one replica is a replay at the other
    let text = std::fs::read_to_string(dir.join("b.key")).unwrap();
    let seed: [u8; 32] =
        writ_core::b64::decode(text.trim().strip_prefix("ed25519-secret ").unwrap(), 32).unwrap().try_into().unwrap();
    let key = writ_core::SigningKey::from_seed(&seed);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let h = writ_api::httpsig::sign(&key, "POST", "/v1/nonces", "", b"{}", now, "replica-replay-nonce-1");
    let hs = [
        ("content-digest", h.content_digest.as_str()),
        ("signature-input", h.signature_input.as_str()),
        ("signature", h.signature.as_str()),
    ];
    assert!(http(&u1, "/v1/nonces", &hs).starts_with("HTTP/1.1 201"));
    let again = http(&u2, "/v1/nonces", &hs);
    assert!(again.starts_with("HTTP/1.1 401") && again.contains("replayed_signature"), "{again}");

    // both replicas are counted, from either one (the health page shows the same figure)
    assert_eq!(replicas_seen(&u1, 2), 2);
    assert_eq!(replicas_seen(&u2, 2), 2);

    let b2 = bench(&u2, "300");
    let b1 = bench(&u1, "100");
    // let replica 1 finish its share, then kill it while replica 2 may still be busy
    let o1 = b1.wait_with_output().unwrap();
    let rep1: serde_json::Value = serde_json::from_slice(&o1.stdout).unwrap();
    assert_eq!(rep1["errors"], 0, "{rep1}");
    r1.kill().unwrap();
    r1.wait().unwrap();
    let o2 = b2.wait_with_output().unwrap();
    let rep2: serde_json::Value = serde_json::from_slice(&o2.stdout).unwrap();
    assert_eq!(rep2["errors"], 0, "{rep2}");
    // the survivor still issues after the kill
    let o = writ(dir)
        .args(["request", "--authority", &u2, "--key", "b.key", "--out", "after.writ", "--", "/usr/bin/true"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(replicas_seen(&u2, 1), 1, "the killed replica is no longer counted");
    r2.kill().unwrap();
    r2.wait().unwrap();

    let audit = writ(dir).args(["audit", "--home", "h", "--ledger", &url(), "--pg-schema", &schema]).output().unwrap();
    assert!(
        audit.status.success(),
        "{}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );
    let row = pg.query_one(&format!("SELECT count(*), count(DISTINCT data) FROM {schema}.writ_entries"), &[]).unwrap();
    let (n, distinct): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(n, distinct, "no duplicate ledger entries");
    let issued: i64 = pg.query_one(&format!("SELECT count(*) FROM {schema}.auth_writs"), &[]).unwrap().get(0);
    assert_eq!(issued, 401);
    assert_eq!(n - base, 3 * issued, "request + decision + issuance per writ, nothing lost");
    let _ = pg.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
}
