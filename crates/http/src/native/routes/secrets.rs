//! Secrets of a project or an application: list (names and times only),
//! set (create or rotate; the value is write-only), delete. Values reach
//! jobs as environment variables of the next run, masked in its logs.

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::views::{SecretList, SecretPut, SecretView};
use actix_web::{HttpResponse, delete, get, put, web};
use slipway_domain::SecretOwner;

async fn list_of(api: &Authed, owner: SecretOwner<'_>) -> ApiResult<HttpResponse> {
    let items = api
        .app()
        .secrets(owner)
        .await?
        .into_iter()
        .map(SecretView::from)
        .collect();
    Ok(HttpResponse::Ok().json(SecretList { items }))
}

async fn put_of(
    api: &Authed,
    owner: SecretOwner<'_>,
    name: &str,
    input: SecretPut,
) -> ApiResult<HttpResponse> {
    let created = api.app().put_secret(owner, name, &input.value.0).await?;
    // The times are the store's: read them back.
    let meta = api
        .app()
        .secrets(owner)
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::not_found(format!("secret {name} was deleted meanwhile")))?;
    let view = SecretView::from(meta);
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Lists a project's secrets: names and times, never values.
#[utoipa::path(
    tag = "secrets",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The secrets, by name", body = SecretList),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
#[get("/api/v1/projects/{id}/secrets")]
pub async fn list_project(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    list_of(&api, SecretOwner::Project(&id)).await
}

/// Sets a project secret (creates it, or replaces its value: the next run
/// sees the new one). The answer never holds the value.
#[utoipa::path(
    tag = "secrets",
    params(
        ("id" = String, Path, description = "Project id"),
        ("name" = String, Path, description = "Secret name: `[A-Z_][A-Z0-9_]*`, not `CI`, `CI_*` or `SLIPWAY_*`"),
    ),
    request_body = SecretPut,
    responses(
        (status = 201, description = "Created", body = SecretView),
        (status = 200, description = "Value replaced", body = SecretView),
        (status = 400, description = "Invalid name or value", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
#[put("/api/v1/projects/{id}/secrets/{name}")]
pub async fn put_project(
    api: Authed,
    path: web::Path<(String, String)>,
    body: JsonBody<SecretPut>,
) -> ApiResult<HttpResponse> {
    let (id, name) = path.into_inner();
    put_of(&api, SecretOwner::Project(&id), &name, body.into_inner()?).await
}

/// Deletes a project secret.
#[utoipa::path(
    tag = "secrets",
    params(
        ("id" = String, Path, description = "Project id"),
        ("name" = String, Path, description = "Secret name"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such project or secret", body = ErrorBody),
    )
)]
#[delete("/api/v1/projects/{id}/secrets/{name}")]
pub async fn delete_project(
    api: Authed,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, name) = path.into_inner();
    api.app()
        .delete_secret(SecretOwner::Project(&id), &name)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lists an application's secrets: names and times, never values.
#[utoipa::path(
    tag = "secrets",
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The secrets, by name", body = SecretList),
        (status = 404, description = "No such application", body = ErrorBody),
    )
)]
#[get("/api/v1/applications/{id}/secrets")]
pub async fn list_application(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    list_of(&api, SecretOwner::Application(&id)).await
}

/// Sets an application secret (it wins over a project secret of the same
/// name). The answer never holds the value.
#[utoipa::path(
    tag = "secrets",
    params(
        ("id" = String, Path, description = "Application id"),
        ("name" = String, Path, description = "Secret name: `[A-Z_][A-Z0-9_]*`, not `CI`, `CI_*` or `SLIPWAY_*`"),
    ),
    request_body = SecretPut,
    responses(
        (status = 201, description = "Created", body = SecretView),
        (status = 200, description = "Value replaced", body = SecretView),
        (status = 400, description = "Invalid name or value", body = ErrorBody),
        (status = 404, description = "No such application", body = ErrorBody),
    )
)]
#[put("/api/v1/applications/{id}/secrets/{name}")]
pub async fn put_application(
    api: Authed,
    path: web::Path<(String, String)>,
    body: JsonBody<SecretPut>,
) -> ApiResult<HttpResponse> {
    let (id, name) = path.into_inner();
    put_of(
        &api,
        SecretOwner::Application(&id),
        &name,
        body.into_inner()?,
    )
    .await
}

/// Deletes an application secret.
#[utoipa::path(
    tag = "secrets",
    params(
        ("id" = String, Path, description = "Application id"),
        ("name" = String, Path, description = "Secret name"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such application or secret", body = ErrorBody),
    )
)]
#[delete("/api/v1/applications/{id}/secrets/{name}")]
pub async fn delete_application(
    api: Authed,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, name) = path.into_inner();
    api.app()
        .delete_secret(SecretOwner::Application(&id), &name)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
