//! The Serverless Devs CD dialect: the platform's open API (seed
//! `000_54a3158805d61b2b.txt`) at the server root, so that its scripts
//! work against Slipway with only the base URL changed. Six endpoints
//! under `/api/flow/` (applications: list, detail, create; deployments:
//! manual dispatch, redeploy, cancel) and the seed's curl sample
//! `POST /api/application/list` as an alias of the list. Header
//! `cd_token`, envelope `{"success": true, "data": …}`, errors
//! `{"success": false, "code", "message"}`, times in epoch milliseconds.
//! Every decision the seed leaves open is in
//! docs/dialects/serverless-devs.md.

#[allow(missing_debug_implementations)]
mod routes;
pub mod views;

use crate::dialect::{Dialect, DialectOption, OpenApiDoc, Speaks};
use crate::error::ApiError;
use crate::openapi::{RouteTable, methods_in, route_table};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use slipway_domain::DomainError;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

/// The dialect's name (its switch: `dialects.serverless_devs.enabled`).
pub const NAME: &str = "serverless_devs";

/// Where its OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi/serverless-devs.json";

/// The header its clients send their token in.
pub const TOKEN_HEADER: &str = "cd_token";

/// The option naming the project its created applications join.
pub const PROJECT_OPTION: &str = "project";

/// The Serverless Devs dialect as a [`Dialect`].
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    prefixes: &["/api/flow/", "/api/application/"],
    routes: routes::configure,
    credential: cd_token,
    header: Some(("the `cd_token` header", "`cd_token: <token or session>`")),
    error: error_response,
    fallback,
    openapi: Some(OpenApiDoc {
        path: OPENAPI_PATH,
        json: document_json,
    }),
    options: &[DialectOption {
        name: PROJECT_OPTION,
        default: "default",
    }],
};

/// The marker its handlers speak through.
#[derive(Debug)]
pub struct ServerlessDevs;

impl Speaks for ServerlessDevs {
    const DIALECT: &'static Dialect = &DIALECT;
}

/// The credential of a request: the `cd_token` header, else (the same
/// tokens in the native style) `Authorization: Bearer`.
fn cd_token(req: &HttpRequest) -> Result<Option<String>, DomainError> {
    match req.headers().get(TOKEN_HEADER) {
        Some(value) => {
            let token = value.to_str().map(str::trim).unwrap_or_default();
            if token.is_empty() {
                return Err(DomainError::Unauthorized(
                    "the `cd_token` header must hold an API token or a session".into(),
                ));
            }
            Ok(Some(token.to_owned()))
        }
        None => crate::auth::bearer(req),
    }
}

/// The dialect's code word for an answer's status.
fn code_word(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Invalid",
        401 => "NeedLogin",
        403 => "NoPermission",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        502 => "Upstream",
        _ => "SystemError",
    }
}

/// An error in the dialect's shape: `{"success": false, "code",
/// "message"}`, the message naming every problem with its field.
fn error_response(e: ApiError) -> HttpResponse {
    let info = &e.body().error;
    let message = if info.details.len() > 1 {
        info.details
            .iter()
            .map(|d| {
                if d.path.is_empty() {
                    d.message.clone()
                } else {
                    format!("{}: {}", d.path, d.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        info.message.clone()
    };
    HttpResponse::build(e.status()).json(views::ErrorView {
        success: false,
        code: code_word(e.status()).to_owned(),
        message,
    })
}

/// The answer for a path under its prefixes that no route took: 405 with
/// `Allow` for a known path, else 404.
fn fallback(req: &HttpRequest) -> HttpResponse {
    static TABLE: std::sync::OnceLock<RouteTable> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| route_table(&document()));
    let allowed = methods_in(table, req.path());
    if allowed.is_empty() {
        return error_response(ApiError::not_found(format!(
            "no such route of the Serverless Devs API; it is described at {OPENAPI_PATH}"
        )));
    }
    let allow = allowed.join(", ");
    let mut res = error_response(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not a method of {}; it takes {allow}",
            req.method(),
            req.path()
        ),
    ));
    if let Ok(value) = header::HeaderValue::from_str(&allow) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}

/// The parts of the document no handler carries.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Slipway: the Serverless Devs CD dialect",
        description = "The open API of Serverless Devs CD, served by Slipway at the server root. \
            Send the token in the `cd_token` header (an API token or a session JWT; \
            `Authorization: Bearer` and the `authtoken` cookie work too). Answers are \
            {\"success\": true, \"data\": …}; errors {\"success\": false, \"code\", \"message\"} \
            with a 4xx status. Times are epoch milliseconds. Applications created here join \
            the project named by `dialects.serverless_devs.project` (default `default`). \
            See docs/dialects/serverless-devs.md."
    ),
    components(schemas(views::ErrorView)),
    modifiers(&Security),
    tags((name = "serverless-devs", description = "Applications and deployments")),
)]
struct Base;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            TOKEN_HEADER,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                TOKEN_HEADER,
                "An API token (`slw_` followed by 64 hex digits) or a session JWT",
            ))),
        );
        components.add_security_scheme(
            crate::auth::SESSION_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "A session JWT (POST /api/v1/sessions sets it); refused for a change \
                 from another site",
            ))),
        );
    }
}

/// The dialect's document, built from its route list.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    doc.merge(routes::describe());
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The document as JSON, made once per process, with what every
/// operation shares: the credentials it takes, and its 401, 403 and
/// (with a body) 413 and 415 answers in the dialect's error shape.
fn document_json() -> Result<actix_web::web::Bytes, String> {
    static JSON: std::sync::OnceLock<Result<actix_web::web::Bytes, String>> =
        std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        let mut doc = serde_json::to_value(document()).map_err(|e| e.to_string())?;
        routes::constraints(&mut doc);
        crate::openapi::shared_answers(
            &mut doc,
            "#/components/schemas/ErrorView",
            &serde_json::json!([{TOKEN_HEADER: []}, {crate::auth::SESSION_COOKIE: []}]),
            |_| true,
        );
        serde_json::to_vec(&doc)
            .map(actix_web::web::Bytes::from)
            .map_err(|e| e.to_string())
    })
    .clone()
}
