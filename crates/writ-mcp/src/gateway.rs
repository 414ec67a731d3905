//! The gateway's decisions, independent of the transport: what a client
//! message becomes (forwarded upstream, or answered here), and what an
//! upstream answer becomes on its way back (a filtered tool list, a
//! recorded tool result).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use writ_api::wire::{RequestInput, RequestView, TargetInput};
use writ_api::{GateApi, IdempotencyKey, OperatorApi};
use writ_core::entry::{Entry, ExecEnd, ExecStart};
use writ_core::{Attempt, Denial, DenialCode, HostFacts, Mode, Sha256Digest, ToolAttempt, TrustRoot};
use writ_gate::watch::fetch_status;
use writ_gate::{Durability, Evidence, Gate, Permit, Recorder, denial_entry, timestamp_now};

use crate::canon;

/// The `_meta` key holding the writ: standard base64 of the envelope bytes
/// (for `tools/list`, also a list of them). The same key as
/// `python/writ/mcp.py`.
pub const META_KEY: &str = "dev.writ/writ";
/// The `_meta` key holding a delegated writ's ancestors (list of base64, parent first).
pub const ANCESTORS_KEY: &str = "dev.writ/ancestors";
/// The `_meta` key holding the writ's ledger receipt (base64 of the tlog-proof text).
pub const RECEIPT_KEY: &str = "dev.writ/receipt";
/// The `_meta` key naming the approval request a retried call waits for.
pub const REQUEST_KEY: &str = "dev.writ/request";
/// The `_meta` key the gateway adds to each tool it lists: the hex SHA-256
/// of the tool's definition as the upstream announced it (before this key
/// was added), i.e. what a writ's `definition_sha256` must be.
pub const DEFINITION_KEY: &str = "dev.writ/definition_sha256";
/// The HTTP header carrying a writ over Streamable HTTP (standard base64 of
/// the envelope; repeat it to present several to `tools/list`).
pub const HEADER: &str = "writ";
/// The prefix of the `requestState` the gateway hands out with an
/// input-required result: `writ-request:<request id>`.
pub const REQUEST_STATE_PREFIX: &str = "writ-request:";

/// JSON-RPC error code of a writ denial (`data.writ.code` says which).
pub const DENIED: i64 = -32001;
/// JSON-RPC error code of "a person must approve this call first"
/// (`data.writ.code` = `approval_required`, `data.writ.url` the page).
pub const APPROVAL_REQUIRED: i64 = -32002;
/// JSON-RPC "method not found": a method this gateway does not forward.
pub const METHOD_NOT_FORWARDED: i64 = -32601;
/// JSON-RPC "invalid request" (not a JSON-RPC 2.0 message, or a batch).
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC "parse error".
pub const PARSE_ERROR: i64 = -32700;

/// Methods that always pass: the handshake, liveness and notifications.
const ALWAYS: [&str; 3] = ["initialize", "ping", "server/discover"];

/// Largest base64 writ, ancestor or receipt accepted from a request.
const MAX_B64: usize = 1 << 20;

/// Filing approval requests with the authority.
pub struct Approvals {
    /// The authority, called as the gateway's key (which must have the
    /// `requester` role in the trust root).
    pub api: Arc<dyn OperatorApi>,
    /// Base URL of the authority's console: the request page is
    /// `<console>/console/requests/<id>`.
    pub console: String,
    /// Validity asked for an approved writ, in seconds.
    pub duration_secs: u64,
}

impl std::fmt::Debug for Approvals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approvals").field("console", &self.console).finish_non_exhaustive()
    }
}

/// Everything a gateway needs.
pub struct Config {
    /// The trust root writs verify against.
    pub trust: TrustRoot,
    /// This host's facts.
    pub host: HostFacts,
    /// Online: the authority (signed status for each call, uses consumed).
    pub online: Option<Arc<dyn GateApi>>,
    /// Where records go.
    pub recorder: Recorder,
    /// Methods forwarded besides `initialize`, `ping`, `server/discover`,
    /// notifications, `tools/list` and `tools/call` (e.g. `resources/read`).
    pub methods: BTreeSet<String>,
    /// Online with a requester key: file approval requests for calls
    /// without a writ.
    pub approvals: Option<Approvals>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("online", &self.online.is_some())
            .field("methods", &self.methods)
            .field("approvals", &self.approvals)
            .finish_non_exhaustive()
    }
}

