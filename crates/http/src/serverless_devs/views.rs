//! The JSON shapes of the Serverless Devs dialect: its application, its
//! task, its request bodies, its envelope and its error body, with the
//! seed's field names (docs/dialects/serverless-devs.md).

use crate::views::SecretText;
use serde::{Deserialize, Serialize};
use slipway_core::record::detail_keys;
use slipway_core::{RunRecord, Status};
use slipway_domain::{Application, LastRun, SecretMeta, TriggerRule};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What a masked secret (an application secret, the webhook secret) is
/// shown as: its value is never answered.
pub const MASK: &str = "******";

/// A run's status in the platform's words: `pending` (created, queued),
/// `running` (running, or held by an approval gate), `success`,
/// `failure` (failed or timed out), `cancelled`, `skipped`.
pub fn status_word(status: &str) -> &'static str {
    match status.parse::<Status>() {
        Ok(Status::Created | Status::Queued) => "pending",
        Ok(Status::Running | Status::WaitingApproval) => "running",
        Ok(Status::Passed) => "success",
        Ok(Status::Cancelled) => "cancelled",
        Ok(Status::Skipped) => "skipped",
        Ok(Status::Failed | Status::TimedOut) | Err(_) => "failure",
    }
}

/// The status words of [`status_word`], for the document.
pub const STATUS_WORDS: [&str; 6] = [
    "pending",
    "running",
    "success",
    "failure",
    "cancelled",
    "skipped",
];

/// Slipway's trigger event for a platform's `eventName`: `push`,
/// `tag_push` (also `tag`), `pull_request` (also `merge_request`); any
/// other word is kept, for the domain to refuse by name.
pub fn event_of(word: &str) -> String {
    match word {
        "tag" => "tag_push",
        "merge_request" => "pull_request",
        other => other,
    }
    .to_owned()
}

/// A deployment (a run), as `latest_task` and the dispatch answers show
/// it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Task {
    /// The run's id.
    #[serde(rename = "taskId")]
    pub task_id: String,
    /// The commit it runs (empty when not known).
    pub commit: String,
    /// That commit's message, first line (empty when not known).
    pub message: String,
    /// The ref it runs (`refs/heads/main`, `refs/tags/0.0.1`).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Whether it has finished.
    pub completed: bool,
    /// `pending`, `running`, `success`, `failure`, `cancelled` or
    /// `skipped`.
    #[schema(pattern = "^(pending|running|success|failure|cancelled|skipped)$")]
    pub status: String,
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

impl From<&LastRun> for Task {
    fn from(r: &LastRun) -> Self {
        Task {
            task_id: r.run_id.clone(),
            commit: r.commit.clone().unwrap_or_default(),
            message: first_line(r.message.as_deref().unwrap_or_default()),
            git_ref: r.git_ref.clone().unwrap_or_default(),
            completed: r.completed,
            status: status_word(&r.status).to_owned(),
        }
    }
}

impl From<&RunRecord> for Task {
    fn from(r: &RunRecord) -> Self {
        let detail = |k: &str| r.trigger.detail.get(k).cloned().unwrap_or_default();
        Task {
            task_id: r.id.to_string(),
            commit: detail(detail_keys::COMMIT),
            message: first_line(&detail(detail_keys::MESSAGE)),
            git_ref: detail(detail_keys::REF),
            completed: r.status.is_terminal(),
            status: status_word(r.status.as_str()).to_owned(),
        }
    }
}

/// One trigger event of an application.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// `push`, `tag_push` or `pull_request`.
    #[serde(rename = "eventName")]
    pub event_name: String,
    /// A CEL expression over the webhook's `body` and `headers`; empty
    /// matches every delivery of the event.
    pub filter: String,
    /// The workflow template this event runs (Slipway's workflow format).
    pub template: String,
}

/// An application's triggers for its provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerView {
    /// The webhook events that start runs.
    pub events: Vec<EventView>,
    /// `******` when a webhook secret is set, else empty: never the
    /// secret.
    pub secret: String,
}

