//! Crash test of the spool (issue 9 item 7): writer processes and drain
//! processes run at the same time on one spool and are killed (`SIGKILL`) at
//! random points, for a bounded number of rounds; then one last drain runs to
//! the end. Every record a writer acknowledged (its `append` returned) must be
//! in the real authority's ledger; a record is there twice only when a drain
//! was killed between the authority's answer and its progress update (at most
//! once per killed drain, see docs/gate.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use writ_authority::api::Local;
use writ_authority::{Authority, Config, home};
use writ_core::entry::{Denial, Entry};
use writ_core::trust::{Role, key_entry};
use writ_core::{SigningKey, Timestamp, TrustRoot};
use writ_gate::{Recorder, Spool};

const ROUNDS: usize = 5;
const WRITERS: usize = 3;

fn gate_key() -> SigningKey {
    SigningKey::from_seed(&[6; 32])
}

fn record(tag: &str) -> Entry {
    Entry::Denial(Denial {
        time: Timestamp(i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()),
        request_id: None,
        writ_id: None,
        code: "malformed".into(),
        detail: tag.into(),
        host: Some("crash".into()),
    })
}

/// The child side: `CRASH_ROLE=writer` appends records `w<ID>-<n>` and prints
/// `ACK <tag>` after each acknowledged append; `CRASH_ROLE=drain` drains the
/// spool to the authority of `CRASH_HOME`.
#[test]
#[ignore = "run by crash_test_every_acknowledged_record_reaches_the_ledger as a child process"]
fn crash_child() {
    let Ok(role) = std::env::var("CRASH_ROLE") else { return };
    let spool = Spool::open(Path::new(&std::env::var("CRASH_SPOOL").unwrap())).unwrap();
    match role.as_str() {
        "writer" => {
            let id = std::env::var("CRASH_ID").unwrap();
            for n in 0..200 {
                let tag = format!("w{id}-{n}");
                spool.append(&record(&tag)).unwrap();
                println!("ACK {tag}");
            }
        }
        "drain" => {
            let _ = drain(Path::new(&std::env::var("CRASH_HOME").unwrap()), &spool);
        }
        _ => panic!("unknown role"),
    }
}

fn drain(home: &Path, spool: &Spool) -> Result<usize, String> {
    let authority = Arc::new(Authority::open(&Config::new(home)).map_err(|e| e.to_string())?);
    let trust = TrustRoot::from_json(&std::fs::read(home.join("trust.json")).unwrap()).unwrap();
    let recorder = Recorder::online(Arc::new(Local::new(authority, gate_key().key_id())), trust);
    spool
        .drain(&|b| recorder.send_verified(b).map(|_| ()).map_err(|e| e.to_string()))
        .map(|r| r.sent)
        .map_err(|e| e.to_string())
}

fn spawn(role: &str, spool: &Path, home: &Path, id: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--ignored", "--nocapture", "--test-threads", "1"])
        .env("CRASH_ROLE", role)
        .env("CRASH_SPOOL", spool)
        .env("CRASH_HOME", home)
        .env("CRASH_ID", id.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A small deterministic generator (seeded from the clock; the seed is printed).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn acks(child: Child) -> Vec<String> {
    let out = child.wait_with_output().unwrap();
    BufReader::new(out.stdout.as_slice())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.strip_prefix("ACK ").map(str::to_owned))
        .collect()
}

#[test]
fn crash_test_every_acknowledged_record_reaches_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    trust.add(key_entry("gate1", vec![Role::Gate], vec![], &gate_key().public())).unwrap();
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
    let spool_path: PathBuf = dir.path().join("spool");
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = Lcg(seed);
    let mut acknowledged = Vec::new();
    let mut drains_killed = 0usize;
    for round in 0..ROUNDS {
        let writers: Vec<Child> = (0..WRITERS).map(|w| spawn("writer", &spool_path, &h, round * WRITERS + w)).collect();
        let mut drainer = spawn("drain", &spool_path, &h, 0);
        std::thread::sleep(Duration::from_millis(20 + rng.below(200)));
        // Kill the drain at a random point (or let it finish), then the writers.
        if rng.below(3) > 0 {
            let _ = drainer.kill();
            drains_killed += 1;
        }
        let _ = drainer.wait();
        for mut w in writers {
            std::thread::sleep(Duration::from_millis(rng.below(30)));
            let _ = w.kill();
            acknowledged.extend(acks(w));
        }
    }
    // One last drain, to the end.
    let spool = Spool::open(&spool_path).unwrap();
    drain(&h, &spool).unwrap();
    assert!(Spool::read(&spool_path).unwrap().entries.is_empty());

    let a = Authority::open(&Config::new(&h)).unwrap();
    let size = a.ledger().size();
    let mut in_ledger: BTreeMap<String, usize> = BTreeMap::new();
    let mut all = Vec::new();
    let mut at = 0;
    while at < size {
        let end = (at + 256).min(size);
        all.extend(a.ledger().entries(at, end).unwrap());
        at = end;
    }
    for bytes in all {
        if let Ok(Entry::Denial(d)) = Entry::decode(&bytes)
            && d.host.as_deref() == Some("crash")
        {
            *in_ledger.entry(d.detail).or_default() += 1;
        }
    }
    assert!(acknowledged.len() > ROUNDS, "the writers acknowledged too little to test: {}", acknowledged.len());
    let missing: Vec<&String> = acknowledged.iter().filter(|t| !in_ledger.contains_key(*t)).collect();
    assert!(missing.is_empty(), "seed {seed}: acknowledged records not in the ledger: {missing:?}");
    let twice: usize = in_ledger.values().map(|n| n - 1).sum();
    assert!(twice <= drains_killed, "seed {seed}: {twice} duplicates with {drains_killed} drains killed");
    eprintln!(
        "crash test: {} acknowledged, {} in the ledger, {twice} sent twice, {drains_killed} drains killed",
        acknowledged.len(),
        in_ledger.len()
    );
}
