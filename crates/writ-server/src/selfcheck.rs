//! Self-verification: the server checks its own log the way a stranger
//! would, continuously, and counts what fails (it must stay 0).
//!
//! Each round ([`SelfCheck::run`]) gathers a [`Sample`] from the ledger —
//! the newest signed checkpoint note, the entries and inclusion proofs of
//! the newest index and of one more index that walks the whole tree round
//! after round, and a consistency proof from the checkpoint the previous
//! round verified — and verifies it with writ-tlog against the ledger keys
//! of the trust root in force ([`SelfCheck::verify`]), never with the
//! ledger's own signer. A failure is counted by check, and its message is
//! kept for the health page.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use writ_core::{Role, Timestamp, TrustRoot};
use writ_ledger::Ledger;
use writ_ledger::writ_tlog::checkpoint::{self, Checkpoint};
use writ_ledger::writ_tlog::hash::Hash;
use writ_ledger::writ_tlog::note::VerifierKey;
use writ_ledger::writ_tlog::proof::verify_consistency;
use writ_ledger::writ_tlog::tlog_proof::TlogProof;

/// What is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// The newest checkpoint's signature, by a ledger key of the trust root.
    Checkpoint,
    /// An entry's inclusion proof up to a signed checkpoint.
    Inclusion,
    /// The newest checkpoint extends the one verified before.
    Consistency,
}

impl Check {
    /// The stable name (a metric label).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Checkpoint => "checkpoint",
            Self::Inclusion => "inclusion",
            Self::Consistency => "consistency",
        }
    }
}

/// An entry and its inclusion proof, as the ledger served them.
#[derive(Debug, Clone)]
pub struct InclusionSample {
    /// The entry's index.
    pub index: u64,
    /// The entry's bytes.
    pub entry: Vec<u8>,
    /// Its tlog-proof (up to the checkpoint the ledger had then).
    pub proof: TlogProof,
}

/// What one round verifies, as the ledger served it.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The newest signed checkpoint note, byte for byte.
    pub note: Vec<u8>,
    /// Inclusion proofs.
    pub inclusions: Vec<InclusionSample>,
    /// A consistency proof from the previously verified checkpoint (its size)
    /// to the one in `note`, when there was one and the tree grew.
    pub consistency: Option<(u64, Vec<Hash>)>,
}

impl Sample {
    /// Gather a sample: the newest checkpoint, the newest entry, the entry
    /// at `cursor` (modulo the size), and a consistency proof from
    /// `previous` (a size verified before).
    ///
    /// # Errors
    /// Ledger read errors (counted by the caller as failures of the check).
    pub fn gather(ledger: &Ledger, previous: Option<u64>, cursor: u64) -> writ_ledger::Result<Self> {
        let cp = ledger.latest_checkpoint();
        let size = cp.checkpoint.size;
        let mut indices = Vec::new();
        if size > 0 {
            indices.push(size - 1);
            let walk = cursor % size;
            if walk != size - 1 {
                indices.push(walk);
            }
        }
        let mut inclusions = Vec::with_capacity(indices.len());
        for index in indices {
            inclusions.push(InclusionSample { index, entry: ledger.entry(index)?, proof: ledger.prove(index)? });
        }
        let consistency = match previous {
            Some(old) if old > 0 && old < size => Some((old, ledger.consistency_proof(old, size)?)),
            _ => None,
        };
        Ok(Self { note: cp.note.clone().into_bytes(), inclusions, consistency })
    }
}

#[derive(Debug, Default)]
struct State {
    runs: BTreeMap<Check, u64>,
    failures: BTreeMap<Check, u64>,
    last_failure: Option<(Timestamp, Check, String)>,
    last_run: Option<Timestamp>,
    /// The checkpoint the last successful round verified.
    verified: Option<Checkpoint>,
    cursor: u64,
}

/// The self-verification counters of one server.
#[derive(Debug, Default)]
pub struct SelfCheck {
    state: Mutex<State>,
}

/// The counters at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelfCheckView {
    /// Checks made, by check.
    pub runs: BTreeMap<&'static str, u64>,
    /// Checks failed, by check.
    pub failures: BTreeMap<&'static str, u64>,
    /// The last failure: when, which check, why.
    pub last_failure: Option<(Timestamp, &'static str, String)>,
    /// When the last round ran.
    pub last_run: Option<Timestamp>,
    /// The size of the newest checkpoint verified.
    pub verified_size: Option<u64>,
}

