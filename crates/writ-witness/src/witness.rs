//! The witness: C2SP `tlog-witness` `add-checkpoint`, decided in the order
//! the spec gives, and a C2SP `tlog-cosignature` (`cosignature/v1`) over
//! what it accepted.
//!
//! | answer | when |
//! |---|---|
//! | 400 | the body is not `old <size>\n`, ≤ 63 base64 hash lines, a blank line and a checkpoint note; or the old size is above the checkpoint's |
//! | 404 | the checkpoint's origin is not a log this witness serves |
//! | 403 | no signature by the log's configured key verifies |
//! | 409 | the old size is not the size this witness last cosigned (body: that size, `text/x.tlog.size`), or the same size with another root |
//! | 422 | the consistency proof does not verify (a fork or rewrite), or a size-0 checkpoint without the empty root |
//! | 200 | cosigned: the body is the cosignature line |
//!
//! Refusals 409 and 422 of a correctly signed checkpoint are kept in the
//! store: they are evidence that the log showed two views.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use writ_tlog::checkpoint::Checkpoint;
use writ_tlog::cosig::{CosignatureVerifier, Cosigner};
use writ_tlog::hash::EMPTY_ROOT;
use writ_tlog::note::{self, MAX_NOTE_SIZE, VerifierKey};
use writ_tlog::{Hash, proof};

use crate::store::{Store, StoreError, Write};

/// Most consistency-proof lines a request may carry (the spec's bound).
pub const MAX_PROOF_LINES: usize = 63;
/// Largest request body accepted.
pub const MAX_REQUEST: usize = MAX_NOTE_SIZE + 32 + MAX_PROOF_LINES * 46;
/// Content type of a 409 answer's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// A parsed `add-checkpoint` request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size the submitter believes this witness last cosigned.
    pub old: u64,
    /// Consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub note: Vec<u8>,
}

impl AddCheckpoint {
    /// The request body.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("old {}\n", self.old);
        for h in &self.proof {
            s.push_str(&STANDARD.encode(h));
            s.push('\n');
        }
        s.push('\n');
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.note);
        out
    }

    /// Parse a request body strictly.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn parse(body: &[u8]) -> Result<Self, &'static str> {
        if body.len() > MAX_REQUEST {
            return Err("request body is too large");
        }
        let mut rest = body;
        let mut line = || -> Result<&[u8], &'static str> {
            let i = rest.iter().position(|&b| b == b'\n').ok_or("every line must end with a newline")?;
            let (l, r) = rest.split_at(i);
            rest = r.get(1..).unwrap_or_default();
            Ok(l)
        };
        let first = std::str::from_utf8(line()?).map_err(|_| "the old size line is not text")?;
        let old = first.strip_prefix("old ").ok_or("the first line must be `old <size>`")?;
        if old.is_empty() || !old.bytes().all(|b| b.is_ascii_digit()) || (old.len() > 1 && old.starts_with('0')) {
            return Err("the old size must be decimal without leading zeros");
        }
        let old: u64 = old.parse().map_err(|_| "the old size does not fit in 64 bits")?;
        let mut proof = Vec::new();
        loop {
            let l = line()?;
            if l.is_empty() {
                break;
            }
            if proof.len() >= MAX_PROOF_LINES {
                return Err("more than 63 consistency proof lines");
            }
            let h: Hash = STANDARD
                .decode(l)
                .map_err(|_| "a consistency proof line is not standard base64")?
                .try_into()
                .map_err(|_| "a consistency proof line is not a 32-byte hash")?;
            proof.push(h);
        }
        Ok(Self { old, proof, note: rest.to_vec() })
    }
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// `Content-Type`, when there is a body.
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    fn text(status: u16, msg: &str) -> Self {
        Self { status, content_type: Some("text/plain; charset=utf-8"), body: format!("{msg}\n").into_bytes() }
    }
    fn size(status: u16, size: u64) -> Self {
        Self { status, content_type: Some(SIZE_CONTENT_TYPE), body: format!("{size}\n").into_bytes() }
    }
}

/// A witness: its key, the logs it serves and its durable state.
#[derive(Debug)]
pub struct Witness {
    cosigner: Cosigner,
    logs: BTreeMap<String, Vec<VerifierKey>>,
    store: Mutex<Store>,
}

enum Verdict {
    Cosign,
    /// Refused; `true` when the request is evidence of a second view (a
    /// failed proof, or another root at the same size), kept in the store.
    Refuse(Reply, bool),
}

