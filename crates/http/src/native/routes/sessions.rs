//! Sessions: an API token exchanged for a short-lived JWT, returned in
//! the body and as the `authtoken` cookie (see [`crate::auth`] for how
//! requests present it), and the cookie removed again.

use crate::State;
use crate::auth::{self, Authed};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::views::{SessionCreate, SessionView};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError, delete, post, web};
use std::time::Duration;

/// Makes a session for the caller's API token (only a bearer API token
/// may: not a session, a cookie or a proxy's `Identity`). The answer
/// holds the JWT and sets it as the `authtoken` cookie (`HttpOnly`,
/// `SameSite=Strict`, `Secure` behind TLS). It works until it expires, its
/// token is revoked or its user disabled.
#[utoipa::path(
    request_body(content = Option<SessionCreate>, description = "Optional: how long the session lasts"),
    responses(
        (status = 201, description = "Created: the JWT, also set as the `authtoken` cookie", body = SessionView,
            headers(("Set-Cookie" = String, description = "`authtoken=<jwt>; HttpOnly; SameSite=Strict; Path=/; Max-Age=<ttl>` (and `Secure` behind TLS)"))),
        (status = 400, description = "Invalid input (`ttl_secs` out of range)", body = ErrorBody),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "Not an API token (a session, a cookie or a proxy's `Identity`)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/sessions")]
pub async fn create(api: Authed, body: JsonBody<Option<SessionCreate>>) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?.unwrap_or_default();
    let made = api
        .app()
        .create_session(&api.caller, input.ttl_secs.map(Duration::from_secs))
        .await?;
    let cookie = auth::session_cookie(&made.token, made.ttl, api.st.settings().behind_tls);
    Ok(HttpResponse::Created()
        .insert_header((header::SET_COOKIE, cookie))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionView::from(made)))
}

/// Ends the session in this browser: removes the `authtoken` cookie. A
/// JWT cannot be recalled (a copy keeps working until it expires); to end
/// every session of a token at once, revoke the token. A request whose
/// session is already dead (401) has its cookie removed too.
#[utoipa::path(
    responses(
        (status = 204, description = "The cookie is removed",
            headers(("Set-Cookie" = String, description = "`authtoken=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`"))),
    )
)]
#[delete("/api/v1/sessions")]
pub async fn remove(api: Result<Authed, ApiError>, st: web::Data<State>) -> HttpResponse {
    let clear = auth::clear_session_cookie(st.settings().behind_tls);
    let mut res = match api {
        Ok(_) => HttpResponse::NoContent().finish(),
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => e.error_response(),
        Err(e) => return e.error_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&clear) {
        res.headers_mut().insert(header::SET_COOKIE, value);
    }
    res
}
