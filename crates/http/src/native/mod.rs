//! The native API (`/api/v1`): its routes, its views (the JSON shapes) and
//! its error shape. It is the first user of the dialect seam
//! ([`crate::dialect`]); the five dialects will sit beside it.

pub mod error;
pub mod routes;
pub mod views;

use crate::dialect::{Dialect, OpenApiDoc};
use crate::error::ApiError;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

/// Where the native OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Where the browsable documentation of the native API is served.
pub const DOCS_PATH: &str = "/api/v1/docs/";

/// The native API as a [`Dialect`].
pub const DIALECT: Dialect = Dialect {
    name: "native",
    prefixes: &["/api/v1/"],
    routes: configure,
    credential: crate::auth::bearer,
    header: Some((
        "the `Authorization` header",
        "`Authorization: Bearer <token or session>`",
    )),
    error: error_response,
    fallback: not_found,
    openapi: Some(OpenApiDoc {
        path: OPENAPI_PATH,
        json: crate::openapi::document_json,
    }),
    options: &[],
};

/// Its routes (the health checks are the server's, not the API's; the
/// browsable documentation, which offers every API's document, is
/// registered by `dialect::configure`).
fn configure(cfg: &mut web::ServiceConfig) {
    routes::configure_api_serving(cfg);
}

/// An error in the native error shape.
fn error_response(e: ApiError) -> HttpResponse {
    e.error_response()
}

/// What answers a request no native route took: 405 with an `Allow` header
/// when the path is a known route's (the method is not one it has), else
/// 404; both in the native error shape.
pub fn not_found(req: &HttpRequest) -> HttpResponse {
    let allowed = crate::openapi::methods_of(req.path());
    if allowed.is_empty() {
        return ApiError::not_found("no such route; the API is described at /api/v1/openapi.json")
            .error_response();
    }
    let allow = allowed.join(", ");
    let error = ApiError::new(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not a method of {}; it takes {allow}",
            req.method(),
            req.path()
        ),
    );
    let mut res = error.error_response();
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
        res.headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    res
}
