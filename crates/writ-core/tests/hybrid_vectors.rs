//! The `testdata/hybrid/` vectors: writs and receipts of the hybrid suite
//! `ed25519+ml-dsa-65` (valid, ML-DSA half stripped, halves swapped, wrong
//! suite pinned), regenerated here and diffed (CI fails on drift), then
//! verified against their expected verdicts. `tests/wasm/` runs the same
//! files through the WebAssembly build and demands the same verdicts.
//!
//! Regenerate after an intended change with
//! `WRIT_REGENERATE=1 cargo test -p writ-core --test hybrid_vectors`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::fs;
use std::path::{Path, PathBuf};

use writ_core::denial::DenialCode;
use writ_core::dsse::{self, IN_TOTO_PAYLOAD_TYPE};
use writ_core::fixtures::{self, LEDGER_NAME, NOW};
use writ_core::hybrid::{self, HybridSigningKey};
use writ_core::model::Predicate;
use writ_core::spec::ContextSpec;
use writ_core::tlog::{note, tlog_proof::TlogProof};
use writ_core::trust::TrustRootFile;
use writ_core::{Role, TrustRoot, b64, issue, verify};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/hybrid")
}

fn issuer() -> HybridSigningKey {
    HybridSigningKey::from_seeds(&[0x21; 32], &[0x22; 32])
}

fn ledger() -> HybridSigningKey {
    HybridSigningKey::from_seeds(&[0x31; 32], &[0x32; 32])
}

/// Someone else's ML-DSA-65 key (the attacker's half in a swap).
fn other_ml_dsa() -> HybridSigningKey {
    HybridSigningKey::from_seeds(&[0x41; 32], &[0x42; 32])
}

/// The fixture keys with the issuer `authority` and the ledger key replaced
/// by hybrid ones; `pinned_plain` lists the same two keys as plain Ed25519.
fn trust(pinned_plain: bool, receipts: bool) -> TrustRoot {
    let base = fixtures::trust_root(receipts);
    let mut file: TrustRootFile = base.file().clone();
    file.keys.retain(|k| k.name != "authority" && !k.roles.contains(&Role::Ledger));
    let mut issuer = issuer().key_entry("authority", vec![Role::Issuer], Vec::new());
    let mut ledger = ledger().key_entry(LEDGER_NAME, vec![Role::Ledger], Vec::new());
    if pinned_plain {
        for e in [&mut issuer, &mut ledger] {
            e.suite = None;
            e.ml_dsa_public_key = None;
        }
    }
    file.keys.insert(0, issuer);
    file.keys.push(ledger);
    TrustRoot::from_file(file).unwrap()
}

fn trust_files() -> Vec<(&'static str, TrustRoot)> {
    vec![
        ("trust-hybrid.json", trust(false, false)),
        ("trust-hybrid-receipts.json", trust(false, true)),
        ("trust-hybrid-pinned-plain.json", trust(true, false)),
    ]
}

fn predicate() -> Predicate {
    let mut p = fixtures::predicate();
    p.issuer = issuer().ed25519().key_id();
    p
}

fn payload(p: &Predicate) -> Vec<u8> {
    serde_json::to_vec(&issue::statement(p.clone())).unwrap()
}

fn signed(p: &Predicate) -> Vec<u8> {
    hybrid::sign_envelope(IN_TOTO_PAYLOAD_TYPE, &payload(p), &issuer()).unwrap()
}

