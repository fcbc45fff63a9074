//! `App`: the use cases every API calls, on top of the engine and the
//! catalog store, one file per topic. A dialect (an HTTP API) is written
//! against `App` and the view types alone: it never reaches the engine or
//! a store, and never decides a permission itself.

pub mod applications;
mod audit;
mod dispatch;
mod logs;
mod members;
pub mod namespaces;
mod permissions;
mod projects;
pub mod repositories;
mod runs;
mod schedules;
mod secrets;
pub mod sessions;
mod tokens;
mod users;
mod webhooks;
mod workflows;

pub use applications::{
    ApplicationInput, DEFAULT_BRANCH, DEFAULT_TEMPLATE_PATH, MAX_SECRET_LEN, RepositoryInput,
    TRIGGER_EVENTS, detail,
};
pub use audit::{AuditEntry, AuditFilter, OUTCOMES, outcome_of};
pub use dispatch::DispatchInput;
pub use logs::{Followed, JobLog, LogFollow, LogStart, job_over_for_good};
pub use members::MatrixInput;
pub use namespaces::{MAX_INSTANCES, WorkloadDetail};
pub use permissions::{AdminTask, Caller, On, Via};
pub use projects::ProjectInput;
pub use repositories::{MAX_REPOSITORY_NAME_LEN, NamedRepositoryInput, repository_name_problem};
pub use runs::{RunFilter, ServerStats};
pub use schedules::{ScheduleDetail, ScheduleInput};
pub use secrets::RunSecrets;
pub use sessions::{Session, SessionRefusal, SessionTtl};
pub use tokens::{NewToken, TOKEN_PREFIX, hash_secret};
pub use users::UserInput;
pub use webhooks::HookOutcome;

use crate::catalog::{CatalogStore, Page};
use crate::secrets::{SecretKey, SessionKey};
use slipway_core::source::GitSource;
use slipway_core::{Engine, Problem, Registry, Status};
use std::sync::Arc;

pub use crate::error::DomainError;
pub(crate) use crate::error::params_problems;

/// A result of a use case.
pub type Result<T, E = DomainError> = std::result::Result<T, E>;

/// Statuses in which a run is not finished.
pub const ACTIVE: [Status; 4] = [
    Status::Created,
    Status::Queued,
    Status::Running,
    Status::WaitingApproval,
];

/// How long an authenticated token and a page of runs are kept in memory.
/// Within one server both are dropped at once when they change (a revoke,
/// any status change of a run); the time only bounds how long another
/// server sharing the database may lag behind.
pub const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// At most this many cached entries of each kind.
const CACHE_ENTRIES: usize = 1024;

/// Which page of which runs (the key of a cached page).
/// (workflow filter, the caller's visible keys when not an admin,
/// statuses, page, per page, oldest first).
type RunListKey = (
    Option<String>,
    Option<Arc<Vec<String>>>,
    Vec<Status>,
    u32,
    u32,
    bool,
);

/// What was read from the run store, kept for as long as the engine's
/// generation is the one it was read at (no status change recorded since)
/// and at most [`CACHE_TTL`]; the same `Arc` is handed out meanwhile.
pub(crate) struct RunCache<K, V> {
    entries: std::sync::Mutex<std::collections::HashMap<K, Cached<V>>>,
}

/// A cached value: the engine generation it was read at, when, and the
/// value.
type Cached<V> = (u64, std::time::Instant, Arc<V>);

impl<K, V> Default for RunCache<K, V> {
    fn default() -> Self {
        RunCache {
            entries: std::sync::Mutex::default(),
        }
    }
}

impl<K: std::hash::Hash + Eq, V> RunCache<K, V> {
    /// The value under `key` if it was read at `generation`, recently.
    pub(crate) fn get<Q>(&self, key: &Q, generation: u64) -> Option<Arc<V>>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        lock(&self.entries)
            .get(key)
            .filter(|(g, at, _)| *g == generation && at.elapsed() < CACHE_TTL)
            .map(|(_, _, v)| v.clone())
    }

    /// Forgets every entry.
    pub(crate) fn clear(&self) {
        lock(&self.entries).clear();
    }

    /// Keeps `value`, read at `generation` (read the generation before the
    /// store: a change that lands while reading makes the entry stale at
    /// once).
    pub(crate) fn put(&self, key: K, generation: u64, value: Arc<V>) {
        let mut entries = lock(&self.entries);
        if entries.len() >= CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (generation, std::time::Instant::now(), value));
    }
}

