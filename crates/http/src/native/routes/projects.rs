//! `/api/v1/projects`: create, list, get, update, delete.

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::input::Query;
use crate::routes::params::ByName;
use crate::views::{ProjectCreate, ProjectPage, ProjectUpdate, ProjectView};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use slipway_domain::{Order, ProjectInput};

/// Creates a project.
#[utoipa::path(
    tag = "projects",
    request_body = ProjectCreate,
    responses(
        (status = 201, description = "Created", body = ProjectView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
    )
)]
#[post("/api/v1/projects")]
pub async fn create(api: Authed, body: JsonBody<ProjectCreate>) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let project = api
        .app()
        .create_project(ProjectInput {
            name: Some(input.name),
            description: input.description,
        })
        .await?;
    Ok(HttpResponse::Created().json(ProjectView::from(project)))
}

/// Lists projects, a page at a time.
#[utoipa::path(
    tag = "projects",
    params(ByName),
    responses(
        (status = 200, description = "A page of projects", body = ProjectPage),
    )
)]
#[get("/api/v1/projects")]
pub async fn list(api: Authed, req: HttpRequest) -> ApiResult<HttpResponse> {
    let page = Query::of(&req)?.page(crate::input::PROJECT_SORTS, Order::Asc)?;
    let projects = api.app().projects(&page).await?;
    Ok(HttpResponse::Ok().json(ProjectPage::of(projects)))
}

/// A project.
#[utoipa::path(
    tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project", body = ProjectView),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
#[get("/api/v1/projects/{id}")]
pub async fn get_one(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = api.app().project(&id).await?;
    Ok(HttpResponse::Ok().json(ProjectView::from(project)))
}

/// Changes a project's name or description.
#[utoipa::path(
    tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    request_body = ProjectUpdate,
    responses(
        (status = 200, description = "The changed project", body = ProjectView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
    )
)]
#[patch("/api/v1/projects/{id}")]
pub async fn update(
    api: Authed,
    id: web::Path<String>,
    body: JsonBody<ProjectUpdate>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let project = api
        .app()
        .update_project(
            &id,
            ProjectInput {
                name: input.name,
                description: input.description,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(ProjectView::from(project)))
}

/// Deletes a project with its workflows; refused while runs are active.
#[utoipa::path(
    tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Runs are active", body = ErrorBody),
    )
)]
#[delete("/api/v1/projects/{id}")]
pub async fn remove(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    api.app().delete_project(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
