//! The audit trail.

use chrono::{DateTime, Utc};
use serde::Serialize;
use slipway_domain::AuditEntry;
use utoipa::ToSchema;

/// One recorded request that asked for a change. It never holds a
/// request's or an answer's body, so never a secret value.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// Its id.
    pub id: String,
    /// When the request arrived.
    pub at: DateTime<Utc>,
    /// The user who asked, when known.
    pub user_id: Option<String>,
    /// Their name (`anonymous` for a login attempt nobody was known for).
    pub user_name: String,
    /// The API token the request carried, if any.
    pub token_id: Option<String>,
    /// The API it came through (`native`, or a dialect's name).
    pub api: String,
    /// The HTTP method.
    pub method: String,
    /// The route's pattern, such as `/api/v1/runs/{id}/cancel`.
    pub route: String,
    /// `create`, `update`, `delete`, `start`, `login`, or the verb the
    /// route is named after (`cancel`, `retry`, `approve`, `reject`,
    /// `redeploy`, `dispatch`).
    pub action: String,
    /// The kind of object (`project`, `workflow`, `run`, `stage`,
    /// `application`, `secret`, `schedule`, `token`, `session`).
    pub object_kind: String,
    /// The object's id (a secret's or a stage's name) when the route names
    /// one; none for a creation.
    pub object_id: Option<String>,
    /// The project, when known.
    pub project_id: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The status as a word: `ok`, `unauthorized`, `denied`, `not_found`,
    /// `conflict`, `invalid` or `error`.
    pub outcome: String,
}

moved_fields!(AuditEntry as e => AuditEntryView {
    id, at, user_id, user_name, token_id, api, method, route, action, object_kind,
    object_id, project_id, status, outcome
});
