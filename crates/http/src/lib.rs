//! # slipway-http: the HTTP face of Slipway
//!
//! actix-web handlers for the native REST API under `/api/v1` (projects,
//! workflows, runs, logs with live Server-Sent Events, applications,
//! secrets, schedules, webhook deliveries, tokens), its
//! OpenAPI document and browsable UI, bearer-token auth, the audit trail
//! of every change asked for (see [`audit`]), the health checks
//! and Prometheus metrics, and the one place where errors become status
//! codes and the one error shape (see [`error`]). The dialects live here
//! too, each a sibling of [`native`] plugged in through [`dialect`]:
//! [`serverless_devs`] so far.
//!
//! **Depends on** `slipway-domain` and `slipway-core`. **Must not** hold
//! product logic: handlers read the request, call one use case of
//! [`slipway_domain::App`] and shape the answer; no handler calls the
//! engine or a store, or decides a permission; a dialect translates
//! paths, field names, status words, time formats and error shapes, never
//! re-implements a use case. It knows nothing of SQL or processes.
//!
//! The binary builds a [`State`] and serves [`app`] with actix-web's
//! `HttpServer`; docs/api.md describes the API for people.

pub mod audit;
pub mod auth;
pub mod body;
pub mod dialect;
pub mod input;
pub mod metrics;
pub mod native;
pub mod openapi;
pub mod serverless_devs;
pub mod state;

pub use native::{error, routes, views};

pub use error::{ApiError, ErrorBody};
pub use state::{Settings, State};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpRequest, web};
use std::sync::Arc;

pub use native::{DOCS_PATH, OPENAPI_PATH};

/// The actix application: the health checks and metrics, every enabled
/// API (each registering its routes at the root, see [`dialect`]), the
/// audit trail's and the metrics' middleware, and for an unknown path
/// the fallback of the API whose prefix it is under (else the native
/// 404).
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
    let dialects: Arc<[&'static dialect::Dialect]> =
        dialect::enabled(&state.settings().dialects).into();
    let fallback = dialects.clone();
    // Outside every API's prefixes: the native 404 (it points at the
    // native document) while the native API is on, a bare one otherwise.
    let default: fn(&HttpRequest) -> actix_web::HttpResponse =
        if dialects.iter().any(|d| d.name == native::DIALECT.name) {
            native::not_found
        } else {
            not_found
        };
    App::new()
        .app_data(web::Data::new(state))
        .configure(routes::configure_health)
        .configure(|cfg| dialect::configure(&dialects, cfg))
        .default_service(web::to(move |req: HttpRequest| {
            let dialects = fallback.clone();
            async move { dialect::fallback(&dialects, &req, default) }
        }))
        .wrap(actix_web::middleware::from_fn(audit::middleware))
        .wrap(actix_web::middleware::from_fn(metrics::middleware))
}

/// The 404 for a path outside every enabled API.
fn not_found(_: &HttpRequest) -> actix_web::HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::not_found("no such route"))
}
