//! The JSON shapes of the native API: what requests carry and answers
//! hold. Domain and engine types are converted here, so that the API's
//! shape is decided in one place and documented in the OpenAPI document.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_core::{JobRecord, LogLine, RunRecord, StageRecord, Status};
use slipway_domain::{
    ApiToken, Application, ApplicationInput, HookOutcome, LastRun, NewToken, Page, Project,
    Repository, RepositoryInput, ScheduleDetail, ScheduleInput, SecretMeta, TriggerRule, Workflow,
    WorkflowVersion,
};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A status of a run, a stage or a job.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusWord {
    /// Recorded, not yet scheduled.
    Created,
    /// Waiting for a concurrency slot or its turn.
    Queued,
    /// Executing.
    Running,
    /// Held by an approval gate.
    WaitingApproval,
    /// Finished successfully.
    Passed,
    /// Finished unsuccessfully.
    Failed,
    /// Stopped on request.
    Cancelled,
    /// Stopped by its time limit.
    TimedOut,
    /// Not executed.
    Skipped,
}

impl From<Status> for StatusWord {
    fn from(s: Status) -> Self {
        match s {
            Status::Created => StatusWord::Created,
            Status::Queued => StatusWord::Queued,
            Status::Running => StatusWord::Running,
            Status::WaitingApproval => StatusWord::WaitingApproval,
            Status::Passed => StatusWord::Passed,
            Status::Failed => StatusWord::Failed,
            Status::Cancelled => StatusWord::Cancelled,
            Status::TimedOut => StatusWord::TimedOut,
            Status::Skipped => StatusWord::Skipped,
        }
    }
}

// ---- projects ----

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
}

impl From<Project> for ProjectView {
    fn from(p: Project) -> Self {
        ProjectView {
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
    #[serde(default)]
    pub description: Option<String>,
}

/// Changes to a project; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// A new description.
    #[serde(default)]
    pub description: Option<String>,
}

// ---- workflows ----

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

impl From<Workflow> for WorkflowView {
    fn from(w: Workflow) -> Self {
        WorkflowView {
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
    /// The name of the token that made it.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<WorkflowVersion> for VersionView {
    fn from(v: WorkflowVersion) -> Self {
        VersionView {
            version: v.version,
            definition: v.definition,
            format: v.format.to_string().to_ascii_lowercase(),
            source: v.source,
            created_by: v.created_by,
            created_at: v.created_at,
        }
    }
}

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

// ---- runs ----

/// What starts a run.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunStart {
    /// Values for the workflow's params, by name.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// The workflow version to run (the latest by default).
    #[serde(default)]
    pub version: Option<i32>,
}

/// A decision on an approval gate.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// Why.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Who or what started a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerView {
    /// `api`, `retry`, `webhook`, `cron`, ...
    pub kind: String,
    /// The token name, when a person started it.
    pub by: Option<String>,
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
    /// Who.
    pub by: String,
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
                detail: r.trigger.detail,
            },
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error,
        }
    }
}

fn job_view(j: JobRecord) -> JobView {
    JobView {
        name: j.name,
        kind: j.kind,
        status: j.status.into(),
        started_at: j.started_at,
        finished_at: j.finished_at,
        error: j.error,
        exit_code: j.exit_code,
        attempts: j.attempts,
        outputs: j.outputs,
    }
}

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
                    approvals: s
                        .approvals
                        .into_iter()
                        .map(|d| DecisionView {
                            by: d.by,
                            approved: d.approved,
                            comment: d.comment,
                            at: d.at,
                        })
                        .collect(),
                    jobs: s.jobs.into_iter().map(job_view).collect(),
                }
            })
            .collect();
        RunView { run, stages }
    }
}

// ---- write-only text ----

/// A secret value in a request: deserialized like a string, never shown
/// by `Debug` (so a request logged by mistake does not leak it).
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

// ---- applications ----

