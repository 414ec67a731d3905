//! A JSON description of a verification [`Context`], so that test vectors,
//! the browser and other languages can state exactly what was verified
//! against. Documented in `docs/format.md`, "Context files".

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::digest::{Sha256Digest, hex_str};
use crate::limits::{MAX_ENVELOPE_BYTES, MAX_RECEIPT_BYTES};
use crate::scope::{Attempt, Capabilities, ExecAttempt, HostFacts, HttpAttempt, ToolAttempt};
use crate::time::Timestamp;
use crate::verify::{Context, Mode, Status};

/// Serializable form of a [`Context`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// Current time.
    pub now: Timestamp,
    /// `check`, `offline` or `online`.
    #[serde(default = "default_mode")]
    pub mode: ModeSpec,
    /// The attempted action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<AttemptSpec>,
    /// Host facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostSpec>,
    /// Boundaries the gate can enforce; absent = all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    /// Revocation status.
    #[serde(default, skip_serializing_if = "StatusSpec::is_unknown")]
    pub status: StatusSpec,
    /// Use number assigned by the authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_count: Option<u32>,
    /// Base64 envelopes of the ancestors, parent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ancestors: Vec<String>,
    /// The receipt (its JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
}

fn default_mode() -> ModeSpec {
    ModeSpec::Check
}

/// Serializable [`Mode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeSpec {
    /// [`Mode::Check`].
    Check,
    /// [`Mode::Offline`].
    Offline,
    /// [`Mode::Online`].
    Online,
}

/// Serializable [`Status`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StatusSpec {
    /// Unknown.
    #[default]
    Unknown,
    /// Good as of `checked_at`.
    Good {
        /// When checked.
        checked_at: Timestamp,
    },
    /// Revoked at `at`.
    Revoked {
        /// When revoked.
        at: Timestamp,
    },
}

impl StatusSpec {
    fn is_unknown(&self) -> bool {
        *self == Self::Unknown
    }
}

/// Serializable [`Attempt`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AttemptSpec {
    /// A program run.
    Exec {
        /// Program path.
        program: String,
        /// Its sha256.
        #[serde(with = "hex_str")]
        sha256: Sha256Digest,
        /// Arguments after the program name.
        #[serde(default)]
        args: Vec<String>,
        /// The environment it would receive.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Working directory.
        cwd: String,
        /// Arguments handed over as hashed files: index into `args` → hex sha256.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty", with = "hex_map")]
        arg_files: BTreeMap<usize, Sha256Digest>,
    },
    /// An HTTP request.
    Http {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// Body digest.
        #[serde(with = "hex_str")]
        body_sha256: Sha256Digest,
    },
    /// A tool call.
    Tool {
        /// Tool name.
        name: String,
        /// Arguments.
        #[serde(default)]
        args: BTreeMap<String, String>,
        /// sha256 of the whole argument object.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::model::opt_hex")]
        args_sha256: Option<Sha256Digest>,
        /// sha256 of the tool's definition.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::model::opt_hex")]
        definition_sha256: Option<Sha256Digest>,
    },
}

/// Serializable [`HostFacts`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// Host name.
    pub hostname: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeSet<String>,
}

impl ContextSpec {
    /// A check-only spec at `now`.
    #[must_use]
    pub fn check_at(now: Timestamp) -> Self {
        Self {
            now,
            mode: ModeSpec::Check,
            attempt: None,
            host: None,
            capabilities: None,
            status: StatusSpec::Unknown,
            use_count: None,
            ancestors: Vec::new(),
            receipt: None,
        }
    }

    /// Builds the [`Context`].
    ///
    /// # Errors
    /// A message for an unknown capability name or a bad ancestor encoding.
    pub fn to_context(&self) -> Result<Context, String> {
        let capabilities = match &self.capabilities {
            None => Capabilities::ALL,
            Some(names) => {
                let mut c = Capabilities::NONE;
                for n in names {
                    match n.as_str() {
                        "wall_clock" => c.wall_clock = true,
                        "cpu" => c.cpu = true,
                        "memory" => c.memory = true,
                        "processes" => c.processes = true,
                        "open_files" => c.open_files = true,
                        "file_size" => c.file_size = true,
                        "network" => c.network = true,
                        "fs" => c.fs = true,
                        other => return Err(alloc::format!("unknown capability `{other}`")),
                    }
                }
                c
            }
        };
        let ancestors = self
            .ancestors
            .iter()
            .map(|a| crate::b64::decode(a, MAX_ENVELOPE_BYTES).map_err(String::from))
            .collect::<Result<Vec<_>, _>>()?;
        if self.receipt.as_ref().is_some_and(|r| r.len() > MAX_RECEIPT_BYTES) {
            return Err("receipt is too large".into());
        }
        Ok(Context {
            now: self.now,
            attempt: self.attempt.clone().map(|a| match a {
                AttemptSpec::Exec { program, sha256, args, env, cwd, arg_files } => {
                    Attempt::Exec(ExecAttempt { program, sha256, args, env, cwd, arg_files })
                }
                AttemptSpec::Http { method, path, body_sha256 } => {
                    Attempt::Http(HttpAttempt { method, path, body_sha256 })
                }
                AttemptSpec::Tool { name, args, args_sha256, definition_sha256 } => {
                    Attempt::Tool(ToolAttempt { name, args, args_sha256, definition_sha256 })
                }
            }),
            host: self.host.clone().map(|h| HostFacts { hostname: h.hostname, labels: h.labels }),
            capabilities,
            mode: match self.mode {
                ModeSpec::Check => Mode::Check,
                ModeSpec::Offline => Mode::Offline,
                ModeSpec::Online => Mode::Online,
            },
            status: match self.status {
                StatusSpec::Unknown => Status::Unknown,
                StatusSpec::Good { checked_at } => Status::Good { checked_at },
                StatusSpec::Revoked { at } => Status::Revoked { at },
            },
            use_count: self.use_count,
            ancestors,
            receipt: self.receipt.clone().map(String::into_bytes),
        })
    }
}

mod hex_map {
    use alloc::collections::BTreeMap;
    use alloc::string::String;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::digest::Sha256Digest;

    pub fn serialize<S: Serializer>(m: &BTreeMap<usize, Sha256Digest>, s: S) -> Result<S::Ok, S::Error> {
        m.iter().map(|(k, v)| (*k, v.to_hex())).collect::<BTreeMap<usize, String>>().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<usize, Sha256Digest>, D::Error> {
        BTreeMap::<usize, String>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| Sha256Digest::from_hex(&v).map(|v| (k, v)).map_err(serde::de::Error::custom))
            .collect()
    }
}
