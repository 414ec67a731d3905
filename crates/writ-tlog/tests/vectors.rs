//! Published test vectors.
//!
//! Merkle vectors: transparency-dev/merkle, `testonly/constants.go` (leaf
//! inputs, root hashes for sizes 0..=8) and `proof/verify_test.go` (inclusion
//! and consistency proofs), which in turn derive from
//! google/certificate-transparency's RFC 6962 reference tests.
//! Signed-note vectors: the C2SP signed-note spec example
//! (<https://c2sp.org/signed-note>, "Verifier keys" → example) and the
//! `golang.org/x/mod/sumdb/note` package documentation (PeterNeumann key).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use writ_tlog::hash::{EMPTY_ROOT, Hash, leaf_hash};
use writ_tlog::note::{self, NoteSigner, VerifierKey};
use writ_tlog::proof::{verify_consistency, verify_inclusion};
use writ_tlog::tree::{self, Frontier};
use writ_tlog::{TlogError, checkpoint::Checkpoint, tile::Tile, tlog_proof::TlogProof};

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn leaves() -> Vec<Vec<u8>> {
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
        .iter()
        .map(|s| hex::decode(s).unwrap())
        .collect()
}

fn roots() -> Vec<Hash> {
    [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    .iter()
    .map(|s| h(s))
    .collect()
}

/// In-memory stored hashes for the vector tree, to exercise proof generation.
fn stored(leaves: &[Vec<u8>]) -> Vec<Hash> {
    let mut f = Frontier::new();
    let mut out = Vec::new();
    for l in leaves {
        for (i, hash) in f.append(leaf_hash(l)) {
            assert_eq!(i as usize, out.len(), "stored hashes are written contiguously");
            out.push(hash);
        }
    }
    out
}

fn read(store: &[Hash]) -> impl FnOnce(&[u64]) -> Result<Vec<Hash>, TlogError> + '_ {
    move |ix| Ok(ix.iter().map(|&i| store[i as usize]).collect())
}

#[test]
fn empty_root_and_roots_by_size() {
    assert_eq!(EMPTY_ROOT, roots()[0]);
    let mut f = Frontier::new();
    assert_eq!(f.root(), roots()[0]);
    for (i, l) in leaves().iter().enumerate() {
        f.append(leaf_hash(l));
        assert_eq!(f.root(), roots()[i + 1], "root of size {}", i + 1);
    }
    let st = stored(&leaves());
    for n in 0..=8u64 {
        assert_eq!(tree::tree_root(n, read(&st)).unwrap(), roots()[n as usize]);
    }
}

