//! The `testdata/writs/` vectors: regenerated from `writ_core::fixtures` and
//! diffed (CI fails on drift), then verified against their expected verdicts.
//!
//! Regenerate after an intended format change with
//! `WRIT_REGENERATE=1 cargo test -p writ-core --test vectors`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::fs;
use std::path::{Path, PathBuf};

use writ_core::fixtures::{self, Vector};
use writ_core::spec::ContextSpec;
use writ_core::{TrustRoot, verify};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/writs")
}

/// The expected-verdict file. A struct (not `json!`) so that the field order
/// is fixed whatever features serde_json is built with (`preserve_order`
/// would otherwise reorder a map); fields are in alphabetical order.
#[derive(serde::Serialize)]
struct Expected<'a> {
    code: Option<&'static str>,
    context: &'a ContextSpec,
    description: &'static str,
    trust: &'static str,
    verdict: &'static str,
}

fn expected_json(v: &Vector) -> String {
    let mut s = serde_json::to_string_pretty(&Expected {
        code: v.expected.map(|c| c.as_str()),
        context: &v.context,
        description: v.description,
        trust: v.trust,
        verdict: if v.expected.is_some() { "deny" } else { "allow" },
    })
    .unwrap();
    s.push('\n');
    s
}

/// The expected outcome of a status-response vector (fields alphabetical).
#[derive(serde::Serialize)]
struct StatusExpected<'a> {
    code: Option<&'static str>,
    description: &'static str,
    envelope_sha256: String,
    issuer: String,
    nonce: Option<&'static str>,
    trust: &'static str,
    verdict: &'static str,
    writ_id: &'a str,
}

fn status_expected_json(v: &fixtures::StatusVector) -> String {
    let mut s = serde_json::to_string_pretty(&StatusExpected {
        code: v.expected.map(|c| c.as_str()),
        description: v.description,
        envelope_sha256: v.envelope_sha256.to_hex(),
        issuer: v.issuer.to_string(),
        nonce: v.nonce,
        trust: "../writs/trust.json",
        verdict: if v.expected.is_some() { "deny" } else { "accept" },
        writ_id: &v.writ_id,
    })
    .unwrap();
    s.push('\n');
    s
}

fn files() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = testdata();
    let mut out: Vec<(PathBuf, Vec<u8>)> = fixtures::trust_files()
        .into_iter()
        .map(|(name, t)| (dir.join(name), (t.to_json_pretty() + "\n").into_bytes()))
        .collect();
    // docs/examples: a complete, valid predicate (that of `allow_exec`) and
    // the vectors' trust root, so that the examples cannot go stale either.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples");
    out.push((
        examples.join("predicate.json"),
        (serde_json::to_string_pretty(&fixtures::predicate()).unwrap() + "\n").into_bytes(),
    ));
    out.push((examples.join("trust.json"), (fixtures::trust_root(false).to_json_pretty() + "\n").into_bytes()));
    let status = dir.join("../status");
    for v in fixtures::status_vectors() {
        out.push((status.join(format!("{}.status.json", v.name)), v.response.clone()));
        out.push((status.join(format!("{}.expected.json", v.name)), status_expected_json(&v).into_bytes()));
    }
    for v in fixtures::vectors() {
        out.push((dir.join(format!("{}.writ.json", v.name)), v.envelope.clone()));
        out.push((dir.join(format!("{}.expected.json", v.name)), expected_json(&v).into_bytes()));
    }
    out
}

/// With `WRIT_REGENERATE` set, rewrites the files (once per test binary,
/// before any test reads them).
fn regenerate_if_asked() -> bool {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let regenerate = std::env::var_os("WRIT_REGENERATE").is_some();
    ONCE.call_once(|| {
        if regenerate {
            fs::create_dir_all(testdata()).unwrap();
            for (path, bytes) in files() {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, &bytes).unwrap();
            }
        }
    });
    regenerate
}

