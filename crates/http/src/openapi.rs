//! The OpenAPI 3 document, generated from the handlers' annotations: every
//! route registered in [`crate::routes::describe`] is in it.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The parts of the document that no handler carries.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Slipway",
        description = "The native API of Slipway, a self-hosted continuous-delivery server. \
            Every route under /api/v1 needs `Authorization: Bearer <token or session JWT>` or \
            the `authtoken` session cookie (POST /api/v1/sessions makes one; with the cookie \
            alone, a change from another site is refused), except the webhook route \
            (/api/v1/hooks/..., authenticated by the sender's signature); errors have one \
            shape: {\"error\": {\"code\", \"message\", \"details\": [{\"path\", \"message\"}]}}."
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&Bearer),
    tags(
        (name = "projects", description = "Named groups of workflows"),
        (name = "workflows", description = "Versioned workflow definitions"),
        (name = "runs", description = "Executions of a workflow version or an application's template"),
        (name = "applications", description = "Repositories whose pushes, tags and dispatches run the workflow template kept in them"),
        (name = "secrets", description = "Write-only values given to jobs as environment variables"),
        (name = "repositories", description = "Named repositories: a short name for a clone URL, its default branch and credentials from a project secret"),
        (name = "schedules", description = "Cron schedules of workflows and applications"),
        (name = "hooks", description = "Webhook deliveries from repository hosts (signature, no token)"),
        (name = "logs", description = "Job logs, whole or live"),
        (name = "tokens", description = "API tokens (admin only)"),
        (name = "sessions", description = "Short-lived session JWTs made from an API token, also set as the `authtoken` cookie"),
        (name = "audit", description = "The audit trail of every change asked for (admins and project owners)"),
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
                    .description(Some(
                        "An API token (`slw_` followed by 64 hex digits) or a session JWT",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            crate::auth::SESSION_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "A session JWT (POST /api/v1/sessions sets it); refused for a change \
                 (not GET, HEAD, OPTIONS) from another site",
            ))),
        );
    }
}

/// The document as JSON, made once per process and shared by every HTTP
/// worker (building it is the largest allocation a worker would make).
pub fn document_json() -> Result<actix_web::web::Bytes, String> {
    static JSON: std::sync::OnceLock<Result<actix_web::web::Bytes, String>> =
        std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        let mut doc = serde_json::to_value(document()).map_err(|e| e.to_string())?;
        common_answers(&mut doc);
        state_constraints(&mut doc);
        serde_json::to_vec(&doc)
            .map(actix_web::web::Bytes::from)
            .map_err(|e| e.to_string())
    })
    .clone()
}

/// Adds to every operation of the native document what follows from
/// what it takes (see [`shared_answers`]): an `/api/v1` route without a
/// security requirement of its own takes the bearer token or the session
/// cookie (the webhook route says `security(())`, making a session says
/// bearer only).
fn common_answers(doc: &mut serde_json::Value) {
    shared_answers(
        doc,
        "#/components/schemas/ErrorBody",
        &serde_json::json!([{"bearer": []}, {"authtoken": []}]),
        |path| path.starts_with("/api/v1/"),
    );
}

/// Adds to every operation of an API's document what follows from what it
/// takes, so that no route states it again: where `authenticated(path)`
/// and the operation has no security requirement of its own, `security`,
/// and the answers 401 (no valid credential) and 403 (the caller's roles
/// do not allow it); with a request body, 413 (too large), and 415 when
/// the body is JSON only; with query parameters, 400 (unless the route
/// says how). Every added answer has the API's error schema
/// (`error_ref`).
pub fn shared_answers(
    doc: &mut serde_json::Value,
    error_ref: &str,
    security: &serde_json::Value,
    authenticated: impl Fn(&str) -> bool,
) {
    use serde_json::json;
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": error_ref}}},
        })
    };
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut().filter_map(|o| o.as_object_mut()) {
            let mut answers = Vec::new();
            if authenticated(path) && !operation.contains_key("security") {
                operation.insert("security".to_owned(), security.clone());
                answers.push(("401", "No valid token or session"));
                answers.push((
                    "403",
                    "The caller's roles do not allow it (docs/security.md)",
                ));
            }
            if let Some(body) = operation.get("requestBody") {
                answers.push(("413", "Body too large"));
                let types = body
                    .get("content")
                    .and_then(|c| c.as_object())
                    .map(|c| c.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default();
                if types == ["application/json"] {
                    answers.push(("415", "The body is not declared as JSON"));
                }
            }
            let in_query = |p: &serde_json::Value| p["in"] == "query";
            if operation
                .get("parameters")
                .and_then(|p| p.as_array())
                .is_some_and(|params| params.iter().any(in_query))
            {
                answers.push(("400", "Bad query parameter"));
            }
            if let Some(responses) = operation
                .get_mut("responses")
                .and_then(|r| r.as_object_mut())
            {
                for (status, description) in answers {
                    responses
                        .entry(status)
                        .or_insert_with(|| error(description));
                }
            }
        }
    }
}

