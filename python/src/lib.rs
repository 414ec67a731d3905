//! `writ._writ`: the Python extension over `writ-core`.
//!
//! - [`verify`] is `writ_core::verify`, with the context given as the JSON
//!   context spec of the test vectors (`docs/format.md`, "Context files"), so
//!   that Python reaches the same verdict and code as native and WebAssembly.
//! - [`Gate`] checks an agent's tool call ([`writ_core::ToolAttempt`]) in
//!   `offline` (or `check`) mode and appends `exec_start`, `exec_end` and
//!   `denial` records to the gate's durable spool, framed exactly as
//!   `writ_gate::spool` frames them, so that `writ sync` uploads them. Every
//!   record is a signed gate record (`writ_core::gate_record`,
//!   `docs/format.md` §19), signed with the gate key given to the gate
//!   (`gate_key=`), exactly as the native gate's `Recorder` signs: a gate
//!   that would write records has no way to run without its key.
//!
//! The Python package (`writ/__init__.py`) wraps these in the public API.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use writ_core::entry::{self, Entry, ExecEnd, ExecStart};
use writ_core::gate_record::GateRecord;
use writ_core::spec::ContextSpec;
// The spool and the argv digest are the gate's own (one format, one framing).
use writ_core::{
    Attempt, Capabilities, Context, Denial, DenialCode, HostFacts, Mode, SigningKey, Timestamp, ToolAttempt,
};
use writ_gate::{Durability, Spool};

create_exception!(
    _writ,
    Denied,
    PyException,
    "A writ was refused: `.code` is the stable denial code, `.detail` says why."
);

fn denied(py: Python<'_>, d: &Denial) -> PyErr {
    let err = Denied::new_err(format!("denied ({}): {}", d.code.as_str(), d.detail));
    let value = err.value(py);
    if value.setattr("code", d.code.as_str()).is_err() || value.setattr("detail", d.detail.as_str()).is_err() {
        return PyValueError::new_err("could not build the denial");
    }
    err
}

/// Bytes from `bytes` or `str` (UTF-8).
fn bytes_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes().to_vec());
    }
    Err(PyValueError::new_err(format!("{what} must be bytes or str")))
}

/// Header of a `writ keygen` private key file.
const PRIVATE_PREFIX: &str = "ed25519-secret ";

/// Reads a `writ keygen` private key file, refusing a public key, a file
/// readable by group or others, and anything else (as the native gate does).
fn read_key_file(path: &Path) -> PyResult<SigningKey> {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    let shown = path.display();
    let err = |msg: String| PyValueError::new_err(msg);
    let meta = std::fs::metadata(path).map_err(|e| PyOSError::new_err(format!("gate key `{shown}`: {e}")))?;
    if !meta.is_file() {
        return Err(err(format!("gate key `{shown}` is not a file")));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(4097).read_to_string(&mut text))
        .map_err(|e| PyOSError::new_err(format!("gate key `{shown}`: {e}")))?;
    if text.len() > 4096 {
        return Err(err(format!(
            "gate key `{shown}` is larger than 4096 bytes; pass the private key file from `writ keygen`"
        )));
    }
    if writ_core::keys::parse_public_key_file(&text).is_ok() {
        return Err(err(format!(
            "`{shown}` is a public key; pass the gate's private key file (the one without `.pub`)"
        )));
    }
    let Some(b64) = text.trim_end().strip_prefix(PRIVATE_PREFIX) else {
        return Err(err(format!(
            "`{shown}` is not a writ private key (expected `{PRIVATE_PREFIX}<base64>` from `writ keygen`)"
        )));
    };
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(err(format!("private key `{shown}` is readable by others; run `chmod 600 {shown}`")));
    }
    let seed = writ_core::b64::decode(b64, 32).map_err(|e| err(format!("`{shown}`: {e}")))?;
    let seed: [u8; 32] = seed.as_slice().try_into().map_err(|_| err(format!("`{shown}`: a key seed is 32 bytes")))?;
    Ok(SigningKey::from_seed(&seed))
}