#[test]
fn vectors_match_the_generator() {
    regenerate_if_asked();
    let mut drift = Vec::new();
    for (path, bytes) in files() {
        if fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            drift.push(path.display().to_string());
        }
    }
    assert!(
        drift.is_empty(),
        "test vectors drifted from the generator; if intended, run \
         `WRIT_REGENERATE=1 cargo test -p writ-core --test vectors` and commit: {drift:#?}"
    );
}

#[test]
fn every_vector_file_gives_its_expected_verdict() {
    regenerate_if_asked();
    let dir = testdata();
    let mut seen = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(stem) = name.strip_suffix(".expected.json") else { continue };
        let expected: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let trust = TrustRoot::from_json(&fs::read(dir.join(expected["trust"].as_str().unwrap())).unwrap()).unwrap();
        let spec: ContextSpec = serde_json::from_value(expected["context"].clone()).unwrap();
        let envelope = fs::read(dir.join(format!("{stem}.writ.json"))).unwrap();
        let verdict = verify(&envelope, &trust, &spec.to_context().unwrap());
        match expected["code"].as_str() {
            None => assert!(verdict.is_ok(), "{stem}: expected allow, got {:?}", verdict.err()),
            Some(code) => {
                let d = verdict.err().unwrap_or_else(|| panic!("{stem}: expected deny {code}, got allow"));
                assert_eq!(d.code.as_str(), code, "{stem}: {}", d.detail);
            }
        }
        seen += 1;
    }
    assert_eq!(seen, fixtures::vectors().len());
}

#[test]
fn every_verify_code_has_a_vector() {
    use writ_core::DenialCode;
    let gate_only = [DenialCode::RecordFailed, DenialCode::Internal];
    let covered: std::collections::BTreeSet<_> = fixtures::vectors().iter().filter_map(|v| v.expected).collect();
    for code in DenialCode::ALL {
        assert!(covered.contains(&code) || gate_only.contains(&code), "no vector for `{code}`");
    }
}

/// docs/format.md §8 lists exactly the codes of `DenialCode`, in its order.
#[test]
fn the_denial_code_table_is_the_enum() {
    let doc = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/format.md")).unwrap();
    let section = doc.split("\n## 8. Denial codes").nth(1).unwrap().split("\n## ").next().unwrap();
    let mut documented = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cell = line.split('|').nth(1).unwrap();
        documented.extend(cell.split('/').map(|c| c.trim().trim_matches('`').to_owned()));
    }
    let names: Vec<String> = writ_core::DenialCode::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    assert_eq!(documented, names, "docs/format.md §8 and `DenialCode::ALL` differ");
}

/// `testdata/status/`: each response gets the outcome written beside it
/// (`docs/format.md` §14: only the writ's issuer key, inside its window).
#[test]
fn every_status_vector_gives_its_expected_outcome() {
    regenerate_if_asked();
    let dir = testdata().join("../status");
    let mut seen = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(stem) = name.strip_suffix(".expected.json") else { continue };
        let e: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let trust = TrustRoot::from_json(&fs::read(dir.join(e["trust"].as_str().unwrap())).unwrap()).unwrap();
        let response = fs::read(dir.join(format!("{stem}.status.json"))).unwrap();
        let issuer = writ_core::KeyId::parse(e["issuer"].as_str().unwrap()).unwrap();
        let digest = writ_core::Sha256Digest::from_hex(e["envelope_sha256"].as_str().unwrap()).unwrap();
        let got = writ_core::status::open(
            &response,
            &trust,
            &issuer,
            e["writ_id"].as_str().unwrap(),
            &digest,
            e["nonce"].as_str(),
        );
        match e["code"].as_str() {
            None => assert!(got.is_ok(), "{stem}: expected accept, got {:?}", got.err()),
            Some(code) => assert_eq!(got.err().map(|d| d.code.as_str()), Some(code), "{stem}"),
        }
        seen += 1;
    }
    assert_eq!(seen, fixtures::status_vectors().len());
}
