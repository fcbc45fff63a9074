//! Runs: start one from a workflow, list, get, cancel, retry, redeploy
//! (repeat a finished run: a rollback when it is an older one), and decide
//! on a stage waiting for approval.

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::{self, Query};
use crate::routes::params::Paging;
use crate::views::{DecisionInput, RunPage, RunStart, RunView};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use slipway_domain::{Order, RunFilter};

/// 200 with JSON serialized before (a cached run or page of runs).
fn cached(json: Result<Bytes, serde_json::Error>) -> ApiResult<HttpResponse> {
    let json = json.map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(json))
}

/// Starts a run of a workflow with values for its params.
#[utoipa::path(
    params(("id" = String, Path, description = "Workflow id")),
    request_body = RunStart,
    responses(
        (status = 201, description = "Started (queued or running)", body = RunView),
        (status = 400, description = "Unknown, missing or invalid params", body = ErrorBody),
        (status = 404, description = "No such workflow or version", body = ErrorBody),
    )
)]
#[post("/api/v1/workflows/{id}/runs")]
pub async fn start(
    api: Authed,
    id: web::Path<String>,
    body: JsonBody<RunStart>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let run = api
        .app()
        .run_workflow(&api.caller, &id, input.version, &input.params)
        .await?;
    Ok(HttpResponse::Created().json(RunView::from(run)))
}

/// Lists runs, newest first by default.
#[utoipa::path(
    params(
        ("workflow_id" = Option<String>, Query, description = "Only this workflow's runs"),
        ("status" = Option<String>, Query, description = "Only runs in these statuses (comma-separated or repeated)"),
        Paging,
        ("order" = Option<String>, Query, description = "`desc` (newest first, default) or `asc`"),
    ),
    responses(
        (status = 200, description = "A page of runs", body = RunPage),
    )
)]
#[get("/api/v1/runs")]
pub async fn list(api: Authed, req: HttpRequest) -> ApiResult<HttpResponse> {
    let q = Query::of(&req)?;
    let page = q.page(input::RUN_SORTS, Order::Desc)?;
    let mut filter = RunFilter {
        workflow_id: q.get("workflow_id").map(str::to_owned),
        ..RunFilter::default()
    };
    for word in q.all("status").flat_map(|v| v.split(',')) {
        let word = word.trim();
        if word.is_empty() {
            continue;
        }
        let status = input::status_word("status", word)?;
        if !filter.statuses.contains(&status) {
            filter.statuses.push(status);
        }
    }
    let found = api.app().runs(&api.caller, &filter, &page).await?;
    // The same page is serialized once, however often it is asked for.
    cached(api.st.run_page_json(found))
}

/// A run with its stages, jobs, times, outputs and trigger.
#[utoipa::path(
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = RunView),
        (status = 404, description = "No such run", body = ErrorBody),
    )
)]
#[get("/api/v1/runs/{id}")]
pub async fn get_one(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let run = api.app().run_shared(&api.caller, &id).await?;
    // The same run record is serialized once, however often it is asked for.
    cached(api.st.run_json(run))
}

/// Defines a `POST` route that acts on the run `id` and answers the run
/// as `$answer`: cancel, retry and redeploy differ only in words, answer
/// and the use case called (`$call`, given the caller and the id).
macro_rules! run_action {
    (
        $(#[doc = $doc:tt])*
        $name:ident $path:tt, id: $id:tt,
        $code:tt $answer:ident $answered:tt, 409 $conflict:tt,
        |$api:ident, $run:ident| $call:expr $(,)?
    ) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            params(("id" = String, Path, description = $id)),
            responses(
                (status = $code, description = $answered, body = RunView),
                (status = 404, description = "No such run", body = ErrorBody),
                (status = 409, description = $conflict, body = ErrorBody),
            )
        )]
        #[post($path)]
        pub async fn $name($api: Authed, $run: web::Path<String>) -> ApiResult<HttpResponse> {
            let run = $call.await?;
            Ok(HttpResponse::$answer().json(RunView::from(run)))
        }
    };
}

run_action!(
    /// Cancels a run that has not finished.
    cancel "/api/v1/runs/{id}/cancel", id: "Run id",
    202 Accepted "Cancellation requested; the run as it is now", 409 "The run has finished",
    |api, id| api.app().cancel_run(&api.caller, &id)
);

run_action!(
    /// Runs a failed, cancelled or timed-out run's unfinished jobs again.
    retry "/api/v1/runs/{id}/retry", id: "Run id",
    202 Accepted "Restarted", 409 "The run cannot be retried now",
    |api, id| api.app().retry_run(&api.caller, &id)
);

run_action!(
    /// Starts a new run that repeats a finished run: the same plan (so the
    /// same commit and template content) and params, with today's secrets.
    /// The new run's `trigger.detail.repeats` names the repeated run.
    redeploy "/api/v1/runs/{id}/redeploy", id: "The run to repeat",
    201 Created "Started (queued or running)", 409 "The run has not finished",
    |api, id| api.app().redeploy(&api.caller, &id)
);

async fn decide(
    api: Authed,
    path: web::Path<(String, String)>,
    input: DecisionInput,
    approved: bool,
) -> ApiResult<HttpResponse> {
    let (run, stage) = path.into_inner();
    let run = api
        .app()
        .decide(
            &api.caller,
            &run,
            &stage,
            approved,
            input.comment.unwrap_or_default(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(RunView::from(run)))
}

/// Defines a route that records a decision (`$approved`) on a stage
/// waiting for approval: approving and rejecting differ in nothing else.
macro_rules! decision_route {
    ($(#[doc = $doc:tt])* $name:ident $path:tt, $approved:tt) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            params(
                ("id" = String, Path, description = "Run id"),
                ("stage" = String, Path, description = "Stage name"),
            ),
            request_body = DecisionInput,
            responses(
                (status = 200, description = "Recorded; the run as it is now", body = RunView),
                (status = 400, description = "Malformed body", body = ErrorBody),
                (status = 403, description = "Not among the stage's approvers", body = ErrorBody),
                (status = 404, description = "No such run or stage", body = ErrorBody),
                (status = 409, description = "The stage is not waiting, or the caller decided already", body = ErrorBody),
            )
        )]
        #[post($path)]
        pub async fn $name(
            api: Authed,
            path: web::Path<(String, String)>,
            body: JsonBody<DecisionInput>,
        ) -> ApiResult<HttpResponse> {
            decide(api, path, body.into_inner()?, $approved).await
        }
    };
}

decision_route!(
    /// Approves a stage that waits for approval.
    approve "/api/v1/runs/{id}/stages/{stage}/approve",
    true
);

decision_route!(
    /// Rejects a stage that waits for approval (the run fails).
    reject "/api/v1/runs/{id}/stages/{stage}/reject",
    false
);
