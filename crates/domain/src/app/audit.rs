//! The audit trail: one entry per change asked of any API (who, when,
//! which route, what action on what object, and how it ended). The HTTP
//! layer derives an entry from each request after it was answered and
//! hands it to [`App::record_audit`]; nothing in an entry comes from a
//! request or response body, so no secret value can reach it.
//! [`App::audit`] reads the trail back, for admins and project owners.

use super::{App, Caller, DomainError, Result, new_id};
use crate::catalog::{Page, PageRequest};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_core::Problem;

/// One recorded request that asked for a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its id.
    pub id: String,
    /// When the request arrived.
    pub at: DateTime<Utc>,
    /// The user who asked, when known.
    pub user_id: Option<String>,
    /// Their name (`anonymous` for a login attempt nobody was known for).
    pub user_name: String,
    /// The API token the request carried, if it carried one.
    pub token_id: Option<String>,
    /// The API it came through (a dialect name: `native`, ...).
    pub api: String,
    /// The HTTP method.
    pub method: String,
    /// The route's pattern as registered (`/api/v1/runs/{id}/cancel`),
    /// never the path with its values.
    pub route: String,
    /// What was asked: `create`, `update`, `delete`, `start`, `login`, or
    /// the verb a route is named after (`cancel`, `approve`, ...).
    pub action: String,
    /// The kind of object it acted on (`project`, `run`, `secret`, ...).
    pub object_kind: String,
    /// The object's id (a secret's name), when the route names one.
    pub object_id: Option<String>,
    /// The project the object belongs to, when known.
    pub project_id: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The status as a word: one of [`OUTCOMES`] (see [`outcome_of`]).
    pub outcome: String,
}

impl AuditEntry {
    /// A new entry at `at` with a fresh id; `outcome` is derived from
    /// `status`.
    pub fn new(at: DateTime<Utc>, status: u16) -> AuditEntry {
        AuditEntry {
            id: new_id(),
            at,
            user_id: None,
            user_name: String::new(),
            token_id: None,
            api: String::new(),
            method: String::new(),
            route: String::new(),
            action: String::new(),
            object_kind: String::new(),
            object_id: None,
            project_id: None,
            status,
            outcome: outcome_of(status).to_owned(),
        }
    }
}

/// Every outcome word, as [`outcome_of`] gives them.
pub const OUTCOMES: [&str; 7] = [
    "ok",
    "unauthorized",
    "denied",
    "not_found",
    "conflict",
    "invalid",
    "error",
];

/// The outcome word of an HTTP status: 2xx (and anything else below 400)
/// `ok`, 401 `unauthorized`, 403 `denied`, 404 `not_found`, 409
/// `conflict`, any other 4xx `invalid`, 5xx and above `error`.
pub fn outcome_of(status: u16) -> &'static str {
    match status {
        0..=399 => "ok",
        401 => "unauthorized",
        403 => "denied",
        404 => "not_found",
        409 => "conflict",
        400..=499 => "invalid",
        _ => "error",
    }
}

/// Which audit entries to list; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// A user's id or name.
    pub user: Option<String>,
    /// The action word.
    pub action: Option<String>,
    /// The object's kind.
    pub object_kind: Option<String>,
    /// The object's id.
    pub object_id: Option<String>,
    /// The project.
    pub project_id: Option<String>,
    /// One of [`OUTCOMES`].
    pub outcome: Option<String>,
    /// Entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries strictly before this time (an `until` not after `since`
    /// matches nothing).
    pub until: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// Whether `entry` is one the filter asks for (the rule every store
    /// keeps: `user` is the user's id or name, `since` is inclusive,
    /// `until` exclusive).
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        let is = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        self.user
            .as_deref()
            .is_none_or(|u| entry.user_id.as_deref() == Some(u) || entry.user_name == u)
            && is(&self.action, Some(&entry.action))
            && is(&self.object_kind, Some(&entry.object_kind))
            && is(&self.object_id, entry.object_id.as_deref())
            && is(&self.project_id, entry.project_id.as_deref())
            && is(&self.outcome, Some(&entry.outcome))
            && self.since.is_none_or(|t| entry.at >= t)
            && self.until.is_none_or(|t| entry.at < t)
    }

    /// Every problem of the filter, by field.
    fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(o) = &self.outcome
            && !OUTCOMES.contains(&o.as_str())
        {
            problems.push(Problem::new(
                "outcome",
                format!(
                    "unknown outcome `{o}`, expected one of: {}",
                    OUTCOMES.join(", ")
                ),
            ));
        }
        problems
    }
}

impl App {
    /// Adds `entry` to the audit trail. The HTTP layer calls it once a
    /// request that asked for a change was answered; the write finishes
    /// even when its caller stops waiting.
    pub async fn record_audit(&self, entry: AuditEntry) -> Result<()> {
        self.detached(move |app| async move {
            app.catalog.insert_audit(&entry).await?;
            Ok(())
        })
        .await
    }

    /// A page of the audit trail, newest first unless `page` says `asc`.
    /// Admins see every entry; anyone else only a project they own, named
    /// by `filter.project_id` (without one: `Forbidden`).
    pub async fn audit(
        &self,
        by: &Caller,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>> {
        if !by.is_admin {
            let Some(project_id) = filter.project_id.as_deref() else {
                return Err(DomainError::Forbidden(
                    "only an admin may read the whole audit trail; a project owner names the \
                     project (`project_id`)"
                        .into(),
                ));
            };
            self.authorize_project_owner(by, project_id).await?;
        }
        let problems = filter.problems();
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        Ok(self.catalog.audit_entries(filter, page).await?)
    }

    /// `Forbidden` unless `by` may manage project `project_id` (its
    /// owners, and system admins).
    pub(crate) async fn authorize_project_owner(
        &self,
        by: &Caller,
        project_id: &str,
    ) -> Result<()> {
        // Asked of the caller's roles alone: whether the project exists
        // is nobody's business but its members'.
        self.check(
            by,
            crate::access::Permission::Manage,
            project_id,
            super::On::Project,
            "the audit trail of this project",
        )
    }
}
