//! Projects: create, read, list, update, delete.

use super::permissions::On;
use super::{ACTIVE, App, Caller, DomainError, Result, check_name, new_id};
use crate::access::Permission;
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
    /// Creates a project; any user may, and becomes its owner.
    pub async fn create_project(&self, by: &Caller, input: ProjectInput) -> Result<Project> {
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
        let owner = (!by.user_id.is_empty()).then_some(by.user_id.as_str());
        self.catalog.insert_project(&project, owner).await?;
        if owner.is_some() {
            self.forget_callers();
        }
        Ok(project)
    }

    /// A project, unchecked (for use cases that check on their own).
    pub(crate) async fn find_project(&self, id: &str) -> Result<Project> {
        self.catalog.project(id).await?.or_not_found("project", id)
    }

    /// A project, for a caller who may view it.
    pub async fn project(&self, by: &Caller, id: &str) -> Result<Project> {
        let project = self.find_project(id).await?;
        self.check(
            by,
            Permission::View,
            &project.id,
            On::Project,
            "this project",
        )?;
        Ok(project)
    }

    /// The project named `name`, for a caller who may view it.
    pub async fn project_named(&self, by: &Caller, name: &str) -> Result<Project> {
        let project = self
            .catalog
            .project_by_name(name)
            .await?
            .or_not_found("project", name)?;
        self.check(
            by,
            Permission::View,
            &project.id,
            On::Project,
            "this project",
        )?;
        Ok(project)
    }

    /// The project named `name`, for a caller who may view it; when there
    /// is none, a new project of that name made by the caller (any user
    /// may create a project, and becomes its owner), and `true`. Where a
    /// dialect whose platform has no projects puts what its clients
    /// create (docs/dialects/).
    pub async fn project_named_or_new(&self, by: &Caller, name: &str) -> Result<(Project, bool)> {
        match self.project_named(by, name).await {
            Err(DomainError::NotFound { .. }) => {}
            found => return found.map(|p| (p, false)),
        }
        let input = ProjectInput {
            name: Some(name.to_owned()),
            description: None,
        };
        match self.create_project(by, input).await {
            // Another request made it meanwhile.
            Err(DomainError::Conflict(_)) => Ok((self.project_named(by, name).await?, false)),
            made => made.map(|p| (p, true)),
        }
    }

    /// A page of the projects the caller may view (a system admin: all).
    pub async fn projects(&self, by: &Caller, page: &PageRequest) -> Result<Page<Project>> {
        let only = (!by.is_admin).then(|| by.project_ids());
        Ok(self.catalog.projects(page, only.as_deref()).await?)
    }

    /// Changes a project's name or description, for a caller who may
    /// modify it.
    pub async fn update_project(
        &self,
        by: &Caller,
        id: &str,
        input: ProjectInput,
    ) -> Result<Project> {
        let mut project = self.find_project(id).await?;
        self.check(
            by,
            Permission::Modify,
            &project.id,
            On::Project,
            "this project",
        )?;
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

    /// Deletes a project with its workflows and applications, for its
    /// owners; refused while any of their runs is active.
    pub async fn delete_project(&self, by: &Caller, id: &str) -> Result<()> {
        let project = self.find_project(id).await?;
        self.check(
            by,
            Permission::Delete,
            &project.id,
            On::Project,
            "this project",
        )?;
        self.refuse_namespaces(id).await?;
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
