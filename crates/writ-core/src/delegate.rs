//! Delegation: the holder of a writ (the key its `lineage.holder` names)
//! signs a narrower child of it, and a verifier checks the chain back to a
//! root writ signed by an issuer key of the trust root (`docs/format.md`
//! §18).
//!
//! A child writ carries its parent's request, policy proof, approvals and
//! conditions unchanged (the holder can add no approval and no policy
//! decision); it names its parent by id and envelope digest; its depth is
//! the parent's + 1 and at most the parent's `max_depth`; and everything it
//! grants lies within the parent ([`crate::attenuate::check`]). It may name
//! the next holder.
//!
//! ```
//! use writ_core::delegate::{self, Narrowing};
//! use writ_core::{fixtures, Context, Timestamp};
//! let orchestrator = fixtures::key(40);
//! let mut root = fixtures::predicate();
//! root.lineage.holder = Some(writ_core::model::Holder::new(&orchestrator.public()));
//! let parent = fixtures::sign(root.clone());
//! let n = Narrowing { uses: Some(1), ..Narrowing::new("01940000-0000-7000-8000-0000000000a9".into(), root.issued_at) };
//! let child = delegate::mint(&parent, &orchestrator, &n).unwrap();
//! let ctx = Context { ancestors: vec![parent], ..Context::check_at(root.validity.not_before) };
//! let v = writ_core::verify(&child, &fixtures::trust_root(false), &ctx).unwrap();
//! assert_eq!(v.signer(), orchestrator.key_id());
//! assert_eq!(v.root_issuer(), fixtures::issuer().key_id());
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::denial::{Denial, DenialCode};
use crate::digest::{DigestSet, Sha256Digest};
use crate::keys::{PublicKey, SigningKey};
use crate::limits::{MAX_DEPTH, MAX_ENVELOPE_BYTES};
use crate::model::{Action, ArgRule, Boundaries, Holder, Lineage, ParentRef, Predicate, Validity};
use crate::time::Timestamp;

fn deny(code: DenialCode, detail: impl Into<String>) -> Denial {
    Denial::new(code, detail)
}

/// Checks that `child`, signed by `parent`'s holder, may stand under
/// `parent`: the depth rule (`delegation_depth`), the members it must carry
/// unchanged and the attenuation rules of §13 (`delegation_widened`).
///
/// # Errors
/// The first rule broken, with its code.
pub fn check(parent: &Predicate, child: &Predicate) -> Result<(), Denial> {
    let (pl, cl) = (&parent.lineage, &child.lineage);
    if cl.depth != pl.depth.saturating_add(1) {
        return Err(deny(
            DenialCode::DelegationDepth,
            alloc::format!(
                "`lineage.depth` is {}; the parent's is {}, so it must be {}",
                cl.depth,
                pl.depth,
                pl.depth + 1
            ),
        ));
    }
    if cl.depth > pl.max_depth {
        return Err(deny(
            DenialCode::DelegationDepth,
            alloc::format!(
                "the parent may be delegated {} level(s) deep and this child is level {}",
                pl.max_depth,
                cl.depth
            ),
        ));
    }
    if cl.max_depth > pl.max_depth {
        return Err(deny(
            DenialCode::DelegationDepth,
            alloc::format!("`lineage.max_depth` {} exceeds the parent's {}", cl.max_depth, pl.max_depth),
        ));
    }
    let widened = |what: &str| {
        deny(
            DenialCode::DelegationWidened,
            alloc::format!("`{what}` differs from the parent's: a holder carries it over unchanged"),
        )
    };
    if child.request != parent.request {
        return Err(widened("request"));
    }
    if child.policy != parent.policy {
        return Err(widened("policy"));
    }
    if child.governance != parent.governance {
        return Err(widened("governance"));
    }
    if child.conditions != parent.conditions {
        return Err(widened("conditions"));
    }
    crate::attenuate::check(parent, child).map_err(|e| deny(DenialCode::DelegationWidened, e))
}