/// Where an application's code lives.
#[derive(Debug, Serialize, ToSchema)]
pub struct RepositoryView {
    /// `github`, `gitlab`, `gitee` or `generic`.
    pub provider: String,
    /// The owner (user, group or organisation) on the host.
    pub owner: String,
    /// The repository's name on the host.
    pub name: String,
    /// The clone URL Slipway fetches from.
    pub url: String,
    /// The host's own id for the repository (may be empty).
    pub provider_repo_id: String,
}

impl From<Repository> for RepositoryView {
    fn from(r: Repository) -> Self {
        RepositoryView {
            provider: r.provider.as_str().to_owned(),
            owner: r.owner,
            name: r.name,
            url: r.url,
            provider_repo_id: r.provider_repo_id,
        }
    }
}

/// A webhook trigger rule: deliveries of `event` whose payload passes
/// `filter` start a run of `template`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRuleView {
    /// `push` (a branch), `tag_push` or `pull_request` (opened or updated).
    pub event: String,
    /// A CEL expression over `body` and `headers`; empty (the default)
    /// matches every delivery.
    #[serde(default)]
    pub filter: String,
    /// The template's path in the repository; empty (the default) means
    /// the application's `template_path`.
    #[serde(default)]
    pub template: String,
}

impl From<TriggerRule> for TriggerRuleView {
    fn from(t: TriggerRule) -> Self {
        TriggerRuleView {
            event: t.event,
            filter: t.filter,
            template: t.template,
        }
    }
}

impl From<TriggerRuleView> for TriggerRule {
    fn from(t: TriggerRuleView) -> Self {
        TriggerRule {
            event: t.event,
            filter: t.filter,
            template: t.template,
        }
    }
}

/// An application's latest run, in short.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastRunView {
    /// The run.
    pub run_id: String,
    /// The commit it ran.
    pub commit: Option<String>,
    /// That commit's message (first line).
    pub message: Option<String>,
    /// The ref it ran (`refs/heads/main`, `refs/tags/v1`).
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// Its status word (`queued`, `running`, `passed`, ...).
    pub status: String,
    /// Whether it has finished.
    pub completed: bool,
    /// When it was started.
    pub created_at: DateTime<Utc>,
}

impl From<LastRun> for LastRunView {
    fn from(l: LastRun) -> Self {
        LastRunView {
            run_id: l.run_id,
            commit: l.commit,
            message: l.message,
            git_ref: l.git_ref,
            status: l.status,
            completed: l.completed,
            created_at: l.created_at,
        }
    }
}

/// An application (never its webhook secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    /// Its id (also the concurrency key of its runs).
    pub id: String,
    /// Its project.
    pub project_id: String,
    /// Its name, unique in the project.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Its repository.
    pub repository: RepositoryView,
    /// The branch dispatches and schedules use when none is given.
    pub default_branch: String,
    /// The workflow template's path in the repository.
    pub template_path: String,
    /// Webhook trigger rules, tried in order.
    pub triggers: Vec<TriggerRuleView>,
    /// Whether a newer push cancels older active runs of the same ref.
    pub cancel_superseded: bool,
    /// Whether a webhook secret is set (the secret itself is never shown).
    pub webhook_secret_set: bool,
    /// Where the repository host sends webhooks:
    /// `/api/v1/hooks/<provider>/<id>`.
    pub webhook_url: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Its latest run, if it ever ran.
    pub last_run: Option<LastRunView>,
}

impl From<Application> for ApplicationView {
    fn from(a: Application) -> Self {
        ApplicationView {
            webhook_url: format!("/api/v1/hooks/{}/{}", a.repository.provider, a.id),
            webhook_secret_set: a.webhook_secret.is_some(),
            id: a.id,
            project_id: a.project_id,
            name: a.name,
            description: a.description,
            repository: a.repository.into(),
            default_branch: a.default_branch,
            template_path: a.template_path,
            triggers: a.triggers.into_iter().map(Into::into).collect(),
            cancel_superseded: a.cancel_superseded,
            created_at: a.created_at,
            updated_at: a.updated_at,
            last_run: a.last_run.map(Into::into),
        }
    }
}

