//! `writ request`: ask the authority for a writ (embedded `--home` or remote
//! `--authority`). Also holds the connection code the other authority
//! subcommands share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use writ_authority::model::{RequestInput, RequestView, TargetInput, WritView};
use writ_authority::{Authority, AuthorityError, Config, ErrorKind, Identity, Verdict};
use writ_server::client::{Client, ClientError};

use crate::exit::{self, UsageError};
use crate::files;

/// Where the authority is and who is calling.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnArgs {
    /// Embedded: the authority home (default `$WRIT_HOME` or `./.writ`).
    #[arg(long, env = "WRIT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Remote: the authority's URL (e.g. `http://127.0.0.1:7300`).
    #[arg(long, value_name = "URL", conflicts_with = "home")]
    pub authority: Option<String>,
    /// Your private key (from `writ keygen`); signs requests and votes.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// PostgreSQL URL of the authority's state and ledger (embedded mode, replicas).
    #[arg(long, value_name = "URL", conflicts_with = "authority")]
    pub database: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The authority refused (a reason code, exit 77) or could not find something.
#[derive(Debug)]
pub struct Refusal {
    /// Stable code.
    pub code: String,
    /// Message.
    pub message: String,
    /// Exit 77 (denied) rather than 1.
    pub denied: bool,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for Refusal {}

fn from_authority(e: AuthorityError) -> anyhow::Error {
    let denied = matches!(e.kind(), ErrorKind::Forbidden | ErrorKind::Conflict | ErrorKind::Unauthenticated);
    match e.kind() {
        ErrorKind::Unavailable | ErrorKind::Internal => anyhow::Error::new(e),
        _ => anyhow::Error::new(Refusal { code: e.code().into(), message: e.to_string(), denied }),
    }
}

fn from_client(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Api { status, code, message } if (400..500).contains(&status) => {
            let denied = matches!(status, 401 | 403 | 409);
            anyhow::Error::new(Refusal { code, message, denied })
        }
        other => anyhow::Error::new(other),
    }
}

/// Runs `f`; turns a [`Refusal`] into its exit code after printing it.
pub fn finish(json: bool, r: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match r {
        Err(e) => match e.downcast::<Refusal>() {
            Ok(refusal) => {
                if json {
                    println!("{}", serde_json::json!({"error": {"code": refusal.code, "message": refusal.message}}));
                } else {
                    eprintln!("refused: {}: {}", refusal.code, refusal.message);
                }
                Ok(if refusal.denied { exit::denied() } else { exit::failure() })
            }
            Err(e) => Err(e),
        },
        ok => ok,
    }
}

/// An open connection to the authority.
pub enum Conn {
    /// In-process, on a home directory.
    Embedded {
        /// The authority.
        authority: Box<Authority>,
        /// The caller (`None`: the operator, i.e. the issuer key).
        me: Option<Identity>,
        /// The caller's key, for votes.
        key: Option<writ_core::SigningKey>,
    },
    /// Over HTTP.
    Remote(Client),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Embedded { .. } => "Conn::Embedded",
            Self::Remote(_) => "Conn::Remote",
        })
    }
}

impl Conn {
    /// Open. `need_key`: the command signs as the caller.
    pub fn open(args: &ConnArgs, need_key: bool) -> anyhow::Result<Self> {
        let key = match &args.key {
            Some(p) => Some(files::read_private_key(p)?),
            None if need_key || args.authority.is_some() => {
                return Err(UsageError("this command needs your key: pass --key FILE".into()).into());
            }
            None => None,
        };
        if let Some(url) = &args.authority {
            let Some(key) = key else { return Err(UsageError("pass --key FILE".into()).into()) };
            return Ok(Self::Remote(Client::new(url, key)));
        }
        let home = crate::cmd::init::home_dir(args.home.clone());
        let mut cfg = Config::new(&home);
        cfg.database.clone_from(&args.database);
        let authority =
            Authority::open(&cfg).with_context(|| format!("cannot open the authority in `{}`", home.display()))?;
        let now = files::now()?;
        let me = match &key {
            Some(k) => Some(authority.identify(&k.key_id(), now).map_err(from_authority)?),
            None => None,
        };
        Ok(Self::Embedded { authority: Box::new(authority), me, key })
    }

    fn me(&self) -> anyhow::Result<Identity> {
        match self {
            Self::Embedded { authority, me: Some(m), .. } => {
                let _ = authority;
                Ok(m.clone())
            }
            Self::Embedded { authority, me: None, .. } => authority.operator(files::now()?).map_err(from_authority),
            Self::Remote(_) => Err(anyhow::anyhow!("internal: no local identity in remote mode")),
        }
    }

