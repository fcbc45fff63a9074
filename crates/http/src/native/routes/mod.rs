//! Every route of the native API, wired in one place ([`configure`]);
//! handlers are grouped by resource, one file each.

/// Defines a resource's routes by id: `get_one` (200 with its view),
/// `update` (PATCH with an update body; 200 with the changed view) and
/// `remove` (204), which share the id parameter and the 404; the lists in
/// brackets are each route's other answers.
macro_rules! by_id_routes {
    (
        $path:tt, id: $id:tt, missing: $missing:tt, view: $view:ident,
        $(#[doc = $get_doc:tt])* get $get:ident, $found:tt;
        $(#[doc = $update_doc:tt])* update $update:ident($body:ident), $changed:tt, [$($update_answers:tt)*];
        $(#[doc = $remove_doc:tt])* remove $remove:ident, [$($remove_answers:tt)*] $(;)?
    ) => {
        $(#[doc = $get_doc])*
        #[utoipa::path(
            params(("id" = String, Path, description = $id)),
            responses(
                (status = 200, description = $found, body = $view),
                (status = 404, description = $missing, body = ErrorBody),
            )
        )]
        #[get($path)]
        pub async fn get_one(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
            let found = api.app().$get(&api.caller, &id).await?;
            Ok(HttpResponse::Ok().json($view::from((found, &api.caller))))
        }

        $(#[doc = $update_doc])*
        #[utoipa::path(
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
            let changed = api.app().$update(&api.caller, &id, input.into()).await?;
            Ok(HttpResponse::Ok().json($view::from((changed, &api.caller))))
        }

        $(#[doc = $remove_doc])*
        #[utoipa::path(
            params(("id" = String, Path, description = $id)),
            responses(
                (status = 204, description = "Deleted"),
                (status = 404, description = $missing, body = ErrorBody),
                $($remove_answers)*
            )
        )]
        #[delete($path)]
        pub async fn remove(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
            api.app().$remove(&api.caller, &id).await?;
            Ok(HttpResponse::NoContent().finish())
        }
    };
}

// actix's route macros make a unit service struct per handler; where the
// handler is declared through a template (`by_id_routes!` and the ones in
// the modules), the lint sees that struct as ours.
#[allow(missing_debug_implementations)]
pub mod applications;
pub mod audit;
pub mod health;
pub mod hooks;
pub mod logs;
#[allow(missing_debug_implementations)]
pub mod members;
#[allow(missing_debug_implementations)]
pub mod namespaces;
pub mod params;
#[allow(missing_debug_implementations)]
pub mod projects;
#[allow(missing_debug_implementations)]
pub mod repositories;
#[allow(missing_debug_implementations)]
pub mod runs;
#[allow(missing_debug_implementations)]
pub mod schedules;
#[allow(missing_debug_implementations)]
pub mod secrets;
pub mod sessions;
pub mod tokens;
pub mod users;
#[allow(missing_debug_implementations)]
pub mod workflows;

/// Calls `$each!(tag, [handlers])` for the health checks and metrics,
/// which the server serves whichever APIs are on.
macro_rules! health_routes {
    ($each:ident) => {
        $each!("health", [health::healthz, health::readyz, health::metrics]);
    };
}

/// Calls `$each!(tag, [handlers])` for every group of routes of the native
/// API, the tag being the group's in the OpenAPI document: the document
/// and the served application are built from this one list.
macro_rules! every_route {
    ($each:ident) => {
        $each!(
            "projects",
            [
                projects::create,
                projects::list,
                projects::get_one,
                projects::update,
                projects::remove,
            ]
        );
        $each!(
            "workflows",
            [
                workflows::create,
                workflows::list,
                workflows::get_one,
                workflows::update,
                workflows::versions,
                workflows::remove,
            ]
        );
        $each!(
            "runs",
            [
                runs::start,
                runs::list,
                runs::get_one,
                runs::cancel,
                runs::retry,
                runs::approve,
                runs::reject,
                runs::redeploy,
            ]
        );
        $each!(
            "applications",
            [
                applications::create,
                applications::list_in_project,
                applications::list,
                applications::get_one,
                applications::update,
                applications::remove,
                applications::dispatch,
            ]
        );
        $each!(
            "repositories",
            [
                repositories::create,
                repositories::list_in_project,
                repositories::list,
                repositories::get_one,
                repositories::update,
                repositories::remove,
            ]
        );
        $each!(
            "secrets",
            [
                secrets::list_project,
                secrets::put_project,
                secrets::delete_project,
                secrets::list_application,
                secrets::put_application,
                secrets::delete_application,
            ]
        );
        $each!(
            "schedules",
            [
                schedules::list_workflow,
                schedules::create_workflow,
                schedules::list_application,
                schedules::create_application,
                schedules::get_one,
                schedules::update,
                schedules::remove,
            ]
        );
        $each!("hooks", [hooks::receive]);
        $each!("logs", [logs::whole, logs::stream]);
        $each!("tokens", [tokens::create, tokens::list, tokens::revoke]);
        $each!("sessions", [sessions::create, sessions::remove]);
        $each!(
            "users",
            [
                users::create,
                users::list,
                users::get_one,
                users::update,
                users::me
            ]
        );
        $each!(
            "members",
            [
                members::list,
                members::put_member,
                members::remove_member,
                members::get_matrix,
                members::set_matrix,
                members::reset_matrix,
                members::follow,
                members::unfollow,
            ]
        );
        $each!("audit", [audit::list]);
        $each!(
            "namespaces",
            [
                namespaces::create,
                namespaces::list,
                namespaces::get_one,
                namespaces::remove,
                namespaces::deploy,
                namespaces::list_workloads,
                namespaces::get_workload,
                namespaces::remove_workload,
                namespaces::start,
                namespaces::stop,
                namespaces::restart,
                namespaces::scale,
            ]
        );
    };
}

/// The OpenAPI descriptions of every route, group by group, each operation
/// tagged with its group (used to build the document once, see
/// `openapi::document`).
pub fn describe() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa_actix_web::AppExt;
    let mut parts = Vec::new();
    macro_rules! describe {
        ($tag:literal, [$($route:path),* $(,)?]) => {
            let (_, mut part) = actix_web::App::new()
                .into_utoipa_app()
                $(.service($route))*
                .split_for_parts();
            tag(&mut part, $tag);
            parts.push(part);
        };
    }
    health_routes!(describe);
    every_route!(describe);
    parts
}