/// The gate key from `gate_key=`: the path of a `writ keygen` private key
/// file (`str` or `os.PathLike`), or its raw 32-byte seed (`bytes`).
fn gate_key_of(obj: &Bound<'_, PyAny>) -> PyResult<SigningKey> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        let seed: [u8; 32] = b.as_bytes().try_into().map_err(|_| {
            PyValueError::new_err(
                "`gate_key` as bytes is the 32-byte Ed25519 seed; pass the path of the `writ keygen` key file instead",
            )
        })?;
        return Ok(SigningKey::from_seed(&seed));
    }
    let path: PathBuf = obj.extract().map_err(|_| {
        PyValueError::new_err("`gate_key` must be the path of the gate's private key file (or its 32-byte seed)")
    })?;
    read_key_file(&path)
}

/// A parsed trust root (`trust.json`).
#[pyclass(module = "writ._writ", frozen)]
#[derive(Debug)]
struct TrustRoot {
    inner: writ_core::TrustRoot,
}

#[pymethods]
impl TrustRoot {
    #[new]
    fn new(json: &Bound<'_, PyAny>) -> PyResult<Self> {
        let bytes = bytes_of(json, "the trust root")?;
        let inner = writ_core::TrustRoot::from_json(&bytes)
            .map_err(|e| PyValueError::new_err(format!("trust root: {e}; pass the contents of a `trust.json`")))?;
        Ok(Self { inner })
    }
}

/// A parsed verification context (the JSON context spec).
#[pyclass(module = "writ._writ", frozen)]
#[derive(Debug)]
struct VerifyContext {
    inner: Context,
}

#[pymethods]
impl VerifyContext {
    /// `json`: the context spec as JSON text.
    #[new]
    fn new(json: &str) -> PyResult<Self> {
        let spec: ContextSpec = serde_json::from_str(json)
            .map_err(|e| PyValueError::new_err(format!("context: {e}; see docs/format.md, \"Context files\"")))?;
        let inner = spec.to_context().map_err(|e| PyValueError::new_err(format!("context: {e}")))?;
        Ok(Self { inner })
    }
}

/// A writ whose every check passed.
#[pyclass(module = "writ._writ", frozen)]
#[derive(Debug)]
struct Verified {
    inner: writ_core::Verified,
}

#[pymethods]
impl Verified {
    /// The writ id.
    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }
    /// The request id it answers.
    #[getter]
    fn request_id(&self) -> &str {
        &self.inner.predicate().request.id
    }
    /// The issuer key id that signed it.
    #[getter]
    fn issuer(&self) -> String {
        self.inner.signer().to_string()
    }
    /// Key ids of the approvers whose approvals counted.
    #[getter]
    fn approvers(&self) -> Vec<String> {
        self.inner.approvers().iter().map(ToString::to_string).collect()
    }
    /// sha256 (hex) of the envelope bytes as presented.
    #[getter]
    fn envelope_sha256(&self) -> String {
        self.inner.envelope_digest().to_hex()
    }
    /// sha256 (hex) of the signed payload.
    #[getter]
    fn payload_sha256(&self) -> String {
        self.inner.payload_digest().to_hex()
    }
    /// `not_before`, unix seconds.
    #[getter]
    fn not_before(&self) -> i64 {
        self.inner.predicate().validity.not_before.unix()
    }
    /// `not_after`, unix seconds.
    #[getter]
    fn not_after(&self) -> i64 {
        self.inner.predicate().validity.not_after.unix()
    }
    /// Index of the scope action that matched the attempt, if one was given.
    #[getter]
    fn matched_action(&self) -> Option<usize> {
        let m = self.inner.matched_action()?;
        self.inner.scope().actions.iter().position(|a| a == m)
    }
    /// The verified predicate as JSON text.
    fn predicate_json(&self) -> PyResult<String> {
        serde_json::to_string(self.inner.predicate()).map_err(|e| PyValueError::new_err(e.to_string()))
    }
    fn __repr__(&self) -> String {
        format!("Verified(id={:?}, issuer={:?})", self.inner.id(), self.inner.signer().to_string())
    }
}

/// `writ_core::verify` over a prepared trust root and context.
#[pyfunction]
fn verify_prepared(py: Python<'_>, envelope: &[u8], trust: &TrustRoot, context: &VerifyContext) -> PyResult<Verified> {
    match writ_core::verify(envelope, &trust.inner, &context.inner) {
        Ok(inner) => Ok(Verified { inner }),
        Err(d) => Err(denied(py, &d)),
    }
}

