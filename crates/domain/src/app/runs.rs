//! Runs: start, read, list, cancel, retry, approve or reject.

use super::permissions::On;
use super::{
    App, CACHE_TTL, Caller, DomainError, Result, RunListKey, RunOwner, lock, params_problems,
};
use crate::access::{Permission, Role};
use crate::catalog::{Page, PageRequest};
use crate::definition::WorkflowDefinition;
use crate::error::OrNotFound;
use serde::Serialize;
use slipway_core::{Decision, RunId, RunQuery, RunRecord, RunRequest, Status, Trigger};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The prefix of an approver entry that names a project role
/// (`role:maintainer`: the project's maintainers and owners).
pub const ROLE_APPROVER: &str = "role:";

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this workflow's.
    pub workflow_id: Option<String>,
    /// Only in one of these statuses.
    pub statuses: Vec<Status>,
}

/// Counts a server shows about itself (metrics, a dialect's status page).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerStats {
    /// How many runs are in each status, for every status.
    pub runs_by_status: Vec<(Status, u64)>,
    /// Jobs executing now (in running runs).
    pub jobs_running: u64,
}

impl App {
    /// Starts a run of a workflow for a caller of an API: as
    /// [`App::start_run`], with the trigger (`api`, by the caller's name)
    /// made here so that every API records it alike.
    pub async fn run_workflow(
        &self,
        by: &Caller,
        workflow_id: &str,
        version: Option<i32>,
        inputs: &BTreeMap<String, serde_json::Value>,
    ) -> Result<RunRecord> {
        self.workflow_for(by, Permission::Execute, workflow_id)
            .await?;
        let mut trigger = Trigger::new("api");
        trigger.by = Some(by.name.clone());
        trigger.by_id = by.actor().map(|a| a.id);
        self.start_run(workflow_id, version, inputs, trigger).await
    }

    /// How many runs are in each status, and how many jobs run now.
    pub async fn stats(&self) -> Result<ServerStats> {
        let store = self.engine.store();
        let mut stats = ServerStats::default();
        for status in Status::ALL {
            let q = RunQuery {
                statuses: vec![status],
                ..RunQuery::default()
            };
            stats
                .runs_by_status
                .push((status, store.count_runs(&q).await?));
        }
        let running = store
            .list_runs(&RunQuery {
                statuses: vec![Status::Running],
                ..RunQuery::default()
            })
            .await?;
        stats.jobs_running = running
            .iter()
            .flat_map(|r| r.stages.iter().flat_map(|s| s.jobs.iter()))
            .filter(|j| j.status == Status::Running)
            .count() as u64;
        Ok(stats)
    }

    /// Starts a run of a workflow's latest version (or `version`) with
    /// `inputs` for its params; unchecked (schedules, and
    /// [`App::run_workflow`] after its check).
    pub(crate) async fn start_run(
        &self,
        workflow_id: &str,
        version: Option<i32>,
        inputs: &BTreeMap<String, serde_json::Value>,
        mut trigger: Trigger,
    ) -> Result<RunRecord> {
        let workflow = self.find_workflow(workflow_id).await?;
        let n = version.unwrap_or(workflow.latest_version);
        let v = self
            .catalog
            .version(workflow_id, n)
            .await?
            .or_not_found("workflow version", format!("{n} of workflow {workflow_id}"))?;
        let def: WorkflowDefinition = serde_json::from_value(v.definition.clone())
            .map_err(|e| DomainError::Internal(format!("stored definition: {e}")))?;
        let (plan, params) = def.compile(inputs).map_err(params_problems)?;
        trigger
            .detail
            .insert("workflow_version".into(), v.version.to_string());
        let request = RunRequest {
            plan,
            params,
            trigger,
            workflow_key: Some(workflow.id.clone()),
            secrets: self.run_secrets(&workflow.project_id, None).await?,
        };
        let id = self.engine.submit(request).await?;
        Ok(self.engine.get(&id).await?)
    }

    /// A run, for a caller who may view it.
    pub async fn run(&self, by: &Caller, id: &str) -> Result<RunRecord> {
        Ok((*self.run_shared(by, id).await?).clone())
    }

    /// A run, answered with the same `Arc` for as long as it is current
    /// (see [`super::CACHE_TTL`]), so that an API may keep what it derived from
    /// it (its JSON) alongside; for a caller who may view it.
    pub async fn run_shared(&self, by: &Caller, id: &str) -> Result<Arc<RunRecord>> {
        self.run_for(by, Permission::View, id).await
    }

    /// A run, when `by` may do `what` on its workflow or application (a
    /// run of neither: system admins only).
    pub(crate) async fn run_for(
        &self,
        by: &Caller,
        what: Permission,
        id: &str,
    ) -> Result<Arc<RunRecord>> {
        let run = self.find_run(id).await?;
        self.check_run(by, what, &run).await?;
        Ok(run)
    }