    /// Submit a request.
    pub fn submit(&self, input: RequestInput) -> anyhow::Result<RequestView> {
        match self {
            Self::Embedded { authority, .. } => {
                authority.submit(&self.me()?, input, files::now()?).map_err(from_authority)
            }
            Self::Remote(c) => c.post("/v1/requests", &input).map_err(from_client),
        }
    }

    /// Pending requests.
    pub fn pending(&self) -> anyhow::Result<Vec<RequestView>> {
        match self {
            Self::Embedded { authority, .. } => authority.pending(&self.me()?, files::now()?).map_err(from_authority),
            Self::Remote(c) => {
                #[derive(serde::Deserialize)]
                struct L {
                    requests: Vec<RequestView>,
                }
                let l: L = c.get("/v1/requests?status=pending").map_err(from_client)?;
                Ok(l.requests)
            }
        }
    }

    /// One request.
    pub fn request(&self, id: &str) -> anyhow::Result<RequestView> {
        match self {
            Self::Embedded { authority, .. } => authority.request(&self.me()?, id).map_err(from_authority),
            Self::Remote(c) => c.get(&format!("/v1/requests/{}", path_segment(id)?)).map_err(from_client),
        }
    }

    /// Vote: fetches the request, recomputes its digest from the document
    /// and signs the approval input with the caller's own key.
    pub fn vote(&self, id: &str, verdict: Verdict) -> anyhow::Result<RequestView> {
        let view = self.request(id)?;
        let doc = writ_core::b64::decode(&view.document, 1 << 20).map_err(anyhow::Error::msg)?;
        let digest = writ_core::Sha256Digest::of(&doc);
        if digest.to_hex() != view.request_digest {
            anyhow::bail!("the authority's request digest does not match the document it sent; refusing to sign");
        }
        let input = writ_core::approval::signing_input(&digest, verdict);
        match self {
            Self::Embedded { authority, key, .. } => {
                let key = key.as_ref().ok_or_else(|| UsageError("voting needs your key: pass --key FILE".into()))?;
                authority.vote(&self.me()?, id, verdict, &key.sign(&input), files::now()?).map_err(from_authority)
            }
            Self::Remote(c) => Err(anyhow::anyhow!("internal: remote votes go through vote_remote ({})", c.key_id())),
        }
    }

    /// Revoke.
    pub fn revoke(&self, writ_id: &str, reason: &str) -> anyhow::Result<WritView> {
        match self {
            Self::Embedded { authority, .. } => {
                authority.revoke(&self.me()?, writ_id, reason, files::now()?).map_err(from_authority)
            }
            Self::Remote(c) => c
                .post(&format!("/v1/writs/{}/revoke", path_segment(writ_id)?), &serde_json::json!({"reason": reason}))
                .map_err(from_client),
        }
    }

    /// A writ's state.
    pub fn writ(&self, writ_id: &str) -> anyhow::Result<WritView> {
        match self {
            Self::Embedded { authority, .. } => authority.writ(writ_id).map_err(from_authority),
            Self::Remote(c) => c.get(&format!("/v1/writs/{}", path_segment(writ_id)?)).map_err(from_client),
        }
    }
}

/// Votes through either mode (remote signs with the client's key).
pub fn vote_any(conn: &Conn, key: &writ_core::SigningKey, id: &str, verdict: Verdict) -> anyhow::Result<RequestView> {
    match conn {
        Conn::Remote(c) => {
            let view = conn.request(id)?;
            let doc = writ_core::b64::decode(&view.document, 1 << 20).map_err(anyhow::Error::msg)?;
            let digest = writ_core::Sha256Digest::of(&doc);
            if digest.to_hex() != view.request_digest {
                anyhow::bail!("the authority's request digest does not match the document it sent; refusing to sign");
            }
            let sig = key.sign(&writ_core::approval::signing_input(&digest, verdict));
            let word = if verdict == Verdict::Approve { "approve" } else { "deny" };
            c.post(
                &format!("/v1/requests/{}/approvals", path_segment(id)?),
                &serde_json::json!({"verdict": word, "signature": writ_core::b64::encode(&sig)}),
            )
            .map_err(from_client)
        }
        Conn::Embedded { .. } => conn.vote(id, verdict),
    }
}

/// Ids go into URL paths: only UUID-like characters.
fn path_segment(id: &str) -> anyhow::Result<&str> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(UsageError(format!("`{id}` is not a request or writ id")).into());
    }
    Ok(id)
}

