//! Applications: create in a project, list (of a project or all), get,
//! update, delete, and dispatch (start a run by hand at a ref).

use crate::State;
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::input::{self, Query};
use crate::views::{
    ApplicationCreate, ApplicationPage, ApplicationUpdate, ApplicationView, DispatchBody, RunView,
};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use slipway_domain::Order;

/// Creates an application in a project.
#[utoipa::path(
    tag = "applications",
    params(("id" = String, Path, description = "Project id")),
    request_body = ApplicationCreate,
    responses(
        (status = 201, description = "Created", body = ApplicationView),
        (status = 400, description = "Invalid input; every problem with its path", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Name taken in the project", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/projects/{id}/applications")]
pub async fn create(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
    body: JsonBody<ApplicationCreate>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let made = st.app().create_application(&id, input.into()).await?;
    Ok(HttpResponse::Created().json(ApplicationView::from(made)))
}

/// A page of applications of `project` (all when `None`), as the query
/// asks.
async fn page(st: &State, project: Option<&str>, req: &HttpRequest) -> ApiResult<HttpResponse> {
    let q = Query::of(req)?;
    let page = q.page(input::APPLICATION_SORTS, Order::Asc)?;
    let last_status = q
        .get("last_status")
        .map(|w| input::status_word("last_status", w))
        .transpose()?;
    let found = st.app().applications(project, last_status, &page).await?;
    Ok(HttpResponse::Ok().json(ApplicationPage::of(found)))
}

/// Lists a project's applications, each with its latest run.
#[utoipa::path(
    tag = "applications",
    params(
        ("id" = String, Path, description = "Project id"),
        ("page" = Option<u32>, Query, description = "Page, from 1"),
        ("per_page" = Option<u32>, Query, description = "Items per page, 1 to 100 (20)"),
        ("sort" = Option<String>, Query, description = "`name` (default), `created_at` or `last_run_at` (never-run applications count as oldest)"),
        ("order" = Option<String>, Query, description = "`asc` (default) or `desc`"),
        ("last_status" = Option<String>, Query, description = "Only applications whose latest run has this status"),
    ),
    responses(
        (status = 200, description = "A page of applications", body = ApplicationPage),
        (status = 400, description = "Bad query parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/projects/{id}/applications")]
pub async fn list_in_project(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    page(&st, Some(&id), &req).await
}

/// Lists the applications of every project, each with its latest run.
#[utoipa::path(
    tag = "applications",
    params(
        ("page" = Option<u32>, Query, description = "Page, from 1"),
        ("per_page" = Option<u32>, Query, description = "Items per page, 1 to 100 (20)"),
        ("sort" = Option<String>, Query, description = "`name` (default), `created_at` or `last_run_at` (never-run applications count as oldest)"),
        ("order" = Option<String>, Query, description = "`asc` (default) or `desc`"),
        ("last_status" = Option<String>, Query, description = "Only applications whose latest run has this status"),
    ),
    responses(
        (status = 200, description = "A page of applications", body = ApplicationPage),
        (status = 400, description = "Bad query parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/applications")]
pub async fn list(
    _caller: Caller,
    st: web::Data<State>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    page(&st, None, &req).await
}

/// An application with its latest run.
#[utoipa::path(
    tag = "applications",
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The application", body = ApplicationView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such application", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/applications/{id}")]
pub async fn get_one(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let found = st.app().application(&id).await?;
    Ok(HttpResponse::Ok().json(ApplicationView::from(found)))
}

/// Changes an application: fields present replace, absent ones stay.
#[utoipa::path(
    tag = "applications",
    params(("id" = String, Path, description = "Application id")),
    request_body = ApplicationUpdate,
    responses(
        (status = 200, description = "The changed application", body = ApplicationView),
        (status = 400, description = "Invalid input; every problem with its path", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such application", body = ErrorBody),
        (status = 409, description = "Name taken in the project", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/applications/{id}")]
pub async fn update(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
    body: JsonBody<ApplicationUpdate>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let changed = st.app().update_application(&id, input.into()).await?;
    Ok(HttpResponse::Ok().json(ApplicationView::from(changed)))
}

/// Deletes an application with its secrets and schedules; refused while
/// it has active runs.
#[utoipa::path(
    tag = "applications",
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such application", body = ErrorBody),
        (status = 409, description = "Runs are active", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/applications/{id}")]
pub async fn remove(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    st.app().delete_application(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Starts a run of an application by hand: the template is read at the
/// ref's head (or at `commit`).
#[utoipa::path(
    tag = "applications",
    params(("id" = String, Path, description = "Application id")),
    request_body = DispatchBody,
    responses(
        (status = 201, description = "Started (queued or running)", body = RunView),
        (status = 400, description = "Invalid ref, commit, inputs or template", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such application", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 502, description = "The repository could not be fetched", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/applications/{id}/dispatch")]
pub async fn dispatch(
    caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
    body: JsonBody<DispatchBody>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let run = st
        .app()
        .dispatch(&id, input.into(), Some(&caller.0))
        .await?;
    Ok(HttpResponse::Created().json(RunView::from(run)))
}
