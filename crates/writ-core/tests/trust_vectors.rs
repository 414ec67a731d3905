//! The `testdata/trust/` vectors: signed trust-root versions and the verdicts
//! `writ_core::trust_chain` must reach on them. Regenerated from this file and
//! diffed (CI fails on drift), then checked against their expected verdicts.
//!
//! Regenerate after an intended format change with
//! `WRIT_REGENERATE=1 cargo test -p writ-core --test trust_vectors`.
//!
//! Keys come from fixed seeds (`[n; 32]`, see `KEYS`); Ed25519 signatures are
//! deterministic, so the files are byte-for-byte reproducible.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::fs;
use std::path::{Path, PathBuf};

use writ_core::trust::{Role, TrustRootFile, key_entry};
use writ_core::trust_chain::{self, SignedTrustRoot};
use writ_core::{Sha256Digest, SigningKey, Timestamp, TrustRoot};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/trust")
}

/// 2026-06-01T00:00:00Z: the "now" of every case unless it says otherwise.
const NOW: &str = "2026-06-01T00:00:00Z";
/// 2027-01-01T00:00:00Z: when the versions expire.
const EXPIRES: Timestamp = Timestamp(1_798_761_600);

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(&[seed; 32])
}

/// `(name, seed, role)` of every key the vectors use.
const KEYS: [(&str, u8, Role); 6] = [
    ("root-a", 11, Role::Root),
    ("root-b", 12, Role::Root),
    ("root-c", 13, Role::Root),
    ("authority", 21, Role::Issuer),
    ("alice", 22, Role::Requester),
    ("mallory", 99, Role::Root),
];

fn named(name: &str) -> SigningKey {
    let (_, seed, _) = KEYS.iter().find(|(n, _, _)| *n == name).unwrap();
    key(*seed)
}

fn doc(names: &[&str]) -> TrustRootFile {
    let mut t = TrustRoot::empty();
    for n in names {
        let (_, seed, role) = KEYS.iter().find(|(k, _, _)| k == n).unwrap();
        t.add(key_entry(n, vec![*role], Vec::new(), &key(*seed).public())).unwrap();
    }
    t.file().clone()
}

fn signed(bytes: Vec<u8>, by: &[&str]) -> Vec<u8> {
    by.iter().fold(bytes, |b, n| trust_chain::sign(&b, &named(n)).unwrap())
}

/// One expected verdict: verify `file` as the successor of `prev` (or, with
/// no `prev`, as the version pinned by `pin`), at `now`.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    code: Option<String>,
    description: String,
    file: String,
    now: String,
    pin: Option<String>,
    prev: Option<String>,
}

struct Generated {
    files: Vec<(String, Vec<u8>)>,
    cases: Vec<Case>,
}

fn case(
    description: &str,
    file: &str,
    prev: Option<&str>,
    pin: Option<Sha256Digest>,
    now: &str,
    code: Option<&str>,
) -> Case {
    Case {
        code: code.map(Into::into),
        description: description.into(),
        file: file.into(),
        now: now.into(),
        pin: pin.map(|d| d.to_hex()),
        prev: prev.map(Into::into),
    }
}

