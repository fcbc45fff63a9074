//! The native API (`/api/v1`): its routes, its views (the JSON shapes) and
//! its error shape. It is the first user of the dialect seam
//! ([`crate::dialect`]); the five dialects will sit beside it.

pub mod error;
pub mod routes;
pub mod views;

use crate::dialect::{Dialect, OpenApiDoc};
use crate::error::ApiError;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use slipway_domain::DomainError;
use utoipa_swagger_ui::SwaggerUi;

/// Where the native OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Where the browsable documentation of the native API is served.
pub const DOCS_PATH: &str = "/api/v1/docs/";

/// The native API as a [`Dialect`].
pub const DIALECT: Dialect = Dialect {
    name: "native",
    prefixes: &["/api/v1/"],
    routes: configure,
    secret: crate::auth::bearer,
    error: error_response,
    fallback: not_found,
    openapi: Some(OpenApiDoc {
        path: OPENAPI_PATH,
        json: crate::openapi::document_json,
    }),
};

/// Its routes (the health checks are the server's, not the API's) and
/// its browsable documentation.
fn configure(cfg: &mut web::ServiceConfig) {
    routes::configure_api_serving(cfg);
    cfg.service(
        SwaggerUi::new("/api/v1/docs/{_:.*}")
            .config(utoipa_swagger_ui::Config::new([OPENAPI_PATH])),
    );
}

/// A domain error in the native error shape.
fn error_response(e: DomainError) -> HttpResponse {
    ApiError::from(e).error_response()
}

/// The native 404 for an unknown path.
pub fn not_found(_: &HttpRequest) -> HttpResponse {
    ApiError::not_found("no such route; the API is described at /api/v1/openapi.json")
        .error_response()
}
