//! Project members and their roles, application permission matrices, and
//! follows.

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::views::{MatrixPut, MatrixView, MemberList, MemberPut, MemberView};
use actix_web::{HttpResponse, delete, get, put, web};

/// A project's members with their roles, by login.
#[utoipa::path(
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "Every member", body = MemberList),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
#[get("/api/v1/projects/{id}/members")]
pub async fn list(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let items: Vec<MemberView> = api
        .app()
        .members(&api.caller, &id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(MemberList {
        total: items.len() as u64,
        items,
    }))
}

/// Makes a user a member of the project with a role, or changes their
/// role; the project's owners (and system admins) only. A project keeps
/// at least one owner.
#[utoipa::path(
    params(
        ("id" = String, Path, description = "Project id"),
        ("user" = String, Path, description = "User id or login"),
    ),
    request_body = MemberPut,
    responses(
        (status = 200, description = "The member", body = MemberView),
        (status = 400, description = "Unknown user or role", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "It would leave the project without an owner", body = ErrorBody),
    )
)]
#[put("/api/v1/projects/{id}/members/{user}")]
pub async fn put_member(
    api: Authed,
    path: web::Path<(String, String)>,
    body: JsonBody<MemberPut>,
) -> ApiResult<HttpResponse> {
    let (id, user) = path.into_inner();
    let input = body.into_inner()?;
    let member = api
        .app()
        .put_member(&api.caller, &id, &user, &input.role)
        .await?;
    Ok(HttpResponse::Ok().json(MemberView::from(member)))
}

/// Removes a member from the project; its owners (and system admins)
/// only. The last owner stays.
#[utoipa::path(
    params(
        ("id" = String, Path, description = "Project id"),
        ("user" = String, Path, description = "User id or login"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such project, user or member", body = ErrorBody),
        (status = 409, description = "The last owner stays", body = ErrorBody),
    )
)]
#[delete("/api/v1/projects/{id}/members/{user}")]
pub async fn remove_member(
    api: Authed,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, user) = path.into_inner();
    api.app().remove_member(&api.caller, &id, &user).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The permission matrix in force on an application: every role with its
/// permissions (the application's own entries or the role's defaults).
#[utoipa::path(
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The matrix", body = MatrixView),
        (status = 404, description = "No such application", body = ErrorBody),
    )
)]
#[get("/api/v1/applications/{id}/permissions")]
pub async fn get_matrix(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let (app, matrix) = api.app().application_matrix(&api.caller, &id).await?;
    let custom = app.permissions.is_some();
    Ok(HttpResponse::Ok().json(MatrixView::of(app.id, custom, &matrix)))
}

/// Sets the application's own permission matrix; callers with `manage` on
/// it only. Roles left out keep their defaults; owners always keep `view`
/// and `manage`.
#[utoipa::path(
    params(("id" = String, Path, description = "Application id")),
    request_body = MatrixPut,
    responses(
        (status = 200, description = "The matrix now in force", body = MatrixView),
        (status = 400, description = "Unknown role or permission, with its path", body = ErrorBody),
        (status = 404, description = "No such application", body = ErrorBody),
    )
)]
#[put("/api/v1/applications/{id}/permissions")]
pub async fn set_matrix(
    api: Authed,
    id: web::Path<String>,
    body: JsonBody<MatrixPut>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let (app, matrix) = api
        .app()
        .set_application_matrix(&api.caller, &id, Some(input.roles))
        .await?;
    let custom = app.permissions.is_some();
    Ok(HttpResponse::Ok().json(MatrixView::of(app.id, custom, &matrix)))
}

/// Drops the application's own matrix: every role has its defaults again.
#[utoipa::path(
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The matrix now in force", body = MatrixView),
        (status = 404, description = "No such application", body = ErrorBody),
    )
)]
#[delete("/api/v1/applications/{id}/permissions")]
pub async fn reset_matrix(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let (app, matrix) = api
        .app()
        .set_application_matrix(&api.caller, &id, None)
        .await?;
    Ok(HttpResponse::Ok().json(MatrixView::of(app.id, false, &matrix)))
}

/// Follows an application (its views' `following` turns true).
#[utoipa::path(
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 204, description = "Followed"),
        (status = 404, description = "No such application", body = ErrorBody),
    )
)]
#[put("/api/v1/applications/{id}/follow")]
pub async fn follow(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    api.app().follow_application(&api.caller, &id, true).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Stops following an application.
#[utoipa::path(
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 204, description = "No longer followed"),
        (status = 404, description = "No such application", body = ErrorBody),
    )
)]
#[delete("/api/v1/applications/{id}/follow")]
pub async fn unfollow(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    api.app()
        .follow_application(&api.caller, &id, false)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
