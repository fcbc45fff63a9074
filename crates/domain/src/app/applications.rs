//! Applications and what starts their runs: stored secrets, webhook
//! deliveries, manual dispatch, redeploy (rollback), cron schedules and
//! cancel-superseded. See docs/applications.md.

use crate::app::{ACTIVE, App, Caller, DomainError, Result, check_name, new_id};
use crate::catalog::{
    Application, CatalogStore, Page, PageRequest, Repository, ScheduleTarget, SecretMeta,
    StoredSchedule, TriggerRule,
};
use crate::definition::{Format, WorkflowDefinition};
use crate::filter::{Filter, FilterError};
use crate::schedule::Schedule;
use crate::secrets::{self, SecretKey, SecretName, SecretOwner};
use crate::webhook::{self, EventKind, Headers, Provider};
use chrono::{DateTime, Utc};
use serde::Serialize;
use slipway_core::source::{CommitInfo, GitSource, Remote, SourceError};
use slipway_core::{
    Problem, RunId, RunQuery, RunRecord, RunRequest, SecretSource, Status, Trigger,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where an application's workflow template is, unless it says otherwise.
pub const DEFAULT_TEMPLATE_PATH: &str = ".slipway/workflow.yaml";
/// The branch an application uses unless it says otherwise.
pub const DEFAULT_BRANCH: &str = "main";
/// The longest secret value accepted, in bytes.
pub const MAX_SECRET_LEN: usize = 64 * 1024;
/// The trigger events a rule may name.
pub const TRIGGER_EVENTS: [&str; 3] = ["push", "tag_push", "pull_request"];

/// What a trigger detail records, by key (also read back by the store for
/// an application's latest run).
pub mod detail {
    pub use slipway_core::record::detail_keys::{AUTHOR, COMMIT, MESSAGE, REF};
    /// The application the run belongs to.
    pub const APPLICATION: &str = "application";
    /// The template path the plan was read from.
    pub const TEMPLATE: &str = "template";
    /// The run a redeploy repeats.
    pub const REPEATS: &str = "repeats";
    /// The runs a newer push cancelled (comma-separated).
    pub const SUPERSEDES: &str = "supersedes";
    /// The webhook delivery id.
    pub const DELIVERY: &str = "delivery";
    /// The webhook event name.
    pub const EVENT: &str = "event";
    /// The schedule that fired.
    pub const SCHEDULE: &str = "schedule";
    /// The fire time a schedule started the run for.
    pub const FIRE_TIME: &str = "fire_time";
}

/// A repository as given to create or update an application.
#[derive(Debug, Clone, Default)]
pub struct RepositoryInput {
    /// `github`, `gitlab`, `gitee` or `generic`.
    pub provider: Option<String>,
    /// The owner on the host.
    pub owner: Option<String>,
    /// The repository's name on the host.
    pub name: Option<String>,
    /// The clone URL.
    pub url: Option<String>,
    /// The host's id for it.
    pub provider_repo_id: Option<String>,
}

/// What creating or updating an application takes; on update, absent
/// fields keep their value.
#[derive(Debug, Clone, Default)]
pub struct ApplicationInput {
    /// Unique in the project.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Its repository (on update, the given fields replace).
    pub repository: Option<RepositoryInput>,
    /// Default `main`.
    pub default_branch: Option<String>,
    /// Default [`DEFAULT_TEMPLATE_PATH`].
    pub template_path: Option<String>,
    /// Webhook rules (replace all on update).
    pub triggers: Option<Vec<TriggerRule>>,
    /// Cancel older runs of a ref when a newer push arrives.
    pub cancel_superseded: Option<bool>,
    /// The webhook secret (write-only; empty removes it).
    pub webhook_secret: Option<String>,
}

/// A manual dispatch of an application.
#[derive(Debug, Clone, Default)]
pub struct DispatchInput {
    /// A branch or tag name, or a full ref (`refs/heads/main`,
    /// `refs/tags/v1`); required.
    pub git_ref: Option<String>,
    /// A commit id; the ref's head when absent.
    pub commit: Option<String>,
    /// The template's params.
    pub inputs: BTreeMap<String, serde_json::Value>,
}

/// What happened to a webhook delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum HookOutcome {
    /// A ping: nothing to do.
    Pong,
    /// This delivery id was handled before; nothing started.
    Duplicate {
        /// The delivery id.
        delivery: String,
    },
    /// No rule matched (or the event is not one rules name).
    Ignored {
        /// Why.
        reason: String,
    },
    /// A run was started.
    Started {
        /// The run.
        run_id: String,
        /// The rule that matched, by index.
        rule: usize,
    },
}

