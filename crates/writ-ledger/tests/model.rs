//! Model test: random appends, restarts and reads against a naive model (a
//! `Vec` of entries and the recursive RFC 9162 root).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "test code")]

mod common;

use common::{Backend, ORIGIN};
use proptest::prelude::*;
use writ_ledger::writ_tlog::checkpoint;
use writ_ledger::writ_tlog::hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};
use writ_ledger::writ_tlog::proof::{verify_consistency, verify_inclusion};

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => EMPTY_ROOT,
        1 => d[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    Reopen,
    Prove(usize),
    Consistency(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Op::Append),
        1 => Just(Op::Reopen),
        2 => any::<usize>().prop_map(Op::Prove),
        2 => any::<usize>().prop_map(Op::Consistency),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn ledger_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let b = Backend::sqlite();
        let mut ledger = Some(b.open(1));
        let mut model: Vec<Vec<u8>> = Vec::new();
        let mut roots = vec![EMPTY_ROOT];
        for op in ops {
            let l = ledger.as_ref().unwrap();
            match op {
                Op::Append(e) => {
                    let i = l.append(e.clone()).unwrap();
                    prop_assert_eq!(i, model.len() as u64);
                    model.push(e);
                    let leaves: Vec<Hash> = model.iter().map(|e| leaf_hash(e)).collect();
                    roots.push(mth(&leaves));
                }
                Op::Reopen => {
                    drop(ledger.take());
                    ledger = Some(b.open(1));
                }
                Op::Prove(k) if !model.is_empty() => {
                    let i = k % model.len();
                    let n = model.len() as u64;
                    let p = l.inclusion_proof(i as u64, n).unwrap();
                    prop_assert!(verify_inclusion(i as u64, n, &leaf_hash(&model[i]), &p, &roots[model.len()]).is_ok());
                    prop_assert_eq!(l.entry(i as u64).unwrap(), model[i].clone());
                }
                Op::Consistency(k) => {
                    let n = model.len();
                    let m = k % (n + 1);
                    let p = l.consistency_proof(m as u64, n as u64).unwrap();
                    prop_assert!(verify_consistency(m as u64, n as u64, &p, &roots[m], &roots[n]).is_ok());
                }
                Op::Prove(_) => {}
            }
            let l = ledger.as_ref().unwrap();
            let cp = l.latest_checkpoint();
            prop_assert_eq!(cp.checkpoint.size, model.len() as u64);
            prop_assert_eq!(cp.checkpoint.root, roots[model.len()]);
            prop_assert!(checkpoint::open(cp.note.as_bytes(), ORIGIN, l.verifier()).is_ok());
        }
    }
}