fn now() -> Timestamp {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// A successful check of one tool call: the only value `Gate.record` and the
/// `@gated` decorator accept.
#[pyclass(module = "writ._writ", frozen)]
#[derive(Debug)]
struct Permit {
    verified: writ_core::Verified,
    tool: String,
    args: BTreeMap<String, String>,
    checked_at: Timestamp,
}

#[pymethods]
impl Permit {
    /// The tool name checked.
    #[getter]
    fn tool(&self) -> &str {
        &self.tool
    }
    /// The checked arguments (strings, as matched).
    #[getter]
    fn args(&self) -> BTreeMap<String, String> {
        self.args.clone()
    }
    /// The writ id.
    #[getter]
    fn writ_id(&self) -> &str {
        self.verified.id()
    }
    /// The request id.
    #[getter]
    fn request_id(&self) -> &str {
        &self.verified.predicate().request.id
    }
    /// When it was checked (unix seconds).
    #[getter]
    fn checked_at(&self) -> i64 {
        self.checked_at.unix()
    }
    /// The writ's `not_after` (unix seconds).
    #[getter]
    fn not_after(&self) -> i64 {
        self.verified.predicate().validity.not_after.unix()
    }
    /// sha256 (hex) of the tool name: the `program_digest` of its records.
    #[getter]
    fn program_sha256(&self) -> String {
        writ_core::Sha256Digest::of(self.tool.as_bytes()).to_hex()
    }
    /// The `argv_digest` of its records: [`list_digest`] over the tool name
    /// followed by each argument's name and value, in name order.
    #[getter]
    fn argv_sha256(&self) -> String {
        self.argv_digest().to_hex()
    }
    fn __repr__(&self) -> String {
        format!("Permit(tool={:?}, writ_id={:?})", self.tool, self.verified.id())
    }
}

impl Permit {
    fn argv_digest(&self) -> writ_core::Sha256Digest {
        let items: Vec<&str> = std::iter::once(self.tool.as_str())
            .chain(self.args.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]))
            .collect();
        writ_gate::list_digest(&items)
    }
}

/// A tool-call gate: a trust root, this host's facts, a mode (`offline` or
/// `check`) and the spool its records go to.
#[pyclass(module = "writ._writ", frozen)]
#[derive(Debug)]
struct Gate {
    trust: writ_core::TrustRoot,
    host: HostFacts,
    mode: Mode,
    capabilities: Capabilities,
    spool: Option<Spool>,
    /// Signs every record (`writ_core::gate_record`); present whenever
    /// `spool` is.
    key: Option<Arc<SigningKey>>,
}

impl Gate {
    /// Signs `e` as a gate record with the gate's key and a fresh nonce
    /// (`writ_gate::sign_record`, what the native gate's recorder does) and
    /// appends it to the spool.
    fn append(&self, e: &Entry, durability: Durability) -> Result<Vec<u8>, String> {
        let (Some(s), Some(key)) = (&self.spool, &self.key) else {
            return Err("this gate has no spool and key to record with".into());
        };
        let bytes = writ_gate::sign_record(key, e, &[]).map_err(|err| format!("record: {err}"))?;
        s.append_bytes(&bytes, durability).map_err(|err| err.to_string())?;
        Ok(bytes)
    }
}

