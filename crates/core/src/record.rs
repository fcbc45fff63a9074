//! What the engine records about a run, its stages and its jobs.

use crate::plan::Plan;
use crate::status::Status;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A run's identifier (a UUID in text form).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub String);

impl RunId {
    /// A fresh random id.
    pub fn new() -> Self {
        RunId(uuid::Uuid::new_v4().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for RunId {
    fn from(s: &str) -> Self {
        RunId(s.to_owned())
    }
}

/// The facts of a [`Trigger`]'s detail that [`Trigger::env`] gives jobs.
pub mod detail_keys {
    /// The commit id.
    pub const COMMIT: &str = "commit";
    /// The full ref name.
    pub const REF: &str = "ref";
    /// The commit message's first line.
    pub const MESSAGE: &str = "message";
    /// The commit's author, `Name <email>`.
    pub const AUTHOR: &str = "author";
}

/// Who or what started a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// `manual`, `api`, `webhook`, `cron`, `retry`, `redeploy`, ...
    pub kind: String,
    /// The user or token name, when a person started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The id of that user, when the caller knows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_id: Option<String>,
    /// Free-form facts (commit, ref, delivery id, schedule, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, String>,
}

impl Trigger {
    /// A trigger of `kind` with nobody named.
    pub fn new(kind: impl Into<String>) -> Self {
        Trigger {
            kind: kind.into(),
            by: None,
            by_id: None,
            detail: BTreeMap::new(),
        }
    }

    /// The same trigger with one more fact.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.detail.insert(key.into(), value.into());
        self
    }

    /// What every job of the run is told about its trigger:
    /// `SLIPWAY_TRIGGER` (the kind) and, from the detail,
    /// `SLIPWAY_COMMIT` (`commit`), `SLIPWAY_REF` (`ref`),
    /// `SLIPWAY_COMMIT_MESSAGE` (`message`) and `SLIPWAY_COMMIT_AUTHOR`
    /// (`author`).
    pub fn env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::from([("SLIPWAY_TRIGGER".to_owned(), self.kind.clone())]);
        for (key, var) in [
            (detail_keys::COMMIT, "SLIPWAY_COMMIT"),
            (detail_keys::REF, "SLIPWAY_REF"),
            (detail_keys::MESSAGE, "SLIPWAY_COMMIT_MESSAGE"),
            (detail_keys::AUTHOR, "SLIPWAY_COMMIT_AUTHOR"),
        ] {
            if let Some(v) = self.detail.get(key) {
                env.insert(var.to_owned(), v.clone());
            }
        }
        env
    }
}

/// One decision on an approval gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    /// Who decided.
    pub by: String,
    /// The id of that user, when the caller knows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_id: Option<String>,
    /// Approve (`true`) or reject (`false`).
    pub approved: bool,
    /// Their comment.
    #[serde(default)]
    pub comment: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The record of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job's name (unique in the plan).
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Current status.
    pub status: Status,
    /// When the current attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it did not pass.
    pub error: Option<String>,
    /// The exit code of the process that decided the outcome, when any.
    pub exit_code: Option<i32>,
    /// Attempts made so far (retries of the job and of the run included).
    pub attempts: u32,
    /// Values the job set for later jobs.
    pub outputs: BTreeMap<String, String>,
    /// What the job's kind recorded to find its leftovers after a crash
    /// (the shell kind: the process group of the running step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<serde_json::Value>,
}

/// The record of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// The stage's name.
    pub name: String,
    /// Current status.
    pub status: Status,
    /// When it started (or began waiting for approval).
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it did not pass.
    pub error: Option<String>,
    /// When its current approval wait began; an approval's timeout counts
    /// from here, and only decisions made since count.
    pub waiting_since: Option<DateTime<Utc>>,
    /// Every decision ever made on its gate.
    pub approvals: Vec<ApprovalDecision>,
    /// Its jobs, in plan order.
    pub jobs: Vec<JobRecord>,
}

/// The record of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id.
    pub id: RunId,
    /// The key concurrency limits apply to (usually the workflow's id).
    pub workflow_key: Option<String>,
    /// What runs.
    pub plan: Plan,
    /// The run's params.
    pub params: BTreeMap<String, String>,
    /// Who or what started it.
    pub trigger: Trigger,
    /// Current status.
    pub status: Status,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it started executing.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it did not pass.
    pub error: Option<String>,
    /// Its stages, in plan order.
    pub stages: Vec<StageRecord>,
}

/// A run without its plan, stages and jobs: what a list of runs shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's id.
    pub id: RunId,
    /// The plan's name.
    pub name: String,
    /// The key concurrency limits apply to (usually the workflow's id).
    pub workflow_key: Option<String>,
    /// The run's params.
    pub params: BTreeMap<String, String>,
    /// Who or what started it.
    pub trigger: Trigger,
    /// Current status.
    pub status: Status,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it started executing.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it did not pass.
    pub error: Option<String>,
}

impl From<&RunRecord> for RunSummary {
    fn from(r: &RunRecord) -> Self {
        RunSummary {
            id: r.id.clone(),
            name: r.plan.name.clone(),
            workflow_key: r.workflow_key.clone(),
            params: r.params.clone(),
            trigger: r.trigger.clone(),
            status: r.status,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error.clone(),
        }
    }
}

