//! Workflows and their versions.

use super::FlagsView;
use chrono::{DateTime, Utc};
use serde::Serialize;
use slipway_domain::{Caller, On, Workflow, WorkflowVersion};
use utoipa::ToSchema;

/// A workflow (its definition lives in its versions).
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowView {
    /// Its id.
    pub id: String,
    /// Its project.
    pub project_id: String,
    /// Its name (the definition's `name`), unique in the project.
    pub name: String,
    /// The newest version, from 1.
    pub latest_version: i32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its newest version was made.
    pub updated_at: DateTime<Utc>,
    /// What the caller may do on it.
    pub permissions: FlagsView,
}

impl From<(Workflow, &Caller)> for WorkflowView {
    fn from((w, by): (Workflow, &Caller)) -> Self {
        WorkflowView {
            permissions: by.flags_on(&w.project_id, On::Workflow).into(),
            id: w.id,
            project_id: w.project_id,
            name: w.name,
            latest_version: w.latest_version,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// One version of a workflow's definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    /// The version, from 1.
    pub version: i32,
    /// The checked definition in its stored JSON form (docs/workflow-format.md).
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    /// The format it was sent in: `json` or `yaml`.
    pub format: String,
    /// The text as it was sent.
    pub source: String,
    /// The login of the user who made it.
    pub created_by: Option<String>,
    /// That user's id.
    pub created_by_id: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

moved_fields!(WorkflowVersion as v => VersionView {
    version, definition, source, created_by, created_by_id, created_at;
    format: v.format.to_string().to_ascii_lowercase(),
});

/// A workflow with one of its versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowDetail {
    /// The workflow.
    #[serde(flatten)]
    pub workflow: WorkflowView,
    /// The version asked for (the latest by default).
    pub version: VersionView,
}

impl From<((Workflow, WorkflowVersion), &Caller)> for WorkflowDetail {
    fn from(((w, v), by): ((Workflow, WorkflowVersion), &Caller)) -> Self {
        WorkflowDetail {
            workflow: (w, by).into(),
            version: v.into(),
        }
    }
}
