//! The log side of C2SP `tlog-witness`: get a ledger's checkpoints cosigned
//! by the witnesses its trust root names, and keep the latest checkpoint
//! that carries a quorum of cosignatures.
//!
//! Witnessing is driven by the appenders that need it (like group commit):
//! a receipt asks [`Submitter`] (as [`Witnessing::witnessed`]) for a
//! cosigned checkpoint covering its entry; if none is known, one caller runs
//! a *round* for the ledger's latest checkpoint while the others wait for
//! it. A round sends `add-checkpoint` to every witness not still busy with
//! an earlier request, each with the consistency proof from the size that
//! witness last cosigned, and ends as soon as a quorum of valid
//! cosignatures is in (later ones are added to the checkpoint when they
//! arrive). A witness answering 409 teaches the size it holds, and the next
//! round (within the same bound) proves from there.
//!
//! Bound: a caller waits at most the submitter's timeout
//! ([`DEFAULT_TIMEOUT`] unless configured) in total; a slow or dead witness
//! costs no more than that, and a quorum of fast ones costs only their
//! latency. Without a quorum in time the receipt carries the bare checkpoint
//! and gates that require the quorum deny it (`witness_quorum`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use writ_ledger::witnessing::Witnessing;
use writ_ledger::{Ledger, SignedCheckpoint};
use writ_tlog::cosig::{self, CosignatureVerifier};

use crate::witness::{AddCheckpoint, SIZE_CONTENT_TYPE};

/// How long a receipt waits for cosignatures, at most, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest witness answer read.
const MAX_ANSWER: u64 = 64 * 1024;

/// One witness: where it takes submissions and its public key.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The submission prefix (`http://host:port`); `/add-checkpoint` is appended.
    pub url: String,
    /// Its cosignature key.
    pub verifier: CosignatureVerifier,
}

#[derive(Debug)]
struct Remote {
    endpoint: Endpoint,
    agent: ureq::Agent,
    /// The size this witness last cosigned, as far as we know.
    known: Mutex<Option<u64>>,
    /// A request to it is in flight.
    busy: AtomicBool,
    /// Its last failure, for operators.
    last_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What one witness answered.
#[derive(Debug)]
enum Answer {
    /// A valid cosignature line (with its newline).
    Cosigned(String),
    /// 409: it holds another size.
    Conflict(u64),
    /// Anything else.
    Failed(String),
}

impl Remote {
    fn post(&self, body: Vec<u8>, text: &str, timeout: Duration) -> Answer {
        let url = format!("{}/add-checkpoint", self.endpoint.url.trim_end_matches('/'));
        let sent = self
            .agent
            .post(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("content-type", "text/plain; charset=utf-8")
            .send(&body[..]);
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => return Answer::Failed(format!("cannot reach witness `{url}`: {e}")),
        };
        let status = resp.status().as_u16();
        let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let bytes = match resp.body_mut().with_config().limit(MAX_ANSWER).read_to_vec() {
            Ok(b) => b,
            Err(e) => return Answer::Failed(format!("witness `{url}`: unreadable answer: {e}")),
        };
        let answer = String::from_utf8_lossy(&bytes);
        match status {
            200 => self.cosignature(&answer, text).map_or_else(
                || Answer::Failed(format!("witness `{url}` answered 200 without a valid cosignature by its key")),
                Answer::Cosigned,
            ),
            409 if ctype.starts_with(SIZE_CONTENT_TYPE) => match answer.trim_end_matches('\n').parse::<u64>() {
                Ok(n) => Answer::Conflict(n),
                Err(_) => Answer::Failed(format!("witness `{url}` answered 409 without a tree size")),
            },
            s => Answer::Failed(format!("witness `{url}` refused the checkpoint ({s}): {}", answer.trim_end())),
        }
    }

