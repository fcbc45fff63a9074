//! The audit trail's middleware: after a request that asks for a change
//! was answered, one entry of who, when, which route, what action on what
//! object and how it ended goes to [`slipway_domain::App::record_audit`].
//!
//! Wired once for the whole application (every API, every dialect to
//! come). What is recorded:
//!
//! - requests whose method is not `GET`, `HEAD` or `OPTIONS` (those pay a
//!   method check and nothing else), that matched a route, and whose
//!   caller is known: a dialect's authentication
//!   ([`crate::dialect::authenticate`]) leaves the caller and the API's
//!   name in the request's extensions ([`remember`]), so a request
//!   refused for its token (401) before any handler ran is not recorded;
//! - attempts on the login route ([`LOGIN_ROUTE`]), known caller or not
//!   (then the user is `anonymous`);
//! - never the webhook route ([`HOOKS_PREFIX`]): deliveries are signed by
//!   the repository host, not sent by a user, and are recorded as
//!   deliveries.
//!
//! Nothing is read from a request or response body, so an entry never
//! holds a secret value; a secret's *name* is in its route. A failure to
//! record is logged and leaves the answer as it was. The rule that turns
//! method, route pattern and path values into action, object and project
//! is [`describe`] (also in docs/security.md).

use crate::state::State;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use chrono::{DateTime, Utc};
use slipway_domain::{AuditEntry, Caller};

/// The login route: its attempts are recorded even when nobody is known.
pub const LOGIN_ROUTE: &str = "/api/v1/sessions";

/// Routes under this prefix (webhook deliveries) are never recorded.
pub const HOOKS_PREFIX: &str = "/api/v1/hooks/";

/// Last route segments that name the action instead of the method.
pub const VERBS: &[&str] = &[
    "cancel", "retry", "approve", "reject", "redeploy", "dispatch", "start", "stop", "restart",
    "scale",
];

/// The user name of an entry whose caller is not known.
pub const ANONYMOUS: &str = "anonymous";

/// The most characters of a path value kept as an object or project id.
const MAX_ID_CHARS: usize = 256;

/// The API a caller was authenticated through, beside the [`Caller`] in a
/// request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct AuthedApi(pub &'static str);

/// Leaves `caller` and the API's name in the request's extensions for the
/// audit trail. Reads are never recorded, so they skip this.
pub fn remember(req: &HttpRequest, caller: &Caller, api: &'static str) {
    if is_read(req.method()) {
        return;
    }
    let mut extensions = req.extensions_mut();
    extensions.insert(caller.clone());
    extensions.insert(AuthedApi(api));
}

/// What a handler says it did, where the route's pattern cannot say it
/// (a dialect whose ids travel in the body); it replaces what
/// [`describe`] makes of the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noted {
    /// The action word.
    pub action: &'static str,
    /// The object's kind.
    pub object_kind: &'static str,
    /// The object's id, when known.
    pub object_id: Option<String>,
}

/// Notes for the audit trail what the request does (see [`Noted`]).
pub fn note(req: &HttpRequest, action: &'static str, kind: &'static str, id: Option<&str>) {
    req.extensions_mut().insert(Noted {
        action,
        object_kind: kind,
        object_id: id.map(|i| clip(i.to_owned())),
    });
}

/// Tells the audit trail that the request changes nothing although its
/// method says otherwise (a read a dialect takes as `POST`): it is not
/// recorded.
pub fn not_a_change(req: &HttpRequest) {
    req.extensions_mut().remove::<Caller>();
}

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// What an entry says was done, derived from the request alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// The action word.
    pub action: String,
    /// The object's kind.
    pub object_kind: String,
    /// The object's id, when the route names one.
    pub object_id: Option<String>,
    /// The project, when the route names one.
    pub project_id: Option<String>,
}

