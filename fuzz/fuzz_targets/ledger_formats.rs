//! The ledger's parsers on arbitrary bytes: entries, signed notes,
//! checkpoints, tlog-proofs, tile paths and entry bundles. None may panic;
//! an entry that decodes must re-encode to the same bytes (canonical form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use writ_core::entry::Entry;
use writ_core::tlog::{checkpoint::Checkpoint, note, tile, tlog_proof::TlogProof};

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Entry::decode(data) {
        assert_eq!(e.encode().expect("a decoded entry re-encodes"), data, "entry encoding is canonical");
    }
    let _ = note::parse(data);
    let _ = TlogProof::parse(data);
    let _ = tile::decode_bundle(data);
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(c) = Checkpoint::parse(text) {
            assert_eq!(Checkpoint::parse(&c.to_text()).expect("re-parses"), c);
        }
        let _ = tile::Tile::parse_path(text);
        let _ = note::VerifierKey::parse(text);
    }
});
