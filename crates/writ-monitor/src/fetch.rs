//! Reading the log: `checkpoint` and `tile/…` under a log prefix.

use std::io::Read as _;
use std::time::Duration;

/// Largest response read (an entry bundle of 256 entries of at most 64 KiB
/// each, with their length prefixes).
pub const MAX_RESPONSE: u64 = 256 * (64 * 1024 + 2) + 1024;

/// The log could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{url}`: {detail}")]
pub struct FetchError {
    /// What was asked for.
    pub url: String,
    /// Why it failed.
    pub detail: String,
}

/// Reads a file of the log by its C2SP tlog-tiles path (`checkpoint`,
/// `tile/entries/000`, …).
pub trait Fetcher {
    /// The bytes at `path`.
    ///
    /// # Errors
    /// Not reachable, not found, too large.
    fn get(&self, path: &str) -> Result<Vec<u8>, FetchError>;
}

/// Over HTTP: `<prefix>/checkpoint`, `<prefix>/tile/…`. A URL without a
/// path (`http://host:port`, a `writ serve`) means the prefix `URL/v1/log`;
/// a URL with a path (a static tile directory) is the prefix itself.
#[derive(Debug)]
pub struct HttpFetcher {
    prefix: String,
    agent: ureq::Agent,
}

impl HttpFetcher {
    /// A fetcher for the log at `url`: `http://host:port` means the
    /// authority's `/v1/log`; a URL with a path is the prefix itself.
    #[must_use]
    pub fn new(url: &str) -> Self {
        let base = url.trim_end_matches('/');
        let has_path = base.split_once("://").map_or(base, |(_, rest)| rest).contains('/');
        let prefix = if has_path { base.to_string() } else { format!("{base}/v1/log") };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        Self { prefix, agent }
    }

    /// The log prefix the paths are read under.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl Fetcher for HttpFetcher {
    fn get(&self, path: &str) -> Result<Vec<u8>, FetchError> {
        let url = format!("{}/{path}", self.prefix);
        let err = |detail: String| FetchError { url: url.clone(), detail };
        let mut resp = self.agent.get(&url).call().map_err(|e| err(e.to_string()))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(err(format!("HTTP {status}")));
        }
        let mut buf = Vec::new();
        resp.body_mut().as_reader().take(MAX_RESPONSE + 1).read_to_end(&mut buf).map_err(|e| err(e.to_string()))?;
        if buf.len() as u64 > MAX_RESPONSE {
            return Err(err(format!("larger than {MAX_RESPONSE} bytes")));
        }
        Ok(buf)
    }
}