/// A writ as a request presented it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presented {
    /// The envelope bytes.
    pub writ: Vec<u8>,
    /// A delegated writ's ancestors, parent first.
    pub ancestors: Vec<Vec<u8>>,
    /// Its ledger receipt, when sent.
    pub receipt: Option<Vec<u8>>,
}

impl Presented {
    /// Just a writ.
    #[must_use]
    pub fn writ(writ: Vec<u8>) -> Self {
        Self { writ, ..Self::default() }
    }
}

/// What a forwarded request waits for.
#[derive(Debug)]
pub enum Pending {
    /// Nothing to do with the answer.
    Pass,
    /// A `tools/list`: filter the answer by these writs.
    List(Vec<Presented>),
    /// A permitted `tools/call`, recorded as started.
    Call(Call),
}

/// A `tools/call` on its way upstream.
#[derive(Debug)]
pub struct Call {
    ids: (String, String),
    began: Instant,
}

/// What to do with a client message.
#[derive(Debug)]
pub enum Inbound {
    /// Send this message upstream; hand its answer to [`Gateway::outbound`]
    /// with `pending`.
    Forward {
        /// The message as it goes upstream (writ removed).
        message: Value,
        /// What its answer needs.
        pending: Pending,
    },
    /// Answer the client with this message; nothing goes upstream.
    Reply(Value),
    /// Nothing to send (a client response the gateway does not forward).
    Drop,
}

/// The MCP gateway.
pub struct Gateway {
    /// Offline: the gate. Online: the pre-check (mode check), so that a bad
    /// writ consumes no use.
    pre: Gate,
    online: Option<(Arc<dyn GateApi>, Gate, TrustRoot)>,
    recorder: Recorder,
    hostname: String,
    methods: BTreeSet<String>,
    approvals: Option<Approvals>,
    /// Definition digest of each tool as the upstream last announced it.
    tools: RwLock<HashMap<String, Sha256Digest>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("hostname", &self.hostname)
            .field("online", &self.online.is_some())
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

/// A JSON-RPC error response.
#[must_use]
pub fn error(id: &Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut e = json!({"code": code, "message": message});
    if let (Some(d), Some(obj)) = (data, e.as_object_mut()) {
        obj.insert("data".into(), d);
    }
    json!({"jsonrpc": "2.0", "id": id, "error": e})
}

/// The JSON-RPC error answering a denial: `code` [`DENIED`], `message`
/// `denied (<code>): <detail>`, `data.writ` = `{"code", "detail"}` (plus
/// `writ_id` when the writ names one).
#[must_use]
pub fn denial_error(id: &Value, d: &Denial, writ_id: Option<&str>) -> Value {
    let mut w = json!({"code": d.code.as_str(), "detail": d.detail});
    if let (Some(wid), Some(obj)) = (writ_id, w.as_object_mut()) {
        obj.insert("writ_id".into(), Value::String(wid.to_owned()));
    }
    let message = format!("denied ({}): {}", d.code, d.detail);
    error(id, DENIED, &message, Some(json!({"writ": w})))
}

/// The target of an approval request for `tool`: its name, the arguments'
/// string forms (exact rules in the writ; left out, the digest alone binding
/// them, when they exceed what a request may carry or hold control
/// characters the authority refuses to show), the arguments' digest and the
/// definition digest.
fn approval_target(tool: &ToolAttempt) -> TargetInput {
    let showable = |s: &str| s.len() <= writ_api::wire::MAX_FIELD && !s.chars().any(char::is_control);
    let fits = tool.args.len() <= writ_api::wire::MAX_ARGV && tool.args.iter().all(|(k, v)| showable(k) && showable(v));
    TargetInput::Tool {
        name: tool.name.clone(),
        args: if fits { tool.args.clone() } else { Default::default() },
        args_sha256: tool.args_sha256.map(|d| d.to_hex()),
        definition_sha256: tool.definition_sha256.map(|d| d.to_hex()),
    }
}

fn malformed(detail: impl Into<String>) -> Denial {
    Denial::new(DenialCode::Malformed, detail)
}

fn b64(value: &Value, what: &str) -> Result<Vec<u8>, Denial> {
    let Some(s) = value.as_str().filter(|s| s.len() <= MAX_B64) else {
        return Err(malformed(format!("`{what}` must be a base64 string of at most {MAX_B64} characters")));
    };
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| malformed(format!("`{what}` is not standard base64: {e}")))
}

