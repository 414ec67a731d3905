//! Passkey approvals: an approval signed by a WebAuthn credential.
//!
//! A passkey cannot sign arbitrary bytes: it signs a WebAuthn *assertion*,
//! `authenticatorData ‖ SHA-256(clientDataJSON)`, with its P-256 key (ES256,
//! COSE algorithm -7). writ makes the approval's signing input
//! ([`crate::approval::signing_input`]) the assertion's challenge: the browser
//! puts `base64url(signing input)` (no padding) into `clientDataJSON.challenge`,
//! so the authenticator's signature covers the verdict, the request digest
//! and the time exactly as an Ed25519 approval does. [`verify_assertion`]
//! checks, offline and with no state:
//!
//! 1. `clientDataJSON` is JSON whose `type` is `webauthn.get`
//!    ([`AssertionError::Type`]), whose `challenge` is the base64url of the
//!    expected signing input ([`AssertionError::Challenge`]), whose `origin`
//!    is the relying party's ([`AssertionError::Origin`]: `https://<rp_id>` or
//!    a subdomain of it, any port; `http://localhost[:port]` when the rp id is
//!    `localhost`), and whose `crossOrigin` is absent or false;
//! 2. `authenticatorData` is at least 37 bytes, its first 32 are SHA-256 of
//!    the rp id ([`AssertionError::RpId`]), its flags have User Present
//!    ([`AssertionError::UserPresence`]) and, when the credential demands it,
//!    User Verified ([`AssertionError::UserVerification`]);
//! 3. the DER ECDSA signature verifies over
//!    `authenticatorData ‖ SHA-256(clientDataJSON)` with the credential's key
//!    ([`AssertionError::Signature`]).
//!
//! The signature counter is not checked: offline verifiers keep no state
//! and many passkeys always report 0. Replay across requests is impossible
//! because the challenge *is* the request's signing input.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::keys::KeyId;

/// Length of an uncompressed SEC1 P-256 public key (`0x04 ‖ x ‖ y`).
pub const PUBLIC_KEY_LEN: usize = 65;
/// Largest `authenticatorData` accepted (extensions included).
pub const MAX_AUTHENTICATOR_DATA: usize = 1024;
/// Largest `clientDataJSON` accepted.
pub const MAX_CLIENT_DATA: usize = 4096;
/// Largest DER ECDSA P-256 signature.
pub const MAX_SIGNATURE: usize = 72;
/// Largest credential id (WebAuthn allows up to 1023 bytes).
pub const MAX_CREDENTIAL_ID: usize = 1023;
/// The `type` of an assertion's client data.
pub const ASSERTION_TYPE: &str = "webauthn.get";
/// User Present flag bit of `authenticatorData`.
pub const FLAG_UP: u8 = 0x01;
/// User Verified flag bit of `authenticatorData`.
pub const FLAG_UV: u8 = 0x04;

/// A passkey: the credential's public key, id and relying party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    key: VerifyingKey,
    raw: [u8; PUBLIC_KEY_LEN],
    /// The credential id (raw bytes).
    pub credential_id: Vec<u8>,
    /// The relying-party id (a domain, e.g. `writ.example.com`).
    pub rp_id: String,
    /// Whether assertions must carry the User Verified flag.
    pub user_verification: bool,
}

impl Credential {
    /// A credential from its uncompressed SEC1 public key.
    ///
    /// # Errors
    /// A message when the key is not an uncompressed P-256 point on the
    /// curve, or the credential id or rp id is out of bounds.
    pub fn new(
        public_key: &[u8],
        credential_id: Vec<u8>,
        rp_id: String,
        user_verification: bool,
    ) -> Result<Self, &'static str> {
        let raw: [u8; PUBLIC_KEY_LEN] = public_key
            .try_into()
            .map_err(|_| "a passkey public key is the 65-byte uncompressed SEC1 P-256 point (0x04 ‖ x ‖ y)")?;
        if raw[0] != 0x04 {
            return Err("a passkey public key is the 65-byte uncompressed SEC1 P-256 point (0x04 ‖ x ‖ y)");
        }
        let key = VerifyingKey::from_sec1_bytes(&raw).map_err(|_| "the passkey public key is not a P-256 point")?;
        if credential_id.is_empty() || credential_id.len() > MAX_CREDENTIAL_ID {
            return Err("a credential id is 1 to 1023 bytes");
        }
        if !valid_rp_id(&rp_id) {
            return Err("an rp id is a lowercase domain name (letters, digits, `-`, `.`), at most 253 characters");
        }
        Ok(Self { key, raw, credential_id, rp_id, user_verification })
    }

    /// The uncompressed SEC1 public key.
    #[must_use]
    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.raw
    }

    /// The key id: hex SHA-256 of the uncompressed SEC1 public key.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        key_id(&self.raw)
    }
}