#[test]
fn inclusion_vectors() {
    // (leaf index (1-based in the Go table), size, proof)
    let cases: Vec<(u64, u64, Vec<Hash>)> = vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (3, 3, vec![h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
        (
            2,
            5,
            vec![
                h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
    ];
    let lv = leaves();
    let st = stored(&lv);
    for (leaf1, size, proof) in cases {
        let idx = leaf1 - 1;
        let lh = leaf_hash(&lv[idx as usize]);
        let root = roots()[size as usize];
        verify_inclusion(idx, size, &lh, &proof, &root).unwrap();
        // our generator produces exactly the published proof
        assert_eq!(tree::inclusion_proof(idx, size, read(&st)).unwrap(), proof);
        // corruptions (as in verify_test.go) fail
        assert!(verify_inclusion(idx + 1, size, &lh, &proof, &root).is_err());
        assert!(verify_inclusion(idx, size * 2, &lh, &proof, &root).is_err());
        assert!(verify_inclusion(idx, size, &lh, &proof, &EMPTY_ROOT).is_err());
        assert!(verify_inclusion(idx, size, &leaf_hash(b"WrongLeaf"), &proof, &root).is_err());
        let mut longer = proof.clone();
        longer.push(root);
        assert!(verify_inclusion(idx, size, &lh, &longer, &root).is_err());
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i][0] ^= 8;
            assert!(verify_inclusion(idx, size, &lh, &p, &root).is_err());
        }
        if !proof.is_empty() {
            assert!(verify_inclusion(idx, size, &lh, &proof[..proof.len() - 1], &root).is_err());
        }
    }
    assert!(matches!(verify_inclusion(0, 0, &EMPTY_ROOT, &[], &EMPTY_ROOT), Err(TlogError::IndexOutOfRange { .. })));
}

#[test]
fn consistency_vectors() {
    let cases: Vec<(u64, u64, Vec<Hash>)> = vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            5,
            vec![
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
        (
            6,
            7,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
    ];
    let st = stored(&leaves());
    let r = roots();
    for (s1, s2, proof) in cases {
        let (r1, r2) = (r[s1 as usize], r[s2 as usize]);
        verify_consistency(s1, s2, &proof, &r1, &r2).unwrap();
        assert_eq!(tree::consistency_proof(s1, s2, read(&st)).unwrap(), proof, "{s1}->{s2}");
        if proof.is_empty() {
            continue;
        }
        assert!(verify_consistency(s1 - 1, s2, &proof, &r1, &r2).is_err());
        assert!(verify_consistency(s1 + 1, s2, &proof, &r1, &r2).is_err());
        assert!(verify_consistency(s1, s2 * 2, &proof, &r1, &r2).is_err());
        assert!(verify_consistency(s1, s2, &proof, &r2, &r1).is_err());
        assert!(verify_consistency(s1, s2, &[], &r1, &r2).is_err());
        assert!(verify_consistency(s1, s2, &proof[..proof.len() - 1], &r1, &r2).is_err());
        let mut p = proof.clone();
        p.insert(0, proof[0]);
        assert!(verify_consistency(s1, s2, &p, &r1, &r2).is_err());
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i][0] ^= 16;
            assert!(verify_consistency(s1, s2, &p, &r1, &r2).is_err());
        }
    }
    // sizes that are always consistent / never
    let (a, b) = (leaf_hash(b"1"), leaf_hash(b"2"));
    verify_consistency(0, 1, &[], &a, &b).unwrap();
    verify_consistency(1, 1, &[], &b, &b).unwrap();
    assert!(verify_consistency(1, 1, &[], &a, &b).is_err());
    assert!(verify_consistency(2, 1, &[], &a, &b).is_err());
    assert!(verify_consistency(0, 1, &[EMPTY_ROOT], &EMPTY_ROOT, &EMPTY_ROOT).is_err());
}

const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

