//! Projects: create, read, list, update, delete.

use super::{ACTIVE, App, DomainError, Result, check_name, new_id};
use crate::catalog::{CatalogStoreError, Page, PageRequest, Project};
use crate::error::OrNotFound;
use chrono::Utc;
use slipway_core::RunQuery;

/// A project's name and description.
#[derive(Debug, Clone, Default)]
pub struct ProjectInput {
    /// Its name (1 to 100 characters).
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
}

impl App {
    /// Creates a project.
    pub async fn create_project(&self, input: ProjectInput) -> Result<Project> {
        let mut problems = Vec::new();
        let name = input.name.unwrap_or_default();
        check_name("name", &name, &mut problems);
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        let now = Utc::now();
        let project = Project {
            id: new_id(),
            name,
            description: input.description.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        self.catalog.insert_project(&project).await?;
        Ok(project)
    }

    /// A project.
    pub async fn project(&self, id: &str) -> Result<Project> {
        self.catalog.project(id).await?.or_not_found("project", id)
    }

    /// A page of projects.
    pub async fn projects(&self, page: &PageRequest) -> Result<Page<Project>> {
        Ok(self.catalog.projects(page).await?)
    }

    /// Changes a project's name or description.
    pub async fn update_project(&self, id: &str, input: ProjectInput) -> Result<Project> {
        let mut project = self.project(id).await?;
        let mut problems = Vec::new();
        if let Some(name) = input.name {
            check_name("name", &name, &mut problems);
            project.name = name;
        }
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        if let Some(d) = input.description {
            project.description = d;
        }
        project.updated_at = Utc::now();
        self.catalog
            .update_project(&project)
            .await?
            .or_not_found("project", id)?;
        Ok(project)
    }

    /// Deletes a project with its workflows and applications; refused
    /// while any of their runs is active.
    pub async fn delete_project(&self, id: &str) -> Result<()> {
        self.project(id).await?;
        let mut keys = self.catalog.workflow_ids(id).await?;
        keys.extend(self.catalog.application_ids(id).await?);
        self.refuse_active(&keys, "project").await?;
        self.catalog
            .delete_project(id)
            .await?
            .or_not_found("project", id)
    }

    /// Runs `delete`, the delete of workflow or application `id` (`kind`),
    /// unless runs of it are active (a future does nothing until awaited).
    pub(crate) async fn delete_unless_active(
        &self,
        kind: &'static str,
        id: &str,
        delete: impl Future<Output = std::result::Result<bool, CatalogStoreError>>,
    ) -> Result<()> {
        self.refuse_active(&[id.to_owned()], kind).await?;
        delete.await?.or_not_found(kind, id)
    }

    /// Refuses when runs of any of `keys` (workflow or application ids)
    /// are active.
    pub(crate) async fn refuse_active(&self, keys: &[String], what: &str) -> Result<()> {
        let mut n = 0;
        for key in keys {
            let q = RunQuery {
                workflow_key: Some(key.clone()),
                statuses: ACTIVE.to_vec(),
                ..RunQuery::default()
            };
            n += self.engine.store().count_runs(&q).await?;
        }
        if n > 0 {
            return Err(DomainError::Conflict(format!(
                "the {what} has {n} active run(s); cancel them or wait for them to end"
            )));
        }
        Ok(())
    }
}
