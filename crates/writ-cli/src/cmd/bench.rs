//! `writ bench`: load-test an authority with auto-allowed requests, end to
//! end (RFC 9421-signed HTTP, Cedar decision, signing, durable ledger
//! entries, receipt), and report writs/s, latency percentiles and errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use writ_api::OperatorApi as _;
use writ_api::wire::{RequestInput, TargetInput};
use writ_client::Client;

use crate::files;

/// Load-test an authority: concurrent signed requests that policy allows at once.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The authority's URL.
    #[arg(long, value_name = "URL")]
    pub authority: String,
    /// A requester key that policy allows to run PROGRAM at once.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// How many requests in total.
    #[arg(long, default_value_t = 2000)]
    pub requests: u64,
    /// How many in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: u64,
    /// The program to ask for (must be auto-allowed by policy).
    #[arg(long, default_value = "/usr/bin/true")]
    pub program: String,
    /// CA certificates (PEM) for an `https://` authority (default: the system roots).
    #[arg(long, env = "WRIT_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i.min(sorted.len() - 1)).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The request `writ bench` sends, serialised once (every request has the same body).
fn bench_input(args: &BenchArgs, sha: &str) -> RequestInput {
    RequestInput {
        target: TargetInput::Exec {
            program: args.program.clone(),
            sha256: Some(sha.to_string()),
            argv: vec![args.program.clone()],
        },
        reason: "bench".into(),
        duration_secs: 60,
        env: Default::default(),
        cwd: None,
        hosts: None,
        evidence: None,
        boundaries: None,
        uses: None,
        holder: None,
        delegation_depth: None,
    }
}

type FirstError = Arc<std::sync::Mutex<Option<String>>>;

fn note_error(errors: &AtomicU64, first: &FirstError, why: impl FnOnce() -> String) {
    errors.fetch_add(1, Ordering::Relaxed);
    let mut g = first.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if g.is_none() {
        *g = Some(why());
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let key = files::read_private_key(&args.key)?;
    let sha = files::hash_file(std::path::Path::new(&args.program))?.to_hex();
    let input = bench_input(&args, &sha);
    let errors = Arc::new(AtomicU64::new(0));
    let first_error: FirstError = Arc::new(std::sync::Mutex::new(None));
    let (lat, elapsed, extra) = if let Some(addr) = args.authority.strip_prefix("http://") {
        raw::run(&args, addr, &key, &input, &errors, &first_error)?
    } else {
        let (lat, elapsed) = run_client(&args, &key, &input, &errors, &first_error)?;
        (lat, elapsed, serde_json::json!({"mode": "client"}))
    };
    report(&args, lat, elapsed, &errors, &first_error, extra)
}

/// An `https://` authority: one thread and one `writ_client::Client` per
/// connection, each request signed when it is sent (TLS needs the client's
/// stack).
fn run_client(
    args: &BenchArgs,
    key: &writ_core::SigningKey,
    input: &RequestInput,
    errors: &Arc<AtomicU64>,
    first_error: &FirstError,
) -> anyhow::Result<(Vec<Duration>, f64)> {
    let ca_pem = match &args.ca {
        Some(p) => Some(files::read_bounded(p, 1 << 20)?),
        None => None,
    };
    let opts = writ_client::Options { ca_pem, ..writ_client::Options::default() };
    let seed = key.seed();
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let client = Client::with_options(&args.authority, writ_core::SigningKey::from_seed(&seed), &opts)
            .map_err(|e| crate::exit::UsageError(format!("--authority: {}", e.message)))?;
        let (next, errors, first_error) = (next.clone(), errors.clone(), first_error.clone());
        let total = args.requests;
        let input = input.clone();
        handles.push(std::thread::spawn(move || {
            let mut lat = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t0 = Instant::now();
                let idem = writ_api::IdempotencyKey::random();
                match idem.and_then(|k| client.submit(&input, &k)) {
                    Ok(v) if v.status == "issued" && v.receipt.is_some() => lat.push(t0.elapsed()),
                    Ok(v) => note_error(&errors, &first_error, || {
                        format!("request was {}, not issued: {:?}", v.status, v.decision.reasons)
                    }),
                    Err(e) => note_error(&errors, &first_error, || e.to_string()),
                }
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for h in handles {
        lat.extend(h.join().map_err(|_| anyhow::anyhow!("a bench thread panicked"))?);
    }
    Ok((lat, start.elapsed().as_secs_f64()))
}

fn report(
    args: &BenchArgs,
    mut lat: Vec<Duration>,
    elapsed: f64,
    errors: &AtomicU64,
    first_error: &FirstError,
    extra: serde_json::Value,
) -> anyhow::Result<ExitCode> {
    lat.sort_unstable();
    let ok = lat.len() as f64;
    let errs = errors.load(Ordering::Relaxed);
    let report = serde_json::json!({
        "requests": args.requests, "concurrency": args.concurrency, "ok": lat.len(), "errors": errs,
        "seconds": elapsed, "writs_per_sec": if elapsed > 0.0 { ok / elapsed } else { 0.0 },
        "p50_ms": pct(&lat, 0.50), "p90_ms": pct(&lat, 0.90), "p99_ms": pct(&lat, 0.99), "max_ms": pct(&lat, 1.0),
        "first_error": first_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
    });
    let mut report = report;
    if let (Some(o), serde_json::Value::Object(x)) = (report.as_object_mut(), extra) {
        o.extend(x);
    }
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{} writs in {:.2}s: {:.0} writs/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} errors (concurrency {})",
            lat.len(),
            elapsed,
            report.get("writs_per_sec").and_then(serde_json::Value::as_f64).unwrap_or_default(),
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&lat, 1.0),
            errs,
            args.concurrency
        );
        if let Some(e) = report.get("first_error").and_then(serde_json::Value::as_str) {
            eprintln!("first error: {e}");
        }
    }
    Ok(if errs == 0 { ExitCode::SUCCESS } else { crate::exit::failure() })
}