/// Decodes the value of a `Writ` header (standard base64 of the envelope).
///
/// # Errors
/// `malformed` naming what is wrong.
pub fn header_writ(value: &[u8]) -> Result<Presented, Denial> {
    let s = std::str::from_utf8(value).map_err(|_| malformed("the Writ header is not ASCII"))?;
    b64(&Value::String(s.trim().to_owned()), "Writ header").map(Presented::writ)
}

fn meta(params: &Value) -> Option<&Map<String, Value>> {
    params.get("_meta").and_then(Value::as_object)
}

/// The writs a request's `params._meta` presents.
fn meta_writs(params: &Value) -> Result<Vec<Presented>, Denial> {
    let Some(m) = meta(params) else { return Ok(Vec::new()) };
    let Some(w) = m.get(META_KEY) else {
        if m.contains_key(ANCESTORS_KEY) || m.contains_key(RECEIPT_KEY) {
            return Err(malformed(format!(
                "`_meta.{ANCESTORS_KEY}` or `_meta.{RECEIPT_KEY}` without `_meta.{META_KEY}`"
            )));
        }
        return Ok(Vec::new());
    };
    let writs = match w {
        Value::Array(list) => list
            .iter()
            .map(|v| b64(v, &format!("_meta.{META_KEY}[]")).map(Presented::writ))
            .collect::<Result<_, _>>()?,
        single => vec![Presented::writ(b64(single, &format!("_meta.{META_KEY}"))?)],
    };
    let ancestors = match m.get(ANCESTORS_KEY) {
        None => Vec::new(),
        Some(Value::Array(list)) => {
            list.iter().map(|v| b64(v, &format!("_meta.{ANCESTORS_KEY}[]"))).collect::<Result<_, _>>()?
        }
        Some(_) => return Err(malformed(format!("`_meta.{ANCESTORS_KEY}` must be a list of base64 strings"))),
    };
    let receipt = m.get(RECEIPT_KEY).map(|v| b64(v, &format!("_meta.{RECEIPT_KEY}"))).transpose()?;
    if writs.len() != 1 && (!ancestors.is_empty() || receipt.is_some()) {
        return Err(malformed("ancestors and a receipt go with exactly one writ"));
    }
    Ok(writs.into_iter().map(|p| Presented { ancestors: ancestors.clone(), receipt: receipt.clone(), ..p }).collect())
}

/// A copy of `params` without the writ keys in `_meta` (and without `_meta`
/// when nothing else is in it), and without a `requestState` the gateway
/// issued: what goes upstream.
fn strip(params: &Value) -> Value {
    let mut out = params.clone();
    if let Some(obj) = out.as_object_mut() {
        if let Some(Value::Object(m)) = obj.get_mut("_meta") {
            for k in [META_KEY, ANCESTORS_KEY, RECEIPT_KEY, REQUEST_KEY] {
                m.remove(k);
            }
            if m.is_empty() {
                obj.remove("_meta");
            }
        }
        if obj.get("requestState").and_then(Value::as_str).is_some_and(|s| s.starts_with(REQUEST_STATE_PREFIX)) {
            obj.remove("requestState");
            obj.remove("inputResponses");
        }
    }
    out
}

fn with_params(msg: &Value, params: Value) -> Value {
    let mut out = msg.clone();
    if let Some(obj) = out.as_object_mut() {
        obj.insert("params".into(), params);
    }
    out
}

/// The writ id a (possibly bad) writ claims, for the error's `data`.
fn claimed_id(writ: &[u8]) -> Option<String> {
    writ_core::Unverified::claimed_id(writ)
}

