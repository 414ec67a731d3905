//! A small blocking client for the `/v1` API that signs every request
//! (RFC 9421, see [`crate::httpsig`]). The CLI's `--authority URL` mode and
//! gates use it.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use writ_core::SigningKey;

use crate::httpsig;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The authority answered with an error body.
    #[error("the authority refused ({status} {code}): {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable reason code.
        code: String,
        /// Message.
        message: String,
    },
    /// Network or protocol failure.
    #[error("cannot reach the authority at `{url}`: {detail}")]
    Transport {
        /// URL.
        url: String,
        /// What happened.
        detail: String,
    },
    /// A local problem (clock, randomness, encoding).
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    /// The API error code, when the authority answered with one.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A signing client.
pub struct Client {
    base: String,
    key: SigningKey,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).field("key", &self.key.key_id()).finish()
    }
}

/// Largest response body read.
const MAX_RESPONSE: u64 = 8 << 20;

impl Client {
    /// A client for the authority at `base` (e.g. `http://127.0.0.1:7300`), signing with `key`.
    #[must_use]
    pub fn new(base: &str, key: SigningKey) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self { base: base.trim_end_matches('/').to_string(), key, agent }
    }

    /// The signing key's id.
    #[must_use]
    pub fn key_id(&self) -> writ_core::KeyId {
        self.key.key_id()
    }

    /// Send a signed request; returns status and body bytes of a 2xx answer.
    ///
    /// # Errors
    /// [`ClientError::Api`] for an error answer; transport errors.
    pub fn raw(&self, method: &str, path_and_query: &str, body: Option<&[u8]>) -> Result<(u16, Vec<u8>), ClientError> {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let body = body.unwrap_or_default();
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| ClientError::Local(format!("system clock: {e}")))?
            .as_secs();
        let mut n = [0u8; 16];
        getrandom::getrandom(&mut n).map_err(|e| ClientError::Local(format!("no randomness: {e}")))?;
        let h = httpsig::sign(
            &self.key,
            method,
            path,
            query,
            body,
            i64::try_from(created).unwrap_or(i64::MAX),
            &hex::encode(n),
        );
        let url = format!("{}{path_and_query}", self.base);
        let transport = |e: ureq::Error| ClientError::Transport { url: url.clone(), detail: e.to_string() };
        let mut resp = match method {
            "GET" => self
                .agent
                .get(&url)
                .header("content-digest", &h.content_digest)
                .header("signature-input", &h.signature_input)
                .header("signature", &h.signature)
                .call()
                .map_err(transport)?,
            _ => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .header("content-digest", &h.content_digest)
                .header("signature-input", &h.signature_input)
                .header("signature", &h.signature)
                .send(body)
                .map_err(transport)?,
        };
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .map_err(|e| ClientError::Transport { url: url.clone(), detail: e.to_string() })?;
        if (200..300).contains(&status) {
            return Ok((status, bytes));
        }
        let (code, message) = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                let e = v.get("error")?;
                Some((e.get("code")?.as_str()?.to_string(), e.get("message")?.as_str()?.to_string()))
            })
            .unwrap_or_else(|| ("http_error".into(), String::from_utf8_lossy(&bytes).chars().take(200).collect()));
        Err(ClientError::Api { status, code, message })
    }

    /// GET a JSON resource.
    ///
    /// # Errors
    /// As [`Client::raw`], plus a body that is not the expected JSON.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let (_, b) = self.raw("GET", path, None)?;
        serde_json::from_slice(&b).map_err(|e| ClientError::Local(format!("unexpected answer from the authority: {e}")))
    }

    /// POST JSON, expect JSON.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        let b = serde_json::to_vec(body).map_err(|e| ClientError::Local(e.to_string()))?;
        let (_, out) = self.raw("POST", path, Some(&b))?;
        serde_json::from_slice(&out)
            .map_err(|e| ClientError::Local(format!("unexpected answer from the authority: {e}")))
    }

    /// A signed status response for a writ (gates: `consume` takes one use
    /// atomically); open it with `writ_core::status::open`.
    ///
    /// # Errors
    /// As [`Client::raw`]; `replayed` when no use is left.
    pub fn status(&self, writ_id: &str, consume: bool, nonce: Option<&str>) -> Result<Vec<u8>, ClientError> {
        let body = serde_json::json!({"consume": consume, "nonce": nonce});
        let b = serde_json::to_vec(&body).map_err(|e| ClientError::Local(e.to_string()))?;
        Ok(self.raw("POST", &format!("/v1/writs/{writ_id}/status"), Some(&b))?.1)
    }

    /// Record a gate's `exec_start` / `exec_end` / `denial` entry (the bytes
    /// of `writ_core::entry::Entry::encode`); returns its ledger index and
    /// receipt (C2SP tlog-proof text).
    ///
    /// # Errors
    /// As [`Client::raw`].
    pub fn record(&self, entry: &[u8]) -> Result<(u64, String), ClientError> {
        #[derive(serde::Deserialize)]
        struct R {
            index: u64,
            receipt: String,
        }
        let r: R = self.post("/v1/records", &serde_json::json!({"entry": writ_core::b64::encode(entry)}))?;
        Ok((r.index, r.receipt))
    }

    /// A fresh runtime-evidence nonce.
    ///
    /// # Errors
    /// As [`Client::raw`].
    pub fn nonce(&self) -> Result<writ_authority::model::NonceView, ClientError> {
        self.post("/v1/nonces", &serde_json::json!({}))
    }
}
