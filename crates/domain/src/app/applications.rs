//! Applications: a repository bound to trigger rules, a template path
//! and a webhook secret. What starts their runs is in `dispatch`,
//! `webhooks` and `schedules`; see docs/applications.md.

use super::permissions::On;
use super::{App, Caller, DomainError, Result, check_name, lock, new_id};
use crate::access::Permission;
use crate::catalog::{Application, Page, PageRequest, Repository, TriggerRule};
use crate::error::OrNotFound;
use crate::filter::{Filter, FilterError};
use crate::secrets;
use crate::webhook::Provider;
use chrono::Utc;
use slipway_core::{Problem, Status};
use std::collections::BTreeMap;

/// Where an application's workflow template is, unless it says otherwise.
pub const DEFAULT_TEMPLATE_PATH: &str = ".slipway/workflow.yaml";
/// The branch an application uses unless it says otherwise.
pub const DEFAULT_BRANCH: &str = "main";
/// The longest secret value accepted, in bytes.
pub const MAX_SECRET_LEN: usize = crate::limits::MAX_VALUE_BYTES;
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
    /// Its first secrets, by name (create only: stored with the
    /// application, all or nothing; later changes go through
    /// [`App::put_secret`]).
    pub secrets: BTreeMap<String, String>,
    /// A named repository of the same project, by name or id: the
    /// application then clones from its URL with its credentials (the
    /// `repository` fields not given are filled from it); empty on update
    /// stops using one.
    pub repository_ref: Option<String>,
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

pub(crate) fn check_ref_name(name: &str, at: &str, problems: &mut Vec<Problem>) {
    if name.trim().is_empty() {
        problems.push(Problem::new(at, "required"));
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control())
        || name.contains("..")
        || name.starts_with('-')
    {
        problems.push(Problem::new(at, "is not a valid git ref name"));
    }
}