/// A schedule as given to create or update one.
#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    /// 5 or 6 fields, or `@hourly`-style; required on create.
    pub expression: Option<String>,
    /// An IANA zone; UTC when absent.
    pub timezone: Option<Option<String>>,
    /// For applications: the ref to run (default branch when empty).
    pub git_ref: Option<String>,
    /// Params for the runs.
    pub params: Option<BTreeMap<String, String>>,
    /// Paused when false.
    pub enabled: Option<bool>,
}

fn source_error(e: SourceError, path: &str) -> DomainError {
    match e {
        SourceError::Auth { .. } | SourceError::Fetch { .. } => {
            DomainError::Upstream(e.to_string())
        }
        SourceError::UrlRefused { .. } => {
            DomainError::Invalid(vec![Problem::new("repository.url", e.to_string())])
        }
        SourceError::RefNotFound { .. } | SourceError::Ambiguous { .. } => {
            DomainError::Invalid(vec![Problem::new("ref", e.to_string())])
        }
        SourceError::PathRefused { .. }
        | SourceError::PathNotFound { .. }
        | SourceError::WrongKind { .. }
        | SourceError::Parse { .. }
        | SourceError::Invalid { .. } => {
            DomainError::Invalid(vec![Problem::new(path, e.to_string())])
        }
        other => DomainError::Internal(other.to_string()),
    }
}

/// A relative path inside a repository: no `..`, no leading `/`, no
/// empty segment.
fn check_repo_path(path: &str, at: &str, problems: &mut Vec<Problem>) {
    if path.is_empty() {
        problems.push(Problem::new(at, "required"));
    } else if path.starts_with('/')
        || path
            .split('/')
            .any(|s| s.is_empty() || s == ".." || s == ".")
        || path.contains('\\')
        || path.chars().any(char::is_control)
    {
        problems.push(Problem::new(
            at,
            "must be a relative path inside the repository (no `..`, `.`, empty parts or leading `/`)",
        ));
    }
}

fn check_ref_name(name: &str, at: &str, problems: &mut Vec<Problem>) {
    if name.trim().is_empty() {
        problems.push(Problem::new(at, "required"));
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control())
        || name.contains("..")
        || name.starts_with('-')
    {
        problems.push(Problem::new(at, "is not a valid git ref name"));
    }
}

/// `refs/heads/<x>` for a bare branch name; a full ref stays as given.
fn full_ref(name: &str) -> String {
    if name.starts_with("refs/") {
        name.to_owned()
    } else {
        format!("refs/heads/{name}")
    }
}

fn format_of(path: &str) -> Format {
    if path.ends_with(".json") {
        Format::Json
    } else {
        Format::Yaml
    }
}

impl App {
    /// Sets the key that seals secrets (required for secrets and webhook
    /// secrets).
    pub fn with_secret_key(mut self, key: SecretKey) -> Self {
        self.secret_key = Some(Arc::new(key));
        self
    }

    /// Sets where application templates and commits are read from.
    pub fn with_git(mut self, git: Arc<dyn GitSource>) -> Self {
        self.git = Some(git);
        self
    }

    fn key(&self) -> Result<&SecretKey> {
        self.secret_key
            .as_deref()
            .ok_or_else(|| DomainError::Internal("no secret key is configured".into()))
    }

    fn git(&self) -> Result<&Arc<dyn GitSource>> {
        self.git
            .as_ref()
            .ok_or_else(|| DomainError::Internal("no git source is configured".into()))
    }

    /// A compiled filter, from the cache when its source was seen before;
    /// compiling (a thread of its own, see `Filter::compile`) runs on a
    /// blocking thread, never on the async workers.
    async fn filter(&self, source: &str) -> std::result::Result<Filter, FilterError> {
        if let Some(f) = crate::app::lock(&self.caches.filters).get(source) {
            return Ok(f.clone());
        }
        let owned = source.to_owned();
        let compiled = tokio::task::spawn_blocking(move || Filter::compile(&owned))
            .await
            .map_err(|e| FilterError::Compile {
                message: format!("the compiler task failed: {e}"),
            })??;
        let mut cache = crate::app::lock(&self.caches.filters);
        if cache.len() >= 4096 {
            cache.clear();
        }
        cache.insert(source.to_owned(), compiled.clone());
        Ok(compiled)
    }

    // ---- applications ----

    async fn check_triggers(&self, rules: &[TriggerRule], problems: &mut Vec<Problem>) {
        for (i, rule) in rules.iter().enumerate() {
            if !TRIGGER_EVENTS.contains(&rule.event.as_str()) {
                problems.push(Problem::new(
                    format!("triggers[{i}].event"),
                    format!("must be one of {}", TRIGGER_EVENTS.join(", ")),
                ));
            }
            if let Err(e) = self.filter(&rule.filter).await {
                problems.push(Problem::new(format!("triggers[{i}].filter"), e.to_string()));
            }
            if !rule.template.is_empty() {
                check_repo_path(&rule.template, &format!("triggers[{i}].template"), problems);
            }
        }
    }

