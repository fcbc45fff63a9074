//! Applications: create in a project, list (of a project or all), get,
//! update, delete, and dispatch (start a run by hand at a ref).

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::input::{self, Query};
use crate::routes::params::ApplicationQuery;
use crate::views::{
    ApplicationCreate, ApplicationPage, ApplicationUpdate, ApplicationView, DispatchBody, RunView,
};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use slipway_domain::Order;

/// Creates an application in a project.
#[utoipa::path(
    params(("id" = String, Path, description = "Project id")),
    request_body = ApplicationCreate,
    responses(
        (status = 201, description = "Created", body = ApplicationView),
        (status = 400, description = "Invalid input; every problem with its path", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Name taken in the project", body = ErrorBody),
    )
)]
#[post("/api/v1/projects/{id}/applications")]
pub async fn create(
    api: Authed,
    id: web::Path<String>,
    body: JsonBody<ApplicationCreate>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let made = api
        .app()
        .create_application(&api.caller, &id, input.into())
        .await?;
    Ok(HttpResponse::Created().json(ApplicationView::from((made, &api.caller))))
}

/// A page of applications of `project` (all when `None`), as the query
/// asks.
async fn page(api: &Authed, project: Option<&str>, req: &HttpRequest) -> ApiResult<HttpResponse> {
    let q = Query::of(req)?;
    let page = q.page(input::APPLICATION_SORTS, Order::Asc)?;
    let last_status = q
        .get("last_status")
        .map(|w| input::status_word("last_status", w))
        .transpose()?;
    let found = api
        .app()
        .applications(&api.caller, project, last_status, &page)
        .await?;
    Ok(
        HttpResponse::Ok().json(ApplicationPage::of(crate::views::with_caller(
            found,
            &api.caller,
        ))),
    )
}

/// Lists a project's applications, each with its latest run.
#[utoipa::path(
    params(
        ("id" = String, Path, description = "Project id"),
        ApplicationQuery,
    ),
    responses(
        (status = 200, description = "A page of applications", body = ApplicationPage),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
#[get("/api/v1/projects/{id}/applications")]
pub async fn list_in_project(
    api: Authed,
    id: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    page(&api, Some(&id), &req).await
}

/// Lists the applications of every project, each with its latest run.
#[utoipa::path(
    params(ApplicationQuery),
    responses(
        (status = 200, description = "A page of applications", body = ApplicationPage),
    )
)]
#[get("/api/v1/applications")]
pub async fn list(api: Authed, req: HttpRequest) -> ApiResult<HttpResponse> {
    page(&api, None, &req).await
}

by_id_routes!(
    "/api/v1/applications/{id}",
    id: "Application id",
    missing: "No such application",
    view: ApplicationView,
    /// An application with its latest run.
    get application, "The application";
    /// Changes an application: fields present replace, absent ones stay.
    update update_application(ApplicationUpdate), "The changed application", [
        (status = 400, description = "Invalid input; every problem with its path", body = ErrorBody),
        (status = 409, description = "Name taken in the project", body = ErrorBody),
    ];
    /// Deletes an application with its secrets and schedules; refused while
    /// it has active runs.
    remove delete_application, [(status = 409, description = "Runs are active", body = ErrorBody),];
);

/// Starts a run of an application by hand: the template is read at the
/// ref's head (or at `commit`).
#[utoipa::path(
    params(("id" = String, Path, description = "Application id")),
    request_body = DispatchBody,
    responses(
        (status = 201, description = "Started (queued or running)", body = RunView),
        (status = 400, description = "Invalid ref, commit, inputs or template", body = ErrorBody),
        (status = 404, description = "No such application", body = ErrorBody),
        (status = 502, description = "The repository could not be fetched", body = ErrorBody),
    )
)]
#[post("/api/v1/applications/{id}/dispatch")]
pub async fn dispatch(
    api: Authed,
    id: web::Path<String>,
    body: JsonBody<DispatchBody>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let run = api.app().dispatch(&api.caller, &id, input.into()).await?;
    Ok(HttpResponse::Created().json(RunView::from(run)))
}