/// A repository, as given to create an application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryCreate {
    /// `github`, `gitlab`, `gitee` or `generic`.
    pub provider: String,
    /// The owner on the host.
    pub owner: String,
    /// The repository's name on the host.
    pub name: String,
    /// The clone URL (`https://`, `http://`, `git://`, `ssh://` or `file://`).
    pub url: String,
    /// The host's own id for it.
    #[serde(default)]
    pub provider_repo_id: Option<String>,
}

/// Changes to a repository; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryUpdate {
    /// `github`, `gitlab`, `gitee` or `generic`.
    #[serde(default)]
    pub provider: Option<String>,
    /// The owner on the host.
    #[serde(default)]
    pub owner: Option<String>,
    /// The repository's name on the host.
    #[serde(default)]
    pub name: Option<String>,
    /// The clone URL.
    #[serde(default)]
    pub url: Option<String>,
    /// The host's own id for it.
    #[serde(default)]
    pub provider_repo_id: Option<String>,
}

impl From<RepositoryCreate> for RepositoryInput {
    fn from(r: RepositoryCreate) -> Self {
        RepositoryInput {
            provider: Some(r.provider),
            owner: Some(r.owner),
            name: Some(r.name),
            url: Some(r.url),
            provider_repo_id: r.provider_repo_id,
        }
    }
}

impl From<RepositoryUpdate> for RepositoryInput {
    fn from(r: RepositoryUpdate) -> Self {
        RepositoryInput {
            provider: r.provider,
            owner: r.owner,
            name: r.name,
            url: r.url,
            provider_repo_id: r.provider_repo_id,
        }
    }
}

/// A new application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationCreate {
    /// Its name (1 to 100 characters, unique in the project).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Its repository.
    pub repository: RepositoryCreate,
    /// The branch dispatches and schedules use (default `main`).
    #[serde(default)]
    pub default_branch: Option<String>,
    /// The template's path in the repository (default
    /// `.slipway/workflow.yaml`); relative, without `..`.
    #[serde(default)]
    pub template_path: Option<String>,
    /// Webhook trigger rules, tried in order.
    #[serde(default)]
    pub triggers: Option<Vec<TriggerRuleView>>,
    /// Whether a newer push cancels older active runs of the same ref
    /// (default false).
    #[serde(default)]
    pub cancel_superseded: Option<bool>,
    /// The webhook secret (write-only).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub webhook_secret: Option<SecretText>,
}

impl From<ApplicationCreate> for ApplicationInput {
    fn from(a: ApplicationCreate) -> Self {
        ApplicationInput {
            name: Some(a.name),
            description: a.description,
            repository: Some(a.repository.into()),
            default_branch: a.default_branch,
            template_path: a.template_path,
            triggers: a.triggers.map(|t| t.into_iter().map(Into::into).collect()),
            cancel_superseded: a.cancel_superseded,
            webhook_secret: a.webhook_secret.map(|s| s.0),
        }
    }
}

/// Changes to an application; fields present replace, absent fields stay
/// as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationUpdate {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// A new description.
    #[serde(default)]
    pub description: Option<String>,
    /// Repository fields to change (the ones given replace).
    #[serde(default)]
    pub repository: Option<RepositoryUpdate>,
    /// A new default branch.
    #[serde(default)]
    pub default_branch: Option<String>,
    /// A new template path.
    #[serde(default)]
    pub template_path: Option<String>,
    /// New trigger rules (replace all of them).
    #[serde(default)]
    pub triggers: Option<Vec<TriggerRuleView>>,
    /// Whether a newer push cancels older active runs of the same ref.
    #[serde(default)]
    pub cancel_superseded: Option<bool>,
    /// A new webhook secret (write-only); `""` removes it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub webhook_secret: Option<SecretText>,
}