/// An application, in the platform's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    /// Its id.
    pub id: String,
    /// When it was created, in epoch milliseconds.
    pub created_time: i64,
    /// Its latest deployment; `null` before the first.
    pub latest_task: Option<Task>,
    /// The repository's owner on the host.
    pub owner: String,
    /// `github`, `gitlab`, `gitee` or `generic`.
    pub provider: String,
    /// The host's id of the repository.
    pub provider_repo_id: String,
    /// The repository's name.
    pub repo_name: String,
    /// The clone URL.
    pub repo_url: String,
    /// Its secrets by name, each shown as `******`.
    pub secrets: BTreeMap<String, String>,
    /// Its triggers, under its provider's name.
    pub trigger_spec: BTreeMap<String, TriggerView>,
    /// When it last changed, in epoch milliseconds.
    pub updated_time: i64,
    /// The id of the user who created it (empty for the server itself).
    pub user_id: String,
}

impl ApplicationView {
    /// The view of `app` with the names of its secrets.
    pub fn new(app: &Application, secrets: &[SecretMeta]) -> Self {
        let events = app
            .triggers
            .iter()
            .map(|rule: &TriggerRule| EventView {
                event_name: rule.event.clone(),
                filter: rule.filter.clone(),
                template: if rule.template.is_empty() {
                    app.template_path.clone()
                } else {
                    rule.template.clone()
                },
            })
            .collect();
        let trigger = TriggerView {
            events,
            secret: if app.webhook_secret.is_some() {
                MASK.to_owned()
            } else {
                String::new()
            },
        };
        let repo = &app.repository;
        ApplicationView {
            id: app.id.clone(),
            created_time: app.created_at.timestamp_millis(),
            latest_task: app.last_run.as_ref().map(Task::from),
            owner: repo.owner.clone(),
            provider: repo.provider.as_str().to_owned(),
            provider_repo_id: repo.provider_repo_id.clone(),
            repo_name: repo.name.clone(),
            repo_url: repo.url.clone(),
            secrets: secrets
                .iter()
                .map(|s| (s.name.clone(), MASK.to_owned()))
                .collect(),
            trigger_spec: BTreeMap::from([(repo.provider.as_str().to_owned(), trigger)]),
            updated_time: app.updated_at.timestamp_millis(),
            user_id: app
                .created_by
                .as_ref()
                .map(|a| a.id.clone())
                .unwrap_or_default(),
        }
    }
}

/// The id of a created application.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedId {
    /// Its id.
    pub id: String,
}

/// Defines a success envelope `{"success": true, "data": …}` holding a
/// `$data`.
macro_rules! envelope {
    ($name:ident, $data:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            /// Always `true`.
            pub success: bool,
            /// The answer.
            pub data: $data,
        }

        impl From<$data> for $name {
            fn from(data: $data) -> Self {
                $name {
                    success: true,
                    data,
                }
            }
        }
    };
}

envelope!(
    ApplicationList,
    Vec<ApplicationView>,
    "Every application the caller may view."
);
envelope!(ApplicationDetail, ApplicationView, "One application.");
envelope!(Created, CreatedId, "The created application's id.");
envelope!(TaskAnswer, Task, "The deployment asked for.");

/// Every error answer of the dialect: `success` false, a code word and a
/// message naming what was wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorView {
    /// Always `false`.
    pub success: bool,
    /// `Invalid`, `NeedLogin`, `NoPermission`, `NotFound`,
    /// `MethodNotAllowed`, `Conflict`, `PayloadTooLarge`,
    /// `UnsupportedMediaType`, `Upstream` or `SystemError`.
    pub code: String,
    /// What was wrong, for people (every problem with the field it is
    /// about).
    pub message: String,
}

/// The host's id of a repository: GitHub's API gives a number, the seed
/// a string; both are taken and kept as text.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RepoId {
    /// As text.
    Text(String),
    /// As a number.
    Number(u64),
}

impl RepoId {
    fn into_text(self) -> String {
        match self {
            RepoId::Text(t) => t,
            RepoId::Number(n) => n.to_string(),
        }
    }
}

