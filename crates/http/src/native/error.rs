//! The one error shape of the API and the mapping of domain errors to
//! status codes (the only place where that mapping lives).
//!
//! Every error answer is `{"error": {"code", "message", "details"}}`, where
//! `details` lists `{path, message}` problems when the input was at fault.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use slipway_domain::{DomainError, Problem};
use std::fmt;
use utoipa::ToSchema;

/// One thing wrong with the input, and where.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The path of the value at fault (`name`, `stages[0].jobs`, `page`);
    /// empty for the whole body.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// The inside of an error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorInfo {
    /// A stable word for programs: `invalid_input`, `malformed_body`,
    /// `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `payload_too_large`, `unsupported_media_type`, `method_not_allowed`,
    /// `internal`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The problems with the input, each with its path (may be empty).
    pub details: Vec<ErrorDetail>,
}

/// Every error answer of the API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorInfo,
}

/// An error on its way to becoming an answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    /// An error with a status, a code word and a message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: ErrorInfo {
                    code: code.to_owned(),
                    message: message.into(),
                    details: Vec::new(),
                },
            },
        }
    }

    /// Adds problems to the details.
    pub fn with_details(mut self, problems: impl IntoIterator<Item = Problem>) -> Self {
        self.body
            .error
            .details
            .extend(problems.into_iter().map(|p| ErrorDetail {
                path: p.path,
                message: p.message,
            }));
        self
    }

    /// 400: the input breaks a rule (one problem at `path`).
    pub fn invalid(path: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("{}: {message}", if path.is_empty() { "body" } else { path }),
        )
        .with_details([Problem::new(path, message)])
    }

    /// 400: the body is not readable as what the route takes.
    pub fn malformed(path: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let whole = if path.is_empty() {
            format!("malformed body: {message}")
        } else {
            format!("malformed body at `{path}`: {message}")
        };
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_body", whole)
            .with_details([Problem::new(path, message)])
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 413.
    pub fn too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than the limit of {limit} bytes"),
        )
    }

    /// 500; the cause goes to the server log, not to the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has the details",
        )
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body.
    pub fn body(&self) -> &ErrorBody {
        &self.body
    }

    /// The answer for a status actix produced by itself (no route, wrong
    /// method, ...), in the API's shape.
    pub fn for_status(status: StatusCode) -> Self {
        let code = match status.as_u16() {
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            408 => "request_timeout",
            409 => "conflict",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            s if s >= 500 => "internal",
            _ => "error",
        };
        let message = status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase();
        ApiError::new(status, code, message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.body.error.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status).json(&self.body);
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"slipway\""),
            );
        }
        res
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(problems) => {
                let n = problems.len();
                let first = problems
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let message = if n > 1 {
                    format!("{first} (and {} more problem(s))", n - 1)
                } else {
                    first
                };
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
                    .with_details(problems)
            }
            e @ DomainError::NotFound { .. } => ApiError::not_found(e.to_string()),
            DomainError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            DomainError::Taken(p) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", p.to_string()).with_details([p])
            }
            DomainError::Forbidden(m) => ApiError::forbidden(m),
            DomainError::Unauthorized(m) => ApiError::unauthorized(m),
            DomainError::Upstream(m) => {
                tracing::warn!(error = %m, "upstream failure");
                ApiError::new(StatusCode::BAD_GATEWAY, "upstream", m)
            }
            DomainError::Internal(m) => ApiError::internal(m),
        }
    }
}

/// A result whose error is an answer.
pub type ApiResult<T> = Result<T, ApiError>;
