//! Projects.

use super::FlagsView;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_domain::{Caller, On, Project, ProjectInput};
use utoipa::ToSchema;

/// A project.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    /// Its id.
    pub id: String,
    /// Its name, unique.
    pub name: String,
    /// Free text.
    pub description: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The caller's role in it, if a member.
    pub role: Option<String>,
    /// What the caller may do on it.
    pub permissions: FlagsView,
}

impl From<(Project, &Caller)> for ProjectView {
    fn from((p, by): (Project, &Caller)) -> Self {
        ProjectView {
            role: by.role_in(&p.id).map(|r| r.as_str().to_owned()),
            permissions: by.flags_on(&p.id, On::Project).into(),
            id: p.id,
            name: p.name,
            description: p.description,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A new project.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectCreate {
    /// Its name (1 to 100 characters, unique).
    pub name: String,
    /// Free text.
    pub description: Option<String>,
}

/// Changes to a project; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
}

moved_fields!(ProjectCreate as p => ProjectInput { description; name: Some(p.name) });
moved_fields!(ProjectUpdate as p => ProjectInput { name, description });
