//! A gate record is logged once per *record*, not once per entry: a re-send
//! of the same signed bytes (after a crash) is answered with the first
//! index, while two legitimate runs of one writ on one host in the same
//! second — identical entries — are two records, because every gate record
//! carries its own random nonce (`writ_core::gate_record`). Before the nonce,
//! the second run's `exec_start` was taken for a re-send of the first: the
//! ledger then showed one execution where two happened.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;

use writ_authority::model::{RequestInput, TargetInput};
use writ_authority::{Authority, Config, home};
use writ_core::entry::{self, Entry};
use writ_core::gate_record::GateRecord;
use writ_core::trust::{Role, key_entry};
use writ_core::{Sha256Digest, SigningKey, Timestamp, TrustRoot};

const NOW: Timestamp = Timestamp(1_800_000_000);

const POLICIES: &str = r#"
@id("echo")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/echo" };
"#;

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

fn input(uses: u32) -> RequestInput {
    RequestInput {
        target: TargetInput::Exec {
            program: "/usr/bin/echo".into(),
            sha256: Some(Sha256Digest::of(b"p").to_hex()),
            argv: vec!["/usr/bin/echo".into()],
        },
        reason: "r".into(),
        duration_secs: 60,
        env: BTreeMap::new(),
        cwd: None,
        hosts: None,
        evidence: None,
        boundaries: None,
        uses: Some(uses),
        holder: None,
        delegation_depth: None,
    }
}

#[test]
fn two_identical_runs_are_two_records_and_a_resend_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    std::fs::write(h.join("policies.cedar"), POLICIES).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    trust.add(key_entry("alice", vec![Role::Requester], vec!["dev".into()], &key(1).public())).unwrap();
    trust.add(key_entry("gate", vec![Role::Gate], vec![], &key(3).public())).unwrap();
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
    let a = Authority::open(&Config::new(&h)).unwrap();
    let alice = a.identify(&key(1).key_id(), NOW).unwrap();
    let gate = a.identify(&key(3).key_id(), NOW).unwrap();

    let issued = a.submit(&alice, input(2), NOW).unwrap();
    let writ_id = issued.writ_id.clone().unwrap();
    let start = Entry::ExecStart(entry::ExecStart {
        time: NOW,
        request_id: issued.request_id.clone(),
        writ_id: writ_id.clone(),
        host: "h1".into(),
        program_digest: Sha256Digest::of(b"p"),
        argv_digest: Sha256Digest::of(b"a"),
    });
    // What the gate signs: a fresh nonce for each record.
    let first = writ_gate::sign_record(&key(3), &start, &[]).unwrap();
    let second = writ_gate::sign_record(&key(3), &start, &[]).unwrap();
    assert_ne!(first, second, "two runs with the same entry are two records");

    let (i1, _) = a.record_at(&gate, &first, NOW).unwrap();
    let (i1_again, proof) = a.record_at(&gate, &first, NOW).unwrap();
    assert_eq!(i1, i1_again, "a re-sent record is answered with its first index");
    assert!(!proof.is_empty());
    let (i2, _) = a.record_at(&gate, &second, NOW).unwrap();
    assert_ne!(i1, i2, "the second run is logged, not taken for a re-send");

    let starts = (0..a.ledger().size())
        .filter_map(|i| a.ledger().entry(i).ok())
        .filter(|b| matches!(Entry::decode(b), Ok(Entry::ExecStart(_))))
        .count();
    assert_eq!(starts, 2, "the ledger shows both executions");

    // Without a nonce (what no gate sends any more) identical entries are
    // identical bytes, and the second would be answered as a re-send.
    let bare = GateRecord::sign(start, vec![], &key(3)).unwrap();
    let (b1, _) = a.record_at(&gate, &bare, NOW).unwrap();
    assert_eq!(a.record_at(&gate, &bare, NOW).unwrap().0, b1);
}