impl App {
    /// A compiled filter, from the cache when its source was seen before;
    /// compiling (a thread of its own, see `Filter::compile`) runs on a
    /// blocking thread, never on the async workers.
    pub(crate) async fn filter(&self, source: &str) -> std::result::Result<Filter, FilterError> {
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
        let named = match input.repository_ref.as_deref() {
            Some("") => {
                app.repository_id = None;
                None
            }
            Some(reference) => {
                match self
                    .repository_for_application(&app.project_id, reference)
                    .await
                {
                    Ok(r) => Some(r),
                    Err(DomainError::Invalid(p)) => {
                        problems.extend(p);
                        None
                    }
                    Err(other) => return Err(other),
                }
            }
            None => None,
        };
        if let Some(r) = &named {
            if input.repository.as_ref().is_some_and(|r| r.url.is_some()) {
                problems.push(Problem::new(
                    "repository.url",
                    "comes from `repository_ref`; leave it out",
                ));
            }
            app.repository_id = Some(r.id.clone());
            app.repository.url = r.url.clone();
            if creating {
                app.repository.provider = r.provider;
                app.repository.owner = r.owner.clone().unwrap_or_else(|| r.name.clone());
                app.repository.name = r.repo.clone().unwrap_or_else(|| r.name.clone());
                if input.default_branch.is_none() {
                    app.default_branch = r.default_branch.clone();
                }
            }
        }
        // A reference that names no usable repository is its own problem:
        // the repository fields it would have filled are not blamed too.
        let ref_failed = input
            .repository_ref
            .as_deref()
            .is_some_and(|r| !r.is_empty())
            && named.is_none();
        let repository_given = ref_failed || named.is_some() || app.repository_id.is_some();
        match input.repository {
            Some(r) => {
                match r.provider.map(|p| p.parse::<Provider>()) {
                    Some(Ok(p)) => app.repository.provider = p,
                    Some(Err(_)) => problems.push(Problem::new(
                        "repository.provider",
                        "must be one of github, gitlab, gitee, generic",
                    )),
                    None if creating && !repository_given => {
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
            None if creating && !repository_given => {
                problems.push(Problem::new("repository", "required"));
            }
            None => {}
        }
        for (field, value) in [
            ("repository.owner", &app.repository.owner),
            ("repository.name", &app.repository.name),
        ] {
            if value.trim().is_empty() && !ref_failed {
                problems.push(Problem::new(field, "required"));
            }
        }
        if let Some(why) = super::repositories::url_problem(&app.repository.url)
            && !ref_failed
        {
            problems.push(Problem::new("repository.url", why));
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
        if !creating && !input.secrets.is_empty() {
            problems.push(Problem::new(
                "secrets",
                "only set when the application is created; change them with the secrets routes",
            ));
        }
        for (name, value) in &input.secrets {
            let at = format!("secrets.{name}");
            if let Err(e) = secrets::SecretName::new(name) {
                problems.push(Problem::new(&at, e.to_string()));
            }
            if let Err(DomainError::Invalid(mut p)) = crate::limits::check_secret_value(value) {
                problems.extend(p.drain(..).map(|p| Problem::new(&at, p.message)));
            }
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

    /// Creates an application in a project, for a caller who may modify
    /// the project; the caller is recorded as its creator. Its first
    /// secrets are stored with it, all or nothing.
    pub async fn create_application(
        &self,
        by: &Caller,
        project_id: &str,
        input: ApplicationInput,
    ) -> Result<Application> {
        let project = self.find_project(project_id).await?;
        self.check(
            by,
            Permission::Modify,
            &project.id,
            On::Project,
            "this project",
        )?;
        let (app, sealed) = self.new_application(by, &project.id, input).await?;
        self.catalog
            .insert_application_with_secrets(&app, &sealed)
            .await?;
        Ok(app)
    }

    /// Creates an application in the project named `project`, which is
    /// made (with the caller as its owner) when there is none: for the
    /// dialects whose platforms have no projects. The input is checked
    /// before anything is written, so a refused application leaves no
    /// project behind; otherwise as [`App::create_application`].
    pub async fn create_application_in_named_project(
        &self,
        by: &Caller,
        project: &str,
        input: ApplicationInput,
    ) -> Result<Application> {
        // Only a repository of an existing project can be named.
        let existing = match input.repository_ref {
            Some(_) => self.catalog.project_by_name(project).await?,
            None => None,
        };
        let in_project = existing.as_ref().map_or("", |p| p.id.as_str());
        let (mut app, sealed) = self.new_application(by, in_project, input).await?;
        let (project, made) = self.project_named_or_new(by, project).await?;
        // Its maker owns a project made just now (`by` was read before).
        if !made {
            self.check(
                by,
                Permission::Modify,
                &project.id,
                On::Project,
                "this project",
            )?;
        }
        app.project_id = project.id;
        self.catalog
            .insert_application_with_secrets(&app, &sealed)
            .await?;
        Ok(app)
    }

    /// A checked new application of project `project_id` (empty: a
    /// project still to be made), made by `by`, with its first secrets
    /// sealed (name, sealed value).
    async fn new_application(
        &self,
        by: &Caller,
        project_id: &str,
        input: ApplicationInput,
    ) -> Result<(Application, Vec<(String, String)>)> {
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
            permissions: None,
            created_by: by.actor(),
            updated_by: by.actor(),
            created_at: now,
            updated_at: now,
            last_run: None,
            repository_id: None,
        };
        let first_secrets = input.secrets.clone();
        self.apply_input(&mut app, input, true).await?;
        let owner = secrets::SecretOwner::Application(&app.id);
        let mut sealed = Vec::with_capacity(first_secrets.len());
        for (name, value) in &first_secrets {
            let name = secrets::SecretName::new(name).map_err(|e| {
                DomainError::Invalid(vec![Problem::new(format!("secrets.{name}"), e.to_string())])
            })?;
            let value = secrets::seal(self.key()?, value, &owner.aad(&name))?;
            sealed.push((name.as_str().to_owned(), value));
        }
        Ok((app, sealed))
    }

    /// An application with its latest run, unchecked (for use cases that
    /// check on their own).
    pub(crate) async fn find_application(&self, id: &str) -> Result<Application> {
        self.catalog
            .application(id)
            .await?
            .or_not_found("application", id)
    }

    /// An application, when `by` may do `what` on it.
    pub(crate) async fn application_for(
        &self,
        by: &Caller,
        what: Permission,
        id: &str,
    ) -> Result<Application> {
        let app = self.find_application(id).await?;
        self.check(
            by,
            what,
            &app.project_id,
            On::Application(app.permissions.as_ref()),
            "this application",
        )?;
        Ok(app)
    }

    /// An application with its latest run, for a caller who may view it.
    pub async fn application(&self, by: &Caller, id: &str) -> Result<Application> {
        self.application_for(by, Permission::View, id).await
    }

    /// A page of applications (of one project, or of every project the
    /// caller may view), sorted by `name`, `created_at` or `last_run_at`,
    /// optionally only those whose latest run has `last_status`.
    /// Applications whose own matrix hides them from the caller's role are
    /// left out of the page's items (not of its total).
    pub async fn applications(
        &self,
        by: &Caller,
        project_id: Option<&str>,
        last_status: Option<Status>,
        page: &PageRequest,
    ) -> Result<Page<Application>> {
        if let Some(p) = project_id {
            self.project(by, p).await?;
        }
        let only = (!by.is_admin && project_id.is_none()).then(|| by.project_ids());
        let status = last_status.map(|s| s.as_str());
        let mut found = self
            .catalog
            .applications(project_id, only.as_deref(), status, page)
            .await?;
        found.items.retain(|a| by.flags_on_application(a).can_view);
        Ok(found)
    }

    /// Writes an application back and forgets what was cached of it.
    pub(crate) async fn save_application(&self, app: &Application) -> Result<()> {
        self.catalog
            .update_application(app)
            .await?
            .or_not_found("application", &app.id)?;
        lock(&self.caches.owners).remove(&app.id);
        self.caches.visible.clear();
        Ok(())
    }

    /// Changes an application, for a caller who may modify it; absent
    /// fields keep their value.
    pub async fn update_application(
        &self,
        by: &Caller,
        id: &str,
        input: ApplicationInput,
    ) -> Result<Application> {
        let mut app = self.application_for(by, Permission::Modify, id).await?;
        self.apply_input(&mut app, input, false).await?;
        app.updated_at = Utc::now();
        app.updated_by = by.actor();
        self.save_application(&app).await?;
        self.find_application(id).await
    }

    /// Deletes an application with its secrets and schedules, for a caller
    /// who may delete it; refused while it has active runs.
    pub async fn delete_application(&self, by: &Caller, id: &str) -> Result<()> {
        self.application_for(by, Permission::Delete, id).await?;
        let delete = self.catalog.delete_application(id);
        self.delete_unless_active("application", id, delete).await?;
        lock(&self.caches.owners).remove(id);
        self.caches.visible.clear();
        Ok(())
    }
}

/// The AAD of an application's webhook secret.
pub(crate) fn webhook_aad(app_id: &str) -> String {
    format!("application/{app_id}/webhook")
}
