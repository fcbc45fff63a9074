//! # slipway-http: the HTTP face of Slipway
//!
//! actix-web handlers for the native REST API under `/api/v1` (projects,
//! workflows, runs, logs with live Server-Sent Events, applications,
//! secrets, schedules, webhook deliveries, tokens), its
//! OpenAPI document and browsable UI, bearer-token auth, the health checks
//! and Prometheus metrics, and the one place where errors become status
//! codes and the one error shape (see [`error`]). The five dialects will
//! live here too.
//!
//! **Depends on** `slipway-domain` and `slipway-core`. **Must not** hold
//! product logic: handlers read the request, call one use case of
//! [`slipway_domain::App`] and shape the answer; a dialect translates
//! paths, field names, status words, time formats and error shapes, never
//! re-implements a use case. It knows nothing of SQL or processes.
//!
//! The binary builds a [`State`] and serves [`app`] with actix-web's
//! `HttpServer`; docs/api.md describes the API for people.

pub mod auth;
pub mod input;
pub mod metrics;
pub mod native;
pub mod openapi;
pub mod state;

pub use native::{error, routes, views};

pub use error::{ApiError, ErrorBody};
pub use state::{Settings, State};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpResponse, web};
use utoipa_swagger_ui::SwaggerUi;

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Where the browsable API documentation is served.
pub const DOCS_PATH: &str = "/api/v1/docs/";

/// The actix application: every route, the docs, the metrics middleware
/// and a 404 in the API's error shape for everything else.
pub fn app(
    state: State,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .configure(routes::configure_serving)
        .route(OPENAPI_PATH, web::get().to(openapi_json))
        .service(
            SwaggerUi::new("/api/v1/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::new([OPENAPI_PATH])),
        )
        .default_service(web::to(not_found))
        .wrap(actix_web::middleware::from_fn(metrics::middleware))
}

/// The OpenAPI document (made once, see `openapi::document_json`).
async fn openapi_json() -> Result<HttpResponse, ApiError> {
    let json = openapi::document_json().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(json))
}

async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::not_found(
        "no such route; the API is described at /api/v1/openapi.json",
    ))
}
