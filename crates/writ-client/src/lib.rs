//! writ-client: the HTTP implementation of the authority's contract
//! ([`writ_api::GateApi`], [`writ_api::OperatorApi`]).
//!
//! Every call is signed with the caller's Ed25519 key (RFC 9421, the profile
//! of [`writ_api::httpsig`]); mutating calls carry an `Idempotency-Key`.
//! `https://` URLs speak TLS (rustls) and verify the server against the
//! roots given with [`Options::ca_pem`] or, without them, the system's CA
//! bundle (`SSL_CERT_FILE`, else `/etc/ssl/certs/ca-certificates.crt`, else
//! Mozilla's roots). With [`Options::client_cert_pem`] and
//! [`Options::client_key_pem`] it presents a TLS client certificate, for an
//! authority that asks gates for one (`writ serve --tls-client-ca`); the
//! RFC 9421 signature is still what authenticates the caller's key.
//! Redirects are not followed. Every failure is an
//! [`ApiError`] with its [`ApiErrorCode`]: the authority's own code for a
//! refusal, `transport` when it cannot be reached, and `bad_response` when
//! the answer is not what the contract says (a plain-text 2xx included).
//!
//! This crate is linked by the lean gate binary: it depends on no authority,
//! server, async runtime, database or policy engine.
//!
//! ```
//! use writ_client::Client;
//! use writ_core::SigningKey;
//! assert!(Client::new("http://127.0.0.1:7300", SigningKey::from_seed(&[1; 32])).is_ok());
//! let e = Client::new("127.0.0.1:7300", SigningKey::from_seed(&[1; 32])).unwrap_err();
//! assert_eq!(e.code, writ_api::ApiErrorCode::InvalidRequest);
//! ```
#![forbid(unsafe_code)]

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use writ_api::wire::{
    NonceView, PendingList, RecordInput, RecordView, RequestInput, RequestView, RevokeInput, StartInput, StartView,
    StatusInput, VoteInput, WritView,
};
use writ_api::{
    ApiError, ApiErrorCode, GateApi, IDEMPOTENCY_HEADER, IdempotencyKey, OperatorApi, RecordAck, StartAck, httpsig,
};
use writ_core::{KeyId, SigningKey};

/// Largest response body read.
pub const MAX_RESPONSE: u64 = 8 << 20;
/// Default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach the authority.
#[derive(Clone, Default)]
pub struct Options {
    /// PEM certificates to trust for `https://` (instead of the system roots).
    pub ca_pem: Option<Vec<u8>>,
    /// Per-call timeout (default [`DEFAULT_TIMEOUT`]).
    pub timeout: Option<Duration>,
    /// A TLS client certificate chain (PEM, leaf first) to present; needs
    /// [`Options::client_key_pem`].
    pub client_cert_pem: Option<Vec<u8>>,
    /// The private key of [`Options::client_cert_pem`] (PEM: PKCS#8, PKCS#1 or SEC1).
    pub client_key_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // INVARIANT: the client key never reaches a log.
        f.debug_struct("Options")
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .field("client_cert_pem", &self.client_cert_pem.as_ref().map(Vec::len))
            .field("client_key_pem", &self.client_key_pem.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A signing client for one authority and one key.
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

fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::new(ApiErrorCode::InvalidRequest, m)
}

fn bad_response(m: impl Into<String>) -> ApiError {
    ApiError::new(ApiErrorCode::BadResponse, m)
}

/// Checks an authority URL: `http://` or `https://`, a host, no query,
/// fragment or credentials; returns it without a trailing `/`.
///
/// # Errors
/// `invalid_request` naming what is wrong (e.g. a URL without a scheme).
pub fn check_url(url: &str) -> Result<String, ApiError> {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        r
    } else if url.contains("://") {
        return Err(invalid(format!("authority URL `{url}`: the scheme must be `http` or `https`")));
    } else {
        return Err(invalid(format!(
            "authority URL `{url}` has no scheme; write `https://{url}` (or `http://{url}` on loopback)"
        )));
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(invalid(format!("authority URL `{url}` has no host")));
    }
    if rest.contains(['?', '#', '@']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "authority URL `{url}` must be a plain base URL (no credentials, query, fragment or spaces)"
        )));
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn system_roots() -> Option<Vec<u8>> {
    let from_env = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    let path = from_env.or_else(|| {
        let p = std::path::PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
        p.is_file().then_some(p)
    })?;
    std::fs::read(path).ok()
}

