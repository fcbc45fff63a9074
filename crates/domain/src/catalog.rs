//! The server's catalog: projects, workflows and their versions, API
//! tokens, and the port ([`CatalogStore`]) through which they are kept
//! (with applications, secrets, deliveries, schedules and the audit
//! trail).

use crate::app::{AuditEntry, AuditFilter};
use crate::definition::Format;
pub use crate::webhook::Provider;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_core::StoreError;

pub use crate::access::{Actor, Matrix, Role};

/// A project: a named group of workflows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
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

/// A workflow of a project; its definition lives in its versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    /// Its id (also the concurrency key of its runs).
    pub id: String,
    /// The project it belongs to.
    pub project_id: String,
    /// Its name, unique in the project.
    pub name: String,
    /// The newest version (versions count from 1).
    pub latest_version: i32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its last version was made.
    pub updated_at: DateTime<Utc>,
}

/// One version of a workflow's definition. Versions are never rewritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowVersion {
    /// The workflow.
    pub workflow_id: String,
    /// The version, from 1.
    pub version: i32,
    /// The validated definition, in its canonical JSON form.
    pub definition: serde_json::Value,
    /// The format the definition was sent in.
    pub format: Format,
    /// The text as it was sent.
    pub source: String,
    /// Who made it (the user's login).
    pub created_by: Option<String>,
    /// The id of the user who made it.
    pub created_by_id: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// An API token, without its secret (only a hash of which is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Its id.
    pub id: String,
    /// Its name, for people.
    pub name: String,
    /// The first characters of the secret, so that people can tell tokens
    /// apart.
    pub prefix: String,
    /// The user it belongs to (every token belongs to one).
    pub user_id: String,
    /// Whether its user was a system admin when it was made (what a token
    /// may do is its user's rights, read at each authentication).
    pub is_admin: bool,
    /// The login of the user who created it.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was last used, roughly (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked token is refused at once.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Where an application's code lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// The host's kind.
    pub provider: Provider,
    /// The owner (user, group or organisation) on the host.
    pub owner: String,
    /// The repository's name on the host.
    pub name: String,
    /// The clone URL Slipway fetches from.
    pub url: String,
    /// The host's own id for the repository (may be empty).
    pub provider_repo_id: String,
}

/// One webhook trigger rule of an application: deliveries of `event` whose
/// payload passes `filter` start a run of `template`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerRule {
    /// `push` (a branch), `tag_push` or `pull_request` (opened or updated;
    /// GitLab's merge requests included).
    pub event: String,
    /// A CEL expression over `body` and `headers`; empty matches all.
    pub filter: String,
    /// The workflow template's path in the repository; empty means the
    /// application's `template_path`.
    pub template: String,
}

/// The latest run of an application, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    /// The run.
    pub run_id: String,
    /// The commit it ran.
    pub commit: Option<String>,
    /// That commit's message (first line).
    pub message: Option<String>,
    /// The ref it ran (`refs/heads/main`, `refs/tags/v1`).
    pub git_ref: Option<String>,
    /// Its status word (`queued`, `running`, `passed`, ...).
    pub status: String,
    /// Whether it has finished.
    pub completed: bool,
    /// When it was started (submitted).
    pub created_at: DateTime<Utc>,
}

/// An application: a repository of a project whose pushes, tags and
/// dispatches run the workflow template kept in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Its id (also the concurrency key of its runs).
    pub id: String,
    /// The project it belongs to.
    pub project_id: String,
    /// Its name, unique in the project.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Its repository.
    pub repository: Repository,
    /// The branch dispatches and schedules use when none is given.
    pub default_branch: String,
    /// The template's path in the repository (default
    /// `.slipway/workflow.yaml`).
    pub template_path: String,
    /// Webhook trigger rules.
    pub triggers: Vec<TriggerRule>,
    /// Whether a newer push cancels older queued or running runs of the
    /// same ref.
    pub cancel_superseded: bool,
    /// The webhook secret, sealed (never shown by any API).
    #[serde(skip)]
    pub webhook_secret: Option<String>,
    /// Its own permission matrix (`None`: the project roles' defaults).
    pub permissions: Option<Matrix>,
    /// Who created it.
    pub created_by: Option<Actor>,
    /// Who changed it last.
    pub updated_by: Option<Actor>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Its latest run, filled in by the store on reads.
    pub last_run: Option<LastRun>,
    /// The id of the named repository ([`NamedRepository`]) it clones
    /// from, if any: its clone URL and credentials then come from there.
    pub repository_id: Option<String>,
}

