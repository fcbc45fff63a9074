//! The use cases every API calls: projects, workflows, runs, logs and
//! tokens, on top of the engine and the catalog store.

use crate::catalog::{
    ApiToken, CatalogStore, CatalogStoreError, Page, PageRequest, Project, Workflow,
    WorkflowVersion,
};
use crate::definition::{Format, WorkflowDefinition};
use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};
use slipway_core::{
    CoreError, Decision, Engine, Problem, Registry, RunId, RunQuery, RunRecord, RunRequest, Status,
    StoreError, Trigger,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What went wrong in a use case. Only `slipway-http` turns these into
/// status codes.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks rules; every problem is listed with its path.
    #[error("invalid input: {}", join(.0))]
    Invalid(Vec<Problem>),
    /// No such thing.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What was looked for (`project`, `workflow`, `run`, ...).
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The request does not fit the current state (a name taken, a run
    /// that is not waiting, a project with active runs, ...).
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request could not be authenticated (a webhook whose signature
    /// or token does not match).
    #[error("{0}")]
    Unauthorized(String),
    /// A service Slipway depends on (a git host) failed.
    #[error("{0}")]
    Upstream(String),
    /// A store or the engine failed.
    #[error("{0}")]
    Internal(String),
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<CatalogStoreError> for DomainError {
    fn from(e: CatalogStoreError) -> Self {
        match e {
            CatalogStoreError::Duplicate(m) => DomainError::Conflict(m),
            CatalogStoreError::Missing(m) => DomainError::Conflict(m),
            CatalogStoreError::Store(e) => DomainError::from(e),
        }
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => DomainError::NotFound {
                kind: "run",
                id: id.to_string(),
            },
            StoreError::Conflict { .. } => DomainError::Conflict(e.to_string()),
            other => DomainError::Internal(other.to_string()),
        }
    }
}

impl From<CoreError> for DomainError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidPlan(p) => DomainError::Invalid(p.problems),
            CoreError::RunNotFound(id) => DomainError::NotFound {
                kind: "run",
                id: id.to_string(),
            },
            CoreError::StageNotFound { run, stage } => DomainError::NotFound {
                kind: "stage",
                id: format!("{stage} of run {run}"),
            },
            CoreError::Conflict(m) => DomainError::Conflict(m),
            CoreError::NotAnApprover { .. } => DomainError::Forbidden(e.to_string()),
            CoreError::IllegalTransition { .. } | CoreError::ShuttingDown => {
                DomainError::Conflict(e.to_string())
            }
            CoreError::Store(s) => DomainError::from(s),
            other => DomainError::Internal(other.to_string()),
        }
    }
}

impl From<crate::secrets::SecretError> for DomainError {
    fn from(e: crate::secrets::SecretError) -> Self {
        DomainError::Internal(format!("secret: {e}"))
    }
}

/// Prefixes problems with `params.` (inputs are checked against params).
pub(crate) fn params_problems(problems: Vec<Problem>) -> DomainError {
    DomainError::Invalid(
        problems
            .into_iter()
            .map(|p| {
                if p.path == "params" || p.path.starts_with("params.") {
                    p
                } else {
                    Problem::new(format!("params.{}", p.path), p.message)
                }
            })
            .collect(),
    )
}

/// A result of a use case.
pub type Result<T, E = DomainError> = std::result::Result<T, E>;

/// A project's name and description.
#[derive(Debug, Clone, Default)]
pub struct ProjectInput {
    /// Its name (1 to 100 characters).
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
}

/// A token and, once, its secret.
#[derive(Debug, Clone, Serialize)]
pub struct NewToken {
    /// The token.
    #[serde(flatten)]
    pub token: ApiToken,
    /// The secret: shown once, never stored.
    pub secret: String,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// The token's id.
    pub token_id: String,
    /// May manage tokens.
    pub is_admin: bool,
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this workflow's.
    pub workflow_id: Option<String>,
    /// Only in one of these statuses.
    pub statuses: Vec<Status>,
}

/// Statuses in which a run is not finished.
pub const ACTIVE: [Status; 4] = [
    Status::Created,
    Status::Queued,
    Status::Running,
    Status::WaitingApproval,
];

/// The token prefix: secrets look like `slw_<64 hex digits>`.
pub const TOKEN_PREFIX: &str = "slw_";

/// How long an authenticated token and a page of runs are kept in memory.
/// Within one server both are dropped at once when they change (a revoke,
/// any status change of a run); the time only bounds how long another
/// server sharing the database may lag behind.
pub const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// At most this many cached entries of each kind.
const CACHE_ENTRIES: usize = 1024;