/// An `http://` authority, driven the way load tools (`wrk`, `oha`) drive a
/// server, so the generator's own cost stays small beside the server's:
///
/// - every request is prepared and signed *before* the timed window: its
///   own random nonce, its own idempotency key, `created` = the time it was
///   signed (the body, and so its `Content-Digest`, is the same for all). The
///   authority accepts a signature whose `created` is within
///   `writ_server::SIGNATURE_WINDOW_SECS` (±300 s) and each nonce once, so a
///   request prepared more than [`STALE_SECS`] before it is sent is signed
///   again when sent (counted in `resigned`), as is every request beyond
///   [`MAX_PREPARED`];
/// - one kept-alive HTTP/1.1 connection per unit of concurrency, all driven
///   by one thread (a single-threaded tokio runtime), not one OS thread each;
/// - a reply is read by its `Content-Length`; it counts as done only when
///   the status is `201` and the JSON body says `"status": "issued"` with a
///   `receipt` (a minimal deserialisation that skips the other fields);
///   anything else is an error (the first one is kept, with the API error
///   code when the body has one). A connection that fails is reopened.
mod raw {
    use std::net::{SocketAddr, ToSocketAddrs as _};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;
    use writ_api::httpsig;
    use writ_api::wire::RequestInput;
    use writ_core::SigningKey;

    use super::{BenchArgs, FirstError, note_error};

    /// A prepared request older than this (seconds) is signed again when sent:
    /// well inside the authority's ±300 s window.
    pub const STALE_SECS: i64 = 120;
    /// Most requests prepared ahead (≈ 1 KB each); the rest are signed when sent.
    pub const MAX_PREPARED: u64 = 200_000;
    /// Largest reply read.
    const MAX_REPLY: usize = 1 << 20;
    const PATH: &str = "/v1/requests";

    struct Signer {
        key: SigningKey,
        host: String,
        body: Vec<u8>,
        digest: String,
    }

