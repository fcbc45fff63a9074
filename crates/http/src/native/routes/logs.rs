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

use crate::State;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::Query;
use crate::views::LogLineView;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use slipway_core::{Event, LogKey, LogLine, RunId, RunRecord};
use slipway_domain::App;
use tokio::sync::{broadcast, mpsc};

/// Lines read from the store per query when a whole log is sent.
const PAGE: usize = 5000;
/// The most lines `tail` may ask for.
const MAX_TAIL: i64 = 100_000;

/// The log key of a job of a run, after checking both exist.
async fn key_of(app: &App, run: &str, job: &str) -> ApiResult<(LogKey, RunRecord)> {
    let record = app.run(run).await?;
    if record.job_named(job).is_none() {
        return Err(ApiError::not_found(format!("run {run} has no job `{job}`")));
    }
    Ok((LogKey::new(RunId(run.to_owned()), job), record))
}

/// A job's whole log.
#[utoipa::path(
    tag = "logs",
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
        (status = 400, description = "Bad query parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such run or job", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/runs/{id}/jobs/{job}/log")]
pub async fn whole(
    _caller: Caller,
    st: web::Data<State>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let json = Query::of(&req)?.word("format", &["text", "json"])? == Some("json");
    let (run, job) = path.into_inner();
    let (key, _) = key_of(st.app(), &run, &job).await?;
    let logs = st.app().engine().logs().clone();
    let mut out = String::new();
    let mut after = 0;
    loop {
        let lines = logs
            .read_after(&key, after, PAGE)
            .await
            .map_err(ApiError::internal)?;
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
    tag = "logs",
    params(
        ("id" = String, Path, description = "Run id"),
        ("job" = String, Path, description = "Job name"),
        ("tail" = Option<u32>, Query, description = "Start with the last N stored lines instead of the whole log"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this line (`seq`); wins over `tail`"),
    ),
    responses(
        (status = 200, description = "Events: each line as `id: <seq>` + `data: <JSON line>`; a final `event: end` with the job's status", content_type = "text/event-stream", body = String),
        (status = 400, description = "Bad query parameter or header", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such run or job", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/runs/{id}/jobs/{job}/log/stream")]
pub async fn stream(
    _caller: Caller,
    st: web::Data<State>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let q = Query::of(&req)?;
    let tail = q.int("tail", 0, MAX_TAIL)?;
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
    let (run, job) = path.into_inner();
    let (key, _) = key_of(st.app(), &run, &job).await?;

    // Subscribe first, then read what is stored.
    let engine = st.app().engine().clone();
    let live = engine.logs().subscribe(&key);
    let events = engine.subscribe();
    let logs = engine.logs().clone();
    let (first, after) = match (resume, tail) {
        (Some(after), _) => {
            let after = after.unsigned_abs();
            (logs.read_after(&key, after, 0).await, after)
        }
        (None, Some(n)) => {
            // Where the log ends now, then its last n lines: the stream
            // goes on after whichever comes first.
            let end = match logs.tail(&key, 1).await {
                Ok(l) => l.last().map_or(0, |l| l.seq),
                Err(e) => return Err(ApiError::internal(e)),
            };
            let lines = logs.tail(&key, usize::try_from(n).unwrap_or(0)).await;
            let start = match &lines {
                Ok(l) => l.first().map_or(end, |l| l.seq.saturating_sub(1)),
                Err(_) => end,
            };
            (lines, start)
        }
        (None, None) => (logs.read_after(&key, 0, 0).await, 0),
    };
    let first = first.map_err(ApiError::internal)?;

    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let feed = Feed {
        app: st.app().clone(),
        key,
        live,
        events,
        tx,
        last: after,
        heartbeat: st.settings().heartbeat,
        shutdown: st.shutdown().clone(),
    };
    tokio::spawn(feed.run(first));
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

/// The task behind one live stream.
struct Feed {
    app: App,
    key: LogKey,
    live: broadcast::Receiver<LogLine>,
    events: broadcast::Receiver<Event>,
    tx: mpsc::Sender<Bytes>,
    /// The last `seq` sent.
    last: u64,
    heartbeat: std::time::Duration,
    shutdown: slipway_core::CancellationToken,
}

/// Why a feed stops early.
struct Gone;

impl Feed {
    async fn send(&mut self, lines: &[LogLine]) -> Result<(), Gone> {
        for l in lines {
            if l.seq <= self.last {
                continue;
            }
            let data = serde_json::to_string(&LogLineView::from(l)).map_err(|_| Gone)?;
            let event = format!("id: {}\ndata: {data}\n\n", l.seq);
            self.tx.send(Bytes::from(event)).await.map_err(|_| Gone)?;
            self.last = l.seq;
        }
        Ok(())
    }

    /// Sends whatever the store holds after the last line sent.
    async fn catch_up(&mut self) -> Result<(), Gone> {
        let lines = self
            .app
            .engine()
            .logs()
            .read_after(&self.key, self.last, 0)
            .await
            .map_err(|_| Gone)?;
        self.send(&lines).await
    }

    /// The job's status when it has finished for good (no retry of the
    /// job pending), else `None`.
    async fn finished(&self) -> Result<Option<String>, Gone> {
        let run = self
            .app
            .run(self.key.run.as_str())
            .await
            .map_err(|_| Gone)?;
        let Some(job) = run.job_named(&self.key.job) else {
            return Err(Gone);
        };
        if !job.status.is_terminal() {
            return Ok(None);
        }
        let retries = run
            .plan
            .stages
            .iter()
            .flat_map(|s| s.jobs.iter())
            .find(|j| j.name == self.key.job)
            .map_or(0, |j| j.retries);
        let retry_pending = job.status == slipway_core::Status::Failed
            && job.attempts <= retries
            && !run.status.is_terminal();
        Ok((!retry_pending).then(|| job.status.as_str().to_owned()))
    }

    async fn run(mut self, first: Vec<LogLine>) {
        let _ = self.drive(first).await;
    }

    async fn drive(&mut self, first: Vec<LogLine>) -> Result<(), Gone> {
        self.send(&first).await?;
        let start = tokio::time::Instant::now() + self.heartbeat;
        let mut beat = tokio::time::interval_at(start, self.heartbeat);
        let mut check = true;
        loop {
            if check {
                check = false;
                if let Some(status) = self.finished().await? {
                    self.catch_up().await?;
                    let end = format!("event: end\ndata: {{\"status\":\"{status}\"}}\n\n");
                    let _ = self.tx.send(Bytes::from(end)).await;
                    return Ok(());
                }
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return Ok(()),
                _ = self.tx.closed() => return Err(Gone),
                _ = beat.tick() => {
                    self.tx.send(Bytes::from_static(b": heartbeat\n\n")).await.map_err(|_| Gone)?;
                }
                line = self.live.recv() => match line {
                    Ok(l) if l.seq == self.last + 1 => self.send(std::slice::from_ref(&l)).await?,
                    Ok(l) if l.seq <= self.last => {}
                    // A gap (lines stored before we subscribed, or missed):
                    // the store has them.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up().await?,
                    Err(broadcast::error::RecvError::Closed) => {
                        self.live = self.app.engine().logs().subscribe(&self.key);
                        self.catch_up().await?;
                    }
                },
                event = self.events.recv() => match event {
                    Ok(Event::Job { run, job, status })
                        if run == self.key.run && job == self.key.job && status.is_terminal() =>
                    {
                        check = true;
                    }
                    Ok(Event::Run { run, status }) if run == self.key.run && status.is_terminal() => {
                        check = true;
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => check = true,
                    Err(broadcast::error::RecvError::Closed) => {
                        self.events = self.app.engine().subscribe();
                        check = true;
                    }
                },
            }
        }
    }
}
