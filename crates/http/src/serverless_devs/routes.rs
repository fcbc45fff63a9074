//! The dialect's handlers: each reads the platform's request, calls one
//! use case of `App` and answers in the platform's shape. Problems the
//! domain reports under its own field names are renamed to the
//! platform's (`repository.url` → `repo_url`, `triggers[0].filter` →
//! `trigger_spec.github.events[0].filter`, `commit` → `commitId`).

use super::ServerlessDevs;
use super::views::{
    ApplicationCreate, ApplicationDetail, ApplicationList, ApplicationView, Created, CreatedId,
    ErrorView, ManualDispatch, STATUS_WORDS, Task, TaskAnswer, TaskRef,
};
use crate::audit;
use crate::body::JsonBody;
use crate::dialect::{Refusal, Speaker};
use crate::error::ApiError;
use crate::input::Query;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use slipway_domain::{Application, DomainError, Order, PageRequest, Problem, SecretOwner};
use std::collections::BTreeSet;

type Caller = Speaker<ServerlessDevs>;
type Answer = Result<HttpResponse, Refusal<ServerlessDevs>>;

/// Calls `$each!([handlers])` with every route of the dialect: what is
/// served and what the document describes come from this one list.
macro_rules! every_route {
    ($each:ident) => {
        $each!([
            list,
            list_alias,
            detail,
            create,
            dispatch_manual,
            dispatch_redeploy,
            dispatch_cancel,
        ])
    };
}

/// Registers every route at the server root.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    macro_rules! serve {
        ([$($route:ident),* $(,)?]) => {{ $(cfg.service($route);)* }};
    }
    every_route!(serve)
}

/// The routes' OpenAPI descriptions, tagged.
pub(super) fn describe() -> utoipa::openapi::OpenApi {
    use utoipa_actix_web::AppExt;
    macro_rules! describe {
        ([$($route:ident),* $(,)?]) => {
            actix_web::App::new()
                .into_utoipa_app()
                $(.service($route))*
                .split_for_parts()
                .1
        };
    }
    let mut doc = every_route!(describe);
    for item in doc.paths.paths.values_mut() {
        for op in [&mut item.get, &mut item.post].into_iter().flatten() {
            op.tags = Some(vec!["serverless-devs".to_owned()]);
        }
    }
    doc
}

/// Writes into the document the rules the server enforces that the
/// annotations cannot state, from the same constants it checks with.
pub(super) fn constraints(doc: &mut serde_json::Value) {
    use serde_json::json;
    let providers: Vec<&str> = slipway_domain::Provider::ALL
        .iter()
        .map(|p| p.as_str())
        .collect();
    let not_blank = json!({"pattern": "\\S"});
    let rules = [
        ("ApplicationCreate", "repo", not_blank.clone()),
        ("ApplicationCreate", "owner", not_blank.clone()),
        (
            "ApplicationCreate",
            "repo_url",
            json!({"pattern": "^(https|http|git|ssh|file)://[^\\s\\x00-\\x1f\\x7f-\\x9f]*$"}),
        ),
        ("ApplicationCreate", "provider", json!({"enum": providers})),
        (
            "ApplicationCreate",
            "trigger_spec",
            json!({"minProperties": 1, "maxProperties": 1, "propertyNames": {"enum": providers}}),
        ),
        (
            "ApplicationCreate",
            "secrets",
            json!({
                "propertyNames": {
                    "pattern": crate::openapi::secret_name_pattern(),
                    "maxLength": slipway_domain::secrets::MAX_NAME_LEN,
                },
                "additionalProperties": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": slipway_domain::applications::MAX_SECRET_LEN / 4,
                },
            }),
        ),
        (
            "EventCreate",
            "eventName",
            json!({"enum": ["push", "tag_push", "tag", "pull_request", "merge_request"]}),
        ),
        ("ManualDispatch", "appId", not_blank.clone()),
        (
            "ManualDispatch",
            "ref",
            json!({"pattern": "^[^\\s\\x00-\\x1f\\x7f-]((?!\\.\\.)[^\\s\\x00-\\x1f\\x7f])*$"}),
        ),
        (
            "ManualDispatch",
            "commitId",
            json!({"pattern": "^([0-9a-fA-F]{4,64})?$"}),
        ),
        ("TaskRef", "taskId", not_blank.clone()),
        ("Task", "status", json!({"enum": STATUS_WORDS})),
    ];
    if let Some(id) = doc
        .pointer_mut("/paths/~1api~1flow~1application~1detail/get/parameters/0/schema")
        .and_then(|p| p.as_object_mut())
    {
        id.insert("pattern".to_owned(), json!("\\S"));
    }
    for (component, field, rule) in rules {
        if let Some(property) = doc
            .pointer_mut(&format!(
                "/components/schemas/{component}/properties/{field}"
            ))
            .and_then(|p| p.as_object_mut())
            && let Some(rule) = rule.as_object()
        {
            for (k, v) in rule {
                property.insert(k.clone(), v.clone());
            }
        }
    }
}

