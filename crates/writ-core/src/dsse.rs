//! DSSE v1 envelopes: the one signing input and the strict envelope codec.
//!
//! The signed bytes are `PAE(payloadType, payload)`; nothing is ever
//! re-serialized or canonicalised. The payload is parsed only after a
//! signature over those exact bytes checked out.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::b64;
use crate::keys::{KeyId, SIGNATURE_LEN, SigningKey};
use crate::limits::{MAX_ENVELOPE_BYTES, MAX_PAYLOAD_BYTES, MAX_SIGNATURES};

/// The payload type of an in-toto Statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DSSE's pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in ASCII decimal.
///
/// This is the only function that builds the bytes an issuer signs.
#[must_use]
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(alloc::format!("{} ", payload_type.len()).as_bytes());
    out.extend_from_slice(payload_type.as_bytes());
    out.extend_from_slice(alloc::format!(" {} ", payload.len()).as_bytes());
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope as it travels (standard base64 payload and signatures).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Base64 of the payload bytes.
    pub payload: String,
    /// Media type of the payload.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// One or more signatures over `PAE(payloadType, payload)`.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// Hex key id of the signing key.
    pub keyid: String,
    /// Base64 of the 64-byte Ed25519 signature.
    pub sig: String,
}

/// A parsed envelope whose base64 fields have been decoded, not yet trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedEnvelope {
    /// Payload type.
    pub payload_type: String,
    /// Decoded payload bytes (exactly what was signed).
    pub payload: Vec<u8>,
    /// `(key id, signature bytes)` pairs, in envelope order.
    pub signatures: Vec<(KeyId, Vec<u8>)>,
}

impl DecodedEnvelope {
    /// The bytes each signature covers.
    #[must_use]
    pub fn signing_input(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// Signs `payload` and returns the envelope as compact JSON bytes.
#[must_use]
pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Vec<u8> {
    let sig = key.sign(&pae(payload_type, payload));
    let env = Envelope {
        payload: b64::encode(payload),
        payload_type: payload_type.into(),
        signatures: alloc::vec![EnvelopeSignature { keyid: key.key_id().0.to_hex(), sig: b64::encode(&sig) }],
    };
    // Serializing a struct of strings cannot fail.
    serde_json::to_vec(&env).unwrap_or_default()
}

/// Signs `payload` with each of `keys`, in order (signatures in that order).
#[must_use]
pub fn sign_multi(payload_type: &str, payload: &[u8], keys: &[&SigningKey]) -> Vec<u8> {
    let input = pae(payload_type, payload);
    let env = Envelope {
        payload: b64::encode(payload),
        payload_type: payload_type.into(),
        signatures: keys
            .iter()
            .map(|k| EnvelopeSignature { keyid: k.key_id().0.to_hex(), sig: b64::encode(&k.sign(&input)) })
            .collect(),
    };
    serde_json::to_vec(&env).unwrap_or_default()
}

/// Parses and decodes an envelope under the size limits.
///
/// # Errors
/// A message naming what is wrong: size, JSON shape, unknown or duplicate
/// fields, base64, signature count or key id form.
pub fn decode(bytes: &[u8]) -> Result<DecodedEnvelope, String> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(alloc::format!("envelope is {} bytes; the limit is {MAX_ENVELOPE_BYTES}", bytes.len()));
    }
    let env: Envelope = crate::json::from_slice(bytes).map_err(|e| alloc::format!("envelope: {e}"))?;
    if env.signatures.is_empty() {
        return Err("envelope carries no signature".into());
    }
    if env.signatures.len() > MAX_SIGNATURES {
        return Err(alloc::format!("envelope carries more than {MAX_SIGNATURES} signatures"));
    }
    let payload = b64::decode(&env.payload, MAX_PAYLOAD_BYTES).map_err(|e| alloc::format!("envelope payload: {e}"))?;
    let mut signatures = Vec::with_capacity(env.signatures.len());
    for s in &env.signatures {
        let keyid = KeyId::parse(&s.keyid).map_err(|e| alloc::format!("signature keyid `{}`: {e}", s.keyid))?;
        let sig =
            b64::decode(&s.sig, crate::hybrid::HYBRID_SIGNATURE_LEN).map_err(|e| alloc::format!("signature: {e}"))?;
        // Ed25519, or Ed25519 ‖ ML-DSA-65 (`crate::hybrid`); which one a key
        // must use is the trust root's to say, not the envelope's.
        if sig.len() != SIGNATURE_LEN && sig.len() != crate::hybrid::HYBRID_SIGNATURE_LEN {
            return Err(alloc::format!(
                "signature is {} bytes, neither 64 (ed25519) nor {} (ed25519+ml-dsa-65)",
                sig.len(),
                crate::hybrid::HYBRID_SIGNATURE_LEN
            ));
        }
        signatures.push((keyid, sig));
    }
    Ok(DecodedEnvelope { payload_type: env.payload_type, payload, signatures })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_vector() {
        // DSSE v1.0 protocol.md, "Test vectors".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn sign_then_decode() {
        let key = SigningKey::from_seed(&[1; 32]);
        let bytes = sign(IN_TOTO_PAYLOAD_TYPE, b"{}", &key);
        let env = decode(&bytes).unwrap();
        assert_eq!(env.payload, b"{}");
        let (kid, sig) = &env.signatures[0];
        assert_eq!(*kid, key.key_id());
        assert!(key.public().verify_strict(&env.signing_input(), sig));
    }

    #[test]
    fn rejects_unknown_and_duplicate_fields() {
        let key = SigningKey::from_seed(&[1; 32]);
        let good = String::from_utf8(sign(IN_TOTO_PAYLOAD_TYPE, b"{}", &key)).unwrap();
        let unknown = good.replacen('{', "{\"extra\":1,", 1);
        assert!(decode(unknown.as_bytes()).unwrap_err().contains("unknown field"));
        let dup = good.replacen('{', "{\"payloadType\":\"x\",", 1);
        assert!(decode(dup.as_bytes()).unwrap_err().contains("duplicate field"));
        let trailing = alloc::format!("{good}{{}}");
        assert!(decode(trailing.as_bytes()).is_err());
    }
}