    async fn apply_input(
        &self,
        app: &mut Application,
        input: ApplicationInput,
        creating: bool,
    ) -> Result<()> {
        let mut problems = Vec::new();
        if let Some(name) = input.name {
            app.name = name;
        }
        check_name("name", &app.name, &mut problems);
        if let Some(d) = input.description {
            app.description = d;
        }
        match input.repository {
            Some(r) => {
                match r.provider.map(|p| p.parse::<Provider>()) {
                    Some(Ok(p)) => app.repository.provider = p,
                    Some(Err(_)) => problems.push(Problem::new(
                        "repository.provider",
                        "must be one of github, gitlab, gitee, generic",
                    )),
                    None if creating => {
                        problems.push(Problem::new("repository.provider", "required"));
                    }
                    None => {}
                }
                if let Some(v) = r.owner {
                    app.repository.owner = v;
                }
                if let Some(v) = r.name {
                    app.repository.name = v;
                }
                if let Some(v) = r.url {
                    app.repository.url = v;
                }
                if let Some(v) = r.provider_repo_id {
                    app.repository.provider_repo_id = v;
                }
            }
            None if creating => problems.push(Problem::new("repository", "required")),
            None => {}
        }
        for (field, value) in [
            ("repository.owner", &app.repository.owner),
            ("repository.name", &app.repository.name),
        ] {
            if value.trim().is_empty() {
                problems.push(Problem::new(field, "required"));
            }
        }
        let url = &app.repository.url;
        if url.trim().is_empty() {
            problems.push(Problem::new("repository.url", "required"));
        } else if !["https://", "http://", "git://", "ssh://", "file://"]
            .iter()
            .any(|s| url.starts_with(s))
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            problems.push(Problem::new(
                "repository.url",
                "must be an https://, http://, git://, ssh:// or file:// URL",
            ));
        }
        if let Some(b) = input.default_branch {
            app.default_branch = b;
        }
        check_ref_name(&app.default_branch, "default_branch", &mut problems);
        if let Some(t) = input.template_path {
            app.template_path = t;
        }
        check_repo_path(&app.template_path, "template_path", &mut problems);
        if let Some(rules) = input.triggers {
            app.triggers = rules;
        }
        self.check_triggers(&app.triggers, &mut problems).await;
        if let Some(c) = input.cancel_superseded {
            app.cancel_superseded = c;
        }
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        if let Some(secret) = input.webhook_secret {
            app.webhook_secret = if secret.is_empty() {
                None
            } else {
                Some(secrets::seal(self.key()?, &secret, &webhook_aad(&app.id))?)
            };
        }
        Ok(())
    }

    /// Creates an application in a project.
    pub async fn create_application(
        &self,
        project_id: &str,
        input: ApplicationInput,
    ) -> Result<Application> {
        self.project(project_id).await?;
        let now = Utc::now();
        let mut app = Application {
            id: new_id(),
            project_id: project_id.to_owned(),
            name: String::new(),
            description: String::new(),
            repository: Repository {
                provider: Provider::Generic,
                owner: String::new(),
                name: String::new(),
                url: String::new(),
                provider_repo_id: String::new(),
            },
            default_branch: DEFAULT_BRANCH.to_owned(),
            template_path: DEFAULT_TEMPLATE_PATH.to_owned(),
            triggers: Vec::new(),
            cancel_superseded: false,
            webhook_secret: None,
            created_at: now,
            updated_at: now,
            last_run: None,
        };
        self.apply_input(&mut app, input, true).await?;
        self.catalog.insert_application(&app).await?;
        Ok(app)
    }

    /// An application, with its latest run.
    pub async fn application(&self, id: &str) -> Result<Application> {
        self.catalog
            .application(id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "application",
                id: id.to_owned(),
            })
    }

    /// A page of applications (of one project, or all), sorted by `name`,
    /// `created_at` or `last_run_at`, optionally only those whose latest
    /// run has `last_status`.
    pub async fn applications(
        &self,
        project_id: Option<&str>,
        last_status: Option<Status>,
        page: &PageRequest,
    ) -> Result<Page<Application>> {
        if let Some(p) = project_id {
            self.project(p).await?;
        }
        let status = last_status.map(|s| s.as_str());
        Ok(self.catalog.applications(project_id, status, page).await?)
    }

    /// Changes an application; absent fields keep their value.
    pub async fn update_application(
        &self,
        id: &str,
        input: ApplicationInput,
    ) -> Result<Application> {
        let mut app = self.application(id).await?;
        self.apply_input(&mut app, input, false).await?;
        app.updated_at = Utc::now();
        if !self.catalog.update_application(&app).await? {
            return Err(DomainError::NotFound {
                kind: "application",
                id: id.to_owned(),
            });
        }
        self.application(id).await
    }

    /// Deletes an application with its secrets and schedules; refused
    /// while it has active runs.
    pub async fn delete_application(&self, id: &str) -> Result<()> {
        self.application(id).await?;
        self.refuse_active(&[id.to_owned()], "application").await?;
        if !self.catalog.delete_application(id).await? {
            return Err(DomainError::NotFound {
                kind: "application",
                id: id.to_owned(),
            });
        }
        Ok(())
    }

    // ---- secrets ----

    /// The owner's store key, once the owner is known to exist.
    async fn owner_key(&self, owner: &SecretOwner<'_>) -> Result<String> {
        match owner {
            SecretOwner::Project(id) => self.project(id).await.map(|_| ()),
            SecretOwner::Application(id) => self.application(id).await.map(|_| ()),
        }?;
        Ok(owner.key())
    }

    /// Sets a secret (creating or rotating it); the next run sees the new
    /// value. Returns whether it was created.
    pub async fn put_secret(
        &self,
        owner: SecretOwner<'_>,
        name: &str,
        value: &str,
    ) -> Result<bool> {
        let name = SecretName::new(name)
            .map_err(|e| DomainError::Invalid(vec![Problem::new("name", e.to_string())]))?;
        if value.is_empty() {
            return Err(DomainError::Invalid(vec![Problem::new(
                "value", "required",
            )]));
        }
        if value.len() > MAX_SECRET_LEN {
            return Err(DomainError::Invalid(vec![Problem::new(
                "value",
                format!("at most {MAX_SECRET_LEN} bytes"),
            )]));
        }
        let key = self.owner_key(&owner).await?;
        let sealed = secrets::seal(self.key()?, value, &owner.aad(&name))?;
        Ok(self
            .catalog
            .put_secret(&key, name.as_str(), &sealed, Utc::now())
            .await?)
    }

    /// The names and times of an owner's secrets (never their values).
    pub async fn secrets(&self, owner: SecretOwner<'_>) -> Result<Vec<SecretMeta>> {
        let key = self.owner_key(&owner).await?;
        Ok(self.catalog.secrets(&key).await?)
    }

    /// Deletes a secret.
    pub async fn delete_secret(&self, owner: SecretOwner<'_>, name: &str) -> Result<()> {
        let key = self.owner_key(&owner).await?;
        if !self.catalog.delete_secret(&key, name).await? {
            return Err(DomainError::NotFound {
                kind: "secret",
                id: name.to_owned(),
            });
        }
        Ok(())
    }

    fn run_secret_source(&self) -> RunSecrets {
        RunSecrets {
            catalog: self.catalog.clone(),
            key: self.secret_key.clone(),
        }
    }

    /// The opened secrets of a project, and of an application (whose win
    /// on the same name), for a run.
    pub(crate) async fn run_secrets(
        &self,
        project_id: &str,
        app_id: Option<&str>,
    ) -> Result<BTreeMap<String, String>> {
        self.run_secret_source().of(project_id, app_id).await
    }

    /// The secrets a run of `key` (a workflow's or an application's id)
    /// gets; none when the key names neither.
    pub(crate) async fn secrets_for_key(
        &self,
        key: Option<&str>,
    ) -> Result<BTreeMap<String, String>> {
        self.run_secret_source().for_key(key).await
    }

    // ---- runs of applications ----

    fn remote(app: &Application) -> Remote {
        Remote::new(app.repository.url.clone())
    }

    /// Starts a run of `app`'s template at `commit`: reads the template
    /// there, checks `inputs`, checks the repository out at that commit
    /// for every shell job that names no repository of its own, and
    /// records commit, ref, message and author.
    async fn start_app_run(
        &self,
        app: &Application,
        commit: &CommitInfo,
        git_ref: &str,
        template: &str,
        inputs: &BTreeMap<String, serde_json::Value>,
        mut trigger: Trigger,
    ) -> Result<RunRecord> {
        let git = self.git()?;
        let bytes = git
            .read_file(&Self::remote(app), &commit.id, template)
            .await
            .map_err(|e| source_error(e, "template"))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            DomainError::Invalid(vec![Problem::new("template", "is not UTF-8 text")])
        })?;
        let def = self
            .check_definition(&text, format_of(template))
            .map_err(|e| match e {
                DomainError::Invalid(problems) => DomainError::Invalid(
                    problems
                        .into_iter()
                        .map(|p| {
                            Problem::new(format!("template({template}).{}", p.path), p.message)
                        })
                        .collect(),
                ),
                other => other,
            })?;
        self.start_compiled(app, &def, commit, git_ref, template, inputs, &mut trigger)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn start_compiled(
        &self,
        app: &Application,
        def: &WorkflowDefinition,
        commit: &CommitInfo,
        git_ref: &str,
        template: &str,
        inputs: &BTreeMap<String, serde_json::Value>,
        trigger: &mut Trigger,
    ) -> Result<RunRecord> {
        let (mut plan, params) = def.compile(inputs).map_err(crate::app::params_problems)?;
        for stage in &mut plan.stages {
            for job in &mut stage.jobs {
                if job.kind == "shell"
                    && let serde_json::Value::Object(spec) = &mut job.spec
                    && !spec.contains_key("repo")
                {
                    spec.insert(
                        "repo".into(),
                        serde_json::json!({"url": app.repository.url, "ref": commit.id}),
                    );
                }
            }
        }
        let d = &mut trigger.detail;
        d.insert(detail::APPLICATION.into(), app.id.clone());
        d.insert(detail::COMMIT.into(), commit.id.clone());
        d.insert(detail::REF.into(), git_ref.to_owned());
        d.insert(detail::MESSAGE.into(), commit.summary().to_owned());
        d.insert(
            detail::AUTHOR.into(),
            format!("{} <{}>", commit.author.name, commit.author.email),
        );
        d.insert(detail::TEMPLATE.into(), template.to_owned());
        let superseded = if app.cancel_superseded && trigger.kind == "webhook" {
            self.active_runs_of_ref(&app.id, git_ref).await?
        } else {
            Vec::new()
        };
        if !superseded.is_empty() {
            trigger.detail.insert(
                detail::SUPERSEDES.into(),
                superseded
                    .iter()
                    .map(RunId::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        let secrets = self.run_secrets(&app.project_id, Some(&app.id)).await?;
        let request = RunRequest {
            plan,
            params,
            trigger: trigger.clone(),
            workflow_key: Some(app.id.clone()),
            secrets,
        };
        let id = self.engine.submit(request).await?;
        self.catalog.set_last_run(&app.id, id.as_str()).await?;
        for old in superseded {
            if let Err(e) = self
                .engine
                .cancel(&old, &format!("cancelled: superseded by run {id}"))
                .await
            {
                tracing::warn!(run = %old, error = %e, "cancelling a superseded run");
            }
        }
        Ok(self.engine.get(&id).await?)
    }

    /// Active runs of an application started for `git_ref`, oldest first.
    async fn active_runs_of_ref(&self, app_id: &str, git_ref: &str) -> Result<Vec<RunId>> {
        let runs = self
            .engine
            .store()
            .list_runs(&RunQuery {
                workflow_key: Some(app_id.to_owned()),
                statuses: ACTIVE.to_vec(),
                oldest_first: true,
                limit: 1000,
                offset: 0,
            })
            .await?;
        Ok(runs
            .into_iter()
            .filter(|r| r.trigger.detail.get(detail::REF).map(String::as_str) == Some(git_ref))
            .map(|r| r.id)
            .collect())
    }

    /// Resolves `commit` (or the head of `git_ref`) after bringing the
    /// mirror up to date.
    async fn resolve(
        &self,
        app: &Application,
        git_ref: &str,
        commit: Option<&str>,
    ) -> Result<CommitInfo> {
        let git = self.git()?;
        let remote = Self::remote(app);
        git.refresh(&remote)
            .await
            .map_err(|e| source_error(e, "repository.url"))?;
        let wanted = commit.unwrap_or(git_ref);
        git.resolve(&remote, wanted).await.map_err(|e| {
            let at = if commit.is_some() { "commit" } else { "ref" };
            match source_error(e, at) {
                DomainError::Invalid(p) => DomainError::Invalid(
                    p.into_iter().map(|p| Problem::new(at, p.message)).collect(),
                ),
                other => other,
            }
        })
    }

    /// Starts a run of an application by hand, at a ref (and optionally a
    /// commit); the template is read at that commit.
    pub async fn dispatch(
        &self,
        app_id: &str,
        input: DispatchInput,
        by: Option<&Caller>,
    ) -> Result<RunRecord> {
        let app = self.application(app_id).await?;
        let mut problems = Vec::new();
        let git_ref = input.git_ref.unwrap_or_default();
        check_ref_name(&git_ref, "ref", &mut problems);
        if let Some(c) = &input.commit
            && (c.len() < 4 || c.len() > 64 || !c.chars().all(|c| c.is_ascii_hexdigit()))
        {
            problems.push(Problem::new("commit", "must be a hexadecimal commit id"));
        }
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        let commit = self
            .resolve(&app, &git_ref, input.commit.as_deref())
            .await?;
        let shown_ref = if git_ref.starts_with("refs/") {
            git_ref.clone()
        } else {
            commit.refname.clone().unwrap_or_else(|| full_ref(&git_ref))
        };
        let mut trigger = Trigger::new("dispatch");
        trigger.by = by.map(|c| c.name.clone());
        self.start_app_run(
            &app,
            &commit,
            &shown_ref,
            &app.template_path.clone(),
            &input.inputs,
            trigger,
        )
        .await
    }

    /// Starts a new run that repeats a finished run exactly: the same
    /// plan (so the same commit and template content) and params, with
    /// today's secrets. A rollback when the repeated run is an older one.
    pub async fn redeploy(&self, run_id: &str, by: Option<&Caller>) -> Result<RunRecord> {
        let old = self.run(run_id).await?;
        if !old.status.is_terminal() {
            return Err(DomainError::Conflict(format!(
                "run {run_id} is {}; only a finished run can be repeated",
                old.status
            )));
        }
        let mut trigger = Trigger::new("redeploy");
        trigger.by = by.map(|c| c.name.clone());
        for key in [
            detail::APPLICATION,
            detail::COMMIT,
            detail::REF,
            detail::MESSAGE,
            detail::AUTHOR,
            detail::TEMPLATE,
            "workflow_version",
        ] {
            if let Some(v) = old.trigger.detail.get(key) {
                trigger.detail.insert(key.to_owned(), v.clone());
            }
        }
        trigger
            .detail
            .insert(detail::REPEATS.into(), old.id.to_string());
        let secrets = self.secrets_for_key(old.workflow_key.as_deref()).await?;
        let request = RunRequest {
            plan: old.plan.clone(),
            params: old.params.clone(),
            trigger,
            workflow_key: old.workflow_key.clone(),
            secrets,
        };
        let id = self.engine.submit(request).await?;
        if let Some(app) = old.trigger.detail.get(detail::APPLICATION)
            && self.catalog.application(app).await?.is_some()
        {
            self.catalog.set_last_run(app, id.as_str()).await?;
        }
        Ok(self.engine.get(&id).await?)
    }

    // ---- webhooks ----

    /// Handles a webhook delivery for an application: verifies it
    /// (nothing else happens when that fails), answers a ping, ignores a
    /// delivery id seen before, and starts a run of the first rule whose
    /// event and filter match, at the pushed commit.
    pub async fn receive_webhook(
        &self,
        provider: Provider,
        app_id: &str,
        headers: &Headers,
        body: &[u8],
    ) -> Result<HookOutcome> {
        let app = self.application(app_id).await?;
        let Some(sealed) = &app.webhook_secret else {
            return Err(DomainError::Unauthorized(
                "the application has no webhook secret".into(),
            ));
        };
        let secret = secrets::open(self.key()?, sealed, &webhook_aad(&app.id))?;
        webhook::verify(provider, headers, body, &secret, Utc::now())
            .map_err(|e| DomainError::Unauthorized(e.to_string()))?;
        if provider != app.repository.provider {
            return Err(DomainError::Invalid(vec![Problem::new(
                "provider",
                format!(
                    "the application's repository is on {}",
                    app.repository.provider
                ),
            )]));
        }
        let event = webhook::parse_event(provider, headers, body)
            .map_err(|e| DomainError::Invalid(vec![Problem::new("body", e.to_string())]))?;
        let event_name = match &event.kind {
            EventKind::Ping => return Ok(HookOutcome::Pong),
            EventKind::Push if !event.deleted => "push",
            EventKind::TagPush if !event.deleted => "tag_push",
            EventKind::PullRequest { action } if action.is_opened_or_updated() => "pull_request",
            _ => {
                return Ok(HookOutcome::Ignored {
                    reason: format!("event `{}` starts nothing", event.name),
                });
            }
        };
        if !self
            .catalog
            .record_delivery(&app.id, &event.delivery_id, Utc::now())
            .await?
        {
            return Ok(HookOutcome::Duplicate {
                delivery: event.delivery_id,
            });
        }
        let outcome = self
            .run_matching_rule(&app, &event, event_name, headers)
            .await;
        if outcome.is_err() {
            // Nothing started: let a redelivery try again.
            let _ = self
                .catalog
                .forget_delivery(&app.id, &event.delivery_id)
                .await;
        }
        outcome
    }

    async fn run_matching_rule(
        &self,
        app: &Application,
        event: &webhook::Event,
        event_name: &str,
        headers: &Headers,
    ) -> Result<HookOutcome> {
        let header_map: BTreeMap<String, String> = match headers.to_json() {
            serde_json::Value::Object(m) => m
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.to_ascii_lowercase(), s.to_owned())))
                .collect(),
            _ => BTreeMap::new(),
        };
        let mut matched = None;
        for (i, rule) in app.triggers.iter().enumerate() {
            if rule.event != event_name {
                continue;
            }
            let filter = match self.filter(&rule.filter).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(application = %app.id, rule = i, error = %e, "stored filter does not compile");
                    continue;
                }
            };
            if filter.matches(&event.body, &header_map) {
                matched = Some((i, rule));
                break;
            }
        }
        let Some((i, rule)) = matched else {
            return Ok(HookOutcome::Ignored {
                reason: format!("no trigger rule matched this `{event_name}` event"),
            });
        };
        let git_ref = event.git_ref.clone().ok_or_else(|| {
            DomainError::Invalid(vec![Problem::new("body", "no ref in the event")])
        })?;
        let commit_id = event.commit.clone().ok_or_else(|| {
            DomainError::Invalid(vec![Problem::new("body", "no commit in the event")])
        })?;
        let commit = self.resolve(app, &git_ref, Some(&commit_id)).await?;
        let template = if rule.template.is_empty() {
            app.template_path.clone()
        } else {
            rule.template.clone()
        };
        let trigger = Trigger::new("webhook")
            .with(detail::EVENT, event_name)
            .with(detail::DELIVERY, event.delivery_id.clone());
        let run = self
            .start_app_run(app, &commit, &git_ref, &template, &BTreeMap::new(), trigger)
            .await?;
        Ok(HookOutcome::Started {
            run_id: run.id.to_string(),
            rule: i,
        })
    }

    // ---- schedules ----

    async fn check_target(&self, target: ScheduleTarget, id: &str) -> Result<()> {
        match target {
            ScheduleTarget::Workflow => self.workflow(id).await.map(|_| ()),
            ScheduleTarget::Application => self.application(id).await.map(|_| ()),
        }
    }

    fn apply_schedule(s: &mut StoredSchedule, input: ScheduleInput, creating: bool) -> Result<()> {
        let mut problems = Vec::new();
        if let Some(e) = input.expression {
            s.expression = e;
        } else if creating {
            problems.push(Problem::new("expression", "required"));
        }
        if let Some(tz) = input.timezone {
            s.timezone = tz.filter(|t| !t.is_empty());
        }
        if let Some(r) = input.git_ref {
            s.git_ref = r;
        }
        if !s.git_ref.is_empty() {
            check_ref_name(&s.git_ref, "ref", &mut problems);
        }
        if let Some(p) = input.params {
            s.params = p;
        }
        if let Some(e) = input.enabled {
            s.enabled = e;
        }
        if problems.is_empty()
            && let Err(e) = Schedule::parse(&s.expression, s.timezone.as_deref())
        {
            let at = if matches!(e, crate::schedule::ScheduleError::Timezone { .. }) {
                "timezone"
            } else {
                "expression"
            };
            problems.push(Problem::new(at, e.to_string()));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(problems))
        }
    }

    /// Adds a cron schedule to a workflow or an application.
    pub async fn create_schedule(
        &self,
        target: ScheduleTarget,
        target_id: &str,
        input: ScheduleInput,
    ) -> Result<StoredSchedule> {
        self.check_target(target, target_id).await?;
        let now = Utc::now();
        let mut s = StoredSchedule {
            id: new_id(),
            target,
            target_id: target_id.to_owned(),
            expression: String::new(),
            timezone: None,
            git_ref: String::new(),
            params: BTreeMap::new(),
            enabled: true,
            last_fired_at: None,
            created_at: now,
            updated_at: now,
        };
        Self::apply_schedule(&mut s, input, true)?;
        self.catalog.insert_schedule(&s).await?;
        Ok(s)
    }

    /// A schedule.
    pub async fn schedule(&self, id: &str) -> Result<StoredSchedule> {
        self.catalog
            .schedule(id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "schedule",
                id: id.to_owned(),
            })
    }

    /// The schedules of a workflow or application.
    pub async fn schedules(
        &self,
        target: ScheduleTarget,
        target_id: &str,
    ) -> Result<Vec<StoredSchedule>> {
        self.check_target(target, target_id).await?;
        Ok(self.catalog.schedules(Some((target, target_id))).await?)
    }

    /// Changes a schedule; absent fields keep their value.
    pub async fn update_schedule(&self, id: &str, input: ScheduleInput) -> Result<StoredSchedule> {
        let mut s = self.schedule(id).await?;
        Self::apply_schedule(&mut s, input, false)?;
        s.updated_at = Utc::now();
        if !self.catalog.update_schedule(&s).await? {
            return Err(DomainError::NotFound {
                kind: "schedule",
                id: id.to_owned(),
            });
        }
        Ok(s)
    }

    /// Deletes a schedule.
    pub async fn delete_schedule(&self, id: &str) -> Result<()> {
        if !self.catalog.delete_schedule(id).await? {
            return Err(DomainError::NotFound {
                kind: "schedule",
                id: id.to_owned(),
            });
        }
        Ok(())
    }

    /// Starts the runs every schedule owes at `now`: at most one per
    /// schedule (the latest fire time since it last fired: after downtime
    /// one catch-up run, not one per missed time). Several servers may
    /// call this; each fire time is claimed by exactly one. Returns the
    /// runs started. A schedule whose target fails to start is logged and
    /// its fire time still counts as used.
    pub async fn fire_due_schedules(&self, now: DateTime<Utc>) -> Result<Vec<RunId>> {
        let mut started = Vec::new();
        for s in self.catalog.schedules(None).await? {
            if !s.enabled {
                continue;
            }
            let schedule = match Schedule::parse(&s.expression, s.timezone.as_deref()) {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(schedule = %s.id, error = %e, "stored schedule does not parse");
                    continue;
                }
            };
            // Counting starts when the schedule was made.
            let since = s.last_fired_at.unwrap_or(s.created_at);
            let Some(fire) = schedule.due(Some(since), now) else {
                continue;
            };
            if !self
                .catalog
                .claim_fire(&s.id, s.last_fired_at, fire)
                .await?
            {
                continue;
            }
            match self.start_scheduled(&s, fire).await {
                Ok(id) => started.push(id),
                Err(e) => {
                    tracing::warn!(schedule = %s.id, error = %e, "scheduled run did not start");
                }
            }
        }
        Ok(started)
    }

    async fn start_scheduled(&self, s: &StoredSchedule, fire: DateTime<Utc>) -> Result<RunId> {
        let trigger = Trigger::new("cron")
            .with(detail::SCHEDULE, s.id.clone())
            .with("expression", s.expression.clone())
            .with(detail::FIRE_TIME, fire.to_rfc3339());
        let inputs: BTreeMap<String, serde_json::Value> = s
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        match s.target {
            ScheduleTarget::Workflow => {
                let run = self.start_run(&s.target_id, None, &inputs, trigger).await?;
                Ok(run.id)
            }
            ScheduleTarget::Application => {
                let app = self.application(&s.target_id).await?;
                let git_ref = if s.git_ref.is_empty() {
                    app.default_branch.clone()
                } else {
                    s.git_ref.clone()
                };
                let commit = self.resolve(&app, &git_ref, None).await?;
                let shown = commit.refname.clone().unwrap_or_else(|| full_ref(&git_ref));
                let template = app.template_path.clone();
                let run = self
                    .start_app_run(&app, &commit, &shown, &template, &inputs, trigger)
                    .await?;
                Ok(run.id)
            }
        }
    }
}

