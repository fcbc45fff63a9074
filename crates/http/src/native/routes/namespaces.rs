//! Namespaces (create in a project, list, get, delete) and their
//! workloads (deploy a manifest, list, get with instances, delete) with
//! the operations start, stop, restart and scale: each a run answered
//! with 202 (docs/runtime.md).

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::input::{self, Query};
use crate::routes::params::ByName;
use crate::views::{
    DeployView, ManifestBody, NamespaceCreate, NamespacePage, NamespaceView, RunView, ScaleBody,
    WorkloadPage, WorkloadView,
};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use slipway_domain::Order;
use slipway_domain::workloads::Operation;

/// Creates a namespace in a project.
#[utoipa::path(
    params(("id" = String, Path, description = "Project id")),
    request_body = NamespaceCreate,
    responses(
        (status = 201, description = "Created", body = NamespaceView),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "The name is taken (`name`)", body = ErrorBody),
    )
)]
#[post("/api/v1/projects/{id}/namespaces")]
pub async fn create(
    api: Authed,
    id: web::Path<String>,
    body: JsonBody<NamespaceCreate>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    let ns = api
        .app()
        .create_namespace(&api.caller, &id, Some(input.name))
        .await?;
    Ok(HttpResponse::Created().json(NamespaceView::from((ns, &api.caller))))
}

/// Lists the namespaces the caller may view, a page at a time.
#[utoipa::path(
    params(ByName),
    responses((status = 200, description = "A page of namespaces", body = NamespacePage))
)]
#[get("/api/v1/namespaces")]
pub async fn list(api: Authed, req: HttpRequest) -> ApiResult<HttpResponse> {
    let page = Query::of(&req)?.page(input::NAMESPACE_SORTS, Order::Asc)?;
    let found = api.app().namespaces(&api.caller, &page).await?;
    Ok(
        HttpResponse::Ok().json(NamespacePage::of(crate::views::with_caller(
            found,
            &api.caller,
        ))),
    )
}

/// A namespace.
#[utoipa::path(
    params(("namespace" = String, Path, description = "Namespace name")),
    responses(
        (status = 200, description = "The namespace", body = NamespaceView),
        (status = 404, description = "No such namespace", body = ErrorBody),
    )
)]
#[get("/api/v1/namespaces/{namespace}")]
pub async fn get_one(api: Authed, namespace: web::Path<String>) -> ApiResult<HttpResponse> {
    let ns = api.app().namespace(&api.caller, &namespace).await?;
    Ok(HttpResponse::Ok().json(NamespaceView::from((ns, &api.caller))))
}

/// Deletes a namespace: stops and deletes its workloads, then it.
#[utoipa::path(
    params(("namespace" = String, Path, description = "Namespace name")),
    responses(
        (status = 204, description = "Deleted, with its workloads"),
        (status = 404, description = "No such namespace", body = ErrorBody),
        (status = 409, description = "An operation of one of its workloads is active", body = ErrorBody),
    )
)]
#[delete("/api/v1/namespaces/{namespace}")]
pub async fn remove(api: Authed, namespace: web::Path<String>) -> ApiResult<HttpResponse> {
    api.app().delete_namespace(&api.caller, &namespace).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deploys a manifest into a namespace (made in the default project when
/// it does not exist): creates the workload of the manifest's name or
/// changes it (rolling when what its instances run changes).
#[utoipa::path(
    params(("namespace" = String, Path, description = "Namespace name")),
    request_body = ManifestBody,
    responses(
        (status = 202, description = "Recorded; the deploy runs (its run is `operation`)", body = DeployView),
        (status = 400, description = "Every problem of the manifest with its path; a `workdir` out of the files directory", body = ErrorBody),
        (status = 409, description = "The service port is taken (`port`)", body = ErrorBody),
    )
)]
#[put("/api/v1/namespaces/{namespace}/workloads")]
pub async fn deploy(
    api: Authed,
    namespace: web::Path<String>,
    body: JsonBody<ManifestBody>,
) -> ApiResult<HttpResponse> {
    let manifest = body.into_inner()?.0;
    let (ns, w, run) = api
        .app()
        .deploy_manifest(&api.caller, &namespace, manifest)
        .await?;
    Ok(HttpResponse::Accepted().json(DeployView::of(w, &ns, run, &api.caller)))
}

