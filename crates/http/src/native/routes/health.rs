//! Health checks and metrics (no token needed): `/healthz` says the
//! process answers, `/readyz` that the database answers too, `/metrics`
//! is Prometheus' text format.

use crate::State;
use crate::error::{ApiError, ApiResult};
use crate::views::Health;
use actix_web::{HttpResponse, get, web};
use std::time::Duration;

/// The process is up.
#[utoipa::path(
    responses((status = 200, description = "Up", body = Health))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok","error":null}"#)
}

/// The process is up and its database answers.
#[utoipa::path(
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    )
)]
#[get("/readyz")]
pub async fn readyz(st: web::Data<State>) -> HttpResponse {
    let check = tokio::time::timeout(Duration::from_secs(3), st.app().token_count()).await;
    let error = match check {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("the database did not answer within 3 s".to_owned()),
    };
    match error {
        None => HttpResponse::Ok().json(Health {
            status: "ok".into(),
            error: None,
        }),
        Some(e) => HttpResponse::ServiceUnavailable().json(Health {
            status: "unavailable".into(),
            error: Some(e),
        }),
    }
}

/// Metrics in Prometheus' text format.
#[utoipa::path(
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
#[get("/metrics")]
pub async fn metrics(st: web::Data<State>) -> ApiResult<HttpResponse> {
    let stats = st.app().stats().await?;
    let m = st.metrics();
    for (status, n) in stats.runs_by_status {
        m.runs
            .with_label_values(&[status.as_str()])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    m.jobs_running
        .set(i64::try_from(stats.jobs_running).unwrap_or(i64::MAX));
    let text = m.render().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
