//! Every route of the native API, wired in one place ([`configure`]);
//! handlers are grouped by resource, one file each.

/// Defines a resource's routes by id: `get_one` (200 with its view),
/// `update` (PATCH with an update body; 200 with the changed view) and
/// `remove` (204), which share the id parameter and the 404; the lists in
/// brackets are each route's other answers.
macro_rules! by_id_routes {
    (
        $path:tt, tag: $tag:tt, id: $id:tt, missing: $missing:tt, view: $view:ident,
        $(#[doc = $get_doc:tt])* get $get:ident, $found:tt;
        $(#[doc = $update_doc:tt])* update $update:ident($body:ident), $changed:tt, [$($update_answers:tt)*];
        $(#[doc = $remove_doc:tt])* remove $remove:ident, [$($remove_answers:tt)*] $(;)?
    ) => {
        $(#[doc = $get_doc])*
        #[utoipa::path(
            tag = $tag,
            params(("id" = String, Path, description = $id)),
            responses(
                (status = 200, description = $found, body = $view),
                (status = 404, description = $missing, body = ErrorBody),
            )
        )]
        #[get($path)]
        pub async fn get_one(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
            let found = api.app().$get(&id).await?;
            Ok(HttpResponse::Ok().json($view::from(found)))
        }

        $(#[doc = $update_doc])*
        #[utoipa::path(
            tag = $tag,
            params(("id" = String, Path, description = $id)),
            request_body = $body,
            responses(
                (status = 200, description = $changed, body = $view),
                (status = 404, description = $missing, body = ErrorBody),
                $($update_answers)*
            )
        )]
        #[patch($path)]
        pub async fn update(
            api: Authed,
            id: web::Path<String>,
            body: JsonBody<$body>,
        ) -> ApiResult<HttpResponse> {
            let input = body.into_inner()?;
            let changed = api.app().$update(&id, input.into()).await?;
            Ok(HttpResponse::Ok().json($view::from(changed)))
        }

        $(#[doc = $remove_doc])*
        #[utoipa::path(
            tag = $tag,
            params(("id" = String, Path, description = $id)),
            responses(
                (status = 204, description = "Deleted"),
                (status = 404, description = $missing, body = ErrorBody),
                $($remove_answers)*
            )
        )]
        #[delete($path)]
        pub async fn remove(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
            api.app().$remove(&id).await?;
            Ok(HttpResponse::NoContent().finish())
        }
    };
}

// actix's route macros make a unit service struct per handler; where the
// handler is declared through a template (`by_id_routes!` and the ones in
// the modules), the lint sees that struct as ours.
#[allow(missing_debug_implementations)]
pub mod applications;
pub mod health;
pub mod hooks;
pub mod logs;
pub mod params;
#[allow(missing_debug_implementations)]
pub mod projects;
#[allow(missing_debug_implementations)]
pub mod runs;
#[allow(missing_debug_implementations)]
pub mod schedules;
#[allow(missing_debug_implementations)]
pub mod secrets;
pub mod tokens;
pub mod workflows;

/// Calls `.service(..)` on `$cfg` for the health checks and metrics,
/// which the server serves whichever APIs are on.
macro_rules! health_routes {
    ($cfg:ident) => {
        $cfg.service(health::healthz)
            .service(health::readyz)
            .service(health::metrics);
    };
}

/// Calls `.service(..)` on `$cfg` for every route of the native API,
/// whichever kind of service config it is: the OpenAPI document and the
/// served application are built from this one list.
macro_rules! every_route {
    ($cfg:ident) => {
        $cfg.service(projects::create)
            .service(projects::list)
            .service(projects::get_one)
            .service(projects::update)
            .service(projects::remove)
            .service(workflows::create)
            .service(workflows::list)
            .service(workflows::get_one)
            .service(workflows::update)
            .service(workflows::versions)
            .service(workflows::remove)
            .service(runs::start)
            .service(runs::list)
            .service(runs::get_one)
            .service(runs::cancel)
            .service(runs::retry)
            .service(runs::approve)
            .service(runs::reject)
            .service(runs::redeploy)
            .service(applications::create)
            .service(applications::list_in_project)
            .service(applications::list)
            .service(applications::get_one)
            .service(applications::update)
            .service(applications::remove)
            .service(applications::dispatch)
            .service(secrets::list_project)
            .service(secrets::put_project)
            .service(secrets::delete_project)
            .service(secrets::list_application)
            .service(secrets::put_application)
            .service(secrets::delete_application)
            .service(schedules::list_workflow)
            .service(schedules::create_workflow)
            .service(schedules::list_application)
            .service(schedules::create_application)
            .service(schedules::get_one)
            .service(schedules::update)
            .service(schedules::remove)
            .service(hooks::receive)
            .service(logs::whole)
            .service(logs::stream)
            .service(tokens::create)
            .service(tokens::list)
            .service(tokens::revoke);
    };
}

/// Registers every route with its OpenAPI description (used to build the
/// document once, see `openapi::document`).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    health_routes!(cfg);
    every_route!(cfg);
}

/// Registers every route for serving, without collecting their OpenAPI
/// descriptions (each HTTP worker builds its application, and collecting
/// them is a few megabytes per worker).
pub fn configure_serving(cfg: &mut actix_web::web::ServiceConfig) {
    configure_health(cfg);
    configure_api_serving(cfg);
}

/// Registers the health checks and metrics for serving.
pub fn configure_health(cfg: &mut actix_web::web::ServiceConfig) {
    health_routes!(cfg);
}

/// Registers the native API's routes (no health checks) for serving.
pub fn configure_api_serving(cfg: &mut actix_web::web::ServiceConfig) {
    every_route!(cfg);
}