fn generate() -> Generated {
    let now = Timestamp::parse(NOW).unwrap();
    // v1: root-a and root-b, 2 of 2, plus the issuer.
    let v1 = signed(
        trust_chain::initial(doc(&["root-a", "root-b", "authority"]), 2, EXPIRES).unwrap(),
        &["root-a", "root-b"],
    );
    let pin = trust_chain::parse(&v1).unwrap().digest();
    let one: SignedTrustRoot = trust_chain::verify_pinned(&v1, &pin).unwrap();
    // v2: adds alice, rotates root-b out for root-c, threshold 1.
    let v2_doc = doc(&["root-a", "root-c", "authority", "alice"]);
    let v2_unsigned = trust_chain::propose(&one, v2_doc.clone(), 1, EXPIRES).unwrap();
    let v2 = signed(v2_unsigned.clone(), &["root-a", "root-b"]);
    let two = trust_chain::verify_successor(&one, &v2, now).unwrap();
    // v3: same document, signed by root-c alone (v2's quorum is 1, and root-c is in both).
    let v3 = signed(trust_chain::propose(&two, v2_doc.clone(), 1, EXPIRES).unwrap(), &["root-c"]);
    // Refused successors of v1.
    let v2_one_root = signed(v2_unsigned.clone(), &["root-a", "root-c"]);
    let v2_stranger = signed(v2_unsigned.clone(), &["root-a", "root-b", "mallory"]);
    let v2_new_keys_only = signed(v2_unsigned.clone(), &["root-c"]);
    let v2_expired = signed(
        trust_chain::propose(&one, v2_doc.clone(), 1, Timestamp::parse("2026-01-01T00:00:00Z").unwrap()).unwrap(),
        &["root-a", "root-b"],
    );
    // A version 2 that names another predecessor.
    let fake_prev = {
        let other = signed(trust_chain::initial(doc(&["root-a", "root-b"]), 1, EXPIRES).unwrap(), &["root-a"]);
        let other = trust_chain::verify_pinned(&other, &trust_chain::parse(&other).unwrap().digest()).unwrap();
        signed(trust_chain::propose(&other, v2_doc.clone(), 1, EXPIRES).unwrap(), &["root-a", "root-b"])
    };
    // v2 with root-b's signature replaced by root-b's signature over something else.
    let v2_bad_sig = {
        let good: serde_json::Value = serde_json::from_slice(&v2).unwrap();
        let other: serde_json::Value = serde_json::from_slice(&fake_prev).unwrap();
        let mut bad = good.clone();
        bad["signatures"][1]["sig"] = other["signatures"][1]["sig"].clone();
        serde_json::to_vec(&bad).unwrap()
    };
    // v1 with a trailing field in the payload: the digest differs, and an
    // unknown field is malformed.
    let v1_unknown_field = {
        let env: serde_json::Value = serde_json::from_slice(&v1).unwrap();
        let payload = writ_core::b64::decode(env["payload"].as_str().unwrap(), 1 << 20).unwrap();
        let mut text = String::from_utf8(payload).unwrap();
        text.insert_str(1, "\"extra\":1,");
        let mut env = env.clone();
        env["payload"] = serde_json::Value::String(writ_core::b64::encode(text.as_bytes()));
        serde_json::to_vec(&env).unwrap()
    };

    let v1_in_toto = {
        let mut env: serde_json::Value = serde_json::from_slice(&v1).unwrap();
        env["payloadType"] = serde_json::Value::String("application/vnd.in-toto+json".into());
        serde_json::to_vec(&env).unwrap()
    };

    let files = vec![
        ("v1.root.json", v1),
        ("v2.root.json", v2),
        ("v3.root.json", v3),
        ("v2-unsigned.root.json", v2_unsigned),
        ("v2-one-old-root.root.json", v2_one_root),
        ("v2-stranger.root.json", v2_stranger),
        ("v2-new-keys-only.root.json", v2_new_keys_only),
        ("v2-expired.root.json", v2_expired),
        ("v2-wrong-previous.root.json", fake_prev),
        ("v2-bad-signature.root.json", v2_bad_sig),
        ("v1-unknown-field.root.json", v1_unknown_field),
        ("v1-in-toto.root.json", v1_in_toto),
    ];
    let cases = vec![
        case(
            "version 1, self-signed by its 2-of-2 root quorum, pinned by digest",
            "v1.root.json",
            None,
            Some(pin),
            NOW,
            None,
        ),
        case("version 1 against another pin", "v1.root.json", None, Some(two.digest()), NOW, Some("pin_mismatch")),
        case(
            "version 2 adds alice and rotates root-b out for root-c; signed by v1's 2-of-2 (root-a, root-b) and by root-a of its own 1-of-2",
            "v2.root.json",
            Some("v1.root.json"),
            None,
            NOW,
            None,
        ),
        case(
            "version 3 signed by root-c alone (v2's quorum is 1 of root-a, root-c)",
            "v3.root.json",
            Some("v2.root.json"),
            None,
            NOW,
            None,
        ),
        case(
            "version 3 straight after version 1",
            "v3.root.json",
            Some("v1.root.json"),
            None,
            NOW,
            Some("version_gap"),
        ),
        case("version 1 again after version 2", "v1.root.json", Some("v2.root.json"), None, NOW, Some("rollback")),
        case("version 2 again after version 2", "v2.root.json", Some("v2.root.json"), None, NOW, Some("rollback")),
        case(
            "version 2 with no signature",
            "v2-unsigned.root.json",
            Some("v1.root.json"),
            None,
            NOW,
            Some("quorum_not_met"),
        ),
        case(
            "version 2 signed by root-a and root-c: only 1 of v1's 2-of-2",
            "v2-one-old-root.root.json",
            Some("v1.root.json"),
            None,
            NOW,
            Some("quorum_not_met"),
        ),
        case(
            "version 2 signed only by root-c, a key v1 does not list",
            "v2-new-keys-only.root.json",
            Some("v1.root.json"),
            None,
            NOW,
            Some("quorum_not_met"),
        ),
        case(
            "version 2 carrying a signature by mallory, a root key of neither version",
            "v2-stranger.root.json",
            Some("v1.root.json"),
            None,
            NOW,
            Some("unknown_key"),
        ),
        case(
            "version 2 that expired on 2026-01-01",
            "v2-expired.root.json",
            Some("v1.root.json"),
            None,
            NOW,
            Some("expired"),
        ),
        case(
            "version 2 taken into use after it expired",
            "v2.root.json",
            Some("v1.root.json"),
            None,
            "2027-01-01T00:00:00Z",
            Some("expired"),
        ),
        case(
            "version 2 naming another version 1 as previous",
            "v2-wrong-previous.root.json",
            Some("v1.root.json"),
            None,
            NOW,
            Some("previous_mismatch"),
        ),
        case(
            "version 2 whose root-b signature covers other bytes",
            "v2-bad-signature.root.json",
            Some("v1.root.json"),
            None,
            NOW,
            Some("bad_signature"),
        ),
        case(
            "version 1 with an unknown payload field",
            "v1-unknown-field.root.json",
            None,
            Some(pin),
            NOW,
            Some("malformed"),
        ),
        case("version 1 under another payload type", "v1-in-toto.root.json", None, Some(pin), NOW, Some("unsupported")),
    ];
    Generated { files: files.into_iter().map(|(n, b)| (n.to_owned(), b)).collect(), cases }
}