impl Gateway {
    /// A gateway for `cfg`.
    #[must_use]
    pub fn new(cfg: Config) -> Self {
        let (pre, online) = match cfg.online {
            None => (Gate::new(cfg.trust, cfg.host.clone()).with_mode(Mode::Offline).with_memo(), None),
            Some(o) => {
                let pre = Gate::new(cfg.trust.clone(), cfg.host.clone()).with_mode(Mode::Check).with_memo();
                let gate = Gate::new(cfg.trust.clone(), cfg.host.clone()).with_mode(Mode::Online);
                (pre, Some((o, gate, cfg.trust)))
            }
        };
        Self {
            pre,
            online,
            recorder: cfg.recorder,
            hostname: cfg.host.hostname,
            methods: cfg.methods,
            approvals: cfg.approvals,
            tools: RwLock::default(),
        }
    }

    /// Whether it checks with an authority (records then go over the network).
    #[must_use]
    pub fn is_online(&self) -> bool {
        self.online.is_some()
    }

    /// Decides what a client message becomes. `header` holds the writs of
    /// the HTTP request that carried it (none over stdio). This may block
    /// (records, the authority): call it off an async reactor.
    pub fn inbound(&self, msg: Value, header: &[Presented]) -> Inbound {
        let Some(obj) = msg.as_object() else {
            return Inbound::Reply(error(
                &Value::Null,
                INVALID_REQUEST,
                "send one JSON-RPC 2.0 object per message (batches are not supported)",
                None,
            ));
        };
        let id = obj.get("id").cloned();
        let Some(method) = obj.get("method").and_then(Value::as_str) else {
            // A response to a request of the server: the client's own business.
            return Inbound::Forward { message: msg, pending: Pending::Pass };
        };
        let params = obj.get("params").cloned().unwrap_or_else(|| json!({}));
        let Some(id) = id else {
            // A notification: never answered, forwarded without any writ.
            if method.starts_with("notifications/") {
                let message = if obj.contains_key("params") { with_params(&msg, strip(&params)) } else { msg };
                return Inbound::Forward { message, pending: Pending::Pass };
            }
            return Inbound::Drop;
        };
        match method {
            "tools/call" => self.call(&msg, &id, &params, header),
            "tools/list" => {
                let mut writs = header.to_vec();
                match meta_writs(&params) {
                    Ok(w) => writs.extend(w),
                    Err(d) => return Inbound::Reply(denial_error(&id, &d, None)),
                }
                Inbound::Forward { message: with_params(&msg, strip(&params)), pending: Pending::List(writs) }
            }
            m if ALWAYS.contains(&m) || self.methods.contains(m) => {
                let message = if obj.contains_key("params") { with_params(&msg, strip(&params)) } else { msg };
                Inbound::Forward { message, pending: Pending::Pass }
            }
            other => Inbound::Reply(error(
                &id,
                METHOD_NOT_FORWARDED,
                &format!("method `{other}` is not forwarded by this gateway"),
                Some(json!({"writ": {"code": "scope_action", "detail": format!(
                    "this gateway forwards initialize, ping, server/discover, notifications, tools/list, tools/call{}; pass --method {other} to forward it",
                    self.methods.iter().map(|m| format!(", {m}")).collect::<String>()
                )}})),
            )),
        }
    }