/// `problems` with their paths renamed by `rename` (the domain's field
/// names to the platform's).
fn renamed(e: DomainError, rename: impl Fn(&str) -> String) -> DomainError {
    match e {
        DomainError::Invalid(problems) => DomainError::Invalid(
            problems
                .into_iter()
                .map(|p| Problem::new(rename(&p.path), p.message))
                .collect(),
        ),
        other => other,
    }
}

/// The platform's name of an application field the domain names `path`;
/// trigger rules are under `trigger_spec.<provider>.events`.
fn application_field(path: &str, provider: &str) -> String {
    let events = format!("trigger_spec.{provider}.events");
    let (head, tail) = path
        .find(['.', '['])
        .map_or((path, ""), |i| path.split_at(i));
    match (head, tail) {
        ("name", _) | ("repository", ".name") => "repo".to_owned(),
        ("repository", ".owner") => "owner".to_owned(),
        ("repository", ".url") => "repo_url".to_owned(),
        ("repository", ".provider") => "provider".to_owned(),
        ("repository", ".provider_repo_id") => "provider_repo_id".to_owned(),
        ("triggers", t) => {
            let t = t.replacen("].event", "].eventName", 1);
            format!("{events}{t}")
        }
        ("webhook_secret", _) => format!("trigger_spec.{provider}.secret"),
        _ => path.to_owned(),
    }
}

/// The platform's name of a dispatch field the domain names `path`.
fn dispatch_field(path: &str) -> String {
    if path == "commit" {
        return "commitId".to_owned();
    }
    match path.strip_prefix("params") {
        Some(rest) => format!("inputs{rest}"),
        None => path.to_owned(),
    }
}

/// `value`, unless it is empty: then a 400 naming `field`.
fn required<'a>(value: &'a str, field: &str) -> Result<&'a str, ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    Ok(value)
}

/// The view of `app` with the names of its secrets.
async fn view_of(api: &Caller, app: &Application) -> Result<ApplicationView, DomainError> {
    let secrets = api
        .app()
        .secrets(&api.caller, SecretOwner::Application(&app.id))
        .await?;
    Ok(ApplicationView::new(app, &secrets))
}

/// Every application the caller may view, newest first: the list has no
/// paging in the platform, so every page is read.
async fn all_applications(api: &Caller) -> Result<Vec<ApplicationView>, DomainError> {
    let mut page = PageRequest {
        page: 1,
        per_page: PageRequest::MAX_PER_PAGE,
        sort: "created_at".to_owned(),
        order: Order::Desc,
    };
    let mut seen = BTreeSet::new();
    let mut views = Vec::new();
    loop {
        let found = api
            .app()
            .applications(&api.caller, None, None, &page)
            .await?;
        for app in &found.items {
            if !seen.insert(app.id.clone()) {
                continue;
            }
            match view_of(api, app).await {
                Ok(view) => views.push(view),
                // Deleted since the page was read.
                Err(DomainError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if u64::from(page.page) * u64::from(page.per_page) >= found.total {
            return Ok(views);
        }
        page.page += 1;
    }
}

/// Lists every application the caller may view, newest first, each with
/// its latest deployment.
#[utoipa::path(
    responses(
        (status = 200, description = "Every application the caller may view", body = ApplicationList),
    )
)]
#[get("/api/flow/application/list")]
pub async fn list(api: Caller) -> Answer {
    the_list(&api).await
}

async fn the_list(api: &Caller) -> Answer {
    let views = all_applications(api).await?;
    Ok(HttpResponse::Ok().json(ApplicationList::from(views)))
}

/// The seed's curl sample: the list, asked for with `POST` and any JSON
/// body (which is not read). Kept for scripts copied from it.
#[utoipa::path(
    request_body(content = Option<serde_json::Value>, description = "Any JSON; not read"),
    responses(
        (status = 200, description = "Every application the caller may view", body = ApplicationList),
    )
)]
#[post("/api/application/list")]
pub async fn list_alias(api: Caller, req: HttpRequest) -> Answer {
    audit::not_a_change(&req);
    the_list(&api).await
}

/// One application, by the `id` query parameter.
#[utoipa::path(
    params(("id" = String, Query, description = "The application's id (not blank)")),
    responses(
        (status = 200, description = "The application", body = ApplicationDetail),
        (status = 400, description = "No `id`", body = ErrorView),
        (status = 404, description = "No such application", body = ErrorView),
    )
)]
#[get("/api/flow/application/detail")]
pub async fn detail(api: Caller, req: HttpRequest) -> Answer {
    let query = Query::of(&req)?;
    let id = required(query.get("id").unwrap_or_default(), "id")?;
    let app = api.app().application(&api.caller, id).await?;
    let view = view_of(&api, &app).await?;
    Ok(HttpResponse::Ok().json(ApplicationDetail::from(view)))
}

