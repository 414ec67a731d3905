//! C2SP `tlog-cosignature` (`cosignature/v1`, Ed25519): the format, the
//! quorum check, and the vectors in `testdata/witness/cosignatures.json`
//! (regenerate with `WRIT_REGENERATE=1`; `tests/interop/cosig_verify.py`
//! checks the same file from the spec text alone).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use writ_tlog::checkpoint::Checkpoint;
use writ_tlog::cosig::{self, CosignatureVerifier, Cosigner, QuorumError};
use writ_tlog::hash::leaf_hash;
use writ_tlog::note::{self, NoteSigner};
use writ_tlog::tree::Frontier;

fn witness(n: u8) -> Cosigner {
    Cosigner::new(&format!("witness.example/w{n}"), SigningKey::from_bytes(&[n; 32])).unwrap()
}

fn log() -> NoteSigner {
    NoteSigner::new("example.com/log", SigningKey::from_bytes(&[42; 32])).unwrap()
}

fn checkpoint(size: u64) -> Checkpoint {
    let mut f = Frontier::new();
    for i in 0..size {
        f.append(leaf_hash(format!("entry {i}").as_bytes()));
    }
    Checkpoint::new("example.com/log", size, f.root())
}

#[test]
fn key_id_and_message_follow_the_spec() {
    let w = witness(1);
    let pk = w.verifier().public_key().to_bytes();
    let mut buf = b"witness.example/w1\n\x04".to_vec();
    buf.extend_from_slice(&pk);
    let h = writ_tlog::hash::sha256(&buf);
    assert_eq!(w.verifier().key_id(), u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
    assert_ne!(w.verifier().key_id(), note::key_id("witness.example/w1", &pk), "0x04, not the note type 0x01");
    // The spec's example message.
    let text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_eq!(
        cosig::signed_message(1679315147, text),
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
    // Verifier key string round trip; another type byte is refused.
    let s = w.verifier().to_string();
    assert_eq!(&CosignatureVerifier::parse(&s).unwrap(), w.verifier());
    let note_vkey = writ_tlog::note::VerifierKey::new("witness.example/w1", *w.verifier().public_key()).unwrap();
    assert!(CosignatureVerifier::parse(&note_vkey.to_string()).is_err(), "a 0x01 note key is not a cosigner key");
}

#[test]
fn line_layout_is_key_id_timestamp_signature() {
    let w = witness(1);
    let text = checkpoint(5).to_text();
    let line = w.cosign(&text, 1_700_000_000).unwrap();
    let b64 = line.strip_prefix("\u{2014} witness.example/w1 ").unwrap().strip_suffix('\n').unwrap();
    let raw = STANDARD.decode(b64).unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(raw[..4], w.verifier().key_id().to_be_bytes());
    assert_eq!(raw[4..12], 1_700_000_000u64.to_be_bytes());
    assert!(w.cosign(&text, cosig::MAX_TIMESTAMP + 1).is_err(), "timestamps stop at 2^63 - 1");
}

#[test]
fn quorum_counts_distinct_valid_witnesses() {
    let (w1, w2, w3) = (witness(1), witness(2), witness(3));
    let ws = [w1.verifier().clone(), w2.verifier().clone(), w3.verifier().clone()];
    let cp = checkpoint(7);
    let text = cp.to_text();
    let base = cp.sign(&log()).unwrap();
    let two = format!("{base}{}{}", w1.cosign(&text, 10).unwrap(), w2.cosign(&text, 11).unwrap());
    let found = cosig::verify_quorum(two.as_bytes(), &ws, 2).unwrap();
    assert_eq!(found.iter().map(|c| c.timestamp).collect::<Vec<_>>(), [10, 11]);
    assert_eq!(cosig::verify_quorum(two.as_bytes(), &ws, 3), Err(QuorumError::Short { got: 2, want: 3 }));
    // The same witness twice counts once.
    let dup = format!("{base}{}{}", w1.cosign(&text, 10).unwrap(), w1.cosign(&text, 12).unwrap());
    assert_eq!(cosig::verify_quorum(dup.as_bytes(), &ws, 2), Err(QuorumError::Short { got: 1, want: 2 }));
    // Lines by unknown witnesses are ignored.
    let other = witness(9);
    let unknown = format!("{base}{}{}", other.cosign(&text, 10).unwrap(), w3.cosign(&text, 10).unwrap());
    assert_eq!(cosig::verify_quorum(unknown.as_bytes(), &ws, 1).unwrap().len(), 1);
    // A cosignature of another (older) checkpoint moved onto this one is invalid.
    let old = checkpoint(6).to_text();
    let stale = format!("{base}{}{}", w1.cosign(&old, 10).unwrap(), w2.cosign(&text, 11).unwrap());
    assert_eq!(
        cosig::verify_quorum(stale.as_bytes(), &ws, 1),
        Err(QuorumError::Invalid { name: "witness.example/w1".into() })
    );
    // The log's own signature line is not a cosignature.
    assert_eq!(cosig::verify_quorum(base.as_bytes(), &ws, 1), Err(QuorumError::Short { got: 0, want: 1 }));
    // The note still verifies for the log's key with the cosignatures on it.
    assert!(writ_tlog::checkpoint::open(two.as_bytes(), "example.com/log", log().verifier()).is_ok());
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    checkpoint: String,
    cosignature: String,
    valid: bool,
    timestamp: u64,
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
#[serde(deny_unknown_fields)]
struct Vectors {
    description: String,
    log_vkey: String,
    witness_vkey: String,
    witness_seed_hex: String,
    cases: Vec<Case>,
}

fn generate() -> Vectors {
    let w = witness(1);
    let lg = log();
    let cp = checkpoint(3);
    let text = cp.to_text();
    let note = cp.sign(&lg).unwrap();
    let good = w.cosign(&text, 1_767_225_600).unwrap();
    let case = |description: &str, checkpoint: &str, cosignature: String, valid, timestamp| Case {
        description: description.into(),
        checkpoint: checkpoint.into(),
        cosignature,
        valid,
        timestamp,
    };
    // The timestamp bytes changed after signing.
    let b64 = good.strip_prefix("\u{2014} witness.example/w1 ").unwrap().trim_end();
    let mut raw = STANDARD.decode(b64).unwrap();
    raw[11] ^= 1;
    let retimed = format!("\u{2014} witness.example/w1 {}\n", STANDARD.encode(&raw));
    let older = checkpoint(2);
    let ext = Checkpoint { extensions: vec!["extension line".into()], ..checkpoint(3) };
    Vectors {
        description: "C2SP tlog-cosignature cosignature/v1 (Ed25519): each case is a checkpoint note signed by the log and one cosignature line by the witness; `valid` says whether the line verifies over that checkpoint".into(),
        log_vkey: lg.verifier().to_string(),
        witness_vkey: w.verifier().to_string(),
        witness_seed_hex: hex::encode([1u8; 32]),
        cases: vec![
            case("a cosignature of this checkpoint", &note, good.clone(), true, 1_767_225_600),
            case("timestamp zero", &note, w.cosign(&text, 0).unwrap(), true, 0),
            case("the largest timestamp, 2^63 - 1", &note, w.cosign(&text, cosig::MAX_TIMESTAMP).unwrap(), true, cosig::MAX_TIMESTAMP),
            case(
                "extension lines are signed too",
                &ext.sign(&lg).unwrap(),
                w.cosign(&ext.to_text(), 1_767_225_600).unwrap(),
                true,
                1_767_225_600,
            ),
            case("the timestamp was changed after signing", &note, retimed, false, 1_767_225_601),
            case(
                "a cosignature of another checkpoint (size 2) of the same log",
                &note,
                w.cosign(&older.to_text(), 1_767_225_600).unwrap(),
                false,
                1_767_225_600,
            ),
            case(
                "signed over the checkpoint text alone, without the cosignature/v1 header",
                &note,
                {
                    use ed25519_dalek::Signer as _;
                    let sig = SigningKey::from_bytes(&[1; 32]).sign(text.as_bytes());
                    let mut raw = w.verifier().key_id().to_be_bytes().to_vec();
                    raw.extend_from_slice(&1_767_225_600u64.to_be_bytes());
                    raw.extend_from_slice(&sig.to_bytes());
                    format!("\u{2014} witness.example/w1 {}\n", STANDARD.encode(raw))
                },
                false,
                1_767_225_600,
            ),
        ],
    }
}

#[test]
fn vectors_match_and_verify() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/witness/cosignatures.json");
    let want = generate();
    if std::env::var_os("WRIT_REGENERATE").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&want).unwrap() + "\n").unwrap();
    }
    let have: Vectors = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(have, want, "{} is stale: regenerate with WRIT_REGENERATE=1", path.display());
    let w = CosignatureVerifier::parse(&have.witness_vkey).unwrap();
    let lg = writ_tlog::note::VerifierKey::parse(&have.log_vkey).unwrap();
    for c in &have.cases {
        assert!(writ_tlog::checkpoint::open(c.checkpoint.as_bytes(), "example.com/log", &lg).is_ok());
        let n = format!("{}{}", c.checkpoint, c.cosignature);
        let got = cosig::verify_quorum(n.as_bytes(), core::slice::from_ref(&w), 1);
        assert_eq!(got.is_ok(), c.valid, "{}: {got:?}", c.description);
        if let Ok(found) = got {
            assert_eq!(found[0].timestamp, c.timestamp, "{}", c.description);
        }
    }
}

#[test]
fn independent_python_check_of_the_vectors() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new("python3")
        .arg(root.join("tests/interop/cosig_verify.py"))
        .arg("vectors")
        .arg(root.join("testdata/witness/cosignatures.json"))
        .output()
        .expect("python3 (with pyca/cryptography) must be installed");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("verified: 7 cosignature vectors"), "{text}");
}