/// Ask the authority for a writ to run PROGRAM ARGS…
#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Why you need it (recorded in the ledger and the writ).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// How long the writ should be valid, in seconds.
    #[arg(long, default_value_t = 300)]
    pub duration: u64,
    /// An environment variable the program gets (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// The working directory it runs in.
    #[arg(long)]
    pub cwd: Option<String>,
    /// A host (glob) it may run on (repeatable).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// A gate-signed host evidence file (DSSE JSON).
    #[arg(long, value_name = "FILE")]
    pub evidence: Option<PathBuf>,
    /// Where to write the writ (the receipt goes to FILE.receipt); default `<writ id>.writ`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Fetch the writ of an earlier request (after its approvals) instead of submitting.
    #[arg(long, value_name = "REQUEST_ID", conflicts_with_all = ["command", "tool"])]
    pub fetch: Option<String>,
    /// Ask for an agent tool call instead of a program.
    #[arg(long, value_name = "NAME")]
    pub tool: Option<String>,
    /// The program and its arguments (after `--`).
    #[arg(last = true, value_name = "PROGRAM ARGS")]
    pub command: Vec<String>,
}

fn write_writ(out: Option<&Path>, view: &RequestView) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
    let (Some(writ), Some(receipt), Some(id)) = (&view.writ, &view.receipt, &view.writ_id) else { return Ok(None) };
    let path = out.map_or_else(|| PathBuf::from(format!("{id}.writ")), Path::to_path_buf);
    let mut rp = path.clone().into_os_string();
    rp.push(".receipt");
    let rp = PathBuf::from(rp);
    files::write_atomic(&path, writ.as_bytes())?;
    files::write_atomic(&rp, receipt.as_bytes())?;
    Ok(Some((path, rp)))
}

fn report(json: bool, view: &RequestView, written: Option<&(PathBuf, PathBuf)>) -> ExitCode {
    if json {
        let mut v = serde_json::to_value(view).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("writ");
            o.remove("document");
            if let Some((w, r)) = written {
                o.insert("writ_file".into(), w.display().to_string().into());
                o.insert("receipt_file".into(), r.display().to_string().into());
            }
        }
        println!("{v}");
    } else {
        println!("{}", view.request_id);
        eprintln!("request {} is {}: {}", view.request_id, view.status, view.summary);
        for r in &view.decision.reasons {
            eprintln!("  policy: {r}");
        }
        if let Some((w, r)) = written {
            eprintln!(
                "wrote writ {} to {} (receipt {})",
                view.writ_id.as_deref().unwrap_or("?"),
                w.display(),
                r.display()
            );
        } else if view.status == "pending" {
            eprintln!(
                "waiting for {} approval(s){} until {}; then fetch it with `writ request --fetch {}`",
                view.approvals_required,
                view.approver_group.as_deref().map(|g| format!(" from group `{g}`")).unwrap_or_default(),
                view.expires_at,
                view.request_id
            );
        }
    }
    match view.status.as_str() {
        "denied" | "expired" => exit::denied(),
        _ => ExitCode::SUCCESS,
    }
}

pub fn run(args: RequestArgs) -> anyhow::Result<ExitCode> {
    let json = args.conn.json;
    finish(json, run_inner(args))
}

fn run_inner(args: RequestArgs) -> anyhow::Result<ExitCode> {
    if let Some(id) = &args.fetch {
        let conn = Conn::open(&args.conn, true)?;
        let view = conn.request(id)?;
        let written = write_writ(args.out.as_deref(), &view)?;
        return Ok(report(json_of(&args), &view, written.as_ref()));
    }
    let target = match (&args.tool, args.command.split_first()) {
        (Some(t), None) => TargetInput::Tool { name: t.clone() },
        (None, Some((prog, rest))) => {
            let path = files::resolve_program(prog)?;
            let sha = files::hash_file(&path)?;
            let program = path.to_str().context("program path is not UTF-8")?.to_string();
            let mut argv = vec![program.clone()];
            argv.extend(rest.iter().cloned());
            TargetInput::Exec { program, sha256: Some(sha.to_hex()), argv }
        }
        _ => {
            return Err(
                UsageError("give the program after `--` (e.g. `-- /usr/bin/echo hi`) or --tool NAME".into()).into()
            );
        }
    };
    let mut env = BTreeMap::new();
    for e in &args.env {
        let (k, v) = e.split_once('=').ok_or_else(|| UsageError(format!("--env `{e}` must be NAME=VALUE")))?;
        env.insert(k.to_string(), v.to_string());
    }
    let evidence = match &args.evidence {
        Some(p) => Some(
            String::from_utf8(files::read_bounded(p, writ_core::limits::MAX_ENVELOPE_BYTES)?)
                .context("evidence is not UTF-8")?,
        ),
        None => None,
    };
    let input = RequestInput {
        target,
        reason: args.reason.clone(),
        duration_secs: args.duration,
        env,
        cwd: args.cwd.clone(),
        hosts: (!args.hosts.is_empty()).then(|| args.hosts.clone()),
        evidence,
    };
    let conn = Conn::open(&args.conn, true)?;
    let view = conn.submit(input)?;
    let written = write_writ(args.out.as_deref(), &view)?;
    Ok(report(json_of(&args), &view, written.as_ref()))
}

fn json_of(args: &RequestArgs) -> bool {
    args.conn.json
}