#[test]
fn signed_note_spec_example() {
    let v = VerifierKey::parse(SPEC_VKEY).unwrap();
    assert_eq!(v.name(), "example.com/foo");
    assert_eq!(v.key_id(), 0x530d903a);
    assert_eq!(v.to_string(), SPEC_VKEY);
    let n = note::open(SPEC_NOTE.as_bytes(), std::slice::from_ref(&v)).unwrap();
    assert_eq!(n.text(), "This is an example message.\n");
    // tampering
    for bad in [
        SPEC_NOTE.replace("example message", "exbmple message"),
        SPEC_NOTE.replace("Uw2QOkn8", "Uw2QOkn9"),
        SPEC_NOTE.replace('\u{2014}', "-"),
        SPEC_NOTE.replace(".\n\n", ".\n"),
        SPEC_NOTE[..SPEC_NOTE.len() - 1].to_string(),
        SPEC_NOTE.replace("yaQM=", "yaQN="),
    ] {
        assert!(note::open(bad.as_bytes(), std::slice::from_ref(&v)).is_err(), "{bad:?}");
    }
    // bad verifier keys
    for bad in [
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a",
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ] {
        assert!(VerifierKey::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn signed_note_go_example_byte_exact() {
    // skey PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz
    let raw = STANDARD.decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz").unwrap();
    assert_eq!(raw[0], 1);
    let seed: [u8; 32] = raw[1..].try_into().unwrap();
    let signer = NoteSigner::new("PeterNeumann", ed25519_dalek::SigningKey::from_bytes(&seed)).unwrap();
    assert_eq!(signer.verifier().key_id(), 0xc74f20a3);
    assert_eq!(signer.verifier().to_string(), "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
    let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    let want = format!(
        "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    );
    assert_eq!(signer.sign(text).unwrap(), want);
}

#[test]
fn signed_note_trust_rules() {
    let a = NoteSigner::new("a.example/log", ed25519_dalek::SigningKey::from_bytes(&[1; 32])).unwrap();
    let b = NoteSigner::new("b.example/w", ed25519_dalek::SigningKey::from_bytes(&[2; 32])).unwrap();
    let text = "hello\n";
    let note_a = a.sign(text).unwrap();
    let both = format!("{note_a}{}", b.signature_line(text));
    // unknown key b is ignored
    assert_eq!(note::open(both.as_bytes(), &[a.verifier().clone()]).unwrap().verified_by().len(), 1);
    // no known key: reject
    assert_eq!(note::open(both.as_bytes(), &[]).unwrap_err(), TlogError::NoKnownSignature);
    let spec = VerifierKey::parse(SPEC_VKEY).unwrap();
    assert_eq!(note::open(note_a.as_bytes(), std::slice::from_ref(&spec)).unwrap_err(), TlogError::NoKnownSignature);
    // a known key's bad signature rejects even when another known key verifies
    let forged = b.signature_line("other text\n");
    let mixed = format!("{note_a}{forged}");
    assert!(matches!(
        note::open(mixed.as_bytes(), &[a.verifier().clone(), b.verifier().clone()]),
        Err(TlogError::BadSignature { .. })
    ));
    // 16 signature lines accepted
    let mut many = note_a.clone();
    for i in 0..15 {
        many.push_str(&format!("\u{2014} junk{i} AAAAAAAA\n"));
    }
    note::open(many.as_bytes(), &[a.verifier().clone()]).unwrap();
    assert!(a.sign("no newline").is_err());
    assert!(a.sign("blank\n\nline\n").is_err());
}

#[test]
fn checkpoint_roundtrip_and_strictness() {
    let c = Checkpoint::new("example.com/log", 8, roots()[8]);
    let text = c.to_text();
    assert_eq!(text, "example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
    assert_eq!(Checkpoint::parse(&text).unwrap(), c);
    for bad in [
        "example.com/log\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
        "example.com/log\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lg4/Nw7/RgQy=\n",
        "example.com/log\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lg4/Nw7/RgQyg=",
        "\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lg4/Nw7/RgQyg=\n",
        "example.com/log\n-8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lg4/Nw7/RgQyg=\n",
        "example.com/log\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lg4/Nw7/RgQyg=\n\n",
    ] {
        assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn tile_paths() {
    let t = Tile { level: Some(0), index: 1234067, width: 256 };
    assert_eq!(t.path(), "tile/0/x001/x234/067");
    assert_eq!(Tile::parse_path("tile/0/x001/x234/067").unwrap(), t);
    let p = Tile { level: None, index: 7, width: 5 };
    assert_eq!(p.path(), "tile/entries/007.p/5");
    assert_eq!(Tile::parse_path("tile/entries/007.p/5").unwrap(), p);
    assert_eq!(Tile { level: Some(1), index: 0, width: 3 }.path(), "tile/1/000.p/3");
    for bad in [
        "tile/0/x000/067",
        "tile/0/1234",
        "tile/0/67",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/05",
        "tile/9/000",
        "tiles/0/000",
        "tile/0/001/234",
        "tile/0/x001/x234/067/",
    ] {
        assert!(Tile::parse_path(bad).is_err(), "{bad}");
    }
}

#[test]
fn tlog_proof_roundtrip() {
    let signer = NoteSigner::new("example.com/log", ed25519_dalek::SigningKey::from_bytes(&[7; 32])).unwrap();
    let lv = leaves();
    let st = stored(&lv);
    let cp = Checkpoint::new("example.com/log", 8, roots()[8]).sign(&signer).unwrap();
    let proof = TlogProof {
        extra: Some(b"x".to_vec()),
        index: 5,
        hashes: tree::inclusion_proof(5, 8, read(&st)).unwrap(),
        checkpoint: cp.into_bytes(),
    };
    let bytes = proof.to_bytes();
    let parsed = TlogProof::parse(&bytes).unwrap();
    assert_eq!(parsed, proof);
    let v = parsed.verify_entry(&lv[5], "example.com/log", signer.verifier()).unwrap();
    assert_eq!(v.index, 5);
    assert!(parsed.verify_entry(&lv[4], "example.com/log", signer.verifier()).is_err());
    assert!(parsed.verify_entry(&lv[5], "other.example/log", signer.verifier()).is_err());
    let other = NoteSigner::new("example.com/log", ed25519_dalek::SigningKey::from_bytes(&[8; 32])).unwrap();
    assert!(parsed.verify_entry(&lv[5], "example.com/log", other.verifier()).is_err());
}
