//! The OpenAPI 3 document, generated from the handlers' annotations: every
//! route registered in [`crate::routes::configure`] is in it.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_actix_web::AppExt;

/// The parts of the document that no handler carries.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Slipway",
        description = "The native API of Slipway, a self-hosted continuous-delivery server. \
            Every route under /api/v1 needs `Authorization: Bearer <token>`, except the webhook \
            route (/api/v1/hooks/..., authenticated by the sender's signature); errors have one \
            shape: {\"error\": {\"code\", \"message\", \"details\": [{\"path\", \"message\"}]}}."
    ),
    modifiers(&Bearer),
    tags(
        (name = "projects", description = "Named groups of workflows"),
        (name = "workflows", description = "Versioned workflow definitions"),
        (name = "runs", description = "Executions of a workflow version or an application's template"),
        (name = "applications", description = "Repositories whose pushes, tags and dispatches run the workflow template kept in them"),
        (name = "secrets", description = "Write-only values given to jobs as environment variables"),
        (name = "schedules", description = "Cron schedules of workflows and applications"),
        (name = "hooks", description = "Webhook deliveries from repository hosts (signature, no token)"),
        (name = "logs", description = "Job logs, whole or live"),
        (name = "tokens", description = "API tokens (admin only)"),
        (name = "health", description = "Health checks and metrics (no token)"),
    )
)]
struct Base;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token: `slw_` followed by 64 hex digits"))
                    .build(),
            ),
        );
    }
}

/// The document as JSON, made once per process and shared by every HTTP
/// worker (building it is the largest allocation a worker would make).
pub fn document_json() -> Result<actix_web::web::Bytes, String> {
    static JSON: std::sync::OnceLock<Result<actix_web::web::Bytes, String>> =
        std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        serde_json::to_vec(&document())
            .map(actix_web::web::Bytes::from)
            .map_err(|e| e.to_string())
    })
    .clone()
}

/// The document, as served at `/api/v1/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(Base::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    let mut doc = doc;
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}
