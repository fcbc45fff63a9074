//! Webhook deliveries from repository hosts: `POST
//! /api/v1/hooks/{provider}/{application_id}`. No bearer token: the
//! signature (or the token header) checked against the application's
//! webhook secret is the authentication, and a delivery that fails it gets
//! 401 with nothing else done.
//!
//! Header values and the body are never logged: they may carry the
//! secret itself (GitLab's token, Gitee's password).

use crate::State;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input;
use crate::views::HookOutcomeView;
use actix_web::{HttpRequest, HttpResponse, post, web};
use slipway_domain::Provider;
use slipway_domain::webhook::Headers;

/// Headers never handed to the domain (and so never to trigger filters):
/// credentials a proxy or client may add that no webhook scheme uses.
const WITHHELD: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Every header of the request whose value is text, but [`WITHHELD`]; a
/// repeated header keeps its first value.
fn headers_of(req: &HttpRequest) -> Headers {
    req.headers()
        .iter()
        .filter(|(name, _)| !WITHHELD.contains(&name.as_str()))
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v.to_owned())))
        .collect()
}

/// Receives a webhook delivery for an application: verifies it, then
/// answers a ping, skips a repeated delivery, ignores events no trigger
/// rule matches, or starts a run of the first matching rule.
#[utoipa::path(
    params(
        ("provider" = String, Path, description = "`github`, `gitlab`, `gitee` or `generic`"),
        ("application_id" = String, Path, description = "Application id"),
    ),
    request_body(
        description = "The event exactly as the sender signed it: JSON, or a form with the JSON event in its `payload` field",
        content((Object = "application/json"), (Object = "application/x-www-form-urlencoded"))
    ),
    responses(
        (status = 200, description = "Handled: `pong`, `duplicate`, `ignored` or `started`", body = HookOutcomeView),
        (status = 400, description = "The provider is not the application's, or the event is unreadable", body = ErrorBody),
        (status = 401, description = "Missing or wrong signature, stale timestamp, no webhook secret set, or no such application (answered exactly as a wrong signature)", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
        (status = 502, description = "The repository could not be fetched", body = ErrorBody),
    ),
    security(())
)]
#[post("/api/v1/hooks/{provider}/{application_id}")]
pub async fn receive(
    st: web::Data<State>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let (provider, app_id) = path.into_inner();
    let provider = provider.parse::<Provider>().ok().ok_or_else(|| {
        ApiError::not_found(format!(
            "no webhook provider `{provider}`; expected github, gitlab, gitee or generic"
        ))
    })?;
    let body = input::read_body(&req, body, st.settings().body_limit).await?;
    let headers = headers_of(&req);
    let outcome = st
        .app()
        .receive_webhook(provider, &app_id, &headers, &body)
        .await?;
    Ok(HttpResponse::Ok().json(HookOutcomeView::from(outcome)))
}
