//! A job's log: whole (`text/plain` or JSON lines) and live over
//! Server-Sent Events.
//!
//! The stream subscribes to new lines *before* reading stored ones, then
//! skips live lines whose `seq` it has sent already, so nothing is lost or
//! repeated between the two. Each line is one event whose `id` is the
//! line's `seq`; a client reconnecting with `Last-Event-ID: n` gets the
//! lines after `n`. When the job has finished for good, an `end` event
//! says how, and the stream closes. A comment line every 15 s keeps
//! proxies from closing an idle stream.

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::Query;
use crate::views::LogLineView;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use slipway_domain::{Followed, LogFollow, LogStart};
use tokio::sync::mpsc;

/// Lines read from the store per query when a whole log is sent.
const PAGE: usize = 5000;

/// A job's whole log.
#[utoipa::path(
    params(
        ("id" = String, Path, description = "Run id"),
        ("job" = String, Path, description = "Job name"),
        ("format" = Option<String>, Query, description = "`text` (default): the lines as text; `json`: one JSON object per line"),
    ),
    responses(
        (status = 200, description = "The log", content(
            (String = "text/plain"),
            (LogLineView = "application/x-ndjson"),
        )),
        (status = 404, description = "No such run or job", body = ErrorBody),
    )
)]
#[get("/api/v1/runs/{id}/jobs/{job}/log")]
pub async fn whole(
    api: Authed,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let json = Query::of(&req)?.word("format", &["text", "json"])? == Some("json");
    let (run, job) = path.into_inner();
    let log = api.app().job_log(&api.caller, &run, &job).await?;
    let mut out = String::new();
    let mut after = 0;
    loop {
        let lines = log.read_after(after, PAGE).await?;
        let Some(last) = lines.last() else { break };
        after = last.seq;
        for l in &lines {
            if json {
                let text =
                    serde_json::to_string(&LogLineView::from(l)).map_err(ApiError::internal)?;
                out.push_str(&text);
            } else {
                out.push_str(&l.text);
            }
            out.push('\n');
        }
        if lines.len() < PAGE {
            break;
        }
    }
    let ct = if json {
        "application/x-ndjson"
    } else {
        "text/plain; charset=utf-8"
    };
    Ok(HttpResponse::Ok().content_type(ct).body(out))
}

/// A job's log, live, as Server-Sent Events.
#[utoipa::path(
    params(
        ("id" = String, Path, description = "Run id"),
        ("job" = String, Path, description = "Job name"),
        ("tail" = Option<u32>, Query, description = "Start with the last N stored lines instead of the whole log"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this line (`seq`); wins over `tail`"),
    ),
    responses(
        (status = 200, description = "Events: each line as `id: <seq>` + `data: <JSON line>`; a final `event: end` with the job's status", content_type = "text/event-stream", body = String),
        (status = 400, description = "Bad query parameter or header", body = ErrorBody),
        (status = 404, description = "No such run or job", body = ErrorBody),
    )
)]
#[get("/api/v1/runs/{id}/jobs/{job}/log/stream")]
pub async fn stream(
    api: Authed,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let q = Query::of(&req)?;
    let tail = q.int("tail", 0, crate::input::MAX_TAIL)?;
    let resume = match req.headers().get("last-event-id") {
        None => q.int("last_event_id", 0, i64::MAX)?,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "Last-Event-ID",
                        "must be a line number (a whole number ≥ 0)",
                    )
                })?,
        ),
    };
    let start = match (resume, tail) {
        (Some(after), _) => LogStart::After(after.unsigned_abs()),
        (None, Some(n)) => LogStart::Tail(usize::try_from(n).unwrap_or(0)),
        (None, None) => LogStart::Beginning,
    };
    let (run, job) = path.into_inner();
    let follow = api.app().follow_log(&api.caller, &run, &job, start).await?;

    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(feed(
        follow,
        tx,
        api.st.settings().heartbeat,
        api.st.shutdown().clone(),
    ));
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, actix_web::Error>(b), rx))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// The task behind one live stream: the domain's [`LogFollow`] turned
/// into events, with a heartbeat comment while nothing happens. It ends
/// when the job is over for good, the client leaves or the server stops.
async fn feed(
    mut follow: LogFollow,
    tx: mpsc::Sender<Bytes>,
    heartbeat: std::time::Duration,
    shutdown: slipway_core::CancellationToken,
) {
    let start = tokio::time::Instant::now() + heartbeat;
    let mut beat = tokio::time::interval_at(start, heartbeat);
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tx.closed() => return,
            _ = beat.tick() => Bytes::from_static(b": heartbeat\n\n"),
            // `next` is cancel-safe: a heartbeat loses no line.
            item = follow.next() => match item {
                Ok(Some(Followed::Line(l))) => {
                    let Ok(data) = serde_json::to_string(&LogLineView::from(&l)) else {
                        return;
                    };
                    Bytes::from(format!("id: {}\ndata: {data}\n\n", l.seq))
                }
                Ok(Some(Followed::End(status))) => {
                    let end = format!("event: end\ndata: {{\"status\":\"{status}\"}}\n\n");
                    let _ = tx.send(Bytes::from(end)).await;
                    return;
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "following a log failed");
                    return;
                }
            },
        };
        if tx.send(event).await.is_err() {
            return;
        }
    }
}