fn roots(pem: &[u8], what: &str) -> Result<ureq::tls::RootCerts, ApiError> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(invalid(format!("{what}: not PEM certificates: {e}"))),
        }
    }
    if certs.is_empty() {
        return Err(invalid(format!("{what}: no PEM certificate in it")));
    }
    Ok(ureq::tls::RootCerts::from(certs))
}

/// The client certificate of `options`, if it names one.
fn client_cert(options: &Options) -> Result<Option<ureq::tls::ClientCert>, ApiError> {
    let (cert_pem, key_pem) = match (&options.client_cert_pem, &options.client_key_pem) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => {
            return Err(invalid(
                "a TLS client certificate needs both its certificate and its key (--tls-client-cert and --tls-client-key)",
            ));
        }
    };
    let mut chain = Vec::new();
    for item in ureq::tls::parse_pem(cert_pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => chain.push(c),
            Ok(_) => {}
            Err(e) => return Err(invalid(format!("the TLS client certificate file: not PEM: {e}"))),
        }
    }
    if chain.is_empty() {
        return Err(invalid("the TLS client certificate file holds no `CERTIFICATE` block"));
    }
    let mut key = None;
    for item in ureq::tls::parse_pem(key_pem) {
        match item {
            Ok(ureq::tls::PemItem::PrivateKey(k)) if key.is_none() => key = Some(k),
            Ok(ureq::tls::PemItem::PrivateKey(_)) => {
                return Err(invalid("the TLS client key file holds more than one private key"));
            }
            Ok(_) => {}
            Err(e) => return Err(invalid(format!("the TLS client key file: not PEM: {e}"))),
        }
    }
    let key = key.ok_or_else(|| invalid("the TLS client key file holds no PEM private key"))?;
    Ok(Some(ureq::tls::ClientCert::new_with_certs(&chain, key)))
}

/// The HTTP agent of `options`: TLS (rustls) against the given or system
/// roots, with the client certificate if any, no redirects, one timeout.
///
/// For a plain `http://` authority (loopback) given no TLS option, no TLS
/// configuration is built: reading and parsing the system CA bundle costs
/// about half a millisecond of a gate's start, for roots it never uses (the
/// client only calls its own base URL and follows no redirect).
fn agent(options: &Options, tls: bool) -> Result<ureq::Agent, ApiError> {
    let tls_options = options.ca_pem.is_some() || options.client_cert_pem.is_some() || options.client_key_pem.is_some();
    if !tls && !tls_options {
        return Ok(with_resolver(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(options.timeout.unwrap_or(DEFAULT_TIMEOUT)))
                .build(),
        ));
    }
    let root_certs = match &options.ca_pem {
        Some(pem) => roots(pem, "the CA file")?,
        None => system_roots()
            .and_then(|pem| roots(&pem, "the system CA bundle").ok())
            .unwrap_or(ureq::tls::RootCerts::WebPki),
    };
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(root_certs)
        .client_cert(client_cert(options)?)
        .build();
    Ok(with_resolver(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(options.timeout.unwrap_or(DEFAULT_TIMEOUT)))
            .tls_config(tls)
            .build(),
    ))
}

/// The agent of `config` with [`LiteralFirst`] as its resolver (and ureq's
/// default connector: TCP, TLS, proxies).
fn with_resolver(config: ureq::config::Config) -> ureq::Agent {
    ureq::Agent::with_parts(config, ureq::unversioned::transport::DefaultConnector::new(), LiteralFirst::default())
}