    fn unix_now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    impl Signer {
        /// One signed `POST /v1/requests`, whole (head and body), with fresh
        /// random nonce and idempotency key.
        fn request(&self, created: i64) -> anyhow::Result<Vec<u8>> {
            let mut r = [0u8; 32];
            getrandom::getrandom(&mut r).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
            let (n, k) = r.split_at(16);
            let nonce = hex::encode(n);
            let params = httpsig::params(created, &self.key.key_id(), &nonce);
            let base = httpsig::signature_base("POST", PATH, "", &self.digest, &params);
            let sig =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, self.key.sign(base.as_bytes()));
            let head = format!(
                "POST {PATH} HTTP/1.1\r\nhost: {}\r\naccept: application/json\r\ncontent-type: application/json\r\n\
                 content-digest: {}\r\nsignature-input: {}={params}\r\nsignature: {}=:{sig}:\r\n{}: {}\r\n\
                 content-length: {}\r\n\r\n",
                self.host,
                self.digest,
                httpsig::LABEL,
                httpsig::LABEL,
                writ_api::IDEMPOTENCY_HEADER,
                hex::encode(k),
                self.body.len()
            );
            let mut out = Vec::with_capacity(head.len() + self.body.len());
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(&self.body);
            Ok(out)
        }
    }

    /// CPU time of this process so far (all its threads), in nanoseconds,
    /// from `/proc/self/task/*/schedstat` (Linux); `None` elsewhere.
    fn own_cpu_ns() -> Option<u64> {
        let mut total = 0u64;
        for t in std::fs::read_dir("/proc/self/task").ok()? {
            let s = std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok()?;
            total = total.saturating_add(s.split_whitespace().next()?.parse().ok()?);
        }
        Some(total)
    }

    /// What a reply says, as little of it as the check needs.
    #[derive(serde::Deserialize)]
    struct Reply {
        status: String,
        #[serde(default)]
        receipt: Option<serde::de::IgnoredAny>,
    }

    #[derive(serde::Deserialize)]
    struct ErrorReply {
        error: ErrorFields,
    }

    #[derive(serde::Deserialize)]
    struct ErrorFields {
        code: String,
        message: String,
    }

    /// Read one HTTP/1.1 reply from `conn` into `buf` (which may hold bytes
    /// of it already); returns the status, the body range and whether the
    /// server closes the connection. Bytes past the reply stay in `buf`.
    async fn read_reply(conn: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<(u16, Vec<u8>, bool)> {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 64 * 1024 {
                anyhow::bail!("reply head larger than 64 KiB");
            }
            read_more(conn, buf).await?;
        };
        let head = std::str::from_utf8(buf.get(..head_end).unwrap_or_default())
            .map_err(|_| anyhow::anyhow!("reply head is not text"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("not an HTTP/1.1 status line: {status_line:?}"))?;
        let (mut len, mut close) = (None, false);
        for l in lines {
            let Some((k, v)) = l.split_once(':') else { continue };
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                len = Some(v.parse::<usize>().map_err(|_| anyhow::anyhow!("bad content-length {v:?}"))?);
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                anyhow::bail!("chunked replies are not read by `writ bench` (transfer-encoding: {v})");
            } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
                close = true;
            }
        }
        let len = len.ok_or_else(|| anyhow::anyhow!("reply without content-length"))?;
        if len > MAX_REPLY {
            anyhow::bail!("reply of {len} bytes");
        }
        while buf.len() < head_end + len {
            read_more(conn, buf).await?;
        }
        let body = buf.get(head_end..head_end + len).unwrap_or_default().to_vec();
        buf.drain(..head_end + len);
        Ok((status, body, close))
    }

    async fn read_more(conn: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            anyhow::bail!("the authority closed the connection");
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(())
    }

    /// Whether a reply is an issued writ with its receipt; else why not.
    fn check(status: u16, body: &[u8]) -> Result<(), String> {
        if status == 201 {
            return match serde_json::from_slice::<Reply>(body) {
                Ok(r) if r.status == "issued" && r.receipt.is_some() => Ok(()),
                Ok(r) => Err(format!("request was {}, not issued with a receipt", r.status)),
                Err(e) => Err(format!("the authority answered 201 with an unexpected body: {e}")),
            };
        }
        match serde_json::from_slice::<ErrorReply>(body) {
            Ok(e) => Err(format!("{status} {}: {}", e.error.code, e.error.message)),
            Err(_) => Err(format!("{status} without the JSON error shape")),
        }
    }

    /// Run the load; returns the latencies of the issued writs, the timed
    /// window's length, and what the report adds (`mode`, preparation).
    pub fn run(
        args: &BenchArgs,
        hostport: &str,
        key: &SigningKey,
        input: &RequestInput,
        errors: &Arc<AtomicU64>,
        first_error: &FirstError,
    ) -> anyhow::Result<(Vec<Duration>, f64, serde_json::Value)> {
        let hostport = hostport.trim_end_matches('/');
        if hostport.is_empty() || hostport.contains(['/', '?', '#', '@']) {
            return Err(
                crate::exit::UsageError(format!("--authority `{}` must be a plain base URL", args.authority)).into()
            );
        }
        let addr: SocketAddr = hostport
            .to_socket_addrs()
            .map_err(|e| crate::exit::UsageError(format!("--authority `{}`: {e}", args.authority)))?
            .next()
            .ok_or_else(|| crate::exit::UsageError(format!("--authority `{}` has no address", args.authority)))?;
        let body = serde_json::to_vec(input)?;
        let signer = Arc::new(Signer {
            key: SigningKey::from_seed(&key.seed()),
            host: hostport.to_string(),
            digest: httpsig::content_digest(&body),
            body,
        });
        // Before the timed window: sign what will be sent.
        let t_prep = Instant::now();
        let created = unix_now();
        let prepared: Vec<Vec<u8>> =
            (0..args.requests.min(MAX_PREPARED)).map(|_| signer.request(created)).collect::<anyhow::Result<_>>()?;
        let prepare_secs = t_prep.elapsed().as_secs_f64();
        let prepared = Arc::new(prepared);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let next = Arc::new(AtomicU64::new(0));
        let resigned = Arc::new(AtomicU64::new(0));
        let total = args.requests;
        let cpu0 = own_cpu_ns();
        let start = Instant::now();
        let lat = rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..args.concurrency.max(1) {
                let (next, errors, first_error, resigned) =
                    (next.clone(), errors.clone(), first_error.clone(), resigned.clone());
                let (prepared, signer) = (prepared.clone(), signer.clone());
                set.spawn(async move {
                    let mut lat = Vec::new();
                    let mut conn: Option<TcpStream> = None;
                    let mut buf = Vec::with_capacity(16 * 1024);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            break;
                        }
                        let fresh;
                        let req: &[u8] = match usize::try_from(i).ok().and_then(|i| prepared.get(i)) {
                            Some(r) if unix_now().saturating_sub(created) <= STALE_SECS => r,
                            _ => {
                                resigned.fetch_add(1, Ordering::Relaxed);
                                match signer.request(unix_now()) {
                                    Ok(r) => {
                                        fresh = r;
                                        &fresh
                                    }
                                    Err(e) => {
                                        note_error(&errors, &first_error, || e.to_string());
                                        continue;
                                    }
                                }
                            }
                        };
                        let t0 = Instant::now();
                        let c = match conn.take() {
                            Some(c) => c,
                            None => match TcpStream::connect(addr).await {
                                Ok(c) => {
                                    let _ = c.set_nodelay(true);
                                    buf.clear();
                                    c
                                }
                                Err(e) => {
                                    note_error(&errors, &first_error, || format!("cannot connect to {addr}: {e}"));
                                    continue;
                                }
                            },
                        };
                        let mut c = c;
                        let res = async {
                            c.write_all(req).await?;
                            read_reply(&mut c, &mut buf).await
                        }
                        .await;
                        match res {
                            Ok((status, body, close)) => {
                                match check(status, &body) {
                                    Ok(()) => lat.push(t0.elapsed()),
                                    Err(why) => note_error(&errors, &first_error, || why),
                                }
                                if !close {
                                    conn = Some(c);
                                }
                            }
                            Err(e) => note_error(&errors, &first_error, || format!("transport: {e:#}")),
                        }
                    }
                    lat
                });
            }
            let mut all = Vec::new();
            while let Some(r) = set.join_next().await {
                all.extend(r.map_err(|e| anyhow::anyhow!("a bench task failed: {e}"))?);
            }
            anyhow::Ok(all)
        })?;
        let elapsed = start.elapsed().as_secs_f64();
        let cpu = own_cpu_ns().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
        let extra = serde_json::json!({
            "mode": "http1-prepared",
            // CPU time of this process inside the timed window, per issued writ.
            "client_cpu_us_per_writ_in_window": cpu.map(|ns| ns as f64 / 1000.0 / (lat.len().max(1) as f64)),
            "prepared": prepared.len(),
            "prepare_seconds": prepare_secs,
            "resigned": resigned.load(Ordering::Relaxed),
        });
        Ok((lat, elapsed, extra))
    }
}