#[pymethods]
impl Gate {
    #[new]
    #[pyo3(signature = (trust_root, hostname, labels=Vec::new(), spool=None, mode="offline", enforces=Vec::new(), gate_key=None))]
    #[allow(clippy::too_many_arguments, reason = "keyword arguments of the Python API")]
    fn new(
        py: Python<'_>,
        trust_root: &Bound<'_, PyAny>,
        hostname: String,
        labels: Vec<String>,
        spool: Option<PathBuf>,
        mode: &str,
        enforces: Vec<String>,
        gate_key: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut capabilities = Capabilities::NONE;
        for name in &enforces {
            match name.as_str() {
                "wall_clock" => capabilities.wall_clock = true,
                "cpu" => capabilities.cpu = true,
                "memory" => capabilities.memory = true,
                "processes" => capabilities.processes = true,
                "open_files" => capabilities.open_files = true,
                "file_size" => capabilities.file_size = true,
                "network" => capabilities.network = true,
                "fs" => capabilities.fs = true,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "unknown boundary `{other}`; use wall_clock, cpu, memory, processes, open_files, file_size, network or fs"
                    )));
                }
            }
        }
        let trust = match trust_root.cast::<TrustRoot>() {
            Ok(t) => t.get().inner.clone(),
            Err(_) => TrustRoot::new(trust_root)?.inner,
        };
        let mode = match mode {
            "offline" => Mode::Offline,
            "check" => Mode::Check,
            other => {
                return Err(PyValueError::new_err(format!(
                    "mode `{other}` is not supported here; use `offline` (or `check` to check without running)"
                )));
            }
        };
        if mode == Mode::Offline && spool.is_none() {
            return Err(PyValueError::new_err(
                "an offline gate records every call; pass `spool=` (a file path), or use mode=\"check\"",
            ));
        }
        // Fail closed: a gate that writes records signs them, or writes none.
        let key = gate_key.map(gate_key_of).transpose()?.map(Arc::new);
        if spool.is_some() && key.is_none() {
            return Err(PyValueError::new_err(
                "a gate signs every record it spools (the authority refuses unsigned ones); pass `gate_key=` \
                 (the path of the gate's private key from `writ keygen`, whose public key the trust root lists \
                 with the `gate` role: `writ trust add --role gate`)",
            ));
        }
        let labels: BTreeSet<String> = labels.into_iter().collect();
        let host = HostFacts { hostname, labels };
        if let Some(k) = &key {
            // The native gate's own check: a key the trust root does not list
            // as a gate key (or binds to other hosts) would sign records no
            // authority or audit accepts, so nothing may run under it.
            writ_gate::check_gate_key(&trust, Some(k.key_id()), &host).map_err(|d| denied(py, &d))?;
        }
        let spool = spool.map(|p| Spool::open(&p)).transpose().map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Self { trust, host, mode, capabilities, spool, key })
    }

    /// The spool path, if any.
    #[getter]
    fn spool(&self) -> Option<PathBuf> {
        self.spool.as_ref().map(|s| s.path().to_path_buf())
    }

    /// The id of the key records are signed with (`sha256:<hex>`), if any.
    #[getter]
    fn gate_key_id(&self) -> Option<String> {
        self.key.as_ref().map(|k| k.key_id().to_string())
    }

    /// The host name records carry.
    #[getter]
    fn hostname(&self) -> &str {
        &self.host.hostname
    }

    /// Checks the writ for calling `tool` with `args` (string values) now.
    /// A denial is appended to the spool (when there is one) and raised.
    /// `ancestors`: the envelopes of a delegated writ's ancestors, parent first.
    /// `receipt`: the ledger receipt issued with the writ (`WRIT.receipt`),
    /// which a trust root with `require_receipt` asks for.
    #[pyo3(signature = (writ, tool, args, ancestors=Vec::new(), receipt=None))]
    fn check(
        &self,
        py: Python<'_>,
        writ: &[u8],
        tool: String,
        args: BTreeMap<String, String>,
        ancestors: Vec<Vec<u8>>,
        receipt: Option<Vec<u8>>,
    ) -> PyResult<Permit> {
        let checked_at = now();
        let ctx = Context {
            now: checked_at,
            attempt: Some(Attempt::Tool(ToolAttempt {
                name: tool.clone(),
                args: args.clone(),
                args_sha256: None,
                definition_sha256: None,
            })),
            host: Some(self.host.clone()),
            // Only the boundaries the caller said its tool runner enforces;
            // a writ that sets any other is refused (`scope_boundary`).
            capabilities: self.capabilities,
            mode: self.mode,
            status: writ_core::Status::Unknown,
            use_count: None,
            ancestors,
            receipt,
        };
        match py.detach(|| writ_core::verify(writ, &self.trust, &ctx)) {
            Ok(verified) => Ok(Permit { verified, tool, args, checked_at }),
            Err(d) => {
                if self.spool.is_some() {
                    let claimed = writ_core::Unverified::decode(writ).ok();
                    let e = Entry::Denial(entry::Denial {
                        time: checked_at,
                        request_id: claimed.as_ref().and_then(|u| u.request_id().map(str::to_owned)),
                        writ_id: claimed.as_ref().and_then(|u| u.id().map(str::to_owned)),
                        code: d.code.as_str().to_owned(),
                        detail: d.detail.clone(),
                        host: Some(self.host.hostname.clone()),
                    });
                    // The denial is raised whether or not it could be spooled;
                    // a spool error is reported in the detail.
                    if let Err(err) = self.append(&e, Durability::Lazy) {
                        let d = Denial::new(d.code, format!("{}; also, the denial was not spooled: {err}", d.detail));
                        return Err(denied(py, &d));
                    }
                }
                Err(denied(py, &d))
            }
        }
    }

    /// Appends a record of `permit` to the spool: `event` is `exec_start`
    /// (written and fsynced before the tool runs; the call must not run if
    /// this fails) or `exec_end` (with `outcome`, e.g. `returned`/`raised`,
    /// and an optional `exit_code`). Returns the signed gate record (the bytes spooled).
    #[pyo3(signature = (permit, event, outcome=None, exit_code=None))]
    fn record<'py>(
        &self,
        py: Python<'py>,
        permit: &Permit,
        event: &str,
        outcome: Option<String>,
        exit_code: Option<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if self.spool.is_none() {
            return Err(PyValueError::new_err(
                "this gate has no spool; open it with `spool=` (and `gate_key=`) to record calls",
            ));
        }
        if self.mode == Mode::Check {
            return Err(PyValueError::new_err(
                "a `check` gate does not run tools, so it records none; open it with mode=\"offline\"",
            ));
        }
        let request_id = permit.verified.predicate().request.id.clone();
        let writ_id = permit.verified.id().to_owned();
        let host = self.host.hostname.clone();
        let (e, durability) = match event {
            "exec_start" => {
                if outcome.is_some() || exit_code.is_some() {
                    return Err(PyValueError::new_err("`exec_start` takes no outcome or exit code"));
                }
                let now = now();
                if now > permit.verified.predicate().validity.not_after {
                    return Err(denied(
                        py,
                        &Denial::new(DenialCode::Expired, "the writ expired after the check; check again"),
                    ));
                }
                (
                    Entry::ExecStart(ExecStart {
                        time: now,
                        request_id,
                        writ_id,
                        host,
                        program_digest: writ_core::Sha256Digest::of(permit.tool.as_bytes()),
                        argv_digest: permit.argv_digest(),
                    }),
                    Durability::Sync,
                )
            }
            "exec_end" => {
                let Some(outcome) = outcome else {
                    return Err(PyValueError::new_err("`exec_end` needs an outcome (e.g. `returned` or `raised`)"));
                };
                (
                    Entry::ExecEnd(ExecEnd { time: now(), request_id, writ_id, host, outcome, exit_code }),
                    Durability::Lazy,
                )
            }
            other => {
                return Err(PyValueError::new_err(format!("unknown event `{other}`; use `exec_start` or `exec_end`")));
            }
        };
        let bytes = py.detach(|| self.append(&e, durability)).map_err(|err| {
            let what = if durability == Durability::Sync { "the call must not run" } else { "the call ran" };
            denied(
                py,
                &Denial::new(DenialCode::RecordFailed, format!("the `{event}` record was not written ({what}): {err}")),
            )
        })?;
        Ok(PyBytes::new(py, &bytes))
    }
}

