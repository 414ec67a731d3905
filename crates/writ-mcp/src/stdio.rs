//! The gateway wrapping a stdio MCP server: the gateway's stdin/stdout
//! speak newline-delimited JSON-RPC with the client, the child's with the
//! server (MCP "stdio" transport). The child's stderr is the gateway's.

use std::collections::HashMap;
use std::ffi::OsString;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::sync::mpsc;

use crate::canon::canonical;
use crate::gateway::{Gateway, INVALID_REQUEST, Inbound, PARSE_ERROR, Pending, error};

/// The requests forwarded upstream whose answers the gateway handles, by
/// JSON-RPC id (canonical JSON).
type PendingMap = Arc<Mutex<HashMap<String, Pending>>>;

/// Runs `program args…` as the upstream MCP server behind `gateway`, with
/// this process's stdin/stdout as the client side, until the client closes
/// its side or the server exits. Returns the server's exit code (1 when a
/// signal ended it).
///
/// # Errors
/// The runtime cannot start or the server cannot be spawned.
pub fn run(gateway: Gateway, program: &OsString, args: &[OsString]) -> std::io::Result<i32> {
    // One reactor thread: the pipes' tasks hand each other lines, and on one
    // thread that costs no cross-thread wake-ups (the profile's largest cost
    // with a multi-thread runtime). Records and the authority run on the
    // blocking pool, in parallel.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(serve(Arc::new(gateway), program, args, tokio::io::stdin(), tokio::io::stdout()))
}

fn lock(p: &PendingMap) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
    p.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// [`run`] with the client side on `input`/`output`.
///
/// # Errors
/// The server cannot be spawned.
pub async fn serve<R, W>(
    gateway: Arc<Gateway>,
    program: &OsString,
    args: &[OsString],
    input: R,
    output: W,
) -> std::io::Result<i32>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(mut child_in), Some(child_out)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("the MCP server's stdin/stdout are not pipes"));
    };
    let (to_client, mut client_rx) = mpsc::unbounded_channel::<String>();
    let (to_server, mut server_rx) = mpsc::unbounded_channel::<String>();
    let client_writer = tokio::spawn(async move {
        let mut out = output;
        while let Some(line) = client_rx.recv().await {
            if out.write_all(line.as_bytes()).await.is_err() || out.write_all(b"\n").await.is_err() {
                break;
            }
            let _ = out.flush().await;
        }
    });
    tokio::spawn(async move {
        while let Some(line) = server_rx.recv().await {
            if child_in.write_all(line.as_bytes()).await.is_err() || child_in.write_all(b"\n").await.is_err() {
                break;
            }
            let _ = child_in.flush().await;
        }
        // Dropping the pipe closes the server's stdin: its cue to exit.
    });
    let pending: PendingMap = Arc::default();
    let mut upstream = tokio::spawn(from_server(gateway.clone(), child_out, pending.clone(), to_client.clone()));

    let mut lines = BufReader::new(input).lines();
    let mut calls = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                let msg: Value = match serde_json::from_str(&line) {
                    Ok(v) => v,
                    Err(e) => {
                        let _ = to_client.send(error(&Value::Null, PARSE_ERROR, &format!("not JSON: {e}"), None).to_string());
                        continue;
                    }
                };
                let (gw, p, tc, ts) = (gateway.clone(), pending.clone(), to_client.clone(), to_server.clone());
                if msg.get("method").and_then(Value::as_str) == Some("tools/call") {
                    // Records and the authority block: each call on its own.
                    calls.spawn_blocking(move || dispatch(gw.inbound(msg, &[]), &p, &tc, &ts));
                } else {
                    // Everything else in order, without blocking work.
                    dispatch(gw.inbound(msg, &[]), &p, &tc, &ts);
                }
            }
            _ = &mut upstream => break,
        }
    }
    while calls.join_next().await.is_some() {}
    drop(to_server);
    let status = child.wait().await?;
    if !upstream.is_finished() {
        let _ = upstream.await;
    }
    drop(to_client);
    let _ = client_writer.await;
    Ok(status.code().unwrap_or(1))
}

/// Sends a decision on: forwarded requests are remembered by id first.
fn dispatch(
    d: Inbound,
    pending: &PendingMap,
    to_client: &mpsc::UnboundedSender<String>,
    to_server: &mpsc::UnboundedSender<String>,
) {
    match d {
        Inbound::Forward { message, pending: what } => {
            if !matches!(what, Pending::Pass)
                && let Some(id) = message.get("id")
            {
                let key = canonical(id);
                let mut map = lock(pending);
                if map.contains_key(&key) {
                    drop(map);
                    let e =
                        error(id, INVALID_REQUEST, "a request with this id is still in progress; use a new id", None);
                    let _ = to_client.send(e.to_string());
                    return;
                }
                map.insert(key, what);
            }
            let _ = to_server.send(message.to_string());
        }
        Inbound::Reply(v) => {
            let _ = to_client.send(v.to_string());
        }
        Inbound::Drop => {}
    }
}

/// Reads the server's messages: answers to remembered requests go through
/// [`Gateway::outbound`], everything else passes unchanged. At the end,
/// each request still waiting is answered with an error.
async fn from_server<S: AsyncRead + Unpin>(
    gateway: Arc<Gateway>,
    out: S,
    pending: PendingMap,
    to_client: mpsc::UnboundedSender<String>,
) {
    let mut lines = BufReader::new(out).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            let _ = to_client.send(line);
            continue;
        };
        let is_answer = msg.get("method").is_none() && (msg.get("result").is_some() || msg.get("error").is_some());
        let waiting = if is_answer { msg.get("id").and_then(|id| lock(&pending).remove(&canonical(id))) } else { None };
        match waiting {
            // Offline, the answer's record is a local append without fsync:
            // done here. Online it goes to the authority: off the reactor.
            Some(p) if !gateway.is_online() => {
                let _ = to_client.send(gateway.outbound(p, msg).to_string());
            }
            Some(p) => {
                let gw = gateway.clone();
                let tc = to_client.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tc.send(gw.outbound(p, msg).to_string());
                });
            }
            None => {
                gateway.observe(&msg);
                let _ = to_client.send(line);
            }
        }
    }
    let left: Vec<(String, Pending)> = lock(&pending).drain().collect();
    for (key, p) in left {
        let id: Value = serde_json::from_str(&key).unwrap_or(Value::Null);
        let gw = gateway.clone();
        let e = tokio::task::spawn_blocking(move || gw.upstream_failed(p, &id, "it closed its stdout")).await;
        if let Ok(e) = e {
            let _ = to_client.send(e.to_string());
        }
    }
}
