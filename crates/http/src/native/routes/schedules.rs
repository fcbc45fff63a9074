//! Cron schedules of workflows and applications: list and create per
//! target, get, update, delete. Each view carries the next fire time and
//! the expression in words.

use crate::State;
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::views::{ScheduleCreate, ScheduleList, ScheduleUpdate, ScheduleView};
use actix_web::{HttpResponse, delete, get, patch, post, web};
use slipway_domain::ScheduleTarget;

async fn list_of(st: &State, target: ScheduleTarget, id: &str) -> ApiResult<HttpResponse> {
    let items = st
        .app()
        .schedules(target, id)
        .await?
        .into_iter()
        .map(ScheduleView::from)
        .collect();
    Ok(HttpResponse::Ok().json(ScheduleList { items }))
}

async fn create_for(
    st: &State,
    target: ScheduleTarget,
    id: &str,
    input: ScheduleCreate,
) -> ApiResult<HttpResponse> {
    let made = st.app().create_schedule(target, id, input.into()).await?;
    Ok(HttpResponse::Created().json(ScheduleView::from(made)))
}

/// Lists a workflow's schedules, oldest first.
#[utoipa::path(
    tag = "schedules",
    params(("id" = String, Path, description = "Workflow id")),
    responses(
        (status = 200, description = "The schedules", body = ScheduleList),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such workflow", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/workflows/{id}/schedules")]
pub async fn list_workflow(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    list_of(&st, ScheduleTarget::Workflow, &id).await
}

/// Adds a schedule to a workflow: each fire time starts a run of its
/// latest version with the schedule's params.
#[utoipa::path(
    tag = "schedules",
    params(("id" = String, Path, description = "Workflow id")),
    request_body = ScheduleCreate,
    responses(
        (status = 201, description = "Created", body = ScheduleView),
        (status = 400, description = "Invalid expression, time zone or ref", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/workflows/{id}/schedules")]
pub async fn create_workflow(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
    body: JsonBody<ScheduleCreate>,
) -> ApiResult<HttpResponse> {
    create_for(&st, ScheduleTarget::Workflow, &id, body.into_inner()?).await
}

/// Lists an application's schedules, oldest first.
#[utoipa::path(
    tag = "schedules",
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The schedules", body = ScheduleList),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such application", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/applications/{id}/schedules")]
pub async fn list_application(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    list_of(&st, ScheduleTarget::Application, &id).await
}

/// Adds a schedule to an application: each fire time starts a run of its
/// template at the head of `ref` (the default branch when empty).
#[utoipa::path(
    tag = "schedules",
    params(("id" = String, Path, description = "Application id")),
    request_body = ScheduleCreate,
    responses(
        (status = 201, description = "Created", body = ScheduleView),
        (status = 400, description = "Invalid expression, time zone or ref", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such application", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/applications/{id}/schedules")]
pub async fn create_application(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
    body: JsonBody<ScheduleCreate>,
) -> ApiResult<HttpResponse> {
    create_for(&st, ScheduleTarget::Application, &id, body.into_inner()?).await
}

/// A schedule, with its next fire time.
#[utoipa::path(
    tag = "schedules",
    params(("id" = String, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "The schedule", body = ScheduleView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such schedule", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/schedules/{id}")]
pub async fn get_one(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let found = st.app().schedule(&id).await?;
    Ok(HttpResponse::Ok().json(ScheduleView::from(found)))
}

/// Changes a schedule: fields present replace, absent ones stay.
#[utoipa::path(
    tag = "schedules",
    params(("id" = String, Path, description = "Schedule id")),
    request_body = ScheduleUpdate,
    responses(
        (status = 200, description = "The changed schedule", body = ScheduleView),
        (status = 400, description = "Invalid expression, time zone or ref", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such schedule", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/schedules/{id}")]
pub async fn update(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
    body: JsonBody<ScheduleUpdate>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let changed = st.app().update_schedule(&id, input.into()).await?;
    Ok(HttpResponse::Ok().json(ScheduleView::from(changed)))
}

/// Deletes a schedule.
#[utoipa::path(
    tag = "schedules",
    params(("id" = String, Path, description = "Schedule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such schedule", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/schedules/{id}")]
pub async fn remove(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    st.app().delete_schedule(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