impl From<ApplicationUpdate> for ApplicationInput {
    fn from(a: ApplicationUpdate) -> Self {
        ApplicationInput {
            name: a.name,
            description: a.description,
            repository: a.repository.map(Into::into),
            default_branch: a.default_branch,
            template_path: a.template_path,
            triggers: a.triggers.map(|t| t.into_iter().map(Into::into).collect()),
            cancel_superseded: a.cancel_superseded,
            webhook_secret: a.webhook_secret.map(|s| s.0),
        }
    }
}

/// A manual run of an application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchBody {
    /// A branch or tag name, or a full ref (`refs/heads/main`,
    /// `refs/tags/v1`).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// A commit id (hex); the ref's head when absent.
    #[serde(default)]
    pub commit: Option<String>,
    /// Values for the template's params, by name.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: BTreeMap<String, serde_json::Value>,
}

impl From<DispatchBody> for slipway_domain::DispatchInput {
    fn from(d: DispatchBody) -> Self {
        slipway_domain::DispatchInput {
            git_ref: Some(d.git_ref),
            commit: d.commit,
            inputs: d.inputs,
        }
    }
}

// ---- secrets ----

/// A stored secret: its name and times, never its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretView {
    /// Its name (an environment variable name).
    pub name: String,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When its value last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<SecretMeta> for SecretView {
    fn from(s: SecretMeta) -> Self {
        SecretView {
            name: s.name,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// The secrets of a project or application.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretList {
    /// Every secret, by name.
    pub items: Vec<SecretView>,
}

/// A secret's value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretPut {
    /// The value (1 byte to 64 KiB); never shown again.
    #[schema(value_type = String)]
    pub value: SecretText,
}

// ---- schedules ----

/// A cron schedule of a workflow or an application.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    /// Its id.
    pub id: String,
    /// `workflow` or `application`.
    pub target: String,
    /// The workflow's or application's id.
    pub target_id: String,
    /// The expression as written (5 or 6 fields, or a shorthand).
    pub expression: String,
    /// The IANA time zone it is evaluated in; `null` is UTC.
    pub timezone: Option<String>,
    /// For applications: the ref to run (empty: the default branch).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Params for the runs it starts.
    pub params: BTreeMap<String, String>,
    /// Paused schedules start nothing.
    pub enabled: bool,
    /// The last fire time it started a run for.
    pub last_fired_at: Option<DateTime<Utc>>,
    /// The next fire time (also when paused).
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The expression in words.
    pub description: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<ScheduleDetail> for ScheduleView {
    fn from(d: ScheduleDetail) -> Self {
        let s = d.schedule;
        ScheduleView {
            next_fire_at: d.next_fire_at,
            description: d.description,
            id: s.id,
            target: s.target.as_str().to_owned(),
            target_id: s.target_id,
            expression: s.expression,
            timezone: s.timezone,
            git_ref: s.git_ref,
            params: s.params,
            enabled: s.enabled,
            last_fired_at: s.last_fired_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// The schedules of a workflow or application.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    /// Every schedule, oldest first.
    pub items: Vec<ScheduleView>,
}

/// A new schedule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleCreate {
    /// 5 fields (`minute hour day-of-month month day-of-week`), 6 (a
    /// leading `second`), or a shorthand (`@daily`, `@hourly`, ...).
    pub expression: String,
    /// An IANA time zone (`Europe/Berlin`); absent, `null` or `""`: UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    /// For applications: the ref to run (default: the default branch).
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// Params for the runs, by name.
    #[serde(default)]
    pub params: Option<BTreeMap<String, String>>,
    /// Whether it fires (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl From<ScheduleCreate> for ScheduleInput {
    fn from(s: ScheduleCreate) -> Self {
        ScheduleInput {
            expression: Some(s.expression),
            timezone: Some(s.timezone),
            git_ref: s.git_ref,
            params: s.params,
            enabled: s.enabled,
        }
    }
}

/// Changes to a schedule; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleUpdate {
    /// A new expression.
    #[serde(default)]
    pub expression: Option<String>,
    /// A new time zone; `null` or `""` for UTC.
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(value_type = Option<String>)]
    pub timezone: Option<Option<String>>,
    /// A new ref (`""`: the default branch).
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// New params (replace all of them).
    #[serde(default)]
    pub params: Option<BTreeMap<String, String>>,
    /// Pause (false) or resume (true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl From<ScheduleUpdate> for ScheduleInput {
    fn from(s: ScheduleUpdate) -> Self {
        ScheduleInput {
            expression: s.expression,
            timezone: s.timezone,
            git_ref: s.git_ref,
            params: s.params,
            enabled: s.enabled,
        }
    }
}