/// One trigger event of a new application.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EventCreate {
    /// `push`, `tag_push` (or `tag`), `pull_request` (or
    /// `merge_request`).
    #[serde(rename = "eventName")]
    pub event_name: String,
    /// A CEL expression over the webhook's `body` and `headers`
    /// (`body.ref in ["refs/heads/main"]`); absent or empty matches every
    /// delivery of the event.
    pub filter: Option<String>,
    /// The workflow template the event runs, a path in the repository
    /// (default: `serverless-pipeline.yaml`, the application's template).
    pub template: Option<String>,
}

/// The triggers of a new application under its provider's name.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TriggerCreate {
    /// The webhook events that start runs (none: only manual dispatch).
    #[serde(default)]
    pub events: Vec<EventCreate>,
    /// The webhook secret the host signs deliveries with (never shown
    /// back).
    #[schema(value_type = Option<String>)]
    pub secret: Option<SecretText>,
}

/// A new application (`POST /api/flow/application/create`). Fields the
/// dialect does not know are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApplicationCreate {
    /// The repository's name.
    pub repo: String,
    /// The repository's owner on the host.
    pub owner: String,
    /// The clone URL (`https://`, `http://`, `git://`, `ssh://`, `file://`).
    pub repo_url: String,
    /// The host's id of the repository (text or number).
    pub provider_repo_id: RepoId,
    /// Free text.
    pub description: Option<String>,
    /// `github`, `gitlab`, `gitee` or `generic`.
    pub provider: String,
    /// The triggers: one key, the provider's name.
    pub trigger_spec: BTreeMap<String, TriggerCreate>,
    /// Its secrets by name (`[A-Z_][A-Z0-9_]*`), given to its jobs as
    /// environment variables; never shown back.
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub secrets: Option<BTreeMap<String, SecretText>>,
}

/// The template path of applications made through this dialect: the
/// file the platform's manual dispatch reads.
pub const TEMPLATE_PATH: &str = "serverless-pipeline.yaml";

impl ApplicationCreate {
    /// The domain's input: named `<owner>/<repo>` (unique in the project,
    /// as the platform binds a repository once).
    pub fn into_input(self) -> slipway_domain::ApplicationInput {
        let mut events = Vec::new();
        let mut webhook_secret = None;
        // More than one provider is refused by the handler before this.
        for (_, trigger) in self.trigger_spec {
            events.extend(trigger.events.into_iter().map(|e| TriggerRule {
                event: event_of(&e.event_name),
                filter: e.filter.unwrap_or_default(),
                template: e.template.unwrap_or_default(),
            }));
            webhook_secret = trigger.secret.map(|s| s.0);
        }
        slipway_domain::ApplicationInput {
            name: Some(format!("{}/{}", self.owner, self.repo)),
            description: self.description,
            repository: Some(slipway_domain::RepositoryInput {
                provider: Some(self.provider),
                owner: Some(self.owner),
                name: Some(self.repo),
                url: Some(self.repo_url),
                provider_repo_id: Some(self.provider_repo_id.into_text()),
            }),
            default_branch: None,
            template_path: Some(TEMPLATE_PATH.to_owned()),
            triggers: Some(events),
            cancel_superseded: None,
            webhook_secret,
            secrets: self
                .secrets
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect(),
            repository_ref: None,
        }
    }
}

/// A manual deployment (`POST /api/flow/dispatch/manual`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ManualDispatch {
    /// The application's id.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// A commit id; the ref's head when absent or empty.
    #[serde(rename = "commitId")]
    pub commit_id: Option<String>,
    /// A git reference: `refs/heads/main`, `refs/tags/0.0.1` (a bare
    /// branch or tag name also works).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The template's params by name.
    pub inputs: Option<BTreeMap<String, serde_json::Value>>,
}

impl From<ManualDispatch> for slipway_domain::DispatchInput {
    fn from(d: ManualDispatch) -> Self {
        slipway_domain::DispatchInput {
            git_ref: Some(d.git_ref),
            commit: d.commit_id.filter(|c| !c.is_empty()),
            inputs: d.inputs.unwrap_or_default(),
        }
    }
}

/// A deployment named by id (`redeploy`, `cancel`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TaskRef {
    /// The deployment's (run's) id.
    #[serde(rename = "taskId")]
    pub task_id: String,
}
