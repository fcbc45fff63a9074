//! `/api/v1/projects`: create, list, get, update, delete.

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::input::Query;
use crate::routes::params::ByName;
use crate::views::{ProjectCreate, ProjectPage, ProjectUpdate, ProjectView};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use slipway_domain::Order;

/// Creates a project.
#[utoipa::path(
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
    let project = api.app().create_project(&api.caller, input.into()).await?;
    Ok(HttpResponse::Created().json(ProjectView::from((project, &api.caller))))
}

/// Lists projects, a page at a time.
#[utoipa::path(
    params(ByName),
    responses(
        (status = 200, description = "A page of projects", body = ProjectPage),
    )
)]
#[get("/api/v1/projects")]
pub async fn list(api: Authed, req: HttpRequest) -> ApiResult<HttpResponse> {
    let page = Query::of(&req)?.page(crate::input::PROJECT_SORTS, Order::Asc)?;
    let projects = api.app().projects(&api.caller, &page).await?;
    Ok(
        HttpResponse::Ok().json(ProjectPage::of(crate::views::with_caller(
            projects,
            &api.caller,
        ))),
    )
}

by_id_routes!(
    "/api/v1/projects/{id}",
    id: "Project id",
    missing: "No such project",
    view: ProjectView,
    /// A project.
    get project, "The project";
    /// Changes a project's name or description.
    update update_project(ProjectUpdate), "The changed project", [
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
    ];
    /// Deletes a project with its workflows; refused while runs are active.
    remove delete_project, [(status = 409, description = "Runs are active", body = ErrorBody),];
);