/// Action, object and project of a request, from its method, its route's
/// pattern, the values of the pattern's parameters (`value`) and the
/// answer's status. The rule:
///
/// 1. The login route `POST /api/v1/sessions` is `login` on `session`,
///    and `DELETE` there is `logout`.
/// 2. **Action**: a last segment that is one of [`VERBS`] is the action
///    (and is set aside); else `POST` is `create`, `PUT` is `create` when
///    answered 201 and `update` otherwise, `PATCH` is `update`, `DELETE`
///    is `delete` (any other method: its lower-case name). A `create` of
///    a `run` is `start`.
/// 3. **Object**: when the route (verb set aside) ends with a parameter,
///    the object is that parameter's value and its kind the singular of
///    the segment before it (`/projects/{id}/secrets/{name}`: `secret`,
///    the secret's name); when it ends with a literal segment (a
///    collection), the kind is that segment's singular and there is no id
///    (the new object's id is in the answer's body, which is never read).
///    Singular: `…ies` → `…y`, else a final `s` dropped.
/// 4. **Project**: the value after a `projects` segment, if any (the
///    caller's checked project, when known, goes first; see
///    `entry_of`).
pub fn describe(
    method: &Method,
    pattern: &str,
    value: impl Fn(&str) -> Option<String>,
    status: u16,
) -> Described {
    let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let project_id = segments
        .windows(2)
        .find(|w| w[0] == "projects" && param_name(w[1]).is_some())
        .and_then(|w| param_name(w[1]).and_then(&value))
        .map(clip);
    if pattern == LOGIN_ROUTE && matches!(*method, Method::POST | Method::DELETE) {
        return Described {
            action: if *method == Method::POST {
                "login"
            } else {
                "logout"
            }
            .into(),
            object_kind: "session".into(),
            object_id: None,
            project_id,
        };
    }
    let mut rest = segments.as_slice();
    let mut action = match rest.split_last() {
        Some((last, before)) if VERBS.contains(last) => {
            rest = before;
            (*last).to_owned()
        }
        _ => match *method {
            Method::POST => "create".to_owned(),
            Method::PUT if status == 201 => "create".to_owned(),
            Method::PUT | Method::PATCH => "update".to_owned(),
            Method::DELETE => "delete".to_owned(),
            ref other => other.as_str().to_ascii_lowercase(),
        },
    };
    let (object_kind, object_id) = match rest {
        // A single thing of one object (its permission matrix, the
        // caller's follow): the object's id, the kind named after both.
        [.., collection, param, last]
            if SUBRESOURCES.contains(last) && param_name(param).is_some() =>
        {
            (
                format!("{}_{last}", singular(collection)),
                param_name(param).and_then(&value).map(clip),
            )
        }
        [.., collection, last] if param_name(last).is_some() => (
            singular(collection),
            param_name(last).and_then(&value).map(clip),
        ),
        [.., last] => (singular(last), None),
        [] => (String::new(), None),
    };
    if action == "create" && object_kind == "run" {
        action = "start".to_owned();
    }
    Described {
        action,
        object_kind,
        object_id,
        project_id,
    }
}

/// Literal last segments that name one thing of the object before them
/// (`/applications/{id}/permissions`), not a collection.
const SUBRESOURCES: &[&str] = &["permissions", "follow"];

/// The name of a `{name}` or `{name:regex}` segment; `None` for a literal.
fn param_name(segment: &str) -> Option<&str> {
    let inner = segment.strip_prefix('{')?.strip_suffix('}')?;
    Some(inner.split_once(':').map_or(inner, |(name, _)| name))
}

/// `projects` → `project`, `policies` → `policy`.
fn singular(segment: &str) -> String {
    if let Some(stem) = segment.strip_suffix("ies") {
        format!("{stem}y")
    } else {
        segment.strip_suffix('s').unwrap_or(segment).to_owned()
    }
}

fn clip(id: String) -> String {
    if id.chars().count() <= MAX_ID_CHARS {
        id
    } else {
        id.chars().take(MAX_ID_CHARS).collect()
    }
}

/// The entry for an answered request, or `None` when it is not recorded
/// (see the module's docs).
fn entry_of(req: &HttpRequest, status: u16, at: DateTime<Utc>) -> Option<AuditEntry> {
    let pattern = req.match_pattern()?;
    if pattern.starts_with(HOOKS_PREFIX) {
        return None;
    }
    let extensions = req.extensions();
    let caller = extensions.get::<Caller>();
    let login = *req.method() == Method::POST && pattern == LOGIN_ROUTE;
    if caller.is_none() && !login {
        return None;
    }
    let info = req.match_info();
    let described = describe(
        req.method(),
        &pattern,
        |name| info.get(name).map(str::to_owned),
        status,
    );
    let mut entry = AuditEntry::new(at, status);
    entry.api = match extensions.get::<AuthedApi>() {
        Some(AuthedApi(api)) => (*api).to_owned(),
        None => crate::dialect::owner_of(req.path())
            .unwrap_or(crate::native::DIALECT.name)
            .to_owned(),
    };
    match caller {
        Some(c) => {
            entry.user_id = (!c.user_id.is_empty()).then(|| c.user_id.clone());
            entry.user_name = c.name.clone();
            entry.token_id = c.token_id.clone();
            entry.project_id = c.audit_project().or(described.project_id);
        }
        None => {
            entry.user_name = ANONYMOUS.to_owned();
            entry.project_id = described.project_id;
        }
    }
    entry.method = req.method().as_str().to_owned();
    entry.route = pattern;
    match extensions.get::<Noted>() {
        Some(noted) => {
            entry.action = noted.action.to_owned();
            entry.object_kind = noted.object_kind.to_owned();
            entry.object_id = noted.object_id.clone();
        }
        None => {
            entry.action = described.action;
            entry.object_kind = described.object_kind;
            entry.object_id = described.object_id;
        }
    }
    Some(entry)
}