    /// `Forbidden` unless `by` may do `what` on `run`'s owner.
    pub(crate) async fn check_run(
        &self,
        by: &Caller,
        what: Permission,
        run: &RunRecord,
    ) -> Result<()> {
        if by.is_admin {
            return Ok(());
        }
        match self.run_owner(run.workflow_key.as_deref()).await? {
            Some(owner) => {
                let on = if owner.is_application {
                    On::Application(owner.matrix.as_ref())
                } else {
                    On::Workflow
                };
                self.check(by, what, &owner.project_id, on, "this run")
            }
            None => Err(DomainError::Forbidden(
                "only a system admin may see runs of no workflow or application".into(),
            )),
        }
    }

    /// The project (and matrix) of the workflow or application `key`
    /// names, cached briefly.
    pub(crate) async fn run_owner(&self, key: Option<&str>) -> Result<Option<RunOwner>> {
        let Some(key) = key else {
            return Ok(None);
        };
        if let Some((owner, at)) = lock(&self.caches.owners).get(key)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(Some(owner.clone()));
        }
        let owner = if let Some(w) = self.catalog.workflow(key).await? {
            RunOwner {
                project_id: w.project_id,
                matrix: None,
                is_application: false,
            }
        } else if let Some(a) = self.catalog.application(key).await? {
            RunOwner {
                project_id: a.project_id,
                matrix: a.permissions,
                is_application: true,
            }
        } else if let Some(project_id) = self.workload_project(key).await? {
            RunOwner {
                project_id,
                matrix: None,
                is_application: false,
            }
        } else {
            return Ok(None);
        };
        let mut owners = lock(&self.caches.owners);
        if owners.len() >= super::CACHE_ENTRIES {
            owners.clear();
        }
        owners.insert(key.to_owned(), (owner.clone(), std::time::Instant::now()));
        Ok(Some(owner))
    }

    /// A run, unchecked.
    pub(crate) async fn find_run(&self, id: &str) -> Result<Arc<RunRecord>> {
        let generation = self.engine.generation();
        if let Some(run) = self.caches.runs.get(id, generation) {
            return Ok(run);
        }
        let run = self
            .engine
            .store()
            .get_run(&RunId(id.to_owned()))
            .await?
            .or_not_found("run", id)?;
        let run = Arc::new(run);
        self.caches.runs.put(id.to_owned(), generation, run.clone());
        Ok(run)
    }

    /// A page of runs (summaries: no plan, stages or jobs), newest first
    /// unless `page.order` is ascending. The same page is answered with the
    /// same `Arc` for as long as it is current (see [`super::CACHE_TTL`]), so that
    /// an API may keep what it derived from it (its JSON) alongside.
    ///
    /// Only runs the caller may view: with a workflow (or application) in
    /// the filter, its runs if the caller may view it; without, a system
    /// admin sees every run and anyone else the runs of the workflows and
    /// applications they may view.
    pub async fn runs(
        &self,
        by: &Caller,
        filter: &RunFilter,
        page: &PageRequest,
    ) -> Result<Arc<Page<slipway_core::RunSummary>>> {
        let keys = match &filter.workflow_id {
            Some(key) => {
                if !by.is_admin {
                    match self.run_owner(Some(key)).await? {
                        Some(owner) => {
                            let on = if owner.is_application {
                                On::Application(owner.matrix.as_ref())
                            } else {
                                On::Workflow
                            };
                            self.check(by, Permission::View, &owner.project_id, on, "these runs")?;
                        }
                        None => return Err(DomainError::not_found("workflow", key)),
                    }
                }
                None
            }
            None if by.is_admin => None,
            None => Some(self.visible_keys(by).await?),
        };
        let q = RunQuery {
            workflow_key: filter.workflow_id.clone(),
            workflow_keys: keys.as_deref().cloned(),
            statuses: filter.statuses.clone(),
            oldest_first: page.order == crate::catalog::Order::Asc,
            limit: page.per_page as usize,
            offset: usize::try_from(page.offset()).unwrap_or(usize::MAX),
        };
        let key: RunListKey = (
            filter.workflow_id.clone(),
            keys.clone(),
            filter.statuses.clone(),
            page.page,
            page.per_page,
            q.oldest_first,
        );
        // Read the generation before the store: a change that lands while
        // reading makes the entry stale at once.
        let generation = self.engine.generation();
        if let Some(cached) = self.caches.run_pages.get(&key, generation) {
            return Ok(cached);
        }
        let (items, total) = self.engine.store().list_summaries(&q).await?;
        let found = Arc::new(Page {
            items,
            total,
            page: page.page,
            per_page: page.per_page,
        });
        self.caches.run_pages.put(key, generation, found.clone());
        Ok(found)
    }

    /// The workflow and application ids whose runs `by` may view, sorted;
    /// cached per user (see `Caches::visible`).
    async fn visible_keys(&self, by: &Caller) -> Result<Arc<Vec<String>>> {
        let generation = self.engine.generation();
        if let Some(keys) = self.caches.visible.get(&by.user_id, generation) {
            return Ok(keys);
        }
        let mut keys = Vec::new();
        for project in by.project_ids() {
            if !by.may(Permission::View, &project, On::Workflow) {
                continue;
            }
            keys.extend(self.catalog.workflow_ids(&project).await?);
            for app in self.catalog.application_ids(&project).await? {
                let matrix = self.run_owner(Some(&app)).await?.and_then(|o| o.matrix);
                if by.may(Permission::View, &project, On::Application(matrix.as_ref())) {
                    keys.push(app);
                }
            }
        }
        keys.sort();
        let keys = Arc::new(keys);
        self.caches
            .visible
            .put(by.user_id.clone(), generation, keys.clone());
        Ok(keys)
    }

    /// Cancels a run that has not finished, for a caller who may run its
    /// workflow or application.
    pub async fn cancel_run(&self, by: &Caller, id: &str) -> Result<RunRecord> {
        let run = self.run_for(by, Permission::Execute, id).await?;
        if run.status.is_terminal() {
            return Err(DomainError::Conflict(format!(
                "run {id} is {} already",
                run.status
            )));
        }
        self.engine
            .cancel(&run.id, &format!("cancelled by {}", by.name))
            .await?;
        self.run(by, id).await
    }

    /// Re-runs a finished run's failed, cancelled and timed-out jobs.
    pub async fn retry_run(&self, by: &Caller, id: &str) -> Result<RunRecord> {
        let run = self.run_for(by, Permission::Execute, id).await?;
        let secrets = self.secrets_for_key(run.workflow_key.as_deref()).await?;
        self.engine.retry(&run.id, secrets).await?;
        self.run(by, id).await
    }

    /// Approves or rejects the stage of a run that waits for approval. A
    /// gate that lists approvers takes decisions from them alone: users by
    /// login, and `role:<role>` entries from members with that role or a
    /// higher one (system admins decide on any gate); a gate without a
    /// list from anyone who may run the workflow or application.
    pub async fn decide(
        &self,
        by: &Caller,
        id: &str,
        stage: &str,
        approve: bool,
        comment: String,
    ) -> Result<RunRecord> {
        let run = self.run_for(by, Permission::View, id).await?;
        let Some(st) = run.stages.iter().find(|s| s.name == stage) else {
            return Err(DomainError::not_found(
                "stage",
                format!("{stage} of run {id}"),
            ));
        };
        if st.status != Status::WaitingApproval {
            return Err(DomainError::Conflict(format!(
                "stage `{stage}` of run {id} is {}, not waiting for approval",
                st.status
            )));
        }
        let approvers = run
            .plan
            .stages
            .iter()
            .find(|s| s.name == stage)
            .and_then(|s| s.approval.as_ref())
            .map(|a| a.approvers.clone())
            .unwrap_or_default();
        let answers_to = if approvers.is_empty() {
            self.check_run(by, Permission::Execute, &run).await?;
            Vec::new()
        } else {
            self.approver_entries(by, &run, &approvers, stage).await?
        };
        self.engine
            .decide(
                &run.id,
                stage,
                Decision {
                    by: by.name.clone(),
                    by_id: by.actor().map(|a| a.id),
                    answers_to,
                    approve,
                    comment,
                },
            )
            .await?;
        self.run(by, id).await
    }

    /// The entries of a gate's approver list `by` answers to; `Forbidden`
    /// when none.
    async fn approver_entries(
        &self,
        by: &Caller,
        run: &RunRecord,
        approvers: &[String],
        stage: &str,
    ) -> Result<Vec<String>> {
        if by.is_admin {
            return Ok(approvers.to_vec());
        }
        let role = match self.run_owner(run.workflow_key.as_deref()).await? {
            Some(owner) => by.role_in(&owner.project_id),
            None => None,
        };
        let entries: Vec<String> = approvers
            .iter()
            .filter(|a| {
                *a == &by.name
                    || a.strip_prefix(ROLE_APPROVER)
                        .and_then(Role::parse)
                        .is_some_and(|wanted| role.is_some_and(|r| r >= wanted))
            })
            .cloned()
            .collect();
        if entries.is_empty() {
            return Err(DomainError::Forbidden(format!(
                "`{}` is not among the approvers of stage `{stage}` ({})",
                by.name,
                approvers.join(", ")
            )));
        }
        Ok(entries)
    }
}