/// The key id of an uncompressed SEC1 P-256 public key.
#[must_use]
pub fn key_id(public_key: &[u8]) -> KeyId {
    KeyId(Sha256Digest::of(public_key))
}

fn valid_rp_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.contains("..")
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// The WebAuthn parts of a passkey approval, as carried in a writ (the
/// DER signature is the approval's `sig`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionParts {
    /// Base64 (standard, padded) of `authenticatorData`.
    pub authenticator_data: String,
    /// Base64 (standard, padded) of the exact `clientDataJSON` bytes.
    pub client_data_json: String,
}

/// A decoded WebAuthn assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// `authenticatorData`.
    pub authenticator_data: Vec<u8>,
    /// `clientDataJSON`, the exact bytes the browser produced.
    pub client_data_json: Vec<u8>,
    /// The DER-encoded ECDSA P-256 signature.
    pub signature: Vec<u8>,
}

impl Assertion {
    /// Decodes the writ form: the parts and the approval's base64 `sig`.
    ///
    /// # Errors
    /// [`AssertionError::Malformed`] for non-canonical base64 or oversized parts.
    pub fn decode(parts: &AssertionParts, sig: &str) -> Result<Self, AssertionError> {
        let dec = |t: &str, max: usize, what: &'static str| {
            crate::b64::decode(t, max).map_err(|_| AssertionError::Malformed(what))
        };
        Ok(Self {
            authenticator_data: dec(
                &parts.authenticator_data,
                MAX_AUTHENTICATOR_DATA,
                "`authenticator_data` is not canonical base64 of at most 1024 bytes",
            )?,
            client_data_json: dec(
                &parts.client_data_json,
                MAX_CLIENT_DATA,
                "`client_data_json` is not canonical base64 of at most 4096 bytes",
            )?,
            signature: dec(sig, MAX_SIGNATURE, "the signature is not canonical base64 of at most 72 bytes")?,
        })
    }

    /// The writ form: the parts and the base64 signature.
    #[must_use]
    pub fn encode(&self) -> (AssertionParts, String) {
        (
            AssertionParts {
                authenticator_data: crate::b64::encode(&self.authenticator_data),
                client_data_json: crate::b64::encode(&self.client_data_json),
            },
            crate::b64::encode(&self.signature),
        )
    }
}

/// Why an assertion was refused. Each has a stable code ([`Self::code`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssertionError {
    /// Bytes out of bounds, not base64, not JSON, or DER that does not parse.
    Malformed(&'static str),
    /// `clientDataJSON.type` is not `webauthn.get`.
    Type,
    /// `clientDataJSON.challenge` is not base64url of the expected signing input.
    Challenge,
    /// `clientDataJSON.origin` is not an origin of the relying party, or the
    /// assertion was made cross-origin.
    Origin,
    /// `authenticatorData`'s rpIdHash is not SHA-256 of the credential's rp id.
    RpId,
    /// The User Present flag is not set.
    UserPresence,
    /// The credential demands user verification and the UV flag is not set.
    UserVerification,
    /// The ECDSA signature does not verify.
    Signature,
}

impl AssertionError {
    /// The stable snake_case code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "webauthn_malformed",
            Self::Type => "webauthn_type",
            Self::Challenge => "webauthn_challenge",
            Self::Origin => "webauthn_origin",
            Self::RpId => "webauthn_rp_id",
            Self::UserPresence => "webauthn_user_presence",
            Self::UserVerification => "webauthn_user_verification",
            Self::Signature => "webauthn_signature",
        }
    }
}