/// Creates an application with its triggers and secrets, all or nothing,
/// in the dialect's project (`dialects.serverless_devs.project`, made on
/// first use).
#[utoipa::path(
    request_body = ApplicationCreate,
    responses(
        (status = 200, description = "Created", body = Created),
        (status = 400, description = "Invalid input; every problem with its field", body = ErrorView),
        (status = 409, description = "The repository is bound in the project already", body = ErrorView),
    )
)]
#[post("/api/flow/application/create")]
pub async fn create(api: Caller, req: HttpRequest, body: JsonBody<ApplicationCreate>) -> Answer {
    audit::note(&req, "create", "application", None);
    let body = body.into_inner()?;
    let provider = body.provider.clone();
    let mut keys = body.trigger_spec.keys();
    match (keys.next(), keys.next()) {
        (Some(key), None) if *key == provider => {}
        (None, _) => {
            return Err(
                ApiError::invalid("trigger_spec", "required: one key, the provider").into(),
            );
        }
        _ => {
            return Err(ApiError::invalid(
                "trigger_spec",
                format!("must have exactly one key, the provider `{provider}`"),
            )
            .into());
        }
    }
    let project = api
        .st
        .settings()
        .dialects
        .option(super::NAME, super::PROJECT_OPTION)
        .to_owned();
    let made = api
        .app()
        .create_application_in_named_project(&api.caller, &project, body.into_input())
        .await
        .map_err(|e| renamed(e, |p| application_field(p, &provider)))?;
    audit::note(&req, "create", "application", Some(&made.id));
    Ok(HttpResponse::Ok().json(Created::from(CreatedId { id: made.id })))
}

/// Starts a deployment of an application at a ref (and optionally a
/// commit) with inputs.
#[utoipa::path(
    request_body = ManualDispatch,
    responses(
        (status = 200, description = "The deployment started", body = TaskAnswer),
        (status = 400, description = "Invalid input, or a ref or commit the repository does not have", body = ErrorView),
        (status = 404, description = "No such application", body = ErrorView),
        (status = 502, description = "The repository could not be fetched", body = ErrorView),
    )
)]
#[post("/api/flow/dispatch/manual")]
pub async fn dispatch_manual(
    api: Caller,
    req: HttpRequest,
    body: JsonBody<ManualDispatch>,
) -> Answer {
    let body = body.into_inner()?;
    audit::note(&req, "dispatch", "application", Some(&body.app_id));
    let app_id = required(&body.app_id, "appId")?.to_owned();
    let run = api
        .app()
        .dispatch(&api.caller, &app_id, body.into())
        .await
        .map_err(|e| renamed(e, dispatch_field))?;
    Ok(HttpResponse::Ok().json(TaskAnswer::from(Task::from(&run))))
}

/// Deploys again what a finished deployment deployed (the same commit,
/// template and inputs, with today's secrets): a rollback when it is an
/// older one.
#[utoipa::path(
    request_body = TaskRef,
    responses(
        (status = 200, description = "The new deployment", body = TaskAnswer),
        (status = 400, description = "No `taskId`", body = ErrorView),
        (status = 404, description = "No such deployment", body = ErrorView),
        (status = 409, description = "The deployment has not finished", body = ErrorView),
    )
)]
#[post("/api/flow/dispatch/redeploy")]
pub async fn dispatch_redeploy(api: Caller, req: HttpRequest, body: JsonBody<TaskRef>) -> Answer {
    let body = body.into_inner()?;
    audit::note(&req, "redeploy", "run", Some(&body.task_id));
    let id = required(&body.task_id, "taskId")?;
    let run = api.app().redeploy(&api.caller, id).await?;
    Ok(HttpResponse::Ok().json(TaskAnswer::from(Task::from(&run))))
}

/// Cancels a deployment that has not finished.
#[utoipa::path(
    request_body = TaskRef,
    responses(
        (status = 200, description = "The deployment, being cancelled", body = TaskAnswer),
        (status = 400, description = "No `taskId`", body = ErrorView),
        (status = 404, description = "No such deployment", body = ErrorView),
        (status = 409, description = "The deployment has finished", body = ErrorView),
    )
)]
#[post("/api/flow/dispatch/cancel")]
pub async fn dispatch_cancel(api: Caller, req: HttpRequest, body: JsonBody<TaskRef>) -> Answer {
    let body = body.into_inner()?;
    audit::note(&req, "cancel", "run", Some(&body.task_id));
    let id = required(&body.task_id, "taskId")?;
    let run = api.app().cancel_run(&api.caller, id).await?;
    Ok(HttpResponse::Ok().json(TaskAnswer::from(Task::from(&run))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_fields_get_the_platforms_names() {
        for (domain, platform) in [
            ("name", "repo"),
            ("repository.name", "repo"),
            ("repository.owner", "owner"),
            ("repository.url", "repo_url"),
            ("repository.provider", "provider"),
            ("repository.provider_repo_id", "provider_repo_id"),
            (
                "triggers[1].event",
                "trigger_spec.gitee.events[1].eventName",
            ),
            ("triggers[0].filter", "trigger_spec.gitee.events[0].filter"),
            (
                "triggers[2].template",
                "trigger_spec.gitee.events[2].template",
            ),
            ("secrets.lower", "secrets.lower"),
        ] {
            assert_eq!(application_field(domain, "gitee"), platform, "{domain}");
        }
        assert_eq!(dispatch_field("commit"), "commitId");
        assert_eq!(dispatch_field("params.region"), "inputs.region");
        assert_eq!(dispatch_field("ref"), "ref");
    }
}