/// Records an entry for every request that asked for a change once it
/// was answered (see the module's docs); reads pass straight through.
pub async fn middleware<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    if is_read(req.method()) {
        return next.call(req).await;
    }
    let at = Utc::now();
    // The request is not held across the call: routing needs it alone.
    // (An `Err` here is actix's own failure outside any handler, which
    // answers nothing of ours and is not recorded.)
    let res = next.call(req).await?;
    let request = res.request();
    if let Some(entry) = entry_of(request, res.status().as_u16(), at)
        && let Some(state) = request.app_data::<web::Data<State>>()
    {
        let (method, route) = (entry.method.clone(), entry.route.clone());
        if let Err(e) = state.app().record_audit(entry).await {
            tracing::error!(error = %e, %method, %route, "recording an audit entry failed");
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `describe` with every parameter's value being `<name>-value`.
    fn of(
        method: Method,
        pattern: &str,
        status: u16,
    ) -> (String, String, Option<String>, Option<String>) {
        let d = describe(&method, pattern, |n| Some(format!("{n}-value")), status);
        (d.action, d.object_kind, d.object_id, d.project_id)
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn every_kind_of_route_is_described() {
        let p = some("id-value");
        let cases = [
            (
                Method::POST,
                "/api/v1/projects",
                201,
                ("create", "project", None, None),
            ),
            (
                Method::PUT,
                "/api/v1/applications/{id}/permissions",
                200,
                ("update", "application_permissions", p.clone(), None),
            ),
            (
                Method::DELETE,
                "/api/v1/applications/{id}/follow",
                204,
                ("delete", "application_follow", p.clone(), None),
            ),
            (
                Method::PUT,
                "/api/v1/projects/{id}/members/{id}",
                200,
                ("update", "member", p.clone(), p.clone()),
            ),
            (
                Method::PATCH,
                "/api/v1/projects/{id}",
                200,
                ("update", "project", p.clone(), p.clone()),
            ),
            (
                Method::DELETE,
                "/api/v1/projects/{id}",
                204,
                ("delete", "project", p.clone(), p.clone()),
            ),
            (
                Method::POST,
                "/api/v1/projects/{id}/workflows",
                201,
                ("create", "workflow", None, p.clone()),
            ),
            (
                Method::PUT,
                "/api/v1/workflows/{id}",
                200,
                ("update", "workflow", p.clone(), None),
            ),
            (
                Method::POST,
                "/api/v1/workflows/{id}/runs",
                201,
                ("start", "run", None, None),
            ),
            (
                Method::POST,
                "/api/v1/runs/{id}/cancel",
                202,
                ("cancel", "run", p.clone(), None),
            ),
            (
                Method::POST,
                "/api/v1/runs/{id}/retry",
                409,
                ("retry", "run", p.clone(), None),
            ),
            (
                Method::POST,
                "/api/v1/runs/{id}/redeploy",
                201,
                ("redeploy", "run", p.clone(), None),
            ),
            (
                Method::POST,
                "/api/v1/runs/{id}/stages/{stage}/approve",
                200,
                ("approve", "stage", some("stage-value"), None),
            ),
            (
                Method::POST,
                "/api/v1/runs/{id}/stages/{stage}/reject",
                200,
                ("reject", "stage", some("stage-value"), None),
            ),
            (
                Method::POST,
                "/api/v1/applications/{id}/dispatch",
                201,
                ("dispatch", "application", p.clone(), None),
            ),
            (
                Method::PUT,
                "/api/v1/projects/{id}/secrets/{name}",
                201,
                ("create", "secret", some("name-value"), p.clone()),
            ),
            (
                Method::PUT,
                "/api/v1/projects/{id}/secrets/{name}",
                200,
                ("update", "secret", some("name-value"), p.clone()),
            ),
            (
                Method::DELETE,
                "/api/v1/applications/{id}/secrets/{name}",
                204,
                ("delete", "secret", some("name-value"), None),
            ),
            (
                Method::POST,
                "/api/v1/applications/{id}/schedules",
                201,
                ("create", "schedule", None, None),
            ),
            (
                Method::POST,
                "/api/v1/tokens",
                403,
                ("create", "token", None, None),
            ),
            (
                Method::DELETE,
                "/api/v1/tokens/{id}",
                404,
                ("delete", "token", p.clone(), None),
            ),
            (
                Method::POST,
                "/api/v1/sessions",
                401,
                ("login", "session", None, None),
            ),
            (
                Method::DELETE,
                "/api/v1/sessions",
                204,
                ("logout", "session", None, None),
            ),
            (
                Method::POST,
                "/v1/policies/{id:[0-9]+}",
                201,
                ("create", "policy", p.clone(), None),
            ),
        ];
        for (method, pattern, status, (action, kind, id, project)) in cases {
            assert_eq!(
                of(method.clone(), pattern, status),
                (action.to_owned(), kind.to_owned(), id, project),
                "{method} {pattern} {status}"
            );
        }
    }

    #[test]
    fn long_path_values_are_clipped() {
        let long = "x".repeat(1000);
        let d = describe(
            &Method::DELETE,
            "/api/v1/tokens/{id}",
            |_| Some(long.clone()),
            404,
        );
        assert_eq!(d.object_id.map(|s| s.len()), Some(MAX_ID_CHARS));
    }
}