impl fmt::Display for AssertionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Self::Malformed(m) => m,
            Self::Type => "clientDataJSON.type is not `webauthn.get`",
            Self::Challenge => "clientDataJSON.challenge is not base64url of the expected signing input",
            Self::Origin => "clientDataJSON.origin is not an origin of the credential's relying party",
            Self::RpId => "the rpIdHash of authenticatorData is not SHA-256 of the credential's rp id",
            Self::UserPresence => "the authenticator did not set the User Present flag",
            Self::UserVerification => "the credential requires user verification and the UV flag is not set",
            Self::Signature => "the ECDSA signature does not verify over authenticatorData ‖ SHA-256(clientDataJSON)",
        };
        write!(f, "{} ({what})", self.code())
    }
}

/// The members of `clientDataJSON` writ reads (others are ignored, as
/// WebAuthn requires).
#[derive(Deserialize)]
struct ClientData<'a> {
    #[serde(rename = "type", borrow)]
    kind: alloc::borrow::Cow<'a, str>,
    #[serde(borrow)]
    challenge: alloc::borrow::Cow<'a, str>,
    #[serde(borrow)]
    origin: alloc::borrow::Cow<'a, str>,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: Option<bool>,
}

/// Whether `origin` is an origin of relying party `rp_id`.
#[must_use]
pub fn origin_matches(origin: &str, rp_id: &str) -> bool {
    let (secure, rest) = if let Some(r) = origin.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = origin.strip_prefix("http://") {
        (false, r)
    } else {
        return false;
    };
    let host = match rest.split_once(':') {
        Some((h, port)) if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return false,
        None => rest,
    };
    if !secure {
        return host == "localhost" && rp_id == "localhost";
    }
    host == rp_id || host.strip_suffix(rp_id).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
}

/// Verifies `assertion` by `credential` over `challenge` (the approval's
/// signing input), as described in the module documentation.
///
/// # Errors
/// The first check that fails, as an [`AssertionError`].
pub fn verify_assertion(
    credential: &Credential,
    challenge: &[u8],
    assertion: &Assertion,
) -> Result<(), AssertionError> {
    if assertion.client_data_json.len() > MAX_CLIENT_DATA {
        return Err(AssertionError::Malformed("clientDataJSON is larger than 4096 bytes"));
    }
    let cd: ClientData<'_> = serde_json::from_slice(&assertion.client_data_json).map_err(|_| {
        AssertionError::Malformed("clientDataJSON is not a JSON object with type, challenge and origin")
    })?;
    if cd.kind != ASSERTION_TYPE {
        return Err(AssertionError::Type);
    }
    let got = URL_SAFE_NO_PAD.decode(cd.challenge.as_bytes()).map_err(|_| AssertionError::Challenge)?;
    if got != challenge {
        return Err(AssertionError::Challenge);
    }
    if cd.cross_origin == Some(true) || !origin_matches(&cd.origin, &credential.rp_id) {
        return Err(AssertionError::Origin);
    }
    let ad = &assertion.authenticator_data;
    if ad.len() < 37 || ad.len() > MAX_AUTHENTICATOR_DATA {
        return Err(AssertionError::Malformed("authenticatorData is shorter than 37 bytes or larger than 1024"));
    }
    let (rp_hash, rest) = ad.split_at(32);
    if rp_hash != Sha256Digest::of(credential.rp_id.as_bytes()).0 {
        return Err(AssertionError::RpId);
    }
    let flags = rest.first().copied().unwrap_or(0);
    if flags & FLAG_UP == 0 {
        return Err(AssertionError::UserPresence);
    }
    if credential.user_verification && flags & FLAG_UV == 0 {
        return Err(AssertionError::UserVerification);
    }
    if assertion.signature.len() > MAX_SIGNATURE {
        return Err(AssertionError::Malformed("the signature is longer than 72 bytes"));
    }
    let sig = Signature::from_der(&assertion.signature)
        .map_err(|_| AssertionError::Malformed("the signature is not DER ECDSA"))?;
    credential.key.verify(&signed_bytes(ad, &assertion.client_data_json), &sig).map_err(|_| AssertionError::Signature)
}

/// What the authenticator signs: `authenticatorData ‖ SHA-256(clientDataJSON)`.
#[must_use]
pub fn signed_bytes(authenticator_data: &[u8], client_data_json: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(authenticator_data.len() + 32);
    m.extend_from_slice(authenticator_data);
    m.extend_from_slice(&Sha256Digest::of(client_data_json).0);
    m
}