/// Decodes one ledger entry (or gate record) to `(kind, JSON text of its
/// fields)` (for tests and inspection). A gate record's fields include
/// `gate_key` (the signing key's id, `sha256:<hex>`, or `null` when it is
/// unsigned); decoding checks no signature (see [`verify_record`]).
#[pyfunction]
fn decode_entry(bytes: &[u8]) -> PyResult<(String, String)> {
    let r = GateRecord::decode(bytes).map_err(|err| PyValueError::new_err(err.to_string()))?;
    let gate_key = r.signer().map(|k| k.to_string());
    let e = r.entry;
    let hex = |d: &writ_core::Sha256Digest| d.to_hex();
    let v = match &e {
        Entry::ExecStart(s) => serde_json::json!({
            "time": s.time.unix(), "request_id": s.request_id, "writ_id": s.writ_id, "host": s.host,
            "program_digest": hex(&s.program_digest), "argv_digest": hex(&s.argv_digest),
        }),
        Entry::ExecEnd(s) => serde_json::json!({
            "time": s.time.unix(), "request_id": s.request_id, "writ_id": s.writ_id, "host": s.host,
            "outcome": s.outcome, "exit_code": s.exit_code,
        }),
        Entry::Denial(s) => serde_json::json!({
            "time": s.time.unix(), "request_id": s.request_id, "writ_id": s.writ_id, "host": s.host,
            "code": s.code, "detail": s.detail,
        }),
        other => {
            serde_json::json!({ "time": other.time().unix(), "writ_id": other.writ_id(), "request_id": other.request_id() })
        }
    };
    let mut v = v;
    if writ_core::gate_record::is_gate_kind(e.kind())
        && let Some(o) = v.as_object_mut()
    {
        o.insert("gate_key".into(), gate_key.into());
    }
    Ok((e.kind().as_str().to_owned(), v.to_string()))
}