    /// The first line of `answer` that is this witness's valid cosignature of `text`.
    fn cosignature(&self, answer: &str, text: &str) -> Option<String> {
        let v = core::slice::from_ref(&self.endpoint.verifier);
        answer.split_terminator('\n').find_map(|line| {
            // A note of the checkpoint text with just this line: parse and verify it.
            let note = format!("{text}\n{line}\n");
            match cosig::cosignatures(note.as_bytes(), v) {
                Ok(found) if !found.is_empty() => Some(format!("{line}\n")),
                _ => None,
            }
        })
    }
}

#[derive(Debug, Default)]
struct State {
    /// The latest checkpoint with a quorum of cosignatures.
    latest: Option<Arc<SignedCheckpoint>>,
    /// Names of the witnesses whose lines `latest` carries.
    names: Vec<String>,
    /// A round is running.
    running: bool,
}

#[derive(Debug)]
struct Inner {
    remotes: Vec<Arc<Remote>>,
    quorum: usize,
    timeout: Duration,
    state: Mutex<State>,
    cv: Condvar,
}

/// How a round ended.
enum Round {
    /// A quorum cosigned this checkpoint.
    Quorum(Arc<SignedCheckpoint>),
    /// No quorum, but a witness told us its size: worth another round.
    Retry,
    /// No quorum.
    Failed(String),
}

/// Gets a ledger's checkpoints witnessed (see the module docs).
#[derive(Debug, Clone)]
pub struct Submitter {
    inner: Arc<Inner>,
}

impl Submitter {
    /// A submitter to `witnesses` needing `quorum` cosignatures, waiting at
    /// most `timeout` per receipt.
    #[must_use]
    pub fn new(witnesses: Vec<Endpoint>, quorum: usize, timeout: Duration) -> Self {
        let remotes = witnesses
            .into_iter()
            .map(|endpoint| {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .max_redirects(0)
                    .timeout_global(Some(timeout))
                    .build()
                    .into();
                Arc::new(Remote {
                    endpoint,
                    agent,
                    known: Mutex::new(None),
                    busy: AtomicBool::new(false),
                    last_error: Mutex::new(None),
                })
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                remotes,
                quorum,
                timeout,
                state: Mutex::new(State::default()),
                cv: Condvar::new(),
            }),
        }
    }

    /// Get the ledger's latest checkpoint cosigned now (used at start-up
    /// and by tests), within the timeout.
    ///
    /// # Errors
    /// Why no quorum cosigned it: each witness's failure.
    pub fn witness_now(&self, ledger: &Ledger) -> Result<Arc<SignedCheckpoint>, String> {
        let size = ledger.size();
        self.wait_for(ledger, size)
    }

    /// The last failure of each witness that failed (name, error).
    #[must_use]
    pub fn failures(&self) -> Vec<(String, String)> {
        self.inner
            .remotes
            .iter()
            .filter_map(|r| lock(&r.last_error).clone().map(|e| (r.endpoint.verifier.name().to_string(), e)))
            .collect()
    }

    fn wait_for(&self, ledger: &Ledger, size: u64) -> Result<Arc<SignedCheckpoint>, String> {
        let inner = &self.inner;
        let deadline = Instant::now() + inner.timeout;
        let mut st = lock(&inner.state);
        loop {
            if let Some(c) = st.latest.as_ref().filter(|c| c.checkpoint.size >= size) {
                return Ok(c.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("no quorum of {} witnesses cosigned in {:?}", inner.quorum, inner.timeout));
            }
            if st.running {
                st = inner.cv.wait_timeout(st, deadline - now).map_or_else(|p| p.into_inner().0, |(g, _)| g);
                continue;
            }
            st.running = true;
            drop(st);
            let round = self.round(ledger, deadline);
            st = lock(&inner.state);
            st.running = false;
            inner.cv.notify_all();
            match round {
                Round::Quorum(c) if c.checkpoint.size >= size => return Ok(c),
                Round::Quorum(_) | Round::Retry => {}
                Round::Failed(e) => return Err(e),
            }
        }
    }

