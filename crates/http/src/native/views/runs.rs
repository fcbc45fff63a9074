//! Runs, stages, jobs and decisions.

use super::StatusWord;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_core::{ApprovalDecision, JobRecord, RunRecord, StageRecord};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What starts a run.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunStart {
    /// Values for the workflow's params, by name.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// The workflow version to run (the latest by default).
    pub version: Option<i32>,
}

/// A decision on an approval gate.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// Why.
    pub comment: Option<String>,
}

/// Who or what started a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerView {
    /// `api`, `retry`, `webhook`, `cron`, ...
    pub kind: String,
    /// The user's login, when a person started it.
    pub by: Option<String>,
    /// That user's id.
    pub by_id: Option<String>,
    /// Free-form facts.
    pub detail: BTreeMap<String, String>,
}

/// A run in a list (no stages).
#[derive(Debug, Serialize, ToSchema)]
pub struct RunSummary {
    /// Its id.
    pub id: String,
    /// The workflow it runs.
    pub workflow_id: Option<String>,
    /// The workflow version it runs.
    pub workflow_version: Option<i32>,
    /// Its name (the workflow's).
    pub name: String,
    /// Its status.
    pub status: StatusWord,
    /// Its params, as the jobs see them.
    pub params: BTreeMap<String, String>,
    /// Who or what started it.
    pub trigger: TriggerView,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it started executing.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it did not pass.
    pub error: Option<String>,
}

/// An approval gate of a stage.
#[derive(Debug, Serialize, ToSchema)]
pub struct GateView {
    /// Who may decide (empty: anyone).
    pub approvers: Vec<String>,
    /// Approvals needed.
    pub needed: u32,
    /// Seconds the gate waits, if limited.
    pub timeout_secs: Option<u64>,
}

/// A decision taken on a gate.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    /// Who (a login).
    pub by: String,
    /// That user's id.
    pub by_id: Option<String>,
    /// Approved or rejected.
    pub approved: bool,
    /// Why.
    pub comment: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A job of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// Its name (unique in the run; its log is named after it).
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its status.
    pub status: StatusWord,
    /// When its current attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it did not pass.
    pub error: Option<String>,
    /// The exit code that decided its outcome.
    pub exit_code: Option<i32>,
    /// Attempts so far.
    pub attempts: u32,
    /// Values it set for later jobs.
    pub outputs: BTreeMap<String, String>,
}

/// A stage of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct StageView {
    /// Its name.
    pub name: String,
    /// Its status.
    pub status: StatusWord,
    /// Whether its jobs run together.
    pub parallel: bool,
    /// Its approval gate, if any.
    pub approval: Option<GateView>,
    /// When it started or began waiting.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it did not pass.
    pub error: Option<String>,
    /// When its current approval wait began.
    pub waiting_since: Option<DateTime<Utc>>,
    /// Decisions taken on its gate.
    pub approvals: Vec<DecisionView>,
    /// Its jobs.
    pub jobs: Vec<JobView>,
}

/// A run with its stages and jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    /// The run.
    #[serde(flatten)]
    pub run: RunSummary,
    /// Its stages, in order.
    pub stages: Vec<StageView>,
}

fn summary(r: &RunRecord) -> RunSummary {
    RunSummary {
        id: r.id.to_string(),
        workflow_id: r.workflow_key.clone(),
        workflow_version: r
            .trigger
            .detail
            .get("workflow_version")
            .and_then(|v| v.parse().ok()),
        name: r.plan.name.clone(),
        status: r.status.into(),
        params: r.params.clone(),
        trigger: TriggerView {
            kind: r.trigger.kind.clone(),
            by: r.trigger.by.clone(),
            by_id: r.trigger.by_id.clone(),
            detail: r.trigger.detail.clone(),
        },
        created_at: r.created_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        error: r.error.clone(),
    }
}

impl From<RunRecord> for RunSummary {
    fn from(r: RunRecord) -> Self {
        summary(&r)
    }
}

impl From<slipway_core::RunSummary> for RunSummary {
    fn from(r: slipway_core::RunSummary) -> Self {
        RunSummary {
            workflow_version: r
                .trigger
                .detail
                .get("workflow_version")
                .and_then(|v| v.parse().ok()),
            id: r.id.to_string(),
            workflow_id: r.workflow_key,
            name: r.name,
            status: r.status.into(),
            params: r.params,
            trigger: TriggerView {
                kind: r.trigger.kind,
                by: r.trigger.by,
                by_id: r.trigger.by_id,
                detail: r.trigger.detail,
            },
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error,
        }
    }
}

moved_fields!(JobRecord as j => JobView {
    name, kind, started_at, finished_at, error, exit_code, attempts, outputs;
    status: j.status.into(),
});

moved_fields!(ApprovalDecision as d => DecisionView { by, by_id, approved, comment, at });

impl From<RunRecord> for RunView {
    fn from(r: RunRecord) -> Self {
        let run = summary(&r);
        let plan = r.plan;
        let stages = r
            .stages
            .into_iter()
            .enumerate()
            .map(|(i, s): (usize, StageRecord)| {
                let def = plan.stages.get(i);
                StageView {
                    name: s.name,
                    status: s.status.into(),
                    parallel: def.is_some_and(|d| d.parallel),
                    approval: def.and_then(|d| d.approval.as_ref()).map(|a| GateView {
                        approvers: a.approvers.clone(),
                        needed: a.needed,
                        timeout_secs: a.timeout.map(|t| t.as_secs()),
                    }),
                    started_at: s.started_at,
                    finished_at: s.finished_at,
                    error: s.error,
                    waiting_since: s.waiting_since,
                    approvals: s.approvals.into_iter().map(Into::into).collect(),
                    jobs: s.jobs.into_iter().map(Into::into).collect(),
                }
            })
            .collect();
        RunView { run, stages }
    }
}