/// Verifies a gate record's signature against the `gate` keys of
/// `trust_root` (`GateRecord::verified_gate`, what the authority and
/// `writ audit` check). Returns the signing key's id; raises `Denied` with
/// `.code` `unsigned_gate_record`, `bad_gate_signature` or `malformed`.
#[pyfunction]
fn verify_record(py: Python<'_>, record: &[u8], trust_root: &Bound<'_, PyAny>) -> PyResult<String> {
    let trust = match trust_root.cast::<TrustRoot>() {
        Ok(t) => t.get().inner.clone(),
        Err(_) => TrustRoot::new(trust_root)?.inner,
    };
    let refused = |code: &str, detail: String| -> PyErr {
        let err = Denied::new_err(format!("denied ({code}): {detail}"));
        let value = err.value(py);
        if value.setattr("code", code).is_err() || value.setattr("detail", detail).is_err() {
            return PyValueError::new_err("could not build the denial");
        }
        err
    };
    let r = GateRecord::decode(record).map_err(|e| refused("malformed", e.to_string()))?;
    match r.verified_gate(&trust) {
        Ok(k) => Ok(k.key.key_id().to_string()),
        Err(e) => Err(refused(e.code(), e.to_string())),
    }
}

/// Reads every intact entry of a spool file: `(entries, torn_bytes)`.
#[pyfunction]
fn read_spool(py: Python<'_>, path: PathBuf) -> PyResult<(Vec<Bound<'_, PyBytes>>, usize)> {
    let c = Spool::read(&path).map_err(|e| PyOSError::new_err(e.to_string()))?;
    Ok((c.entries.iter().map(|e| PyBytes::new(py, e)).collect(), c.torn_bytes))
}

/// Every stable denial code name, in the order of `docs/format.md` §8.
#[pyfunction]
fn denial_codes() -> Vec<&'static str> {
    DenialCode::ALL.iter().map(|c| c.as_str()).collect()
}

/// Test-only helpers over `writ_core::fixtures` (public seeds: never for
/// real use). Built only with the `testing` feature.
#[cfg(feature = "testing")]
mod testing {
    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;
    use pyo3::types::PyBytes;
    use writ_core::fixtures;

    /// The base fixture predicate (that of the `allow_exec` vector), as JSON.
    #[pyfunction]
    pub fn predicate_json() -> PyResult<String> {
        serde_json::to_string(&fixtures::predicate()).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The vectors' trust root (`testdata/writs/trust.json`), as JSON.
    #[pyfunction]
    pub fn trust_root_json() -> String {
        fixtures::trust_root(false).to_json_pretty()
    }

    /// Native cost: runs `writ_core::verify` `n` times in Rust (no Python in
    /// the loop) and returns the total nanoseconds (for `python/bench.py`).
    #[pyfunction]
    pub fn native_verify_ns(
        py: Python<'_>,
        envelope: &[u8],
        trust: &super::TrustRoot,
        context: &super::VerifyContext,
        n: u32,
    ) -> PyResult<u128> {
        py.detach(|| {
            let start = std::time::Instant::now();
            for _ in 0..n {
                let v = writ_core::verify(std::hint::black_box(envelope), &trust.inner, &context.inner);
                if let Err(d) = std::hint::black_box(v) {
                    return Err(PyValueError::new_err(format!("the benchmark writ was denied: {d}")));
                }
            }
            Ok(start.elapsed().as_nanos())
        })
    }

    /// Signs a predicate (JSON) with the fixture issuer key.
    #[pyfunction]
    pub fn sign<'py>(py: Python<'py>, predicate_json: &str) -> PyResult<Bound<'py, PyBytes>> {
        let p = serde_json::from_str(predicate_json).map_err(|e| PyValueError::new_err(format!("predicate: {e}")))?;
        Ok(PyBytes::new(py, &fixtures::sign(p)))
    }

    /// The raw public key of the fixture key with public seed `[n; 32]`
    /// (the delegation vectors' orchestrator is 40, the sub-agent 41).
    #[pyfunction]
    pub fn fixture_public_key(py: Python<'_>, n: u8) -> Bound<'_, PyBytes> {
        PyBytes::new(py, &fixtures::key(n).public().to_bytes())
    }
}

