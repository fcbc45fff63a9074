//! Workflows and their versions.

use super::permissions::On;
use super::{App, Caller, DomainError, Result, lock, new_id};
use crate::access::Permission;
use crate::catalog::{Page, PageRequest, Workflow, WorkflowVersion};
use crate::definition::{Format, WorkflowDefinition};
use crate::error::OrNotFound;
use chrono::Utc;
use slipway_core::Problem;

impl App {
    /// Parses and validates a definition text.
    pub fn check_definition(&self, text: &str, format: Format) -> Result<WorkflowDefinition> {
        let def = WorkflowDefinition::parse(text, format)
            .map_err(|e| DomainError::Invalid(e.problems()))?;
        def.validate(&self.registry).map_err(DomainError::Invalid)?;
        Ok(def)
    }

    fn version_of(
        &self,
        workflow_id: &str,
        version: i32,
        def: &WorkflowDefinition,
        text: &str,
        format: Format,
        by: &Caller,
    ) -> Result<WorkflowVersion> {
        Ok(WorkflowVersion {
            workflow_id: workflow_id.to_owned(),
            version,
            definition: serde_json::to_value(def)
                .map_err(|e| DomainError::Internal(format!("definition to JSON: {e}")))?,
            format,
            source: text.to_owned(),
            created_by: by.actor().map(|a| a.name),
            created_by_id: by.actor().map(|a| a.id),
            created_at: Utc::now(),
        })
    }

    /// Creates a workflow in a project from a definition (its `name` names
    /// the workflow), for a caller who may modify the project.
    pub async fn create_workflow(
        &self,
        by: &Caller,
        project_id: &str,
        text: &str,
        format: Format,
    ) -> Result<(Workflow, WorkflowVersion)> {
        let project = self.find_project(project_id).await?;
        self.check(
            by,
            Permission::Modify,
            &project.id,
            On::Project,
            "this project",
        )?;
        let def = self.check_definition(text, format)?;
        let now = Utc::now();
        let workflow = Workflow {
            id: new_id(),
            project_id: project_id.to_owned(),
            name: def.name.clone(),
            latest_version: 1,
            created_at: now,
            updated_at: now,
        };
        let version = self.version_of(&workflow.id, 1, &def, text, format, by)?;
        self.catalog.insert_workflow(&workflow, &version).await?;
        Ok((workflow, version))
    }

    /// Adds a version to a workflow, for a caller who may modify it. The
    /// definition's name must stay the workflow's.
    pub async fn update_workflow(
        &self,
        by: &Caller,
        id: &str,
        text: &str,
        format: Format,
    ) -> Result<(Workflow, WorkflowVersion)> {
        let mut workflow = self.workflow_for(by, Permission::Modify, id).await?;
        let def = self.check_definition(text, format)?;
        if def.name != workflow.name {
            return Err(DomainError::Invalid(vec![Problem::new(
                "name",
                format!(
                    "must stay `{}` (a workflow keeps its name; create another workflow instead)",
                    workflow.name
                ),
            )]));
        }
        let next = workflow.latest_version + 1;
        let version = self.version_of(id, next, &def, text, format, by)?;
        self.catalog.add_version(&version).await?;
        workflow.latest_version = next;
        workflow.updated_at = version.created_at;
        Ok((workflow, version))
    }

    /// A workflow, unchecked (for use cases that check on their own).
    pub(crate) async fn find_workflow(&self, id: &str) -> Result<Workflow> {
        self.catalog
            .workflow(id)
            .await?
            .or_not_found("workflow", id)
    }

    /// A workflow, when `by` may do `what` on it.
    pub(crate) async fn workflow_for(
        &self,
        by: &Caller,
        what: Permission,
        id: &str,
    ) -> Result<Workflow> {
        let workflow = self.find_workflow(id).await?;
        self.check(
            by,
            what,
            &workflow.project_id,
            On::Workflow,
            "this workflow",
        )?;
        Ok(workflow)
    }

    /// A workflow, for a caller who may view it.
    pub async fn workflow(&self, by: &Caller, id: &str) -> Result<Workflow> {
        self.workflow_for(by, Permission::View, id).await
    }

    /// A version of a workflow (`None`: the latest), for a caller who may
    /// view it.
    pub async fn workflow_version(
        &self,
        by: &Caller,
        id: &str,
        version: Option<i32>,
    ) -> Result<(Workflow, WorkflowVersion)> {
        let workflow = self.workflow(by, id).await?;
        let v = version.unwrap_or(workflow.latest_version);
        let found = self
            .catalog
            .version(id, v)
            .await?
            .or_not_found("workflow version", format!("{v} of workflow {id}"))?;
        Ok((workflow, found))
    }

    /// A page of a project's workflows, for a caller who may view it.
    pub async fn workflows(
        &self,
        by: &Caller,
        project_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Workflow>> {
        self.project(by, project_id).await?;
        Ok(self.catalog.workflows(project_id, page).await?)
    }

    /// A page of a workflow's versions, newest first.
    pub async fn workflow_versions(
        &self,
        by: &Caller,
        id: &str,
        page: &PageRequest,
    ) -> Result<Page<WorkflowVersion>> {
        self.workflow(by, id).await?;
        Ok(self.catalog.versions(id, page).await?)
    }

    /// Deletes a workflow, for a caller who may delete it; refused while
    /// it has active runs.
    pub async fn delete_workflow(&self, by: &Caller, id: &str) -> Result<()> {
        self.workflow_for(by, Permission::Delete, id).await?;
        lock(&self.caches.owners).remove(id);
        self.caches.visible.clear();
        let delete = self.catalog.delete_workflow(id);
        self.delete_unless_active("workflow", id, delete).await
    }
}
