//! # Workloads: the Deploy API's definitions kept in git
//!
//! A [`Manifest`] (`manifest.json`) describes one workload: a job, a
//! cronjob, a deployment or a service. A [`Pipeline`] (`pipeline.json`)
//! runs tasks in order, each a directory holding a manifest or an inline
//! one. Both are validated with every problem listed by path
//! (`docs/formats.md`).
//!
//! They are read from git through core's generic
//! [`GitSource`](slipway_core::source::GitSource) ([`load_manifest`],
//! [`load_pipeline`], [`load_document`]), synchronously or as tracked work:
//! [`Loads::start`] answers at once with a [`WorkId`] whose [`LoadState`]
//! is then read by id. The states are kept behind the [`LoadStore`] port
//! ([`MemoryLoadStore`] here, SQL in `slipway-store`), so with a SQL store a
//! work id survives a restart and any server on the same database answers
//! it.
//!
//! The module is named after what the formats describe (workloads, which
//! the namespaces of the Deploy API will run) rather than `definitions`,
//! too close to [`crate::definition`], the workflow format.

mod load;
mod manifest;
mod operation;
mod pipeline;
mod running;
mod store;

pub use load::{
    LoadError, LoadKind, LoadRequest, LoadState, Loaded, LoadedManifest, LoadedPipeline,
    ResolvedTask, Validator, WorkId, load_document, load_manifest, load_pipeline, parse_document,
    parse_json, run_load,
};
pub(crate) use manifest::is_dns_label;
pub use manifest::{Manifest, WorkloadKind, relative_path_problem};
pub use operation::{
    INSTANCES_LOG, OPERATION_KIND, Operation, OperationKind, READY_TIMEOUT, STOP_GRACE, Workloads,
};
pub use pipeline::{Pipeline, PipelineStep, PipelineTask};
pub use running::{Namespace, Workload, WorkloadStore};
pub use store::{LoadStore, LoadStoreError, MEMORY_KEEP, MemoryLoadStore, StoredLoad};

use slipway_core::source::GitSource;
use slipway_core::{Clock, SystemClock};
use std::sync::Arc;
use std::time::Duration;

/// The reason a load fails with when the server running it stopped.
pub const INTERRUPTED_LOAD: &str = "interrupted: server stopped";

/// How long a server vouches for a load it runs without renewing.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The longest lease [`Loads::with_lease`] accepts.
pub const MAX_LEASE: Duration = Duration::from_secs(3600);

/// How many days finished loads are kept.
pub const KEEP_FINISHED_DAYS: i64 = 7;

/// Asynchronous loads of definitions: each runs on its own task, its state
/// kept in a [`LoadStore`]. While a load runs its lease is renewed every
/// third of [`Loads::with_lease`]; an unfinished load whose lease ran out
/// (its server stopped) reads as failed with [`INTERRUPTED_LOAD`], and
/// [`Loads::recover`] records that.
#[derive(Clone)]
pub struct Loads {
    source: Arc<dyn GitSource>,
    store: Arc<dyn LoadStore>,
    clock: Arc<dyn Clock>,
    runtime: Option<tokio::runtime::Handle>,
    lease: Duration,
}