/// Which page of which runs (the key of a cached page).
type RunListKey = (Option<String>, Vec<Status>, u32, u32, bool);

/// A cached page of runs: the engine generation it was read at, when, and
/// the page.
type CachedPage = (u64, std::time::Instant, Arc<Page<slipway_core::RunSummary>>);

#[derive(Default)]
pub(crate) struct Caches {
    /// Token hash → the caller, and when it was looked up.
    callers: std::sync::Mutex<std::collections::HashMap<String, (Caller, std::time::Instant)>>,
    /// Run list pages, with the engine generation they were read at.
    run_pages: std::sync::Mutex<std::collections::HashMap<RunListKey, CachedPage>>,
    /// Compiled trigger filters, by source.
    pub(crate) filters: std::sync::Mutex<std::collections::HashMap<String, crate::filter::Filter>>,
}

pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The application: every use case, for every API.
#[derive(Clone)]
pub struct App {
    pub(crate) catalog: Arc<dyn CatalogStore>,
    pub(crate) engine: Engine,
    registry: Registry,
    pub(crate) caches: Arc<Caches>,
    pub(crate) secret_key: Option<Arc<crate::secrets::SecretKey>>,
    pub(crate) git: Option<Arc<dyn slipway_core::source::GitSource>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn check_name(path: &str, name: &str, problems: &mut Vec<Problem>) {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        problems.push(Problem::new(path, "required"));
    } else if trimmed.chars().count() > 100 {
        problems.push(Problem::new(path, "at most 100 characters"));
    } else if trimmed != name {
        problems.push(Problem::new(path, "no leading or trailing spaces"));
    }
}