    fn call(&self, msg: &Value, id: &Value, params: &Value, header: &[Presented]) -> Inbound {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return self.refuse(id, &malformed("`tools/call` needs `params.name` (a string)"), &[]);
        };
        let args = match params.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return self.refuse(id, &malformed("`params.arguments` must be an object"), &[]);
            }
        };
        let mut presented = header.to_vec();
        match meta_writs(params) {
            Ok(w) => presented.extend(w),
            Err(d) => return self.refuse(id, &d, &[]),
        }
        presented.dedup();
        let definition = self.tools.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(name).copied();
        let tool = ToolAttempt {
            name: name.to_owned(),
            args: canon::arg_strings(&args),
            args_sha256: Some(canon::digest(&Value::Object(args))),
            definition_sha256: definition,
        };
        let writ = match presented.as_slice() {
            [one] => one.clone(),
            [] => match self.approved(id, &tool, params) {
                Ok(p) => p,
                Err(answer) => return answer,
            },
            _ => {
                let d = malformed("a `tools/call` presents exactly one writ (in `_meta` or the Writ header)");
                return self.refuse(id, &d, &[]);
            }
        };
        let attempt = Attempt::Tool(tool);
        let permit = match self.check(&writ, &attempt) {
            Ok(p) => p,
            Err(d) => return self.refuse(id, &d, &writ.writ),
        };
        match self.start(&permit, &attempt) {
            Ok(call) => Inbound::Forward { message: with_params(msg, strip(params)), pending: Pending::Call(call) },
            Err(d) => self.refuse(id, &d, &writ.writ),
        }
    }

    /// Records the denial (best effort: the call is refused either way) and
    /// answers with it.
    fn refuse(&self, id: &Value, d: &Denial, writ: &[u8]) -> Inbound {
        if let Err(e) = self.recorder.record_or_spool(&denial_entry(d, writ, &self.hostname), Durability::Sync) {
            eprintln!("writ-gate mcp: warning: denial not recorded: {e}");
        }
        Inbound::Reply(denial_error(id, d, claimed_id(writ).as_deref()))
    }

    /// Verifies `p` for `attempt`: offline, or online with the writ's signed
    /// status (consuming one use of a limited-use writ).
    fn check(&self, p: &Presented, attempt: &Attempt) -> Result<Permit, Denial> {
        let evidence =
            || Evidence { receipt: p.receipt.clone(), ancestors: p.ancestors.clone(), ..Evidence::default() };
        let pre = if p.receipt.is_none() && p.ancestors.is_empty() {
            self.pre.check(&p.writ, attempt)?
        } else {
            self.pre.check_with(&p.writ, attempt, evidence())?
        };
        let Some((api, gate, trust)) = &self.online else { return Ok(pre) };
        let v = pre.verified();
        let consume = v.scope().uses.is_some();
        let checked = fetch_status(api.as_ref(), trust, &v.predicate().issuer, v.id(), &v.envelope_digest(), consume)?;
        gate.check_with(
            &p.writ,
            attempt,
            Evidence { status: checked.status, use_count: checked.use_count, ..evidence() },
        )
    }

    /// The durable `exec_start` of a permitted call: `program_digest` = the
    /// tool's definition digest (SHA-256 of its name when the upstream never
    /// announced it), `argv_digest` = the arguments' digest.
    fn start(&self, permit: &Permit, attempt: &Attempt) -> Result<Call, Denial> {
        let Attempt::Tool(t) = attempt else {
            return Err(Denial::new(DenialCode::Internal, "a tool call's permit is for another kind of action"));
        };
        let (request_id, writ_id) = permit.ids();
        let start = Entry::ExecStart(ExecStart {
            time: timestamp_now(),
            request_id,
            writ_id,
            host: self.hostname.clone(),
            program_digest: t.definition_sha256.unwrap_or_else(|| Sha256Digest::of(t.name.as_bytes())),
            argv_digest: t.args_sha256.unwrap_or_else(|| Sha256Digest::of(b"{}")),
        });
        // INVARIANT: nothing is forwarded unrecorded.
        self.recorder
            .record(&start)
            .map_err(|e| Denial::new(DenialCode::RecordFailed, format!("exec_start not recorded: {e}")))?;
        Ok(Call { ids: permit.ids(), began: Instant::now() })
    }

    /// A call without a writ: with approvals configured, the writ of the
    /// approval request it names (retry) or files (first time), once issued.
    /// The request carries the call's arguments and digests (see
    /// [`approval_target`]), so the writ admits this call and no other.
    // The error is the answer to send (an `Inbound`), built once per call and
    // returned straight to the caller: boxing it would buy nothing.
    #[allow(clippy::result_large_err)]
    fn approved(&self, id: &Value, tool: &ToolAttempt, params: &Value) -> Result<Presented, Inbound> {
        let name = tool.name.as_str();
        let Some(a) = &self.approvals else {
            let d = malformed(format!(
                "`tools/call` of `{name}` carries no writ: put one in `_meta[\"{META_KEY}\"]` (base64) or the Writ header"
            ));
            return Err(self.refuse(id, &d, &[]));
        };
        let waiting = params
            .get("requestState")
            .and_then(Value::as_str)
            .and_then(|s| s.strip_prefix(REQUEST_STATE_PREFIX))
            .or_else(|| meta(params).and_then(|m| m.get(REQUEST_KEY)).and_then(Value::as_str))
            .map(str::to_owned);
        let view = match waiting {
            Some(rid) => a.api.request(&rid),
            None => {
                let input = RequestInput {
                    target: approval_target(tool),
                    reason: format!("MCP tools/call of `{name}` through writ-gate mcp on `{}`", self.hostname),
                    duration_secs: a.duration_secs,
                    env: Default::default(),
                    cwd: None,
                    hosts: None,
                    evidence: None,
                    boundaries: None,
                    uses: Some(1),
                    holder: None,
                    delegation_depth: None,
                };
                IdempotencyKey::random().and_then(|k| a.api.submit(&input, &k))
            }
        };
        let view = view.map_err(|e| {
            let d = Denial::new(
                DenialCode::StatusUnknown,
                format!("the authority did not take the approval request ({}): {}", e.code, e.message),
            );
            self.refuse(id, &d, &[])
        })?;
        self.writ_of(id, name, params, a, &view)
    }

    #[allow(clippy::result_large_err)]
    fn writ_of(
        &self,
        id: &Value,
        name: &str,
        params: &Value,
        a: &Approvals,
        view: &RequestView,
    ) -> Result<Presented, Inbound> {
        match view.status.as_str() {
            "issued" => {
                let (Some(writ), Some(receipt)) = (&view.writ, &view.receipt) else {
                    let d = Denial::new(DenialCode::Internal, "the authority issued the writ but did not return it");
                    return Err(self.refuse(id, &d, &[]));
                };
                Ok(Presented {
                    writ: writ.clone().into_bytes(),
                    ancestors: Vec::new(),
                    receipt: Some(receipt.clone().into_bytes()),
                })
            }
            "pending" => Err(Inbound::Reply(approval_answer(id, name, params, a, view))),
            other => {
                let reasons = view.decision.reasons.join("; ");
                let d = Denial::new(
                    DenialCode::ApprovalsInsufficient,
                    format!(
                        "approval request {} is {other}{}",
                        view.request_id,
                        if reasons.is_empty() { String::new() } else { format!(": {reasons}") }
                    ),
                );
                Err(self.refuse(id, &d, &[]))
            }
        }
    }

    /// Turns the upstream's answer to a forwarded request into what the
    /// client gets: a tool list filtered by the caller's writs, a tool
    /// result recorded (`exec_end`). May block (records).
    pub fn outbound(&self, pending: Pending, mut answer: Value) -> Value {
        match pending {
            Pending::Pass => answer,
            Pending::List(writs) => {
                if let Some(Value::Array(tools)) = answer.get_mut("result").and_then(|r| r.get_mut("tools")) {
                    self.learn(tools);
                    let announced = std::mem::take(tools);
                    for mut t in announced {
                        let d = canon::definition_digest(&t);
                        if !self.listed(&t, d, &writs) {
                            continue;
                        }
                        // What a writ's `definition_sha256` must be, for whoever mints one.
                        if let Some(obj) = t.as_object_mut() {
                            let m = obj.entry("_meta").or_insert_with(|| json!({}));
                            if let Some(m) = m.as_object_mut() {
                                m.insert(DEFINITION_KEY.into(), Value::String(d.to_hex()));
                            }
                        }
                        tools.push(t);
                    }
                }
                answer
            }
            Pending::Call(call) => {
                let end = match (answer.get("result"), answer.get("error")) {
                    (Some(r), _) => {
                        let is_error = r.get("isError").and_then(Value::as_bool).unwrap_or(false);
                        let kind = match r.get("resultType").and_then(Value::as_str) {
                            Some("input_required") => "input_required",
                            _ if is_error => "tool_error",
                            _ => "returned",
                        };
                        (
                            format!("{kind} {} result_sha256={}", took(call.began), canon::digest(r)),
                            Some(i64::from(is_error)),
                        )
                    }
                    (None, Some(e)) => {
                        let code = e.get("code").and_then(Value::as_i64).unwrap_or_default();
                        (
                            format!("jsonrpc_error code={code} {} error_sha256={}", took(call.began), canon::digest(e)),
                            None,
                        )
                    }
                    (None, None) => (format!("upstream_error {}", took(call.began)), None),
                };
                self.end(call, end.0, end.1);
                answer
            }
        }
    }

    /// The upstream failed to answer a forwarded request: the `exec_end` of
    /// a call says so, and the client gets an error.
    pub fn upstream_failed(&self, pending: Pending, id: &Value, why: &str) -> Value {
        if let Pending::Call(call) = pending {
            let outcome = format!("upstream_error {}", took(call.began));
            self.end(call, outcome, None);
        }
        error(id, -32603, &format!("the upstream MCP server did not answer: {why}"), None)
    }

    fn end(&self, call: Call, outcome: String, exit_code: Option<i64>) {
        let e = Entry::ExecEnd(ExecEnd {
            time: timestamp_now(),
            request_id: call.ids.0,
            writ_id: call.ids.1,
            host: self.hostname.clone(),
            outcome,
            exit_code,
        });
        if let Err(err) = self.recorder.record_or_spool(&e, Durability::Lazy) {
            eprintln!("writ-gate mcp: warning: the exec_end record was not taken: {err}");
        }
    }

    /// Notes what an upstream message says about the tools: a
    /// `notifications/tools/list_changed` forgets the definitions (the next
    /// `tools/list` announces them again).
    pub fn observe(&self, msg: &Value) {
        if msg.get("method").and_then(Value::as_str) == Some("notifications/tools/list_changed") {
            self.tools.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        }
    }

    fn learn(&self, tools: &[Value]) {
        let mut known = self.tools.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for t in tools {
            if let Some(name) = t.get("name").and_then(Value::as_str) {
                known.insert(name.to_owned(), canon::definition_digest(t));
            }
        }
    }

    /// Whether some writ of `writs` permits calling tool `t` (as announced)
    /// with some arguments: checking it with no arguments passes, or fails
    /// only on the arguments (`scope_args`, the last check the core makes).
    fn listed(&self, t: &Value, definition: Sha256Digest, writs: &[Presented]) -> bool {
        let Some(name) = t.get("name").and_then(Value::as_str) else { return false };
        let attempt = Attempt::Tool(ToolAttempt {
            name: name.to_owned(),
            args: Default::default(),
            args_sha256: None,
            definition_sha256: Some(definition),
        });
        writs.iter().any(|p| {
            let evidence =
                Evidence { receipt: p.receipt.clone(), ancestors: p.ancestors.clone(), ..Evidence::default() };
            match self.pre.check_with(&p.writ, &attempt, evidence) {
                Ok(_) => true,
                Err(d) => d.code == DenialCode::ScopeArgs,
            }
        })
    }
}