/// `envelope` with its one signature replaced by `f(signature bytes)`.
fn resign(envelope: &[u8], f: impl FnOnce(Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    let mut env: dsse::Envelope = serde_json::from_slice(envelope).unwrap();
    let sig = b64::decode(&env.signatures[0].sig, 1 << 16).unwrap();
    env.signatures[0].sig = b64::encode(&f(sig));
    serde_json::to_vec(&env).unwrap()
}

/// The fixtures' receipt for `envelope`, its checkpoint signed by the
/// hybrid ledger key instead (both note lines); `lines` filters the lines.
fn receipt(envelope: &[u8], p: &Predicate, lines: impl Fn(&str, usize) -> String) -> String {
    let mut proof = TlogProof::parse(&fixtures::receipt_for(envelope, p)).unwrap();
    let text = note::parse(&proof.checkpoint).unwrap().text;
    let signed = ledger().note_signer(LEDGER_NAME).unwrap().sign(&text).unwrap();
    let (body, sigs) = signed.split_once("\n\n").unwrap();
    let sigs: String = sigs.split_inclusive('\n').enumerate().map(|(i, l)| lines(l, i)).collect();
    proof.checkpoint = format!("{body}\n\n{sigs}").into_bytes();
    String::from_utf8(proof.to_bytes()).unwrap()
}

struct Vector {
    name: &'static str,
    description: &'static str,
    envelope: Vec<u8>,
    trust: &'static str,
    context: ContextSpec,
    expected: Option<DenialCode>,
}

fn vectors() -> Vec<Vector> {
    let p = predicate();
    let good = signed(&p);
    let check = ContextSpec::check_at(NOW);
    let v = |name, description, envelope: &[u8], trust, context: &ContextSpec, expected| Vector {
        name,
        description,
        envelope: envelope.to_vec(),
        trust,
        context: context.clone(),
        expected,
    };
    let mut other = predicate();
    other.id = "01940000-0000-7000-8000-0000000000f1".into();
    let other_sig =
        b64::decode(&serde_json::from_slice::<dsse::Envelope>(&signed(&other)).unwrap().signatures[0].sig, 1 << 16)
            .unwrap();
    let attacker_pq = other_ml_dsa().ml_dsa().sign(&dsse::pae(IN_TOTO_PAYLOAD_TYPE, &payload(&p))).unwrap();
    // The ML-DSA half as a DSSE signature of its own beside the Ed25519 one.
    let split = {
        let mut env: dsse::Envelope = serde_json::from_slice(&good).unwrap();
        let sig = b64::decode(&env.signatures[0].sig, 1 << 16).unwrap();
        env.signatures[0].sig = b64::encode(&sig[..64]);
        let mut second = env.signatures[0].clone();
        second.sig = b64::encode(&sig[64..]);
        env.signatures.push(second);
        serde_json::to_vec(&env).unwrap()
    };
    let with_receipt = ContextSpec { receipt: Some(receipt(&good, &p, |l, _| l.to_string())), ..check.clone() };
    let receipt_stripped = ContextSpec {
        receipt: Some(receipt(&good, &p, |l, i| if i == 0 { l.to_string() } else { String::new() })),
        ..check.clone()
    };
    // The ML-DSA line of the checkpoint of another tree swapped in.
    let foreign_line = {
        let r = receipt(&signed(&other), &other, |l, _| l.to_string());
        let proof = TlogProof::parse(r.as_bytes()).unwrap();
        let cp = String::from_utf8(proof.checkpoint).unwrap();
        cp.split_inclusive('\n').next_back().unwrap().to_string()
    };
    let receipt_swapped = ContextSpec {
        receipt: Some(receipt(&good, &p, |l, i| if i == 1 { foreign_line.clone() } else { l.to_string() })),
        ..check.clone()
    };
    vec![
        v(
            "allow_hybrid",
            "an ed25519+ml-dsa-65 issuer key's writ, both halves valid",
            &good,
            "trust-hybrid.json",
            &check,
            None,
        ),
        v(
            "allow_hybrid_with_receipt",
            "its receipt, the checkpoint signed by the hybrid ledger key (Ed25519 and ML-DSA-65 note lines)",
            &good,
            "trust-hybrid-receipts.json",
            &with_receipt,
            None,
        ),
        v(
            "deny_hybrid_stripped",
            "the ML-DSA-65 half stripped: a plain Ed25519 signature by a key the trust root pins as hybrid",
            &resign(&good, |s| s[..64].to_vec()),
            "trust-hybrid.json",
            &check,
            Some(DenialCode::SuiteMismatch),
        ),
        v(
            "deny_hybrid_split",
            "the ML-DSA-65 half carried as a second DSSE signature (not a signature of either suite)",
            &split,
            "trust-hybrid.json",
            &check,
            Some(DenialCode::Malformed),
        ),
        v(
            "deny_hybrid_ml_dsa_swapped",
            "the ML-DSA-65 half of the same key's signature of another writ swapped in",
            &resign(&good, |s| [&s[..64], &other_sig[64..]].concat()),
            "trust-hybrid.json",
            &check,
            Some(DenialCode::BadSignature),
        ),
        v(
            "deny_hybrid_ml_dsa_other_key",
            "a valid ML-DSA-65 signature of this writ by another key swapped in",
            &resign(&good, |s| [&s[..64], &attacker_pq[..]].concat()),
            "trust-hybrid.json",
            &check,
            Some(DenialCode::BadSignature),
        ),
        v(
            "deny_hybrid_ed25519_swapped",
            "the Ed25519 half of another writ's signature swapped in",
            &resign(&good, |s| [&other_sig[..64], &s[64..]].concat()),
            "trust-hybrid.json",
            &check,
            Some(DenialCode::BadSignature),
        ),
        v(
            "deny_hybrid_wrong_suite",
            "a hybrid signature by a key the trust root pins as plain Ed25519 (the suite is never read from the writ)",
            &good,
            "trust-hybrid-pinned-plain.json",
            &check,
            Some(DenialCode::SuiteMismatch),
        ),
        v(
            "deny_hybrid_receipt_stripped",
            "the receipt's checkpoint without its ML-DSA-65 line",
            &good,
            "trust-hybrid-receipts.json",
            &receipt_stripped,
            Some(DenialCode::ReceiptInvalid),
        ),
        v(
            "deny_hybrid_receipt_swapped",
            "the receipt's checkpoint with the ML-DSA-65 line of another checkpoint",
            &good,
            "trust-hybrid-receipts.json",
            &receipt_swapped,
            Some(DenialCode::ReceiptInvalid),
        ),
    ]
}

/// The expected-verdict file, fields in alphabetical order (as
/// `testdata/writs/`, so that `tests/wasm/` reads both alike).
#[derive(serde::Serialize)]
struct Expected<'a> {
    code: Option<&'static str>,
    context: &'a ContextSpec,
    description: &'static str,
    trust: &'static str,
    verdict: &'static str,
}

