//! Cron schedules of workflows and applications: list and create per
//! target, get, update, delete. Each view carries the next fire time and
//! the expression in words.

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::error::{ApiResult, ErrorBody};
use crate::views::{ScheduleCreate, ScheduleList, ScheduleUpdate, ScheduleView};
use actix_web::{HttpResponse, delete, get, patch, post, web};
use slipway_domain::ScheduleTarget;

async fn list_of(api: &Authed, target: ScheduleTarget, id: &str) -> ApiResult<HttpResponse> {
    let items = api
        .app()
        .schedules(&api.caller, target, id)
        .await?
        .into_iter()
        .map(ScheduleView::from)
        .collect();
    Ok(HttpResponse::Ok().json(ScheduleList { items }))
}

async fn create_for(
    api: &Authed,
    target: ScheduleTarget,
    id: &str,
    input: ScheduleCreate,
) -> ApiResult<HttpResponse> {
    let made = api
        .app()
        .create_schedule(&api.caller, target, id, input.into())
        .await?;
    Ok(HttpResponse::Created().json(ScheduleView::from(made)))
}

/// Defines the list and create routes of one kind of schedule target:
/// workflows and applications differ only in paths and words (and in
/// what a fire time starts, which the domain decides).
macro_rules! target_routes {
    (
        $target:ident, id: $id:tt, missing: $missing:tt,
        $(#[doc = $list_doc:tt])* $list:ident $path:tt,
        $(#[doc = $create_doc:tt])* $create:ident $(,)?
    ) => {
        $(#[doc = $list_doc])*
        #[utoipa::path(
            params(("id" = String, Path, description = $id)),
            responses(
                (status = 200, description = "The schedules", body = ScheduleList),
                (status = 404, description = $missing, body = ErrorBody),
            )
        )]
        #[get($path)]
        pub async fn $list(api: Authed, id: web::Path<String>) -> ApiResult<HttpResponse> {
            list_of(&api, ScheduleTarget::$target, &id).await
        }

        $(#[doc = $create_doc])*
        #[utoipa::path(
            params(("id" = String, Path, description = $id)),
            request_body = ScheduleCreate,
            responses(
                (status = 201, description = "Created", body = ScheduleView),
                (status = 400, description = "Invalid expression, time zone or ref", body = ErrorBody),
                (status = 404, description = $missing, body = ErrorBody),
            )
        )]
        #[post($path)]
        pub async fn $create(
            api: Authed,
            id: web::Path<String>,
            body: JsonBody<ScheduleCreate>,
        ) -> ApiResult<HttpResponse> {
            create_for(&api, ScheduleTarget::$target, &id, body.into_inner()?).await
        }
    };
}

target_routes!(
    Workflow,
    id: "Workflow id",
    missing: "No such workflow",
    /// Lists a workflow's schedules, oldest first.
    list_workflow "/api/v1/workflows/{id}/schedules",
    /// Adds a schedule to a workflow: each fire time starts a run of its
    /// latest version with the schedule's params.
    create_workflow,
);

target_routes!(
    Application,
    id: "Application id",
    missing: "No such application",
    /// Lists an application's schedules, oldest first.
    list_application "/api/v1/applications/{id}/schedules",
    /// Adds a schedule to an application: each fire time starts a run of its
    /// template at the head of `ref` (the default branch when empty).
    create_application,
);

by_id_routes!(
    "/api/v1/schedules/{id}",
    id: "Schedule id",
    missing: "No such schedule",
    view: ScheduleView,
    /// A schedule, with its next fire time.
    get schedule, "The schedule";
    /// Changes a schedule: fields present replace, absent ones stay.
    update update_schedule(ScheduleUpdate), "The changed schedule", [
        (status = 400, description = "Invalid expression, time zone or ref", body = ErrorBody),
    ];
    /// Deletes a schedule.
    remove delete_schedule, [];
);