/// What a holder narrows when minting a child; every `None` keeps the
/// parent's value.
#[derive(Clone, Debug)]
pub struct Narrowing {
    /// The child's id (a fresh UUIDv7: the core draws no randomness).
    pub id: String,
    /// When the holder mints it (the core reads no clock).
    pub issued_at: Timestamp,
    /// The actions it permits.
    pub actions: Option<Vec<Action>>,
    /// Start of validity (default: the later of the parent's and `issued_at`).
    pub not_before: Option<Timestamp>,
    /// End of validity.
    pub not_after: Option<Timestamp>,
    /// How many executions it permits.
    pub uses: Option<u32>,
    /// Its boundaries.
    pub boundaries: Option<Boundaries>,
    /// Host names it may run on.
    pub hosts: Option<Vec<String>>,
    /// How many further levels of delegation it allows below itself
    /// (default: one fewer than the parent's remaining depth).
    pub depth: Option<u32>,
    /// The key that may delegate the child in turn (default: none).
    pub holder: Option<PublicKey>,
}

impl Narrowing {
    /// Keeps everything of the parent but the id and time.
    #[must_use]
    pub fn new(id: String, issued_at: Timestamp) -> Self {
        Self {
            id,
            issued_at,
            actions: None,
            not_before: None,
            not_after: None,
            uses: None,
            boundaries: None,
            hosts: None,
            depth: None,
            holder: None,
        }
    }
}

/// The child predicate `key` would sign under `parent` (whose envelope is
/// `parent_envelope`), checked by [`check`] before it is returned.
///
/// # Errors
/// `delegation_signature` when `key` is not the parent's holder;
/// `delegation_depth` / `delegation_widened` when the narrowing asks for
/// more than the parent grants; `malformed` when the child breaks a format
/// rule.
pub fn child_predicate(
    parent_envelope: &[u8],
    parent: &Predicate,
    key: &SigningKey,
    n: &Narrowing,
) -> Result<Predicate, Denial> {
    let holder = parent.lineage.holder.as_ref().ok_or_else(|| {
        deny(DenialCode::DelegationSignature, "the parent writ names no holder: no key may delegate it")
    })?;
    let holder_key = holder.key().map_err(|e| deny(DenialCode::Malformed, e))?;
    if holder_key.key_id() != key.key_id() {
        return Err(deny(
            DenialCode::DelegationSignature,
            alloc::format!("the parent's holder is key {}, not this key {}", holder_key.key_id(), key.key_id()),
        ));
    }
    let remaining = parent.lineage.max_depth.saturating_sub(parent.lineage.depth);
    if remaining == 0 {
        return Err(deny(DenialCode::DelegationDepth, "the parent writ has no delegation depth left"));
    }
    let depth = parent.lineage.depth + 1;
    let below = n.depth.unwrap_or(remaining - 1);
    let mut child = parent.clone();
    child.id.clone_from(&n.id);
    child.issuer = key.key_id();
    child.issued_at = n.issued_at;
    if let Some(a) = &n.actions {
        child.scope.actions.clone_from(a);
    }
    let not_before = n.not_before.unwrap_or(if n.issued_at > parent.validity.not_before {
        n.issued_at
    } else {
        parent.validity.not_before
    });
    child.validity = Validity { not_before, not_after: n.not_after.unwrap_or(parent.validity.not_after) };
    if child.issued_at > child.validity.not_before {
        child.issued_at = child.validity.not_before;
    }
    if n.uses.is_some() {
        child.scope.uses = n.uses;
    }
    if let Some(b) = &n.boundaries {
        child.scope.boundaries = b.clone();
    }
    if n.hosts.is_some() {
        child.scope.environment.hosts.clone_from(&n.hosts);
    }
    child.lineage = Lineage {
        parent: Some(ParentRef { id: parent.id.clone(), digest: DigestSet(Sha256Digest::of(parent_envelope)) }),
        depth,
        max_depth: depth.saturating_add(below).min(MAX_DEPTH),
        holder: n.holder.as_ref().map(Holder::new),
    };
    check(parent, &child)?;
    crate::issue::statement(child.clone()).validate().map_err(|e| deny(DenialCode::Malformed, e))?;
    Ok(child)
}

/// Mints the child of the writ `parent_envelope`: [`child_predicate`],
/// signed by the holder `key`. The parent is parsed, not verified (the
/// holder needs no trust root; every verifier checks the chain).
///
/// # Errors
/// `malformed` / `too_large` when the parent is not a writ; as
/// [`child_predicate`].
pub fn mint(parent_envelope: &[u8], key: &SigningKey, n: &Narrowing) -> Result<Vec<u8>, Denial> {
    let parent = read_parent(parent_envelope)?;
    let child = child_predicate(parent_envelope, &parent, key, n)?;
    crate::issue::sign(&crate::issue::statement(child), key).map_err(|e| deny(DenialCode::Malformed, e))
}

