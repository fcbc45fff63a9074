//! Runs: start, read, list, cancel, retry, approve or reject.

use super::{App, Caller, DomainError, Result, RunListKey, params_problems};
use crate::catalog::{Page, PageRequest};
use crate::definition::WorkflowDefinition;
use crate::error::OrNotFound;
use serde::Serialize;
use slipway_core::{Decision, RunId, RunQuery, RunRecord, RunRequest, Status, Trigger};
use std::collections::BTreeMap;
use std::sync::Arc;

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
        let mut trigger = Trigger::new("api");
        trigger.by = Some(by.name.clone());
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
    /// `inputs` for its params.
    pub async fn start_run(
        &self,
        workflow_id: &str,
        version: Option<i32>,
        inputs: &BTreeMap<String, serde_json::Value>,
        mut trigger: Trigger,
    ) -> Result<RunRecord> {
        let (workflow, v) = self.workflow_version(workflow_id, version).await?;
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

    /// A run.
    pub async fn run(&self, id: &str) -> Result<RunRecord> {
        Ok((*self.run_shared(id).await?).clone())
    }

    /// A run, answered with the same `Arc` for as long as it is current
    /// (see [`super::CACHE_TTL`]), so that an API may keep what it derived from
    /// it (its JSON) alongside.
    pub async fn run_shared(&self, id: &str) -> Result<Arc<RunRecord>> {
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
    pub async fn runs(
        &self,
        filter: &RunFilter,
        page: &PageRequest,
    ) -> Result<Arc<Page<slipway_core::RunSummary>>> {
        let q = RunQuery {
            workflow_key: filter.workflow_id.clone(),
            statuses: filter.statuses.clone(),
            oldest_first: page.order == crate::catalog::Order::Asc,
            limit: page.per_page as usize,
            offset: usize::try_from(page.offset()).unwrap_or(usize::MAX),
        };
        let key: RunListKey = (
            filter.workflow_id.clone(),
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

    /// Cancels a run that has not finished.
    pub async fn cancel_run(&self, id: &str, by: &Caller) -> Result<RunRecord> {
        let run = self.run(id).await?;
        if run.status.is_terminal() {
            return Err(DomainError::Conflict(format!(
                "run {id} is {} already",
                run.status
            )));
        }
        self.engine
            .cancel(&run.id, &format!("cancelled by {}", by.name))
            .await?;
        self.run(id).await
    }

    /// Re-runs a finished run's failed, cancelled and timed-out jobs.
    pub async fn retry_run(&self, id: &str) -> Result<RunRecord> {
        let run = self.run(id).await?;
        let secrets = self.secrets_for_key(run.workflow_key.as_deref()).await?;
        self.engine.retry(&run.id, secrets).await?;
        self.run(id).await
    }

    /// Approves or rejects the stage of a run that waits for approval.
    pub async fn decide(
        &self,
        id: &str,
        stage: &str,
        approve: bool,
        comment: String,
        by: &Caller,
    ) -> Result<RunRecord> {
        let run = self.run(id).await?;
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
        self.engine
            .decide(
                &run.id,
                stage,
                Decision {
                    by: by.name.clone(),
                    approve,
                    comment,
                },
            )
            .await?;
        self.run(id).await
    }
}
