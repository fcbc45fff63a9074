//! Users: create, list, get, change (system admins), and the caller's own
//! user (`/api/v1/user`).

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::input::{self, Query};
use crate::routes::params::ByLogin;
use crate::views::{UserCreate, UserPage, UserUpdate, UserView};
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use slipway_domain::Order;

/// Creates a user (a person or a service account); system admins only.
#[utoipa::path(
    request_body = UserCreate,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Invalid input; every problem with its path", body = ErrorBody),
        (status = 409, description = "Login or e-mail taken", body = ErrorBody),
    )
)]
#[post("/api/v1/users")]
pub async fn create(api: Authed, body: JsonBody<UserCreate>) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let user = api.app().create_user(&api.caller, input.into()).await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

/// Lists users, a page at a time; system admins only.
#[utoipa::path(
    params(ByLogin),
    responses((status = 200, description = "A page of users", body = UserPage))
)]
#[get("/api/v1/users")]
pub async fn list(api: Authed, req: HttpRequest) -> ApiResult<HttpResponse> {
    let page = Query::of(&req)?.page(input::USER_SORTS, Order::Asc)?;
    let users = api.app().users(&api.caller, &page).await?;
    Ok(HttpResponse::Ok().json(UserPage::of(users)))
}

/// A user by id or login; system admins, or the user themself.
#[utoipa::path(
    params(("id" = String, Path, description = "User id or login")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
#[get("/api/v1/users/{id}")]
pub async fn get_one(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let user = api.app().user(&api.caller, &id).await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// Changes a user's display name, e-mail, admin flag or disabled state;
/// system admins only (an admin may not disable themself or drop their
/// own admin flag). Disabling a user refuses their tokens and sessions
/// from the next request on.
#[utoipa::path(
    params(("id" = String, Path, description = "User id or login")),
    request_body = UserUpdate,
    responses(
        (status = 200, description = "The changed user", body = UserView),
        (status = 400, description = "Invalid input; every problem with its path", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "E-mail taken", body = ErrorBody),
    )
)]
#[patch("/api/v1/users/{id}")]
pub async fn update(
    api: Authed,
    id: web::Path<String>,
    body: JsonBody<UserUpdate>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let user = api
        .app()
        .update_user(&api.caller, &id, input.into())
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// The caller's own user.
#[utoipa::path(
    responses(
        (status = 200, description = "The caller's user", body = UserView),
        (status = 404, description = "The caller is the operator, not a user", body = ErrorBody),
    )
)]
#[get("/api/v1/user")]
pub async fn me(api: Authed) -> ApiResult<HttpResponse> {
    let user = api.app().user(&api.caller, "me").await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}
