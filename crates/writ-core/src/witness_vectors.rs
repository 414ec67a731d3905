//! Test vectors of the witness policy (`docs/format.md` §12 (d)): the
//! fixtures' ledger key requires 2 of 3 witnesses (`trust-witnessed.json`),
//! and the fixture writ is presented with receipts whose checkpoint carries
//! enough, too few, foreign or stale C2SP `tlog-cosignature` lines.

#![allow(clippy::missing_panics_doc, clippy::expect_used, reason = "fixtures are test support built from constants")]

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use writ_tlog::cosig::Cosigner;
use writ_tlog::tlog_proof::TlogProof;

use crate::denial::DenialCode;
use crate::fixtures::{LEDGER_NAME, Vector, key, predicate, receipt_for, run_context, sign, trust_root};
use crate::spec::ContextSpec;
use crate::trust::TrustRoot;
use crate::witness::WitnessFile;

/// Witness `n` (1..=3 are in the policy, others are not), public test seed `50 + n`.
#[must_use]
pub fn witness(n: u8) -> Cosigner {
    Cosigner::new(&alloc::format!("witness{n}.writ.example"), key(50 + n).as_dalek().clone()).expect("key name")
}

/// [`trust_root`] with receipts required and the ledger key's checkpoints
/// needing 2 of witnesses 1, 2 and 3 (`trust-witnessed.json`).
#[must_use]
pub fn trust_root_witnessed() -> TrustRoot {
    let mut file = trust_root(true).file().clone();
    let ledger = file.keys.iter_mut().find(|k| k.name == LEDGER_NAME).expect("the fixtures list the ledger key");
    ledger.witnesses = (1..=3)
        .map(|n| {
            let w = witness(n);
            WitnessFile { name: w.verifier().name().into(), key: alloc::format!("{}", w.verifier()), url: None }
        })
        .collect();
    ledger.witness_quorum = Some(2);
    TrustRoot::from_file(file).expect("the fixture witness policy is valid")
}

/// Every witness vector.
#[must_use]
pub fn vectors() -> Vec<Vector> {
    let p = predicate();
    let env = sign(p.clone());
    let bare = String::from_utf8(receipt_for(&env, &p)).expect("text");
    let proof = TlogProof::parse(bare.as_bytes()).expect("fixture receipt");
    let text = writ_tlog::note::parse(&proof.checkpoint).expect("fixture note").text;
    let at = u64::try_from(p.issued_at.0).expect("after 1970") + 10;
    let line = |n: u8, t: &str, ts: u64| witness(n).cosign(t, ts).expect("timestamp in range");
    let with =
        |lines: &[String]| ContextSpec { receipt: Some(alloc::format!("{bare}{}", lines.concat())), ..run_context() };
    // A checkpoint of the same log at another size, for a copied cosignature.
    let other = writ_tlog::checkpoint::Checkpoint::new(LEDGER_NAME, 2, [7; 32]).to_text();
    let v = |name, description, context, expected| Vector {
        name,
        description,
        envelope: env.clone(),
        trust: "trust-witnessed.json",
        context,
        expected,
    };
    vec![
        v(
            "allow_witnessed_receipt",
            "a receipt whose checkpoint two of the three witnesses cosigned",
            with(&[line(1, &text, at), line(3, &text, at + 1)]),
            None,
        ),
        v(
            "deny_witness_quorum_missing",
            "the log's signature alone, no cosignature",
            with(&[]),
            Some(DenialCode::WitnessQuorum),
        ),
        v(
            "deny_witness_quorum_one",
            "one witness of the two required",
            with(&[line(2, &text, at)]),
            Some(DenialCode::WitnessQuorum),
        ),
        v(
            "deny_witness_quorum_unlisted",
            "cosignatures by witnesses the trust root does not list do not count",
            with(&[line(4, &text, at), line(5, &text, at), line(1, &text, at)]),
            Some(DenialCode::WitnessQuorum),
        ),
        v(
            "deny_witness_quorum_same_twice",
            "one witness's two cosignatures count once",
            with(&[line(1, &text, at), line(1, &text, at + 5)]),
            Some(DenialCode::WitnessQuorum),
        ),
        v(
            "deny_witness_stale_copied",
            "a cosignature of another checkpoint of the log copied onto this one",
            with(&[line(1, &other, at), line(2, &text, at)]),
            Some(DenialCode::WitnessStale),
        ),
        v(
            "deny_witness_stale_before_issuance",
            "cosignatures dated more than 300 s before the writ was issued",
            with(&[line(1, &text, at - 311), line(2, &text, at - 311)]),
            Some(DenialCode::WitnessStale),
        ),
    ]
}
