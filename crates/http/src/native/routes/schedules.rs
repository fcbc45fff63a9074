//! Cron schedules of workflows and applications: list and create per
//! target, get, update, delete. Each view carries the next fire time and
//! the expression in words.

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::views::{ScheduleCreate, ScheduleList, ScheduleUpdate, ScheduleView};
use actix_web::{HttpResponse, delete, get, patch, post, web};
use slipway_domain::ScheduleTarget;

async fn list_of(api: &Authed, target: ScheduleTarget, id: &str) -> ApiResult<HttpResponse> {
    let items = api
        .app()
        .schedules(target, id)
        .await?
        .into_iter()
        .map(ScheduleView::from)
        .collect();
    Ok(HttpResponse::Ok().json(ScheduleList { items }))
}

async fn create_for(
    api: &Authed,
    target: ScheduleTarget,
    id: &str,
    input: ScheduleCreate,
) -> ApiResult<HttpResponse> {
    let made = api.app().create_schedule(target, id, input.into()).await?;
    Ok(HttpResponse::Created().json(ScheduleView::from(made)))
}

/// Lists a workflow's schedules, oldest first.
#[utoipa::path(
    tag = "schedules",
    params(("id" = String, Path, description = "Workflow id")),
    responses(
        (status = 200, description = "The schedules", body = ScheduleList),
        (status = 404, description = "No such workflow", body = ErrorBody),
    )
)]
#[get("/api/v1/workflows/{id}/schedules")]
pub async fn list_workflow(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    list_of(&api, ScheduleTarget::Workflow, &id).await
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
        (status = 404, description = "No such workflow", body = ErrorBody),
    )
)]
#[post("/api/v1/workflows/{id}/schedules")]
pub async fn create_workflow(
    api: Authed,
    id: web::Path<String>,
    body: JsonBody<ScheduleCreate>,
) -> ApiResult<HttpResponse> {
    create_for(&api, ScheduleTarget::Workflow, &id, body.into_inner()?).await
}

/// Lists an application's schedules, oldest first.
#[utoipa::path(
    tag = "schedules",
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The schedules", body = ScheduleList),
        (status = 404, description = "No such application", body = ErrorBody),
    )
)]
#[get("/api/v1/applications/{id}/schedules")]
pub async fn list_application(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    list_of(&api, ScheduleTarget::Application, &id).await
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
        (status = 404, description = "No such application", body = ErrorBody),
    )
)]
#[post("/api/v1/applications/{id}/schedules")]
pub async fn create_application(
    api: Authed,
    id: web::Path<String>,
    body: JsonBody<ScheduleCreate>,
) -> ApiResult<HttpResponse> {
    create_for(&api, ScheduleTarget::Application, &id, body.into_inner()?).await
}

/// A schedule, with its next fire time.
#[utoipa::path(
    tag = "schedules",
    params(("id" = String, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "The schedule", body = ScheduleView),
        (status = 404, description = "No such schedule", body = ErrorBody),
    )
)]
#[get("/api/v1/schedules/{id}")]
pub async fn get_one(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let found = api.app().schedule(&id).await?;
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
        (status = 404, description = "No such schedule", body = ErrorBody),
    )
)]
#[patch("/api/v1/schedules/{id}")]
pub async fn update(
    api: Authed,
    id: web::Path<String>,
    body: JsonBody<ScheduleUpdate>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let changed = api.app().update_schedule(&id, input.into()).await?;
    Ok(HttpResponse::Ok().json(ScheduleView::from(changed)))
}

/// Deletes a schedule.
#[utoipa::path(
    tag = "schedules",
    params(("id" = String, Path, description = "Schedule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such schedule", body = ErrorBody),
    )
)]
#[delete("/api/v1/schedules/{id}")]
pub async fn remove(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    api.app().delete_schedule(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
