//! Workflows of a project: create and update from a JSON or YAML
//! definition (each update is a new version), get the latest or one
//! version, list, list versions, delete.

use crate::auth::Authed;
use crate::body::DefinitionBody;
use crate::error::{ApiResult, ErrorBody};
use crate::input::Query;
use crate::routes::params::{ByName, Paging};
use crate::views::{VersionPage, WorkflowDetail, WorkflowPage};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use slipway_domain::Order;

/// Defines a route that takes a workflow definition (JSON or YAML) for
/// the resource `id` and answers the workflow with the version made:
/// creating and updating differ only in path, words, answer and use case.
macro_rules! definition_route {
    (
        $(#[doc = $doc:tt])*
        $method:ident $path:tt => $name:ident, id: $id:tt, calls $call:ident,
        $code:tt $answer:ident $made:tt, [$($answers:tt)*] $(,)?
    ) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            params(("id" = String, Path, description = $id)),
            request_body(
                description = "The definition, in JSON or YAML (chosen by Content-Type)",
                content((Object = "application/json"), (String = "application/yaml"))
            ),
            responses(
                (status = $code, description = $made, body = WorkflowDetail),
                $($answers)*
            )
        )]
        #[$method($path)]
        pub async fn $name(
            api: Authed,
            id: web::Path<String>,
            body: DefinitionBody,
        ) -> ApiResult<HttpResponse> {
            let (text, format) = body.into_inner()?;
            let made = api.app().$call(&api.caller, &id, &text, format).await?;
            Ok(HttpResponse::$answer().json(WorkflowDetail::from((made, &api.caller))))
        }
    };
}

definition_route!(
    /// Creates a workflow in a project from a definition (docs/workflow-format.md).
    post "/api/v1/projects/{id}/workflows" => create, id: "Project id", calls create_workflow,
    201 Created "Created, with version 1", [
        (status = 400, description = "Invalid definition; every problem with its path", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Name taken in the project", body = ErrorBody),
    ]
);

definition_route!(
    /// Makes a new version of a workflow from a definition (its `name` must
    /// stay the same).
    put "/api/v1/workflows/{id}" => update, id: "Workflow id", calls update_workflow,
    200 Ok "The workflow and its new version", [
        (status = 400, description = "Invalid definition", body = ErrorBody),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 409, description = "Another version was made at the same time", body = ErrorBody),
    ]
);

/// Lists a project's workflows.
#[utoipa::path(
    params(
        ("id" = String, Path, description = "Project id"),
        ByName,
    ),
    responses(
        (status = 200, description = "A page of workflows", body = WorkflowPage),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
#[get("/api/v1/projects/{id}/workflows")]
pub async fn list(api: Authed, id: web::Path<String>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let page = Query::of(&req)?.page(crate::input::WORKFLOW_SORTS, Order::Asc)?;
    let found = api.app().workflows(&api.caller, &id, &page).await?;
    Ok(
        HttpResponse::Ok().json(WorkflowPage::of(crate::views::with_caller(
            found,
            &api.caller,
        ))),
    )
}

/// A workflow with its latest version, or the version asked for.
#[utoipa::path(
    params(
        ("id" = String, Path, description = "Workflow id"),
        ("version" = Option<i32>, Query, description = "A version (the latest by default)"),
    ),
    responses(
        (status = 200, description = "The workflow and the version", body = WorkflowDetail),
        (status = 404, description = "No such workflow or version", body = ErrorBody),
    )
)]
#[get("/api/v1/workflows/{id}")]
pub async fn get_one(
    api: Authed,
    id: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let version = Query::of(&req)?
        .int("version", 1, i64::from(i32::MAX))?
        .and_then(|v| i32::try_from(v).ok());
    let found = api
        .app()
        .workflow_version(&api.caller, &id, version)
        .await?;
    Ok(HttpResponse::Ok().json(WorkflowDetail::from((found, &api.caller))))
}

/// Lists a workflow's versions, newest first.
#[utoipa::path(
    params(
        ("id" = String, Path, description = "Workflow id"),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of versions", body = VersionPage),
        (status = 404, description = "No such workflow", body = ErrorBody),
    )
)]
#[get("/api/v1/workflows/{id}/versions")]
pub async fn versions(
    api: Authed,
    id: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let page = Query::of(&req)?.page(&[], Order::Desc)?;
    let found = api.app().workflow_versions(&api.caller, &id, &page).await?;
    Ok(HttpResponse::Ok().json(VersionPage::of(found)))
}

/// Deletes a workflow and its versions; refused while it has active runs.
#[utoipa::path(
    params(("id" = String, Path, description = "Workflow id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 409, description = "Runs are active", body = ErrorBody),
    )
)]
#[delete("/api/v1/workflows/{id}")]
pub async fn remove(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
    api.app().delete_workflow(&api.caller, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