/// `writ_core::delegate::mint`: the holder (`seed`, its 32-byte Ed25519
/// seed) mints a child of `parent` narrowed to `tool` with `args` (name →
/// allowed values), `not_before` / `not_after` (unix seconds), `uses`,
/// `depth` (levels allowed below the child) and the next holder `to` (32
/// raw public key bytes). Returns the child's envelope; raises `Denied`
/// (`delegation_signature`, `delegation_depth`, `delegation_widened`,
/// `malformed`) when the parent does not allow it.
#[pyfunction]
#[pyo3(signature = (parent, seed, id, now, tool=None, args=Vec::new(), not_before=None, not_after=None, uses=None, depth=None, to=None))]
#[allow(clippy::too_many_arguments, reason = "keyword arguments of the Python API")]
fn delegate<'py>(
    py: Python<'py>,
    parent: &[u8],
    seed: &[u8],
    id: String,
    now: i64,
    tool: Option<String>,
    args: Vec<(String, Vec<String>)>,
    not_before: Option<i64>,
    not_after: Option<i64>,
    uses: Option<u32>,
    depth: Option<u32>,
    to: Option<&[u8]>,
) -> PyResult<Bound<'py, PyBytes>> {
    use writ_core::delegate::{self, Narrowing};
    let seed: [u8; 32] =
        seed.try_into().map_err(|_| PyValueError::new_err("the holder key seed must be exactly 32 bytes"))?;
    let key = writ_core::SigningKey::from_seed(&seed);
    let holder = to
        .map(writ_core::PublicKey::from_bytes)
        .transpose()
        .map_err(|e| PyValueError::new_err(format!("`to`: {e}")))?;
    let mut n = Narrowing::new(id, Timestamp(now));
    if let Some(t) = &tool {
        let parent = delegate::read_parent(parent).map_err(|d| denied(py, &d))?;
        n.actions = Some(vec![delegate::narrow_tool(&parent, t, &args).map_err(|d| denied(py, &d))?]);
    } else if !args.is_empty() {
        return Err(PyValueError::new_err("`args` narrow a tool: give `tool` too"));
    }
    n.not_before = not_before.map(Timestamp);
    n.not_after = not_after.map(Timestamp);
    n.uses = uses;
    n.depth = depth;
    n.holder = holder;
    let child = delegate::mint(parent, &key, &n).map_err(|d| denied(py, &d))?;
    Ok(PyBytes::new(py, &child))
}

#[pymodule]
fn _writ(m: &Bound<'_, PyModule>) -> PyResult<()> {
    #[cfg(feature = "testing")]
    {
        let t = PyModule::new(m.py(), "_testing")?;
        t.add_function(wrap_pyfunction!(testing::predicate_json, &t)?)?;
        t.add_function(wrap_pyfunction!(testing::trust_root_json, &t)?)?;
        t.add_function(wrap_pyfunction!(testing::sign, &t)?)?;
        t.add_function(wrap_pyfunction!(testing::native_verify_ns, &t)?)?;
        t.add_function(wrap_pyfunction!(testing::fixture_public_key, &t)?)?;
        m.add_submodule(&t)?;
    }
    m.add("Denied", m.py().get_type::<Denied>())?;
    m.add_class::<TrustRoot>()?;
    m.add_class::<VerifyContext>()?;
    m.add_class::<Verified>()?;
    m.add_class::<Permit>()?;
    m.add_class::<Gate>()?;
    m.add_function(wrap_pyfunction!(verify_prepared, m)?)?;
    m.add_function(wrap_pyfunction!(decode_entry, m)?)?;
    m.add_function(wrap_pyfunction!(verify_record, m)?)?;
    m.add_function(wrap_pyfunction!(read_spool, m)?)?;
    m.add_function(wrap_pyfunction!(denial_codes, m)?)?;
    m.add_function(wrap_pyfunction!(delegate, m)?)?;
    Ok(())
}