fn files() -> Vec<(PathBuf, Vec<u8>)> {
    let d = dir();
    let mut out: Vec<(PathBuf, Vec<u8>)> =
        trust_files().into_iter().map(|(n, t)| (d.join(n), (t.to_json_pretty() + "\n").into_bytes())).collect();
    for v in vectors() {
        let mut e = serde_json::to_string_pretty(&Expected {
            code: v.expected.map(DenialCode::as_str),
            context: &v.context,
            description: v.description,
            trust: v.trust,
            verdict: if v.expected.is_some() { "deny" } else { "allow" },
        })
        .unwrap();
        e.push('\n');
        out.push((d.join(format!("{}.writ.json", v.name)), v.envelope));
        out.push((d.join(format!("{}.expected.json", v.name)), e.into_bytes()));
    }
    out
}

fn regenerate_if_asked() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("WRIT_REGENERATE").is_some() {
            fs::create_dir_all(dir()).unwrap();
            for (path, bytes) in files() {
                fs::write(&path, &bytes).unwrap();
            }
        }
    });
}

#[test]
fn hybrid_vectors_match_the_generator() {
    regenerate_if_asked();
    let drift: Vec<String> = files()
        .into_iter()
        .filter(|(path, bytes)| fs::read(path).ok().as_deref() != Some(&bytes[..]))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        drift.is_empty(),
        "hybrid vectors drifted; if intended, run `WRIT_REGENERATE=1 cargo test -p writ-core --test hybrid_vectors` and commit: {drift:#?}"
    );
}

#[test]
fn every_hybrid_vector_file_gives_its_expected_verdict() {
    regenerate_if_asked();
    let d = dir();
    let mut seen = 0;
    for entry in fs::read_dir(&d).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(stem) = name.strip_suffix(".expected.json") else { continue };
        let expected: serde_json::Value = serde_json::from_slice(&fs::read(d.join(&name)).unwrap()).unwrap();
        let trust = TrustRoot::from_json(&fs::read(d.join(expected["trust"].as_str().unwrap())).unwrap()).unwrap();
        let spec: ContextSpec = serde_json::from_value(expected["context"].clone()).unwrap();
        let verdict =
            verify(&fs::read(d.join(format!("{stem}.writ.json"))).unwrap(), &trust, &spec.to_context().unwrap());
        match expected["code"].as_str() {
            None => assert!(verdict.is_ok(), "{stem}: expected allow, got {:?}", verdict.err()),
            Some(code) => {
                let got = verdict.err().unwrap_or_else(|| panic!("{stem}: expected deny {code}, got allow"));
                assert_eq!(got.code.as_str(), code, "{stem}: {}", got.detail);
            }
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} hybrid vectors");
}

#[test]
fn a_trust_root_without_hybrid_keys_is_byte_identical() {
    // The optional fields are omitted for plain keys: the fixtures' trust
    // root serializes exactly as before (no `suite`, no `ml_dsa_public_key`).
    let json = fixtures::trust_root(false).to_json_pretty();
    assert!(!json.contains("suite") && !json.contains("ml_dsa"));
    let hybrid = trust(false, false).to_json_pretty();
    assert!(hybrid.contains("\"suite\": \"ed25519+ml-dsa-65\""));
}

#[test]
fn the_trust_root_refuses_inconsistent_suites() {
    let mut file = trust(false, false).file().clone();
    let i = file.keys.iter().position(|k| k.suite.is_some()).unwrap();
    let mut no_key = file.clone();
    no_key.keys[i].ml_dsa_public_key = None;
    assert!(TrustRoot::from_file(no_key).unwrap_err().to_string().contains("needs ml_dsa_public_key"));
    let mut no_suite = file.clone();
    no_suite.keys[i].suite = None;
    assert!(TrustRoot::from_file(no_suite).unwrap_err().to_string().contains("needs `suite`"));
    let mut approver = file.clone();
    approver.keys[i].roles.push(Role::Approver);
    assert!(TrustRoot::from_file(approver).unwrap_err().to_string().contains("issuer and ledger keys only"));
    file.keys[i].ml_dsa_public_key = Some(b64::encode(&[0u8; 100]));
    assert!(TrustRoot::from_file(file).unwrap_err().to_string().contains("1952 bytes"));
}
