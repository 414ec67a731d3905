//! The `testdata/entries/` vectors (docs/ledger.md §1): ledger entries of
//! the `delegation` kind (11), byte for byte, and what a decoder must answer
//! for each. Each file is regenerated from this code with `WRIT_REGENERATE=1`;
//! otherwise the committed files must equal what this build produces, and
//! each committed entry must decode (and re-encode to the same bytes) or be
//! refused as stated.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::fs;
use std::path::{Path, PathBuf};

use writ_core::entry::{Delegation, Entry, EntryKind};
use writ_core::{Sha256Digest, Timestamp};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/entries")
}

struct Vector {
    name: &'static str,
    description: &'static str,
    bytes: Vec<u8>,
    /// `accept`, or the decoder's error message.
    verdict: String,
}

fn delegation(uses: Option<i64>) -> Entry {
    let t = Timestamp(1_767_225_600);
    Entry::Delegation(Delegation {
        time: t,
        request_id: "01940000-0000-7000-8000-000000000001".into(),
        writ_id: "01940000-0000-7000-8000-0000000000a9".into(),
        envelope_digest: Sha256Digest::of(b"child envelope"),
        holder: "4f1a0d6c8e2b7a9c3d5e1f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c".into(),
        parent_writ_id: "01940000-0000-7000-8000-000000000002".into(),
        parent_digest: Sha256Digest::of(b"parent envelope"),
        root_writ_id: "01940000-0000-7000-8000-000000000002".into(),
        not_before: t,
        not_after: t.plus(300),
        depth: 1,
        uses,
        recorded_by: "orchestrator (4f1a0d6c8e2b7a9c3d5e1f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c)".into(),
    })
}

fn vectors() -> Vec<Vector> {
    let counted = delegation(Some(1)).encode().unwrap();
    let uncounted = delegation(None).encode().unwrap();
    // Drop field 11 (depth): tag 11, length 8, 8 bytes.
    let pos = uncounted.windows(3).position(|w| w == [11, 0, 8]).unwrap();
    let mut no_depth = uncounted.clone();
    no_depth.drain(pos..pos + 11);
    let mut extra = counted.clone();
    extra.extend_from_slice(&[14, 0, 1, b'x']);
    let err = |b: &[u8]| Entry::decode(b).unwrap_err().to_string();
    vec![
        Vector {
            name: "delegation",
            description: "a holder-signed child writ recorded by the authority: one use, depth 1",
            verdict: "accept".into(),
            bytes: counted,
        },
        Vector {
            name: "delegation_uncounted",
            description: "a recorded child writ without a use count (field 12 absent)",
            verdict: "accept".into(),
            bytes: uncounted,
        },
        Vector {
            name: "delegation_missing_depth",
            description: "field 11 (depth) is required",
            verdict: err(&no_depth),
            bytes: no_depth,
        },
        Vector {
            name: "delegation_unknown_tag",
            description: "tag 14 is not defined for the delegation kind",
            verdict: err(&extra),
            bytes: extra,
        },
    ]
}

fn file(v: &Vector) -> String {
    let entry = Entry::decode(&v.bytes).ok().map(|e| e.to_json());
    let mut s = serde_json::to_string_pretty(&writ_core::fixtures::key_ordered(serde_json::json!({
        "description": v.description,
        "kind": EntryKind::Delegation.as_str(),
        "kind_code": EntryKind::Delegation as u8,
        "entry": entry,
        "entry_hex": hex::encode(&v.bytes),
        "verdict": v.verdict,
    })))
    .unwrap();
    s.push('\n');
    s
}

#[test]
fn entry_vectors_match_and_decode_as_stated() {
    let regenerate = std::env::var_os("WRIT_REGENERATE").is_some();
    if regenerate {
        fs::create_dir_all(dir()).unwrap();
    }
    for v in vectors() {
        let path = dir().join(format!("{}.json", v.name));
        let want = file(&v);
        if regenerate {
            fs::write(&path, &want).unwrap();
        }
        let have = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (WRIT_REGENERATE=1)", path.display()));
        assert_eq!(have, want, "{} is stale: regenerate with WRIT_REGENERATE=1", path.display());
        let j: serde_json::Value = serde_json::from_str(&have).unwrap();
        let bytes = hex::decode(j["entry_hex"].as_str().unwrap()).unwrap();
        let verdict = match Entry::decode(&bytes) {
            Ok(e) => {
                assert_eq!(e.encode().unwrap(), bytes, "{}: canonical", v.name);
                assert_eq!(e.kind(), EntryKind::Delegation);
                assert_eq!(writ_core::fixtures::key_ordered(e.to_json()), j["entry"], "{}: JSON view", v.name);
                "accept".to_string()
            }
            Err(e) => e.to_string(),
        };
        assert_eq!(verdict, j["verdict"], "{}", v.name);
    }
}

#[test]
fn the_delegation_kind_is_code_11_and_names_its_child() {
    let e = delegation(Some(1));
    let b = e.encode().unwrap();
    assert_eq!(&b[..2], &[1, 11]);
    assert_eq!(e.writ_id(), Some("01940000-0000-7000-8000-0000000000a9"));
    assert_eq!(e.request_id(), Some("01940000-0000-7000-8000-000000000001"));
    // Truncated at every length: refused.
    for n in 0..b.len() {
        assert!(Entry::decode(&b[..n]).is_err(), "prefix {n}");
    }
}
