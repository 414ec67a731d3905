//! Revocation while a program runs, failing closed.
//!
//! Online, the gate asks the authority for the writ's signed status every
//! `interval`. The run ends:
//!
//! - with `revoked …` (an `exec_end` of `killed_revoked`) as soon as a
//!   verified status says the writ is revoked;
//! - with `status_unknown …` (an `exec_end` of `killed_status_unknown`) when
//!   no verified status arrived for longer than the staleness window: the
//!   smaller of the trust root's `status_max_age_secs` and the window the
//!   caller asked for. An unreachable authority, a relay that answers for it,
//!   an unsigned or mis-bound answer all count as "no status".
//!
//! The invoker can only tighten these bounds: [`StatusBounds::new`] clamps
//! the interval and the window to what the trust root allows.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use writ_api::{ApiErrorCode, GateApi};
use writ_core::status::CheckedStatus;
use writ_core::{Denial, DenialCode, KeyId, Sha256Digest, Status, TrustRoot};

use crate::launch::EndHandle;

/// Shortest status interval accepted.
pub const MIN_STATUS_INTERVAL: Duration = Duration::from_millis(50);
/// Status interval used when the caller asks for none (clamped to the window).
pub const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// How often status is checked and how stale it may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusBounds {
    /// Time between checks.
    pub interval: Duration,
    /// Longest time without a verified status before the run ends.
    pub max_age: Duration,
}

impl StatusBounds {
    /// The bounds the trust root allows, tightened (never widened) by the
    /// caller's `interval` and `max_age`.
    pub fn new(trust: &TrustRoot, interval: Option<Duration>, max_age: Option<Duration>) -> Self {
        let allowed = Duration::from_secs(trust.file().status_max_age_secs);
        let max_age = max_age.map_or(allowed, |m| m.min(allowed));
        let interval =
            interval.unwrap_or(DEFAULT_STATUS_INTERVAL).clamp(MIN_STATUS_INTERVAL, max_age.max(MIN_STATUS_INTERVAL));
        Self { interval, max_age }
    }
}

/// A fresh status nonce (16 random bytes, hex).
pub(crate) fn nonce() -> Result<String, Denial> {
    use std::io::Read as _;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| Denial::new(DenialCode::Internal, format!("no randomness for a status nonce: {e}")))?;
    Ok(hex::encode(b))
}

/// Asks `api` for the status of the writ `writ_id` (issued by `issuer`) (consuming a use when `consume`), bound
/// to a fresh nonce, and checks the signed answer.
///
/// # Errors
///
/// `replayed` when no use is left, `status_unknown` for anything else that
/// is not a verified answer about this writ and nonce.
pub fn fetch_status(
    api: &dyn GateApi,
    trust: &TrustRoot,
    issuer: &KeyId,
    writ_id: &str,
    envelope: &Sha256Digest,
    consume: bool,
) -> Result<CheckedStatus, Denial> {
    let n = nonce()?;
    let bytes = api.status(writ_id, consume, &n).map_err(|e| match e.code {
        ApiErrorCode::Replayed => Denial::new(DenialCode::Replayed, e.message),
        _ => {
            Denial::new(DenialCode::StatusUnknown, format!("no status from the authority ({}): {}", e.code, e.message))
        }
    })?;
    writ_core::status::open(&bytes, trust, issuer, writ_id, envelope, Some(n.as_str()))
}

/// What the watcher saw last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEnd {
    /// The run ended on its own; the status stayed good.
    Stopped,
    /// The writ was revoked; the run was ended.
    Revoked(String),
    /// No verified status within the window; the run was ended.
    StatusUnknown(String),
}

/// Watches the writ while the program runs; returns when `stop` is dropped
/// or signalled, or after ending the run through `end`.
#[allow(clippy::too_many_arguments, reason = "one call site; the pieces are distinct")]
pub fn watch(
    api: Arc<dyn GateApi>,
    trust: TrustRoot,
    issuer: KeyId,
    writ_id: String,
    envelope: Sha256Digest,
    bounds: StatusBounds,
    end: EndHandle,
    stop: mpsc::Receiver<()>,
) -> WatchEnd {
    let mut last_good = Instant::now();
    let mut last_error = String::from("no status yet");
    loop {
        // Wake for the next check, or earlier when the window closes.
        let until_stale = bounds.max_age.saturating_sub(last_good.elapsed());
        match stop.recv_timeout(bounds.interval.min(until_stale.max(Duration::from_millis(1)))) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return WatchEnd::Stopped,
        }
        match fetch_status(api.as_ref(), &trust, &issuer, &writ_id, &envelope, false) {
            Ok(c) => match c.status {
                Status::Revoked { at } => {
                    let why = format!("revoked at {at}");
                    end.end(why.clone());
                    return WatchEnd::Revoked(why);
                }
                _ => last_good = Instant::now(),
            },
            Err(d) => last_error = format!("{}: {}", d.code, d.detail),
        }
        // INVARIANT: fail closed: a run never outlives its last verified
        // status by more than the staleness window.
        if last_good.elapsed() >= bounds.max_age {
            let why = format!(
                "status_unknown: no verified status for {} s (window {} s): {last_error}",
                last_good.elapsed().as_secs(),
                bounds.max_age.as_secs()
            );
            end.end(why.clone());
            return WatchEnd::StatusUnknown(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoker_bounds_only_tighten_the_trust_root() {
        let mut t = writ_core::fixtures::trust_root(false);
        t.settings_mut().status_max_age_secs(10);
        let b = StatusBounds::new(&t, Some(Duration::from_secs(3600)), Some(Duration::from_secs(3600)));
        assert_eq!(b, StatusBounds { interval: Duration::from_secs(10), max_age: Duration::from_secs(10) });
        let b = StatusBounds::new(&t, Some(Duration::from_millis(1)), Some(Duration::from_secs(4)));
        assert_eq!(b, StatusBounds { interval: MIN_STATUS_INTERVAL, max_age: Duration::from_secs(4) });
        let b = StatusBounds::new(&t, None, None);
        assert_eq!(b, StatusBounds { interval: DEFAULT_STATUS_INTERVAL, max_age: Duration::from_secs(10) });
    }
}