fn took(began: Instant) -> String {
    format!("duration_us={}", began.elapsed().as_micros())
}

/// Whether the request's per-request capabilities (MCP 2026-07-28
/// `_meta["io.modelcontextprotocol/clientCapabilities"]`) include URL-mode
/// elicitation, i.e. the client handles an input-required result.
fn takes_url_elicitation(params: &Value) -> bool {
    meta(params)
        .and_then(|m| m.get("io.modelcontextprotocol/clientCapabilities"))
        .and_then(|c| c.get("elicitation"))
        .is_some_and(|e| e.get("url").is_some())
}

/// The answer to a call whose approval request is pending: an
/// input-required result with a URL elicitation of the console's request
/// page when the client declared it handles one (MCP 2026-07-28); else the
/// JSON-RPC error [`APPROVAL_REQUIRED`] with the page in `data.writ.url`.
fn approval_answer(id: &Value, name: &str, params: &Value, a: &Approvals, view: &RequestView) -> Value {
    let url = format!("{}/console/requests/{}", a.console.trim_end_matches('/'), view.request_id);
    let message = format!(
        "Calling `{name}` needs approval ({} of group {}): approve request {} at {url}, then the call is retried",
        view.approvals_required,
        view.approver_group.as_deref().unwrap_or("any"),
        view.request_id
    );
    if takes_url_elicitation(params) {
        return json!({"jsonrpc": "2.0", "id": id, "result": {
            "resultType": "input_required",
            "inputRequests": {"writ-approval": {"method": "elicitation/create", "params": {
                "mode": "url", "message": message, "url": url, "elicitationId": view.request_id,
            }}},
            "requestState": format!("{REQUEST_STATE_PREFIX}{}", view.request_id),
        }});
    }
    error(
        id,
        APPROVAL_REQUIRED,
        &message,
        Some(json!({"writ": {
            "code": "approval_required",
            "detail": message,
            "request_id": view.request_id,
            "url": url,
            "retry": {"_meta": {REQUEST_KEY: view.request_id}},
        }})),
    )
}