/// The `clientDataJSON.challenge` value for `signing_input`.
#[must_use]
pub fn challenge(signing_input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(signing_input)
}

/// Base64url without padding (credential ids in the trust root).
#[must_use]
pub fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding, at most `max` bytes.
///
/// # Errors
/// A message when the text is not canonical unpadded base64url or too large.
pub fn b64url_decode(text: &str, max: usize) -> Result<Vec<u8>, &'static str> {
    if text.len() / 4 * 3 > max.saturating_add(2) {
        return Err("base64url value is larger than allowed");
    }
    let b = URL_SAFE_NO_PAD.decode(text).map_err(|_| "value is not canonical base64url without padding")?;
    if b.len() > max {
        return Err("base64url value is larger than allowed");
    }
    Ok(b)
}

/// Test authenticator: deterministic assertions (never for production use).
#[cfg(feature = "fixtures")]
#[allow(clippy::expect_used, clippy::missing_panics_doc, reason = "test support built from constants")]
pub mod testing {
    use alloc::string::String;
    use alloc::vec::Vec;

    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer as _;

    use super::{Assertion, Credential, FLAG_UP, challenge, signed_bytes};
    use crate::digest::Sha256Digest;

    /// A software passkey with a fixed key.
    #[derive(Clone, Debug)]
    pub struct Authenticator {
        key: SigningKey,
        /// The credential it holds.
        pub credential: Credential,
    }