// ---- webhooks ----

/// What a webhook delivery did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum HookOutcomeView {
    /// A ping: nothing to do.
    Pong,
    /// This delivery id was handled before; nothing started.
    Duplicate {
        /// The delivery id.
        delivery: String,
    },
    /// No rule matched, or the event starts nothing.
    Ignored {
        /// Why.
        reason: String,
    },
    /// A run was started.
    Started {
        /// The run.
        run_id: String,
        /// The index of the trigger rule that matched.
        rule: usize,
    },
}

impl From<HookOutcome> for HookOutcomeView {
    fn from(o: HookOutcome) -> Self {
        match o {
            HookOutcome::Pong => HookOutcomeView::Pong,
            HookOutcome::Duplicate { delivery } => HookOutcomeView::Duplicate { delivery },
            HookOutcome::Ignored { reason } => HookOutcomeView::Ignored { reason },
            HookOutcome::Started { run_id, rule } => HookOutcomeView::Started { run_id, rule },
        }
    }
}

// ---- logs ----

/// A stored log line.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogLineView {
    /// Its position in the job's log, from 1 (also the SSE event id).
    pub seq: u64,
    /// `stdout`, `stderr` or `system`.
    pub stream: String,
    /// When it was read.
    pub at: DateTime<Utc>,
    /// Its text, without the newline.
    pub text: String,
}

impl From<&LogLine> for LogLineView {
    fn from(l: &LogLine) -> Self {
        LogLineView {
            seq: l.seq,
            stream: l.stream.as_str().to_owned(),
            at: l.at,
            text: l.text.clone(),
        }
    }
}

// ---- tokens ----

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    /// Its name, for people.
    pub name: String,
    /// Whether it may manage tokens.
    #[serde(default)]
    pub admin: bool,
}

/// An API token (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The first characters of its secret.
    pub prefix: String,
    /// Whether it may manage tokens.
    pub is_admin: bool,
    /// The token that created it.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was last used (roughly).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            is_admin: t.is_admin,
            created_by: t.created_by,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A token just created, with its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenView {
    /// The token.
    #[serde(flatten)]
    pub token: TokenView,
    /// The secret to send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

impl From<NewToken> for NewTokenView {
    fn from(t: NewToken) -> Self {
        NewTokenView {
            token: t.token.into(),
            secret: t.secret,
        }
    }
}

/// The list of tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// Every token, newest first.
    pub items: Vec<TokenView>,
    /// How many.
    pub total: u64,
}

macro_rules! page_of {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            /// The items of this page.
            pub items: Vec<$item>,
            /// How many items there are in all.
            pub total: u64,
            /// This page, from 1.
            pub page: u32,
            /// Items per page.
            pub per_page: u32,
        }

        impl $name {
            /// Converts a domain page.
            pub fn of<T>(p: Page<T>) -> Self
            where
                $item: From<T>,
            {
                $name {
                    items: p.items.into_iter().map(<$item>::from).collect(),
                    total: p.total,
                    page: p.page,
                    per_page: p.per_page,
                }
            }
        }
    };
}

page_of!(ProjectPage, ProjectView, "A page of projects.");
page_of!(WorkflowPage, WorkflowView, "A page of workflows.");
page_of!(
    VersionPage,
    VersionView,
    "A page of workflow versions, newest first."
);
page_of!(RunPage, RunSummary, "A page of runs.");
page_of!(ApplicationPage, ApplicationView, "A page of applications.");

/// The answer of the health checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable`.
    pub status: String,
    /// What failed, when something did.
    pub error: Option<String>,
}