    /// One round for the ledger's latest checkpoint (see the module docs).
    fn round(&self, ledger: &Ledger, deadline: Instant) -> Round {
        let inner = &self.inner;
        let cp = ledger.latest_checkpoint();
        let text = cp.checkpoint.to_text();
        let (tx, rx) = mpsc::channel::<(usize, Answer)>();
        let mut sent = 0usize;
        let mut errors: Vec<String> = Vec::new();
        for (i, r) in inner.remotes.iter().enumerate() {
            if r.busy.swap(true, Ordering::AcqRel) {
                errors.push(format!("witness `{}` is still answering an earlier request", r.endpoint.verifier.name()));
                continue;
            }
            let old = lock(&r.known).unwrap_or(0);
            let proof = if old == 0 || old > cp.checkpoint.size {
                Ok(Vec::new())
            } else {
                ledger.consistency_proof(old, cp.checkpoint.size).map_err(|e| e.to_string())
            };
            let proof = match proof {
                Ok(p) if old <= cp.checkpoint.size => p,
                Ok(_) => {
                    r.busy.store(false, Ordering::Release);
                    let e = format!(
                        "witness `{}` cosigned size {old}, beyond this log's {}: the log was rolled back",
                        r.endpoint.verifier.name(),
                        cp.checkpoint.size
                    );
                    *lock(&r.last_error) = Some(e.clone());
                    errors.push(e);
                    continue;
                }
                Err(e) => {
                    r.busy.store(false, Ordering::Release);
                    errors.push(e);
                    continue;
                }
            };
            let body = AddCheckpoint { old, proof, note: cp.note.as_bytes().to_vec() }.to_bytes();
            let (remote, tx, text, cp, inner2) = (r.clone(), tx.clone(), text.clone(), cp.clone(), inner.clone());
            let timeout = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            let spawned = std::thread::Builder::new().name("writ-witness-submit".into()).spawn(move || {
                let answer = remote.post(body, &text, timeout);
                match &answer {
                    Answer::Cosigned(_) => {
                        *lock(&remote.known) = Some(cp.checkpoint.size);
                        *lock(&remote.last_error) = None;
                    }
                    Answer::Conflict(n) => *lock(&remote.known) = Some(*n),
                    Answer::Failed(e) => *lock(&remote.last_error) = Some(e.clone()),
                }
                remote.busy.store(false, Ordering::Release);
                let late = match &answer {
                    Answer::Cosigned(line) => Some(line.clone()),
                    _ => None,
                };
                if tx.send((i, answer)).is_err()
                    && let Some(line) = late
                {
                    add_late(&inner2, &cp, remote.endpoint.verifier.name(), &line);
                }
            });
            match spawned {
                Ok(_) => sent += 1,
                Err(e) => {
                    r.busy.store(false, Ordering::Release);
                    errors.push(format!("cannot start a submission thread: {e}"));
                }
            }
        }
        drop(tx);
        let mut lines: Vec<(String, String)> = Vec::new();
        let mut conflict = false;
        let mut answered = 0usize;
        while answered < sent && lines.len() < inner.quorum {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok((i, answer)) = rx.recv_timeout(left) else { break };
            answered += 1;
            let name = inner.remotes.get(i).map(|r| r.endpoint.verifier.name().to_string()).unwrap_or_default();
            match answer {
                Answer::Cosigned(line) => lines.push((name, line)),
                Answer::Conflict(n) => {
                    conflict = true;
                    errors.push(format!("witness `{name}` holds size {n}"));
                }
                Answer::Failed(e) => errors.push(e),
            }
        }
        if lines.len() < inner.quorum {
            if conflict && Instant::now() < deadline {
                return Round::Retry;
            }
            return Round::Failed(format!(
                "{} of {} required witnesses cosigned checkpoint {}: {}",
                lines.len(),
                inner.quorum,
                cp.checkpoint.size,
                errors.join("; ")
            ));
        }
        let mut note = cp.note.clone();
        for (_, l) in &lines {
            note.push_str(l);
        }
        let signed = Arc::new(SignedCheckpoint { note, checkpoint: cp.checkpoint.clone() });
        let mut st = lock(&inner.state);
        if st.latest.as_ref().is_none_or(|l| l.checkpoint.size <= signed.checkpoint.size) {
            st.latest = Some(signed.clone());
            st.names = lines.into_iter().map(|(n, _)| n).collect();
        }
        Round::Quorum(signed)
    }
}

/// A cosignature that arrived after its round ended: added to the latest
/// cosigned checkpoint when that is still the one it cosigned.
fn add_late(inner: &Inner, cp: &SignedCheckpoint, name: &str, line: &str) {
    let mut st = lock(&inner.state);
    let Some(latest) = st.latest.clone() else { return };
    if latest.checkpoint != cp.checkpoint || st.names.iter().any(|n| n == name) {
        return;
    }
    let mut note = latest.note.clone();
    note.push_str(line);
    st.latest = Some(Arc::new(SignedCheckpoint { note, checkpoint: latest.checkpoint.clone() }));
    st.names.push(name.to_string());
}

impl Witnessing for Submitter {
    fn witnessed(&self, ledger: &Ledger, size: u64) -> Option<Arc<SignedCheckpoint>> {
        self.wait_for(ledger, size).ok()
    }

    fn latest(&self) -> Option<Arc<SignedCheckpoint>> {
        lock(&self.inner.state).latest.clone()
    }
}