/// The pattern of a secret's name, reserved names and prefixes excluded
/// (what `SecretName::new` accepts, up to its length).
pub fn secret_name_pattern() -> String {
    let reserved: Vec<String> = slipway_domain::secrets::RESERVED_NAMES
        .iter()
        .map(|n| format!("(?!{n}$)"))
        .chain(
            slipway_domain::secrets::RESERVED_PREFIXES
                .iter()
                .map(|p| format!("(?!{p})")),
        )
        .collect();
    format!("^{}[A-Z_][A-Z0-9_]*$", reserved.concat())
}

/// The sort words of each paged list, by path (the first is the default).
const SORTS: &[(&str, &[&str])] = &[
    ("/api/v1/projects", crate::input::PROJECT_SORTS),
    (
        "/api/v1/projects/{id}/workflows",
        crate::input::WORKFLOW_SORTS,
    ),
    (
        "/api/v1/projects/{id}/applications",
        crate::input::APPLICATION_SORTS,
    ),
    ("/api/v1/applications", crate::input::APPLICATION_SORTS),
    (
        "/api/v1/projects/{id}/repositories",
        crate::input::REPOSITORY_SORTS,
    ),
    ("/api/v1/repositories", crate::input::REPOSITORY_SORTS),
    ("/api/v1/namespaces", crate::input::NAMESPACE_SORTS),
    (
        "/api/v1/namespaces/{namespace}/workloads",
        crate::input::NAMESPACE_SORTS,
    ),
    ("/api/v1/runs", crate::input::RUN_SORTS),
    ("/api/v1/users", crate::input::USER_SORTS),
];