    /// What to put in an assertion (to build valid and broken ones).
    #[derive(Clone, Debug)]
    pub struct AssertionSpec<'a> {
        /// `clientDataJSON.type`.
        pub kind: &'a str,
        /// `clientDataJSON.origin`.
        pub origin: String,
        /// The rp id whose hash goes into authenticatorData.
        pub rp_id: String,
        /// The flags byte.
        pub flags: u8,
        /// The signature counter.
        pub counter: u32,
    }

    impl Authenticator {
        /// A passkey whose P-256 secret scalar is derived from `seed`, for `rp_id`.
        ///
        /// # Panics
        /// Never for the fixtures' seeds (a zero or out-of-range scalar).
        #[must_use]
        pub fn new(seed: u8, rp_id: &str, user_verification: bool) -> Self {
            let scalar = Sha256Digest::of(&[b'p', b'2', b'5', b'6', seed]).0;
            let key = SigningKey::from_slice(&scalar).expect("a SHA-256 digest is a valid P-256 scalar");
            let point = key.verifying_key().to_encoded_point(false);
            let credential = Credential::new(
                point.as_bytes(),
                Sha256Digest::of(&[b'c', b'r', b'e', b'd', seed]).0[..16].to_vec(),
                rp_id.into(),
                user_verification,
            )
            .expect("a fixture credential is valid");
            Self { key, credential }
        }

        /// The ordinary assertion: `webauthn.get`, origin `https://<rp id>`, UP set.
        #[must_use]
        pub fn spec(&self) -> AssertionSpec<'static> {
            AssertionSpec {
                kind: super::ASSERTION_TYPE,
                origin: alloc::format!("https://{}", self.credential.rp_id),
                rp_id: self.credential.rp_id.clone(),
                flags: FLAG_UP,
                counter: 0,
            }
        }

        /// An assertion over `signing_input` made as `spec` says.
        #[must_use]
        pub fn assert_with(&self, signing_input: &[u8], spec: &AssertionSpec<'_>) -> Assertion {
            let client_data_json = alloc::format!(
                r#"{{"type":"{}","challenge":"{}","origin":"{}","crossOrigin":false}}"#,
                spec.kind,
                challenge(signing_input),
                spec.origin
            )
            .into_bytes();
            let mut authenticator_data: Vec<u8> = Sha256Digest::of(spec.rp_id.as_bytes()).0.to_vec();
            authenticator_data.push(spec.flags);
            authenticator_data.extend_from_slice(&spec.counter.to_be_bytes());
            let sig: p256::ecdsa::Signature = self.key.sign(&signed_bytes(&authenticator_data, &client_data_json));
            Assertion { authenticator_data, client_data_json, signature: sig.to_der().as_bytes().to_vec() }
        }

        /// An ordinary assertion over `signing_input`.
        #[must_use]
        pub fn assert(&self, signing_input: &[u8]) -> Assertion {
            self.assert_with(signing_input, &self.spec())
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::testing::Authenticator;
    use super::*;

    const INPUT: &[u8] = b"DSSEv1 32 application/vnd.writ.approval.v2 3 abc";

    #[test]
    fn valid_and_each_refusal() {
        let a = Authenticator::new(1, "writ.example", false);
        let ok = a.assert(INPUT);
        assert_eq!(verify_assertion(&a.credential, INPUT, &ok), Ok(()));
        assert_eq!(verify_assertion(&a.credential, b"other", &ok), Err(AssertionError::Challenge));

        let mut s = a.spec();
        s.kind = "webauthn.create";
        assert_eq!(verify_assertion(&a.credential, INPUT, &a.assert_with(INPUT, &s)), Err(AssertionError::Type));
        let mut s = a.spec();
        s.origin = "https://evil.example".into();
        assert_eq!(verify_assertion(&a.credential, INPUT, &a.assert_with(INPUT, &s)), Err(AssertionError::Origin));
        let mut s = a.spec();
        s.rp_id = "evil.example".into();
        assert_eq!(verify_assertion(&a.credential, INPUT, &a.assert_with(INPUT, &s)), Err(AssertionError::RpId));
        let mut s = a.spec();
        s.flags = FLAG_UV;
        assert_eq!(
            verify_assertion(&a.credential, INPUT, &a.assert_with(INPUT, &s)),
            Err(AssertionError::UserPresence)
        );

        let uv = Authenticator::new(1, "writ.example", true);
        assert_eq!(verify_assertion(&uv.credential, INPUT, &ok), Err(AssertionError::UserVerification));
        let mut s = uv.spec();
        s.flags = FLAG_UP | FLAG_UV;
        assert_eq!(verify_assertion(&uv.credential, INPUT, &uv.assert_with(INPUT, &s)), Ok(()));

        let mut forged = ok.clone();
        forged.authenticator_data[33] ^= 1; // the counter: signed, not otherwise checked
        assert_eq!(verify_assertion(&a.credential, INPUT, &forged), Err(AssertionError::Signature));
        let other = Authenticator::new(2, "writ.example", false);
        assert_eq!(verify_assertion(&other.credential, INPUT, &ok), Err(AssertionError::Signature));
        let mut bad_der = ok;
        bad_der.signature.truncate(10);
        assert!(matches!(verify_assertion(&a.credential, INPUT, &bad_der), Err(AssertionError::Malformed(_))));
    }

    #[test]
    fn origins() {
        assert!(origin_matches("https://writ.example", "writ.example"));
        assert!(origin_matches("https://writ.example:8443", "writ.example"));
        assert!(origin_matches("https://console.writ.example", "writ.example"));
        assert!(origin_matches("http://localhost:7300", "localhost"));
        for (o, rp) in [
            ("http://writ.example", "writ.example"),
            ("https://evilwrit.example", "writ.example"),
            ("https://writ.example.evil", "writ.example"),
            ("https://writ.example:", "writ.example"),
            ("https://writ.example:80x", "writ.example"),
            ("https://writ.example/path", "writ.example"),
            ("http://localhost.evil:1", "localhost"),
            ("ftp://writ.example", "writ.example"),
        ] {
            assert!(!origin_matches(o, rp), "{o} for {rp}");
        }
    }

    #[test]
    fn credential_bounds() {
        let a = Authenticator::new(1, "writ.example", false);
        let pk = a.credential.public_key().to_vec();
        assert!(Credential::new(&pk[1..], vec![1], "writ.example".into(), false).is_err());
        assert!(Credential::new(&pk, vec![], "writ.example".into(), false).is_err());
        assert!(Credential::new(&pk, vec![1], "Writ.Example".into(), false).is_err());
        assert!(Credential::new(&pk, vec![1], "a..b".into(), false).is_err());
        let mut off = pk;
        off[64] ^= 1;
        assert!(Credential::new(&off, vec![1], "writ.example".into(), false).is_err());
    }
}
