//! Every route of the native API, wired in one place ([`configure`]);
//! handlers are grouped by resource, one file each.

pub mod applications;
pub mod health;
pub mod hooks;
pub mod logs;
pub mod params;
pub mod projects;
pub mod runs;
pub mod schedules;
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
