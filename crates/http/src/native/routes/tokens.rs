//! API tokens (admin tokens only): create (the secret is shown once),
//! list (never the secret), revoke.

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::views::{NewTokenView, TokenCreate, TokenList, TokenView};
use actix_web::{HttpResponse, delete, get, post, web};

/// Creates a token; the answer holds its secret, which is never shown again.
#[utoipa::path(
    request_body = TokenCreate,
    responses(
        (status = 201, description = "Created, with its secret", body = NewTokenView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 409, description = "A user of that name exists (pass `user`)", body = ErrorBody),
    )
)]
#[post("/api/v1/tokens")]
pub async fn create(api: Authed, body: JsonBody<TokenCreate>) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let made = api
        .app()
        .create_token(&api.caller, &input.name, input.admin, input.user.as_deref())
        .await?;
    Ok(HttpResponse::Created().json(NewTokenView::from(made)))
}

/// Lists every token, newest first, without secrets.
#[utoipa::path(
    responses(
        (status = 200, description = "Every token", body = TokenList),
        (status = 403, description = "Not an admin token", body = ErrorBody),
    )
)]
#[get("/api/v1/tokens")]
pub async fn list(api: Authed) -> ApiResult<HttpResponse> {
    let items: Vec<TokenView> = api
        .app()
        .tokens(&api.caller)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(TokenList {
        total: items.len() as u64,
        items,
    }))
}

/// Revokes a token: it is refused from the next request on.
#[utoipa::path(
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
    )
)]
#[delete("/api/v1/tokens/{id}")]
pub async fn revoke(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    api.app().revoke_token(&api.caller, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