impl SelfCheckView {
    /// All failures.
    #[must_use]
    pub fn total_failures(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Prometheus lines.
    pub(crate) fn render(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "# HELP writ_selfcheck_runs_total Self-verification checks made, by check.\n# TYPE writ_selfcheck_runs_total counter"
        );
        for c in [Check::Checkpoint, Check::Inclusion, Check::Consistency] {
            let _ = writeln!(
                o,
                "writ_selfcheck_runs_total{{check=\"{}\"}} {}",
                c.as_str(),
                self.runs.get(c.as_str()).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(
            o,
            "# HELP writ_selfcheck_failures_total Self-verification checks that failed, by check (must be 0).\n# TYPE writ_selfcheck_failures_total counter"
        );
        for c in [Check::Checkpoint, Check::Inclusion, Check::Consistency] {
            let _ = writeln!(
                o,
                "writ_selfcheck_failures_total{{check=\"{}\"}} {}",
                c.as_str(),
                self.failures.get(c.as_str()).copied().unwrap_or(0)
            );
        }
        if let Some(t) = self.last_run {
            let _ = writeln!(
                o,
                "# HELP writ_selfcheck_last_run_timestamp_seconds When the last self-verification round ran.\n# TYPE writ_selfcheck_last_run_timestamp_seconds gauge\nwrit_selfcheck_last_run_timestamp_seconds {}",
                t.0
            );
        }
        if let Some(n) = self.verified_size {
            let _ = writeln!(
                o,
                "# HELP writ_selfcheck_verified_size Tree size of the newest checkpoint the server verified itself.\n# TYPE writ_selfcheck_verified_size gauge\nwrit_selfcheck_verified_size {n}"
            );
        }
    }
}

/// The ledger keys of `trust` as note verifiers (name = origin).
fn ledger_verifiers(trust: &TrustRoot) -> Vec<VerifierKey> {
    trust
        .keys()
        .iter()
        .filter(|k| k.has_role(Role::Ledger) && !k.entry.revoked)
        .filter_map(|k| VerifierKey::new(&k.entry.name, *k.key.as_dalek()).ok())
        .collect()
}

impl SelfCheck {
    /// One round over `ledger`, against `trust`.
    pub fn run(&self, ledger: &Ledger, trust: &TrustRoot, now: Timestamp) {
        let (previous, cursor) = {
            let mut g = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            g.cursor = g.cursor.wrapping_add(1);
            (g.verified.as_ref().map(|c| c.size), g.cursor)
        };
        match Sample::gather(ledger, previous, cursor) {
            Ok(s) => self.verify(trust, &s, now),
            Err(e) => self.count(Check::Checkpoint, Err(format!("the ledger could not be read: {e}")), now),
        }
    }

    /// Verify `sample` against `trust` and count each check.
    pub fn verify(&self, trust: &TrustRoot, sample: &Sample, now: Timestamp) {
        let verifiers = ledger_verifiers(trust);
        let opened = verifiers.iter().find_map(|v| checkpoint::open(&sample.note, v.name(), v).ok().map(|c| (c, v)));
        let Some((cp, verifier)) = opened else {
            let why = if verifiers.is_empty() {
                "the trust root lists no ledger key".to_string()
            } else {
                "the newest checkpoint does not verify with any ledger key of the trust root".to_string()
            };
            self.count(Check::Checkpoint, Err(why), now);
            return;
        };
        self.count(Check::Checkpoint, Ok(()), now);
        for inc in &sample.inclusions {
            let r = inc
                .proof
                .verify_entry(&inc.entry, &cp.origin, verifier)
                .map_err(|e| format!("entry {}: {e}", inc.index))
                .and_then(|v| {
                    if v.index == inc.index {
                        Ok(())
                    } else {
                        Err(format!("entry {}: the proof is for index {}", inc.index, v.index))
                    }
                });
            self.count(Check::Inclusion, r, now);
        }
        let previous = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).verified.clone();
        if let Some(old) = &previous {
            let r = if cp.size < old.size {
                Err(format!(
                    "rollback: the newest checkpoint has {} entries, {} were verified before",
                    cp.size, old.size
                ))
            } else if cp.size == old.size {
                if cp.root == old.root {
                    Ok(())
                } else {
                    Err(format!("fork: two checkpoints of size {} with different roots", cp.size))
                }
            } else {
                match &sample.consistency {
                    Some((from, proof)) if *from == old.size => {
                        verify_consistency(old.size, cp.size, proof, &old.root, &cp.root)
                            .map_err(|e| format!("checkpoint {} does not extend {}: {e}", cp.size, old.size))
                    }
                    _ => Err(format!("no consistency proof from size {} to {}", old.size, cp.size)),
                }
            };
            let ok = r.is_ok();
            self.count(Check::Consistency, r, now);
            if !ok {
                return;
            }
        }
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).verified = Some(cp);
    }

    fn count(&self, check: Check, r: Result<(), String>, now: Timestamp) {
        let mut g = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *g.runs.entry(check).or_default() += 1;
        g.last_run = Some(now);
        if let Err(why) = r {
            eprintln!("writ-server: self-verification failed ({}): {why}", check.as_str());
            *g.failures.entry(check).or_default() += 1;
            g.last_failure = Some((now, check, why));
        }
    }

    /// The counters.
    #[must_use]
    pub fn view(&self) -> SelfCheckView {
        let g = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        SelfCheckView {
            runs: g.runs.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
            failures: g.failures.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
            last_failure: g.last_failure.as_ref().map(|(t, c, w)| (*t, c.as_str(), w.clone())),
            last_run: g.last_run,
            verified_size: g.verified.as_ref().map(|c| c.size),
        }
    }
}
