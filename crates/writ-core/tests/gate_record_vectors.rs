//! The `testdata/gate_records/` vectors (docs/format.md, "Gate records"):
//! signed gate records, byte for byte, and what a verifier must answer for
//! each. Each file is regenerated from this code with `WRIT_REGENERATE=1`;
//! otherwise the committed files must equal what this build produces, and
//! each committed record must decode and verify (or be refused) as stated.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::fs;
use std::path::{Path, PathBuf};

use writ_core::dsse::pae;
use writ_core::entry::{Denial, Entry, ExecEnd, ExecStart};
use writ_core::gate_record::{GATE_RECORD_PAYLOAD_TYPE, GateRecord};
use writ_core::trust::{Role, key_entry};
use writ_core::{Sha256Digest, SigningKey, Timestamp, TrustRoot};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/gate_records")
}

/// The vectors' gate key (a public test key: never use it for anything real).
fn gate() -> SigningKey {
    SigningKey::from_seed(&[0x47; 32])
}

fn trust() -> TrustRoot {
    let mut t = TrustRoot::empty();
    t.add(key_entry("gate-build-01", vec![Role::Gate], vec![], &gate().public())).unwrap();
    t
}

struct Vector {
    name: &'static str,
    description: &'static str,
    record: Vec<u8>,
    /// `accept`, or the refusal's code.
    verdict: &'static str,
}

fn vectors() -> Vec<Vector> {
    let t = Timestamp(1_767_225_600);
    let start = Entry::ExecStart(ExecStart {
        time: t,
        request_id: "01940000-0000-7000-8000-000000000001".into(),
        writ_id: "01940000-0000-7000-8000-000000000002".into(),
        host: "build-01".into(),
        program_digest: Sha256Digest::of(b"#!/bin/sh\necho deploying \"$@\"\n"),
        argv_digest: Sha256Digest::of(b"argv"),
    });
    let end = Entry::ExecEnd(ExecEnd {
        time: t.plus(3),
        request_id: "01940000-0000-7000-8000-000000000001".into(),
        writ_id: "01940000-0000-7000-8000-000000000002".into(),
        host: "build-01".into(),
        outcome: "exited".into(),
        exit_code: Some(0),
    });
    let denial = Entry::Denial(Denial {
        time: t,
        request_id: None,
        writ_id: None,
        code: "malformed".into(),
        detail: "cannot read the writ `w.writ`".into(),
        host: Some("build-01".into()),
    });
    let mut tampered = GateRecord::sign(end.clone(), vec![], &gate()).unwrap();
    // The exit code's last byte: 0 -> 1 (the record now claims exit 1).
    let body_len = end.encode().unwrap().len();
    tampered[body_len - 1] ^= 1;
    let nonce: [u8; 16] = core::array::from_fn(|i| u8::try_from(i).unwrap() * 17);
    vec![
        Vector {
            name: "exec_start_nonce",
            description: "an exec_start with the per-record nonce every gate draws (two identical runs are two records), signed",
            record: GateRecord::sign_with_nonce(start.clone(), nonce, vec![], &gate()).unwrap(),
            verdict: "accept",
        },
        Vector {
            name: "exec_start_weakened",
            description: "an exec_start of a run in the weaker isolation mode (it says run_as and cgroup were left out), signed",
            record: GateRecord::sign(start, vec!["run_as".into(), "cgroup".into()], &gate()).unwrap(),
            verdict: "accept",
        },
        Vector {
            name: "denial",
            description: "a gate's denial, signed",
            record: GateRecord::sign(denial, vec![], &gate()).unwrap(),
            verdict: "accept",
        },
        Vector {
            name: "exec_end_tampered",
            description: "a signed exec_end whose exit code was changed after signing",
            record: tampered,
            verdict: "bad_gate_signature",
        },
        Vector {
            name: "exec_end_unsigned",
            description: "an exec_end without a gate trailer",
            record: end.encode().unwrap(),
            verdict: "unsigned_gate_record",
        },
    ]
}

fn file(v: &Vector) -> String {
    let r = GateRecord::decode(&v.record).unwrap();
    let body = r.entry.encode().unwrap();
    let input = r.signing_input().ok().map(hex::encode);
    let mut s = serde_json::to_string_pretty(&writ_core::fixtures::key_ordered(serde_json::json!({
        "description": v.description,
        "payload_type": GATE_RECORD_PAYLOAD_TYPE,
        "gate_public_key_hex": hex::encode(gate().public().to_bytes()),
        "gate_key_id": gate().key_id().to_string(),
        "record": r.to_json(),
        "body_hex": hex::encode(body),
        "signing_input_hex": input,
        "record_hex": hex::encode(&v.record),
        "verdict": v.verdict,
    })))
    .unwrap();
    s.push('\n');
    s
}

#[test]
fn gate_record_vectors_match_and_verify_as_stated() {
    let regenerate = std::env::var_os("WRIT_REGENERATE").is_some();
    if regenerate {
        fs::create_dir_all(dir()).unwrap();
    }
    let trust = trust();
    for v in vectors() {
        let path = dir().join(format!("{}.json", v.name));
        let want = file(&v);
        if regenerate {
            fs::write(&path, &want).unwrap();
        }
        let have = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (WRIT_REGENERATE=1)", path.display()));
        assert_eq!(have, want, "{} is stale: regenerate with WRIT_REGENERATE=1", path.display());
        // From the committed file alone: decode, re-encode, verify.
        let j: serde_json::Value = serde_json::from_str(&have).unwrap();
        let bytes = hex::decode(j["record_hex"].as_str().unwrap()).unwrap();
        let r = GateRecord::decode(&bytes).unwrap();
        assert_eq!(r.encode().unwrap(), bytes, "{}: canonical", v.name);
        assert_eq!(hex::encode(r.entry.encode().unwrap()), j["body_hex"], "{}: the body comes first", v.name);
        if let Some(input) = j["signing_input_hex"].as_str() {
            // Everything before the signature field (tag, length, 64 bytes).
            let prefix = &bytes[..bytes.len() - 67];
            assert_eq!(hex::encode(pae(GATE_RECORD_PAYLOAD_TYPE, prefix)), input, "{}: signing input", v.name);
        }
        let verdict = match r.verified_gate(&trust) {
            Ok(k) => {
                assert_eq!(k.entry.name, "gate-build-01");
                "accept"
            }
            Err(e) => e.code(),
        };
        assert_eq!(verdict, j["verdict"], "{}", v.name);
    }
}