impl RunRecord {
    /// A fresh `created` record for `plan`, with a stage and a job record
    /// for every stage and job of the plan.
    pub fn new(
        id: RunId,
        plan: Plan,
        params: BTreeMap<String, String>,
        trigger: Trigger,
        workflow_key: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        let stages = plan
            .stages
            .iter()
            .map(|s| StageRecord {
                name: s.name.clone(),
                status: Status::Created,
                started_at: None,
                finished_at: None,
                error: None,
                waiting_since: None,
                approvals: Vec::new(),
                jobs: s
                    .jobs
                    .iter()
                    .map(|j| JobRecord {
                        name: j.name.clone(),
                        kind: j.kind.clone(),
                        status: Status::Created,
                        started_at: None,
                        finished_at: None,
                        error: None,
                        exit_code: None,
                        attempts: 0,
                        outputs: BTreeMap::new(),
                        handle: None,
                    })
                    .collect(),
            })
            .collect();
        RunRecord {
            id,
            workflow_key,
            plan,
            params,
            trigger,
            status: Status::Created,
            created_at: now,
            started_at: None,
            finished_at: None,
            error: None,
            stages,
        }
    }

    /// The job record at (stage, job), if both exist.
    pub fn job(&self, stage: usize, job: usize) -> Option<&JobRecord> {
        self.stages.get(stage).and_then(|s| s.jobs.get(job))
    }

    /// The job record named `name`.
    pub fn job_named(&self, name: &str) -> Option<&JobRecord> {
        self.stages
            .iter()
            .flat_map(|s| s.jobs.iter())
            .find(|j| j.name == name)
    }
}

/// Which record a status change applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The run itself.
    Run,
    /// Stage `n` of the run.
    Stage(usize),
    /// Job `j` of stage `s`.
    Job(usize, usize),
}

/// A conditional status change: it applies only while the record is still
/// in `from` (a store implements it as `UPDATE ... WHERE status = from`).
///
/// Field effects, the same in every store:
/// - `to` is `running` or `waiting_approval`: `started_at` is set to `at`
///   when it is empty; `waiting_approval` also sets `waiting_since = at`;
///   a job going to `running` increments `attempts`;
/// - `to` is terminal: `finished_at = at`, `error` and `exit_code` are set
///   to the given values; a job's recorded handle is cleared (what it
///   described has been stopped);
/// - `to` is `created` or `queued` from a terminal status (a retry):
///   `started_at`, `finished_at`, `error`, `exit_code` and `waiting_since`
///   are cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The record.
    pub target: Target,
    /// The status it must be in.
    pub from: Status,
    /// The status it moves to.
    pub to: Status,
    /// When.
    pub at: DateTime<Utc>,
    /// The reason, for terminal statuses.
    pub error: Option<String>,
    /// The exit code, for jobs.
    pub exit_code: Option<i32>,
}

/// Which runs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunQuery {
    /// Only runs with this workflow key.
    pub workflow_key: Option<String>,
    /// Only runs with one of these workflow keys (none when empty).
    pub workflow_keys: Option<Vec<String>>,
    /// Only runs in one of these statuses (empty: any).
    pub statuses: Vec<Status>,
    /// Oldest first (`true`) or newest first (`false`, the default).
    pub oldest_first: bool,
    /// At most this many (0: no limit).
    pub limit: usize,
    /// Skip this many first.
    pub offset: usize,
}

impl RunRecord {
    /// Applies `change` to this record with the field effects documented
    /// on [`StatusChange`]; fails with `Conflict` when the target is not in
    /// `change.from`. Stores that hold whole records use this; SQL stores
    /// implement the same effects in their `UPDATE`s.
    pub fn apply(&mut self, change: &StatusChange) -> Result<(), crate::error::StoreError> {
        use crate::error::StoreError;
        let run = self.id.clone();
        let no_target = || StoreError::NoSuchTarget {
            run: run.clone(),
            target: change.target,
        };
        let (status, started, finished, error, waiting, exit, attempts) = match change.target {
            Target::Run => (
                &mut self.status,
                &mut self.started_at,
                &mut self.finished_at,
                &mut self.error,
                None,
                None,
                None,
            ),
            Target::Stage(s) => {
                let st = self.stages.get_mut(s).ok_or_else(no_target)?;
                (
                    &mut st.status,
                    &mut st.started_at,
                    &mut st.finished_at,
                    &mut st.error,
                    Some(&mut st.waiting_since),
                    None,
                    None,
                )
            }
            Target::Job(s, j) => {
                let jb = self
                    .stages
                    .get_mut(s)
                    .and_then(|st| st.jobs.get_mut(j))
                    .ok_or_else(no_target)?;
                (
                    &mut jb.status,
                    &mut jb.started_at,
                    &mut jb.finished_at,
                    &mut jb.error,
                    None,
                    Some(&mut jb.exit_code),
                    Some(&mut jb.attempts),
                )
            }
        };
        if *status != change.from {
            return Err(StoreError::Conflict {
                run: self.id.clone(),
                target: change.target,
                expected: change.from,
                actual: *status,
            });
        }
        *status = change.to;
        match change.to {
            Status::Running | Status::WaitingApproval => {
                if started.is_none() {
                    *started = Some(change.at);
                }
                if change.to == Status::WaitingApproval
                    && let Some(w) = waiting
                {
                    *w = Some(change.at);
                }
                if change.to == Status::Running
                    && let Some(a) = attempts
                {
                    *a += 1;
                }
            }
            Status::Created | Status::Queued => {
                if change.from.is_terminal() {
                    *started = None;
                    *finished = None;
                    *error = None;
                    if let Some(w) = waiting {
                        *w = None;
                    }
                    if let Some(e) = exit {
                        *e = None;
                    }
                }
            }
            _ => {
                *finished = Some(change.at);
                *error = change.error.clone();
                if let Some(e) = exit {
                    *e = change.exit_code;
                }
                if let Target::Job(s, j) = change.target
                    && let Some(job) = self.stages.get_mut(s).and_then(|st| st.jobs.get_mut(j))
                {
                    job.handle = None;
                }
            }
        }
        Ok(())
    }
}
