//! Named repositories: create in a project, list (of a project or all),
//! get, update, delete, by id or by name.

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::input::Query;
use crate::routes::params::ByName;
use crate::views::{
    NamedRepositoryCreate, NamedRepositoryPage, NamedRepositoryUpdate, NamedRepositoryView,
};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use slipway_domain::Order;

/// Creates a named repository in a project.
#[utoipa::path(
    params(("id" = String, Path, description = "Project id")),
    request_body = NamedRepositoryCreate,
    responses(
        (status = 201, description = "Created", body = NamedRepositoryView),
        (status = 400, description = "Invalid input; every problem with its path", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Name taken in the server", body = ErrorBody),
    )
)]
#[post("/api/v1/projects/{id}/repositories")]
pub async fn create(
    api: Authed,
    id: web::Path<String>,
    body: JsonBody<NamedRepositoryCreate>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let made = api
        .app()
        .create_repository(&api.caller, &id, input.into())
        .await?;
    Ok(HttpResponse::Created().json(NamedRepositoryView::from((made, &api.caller))))
}

/// A page of named repositories of `project` (all visible when `None`).
async fn page(api: &Authed, project: Option<&str>, req: &HttpRequest) -> ApiResult<HttpResponse> {
    let page = Query::of(req)?.page(crate::input::REPOSITORY_SORTS, Order::Asc)?;
    let found = api.app().repositories(&api.caller, project, &page).await?;
    Ok(
        HttpResponse::Ok().json(NamedRepositoryPage::of(crate::views::with_caller(
            found,
            &api.caller,
        ))),
    )
}

/// Lists a project's named repositories.
#[utoipa::path(
    params(("id" = String, Path, description = "Project id"), ByName),
    responses(
        (status = 200, description = "A page of repositories", body = NamedRepositoryPage),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
#[get("/api/v1/projects/{id}/repositories")]
pub async fn list_in_project(
    api: Authed,
    id: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    page(&api, Some(&id), &req).await
}

/// Lists the named repositories of every project the caller may view.
#[utoipa::path(
    params(ByName),
    responses(
        (status = 200, description = "A page of repositories", body = NamedRepositoryPage),
    )
)]
#[get("/api/v1/repositories")]
pub async fn list(api: Authed, req: HttpRequest) -> ApiResult<HttpResponse> {
    page(&api, None, &req).await
}

by_id_routes!(
    "/api/v1/repositories/{id}",
    id: "Repository id or name",
    missing: "No such repository",
    view: NamedRepositoryView,
    /// A named repository, by id or name.
    get repository, "The repository";
    /// Changes a named repository: fields present replace, absent ones
    /// stay. Applications that use it fetch from the new URL with the new
    /// credentials from their next run.
    update update_repository(NamedRepositoryUpdate), "The changed repository", [
        (status = 400, description = "Invalid input; every problem with its path", body = ErrorBody),
        (status = 409, description = "Name taken in the server", body = ErrorBody),
    ];
    /// Deletes a named repository; refused while an application uses it.
    remove delete_repository, [(status = 409, description = "An application uses it", body = ErrorBody),];
);
