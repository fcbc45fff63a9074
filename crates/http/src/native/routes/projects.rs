//! `/api/v1/projects`: create, list, get, update, delete.

use crate::State;
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::input::Query;
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
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/projects")]
pub async fn create(
    _caller: Caller,
    st: web::Data<State>,
    body: JsonBody<ProjectCreate>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let project = st
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
    params(
        ("page" = Option<u32>, Query, description = "Page, from 1"),
        ("per_page" = Option<u32>, Query, description = "Items per page, 1 to 100 (20)"),
        ("sort" = Option<String>, Query, description = "`name` (default) or `created_at`"),
        ("order" = Option<String>, Query, description = "`asc` (default) or `desc`"),
    ),
    responses(
        (status = 200, description = "A page of projects", body = ProjectPage),
        (status = 400, description = "Bad query parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/projects")]
pub async fn list(
    _caller: Caller,
    st: web::Data<State>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let page = Query::of(&req)?.page(crate::input::PROJECT_SORTS, Order::Asc)?;
    let projects = st.app().projects(&page).await?;
    Ok(HttpResponse::Ok().json(ProjectPage::of(projects)))
}

/// A project.
#[utoipa::path(
    tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project", body = ProjectView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/projects/{id}")]
pub async fn get_one(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let project = st.app().project(&id).await?;
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
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/projects/{id}")]
pub async fn update(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
    body: JsonBody<ProjectUpdate>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let project = st
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
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Runs are active", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/projects/{id}")]
pub async fn remove(
    _caller: Caller,
    st: web::Data<State>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    st.app().delete_project(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