/// Writes into the document the constraints the server enforces on query
/// parameters and request bodies that the handlers' annotations cannot
/// state (ranges, enums, lengths, patterns), from the same constants the
/// server checks with. A request the document calls valid must not be
/// refused (`scripts/fuzz.sh` checks it).
fn state_constraints(doc: &mut serde_json::Value) {
    use serde_json::json;
    let statuses: Vec<&str> = slipway_core::Status::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    let status_list = format!("^({0})(,({0}))*$", statuses.join("|"));
    let per_page = slipway_domain::PageRequest::MAX_PER_PAGE;
    let secret_name = secret_name_pattern();
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for (path, item) in paths.iter_mut() {
            let sorts = SORTS.iter().find(|(p, _)| p == path).map(|(_, s)| *s);
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                let Some(params) = operation
                    .get_mut("parameters")
                    .and_then(|p| p.as_array_mut())
                else {
                    continue;
                };
                for param in params {
                    let name = param["name"].as_str().unwrap_or_default().to_owned();
                    let schema = match name.as_str() {
                        "name" if path.contains("/secrets/") => json!({
                            "type": "string",
                            "maxLength": slipway_domain::secrets::MAX_NAME_LEN,
                            "pattern": secret_name,
                        }),
                        "page" => json!({"type": "integer", "minimum": 1, "maximum": u32::MAX}),
                        "per_page" => {
                            json!({"type": "integer", "minimum": 1, "maximum": per_page})
                        }
                        "order" => json!({"type": "string", "enum": ["asc", "desc"]}),
                        "sort" => match sorts {
                            Some(words) => json!({"type": "string", "enum": words}),
                            None => continue,
                        },
                        "status" => json!({"type": "string", "pattern": status_list}),
                        "last_status" => json!({"type": "string", "enum": statuses}),
                        "format" => json!({"type": "string", "enum": ["text", "json"]}),
                        "tail" => {
                            json!({"type": "integer", "minimum": 0, "maximum": crate::input::MAX_TAIL})
                        }
                        "last_event_id" | "Last-Event-ID" => {
                            json!({"type": "integer", "minimum": 0, "maximum": i64::MAX})
                        }
                        "version" => json!({"type": "integer", "minimum": 1, "maximum": i32::MAX}),
                        "outcome" => {
                            json!({"type": "string", "enum": slipway_domain::app::OUTCOMES})
                        }
                        "since" | "until" => json!({"type": "string", "format": "date-time"}),
                        _ => continue,
                    };
                    param["schema"] = schema;
                }
            }
        }
    }
    // A YAML body is a mapping, like the JSON one.
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for item in paths.values_mut().filter_map(|i| i.as_object_mut()) {
            for operation in item.values_mut() {
                if let Some(yaml) = operation.pointer_mut("/requestBody/content/application~1yaml")
                {
                    yaml["schema"] = json!({"type": "object"});
                }
            }
        }
    }
    // Names: what `check_name` accepts (1 to 100 characters, no blanks at
    // either end); secret values: not empty, at most MAX_SECRET_LEN bytes
    // (a character takes up to 4).
    let name = json!({"minLength": 1, "maxLength": 100, "pattern": "^\\S(.*\\S)?$"});
    let secret = json!({
        "minLength": 1,
        "maxLength": slipway_domain::applications::MAX_SECRET_LEN / 4
    });
    let providers: Vec<&str> = slipway_domain::Provider::ALL
        .iter()
        .map(|p| p.as_str())
        .collect();
    let provider = json!({"enum": providers});
    let not_blank = json!({"pattern": "\\S"});
    let url = json!({"pattern": "^(https|http|git|ssh|file)://[^\\s\\x00-\\x1f\\x7f-\\x9f]*$"});
    let events = json!({"enum": slipway_domain::applications::TRIGGER_EVENTS});
    let repository_name = json!({
        "minLength": 1,
        "maxLength": slipway_domain::MAX_REPOSITORY_NAME_LEN,
        "pattern": "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
        "not": {"pattern": "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"},
    });
    let secret_ref = json!({"maxLength": slipway_domain::secrets::MAX_NAME_LEN, "pattern": format!("({})|^$", secret_name)});
    let branch = json!({"pattern": "^[^\\s\\x00-\\x1f\\x7f-\\x9f-][^\\s\\x00-\\x1f\\x7f-\\x9f]*$"});
    let blank_free = json!({"pattern": "^[^\\s\\x00-\\x1f\\x7f-\\x9f]*$"});
    let display = json!({"minLength": 1, "maxLength": 200, "pattern": "\\S"});
    let email_pattern = "^[^@\\s\\x00-\\x1f\\x7f]+@[^@\\s\\x00-\\x1f\\x7f]+$";
    let email = json!({"maxLength": 254, "pattern": email_pattern});
    let email_or_empty = json!({"maxLength": 254, "pattern": format!("({email_pattern})|^$")});
    let roles: Vec<&str> = slipway_domain::Role::ALL
        .iter()
        .map(|r| r.as_str())
        .collect();
    let permissions: Vec<&str> = slipway_domain::Permission::ALL
        .iter()
        .map(|p| p.as_str())
        .collect();
    let role = json!({"enum": roles});
    let matrix = json!({
        "propertyNames": {"enum": roles},
        "additionalProperties": {"type": "array", "items": {"type": "string", "enum": permissions}},
    });
    for (component, field, rules) in [
        ("TriggerRuleView", "event", &events),
        ("DispatchBody", "ref", &not_blank),
        ("RepositoryCreate", "provider", &provider),
        ("RepositoryUpdate", "provider", &provider),
        ("RepositoryCreate", "owner", &not_blank),
        ("RepositoryUpdate", "owner", &not_blank),
        ("RepositoryCreate", "name", &not_blank),
        ("RepositoryUpdate", "name", &not_blank),
        ("RepositoryCreate", "url", &url),
        ("RepositoryUpdate", "url", &url),
        ("ProjectCreate", "name", &name),
        ("ProjectUpdate", "name", &name),
        ("ApplicationCreate", "name", &name),
        ("ApplicationUpdate", "name", &name),
        ("TokenCreate", "name", &name),
        ("UserCreate", "login", &name),
        ("UserCreate", "display_name", &display),
        ("UserUpdate", "display_name", &display),
        ("UserCreate", "email", &email),
        ("UserUpdate", "email", &email_or_empty),
        ("MemberPut", "role", &role),
        ("MatrixPut", "roles", &matrix),
        ("SecretPut", "value", &secret),
        ("NamedRepositoryCreate", "name", &repository_name),
        ("NamedRepositoryUpdate", "name", &repository_name),
        ("NamedRepositoryCreate", "url", &url),
        ("NamedRepositoryUpdate", "url", &url),
        ("NamedRepositoryCreate", "provider", &provider),
        ("NamedRepositoryUpdate", "provider", &provider),
        ("NamedRepositoryCreate", "default_branch", &branch),
        ("NamedRepositoryUpdate", "default_branch", &branch),
        ("NamedRepositoryCreate", "owner", &blank_free),
        ("NamedRepositoryUpdate", "owner", &blank_free),
        ("NamedRepositoryCreate", "repo", &blank_free),
        ("NamedRepositoryUpdate", "repo", &blank_free),
        ("NamedRepositoryCreate", "credentials_secret", &secret_ref),
        ("NamedRepositoryUpdate", "credentials_secret", &secret_ref),
    ] {
        if let Some(property) = doc
            .pointer_mut(&format!(
                "/components/schemas/{component}/properties/{field}"
            ))
            .and_then(|p| p.as_object_mut())
            && let Some(rules) = rules.as_object()
        {
            for (k, v) in rules {
                property.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The document, as served at `/api/v1/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    for part in crate::routes::describe() {
        doc.merge(part);
    }
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The paths of a document, each as segments with the methods it has.
pub type RouteTable = Vec<(Vec<String>, Vec<&'static str>)>;

/// The route table of `doc`: every path template with its methods.
pub fn route_table(doc: &utoipa::openapi::OpenApi) -> RouteTable {
    doc.paths
        .paths
        .iter()
        .map(|(template, item)| {
            let methods = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("OPTIONS", item.options.is_some()),
                ("HEAD", item.head.is_some()),
                ("PATCH", item.patch.is_some()),
                ("TRACE", item.trace.is_some()),
            ]
            .into_iter()
            .filter(|(_, has)| *has)
            .map(|(m, _)| m)
            .collect();
            (segments(template), methods)
        })
        .collect()
}

/// The methods `table` has for `path` (upper case, sorted); empty when no
/// template matches it. What an API's fallback answers a wrong method
/// with (405 and `Allow`).
pub fn methods_in(table: &RouteTable, path: &str) -> Vec<&'static str> {
    let wanted = segments(path);
    let mut allowed: Vec<&'static str> = table
        .iter()
        .filter(|(template, _)| {
            template.len() == wanted.len()
                && template.iter().zip(&wanted).all(|(t, w)| {
                    (t.starts_with('{') && t.ends_with('}') && !w.is_empty()) || t == w
                })
        })
        .flat_map(|(_, methods)| methods.iter().copied())
        .collect();
    allowed.sort_unstable();
    allowed.dedup();
    allowed
}

/// The methods the server has for `path` (upper case, sorted), from the
/// route list the document is built from, plus the document and the docs
/// pages themselves; empty when no route has the path.
pub fn methods_of(path: &str) -> Vec<&'static str> {
    static ROUTES: std::sync::OnceLock<RouteTable> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        let mut routes = route_table(&document());
        routes.push((segments(crate::OPENAPI_PATH), vec!["GET"]));
        routes
    });
    let mut allowed = methods_in(routes, path);
    if path.starts_with(crate::DOCS_PATH) && !allowed.contains(&"GET") {
        allowed.push("GET");
        allowed.sort_unstable();
    }
    allowed
}

/// `/a/{b}/c` → `["a", "{b}", "c"]`.
fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(str::to_owned)
        .collect()
}