#[derive(Default)]
pub(crate) struct Caches {
    /// Token hash (or `user:<id>`) → the caller, and when it was looked
    /// up.
    callers: std::sync::Mutex<std::collections::HashMap<String, (Caller, std::time::Instant)>>,
    /// Workflow or application id → its project and matrix, and when it
    /// was looked up (what a run's permissions are decided on).
    owners: std::sync::Mutex<std::collections::HashMap<String, (RunOwner, std::time::Instant)>>,
    /// Run list pages.
    run_pages: RunCache<RunListKey, Page<slipway_core::RunSummary>>,
    /// User id → the workflow and application ids whose runs they may
    /// view (a new workflow or application shows up with its first run,
    /// which moves the generation; member, matrix and delete changes
    /// clear it).
    pub(crate) visible: RunCache<String, Vec<String>>,
    /// Runs with their stages and jobs, by id.
    runs: RunCache<String, slipway_core::RunRecord>,
    /// Live tokens' ids → their users' ids, and when they were read (what
    /// a session checks its token against; see `App::live_token_owner`).
    live_tokens: std::sync::Mutex<Option<(std::time::Instant, Arc<LiveTokens>)>>,
    /// Moved whenever the live tokens are forgotten (a token made or
    /// revoked): a list read across such a change is not kept.
    tokens_generation: std::sync::atomic::AtomicU64,
    /// Compiled trigger filters, by source.
    pub(crate) filters: std::sync::Mutex<std::collections::HashMap<String, crate::filter::Filter>>,
}

/// Token id → user id, of every live token.
type LiveTokens = std::collections::HashMap<String, String>;

/// What a run belongs to, for permissions: its workflow's or
/// application's project, and the application's matrix.
#[derive(Debug, Clone)]
pub(crate) struct RunOwner {
    pub(crate) project_id: String,
    pub(crate) matrix: Option<crate::access::Matrix>,
    pub(crate) is_application: bool,
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
    pub(crate) session_key: Option<Arc<SessionKey>>,
    pub(crate) session_ttl: SessionTtl,
    pub(crate) git: Option<Arc<dyn slipway_core::source::GitSource>>,
    pub(crate) workloads: Option<crate::workloads::Workloads>,
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
    } else if let Some(why) = crate::limits::name_problem(trimmed) {
        problems.push(Problem::new(path, why));
    } else if trimmed != name {
        problems.push(Problem::new(path, "no leading or trailing spaces"));
    }
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
            session_key: None,
            session_ttl: SessionTtl::default(),
            git: None,
            workloads: None,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs a use case that writes in several steps (record a delivery,
    /// start a run, point the application at it) on the engine's runtime
    /// and waits for it, so that it finishes even when the caller stops
    /// waiting: an HTTP client that hangs up never leaves a delivery
    /// recorded without its run.
    pub(crate) async fn detached<T, F, Fut>(&self, work: F) -> Result<T>
    where
        F: FnOnce(App) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.engine
            .spawn(work(self.clone()))
            .await
            .map_err(|e| DomainError::Internal(format!("a use case stopped: {e}")))?
    }

    /// Sets the key that seals secrets (required for secrets and webhook
    /// secrets).
    pub fn with_secret_key(mut self, key: SecretKey) -> Self {
        self.secret_key = Some(Arc::new(key));
        self
    }

    /// Sets the key that signs sessions (required for sessions).
    pub fn with_session_key(mut self, key: SessionKey) -> Self {
        self.session_key = Some(Arc::new(key));
        self
    }

    /// Sets how long sessions last (by default and at most).
    pub fn with_session_ttl(mut self, ttl: SessionTtl) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// Sets where application templates and commits are read from.
    pub fn with_git(mut self, git: Arc<dyn GitSource>) -> Self {
        self.git = Some(git);
        self
    }

    pub(crate) fn key(&self) -> Result<&SecretKey> {
        self.secret_key
            .as_deref()
            .ok_or_else(|| DomainError::Internal("no secret key is configured".into()))
    }

    pub(crate) fn git(&self) -> Result<&Arc<dyn GitSource>> {
        self.git
            .as_ref()
            .ok_or_else(|| DomainError::Internal("no git source is configured".into()))
    }
}