fn all_files() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = testdata();
    let g = generate();
    let mut out: Vec<(PathBuf, Vec<u8>)> = g.files.into_iter().map(|(n, b)| (dir.join(n), b)).collect();
    let mut cases = serde_json::to_string_pretty(&g.cases).unwrap();
    cases.push('\n');
    out.push((dir.join("cases.json"), cases.into_bytes()));
    let pin = trust_chain::parse(&out[0].1).unwrap().digest();
    out.push((dir.join("v1.pin"), format!("{pin}\n").into_bytes()));
    out
}

fn regenerate_if_asked() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("WRIT_REGENERATE").is_some() {
            fs::create_dir_all(testdata()).unwrap();
            for (path, bytes) in all_files() {
                fs::write(&path, &bytes).unwrap();
            }
        }
    });
}

#[test]
fn trust_vectors_match_the_generator() {
    regenerate_if_asked();
    let mut drift = Vec::new();
    for (path, bytes) in all_files() {
        if fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            drift.push(path.display().to_string());
        }
    }
    assert!(
        drift.is_empty(),
        "trust vectors drifted from the generator; if intended, run \
         `WRIT_REGENERATE=1 cargo test -p writ-core --test trust_vectors` and commit: {drift:#?}"
    );
}

/// Reads the files only (not the generator), as a second implementation would.
#[test]
fn every_trust_case_gives_its_expected_verdict() {
    regenerate_if_asked();
    let dir = testdata();
    let cases: Vec<Case> = serde_json::from_slice(&fs::read(dir.join("cases.json")).unwrap()).unwrap();
    let pin = Sha256Digest::from_hex(fs::read_to_string(dir.join("v1.pin")).unwrap().trim()).unwrap();
    let read = |n: &str| fs::read(dir.join(n)).unwrap();
    // Predecessors are verified as a chain from the pin.
    let chain_to = |name: &str| -> SignedTrustRoot {
        let order = ["v1.root.json", "v2.root.json", "v3.root.json"];
        let upto = order.iter().position(|n| *n == name).unwrap();
        let bytes: Vec<Vec<u8>> = order[..=upto].iter().map(|n| read(n)).collect();
        trust_chain::verify_chain(&pin, bytes.iter().map(Vec::as_slice), Timestamp::parse(NOW).unwrap()).unwrap()
    };
    let mut codes = std::collections::BTreeSet::new();
    for c in &cases {
        let now = Timestamp::parse(&c.now).unwrap();
        let bytes = read(&c.file);
        let verdict = match (&c.prev, &c.pin) {
            (Some(prev), None) => trust_chain::verify_successor(&chain_to(prev), &bytes, now),
            (None, Some(p)) => trust_chain::verify_pinned(&bytes, &Sha256Digest::from_hex(p).unwrap())
                .and_then(|v| v.check_fresh(now).map(|()| v)),
            _ => panic!("{}: a case names exactly one of prev and pin", c.description),
        };
        match (&c.code, verdict) {
            (None, Ok(_)) => {}
            (None, Err(e)) => panic!("{}: expected accept, got {e}", c.description),
            (Some(code), Ok(_)) => panic!("{}: expected {code}, got accept", c.description),
            (Some(code), Err(e)) => {
                assert_eq!(e.code.as_str(), code, "{}: {}", c.description, e.detail);
                codes.insert(code.clone());
            }
        }
    }
    // Every refusal that a version can earn has a vector (`too_large` is
    // covered by the unit tests: a 1.5 MiB file is not worth committing).
    for code in trust_chain::RootErrorCode::ALL {
        if code != trust_chain::RootErrorCode::TooLarge {
            assert!(codes.contains(code.as_str()), "no trust vector for `{code}`");
        }
    }
}

#[test]
fn chain_from_the_pin_to_version_3() {
    regenerate_if_asked();
    let dir = testdata();
    let pin = Sha256Digest::from_hex(fs::read_to_string(dir.join("v1.pin")).unwrap().trim()).unwrap();
    let v: Vec<Vec<u8>> =
        ["v1.root.json", "v2.root.json", "v3.root.json"].iter().map(|n| fs::read(dir.join(n)).unwrap()).collect();
    let now = Timestamp::parse(NOW).unwrap();
    let last = trust_chain::verify_chain(&pin, v.iter().map(Vec::as_slice), now).unwrap();
    assert_eq!(last.version(), 3);
    assert!(last.trust().keys().iter().any(|k| k.entry.name == "alice"));
    // Out of order, or with a version missing, the chain does not verify.
    let bad = trust_chain::verify_chain(&pin, [v[0].as_slice(), &v[2]], now).unwrap_err();
    assert_eq!(bad.code.as_str(), "version_gap");
    let bad = trust_chain::verify_chain(&pin, [v[1].as_slice()], now).unwrap_err();
    assert_eq!(bad.code.as_str(), "pin_mismatch");
}