/// Sets the tag of every operation of `doc`.
fn tag(doc: &mut utoipa::openapi::OpenApi, tag: &str) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            operation.tags = Some(vec![tag.to_owned()]);
        }
    }
}

/// Registers every route for serving, without collecting their OpenAPI
/// descriptions (each HTTP worker builds its application, and collecting
/// them is a few megabytes per worker).
pub fn configure_serving(cfg: &mut actix_web::web::ServiceConfig) {
    configure_health(cfg);
    configure_api_serving(cfg);
}

/// Registers `[handlers]` on `cfg` (the tag is the document's).
macro_rules! serve {
    ($cfg:ident, $tag:literal, [$($route:path),* $(,)?]) => {
        $($cfg.service($route);)*
    };
}

/// Registers the health checks and metrics for serving.
pub fn configure_health(cfg: &mut actix_web::web::ServiceConfig) {
    macro_rules! each {
        ($($group:tt)*) => { serve!(cfg, $($group)*) };
    }
    health_routes!(each);
}

/// Registers the native API's routes (no health checks) for serving.
pub fn configure_api_serving(cfg: &mut actix_web::web::ServiceConfig) {
    macro_rules! each {
        ($($group:tt)*) => { serve!(cfg, $($group)*) };
    }
    every_route!(each);
}