/// A named repository: a short name, unique in the server, for a clone
/// URL with its default branch and the credentials to fetch it (the
/// Deploy API's `:repository`; Zadig's code host + owner + name). It
/// belongs to a project, whose roles decide who sees and changes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRepository {
    /// Its id.
    pub id: String,
    /// The project it belongs to.
    pub project_id: String,
    /// Its name: a DNS label (`[a-z0-9]([a-z0-9-]*[a-z0-9])?`, at most
    /// 63 characters), unique in the server.
    pub name: String,
    /// The clone URL.
    pub url: String,
    /// The branch used when none is given.
    pub default_branch: String,
    /// The host's kind.
    pub provider: Provider,
    /// The owner (user, group or organisation) on the host.
    pub owner: Option<String>,
    /// The repository's name on the host.
    pub repo: Option<String>,
    /// The name of a secret of the project holding the credentials
    /// (`user:token`, or a token alone); never its value.
    pub credentials_secret: Option<String>,
    /// Who created it.
    pub created_by: Option<Actor>,
    /// Who changed it last.
    pub updated_by: Option<Actor>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A stored secret as lists show it: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretMeta {
    /// Its name.
    pub name: String,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When its value last changed.
    pub updated_at: DateTime<Utc>,
    /// Who set its value last.
    pub updated_by: Option<Actor>,
}

/// A user: a person or a service account. Tokens belong to users; what a
/// user may do comes from being a system admin or from their project roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: String,
    /// Its login name, unique (the same rules as other names).
    pub login: String,
    /// The name shown to people.
    pub display_name: String,
    /// Its e-mail address, unique when set (the trusted proxy's
    /// `Identity` header names users by it).
    pub email: Option<String>,
    /// A system admin may do everything.
    pub is_admin: bool,
    /// The login of the user who created it.
    pub created_by: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was disabled; a disabled user's tokens and sessions are
    /// refused.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A member of a project, with the user's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The project.
    pub project_id: String,
    /// The user.
    pub user_id: String,
    /// The user's login.
    pub login: String,
    /// The user's display name.
    pub display_name: String,
    /// Their role in the project.
    pub role: Role,
    /// When they became a member.
    pub created_at: DateTime<Utc>,
    /// When their role last changed.
    pub updated_at: DateTime<Utc>,
}

/// What authorization needs of a user, read together: the user, their
/// role in each project they are a member of, and the applications they
/// follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user.
    pub user: User,
    /// Project id → role.
    pub roles: Vec<(String, Role)>,
    /// Ids of the applications they follow.
    pub follows: Vec<String>,
}

/// What a cron schedule starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleTarget {
    /// A workflow's latest version, with its default params.
    Workflow,
    /// An application's template on its default branch (or `git_ref`).
    Application,
}

impl ScheduleTarget {
    /// Its lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleTarget::Workflow => "workflow",
            ScheduleTarget::Application => "application",
        }
    }

    /// The target called `name`, if any.
    pub fn parse(name: &str) -> Option<ScheduleTarget> {
        match name {
            "workflow" => Some(ScheduleTarget::Workflow),
            "application" => Some(ScheduleTarget::Application),
            _ => None,
        }
    }
}

/// A stored cron schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSchedule {
    /// Its id.
    pub id: String,
    /// What kind of thing it starts.
    pub target: ScheduleTarget,
    /// The workflow's or application's id.
    pub target_id: String,
    /// The expression as written (5 or 6 fields, or a shorthand).
    pub expression: String,
    /// An IANA time zone; `None` is UTC.
    pub timezone: Option<String>,
    /// For applications: the ref to run (empty: the default branch).
    pub git_ref: String,
    /// Params for the runs it starts.
    pub params: std::collections::BTreeMap<String, String>,
    /// Paused schedules start nothing.
    pub enabled: bool,
    /// The last fire time it started a run for; counting starts at
    /// `created_at` when it never fired.
    pub last_fired_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Smallest first.
    Asc,
    /// Largest first.
    #[default]
    Desc,
}

