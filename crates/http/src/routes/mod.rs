//! Every route of the native API, wired in one place ([`configure`]);
//! handlers are grouped by resource, one file each.

pub mod health;
pub mod logs;
pub mod projects;
pub mod runs;
pub mod tokens;
pub mod workflows;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every route (each appears in the OpenAPI document).
pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(projects::create)
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
        .service(logs::whole)
        .service(logs::stream)
        .service(tokens::create)
        .service(tokens::list)
        .service(tokens::revoke);
}