/// Name resolution that answers an IP-literal host itself and asks ureq's
/// default resolver for anything else. With a timeout set, the default
/// resolver starts a thread per lookup so that it can give up on a slow DNS
/// answer: for `http://127.0.0.1:7300` that is a thread created, scheduled
/// and joined on every call (0.2 to 2 ms of a gate's start on a busy
/// 2-core machine) to parse a number.
#[derive(Debug, Default)]
struct LiteralFirst(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        match literal_addr(uri) {
            Some(addr) => {
                let mut out = self.empty();
                out.push(addr);
                Ok(out)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}

/// The socket address of a URI whose host is an IP address (`127.0.0.1`,
/// `[::1]`), with its port or the scheme's default; `None` for a name.
fn literal_addr(uri: &ureq::http::Uri) -> Option<std::net::SocketAddr> {
    let authority = uri.authority()?;
    let host = authority.host();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let ip: std::net::IpAddr = host.parse().ok()?;
    let port = authority.port_u16().or(match uri.scheme_str()? {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    Some(std::net::SocketAddr::new(ip, port))
}

impl Client {
    /// A client for the authority at `base_url` (e.g. `https://authority:7300`),
    /// signing with `key`, with default [`Options`].
    ///
    /// # Errors
    /// `invalid_request` for a URL that is not `http(s)://host…`.
    pub fn new(base_url: &str, key: SigningKey) -> Result<Self, ApiError> {
        Self::with_options(base_url, key, &Options::default())
    }

    /// A client with `options`.
    ///
    /// # Errors
    /// `invalid_request` for a bad URL, CA bundle or client certificate.
    pub fn with_options(base_url: &str, key: SigningKey, options: &Options) -> Result<Self, ApiError> {
        let base = check_url(base_url)?;
        let tls = base.starts_with("https://");
        Ok(Self { base, key, agent: agent(options, tls)? })
    }

    /// The base URL.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The signing key's id.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.key.key_id()
    }

    /// Sends a signed request; returns the status and body of a 2xx answer.
    ///
    /// # Errors
    /// The authority's error (its code parsed into [`ApiErrorCode`]);
    /// `transport`; `bad_response` for an error answer without the JSON error shape.
    pub fn call(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<(u16, Vec<u8>), ApiError> {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let body = body.unwrap_or_default();
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| ApiError::new(ApiErrorCode::Internal, format!("system clock: {e}")))?
            .as_secs();
        let mut n = [0u8; 16];
        getrandom::getrandom(&mut n)
            .map_err(|e| ApiError::new(ApiErrorCode::Internal, format!("no randomness from the OS: {e}")))?;
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
        let transport = |e: ureq::Error| {
            ApiError::new(ApiErrorCode::Transport, format!("cannot reach the authority at `{}`: {e}", self.base))
        };
        let mut resp = match method {
            "GET" => {
                let mut r = self
                    .agent
                    .get(&url)
                    .header("accept", "application/json")
                    .header("content-digest", &h.content_digest)
                    .header("signature-input", &h.signature_input)
                    .header("signature", &h.signature);
                if let Some(k) = idempotency {
                    r = r.header(IDEMPOTENCY_HEADER, k.as_str());
                }
                r.call().map_err(transport)?
            }
            "POST" => {
                let mut r = self
                    .agent
                    .post(&url)
                    .header("accept", "application/json")
                    .header("content-type", "application/json")
                    .header("content-digest", &h.content_digest)
                    .header("signature-input", &h.signature_input)
                    .header("signature", &h.signature);
                if let Some(k) = idempotency {
                    r = r.header(IDEMPOTENCY_HEADER, k.as_str());
                }
                r.send(body).map_err(transport)?
            }
            other => return Err(invalid(format!("method `{other}` is not used by the API"))),
        };
        let status = resp.status().as_u16();
        let bytes = resp.body_mut().with_config().limit(MAX_RESPONSE).read_to_vec().map_err(transport)?;
        if (200..300).contains(&status) {
            return Ok((status, bytes));
        }
        Err(error_of(status, &bytes))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let (_, b) = self.call("GET", path, None, None)?;
        parse(&b)
    }

    fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<T, ApiError> {
        let b = serde_json::to_vec(body).map_err(|e| ApiError::new(ApiErrorCode::Internal, e.to_string()))?;
        let (_, out) = self.call("POST", path, Some(&b), idempotency)?;
        parse(&out)
    }
}

/// The [`ApiError`] of a non-2xx answer.
fn error_of(status: u16, bytes: &[u8]) -> ApiError {
    match writ_core::json::from_slice::<writ_api::wire::ErrorBody>(bytes) {
        Ok(b) => match ApiErrorCode::parse(&b.error.code) {
            Some(code) => ApiError::new(code, b.error.message),
            None => bad_response(format!(
                "the authority answered {status} with code `{}` this client does not know: {}",
                b.error.code, b.error.message
            )),
        },
        Err(_) => bad_response(format!(
            "the authority answered {status} without the JSON error shape: {}",
            visible(&String::from_utf8_lossy(bytes).chars().take(200).collect::<String>())
        )),
    }
}

fn visible(s: &str) -> String {
    s.chars().flat_map(char::escape_debug).collect()
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    writ_core::json::from_slice(bytes).map_err(|e| bad_response(format!("unexpected answer from the authority: {e}")))
}

/// Ids go into URL paths: only UUID-like characters.
fn segment(id: &str) -> Result<&str, ApiError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(invalid(format!("`{}` is not a request or writ id", visible(id))));
    }
    Ok(id)
}

impl GateApi for Client {
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, ApiError> {
        let body = StatusInput { consume, nonce: Some(nonce.to_string()) };
        let b = serde_json::to_vec(&body).map_err(|e| ApiError::new(ApiErrorCode::Internal, e.to_string()))?;
        Ok(self.call("POST", &format!("/v1/writs/{}/status", segment(writ_id)?), Some(&b), None)?.1)
    }

    fn record(&self, entry: &[u8]) -> Result<RecordAck, ApiError> {
        // INVARIANT: only a JSON `{index, receipt}` answer is an
        // acknowledgement; a plain-text 2xx is `bad_response`, never success.
        let r: RecordView = self.post("/v1/records", &RecordInput { entry: writ_core::b64::encode(entry) }, None)?;
        Ok(RecordAck { index: r.index, receipt: r.receipt.into_bytes() })
    }

    fn start(&self, writ_id: &str, consume: bool, nonce: &str, entry: &[u8]) -> Result<StartAck, ApiError> {
        // One round trip (`POST /v1/writs/{id}/start`) on the agent's kept-alive
        // connection; the caller checks both the status and the receipt.
        let input = StartInput { entry: writ_core::b64::encode(entry), nonce: nonce.to_owned(), consume };
        let r: StartView = self.post(&format!("/v1/writs/{}/start", segment(writ_id)?), &input, None)?;
        Ok(StartAck {
            status: r.status.into_bytes(),
            record: RecordAck { index: r.index, receipt: r.receipt.into_bytes() },
        })
    }
}

impl OperatorApi for Client {
    fn submit(&self, input: &RequestInput, key: &IdempotencyKey) -> Result<RequestView, ApiError> {
        self.post("/v1/requests", input, Some(key))
    }

    fn pending(&self) -> Result<Vec<RequestView>, ApiError> {
        Ok(self.get::<PendingList>("/v1/requests?status=pending")?.requests)
    }

    fn request(&self, id: &str) -> Result<RequestView, ApiError> {
        self.get(&format!("/v1/requests/{}", segment(id)?))
    }

    fn vote(&self, id: &str, vote: &VoteInput, key: &IdempotencyKey) -> Result<RequestView, ApiError> {
        self.post(&format!("/v1/requests/{}/approvals", segment(id)?), vote, Some(key))
    }

    fn revoke(&self, writ_id: &str, reason: &str, key: &IdempotencyKey) -> Result<WritView, ApiError> {
        self.post(&format!("/v1/writs/{}/revoke", segment(writ_id)?), &RevokeInput { reason: reason.into() }, Some(key))
    }

    fn writ(&self, writ_id: &str) -> Result<WritView, ApiError> {
        self.get(&format!("/v1/writs/{}", segment(writ_id)?))
    }

    fn status(&self, writ_id: &str, nonce: Option<&str>) -> Result<Vec<u8>, ApiError> {
        let body = StatusInput { consume: false, nonce: nonce.map(str::to_string) };
        let b = serde_json::to_vec(&body).map_err(|e| ApiError::new(ApiErrorCode::Internal, e.to_string()))?;
        Ok(self.call("POST", &format!("/v1/writs/{}/status", segment(writ_id)?), Some(&b), None)?.1)
    }

    fn nonce(&self) -> Result<NonceView, ApiError> {
        self.post("/v1/nonces", &serde_json::json!({}), None)
    }

    fn delegate(
        &self,
        input: &writ_api::delegation::DelegationInput,
    ) -> Result<writ_api::delegation::DelegationView, ApiError> {
        // Safe to retry without an idempotency key: the same child is
        // answered with its first record.
        self.post("/v1/delegations", input, None)
    }

    fn delegation(&self, writ_id: &str) -> Result<writ_api::delegation::DelegationView, ApiError> {
        self.get(&format!("/v1/delegations/{}", segment(writ_id)?))
    }
}

/// Fetches the authority's signed trust root, unsigned (the route is public):
/// `GET /v1/trust` with `version` `None`, `GET /v1/trust/versions/{n}` with
/// `Some(n)`. The bytes are returned as received: the caller verifies them
/// (`writ_core::trust_chain::verify_pinned` / `verify_updates`); nothing
/// here trusts them.
///
/// # Errors
/// `invalid_request` for a bad URL, CA bundle or client certificate;
/// `transport`; the authority's error (e.g. `not_found` for a version it
/// does not have).
pub fn fetch_trust_root(base_url: &str, version: Option<u64>, options: &Options) -> Result<Vec<u8>, ApiError> {
    let base = check_url(base_url)?;
    let agent = agent(options, base.starts_with("https://"))?;
    let url = match version {
        None => format!("{base}/v1/trust"),
        Some(n) => format!("{base}/v1/trust/versions/{n}"),
    };
    let transport =
        |e: ureq::Error| ApiError::new(ApiErrorCode::Transport, format!("cannot reach the authority at `{base}`: {e}"));
    let mut resp = agent.get(&url).header("accept", "application/json").call().map_err(transport)?;
    let status = resp.status().as_u16();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(writ_core::trust_chain::MAX_SIGNED_ROOT_BYTES as u64 + 1)
        .read_to_vec()
        .map_err(transport)?;
    if (200..300).contains(&status) {
        return Ok(bytes);
    }
    Err(error_of(status, &bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert_eq!(check_url("https://a.example:7300/").unwrap(), "https://a.example:7300");
        assert_eq!(check_url("http://127.0.0.1:7300").unwrap(), "http://127.0.0.1:7300");
        let e = check_url("127.0.0.1:7300").unwrap_err();
        assert!(e.message.contains("has no scheme"), "{e}");
        for bad in ["ftp://x", "https://", "https://u:p@x", "http://x/?a", "http://x y"] {
            assert_eq!(check_url(bad).unwrap_err().code, ApiErrorCode::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn error_answers_parse_into_codes() {
        let e = error_of(409, br#"{"error":{"code":"replayed","message":"no uses left"}}"#);
        assert_eq!((e.code, e.message.as_str()), (ApiErrorCode::Replayed, "no uses left"));
        assert_eq!(error_of(400, b"Bad Request").code, ApiErrorCode::BadResponse);
        assert_eq!(
            error_of(400, br#"{"error":{"code":"from_the_future","message":"m"}}"#).code,
            ApiErrorCode::BadResponse
        );
    }

    #[test]
    fn ip_literal_hosts_resolve_without_a_lookup() {
        let addr = |u: &str| literal_addr(&u.parse().unwrap()).map(|a| a.to_string());
        assert_eq!(addr("http://127.0.0.1:7300/v1/x").as_deref(), Some("127.0.0.1:7300"));
        assert_eq!(addr("http://[::1]:7300").as_deref(), Some("[::1]:7300"));
        assert_eq!(addr("https://10.0.0.2").as_deref(), Some("10.0.0.2:443"));
        assert_eq!(addr("http://10.0.0.2").as_deref(), Some("10.0.0.2:80"));
        // A name goes to the default resolver.
        assert_eq!(addr("https://authority.example:7300"), None);
        assert_eq!(addr("http://localhost:7300"), None);
    }

    #[test]
    fn ids_are_path_safe() {
        assert!(segment("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").is_ok());
        for bad in ["", "../x", "a/b", "a?b", "a%2f"] {
            assert!(segment(bad).is_err(), "{bad}");
        }
    }
}