/// Which page of a list, sorted how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The page, from 1.
    pub page: u32,
    /// Items per page, 1 to [`PageRequest::MAX_PER_PAGE`].
    pub per_page: u32,
    /// The field to sort by (each list names the ones it accepts).
    pub sort: String,
    /// The direction.
    pub order: Order,
}

impl PageRequest {
    /// The most items a page holds.
    pub const MAX_PER_PAGE: u32 = 100;

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.per_page)
    }
}

/// A page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many there are in all.
    pub total: u64,
    /// This page, from 1.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
}

/// Where the catalog is kept (`slipway-store` implements it on SQL).
/// Unique names are enforced by the store, which reports a clash as
/// [`StoreError::Conflict`]-like [`CatalogStoreError::Duplicate`].
#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    /// Adds a project and, when `owner` names a user, makes that user its
    /// owner, together.
    async fn insert_project(
        &self,
        project: &Project,
        owner: Option<&str>,
    ) -> Result<(), CatalogStoreError>;
    /// A project.
    async fn project(&self, id: &str) -> Result<Option<Project>, CatalogStoreError>;
    /// The project named `name` (names are unique).
    async fn project_by_name(&self, name: &str) -> Result<Option<Project>, CatalogStoreError>;
    /// A page of projects, sorted by `name` or `created_at`; only those
    /// whose id is in `only` when it is given.
    async fn projects(
        &self,
        page: &PageRequest,
        only: Option<&[String]>,
    ) -> Result<Page<Project>, CatalogStoreError>;
    /// Replaces a project's name and description; false when it is gone.
    async fn update_project(&self, project: &Project) -> Result<bool, CatalogStoreError>;
    /// Deletes a project with everything in it (workflows and their
    /// versions, applications, named repositories, secrets, deliveries,
    /// schedules); false when it is gone.
    async fn delete_project(&self, id: &str) -> Result<bool, CatalogStoreError>;

    /// Adds a workflow with its first version, together.
    async fn insert_workflow(
        &self,
        workflow: &Workflow,
        first: &WorkflowVersion,
    ) -> Result<(), CatalogStoreError>;
    /// Adds the next version (`version.version` must be the latest plus
    /// one, else `Duplicate`: somebody else was faster).
    async fn add_version(&self, version: &WorkflowVersion) -> Result<(), CatalogStoreError>;
    /// A workflow.
    async fn workflow(&self, id: &str) -> Result<Option<Workflow>, CatalogStoreError>;
    /// A page of a project's workflows, sorted by `name` or `created_at`.
    async fn workflows(
        &self,
        project_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Workflow>, CatalogStoreError>;
    /// Every workflow id of a project.
    async fn workflow_ids(&self, project_id: &str) -> Result<Vec<String>, CatalogStoreError>;
    /// One version of a workflow.
    async fn version(
        &self,
        workflow_id: &str,
        version: i32,
    ) -> Result<Option<WorkflowVersion>, CatalogStoreError>;
    /// A page of a workflow's versions, newest first.
    async fn versions(
        &self,
        workflow_id: &str,
        page: &PageRequest,
    ) -> Result<Page<WorkflowVersion>, CatalogStoreError>;
    /// Deletes a workflow with its versions and schedules; false when it
    /// is gone.
    async fn delete_workflow(&self, id: &str) -> Result<bool, CatalogStoreError>;

    /// Adds a token whose secret hashes to `secret_hash`.
    async fn insert_token(
        &self,
        token: &ApiToken,
        secret_hash: &str,
    ) -> Result<(), CatalogStoreError>;
    /// The token whose secret hashes to `secret_hash`, revoked or not.
    async fn token_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<(ApiToken, String)>, CatalogStoreError>;
    /// Every token, newest first.
    async fn tokens(&self) -> Result<Vec<ApiToken>, CatalogStoreError>;
    /// Revokes a token; false when there is no such token.
    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool, CatalogStoreError>;
    /// Records a use of a token.
    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<(), CatalogStoreError>;
    /// How many tokens exist (revoked ones included).
    async fn count_tokens(&self) -> Result<u64, CatalogStoreError>;
    /// Adds `user` and a token of theirs, together (a service account
    /// made with its first token).
    async fn insert_user_with_token(
        &self,
        user: &User,
        token: &ApiToken,
        secret_hash: &str,
    ) -> Result<(), CatalogStoreError>;

    /// Adds a user; `Duplicate` naming `login` or `email` when taken.
    async fn insert_user(&self, user: &User) -> Result<(), CatalogStoreError>;
    /// A user by id.
    async fn user(&self, id: &str) -> Result<Option<User>, CatalogStoreError>;
    /// A user by login.
    async fn user_by_login(&self, login: &str) -> Result<Option<User>, CatalogStoreError>;
    /// A user by e-mail (exact, case-insensitive).
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, CatalogStoreError>;
    /// A page of users, sorted by `login` or `created_at`.
    async fn users(&self, page: &PageRequest) -> Result<Page<User>, CatalogStoreError>;
    /// Replaces a user's display name, e-mail, admin flag and disabled
    /// time; false when it is gone; `Duplicate` naming `email` when taken.
    async fn update_user(&self, user: &User) -> Result<bool, CatalogStoreError>;
    /// A user with their roles and follows, read together.
    async fn identity(&self, user_id: &str) -> Result<Option<Identity>, CatalogStoreError>;

    /// A project's members, by login.
    async fn members(&self, project_id: &str) -> Result<Vec<Member>, CatalogStoreError>;
    /// Makes `user_id` a member of `project_id` with `role`, or changes
    /// their role. `Refused` when that leaves the project without an
    /// owner; `Missing` when the project or the user is gone.
    async fn put_member(
        &self,
        project_id: &str,
        user_id: &str,
        role: Role,
        at: DateTime<Utc>,
    ) -> Result<(), CatalogStoreError>;
    /// Removes a member; false when they were not one; `Refused` when they
    /// are the project's last owner.
    async fn remove_member(
        &self,
        project_id: &str,
        user_id: &str,
    ) -> Result<bool, CatalogStoreError>;
    /// Records that `user_id` follows `app_id` (`follow`) or no longer
    /// does; idempotent; `Missing` when the application is gone.
    async fn set_follow(
        &self,
        app_id: &str,
        user_id: &str,
        follow: bool,
        at: DateTime<Utc>,
    ) -> Result<(), CatalogStoreError>;

    /// Adds an application (`last_run` is ignored).
    async fn insert_application(&self, app: &Application) -> Result<(), CatalogStoreError>;
    /// Adds an application and its first secrets (name and sealed value,
    /// set by its creator at its creation time), all or nothing.
    async fn insert_application_with_secrets(
        &self,
        app: &Application,
        sealed: &[(String, String)],
    ) -> Result<(), CatalogStoreError>;
    /// An application, with its latest run.
    async fn application(&self, id: &str) -> Result<Option<Application>, CatalogStoreError>;
    /// A page of a project's applications (every project's when
    /// `project_id` is `None`), sorted by `name`, `created_at` or
    /// `last_run_at` (when the latest run was started; applications that
    /// never ran sort as the oldest), optionally only those whose latest
    /// run has status `last_status`.
    /// When `only_projects` is given, only applications of those projects.
    async fn applications(
        &self,
        project_id: Option<&str>,
        only_projects: Option<&[String]>,
        last_status: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Application>, CatalogStoreError>;
    /// Replaces everything but the id, project, creation time and creator
    /// (`created_by`) and latest run; false when it is gone.
    async fn update_application(&self, app: &Application) -> Result<bool, CatalogStoreError>;
    /// Deletes an application with its secrets, deliveries and schedules;
    /// false when it is gone.
    async fn delete_application(&self, id: &str) -> Result<bool, CatalogStoreError>;
    /// Every application id of a project.
    async fn application_ids(&self, project_id: &str) -> Result<Vec<String>, CatalogStoreError>;
    /// Records `run_id` as the application's latest run.
    async fn set_last_run(&self, app_id: &str, run_id: &str) -> Result<(), CatalogStoreError>;

    /// Sets a secret's sealed value (creating it or replacing its value);
    /// true when it was created.
    async fn put_secret(
        &self,
        owner: &str,
        name: &str,
        sealed: &str,
        at: DateTime<Utc>,
        by: Option<&Actor>,
    ) -> Result<bool, CatalogStoreError>;
    /// The names and times of an owner's secrets, by name.
    async fn secrets(&self, owner: &str) -> Result<Vec<SecretMeta>, CatalogStoreError>;
    /// An owner's secrets with their sealed values, by name.
    async fn sealed_secrets(&self, owner: &str)
    -> Result<Vec<(String, String)>, CatalogStoreError>;
    /// Deletes a secret; false when there was none.
    async fn delete_secret(&self, owner: &str, name: &str) -> Result<bool, CatalogStoreError>;

    /// Records a webhook delivery id for an application; false when it
    /// was recorded before (the delivery is a repeat).
    async fn record_delivery(
        &self,
        app_id: &str,
        delivery_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, CatalogStoreError>;
    /// Forgets a delivery (its run could not be started, so a redelivery
    /// should be tried again).
    async fn forget_delivery(
        &self,
        app_id: &str,
        delivery_id: &str,
    ) -> Result<(), CatalogStoreError>;

    /// Adds a schedule.
    async fn insert_schedule(&self, schedule: &StoredSchedule) -> Result<(), CatalogStoreError>;
    /// A schedule.
    async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>, CatalogStoreError>;
    /// The schedules of one workflow or application, oldest first; every
    /// schedule when `target` is `None`.
    async fn schedules(
        &self,
        target: Option<(ScheduleTarget, &str)>,
    ) -> Result<Vec<StoredSchedule>, CatalogStoreError>;
    /// Replaces expression, time zone, ref, params and enabled; false
    /// when it is gone.
    async fn update_schedule(&self, schedule: &StoredSchedule) -> Result<bool, CatalogStoreError>;
    /// Deletes a schedule; false when it is gone.
    async fn delete_schedule(&self, id: &str) -> Result<bool, CatalogStoreError>;
    /// Moves `last_fired_at` to `fired_at` only if it is still `previous`
    /// (compare and set): true for exactly one of several servers racing
    /// to fire the same time.
    async fn claim_fire(
        &self,
        id: &str,
        previous: Option<DateTime<Utc>>,
        fired_at: DateTime<Utc>,
    ) -> Result<bool, CatalogStoreError>;

    /// Adds a named repository; `Duplicate` when its name is taken,
    /// `Missing` when its project is gone.
    async fn insert_repository(&self, repo: &NamedRepository) -> Result<(), CatalogStoreError>;
    /// A named repository by id.
    async fn repository(&self, id: &str) -> Result<Option<NamedRepository>, CatalogStoreError>;
    /// A named repository by name.
    async fn repository_by_name(
        &self,
        name: &str,
    ) -> Result<Option<NamedRepository>, CatalogStoreError>;
    /// A page of named repositories (of one project when `project_id` is
    /// given; of the projects in `only_projects` when that is given),
    /// sorted by `name` or `created_at`.
    async fn repositories(
        &self,
        project_id: Option<&str>,
        only_projects: Option<&[String]>,
        page: &PageRequest,
    ) -> Result<Page<NamedRepository>, CatalogStoreError>;
    /// Replaces everything but the id, project, creator and creation
    /// time; false when it is gone; `Duplicate` when the name is taken.
    async fn update_repository(&self, repo: &NamedRepository) -> Result<bool, CatalogStoreError>;
    /// Deletes a named repository; false when it is gone; `Refused` while
    /// an application points at it (checked in the same transaction).
    async fn delete_repository(&self, id: &str) -> Result<bool, CatalogStoreError>;

    /// Adds an entry to the audit trail.
    async fn insert_audit(&self, entry: &AuditEntry) -> Result<(), CatalogStoreError>;
    /// A page of the audit entries `filter` matches, by time (`page.order`;
    /// newest first by default), entries of the same time by id.
    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, CatalogStoreError>;
}

/// Why the catalog store failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogStoreError {
    /// A unique name or version is taken.
    #[error("{0}")]
    Duplicate(String),
    /// Something it refers to is gone.
    #[error("{0}")]
    Missing(String),
    /// The change would break a rule the store keeps (the last owner of a
    /// project).
    #[error("{0}")]
    Refused(String),
    /// The store itself failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
