//! Property tests against a naive recursive model of RFC 9162 (MTH, PATH, PROOF).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

use proptest::prelude::*;
use writ_tlog::TlogError;
use writ_tlog::hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};
use writ_tlog::proof::{verify_consistency, verify_inclusion};
use writ_tlog::tree::{self, Frontier};

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => EMPTY_ROOT,
        1 => d[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = k_of(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn build(n: usize) -> (Vec<Hash>, Vec<Hash>) {
    let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&(i as u64).to_be_bytes())).collect();
    let mut f = Frontier::new();
    let mut stored = Vec::new();
    for l in &leaves {
        for (i, h) in f.append(*l) {
            assert_eq!(i as usize, stored.len());
            stored.push(h);
        }
    }
    assert_eq!(f.root(), mth(&leaves));
    (leaves, stored)
}

fn read(st: &[Hash]) -> impl FnOnce(&[u64]) -> Result<Vec<Hash>, TlogError> + '_ {
    move |ix| Ok(ix.iter().map(|&i| st[i as usize]).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn inclusion_matches_model(n in 1usize..300, m_frac in 0.0f64..1.0) {
        let (leaves, st) = build(n);
        let m = ((n as f64) * m_frac) as usize % n;
        let want = path(m, &leaves);
        let got = tree::inclusion_proof(m as u64, n as u64, read(&st)).unwrap();
        prop_assert_eq!(&got, &want);
        let root = mth(&leaves);
        prop_assert!(verify_inclusion(m as u64, n as u64, &leaves[m], &got, &root).is_ok());
        prop_assert!(verify_inclusion(m as u64, n as u64, &leaf_hash(b"x"), &got, &root).is_err());
        if n > 1 {
            prop_assert!(verify_inclusion(((m + 1) % n) as u64, n as u64, &leaves[m], &got, &root).is_err());
        }
        prop_assert_eq!(tree::tree_root(n as u64, read(&st)).unwrap(), root);
    }

    #[test]
    fn consistency_matches_model(n in 1usize..300, m_frac in 0.0f64..=1.0) {
        let (leaves, st) = build(n);
        let m = (((n as f64) * m_frac) as usize).clamp(1, n);
        let want = subproof(m, &leaves, true);
        let got = tree::consistency_proof(m as u64, n as u64, read(&st)).unwrap();
        prop_assert_eq!(&got, &want);
        let (r1, r2) = (mth(&leaves[..m]), mth(&leaves));
        prop_assert!(verify_consistency(m as u64, n as u64, &got, &r1, &r2).is_ok());
        if m < n {
            let mut bad = leaves.clone();
            bad[m - 1] = leaf_hash(b"rewritten");
            prop_assert!(verify_consistency(m as u64, n as u64, &got, &mth(&bad[..m]), &r2).is_err());
        }
    }

    #[test]
    fn frontier_rebuild(n in 0u64..2000) {
        let (_, st) = build(n as usize);
        let nodes = Frontier::nodes(n);
        let hashes: Vec<Hash> = nodes.iter().map(|x| st[x.stored_index() as usize]).collect();
        let f = Frontier::from_parts(n, hashes).unwrap();
        prop_assert_eq!(tree::stored_hash_count(n) as usize, st.len());
        let mut g = f.clone();
        g.append(leaf_hash(b"next"));
        prop_assert_eq!(g.size(), n + 1);
    }

    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = writ_tlog::note::parse(&data);
        let _ = writ_tlog::tlog_proof::TlogProof::parse(&data);
        if let Ok(s) = std::str::from_utf8(&data) {
            let _ = writ_tlog::checkpoint::Checkpoint::parse(s);
            let _ = writ_tlog::tile::Tile::parse_path(s);
            let _ = writ_tlog::note::VerifierKey::parse(s);
        }
        let _ = writ_tlog::tile::decode_bundle(&data);
    }

    #[test]
    fn tile_index_roundtrip(n in any::<u64>().prop_map(|x| x >> 8), w in 1u16..=256, l in 0u8..=5) {
        let t = writ_tlog::tile::Tile { level: Some(l), index: n, width: w };
        prop_assert_eq!(writ_tlog::tile::Tile::parse_path(&t.path()).unwrap(), t);
    }
}
