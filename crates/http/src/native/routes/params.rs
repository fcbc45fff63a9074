//! The query parameters several lists share, described once for the
//! OpenAPI document (`params(Paging)`); handlers read them with
//! [`crate::input::Query::page`]. Their ranges and enums are written into
//! the document from the constants the server checks with
//! (`openapi::state_constraints`).

use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Required, Type};

/// An optional query parameter of `ty`.
fn query(name: &str, ty: Type, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(ty)))
        .build()
}

/// `page` and `per_page`: the paging of every list.
#[derive(Debug)]
pub struct Paging;

impl IntoParams for Paging {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            query("page", Type::Integer, "Page, from 1"),
            query("per_page", Type::Integer, "Items per page, 1 to 100 (20)"),
        ]
    }
}

/// `order` of a list sorted ascending by default.
fn ascending() -> Parameter {
    query("order", Type::String, "`asc` (default) or `desc`")
}

/// [`Paging`], `sort` by `name` (default) or `created_at`, and `order`.
#[derive(Debug)]
pub struct ByName;

impl IntoParams for ByName {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let sort = query("sort", Type::String, "`name` (default) or `created_at`");
        let mut params = Paging::into_params(|| None);
        params.extend([sort, ascending()]);
        params
    }
}

/// [`Paging`], `sort` by `login` (default) or `created_at`, and `order`.
#[derive(Debug)]
pub struct ByLogin;

impl IntoParams for ByLogin {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let sort = query("sort", Type::String, "`login` (default) or `created_at`");
        let mut params = Paging::into_params(|| None);
        params.extend([sort, ascending()]);
        params
    }
}

/// The query of both application lists: [`Paging`], `sort`, `order` and
/// `last_status`.
#[derive(Debug)]
pub struct ApplicationQuery;

impl IntoParams for ApplicationQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let sort = query(
            "sort",
            Type::String,
            "`name` (default), `created_at` or `last_run_at` (never-run applications count as oldest)",
        );
        let last_status = query(
            "last_status",
            Type::String,
            "Only applications whose latest run has this status",
        );
        let mut params = Paging::into_params(|| None);
        params.extend([sort, ascending(), last_status]);
        params
    }
}

/// The query of the audit trail: its filters, [`Paging`] and `order`.
#[derive(Debug)]
pub struct AuditQuery;

impl IntoParams for AuditQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = vec![
            query(
                "user",
                Type::String,
                "Only entries of this user (id or name)",
            ),
            query(
                "action",
                Type::String,
                "Only this action (`create`, `update`, `delete`, `start`, `login`, `cancel`, ...)",
            ),
            query(
                "object_kind",
                Type::String,
                "Only objects of this kind (`project`, `run`, `secret`, ...)",
            ),
            query(
                "object_id",
                Type::String,
                "Only this object (a secret: its name)",
            ),
            query("project_id", Type::String, "Only this project's entries"),
            query(
                "outcome",
                Type::String,
                "Only this outcome: `ok`, `unauthorized`, `denied`, `not_found`, `conflict`, `invalid` or `error`",
            ),
            query(
                "since",
                Type::String,
                "Only entries at or after this time (RFC 3339, such as `2026-12-02T10:00:00Z`)",
            ),
            query(
                "until",
                Type::String,
                "Only entries before this time (RFC 3339)",
            ),
        ];
        params.extend(Paging::into_params(|| None));
        params.push(query(
            "order",
            Type::String,
            "`desc` (newest first, default) or `asc`",
        ));
        params
    }
}
