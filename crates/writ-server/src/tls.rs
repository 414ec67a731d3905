//! TLS for `writ serve` (rustls): the server's identity and, with a client
//! CA, TLS client certificates for gates.
//!
//! A client certificate authenticates the *connection*: the machine holds a
//! certificate the operator's CA issued. The RFC 9421 signature still
//! authenticates the *caller*: its Ed25519 key, its roles and groups in the
//! trust root. Neither stands in for the other; the certificate's subject is
//! not mapped to a key.
//!
//! - [`ClientAuth::Optional`]: a client may present a certificate; when it
//!   does, it must chain to the client CA or the handshake fails. Calls
//!   without one are served as before.
//! - [`ClientAuth::Required`]: as optional at the handshake, and every
//!   signed call (every authenticated route: records, status, nonces,
//!   requests, votes, revocations, writs, trust publication) over a
//!   connection without a verified client certificate is refused with
//!   `unauthenticated` before it is looked at. The public read routes (log,
//!   tiles, proofs, entries, the trust root, health, metrics, the web pages,
//!   the OpenAPI document) carry no signature and stay readable.
//!
//! Each request of a TLS connection carries a [`ClientCertificate`]
//! extension: the SHA-256 of the verified leaf certificate, if any.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest as _;
use writ_api::ApiErrorCode;

/// Whether clients must present a TLS client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Verified against the client CA when presented; not needed.
    Optional,
    /// Needed for every signed call; public read routes stay open.
    Required,
}

impl ClientAuth {
    /// `optional` or `required`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::Required => "required",
        }
    }
}

/// The server's TLS identity: a PEM certificate chain and its private key,
/// and the client CA with its [`ClientAuth`] mode when gates present
/// certificates.
#[derive(Clone)]
pub struct TlsIdentity {
    config: Arc<rustls::ServerConfig>,
    client_auth: Option<ClientAuth>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").field("client_auth", &self.client_auth).finish_non_exhaustive()
    }
}

/// Why a TLS identity was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError(format!("the {what} is not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError(format!("the {what} holds no `CERTIFICATE` block")));
    }
    Ok(certs)
}

impl TlsIdentity {
    /// From PEM bytes: the certificate chain (leaf first) and a PKCS#8, PKCS#1
    /// or SEC1 private key. TLS 1.2 and 1.3 with rustls's safe defaults; no
    /// client certificates.
    ///
    /// # Errors
    /// [`TlsError`] naming what is wrong with either file.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        Self::build(cert_pem, key_pem, None)
    }

    /// [`Self::from_pem`], and clients may present certificates issued by
    /// the CA certificates in `client_ca_pem` (verified at the handshake:
    /// one from another CA fails it); `mode` says whether signed calls need
    /// one (see the module documentation).
    ///
    /// # Errors
    /// [`TlsError`] naming what is wrong with any of the files.
    pub fn with_client_ca(
        cert_pem: &[u8],
        key_pem: &[u8],
        client_ca_pem: &[u8],
        mode: ClientAuth,
    ) -> Result<Self, TlsError> {
        Self::build(cert_pem, key_pem, Some((client_ca_pem, mode)))
    }

    /// The client-certificate mode (`None`: no client CA).
    #[must_use]
    pub fn client_auth(&self) -> Option<ClientAuth> {
        self.client_auth
    }

    fn build(cert_pem: &[u8], key_pem: &[u8], client: Option<(&[u8], ClientAuth)>) -> Result<Self, TlsError> {
        let certs = certificates(cert_pem, "certificate file")?;
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsError(format!("the key file holds no PEM private key: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(format!("TLS setup: {e}")))?;
        let builder = match client {
            None => builder.with_no_client_auth(),
            Some((ca_pem, _)) => {
                let mut roots = rustls::RootCertStore::empty();
                for ca in certificates(ca_pem, "client CA file")? {
                    roots
                        .add(ca)
                        .map_err(|e| TlsError(format!("the client CA file holds a certificate rustls refuses: {e}")))?;
                }
                // INVARIANT: a presented certificate is always verified; only
                // its absence is allowed here (Required is enforced per call,
                // so public read routes stay open).
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| TlsError(format!("the client CA file cannot verify client certificates: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(certs, key)
            .map_err(|e| TlsError(format!("the certificate and key do not make a TLS identity: {e}")))?;
        Ok(Self { config: Arc::new(config), client_auth: client.map(|(_, m)| m) })
    }
}

/// The TLS client certificate of the connection a request came on: the
/// hex SHA-256 of its verified leaf certificate, `None` when the client
/// presented none. Present on every request served over TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub Option<String>);

/// Runs the rustls handshake, then gives the connection's router the
/// [`ClientCertificate`] of its peer.
#[derive(Clone)]
struct CertAcceptor(RustlsAcceptor);

type TlsStream = <RustlsAcceptor as Accept<tokio::net::TcpStream, Router>>::Stream;

impl Accept<tokio::net::TcpStream, Router> for CertAcceptor {
    type Stream = TlsStream;
    type Service = Router;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<(TlsStream, Router)>> + Send>>;

    fn accept(&self, stream: tokio::net::TcpStream, service: Router) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move {
            let (stream, service) = inner.accept(stream, service).await?;
            let leaf = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| hex::encode(sha2::Sha256::digest(c.as_ref())));
            Ok((stream, service.layer(axum::Extension(ClientCertificate(leaf)))))
        })
    }
}

/// [`ClientAuth::Required`]: a signed call needs a verified client certificate.
async fn require_client_cert(req: Request, next: Next) -> Response {
    let signed = req.headers().contains_key("signature-input") || req.headers().contains_key("signature");
    let verified = req.extensions().get::<ClientCertificate>().is_some_and(|c| c.0.is_some());
    if signed && !verified {
        return crate::error_response(
            ApiErrorCode::Unauthenticated,
            "this authority requires a TLS client certificate from its client CA for signed calls; give the gate \
             `tls_client_cert` and `tls_client_key` in gate.toml (writ: --tls-client-cert and --tls-client-key)"
                .into(),
        );
    }
    next.run(req).await
}

/// Serves `app` over TLS on `listener` with `identity`.
pub(crate) async fn serve(listener: std::net::TcpListener, app: Router, identity: TlsIdentity) -> std::io::Result<()> {
    let app = match identity.client_auth {
        Some(ClientAuth::Required) => app.layer(middleware::from_fn(require_client_cert)),
        _ => app,
    };
    let acceptor = CertAcceptor(RustlsAcceptor::new(RustlsConfig::from_config(identity.config)));
    axum_server::from_tcp(listener).acceptor(acceptor).serve(app.into_make_service()).await
}