impl std::fmt::Debug for Loads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loads")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Loads {
    /// Loads reading through `source`, their states kept in `store`.
    pub fn new(source: Arc<dyn GitSource>, store: Arc<dyn LoadStore>) -> Self {
        Loads {
            source,
            store,
            clock: Arc::new(SystemClock),
            runtime: None,
            lease: DEFAULT_LEASE,
        }
    }

    /// Loads over the in-memory store (states lost at exit).
    pub fn in_memory(source: Arc<dyn GitSource>) -> Self {
        Loads::new(source, Arc::new(MemoryLoadStore::new()))
    }

    /// Runs loads on `runtime` instead of the caller's runtime.
    pub fn with_runtime(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Another lease (from one second to [`MAX_LEASE`]).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.clamp(Duration::from_secs(1), MAX_LEASE);
        self
    }

    /// Another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn lease_until(&self) -> chrono::DateTime<chrono::Utc> {
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::hours(1));
        self.clock.now() + lease
    }

    /// Accepts a load and starts it; its state is then read by id with
    /// [`Loads::state`].
    pub async fn start(&self, request: LoadRequest) -> Result<WorkId, LoadStoreError> {
        let id = self
            .store
            .insert(request.kind.word(), self.clock.now(), self.lease_until())
            .await?;
        let this = self.clone();
        let work = id.clone();
        let task = async move { this.run(work, request).await };
        match &self.runtime {
            Some(runtime) => drop(runtime.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
        Ok(id)
    }

    async fn run(&self, id: WorkId, request: LoadRequest) {
        self.record(&id, &LoadState::Loading).await;
        let load = run_load(self.source.as_ref(), request);
        tokio::pin!(load);
        let mut renew = tokio::time::interval(self.lease / 3);
        renew.tick().await;
        let result = loop {
            tokio::select! {
                result = &mut load => break result,
                _ = renew.tick() => self.record(&id, &LoadState::Loading).await,
            }
        };
        let state = match result {
            Ok(loaded) => LoadState::Loaded {
                result: Box::new(loaded),
            },
            Err(e) => LoadState::Failed {
                reason: e.to_string(),
                problems: e.problems(),
            },
        };
        self.record(&id, &state).await;
    }

    async fn record(&self, id: &WorkId, state: &LoadState) {
        match self
            .store
            .set(id, state, self.clock.now(), self.lease_until())
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(work_id = %id, state = state.word(), "load already finished or forgotten; state not recorded");
            }
            Err(e) => {
                tracing::warn!(work_id = %id, error = %e, "recording a load's state failed");
            }
        }
    }

    /// The state of a load, `None` for an unknown (or forgotten) id. An
    /// unfinished load whose server stopped reads as failed
    /// ([`INTERRUPTED_LOAD`]).
    pub async fn state(&self, id: &WorkId) -> Result<Option<LoadState>, LoadStoreError> {
        let Some(load) = self.store.get(id).await? else {
            return Ok(None);
        };
        if load.is_abandoned(self.clock.now()) {
            return Ok(Some(LoadState::failed(INTERRUPTED_LOAD)));
        }
        Ok(Some(load.state))
    }

    /// Called when a server starts: records as failed
    /// ([`INTERRUPTED_LOAD`]) every unfinished load whose server stopped
    /// (its lease ran out), and forgets loads finished more than
    /// [`KEEP_FINISHED_DAYS`] days ago. Returns how many loads were failed.
    pub async fn recover(&self) -> Result<u64, LoadStoreError> {
        let now = self.clock.now();
        let failed = self
            .store
            .fail_abandoned(&LoadState::failed(INTERRUPTED_LOAD), now)
            .await?;
        if failed > 0 {
            tracing::warn!(failed, "loads interrupted by a stop were failed");
        }
        self.store
            .prune(now - chrono::Duration::days(KEEP_FINISHED_DAYS))
            .await?;
        Ok(failed)
    }

    /// `<directory>/manifest.json`, parsed and validated, now.
    pub async fn manifest(
        &self,
        remote: &slipway_core::source::Remote,
        reference: &str,
        directory: &str,
    ) -> Result<LoadedManifest, LoadError> {
        load_manifest(self.source.as_ref(), remote, reference, directory).await
    }

    /// `<directory>/pipeline.json` with its tasks' manifests, now.
    pub async fn pipeline(
        &self,
        remote: &slipway_core::source::Remote,
        reference: &str,
        directory: &str,
    ) -> Result<LoadedPipeline, LoadError> {
        load_pipeline(self.source.as_ref(), remote, reference, directory).await
    }
}
