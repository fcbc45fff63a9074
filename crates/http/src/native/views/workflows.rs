//! Workflows and their versions.

use chrono::{DateTime, Utc};
use serde::Serialize;
use slipway_domain::{Workflow, WorkflowVersion};
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
}

moved_fields!(Workflow as w => WorkflowView {
    id, project_id, name, latest_version, created_at, updated_at
});

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
    /// The name of the token that made it.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

moved_fields!(WorkflowVersion as v => VersionView {
    version, definition, source, created_by, created_at;
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

impl From<(Workflow, WorkflowVersion)> for WorkflowDetail {
    fn from((w, v): (Workflow, WorkflowVersion)) -> Self {
        WorkflowDetail {
            workflow: w.into(),
            version: v.into(),
        }
    }
}
