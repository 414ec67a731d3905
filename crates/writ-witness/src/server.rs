//! The witness's HTTP face: `POST /add-checkpoint` (C2SP `tlog-witness`).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::witness::{MAX_REQUEST, Reply, Witness};

/// The router: `POST /add-checkpoint`, bodies up to [`MAX_REQUEST`] bytes.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(witness)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn respond(r: Reply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match r.content_type {
        Some(ct) => (status, [(header::CONTENT_TYPE, ct)], r.body).into_response(),
        None => (status, r.body).into_response(),
    }
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    // SQLite and the fsync block: off the async workers.
    match tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now())).await {
        Ok(r) => respond(r),
        Err(_) => respond(Reply {
            status: 500,
            content_type: Some("text/plain; charset=utf-8"),
            body: b"the witness failed while answering\n".to_vec(),
        }),
    }
}

/// Serve `witness` on `listener` until the process ends.
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(listener: tokio::net::TcpListener, witness: Arc<Witness>) -> std::io::Result<()> {
    axum::serve(listener, router(witness)).await
}
