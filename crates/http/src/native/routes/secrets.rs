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
        .secrets(&api.caller, owner)
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
    let created = api
        .app()
        .put_secret(&api.caller, owner, name, &input.value.0)
        .await?;
    // The times are the store's: read them back.
    let meta = api
        .app()
        .secrets(&api.caller, owner)
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

/// Defines the list, put and delete routes of one kind of secret owner:
/// projects and applications differ only in paths and words.
macro_rules! secret_routes {
    (
        $owner:ident, id: $id:tt, missing: $missing:tt, missing_secret: $missing_secret:tt,
        $(#[doc = $list_doc:tt])* $list:ident $list_path:tt,
        $(#[doc = $put_doc:tt])* $put:ident $item_path:tt,
        $(#[doc = $delete_doc:tt])* $delete:ident $(,)?
    ) => {
        $(#[doc = $list_doc])*
        #[utoipa::path(
            params(("id" = String, Path, description = $id)),
            responses(
                (status = 200, description = "The secrets, by name", body = SecretList),
                (status = 404, description = $missing, body = ErrorBody),
            )
        )]
        #[get($list_path)]
        pub async fn $list(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
            list_of(&api, SecretOwner::$owner(&id)).await
        }

        $(#[doc = $put_doc])*
        #[utoipa::path(
            params(
                ("id" = String, Path, description = $id),
                ("name" = String, Path, description = "Secret name: `[A-Z_][A-Z0-9_]*`, not `CI`, `CI_*` or `SLIPWAY_*`"),
            ),
            request_body = SecretPut,
            responses(
                (status = 201, description = "Created", body = SecretView),
                (status = 200, description = "Value replaced", body = SecretView),
                (status = 400, description = "Invalid name or value", body = ErrorBody),
                (status = 404, description = $missing, body = ErrorBody),
            )
        )]
        #[put($item_path)]
        pub async fn $put(
            api: Authed,
            path: web::Path<(String, String)>,
            body: JsonBody<SecretPut>,
        ) -> ApiResult<HttpResponse> {
            let (id, name) = path.into_inner();
            put_of(&api, SecretOwner::$owner(&id), &name, body.into_inner()?).await
        }

        $(#[doc = $delete_doc])*
        #[utoipa::path(
            params(
                ("id" = String, Path, description = $id),
                ("name" = String, Path, description = "Secret name"),
            ),
            responses(
                (status = 204, description = "Deleted"),
                (status = 404, description = $missing_secret, body = ErrorBody),
            )
        )]
        #[delete($item_path)]
        pub async fn $delete(
            api: Authed,
            path: web::Path<(String, String)>,
        ) -> ApiResult<HttpResponse> {
            let (id, name) = path.into_inner();
            api.app().delete_secret(&api.caller, SecretOwner::$owner(&id), &name).await?;
            Ok(HttpResponse::NoContent().finish())
        }
    };
}

secret_routes!(
    Project,
    id: "Project id",
    missing: "No such project",
    missing_secret: "No such project or secret",
    /// Lists a project's secrets: names and times, never values.
    list_project "/api/v1/projects/{id}/secrets",
    /// Sets a project secret (creates it, or replaces its value: the next run
    /// sees the new one). The answer never holds the value.
    put_project "/api/v1/projects/{id}/secrets/{name}",
    /// Deletes a project secret.
    delete_project,
);

secret_routes!(
    Application,
    id: "Application id",
    missing: "No such application",
    missing_secret: "No such application or secret",
    /// Lists an application's secrets: names and times, never values.
    list_application "/api/v1/applications/{id}/secrets",
    /// Sets an application secret (it wins over a project secret of the same
    /// name). The answer never holds the value.
    put_application "/api/v1/applications/{id}/secrets/{name}",
    /// Deletes an application secret.
    delete_application,
);
