//! Applications, their repositories and trigger rules, dispatches.

use super::{ActorView, FlagsView, SecretText};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_domain::{
    Application, ApplicationInput, Caller, DispatchInput, LastRun, Repository, RepositoryInput,
    TriggerRule,
};
use std::collections::BTreeMap;
use utoipa::ToSchema;

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

moved_fields!(Repository as r => RepositoryView {
    owner, name, url, provider_repo_id;
    provider: r.provider.as_str().to_owned(),
});

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

moved_fields!(TriggerRule as t => TriggerRuleView { event, filter, template });
moved_fields!(TriggerRuleView as t => TriggerRule { event, filter, template });

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

moved_fields!(LastRun as l => LastRunView {
    run_id, commit, message, git_ref, status, completed, created_at
});

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
    /// The id of the named repository it clones from (with that
    /// repository's URL and credentials), if any.
    pub repository_ref: Option<String>,
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
    /// Who created it.
    pub created_by: Option<ActorView>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Who changed it last.
    pub updated_by: Option<ActorView>,
    /// Its latest run, if it ever ran.
    pub last_run: Option<LastRunView>,
    /// Whether it has its own permission matrix (see
    /// `/api/v1/applications/{id}/permissions`).
    pub has_own_permissions: bool,
    /// What the caller may do on it.
    pub permissions: FlagsView,
    /// Whether the caller follows it.
    pub following: bool,
}

impl From<(Application, &Caller)> for ApplicationView {
    fn from((a, by): (Application, &Caller)) -> Self {
        ApplicationView {
            permissions: by.flags_on_application(&a).into(),
            following: by.follows(&a.id),
            has_own_permissions: a.permissions.is_some(),
            created_by: a.created_by.map(Into::into),
            updated_by: a.updated_by.map(Into::into),
            webhook_url: format!("/api/v1/hooks/{}/{}", a.repository.provider, a.id),
            webhook_secret_set: a.webhook_secret.is_some(),
            id: a.id,
            project_id: a.project_id,
            name: a.name,
            description: a.description,
            repository: a.repository.into(),
            repository_ref: a.repository_id,
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
    pub provider_repo_id: Option<String>,
}

/// Changes to a repository; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryUpdate {
    /// `github`, `gitlab`, `gitee` or `generic`.
    pub provider: Option<String>,
    /// The owner on the host.
    pub owner: Option<String>,
    /// The repository's name on the host.
    pub name: Option<String>,
    /// The clone URL.
    pub url: Option<String>,
    /// The host's own id for it.
    pub provider_repo_id: Option<String>,
}

moved_fields!(RepositoryCreate as r => RepositoryInput {
    provider_repo_id;
    provider: Some(r.provider),
    owner: Some(r.owner),
    name: Some(r.name),
    url: Some(r.url),
});
moved_fields!(RepositoryUpdate as r => RepositoryInput { provider, owner, name, url, provider_repo_id });

/// A new application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationCreate {
    /// Its name (1 to 100 characters, unique in the project).
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Its repository; required unless `repository_ref` is given, which
    /// fills the fields left out (and always the URL).
    pub repository: Option<RepositoryCreate>,
    /// A named repository of the same project, by name or id: the
    /// application clones from its URL with its credentials.
    pub repository_ref: Option<String>,
    /// The branch dispatches and schedules use (default `main`).
    pub default_branch: Option<String>,
    /// The template's path in the repository (default
    /// `.slipway/workflow.yaml`); relative, without `..`.
    pub template_path: Option<String>,
    /// Webhook trigger rules, tried in order.
    pub triggers: Option<Vec<TriggerRuleView>>,
    /// Whether a newer push cancels older active runs of the same ref
    /// (default false).
    pub cancel_superseded: Option<bool>,
    /// The webhook secret (write-only).
    #[schema(value_type = Option<String>)]
    pub webhook_secret: Option<SecretText>,
    /// Its first secrets, by name (`[A-Z_][A-Z0-9_]*`): stored with the
    /// application, all or nothing, and never shown again (change them
    /// with the secrets routes).
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub secrets: Option<std::collections::BTreeMap<String, SecretText>>,
}

moved_fields!(ApplicationCreate as a => ApplicationInput {
    description, default_branch, template_path, cancel_superseded, repository_ref;
    name: Some(a.name),
    repository: a.repository.map(Into::into),
    triggers: rules(a.triggers),
    webhook_secret: a.webhook_secret.map(|s| s.0),
    secrets: a.secrets.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect(),
});

/// Changes to an application; fields present replace, absent fields stay
/// as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// Repository fields to change (the ones given replace).
    pub repository: Option<RepositoryUpdate>,
    /// A named repository of the same project, by name or id, to clone
    /// from; `""` stops using one.
    pub repository_ref: Option<String>,
    /// A new default branch.
    pub default_branch: Option<String>,
    /// A new template path.
    pub template_path: Option<String>,
    /// New trigger rules (replace all of them).
    pub triggers: Option<Vec<TriggerRuleView>>,
    /// Whether a newer push cancels older active runs of the same ref.
    pub cancel_superseded: Option<bool>,
    /// A new webhook secret (write-only); `""` removes it.
    #[schema(value_type = Option<String>)]
    pub webhook_secret: Option<SecretText>,
}

moved_fields!(ApplicationUpdate as a => ApplicationInput {
    name, description, default_branch, template_path, cancel_superseded, repository_ref;
    repository: a.repository.map(Into::into),
    triggers: rules(a.triggers),
    webhook_secret: a.webhook_secret.map(|s| s.0),
    secrets: std::collections::BTreeMap::new(),
});

/// Trigger rules as given, for the domain.
fn rules(given: Option<Vec<TriggerRuleView>>) -> Option<Vec<TriggerRule>> {
    given.map(|t| t.into_iter().map(Into::into).collect())
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
    pub commit: Option<String>,
    /// Values for the template's params, by name.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: BTreeMap<String, serde_json::Value>,
}

moved_fields!(DispatchBody as d => DispatchInput { commit, inputs; git_ref: Some(d.git_ref) });