/// The predicate of a writ envelope, parsed strictly but **not verified**.
///
/// # Errors
/// `too_large` or `malformed`.
pub fn read_parent(envelope: &[u8]) -> Result<Predicate, Denial> {
    if envelope.len() > MAX_ENVELOPE_BYTES {
        return Err(deny(DenialCode::TooLarge, alloc::format!("the parent writ is over {MAX_ENVELOPE_BYTES} bytes")));
    }
    let env =
        crate::dsse::decode(envelope).map_err(|e| deny(DenialCode::Malformed, alloc::format!("parent writ: {e}")))?;
    let st: crate::model::Statement = crate::json::from_slice(&env.payload)
        .map_err(|e| deny(DenialCode::Malformed, alloc::format!("parent writ statement: {e}")))?;
    st.validate().map_err(|e| deny(DenialCode::Malformed, alloc::format!("parent writ: {e}")))?;
    Ok(st.predicate)
}

/// The parent's tool action `name` narrowed to exactly the argument values
/// given (`args`: name → the values allowed, one value = `exact`, several =
/// `one_of`); the parent's rules on arguments not given are kept, and no
/// unconstrained argument passes (`more_args` off).
///
/// # Errors
/// `delegation_widened` when the parent permits no tool `name`.
pub fn narrow_tool(parent: &Predicate, name: &str, args: &[(String, Vec<String>)]) -> Result<Action, Denial> {
    let Some(mut t) = parent.scope.actions.iter().find_map(|a| match a {
        Action::Tool(t) if t.name == name => Some(t.clone()),
        _ => None,
    }) else {
        return Err(deny(DenialCode::DelegationWidened, alloc::format!("the parent writ permits no tool `{name}`")));
    };
    t.more_args = false;
    for (k, values) in args {
        let rule = match values.as_slice() {
            [one] => ArgRule::Exact(one.clone()),
            many => ArgRule::OneOf(many.to_vec()),
        };
        t.args.0.insert(k.clone(), rule);
    }
    Ok(Action::Tool(t))
}

/// The ancestors that travel with a delegated writ (`WRIT.chain` beside
/// `WRIT`): the envelopes, parent first, each as standard base64 so that
/// their bytes (and digests) are kept exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// Base64 envelopes, parent first.
    pub ancestors: Vec<String>,
}

impl Chain {
    /// The chain of the ancestors given as envelope bytes.
    #[must_use]
    pub fn new(ancestors: &[Vec<u8>]) -> Self {
        Self { ancestors: ancestors.iter().map(|a| crate::b64::encode(a)).collect() }
    }

    /// The chain of a child of `parent`, whose own chain is `parent_chain`.
    #[must_use]
    pub fn below(parent: &[u8], parent_chain: &[Vec<u8>]) -> Self {
        let mut all = Vec::with_capacity(parent_chain.len() + 1);
        all.push(parent.to_vec());
        all.extend(parent_chain.iter().cloned());
        Self::new(&all)
    }

    /// Parses a chain file.
    ///
    /// # Errors
    /// A message naming what is wrong (not JSON of this shape, more than
    /// [`MAX_DEPTH`] ancestors, an ancestor that is not base64 of at most
    /// [`MAX_ENVELOPE_BYTES`]).
    pub fn parse(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let c: Self = crate::json::from_slice(bytes).map_err(|e| alloc::format!("chain file: {e}"))?;
        if c.ancestors.len() > MAX_DEPTH as usize {
            return Err(alloc::format!("chain file lists {} ancestors; the limit is {MAX_DEPTH}", c.ancestors.len()));
        }
        c.ancestors
            .iter()
            .enumerate()
            .map(|(i, a)| {
                crate::b64::decode(a, MAX_ENVELOPE_BYTES)
                    .map_err(|e| alloc::format!("chain file: ancestors[{i}] is not base64 of an envelope: {e}"))
            })
            .collect()
    }

    /// The file's text (one JSON object and a newline).
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}