/// The secrets of runs, read from the catalog and opened with the key:
/// what [`App`] gives the runs it submits, and core's [`SecretSource`] for
/// the runs the engine resumes by itself after a restart.
#[derive(Clone)]
pub struct RunSecrets {
    catalog: Arc<dyn CatalogStore>,
    key: Option<Arc<SecretKey>>,
}

impl std::fmt::Debug for RunSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSecrets").finish_non_exhaustive()
    }
}

impl RunSecrets {
    /// Secrets from `catalog`, opened with `key`.
    pub fn new(catalog: Arc<dyn CatalogStore>, key: SecretKey) -> Self {
        RunSecrets {
            catalog,
            key: Some(Arc::new(key)),
        }
    }

    /// A project's secrets, then an application's (which win on the same
    /// name).
    async fn of(&self, project_id: &str, app_id: Option<&str>) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let mut owners = vec![SecretOwner::Project(project_id)];
        owners.extend(app_id.map(SecretOwner::Application));
        for owner in owners {
            let sealed = self.catalog.sealed_secrets(&owner.key()).await?;
            if sealed.is_empty() {
                continue;
            }
            let secret_key = self
                .key
                .as_deref()
                .ok_or_else(|| DomainError::Internal("no secret key is configured".into()))?;
            for (name, value) in sealed {
                let checked = SecretName::new(name.as_str())
                    .map_err(|e| DomainError::Internal(format!("stored secret name: {e}")))?;
                let aad = owner.aad(&checked);
                out.insert(name, secrets::open(secret_key, &value, &aad)?);
            }
        }
        Ok(out)
    }

    /// The secrets of a run whose concurrency key is `key` (an
    /// application's or a workflow's id); none when it names neither.
    async fn for_key(&self, key: Option<&str>) -> Result<BTreeMap<String, String>> {
        let Some(key) = key else {
            return Ok(BTreeMap::new());
        };
        if let Some(app) = self.catalog.application(key).await? {
            return self.of(&app.project_id, Some(&app.id)).await;
        }
        if let Some(wf) = self.catalog.workflow(key).await? {
            return self.of(&wf.project_id, None).await;
        }
        Ok(BTreeMap::new())
    }
}

#[async_trait::async_trait]
impl SecretSource for RunSecrets {
    async fn secrets_for(
        &self,
        run: &RunRecord,
    ) -> std::result::Result<BTreeMap<String, String>, slipway_core::StoreError> {
        self.for_key(run.workflow_key.as_deref())
            .await
            .map_err(|e| slipway_core::StoreError::Backend(e.to_string()))
    }
}

/// The AAD of an application's webhook secret.
fn webhook_aad(app_id: &str) -> String {
    format!("application/{app_id}/webhook")
}