/// The SHA-256 of a token secret, in hex: the only form in which secrets
/// are kept.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl App {
    /// The application on `catalog` and `engine`; `registry` must be the
    /// engine's (it validates definitions).
    pub fn new(catalog: Arc<dyn CatalogStore>, engine: Engine, registry: Registry) -> Self {
        App {
            catalog,
            engine,
            registry,
            caches: Arc::default(),
            secret_key: None,
            git: None,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    // ---- projects ----

    /// Creates a project.
    pub async fn create_project(&self, input: ProjectInput) -> Result<Project> {
        let mut problems = Vec::new();
        let name = input.name.unwrap_or_default();
        check_name("name", &name, &mut problems);
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        let now = Utc::now();
        let project = Project {
            id: new_id(),
            name,
            description: input.description.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        self.catalog.insert_project(&project).await?;
        Ok(project)
    }

    /// A project.
    pub async fn project(&self, id: &str) -> Result<Project> {
        self.catalog
            .project(id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "project",
                id: id.to_owned(),
            })
    }

    /// A page of projects.
    pub async fn projects(&self, page: &PageRequest) -> Result<Page<Project>> {
        Ok(self.catalog.projects(page).await?)
    }

    /// Changes a project's name or description.
    pub async fn update_project(&self, id: &str, input: ProjectInput) -> Result<Project> {
        let mut project = self.project(id).await?;
        let mut problems = Vec::new();
        if let Some(name) = input.name {
            check_name("name", &name, &mut problems);
            project.name = name;
        }
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        if let Some(d) = input.description {
            project.description = d;
        }
        project.updated_at = Utc::now();
        if !self.catalog.update_project(&project).await? {
            return Err(DomainError::NotFound {
                kind: "project",
                id: id.to_owned(),
            });
        }
        Ok(project)
    }

    /// Deletes a project with its workflows and applications; refused
    /// while any of their runs is active.
    pub async fn delete_project(&self, id: &str) -> Result<()> {
        self.project(id).await?;
        let mut keys = self.catalog.workflow_ids(id).await?;
        keys.extend(self.catalog.application_ids(id).await?);
        self.refuse_active(&keys, "project").await?;
        if !self.catalog.delete_project(id).await? {
            return Err(DomainError::NotFound {
                kind: "project",
                id: id.to_owned(),
            });
        }
        Ok(())
    }

    /// Refuses when runs of any of `keys` (workflow or application ids)
    /// are active.
    pub(crate) async fn refuse_active(&self, keys: &[String], what: &str) -> Result<()> {
        let mut n = 0;
        for key in keys {
            let q = RunQuery {
                workflow_key: Some(key.clone()),
                statuses: ACTIVE.to_vec(),
                ..RunQuery::default()
            };
            n += self.engine.store().count_runs(&q).await?;
        }
        if n > 0 {
            return Err(DomainError::Conflict(format!(
                "the {what} has {n} active run(s); cancel them or wait for them to end"
            )));
        }
        Ok(())
    }

    // ---- workflows ----

    /// Parses and validates a definition text.
    pub fn check_definition(&self, text: &str, format: Format) -> Result<WorkflowDefinition> {
        let def = WorkflowDefinition::parse(text, format)
            .map_err(|e| DomainError::Invalid(e.problems()))?;
        def.validate(&self.registry).map_err(DomainError::Invalid)?;
        Ok(def)
    }

    fn version_of(
        &self,
        workflow_id: &str,
        version: i32,
        def: &WorkflowDefinition,
        text: &str,
        format: Format,
        by: Option<&Caller>,
    ) -> Result<WorkflowVersion> {
        Ok(WorkflowVersion {
            workflow_id: workflow_id.to_owned(),
            version,
            definition: serde_json::to_value(def)
                .map_err(|e| DomainError::Internal(format!("definition to JSON: {e}")))?,
            format,
            source: text.to_owned(),
            created_by: by.map(|c| c.name.clone()),
            created_at: Utc::now(),
        })
    }

    /// Creates a workflow in a project from a definition (its `name` names
    /// the workflow).
    pub async fn create_workflow(
        &self,
        project_id: &str,
        text: &str,
        format: Format,
        by: Option<&Caller>,
    ) -> Result<(Workflow, WorkflowVersion)> {
        self.project(project_id).await?;
        let def = self.check_definition(text, format)?;
        let now = Utc::now();
        let workflow = Workflow {
            id: new_id(),
            project_id: project_id.to_owned(),
            name: def.name.clone(),
            latest_version: 1,
            created_at: now,
            updated_at: now,
        };
        let version = self.version_of(&workflow.id, 1, &def, text, format, by)?;
        self.catalog.insert_workflow(&workflow, &version).await?;
        Ok((workflow, version))
    }

    /// Adds a version to a workflow. The definition's name must stay the
    /// workflow's.
    pub async fn update_workflow(
        &self,
        id: &str,
        text: &str,
        format: Format,
        by: Option<&Caller>,
    ) -> Result<(Workflow, WorkflowVersion)> {
        let mut workflow = self.workflow(id).await?;
        let def = self.check_definition(text, format)?;
        if def.name != workflow.name {
            return Err(DomainError::Invalid(vec![Problem::new(
                "name",
                format!(
                    "must stay `{}` (a workflow keeps its name; create another workflow instead)",
                    workflow.name
                ),
            )]));
        }
        let next = workflow.latest_version + 1;
        let version = self.version_of(id, next, &def, text, format, by)?;
        self.catalog.add_version(&version).await?;
        workflow.latest_version = next;
        workflow.updated_at = version.created_at;
        Ok((workflow, version))
    }

    /// A workflow.
    pub async fn workflow(&self, id: &str) -> Result<Workflow> {
        self.catalog
            .workflow(id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "workflow",
                id: id.to_owned(),
            })
    }

    /// A version of a workflow (`None`: the latest).
    pub async fn workflow_version(
        &self,
        id: &str,
        version: Option<i32>,
    ) -> Result<(Workflow, WorkflowVersion)> {
        let workflow = self.workflow(id).await?;
        let v = version.unwrap_or(workflow.latest_version);
        let found = self
            .catalog
            .version(id, v)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "workflow version",
                id: format!("{v} of workflow {id}"),
            })?;
        Ok((workflow, found))
    }

    /// A page of a project's workflows.
    pub async fn workflows(&self, project_id: &str, page: &PageRequest) -> Result<Page<Workflow>> {
        self.project(project_id).await?;
        Ok(self.catalog.workflows(project_id, page).await?)
    }

    /// A page of a workflow's versions, newest first.
    pub async fn workflow_versions(
        &self,
        id: &str,
        page: &PageRequest,
    ) -> Result<Page<WorkflowVersion>> {
        self.workflow(id).await?;
        Ok(self.catalog.versions(id, page).await?)
    }

    /// Deletes a workflow; refused while it has active runs.
    pub async fn delete_workflow(&self, id: &str) -> Result<()> {
        self.workflow(id).await?;
        self.refuse_active(&[id.to_owned()], "workflow").await?;
        if !self.catalog.delete_workflow(id).await? {
            return Err(DomainError::NotFound {
                kind: "workflow",
                id: id.to_owned(),
            });
        }
        Ok(())
    }

    // ---- runs ----

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
        self.engine
            .store()
            .get_run(&RunId(id.to_owned()))
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "run",
                id: id.to_owned(),
            })
    }

    /// A page of runs (summaries: no plan, stages or jobs), newest first
    /// unless `page.order` is ascending. The same page is answered with the
    /// same `Arc` for as long as it is current (see [`CACHE_TTL`]), so that
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
        if let Some((g, at, cached)) = lock(&self.caches.run_pages).get(&key)
            && *g == generation
            && at.elapsed() < CACHE_TTL
        {
            return Ok(cached.clone());
        }
        let (items, total) = self.engine.store().list_summaries(&q).await?;
        let found = Arc::new(Page {
            items,
            total,
            page: page.page,
            per_page: page.per_page,
        });
        let mut pages = lock(&self.caches.run_pages);
        if pages.len() >= CACHE_ENTRIES {
            pages.clear();
        }
        pages.insert(key, (generation, std::time::Instant::now(), found.clone()));
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
            return Err(DomainError::NotFound {
                kind: "stage",
                id: format!("{stage} of run {id}"),
            });
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

    // ---- tokens ----

    /// Creates a token; its secret is in the answer and nowhere else.
    pub async fn create_token(
        &self,
        name: &str,
        is_admin: bool,
        by: Option<&Caller>,
    ) -> Result<NewToken> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| DomainError::Internal(format!("no randomness: {e}")))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.insert_token(name, is_admin, by, format!("{TOKEN_PREFIX}{hex}"))
            .await
    }

    /// Creates a token with a secret chosen by the operator
    /// (`SLIPWAY_ADMIN_TOKEN`); it must be at least 32 characters.
    pub async fn import_token(&self, name: &str, is_admin: bool, secret: &str) -> Result<ApiToken> {
        if secret.chars().count() < 32 {
            return Err(DomainError::Invalid(vec![Problem::new(
                "secret",
                "at least 32 characters",
            )]));
        }
        Ok(self
            .insert_token(name, is_admin, None, secret.to_owned())
            .await?
            .token)
    }

    async fn insert_token(
        &self,
        name: &str,
        is_admin: bool,
        by: Option<&Caller>,
        secret: String,
    ) -> Result<NewToken> {
        let mut problems = Vec::new();
        check_name("name", name, &mut problems);
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        let token = ApiToken {
            id: new_id(),
            name: name.to_owned(),
            prefix: secret.chars().take(TOKEN_PREFIX.len() + 6).collect(),
            is_admin,
            created_by: by.map(|c| c.name.clone()),
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.catalog
            .insert_token(&token, &hash_secret(&secret))
            .await?;
        Ok(NewToken { token, secret })
    }

    /// How many tokens exist.
    pub async fn token_count(&self) -> Result<u64> {
        Ok(self.catalog.count_tokens().await?)
    }

    /// Every token (no secrets).
    pub async fn tokens(&self) -> Result<Vec<ApiToken>> {
        Ok(self.catalog.tokens().await?)
    }

    /// Revokes a token: it is refused from the next request on.
    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        let revoked = self.catalog.revoke_token(id, Utc::now()).await?;
        // Whatever it was cached as, it is not any more.
        lock(&self.caches.callers).clear();
        if revoked {
            Ok(())
        } else {
            Err(DomainError::NotFound {
                kind: "token",
                id: id.to_owned(),
            })
        }
    }

    /// The caller a bearer secret stands for, if it is a live token. The
    /// secret is hashed, looked up by hash, and the hashes compared in
    /// constant time.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Caller>> {
        use subtle::ConstantTimeEq;
        let hash = hash_secret(secret);
        if let Some((caller, at)) = lock(&self.caches.callers).get(&hash)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(Some(caller.clone()));
        }
        let Some((token, stored)) = self.catalog.token_by_hash(&hash).await? else {
            return Ok(None);
        };
        if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) || token.revoked_at.is_some() {
            return Ok(None);
        }
        let now = Utc::now();
        if token
            .last_used_at
            .is_none_or(|t| now - t > chrono::Duration::seconds(60))
        {
            self.catalog.touch_token(&token.id, now).await?;
        }
        let caller = Caller {
            name: token.name,
            token_id: token.id,
            is_admin: token.is_admin,
        };
        let mut callers = lock(&self.caches.callers);
        if callers.len() >= CACHE_ENTRIES {
            callers.clear();
        }
        callers.insert(hash, (caller.clone(), std::time::Instant::now()));
        Ok(Some(caller))
    }
}
