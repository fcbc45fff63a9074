//! Workflows of a project: create and update from a JSON or YAML
//! definition (each update is a new version), get the latest or one
//! version, list, list versions, delete.

use crate::auth::Authed;
use crate::body::DefinitionBody;
use crate::error::{ApiResult, ErrorBody};
use crate::input::Query;
use crate::routes::params::{ByName, Paging};
use crate::views::{VersionPage, WorkflowDetail, WorkflowPage};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use slipway_domain::Order;

/// Creates a workflow in a project from a definition (docs/workflow-format.md).
#[utoipa::path(
    params(("id" = String, Path, description = "Project id")),
    request_body(
        description = "The definition, in JSON or YAML (chosen by Content-Type)",
        content((Object = "application/json"), (String = "application/yaml"))
    ),
    responses(
        (status = 201, description = "Created, with version 1", body = WorkflowDetail),
        (status = 400, description = "Invalid definition; every problem with its path", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Name taken in the project", body = ErrorBody),
    )
)]
#[post("/api/v1/projects/{id}/workflows")]
pub async fn create(
    api: Authed,
    id: web::Path<String>,
    body: DefinitionBody,
) -> ApiResult<HttpResponse> {
    let (text, format) = body.into_inner()?;
    let made = api
        .app()
        .create_workflow(&id, &text, format, Some(&api.caller))
        .await?;
    Ok(HttpResponse::Created().json(WorkflowDetail::from(made)))
}

/// Lists a project's workflows.
#[utoipa::path(
    params(
        ("id" = String, Path, description = "Project id"),
        ByName,
    ),
    responses(
        (status = 200, description = "A page of workflows", body = WorkflowPage),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
#[get("/api/v1/projects/{id}/workflows")]
pub async fn list(api: Authed, id: web::Path<String>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let page = Query::of(&req)?.page(crate::input::WORKFLOW_SORTS, Order::Asc)?;
    let found = api.app().workflows(&id, &page).await?;
    Ok(HttpResponse::Ok().json(WorkflowPage::of(found)))
}

/// A workflow with its latest version, or the version asked for.
#[utoipa::path(
    params(
        ("id" = String, Path, description = "Workflow id"),
        ("version" = Option<i32>, Query, description = "A version (the latest by default)"),
    ),
    responses(
        (status = 200, description = "The workflow and the version", body = WorkflowDetail),
        (status = 404, description = "No such workflow or version", body = ErrorBody),
    )
)]
#[get("/api/v1/workflows/{id}")]
pub async fn get_one(
    api: Authed,
    id: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let version = Query::of(&req)?
        .int("version", 1, i64::from(i32::MAX))?
        .and_then(|v| i32::try_from(v).ok());
    let found = api.app().workflow_version(&id, version).await?;
    Ok(HttpResponse::Ok().json(WorkflowDetail::from(found)))
}

/// Makes a new version of a workflow from a definition (its `name` must
/// stay the same).
#[utoipa::path(
    params(("id" = String, Path, description = "Workflow id")),
    request_body(
        description = "The definition, in JSON or YAML (chosen by Content-Type)",
        content((Object = "application/json"), (String = "application/yaml"))
    ),
    responses(
        (status = 200, description = "The workflow and its new version", body = WorkflowDetail),
        (status = 400, description = "Invalid definition", body = ErrorBody),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 409, description = "Another version was made at the same time", body = ErrorBody),
    )
)]
#[put("/api/v1/workflows/{id}")]
pub async fn update(
    api: Authed,
    id: web::Path<String>,
    body: DefinitionBody,
) -> ApiResult<HttpResponse> {
    let (text, format) = body.into_inner()?;
    let made = api
        .app()
        .update_workflow(&id, &text, format, Some(&api.caller))
        .await?;
    Ok(HttpResponse::Ok().json(WorkflowDetail::from(made)))
}

/// Lists a workflow's versions, newest first.
#[utoipa::path(
    params(
        ("id" = String, Path, description = "Workflow id"),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of versions", body = VersionPage),
        (status = 404, description = "No such workflow", body = ErrorBody),
    )
)]
#[get("/api/v1/workflows/{id}/versions")]
pub async fn versions(
    api: Authed,
    id: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let page = Query::of(&req)?.page(&[], Order::Desc)?;
    let found = api.app().workflow_versions(&id, &page).await?;
    Ok(HttpResponse::Ok().json(VersionPage::of(found)))
}

/// Deletes a workflow and its versions; refused while it has active runs.
#[utoipa::path(
    params(("id" = String, Path, description = "Workflow id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 409, description = "Runs are active", body = ErrorBody),
    )
)]
#[delete("/api/v1/workflows/{id}")]
pub async fn remove(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    api.app().delete_workflow(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