impl Witness {
    /// A witness signing with `cosigner`, serving `logs` (origin and a key
    /// trusted to sign its checkpoints; an origin may be given several keys),
    /// keeping its state in `store`.
    #[must_use]
    pub fn new(cosigner: Cosigner, logs: Vec<(String, VerifierKey)>, store: Store) -> Self {
        let mut map: BTreeMap<String, Vec<VerifierKey>> = BTreeMap::new();
        for (origin, key) in logs {
            map.entry(origin).or_default().push(key);
        }
        Self { cosigner, logs: map, store: Mutex::new(store) }
    }

    /// The witness's public key.
    #[must_use]
    pub fn verifier(&self) -> &CosignatureVerifier {
        self.cosigner.verifier()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The latest size and root this witness cosigned for `origin`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn latest(&self, origin: &str) -> Result<Option<(u64, Hash)>, StoreError> {
        Ok(self.store().latest(origin)?.map(|c| (c.size, c.root)))
    }

    /// Refused requests kept as evidence for `origin`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn refused(&self, origin: &str) -> Result<u64, StoreError> {
        self.store().refused(origin)
    }

    /// Answer one `add-checkpoint` request body at time `now` (POSIX seconds).
    #[must_use]
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Reply {
        let req = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(e) => return Reply::text(400, e),
        };
        let parsed = match note::parse(&req.note) {
            Ok(n) => n,
            Err(e) => return Reply::text(400, &format!("the checkpoint note does not parse: {e}")),
        };
        let cp = match Checkpoint::parse(&parsed.text) {
            Ok(c) => c,
            Err(e) => return Reply::text(400, &format!("the checkpoint does not parse: {e}")),
        };
        let Some(keys) = self.logs.get(&cp.origin) else {
            return Reply::text(404, &format!("this witness does not witness the log `{}`", cp.origin));
        };
        if let Err(e) = note::open(&req.note, keys) {
            return Reply::text(403, &format!("the checkpoint is not signed by the log's key: {e}"));
        }
        if req.old > cp.size {
            return Reply::text(400, "the old size is above the checkpoint's size");
        }
        let text = parsed.text.as_str();
        let decided = self.store().transact(&cp.origin, now, |current| {
            let (known, known_root) = current.map_or((0, EMPTY_ROOT), |c| (c.size, c.root));
            match decide(&req, &cp, known, &known_root) {
                Verdict::Cosign => (Verdict::Cosign, Write::Cosign { size: cp.size, root: cp.root, note: &req.note }),
                Verdict::Refuse(r, true) => {
                    // Correctly signed, and a second view of the log: evidence.
                    let reason = String::from_utf8_lossy(&r.body).trim_end().to_string();
                    let status = r.status;
                    (Verdict::Refuse(r, true), Write::Refuse { status, reason, body })
                }
                Verdict::Refuse(r, false) => (Verdict::Refuse(r, false), Write::Nothing),
            }
        });
        match decided {
            Ok(Verdict::Cosign) => match self.cosigner.cosign(text, now) {
                Ok(line) => {
                    Reply { status: 200, content_type: Some("text/plain; charset=utf-8"), body: line.into_bytes() }
                }
                Err(e) => Reply::text(500, &format!("cannot cosign: {e}")),
            },
            Ok(Verdict::Refuse(r, _)) => r,
            Err(e) => Reply::text(500, &format!("the witness cannot read or write its state: {e}")),
        }
    }
}

/// The spec's checks against the latest cosigned `(known, known_root)`.
fn decide(req: &AddCheckpoint, cp: &Checkpoint, known: u64, known_root: &Hash) -> Verdict {
    if req.old != known {
        return Verdict::Refuse(Reply::size(409, known), false);
    }
    if cp.size == known {
        // Same size: the same tree again, or a fork of it.
        if cp.root != *known_root {
            if known == 0 {
                return Verdict::Refuse(
                    Reply::text(422, "a checkpoint of size 0 must have the empty tree's root"),
                    true,
                );
            }
            return Verdict::Refuse(Reply::size(409, known), true);
        }
        if !req.proof.is_empty() {
            return Verdict::Refuse(Reply::text(422, "the consistency proof between equal sizes must be empty"), false);
        }
        return Verdict::Cosign;
    }
    match proof::verify_consistency(req.old, cp.size, &req.proof, known_root, &cp.root) {
        Ok(()) => Verdict::Cosign,
        Err(e) => Verdict::Refuse(
            Reply::text(422, &format!("the consistency proof from size {known} does not verify: {e}")),
            true,
        ),
    }
}