/// Lists a namespace's workloads, a page at a time.
#[utoipa::path(
    params(("namespace" = String, Path, description = "Namespace name"), ByName),
    responses(
        (status = 200, description = "A page of workloads", body = WorkloadPage),
        (status = 404, description = "No such namespace", body = ErrorBody),
    )
)]
#[get("/api/v1/namespaces/{namespace}/workloads")]
pub async fn list_workloads(
    api: Authed,
    namespace: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let page = Query::of(&req)?.page(input::NAMESPACE_SORTS, Order::Asc)?;
    let (ns, found) = api
        .app()
        .workloads_of(&api.caller, &namespace, &page)
        .await?;
    Ok(HttpResponse::Ok().json(WorkloadPage {
        items: found
            .items
            .into_iter()
            .map(|w| WorkloadView::of(w, &ns, &api.caller))
            .collect(),
        total: found.total,
        page: found.page,
        per_page: found.per_page,
    }))
}

/// A workload with its instances.
#[utoipa::path(
    params(
        ("namespace" = String, Path, description = "Namespace name"),
        ("name" = String, Path, description = "Workload name"),
    ),
    responses(
        (status = 200, description = "The workload and its instances (`running`)", body = WorkloadView),
        (status = 404, description = "No such namespace or workload", body = ErrorBody),
    )
)]
#[get("/api/v1/namespaces/{namespace}/workloads/{name}")]
pub async fn get_workload(
    api: Authed,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (namespace, name) = path.into_inner();
    let d = api.app().workload(&api.caller, &namespace, &name).await?;
    Ok(HttpResponse::Ok().json(WorkloadView::detail(d, &api.caller)))
}

/// Starts operation `op` and answers 202 with its run.
async fn operate(
    api: &Authed,
    path: web::Path<(String, String)>,
    op: Operation,
    instances: Option<u32>,
) -> ApiResult<HttpResponse> {
    let (namespace, name) = path.into_inner();
    let run = api
        .app()
        .operate(&api.caller, &namespace, &name, op, instances)
        .await?;
    Ok(HttpResponse::Accepted().json(RunView::from(run)))
}

/// Deletes a workload: stops every instance, then forgets it.
#[utoipa::path(
    params(
        ("namespace" = String, Path, description = "Namespace name"),
        ("name" = String, Path, description = "Workload name"),
    ),
    responses(
        (status = 202, description = "The delete runs", body = RunView),
        (status = 404, description = "No such namespace or workload", body = ErrorBody),
    )
)]
#[delete("/api/v1/namespaces/{namespace}/workloads/{name}")]
pub async fn remove_workload(
    api: Authed,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    operate(&api, path, Operation::Delete, None).await
}

/// Defines the route of an operation on a workload that takes no body:
/// 202 with the operation's run.
macro_rules! operation_route {
    ($(#[doc = $doc:tt])* $name:ident, $path:literal, $op:expr) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            params(
                ("namespace" = String, Path, description = "Namespace name"),
                ("name" = String, Path, description = "Workload name"),
            ),
            responses(
                (status = 202, description = "The operation runs", body = RunView),
                (status = 404, description = "No such namespace or workload", body = ErrorBody),
            )
        )]
        #[post($path)]
        pub async fn $name(
            api: Authed,
            path: web::Path<(String, String)>,
        ) -> ApiResult<HttpResponse> {
            operate(&api, path, $op, None).await
        }
    };
}

operation_route!(
    /// Starts a stopped workload's instances (the manifest's count).
    start,
    "/api/v1/namespaces/{namespace}/workloads/{name}/start",
    Operation::Start
);
operation_route!(
    /// Stops every instance; the workload is kept, with 0 instances.
    stop,
    "/api/v1/namespaces/{namespace}/workloads/{name}/stop",
    Operation::Stop
);
operation_route!(
    /// Replaces every instance, rolling.
    restart,
    "/api/v1/namespaces/{namespace}/workloads/{name}/restart",
    Operation::Restart
);

/// Sets how many instances run.
#[utoipa::path(
    params(
        ("namespace" = String, Path, description = "Namespace name"),
        ("name" = String, Path, description = "Workload name"),
    ),
    request_body = ScaleBody,
    responses(
        (status = 202, description = "The scale runs", body = RunView),
        (status = 400, description = "Invalid `instances`", body = ErrorBody),
        (status = 404, description = "No such namespace or workload", body = ErrorBody),
    )
)]
#[post("/api/v1/namespaces/{namespace}/workloads/{name}/scale")]
pub async fn scale(
    api: Authed,
    path: web::Path<(String, String)>,
    body: JsonBody<ScaleBody>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner()?;
    operate(&api, path, Operation::Scale, Some(input.instances)).await
}
