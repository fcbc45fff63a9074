//! [`EngineBuilder`]: the ports, plug-ins and settings an [`Engine`] is
//! built from.

use super::gate::Gates;
use super::{Engine, Inner};
use crate::events::EventBus;
use crate::kind::Registry;
use crate::memory::{MemoryLogSink, MemoryRunStore};
use crate::ports::{Clock, LogSink, RunStore, SecretSource, SystemClock};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Builds an [`Engine`]; every port defaults to its in-memory version.
pub struct EngineBuilder {
    registry: Registry,
    store: Option<Arc<dyn RunStore>>,
    logs: Option<Arc<dyn LogSink>>,
    clock: Option<Arc<dyn Clock>>,
    secrets: Option<Arc<dyn SecretSource>>,
    workspace_root: Option<PathBuf>,
    cancel_wait: Duration,
    event_capacity: usize,
    events: Option<EventBus>,
    remove_passed_workspaces: bool,
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("registry", &self.registry)
            .field("workspace_root", &self.workspace_root)
            .finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// Uses `store` for run records.
    pub fn store(mut self, store: Arc<dyn RunStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Uses `logs` for job logs.
    pub fn logs(mut self, logs: Arc<dyn LogSink>) -> Self {
        self.logs = Some(logs);
        self
    }

    /// Where runs resumed after a restart get their secrets (default:
    /// nowhere; they resume without).
    pub fn secrets(mut self, source: Arc<dyn SecretSource>) -> Self {
        self.secrets = Some(source);
        self
    }

    /// Uses `clock` for every recorded time.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Run workspaces go in `root/<run id>` (default: the system temp
    /// directory's `slipway-workspaces`).
    pub fn workspace_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.workspace_root = Some(root.into());
        self
    }

    /// How long a cancelled or timed-out job's kind may take to stop before
    /// the engine stops waiting for it (default 30 s).
    pub fn cancel_wait(mut self, wait: Duration) -> Self {
        self.cancel_wait = wait;
        self
    }

    /// Deletes a run's workspace when the run passes (default: keep it, so
    /// that an embedder can look at what the jobs left). A run that did not
    /// pass keeps its workspace: a retry runs its failed jobs in it.
    pub fn remove_passed_workspaces(mut self, yes: bool) -> Self {
        self.remove_passed_workspaces = yes;
        self
    }

    /// How many undelivered events a subscriber may fall behind.
    pub fn event_capacity(mut self, n: usize) -> Self {
        self.event_capacity = n;
        self
    }

    /// Publishes events on `bus` (shared with what else writes logs, such
    /// as a workload runtime shipping instances' output) instead of a bus
    /// of its own.
    pub fn events(mut self, bus: EventBus) -> Self {
        self.events = Some(bus);
        self
    }

    /// The runtime that drives runs: [`Engine::submit`] (and retry,
    /// recovery) spawn each run's driver there, whatever runtime calls
    /// them, so a run outlives a short-lived caller's runtime (an HTTP
    /// worker's, a test's). Default: the runtime `build` is called on;
    /// built outside any runtime, the engine spawns on the caller's.
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// The engine.
    pub fn build(self) -> Engine {
        let workspace_root = self
            .workspace_root
            .unwrap_or_else(|| std::env::temp_dir().join("slipway-workspaces"));
        // Jobs run in their workspace, not in this process's current
        // directory: every path handed to them must be absolute, whatever
        // root was configured (`./slipway-data/workspaces` by default).
        let workspace_root = std::path::absolute(&workspace_root).unwrap_or(workspace_root);
        Engine {
            inner: Arc::new(Inner {
                registry: self.registry,
                store: self
                    .store
                    .unwrap_or_else(|| Arc::new(MemoryRunStore::new())),
                logs: self.logs.unwrap_or_else(|| Arc::new(MemoryLogSink::new())),
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                secrets: self.secrets,
                events: self
                    .events
                    .unwrap_or_else(|| EventBus::new(self.event_capacity)),
                scratch_root: workspace_root.join(".scratch"),
                workspace_root,
                cancel_wait: self.cancel_wait,
                remove_passed_workspaces: self.remove_passed_workspaces,
                runtime: self
                    .runtime
                    .or_else(|| tokio::runtime::Handle::try_current().ok()),
                active: Mutex::new(HashMap::new()),
                gates: Gates::default(),
                generation: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }
}

impl Engine {
    /// A builder using `registry` for job kinds.
    pub fn builder(registry: Registry) -> EngineBuilder {
        EngineBuilder {
            registry,
            store: None,
            logs: None,
            clock: None,
            secrets: None,
            workspace_root: None,
            cancel_wait: Duration::from_secs(30),
            event_capacity: 4096,
            events: None,
            remove_passed_workspaces: false,
            runtime: None,
        }
    }
}
