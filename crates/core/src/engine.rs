//! The engine: executes plans on tokio.
//!
//! Each submitted run gets one driver task. Stages run in order; the jobs
//! of a parallel stage run together, those of a sequential stage one after
//! another. A failed job (unless it allows failure) fails its stage and the
//! run, and later stages are skipped. Cancelling a run fires the
//! cancellation token every running job holds. Runs sharing a workflow key
//! wait for a slot of the plan's concurrency limit in arrival order.

mod gate;

use crate::error::{CoreError, StoreError};
use crate::events::{Event, EventBus};
use crate::kind::{HandleRecorder, JobContext, JobOutcome, Outputs, Registry};
use crate::log::{LogKey, LogWriter, Masker, Stream};
use crate::memory::{MemoryLogSink, MemoryRunStore};
use crate::plan::{Approval, Plan};
use crate::ports::{Clock, LogSink, RunStore, SecretSource, SystemClock};
use crate::record::{ApprovalDecision, RunId, RunQuery, RunRecord, StatusChange, Target, Trigger};
use crate::refs::{self, Scope};
use crate::status::Status;
use gate::{Gates, Ticket};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

/// What to run, with what, and why.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The plan; validated on submit.
    pub plan: Plan,
    /// The run's params (exported to jobs, usable in references).
    pub params: BTreeMap<String, String>,
    /// Who or what started it.
    pub trigger: Trigger,
    /// The concurrency key (usually the workflow's id); `None` means the
    /// run is never held back by a limit.
    pub workflow_key: Option<String>,
    /// Secret environment variables: given to every job, masked in logs,
    /// never stored in the run record.
    pub secrets: BTreeMap<String, String>,
}

impl RunRequest {
    /// A manual run of `plan` with no params, key or secrets.
    pub fn new(plan: Plan) -> Self {
        RunRequest {
            plan,
            params: BTreeMap::new(),
            trigger: Trigger::new("manual"),
            workflow_key: None,
            secrets: BTreeMap::new(),
        }
    }
}

/// The error recorded on jobs and runs found running after a restart.
pub const INTERRUPTED: &str = "interrupted: server stopped";

/// What [`Engine::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Runs that were running and are now failed.
    pub failed: Vec<RunId>,
    /// Runs waiting for approval that wait again.
    pub resumed: Vec<RunId>,
    /// Queued runs started again, in their original order.
    pub requeued: Vec<RunId>,
}

/// A decision on an approval gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Who decides.
    pub by: String,
    /// Approve or reject.
    pub approve: bool,
    /// Why.
    pub comment: String,
}

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
                events: EventBus::new(self.event_capacity),
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

/// The workflow engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("registry", &self.inner.registry)
            .finish_non_exhaustive()
    }
}

struct Inner {
    registry: Registry,
    store: Arc<dyn RunStore>,
    logs: Arc<dyn LogSink>,
    clock: Arc<dyn Clock>,
    secrets: Option<Arc<dyn SecretSource>>,
    events: EventBus,
    workspace_root: PathBuf,
    /// `workspace_root/.scratch`: jobs' scratch directories and outputs
    /// files.
    scratch_root: PathBuf,
    cancel_wait: Duration,
    remove_passed_workspaces: bool,
    /// Where run drivers are spawned (`None`: on the caller's runtime).
    runtime: Option<tokio::runtime::Handle>,
    active: Mutex<HashMap<RunId, Active>>,
    gates: Gates,
    /// Counts recorded status changes (see [`Engine::generation`]).
    generation: std::sync::atomic::AtomicU64,
}

/// A run this engine is driving.
struct Active {
    cancel: CancellationToken,
    reason: Arc<Mutex<Option<String>>>,
    decided: Arc<Notify>,
    /// `Some` once the driver has finished: the final record, or `None`
    /// when the driver stopped on an error (readers then ask the store).
    done: watch::Receiver<Option<Option<Arc<RunRecord>>>>,
}

/// What the driver of one run holds.
struct Drive {
    inner: Arc<Inner>,
    id: RunId,
    plan: Plan,
    params: BTreeMap<String, String>,
    secrets: Arc<BTreeMap<String, String>>,
    /// What jobs are told of the trigger ([`Trigger::env`]).
    trigger_env: BTreeMap<String, String>,
    masker: Masker,
    cancel: CancellationToken,
    reason: Arc<Mutex<Option<String>>>,
    decided: Arc<Notify>,
    workspace: PathBuf,
    /// The run's record as this driver last wrote it. The driver is the
    /// only writer of its run's statuses and outputs, so it keeps its own
    /// copy instead of reading the store at every step; approvals, which
    /// others add, are read from the store (`stored_record`).
    cache: Mutex<RunRecord>,
    /// Changes made but not yet written: they go to the store together
    /// with the next change that is written at once (`Drive::defer`).
    pending: Mutex<Vec<StatusChange>>,
}

/// How a gate wait ended.
enum GateEnd {
    Approved,
    Rejected(String),
    TimedOut(String),
    Cancelled,
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
            remove_passed_workspaces: false,
            runtime: None,
        }
    }

    /// The job kinds this engine knows.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// A number that grows with every status change this engine records
    /// (a new run's first one included): a reader that cached something
    /// derived from runs knows it is stale when this has moved. Changes
    /// made by another process on a shared database do not move it.
    pub fn generation(&self) -> u64 {
        self.inner
            .generation
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The run store.
    pub fn store(&self) -> &Arc<dyn RunStore> {
        &self.inner.store
    }

    /// The log sink.
    pub fn logs(&self) -> &Arc<dyn LogSink> {
        &self.inner.logs
    }

    /// A new subscriber to every event from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Validates and records a run, then starts it (it may wait in
    /// `queued` for a concurrency slot). Returns its id at once.
    pub async fn submit(&self, req: RunRequest) -> Result<RunId, CoreError> {
        req.plan.validate(&self.inner.registry)?;
        let id = RunId::new();
        let now = self.inner.clock.now();
        let mut record = RunRecord::new(
            id.clone(),
            req.plan,
            req.params,
            req.trigger,
            req.workflow_key,
            now,
        );
        // Recorded already queued, in one write: `created` -> `queued` has
        // no field effects, and the change is published as if made.
        let mut made = vec![self.inner.make_change(
            Target::Run,
            Status::Created,
            Status::Queued,
            None,
            None,
        )?];
        let ticket = self.ticket(&record);
        // A run that nothing holds back (its concurrency slot is free, its
        // first stage waits for no approval) is recorded already started:
        // the run, its first stage and the jobs that start with it, in the
        // same write. The driver then finds them running.
        let free = ticket.as_ref().is_none_or(Ticket::is_held);
        if free
            && let Some(first) = record.plan.stages.first()
            && first.approval.is_none()
        {
            made.push(self.inner.make_change(
                Target::Run,
                Status::Queued,
                Status::Running,
                None,
                None,
            )?);
            made.push(self.inner.make_change(
                Target::Stage(0),
                Status::Created,
                Status::Running,
                None,
                None,
            )?);
            let starting = if first.parallel { first.jobs.len() } else { 1 };
            for (ji, job) in first.jobs.iter().enumerate().take(starting) {
                if !job.skipped {
                    made.push(self.inner.make_change(
                        Target::Job(0, ji),
                        Status::Created,
                        Status::Running,
                        None,
                        None,
                    )?);
                }
            }
        }
        for change in &made {
            record.apply(change)?;
        }
        self.inner.store.insert_run(&record).await?;
        for change in &made {
            self.inner.publish(&id, change, &record.plan);
        }
        self.start_with(record, req.secrets, ticket);
        Ok(id)
    }

    /// Starts driving a run whose record is `queued`. The concurrency
    /// ticket is taken here, synchronously, so that arrival order holds.
    fn start(&self, record: RunRecord, secrets: BTreeMap<String, String>) {
        let ticket = self.ticket(&record);
        self.start_with(record, secrets, ticket);
    }

    /// The run's place in its workflow's line, when it has a limit.
    fn ticket(&self, record: &RunRecord) -> Option<Ticket> {
        match (&record.workflow_key, record.plan.concurrency_limit) {
            (Some(key), limit) if limit > 0 => Some(
                self.inner
                    .gates
                    .enter(key, usize::try_from(limit).unwrap_or(usize::MAX)),
            ),
            _ => None,
        }
    }

    /// [`Engine::start`] with the ticket taken already.
    fn start_with(
        &self,
        record: RunRecord,
        secrets: BTreeMap<String, String>,
        ticket: Option<Ticket>,
    ) {
        let from = record.status;
        let cancel = CancellationToken::new();
        let reason = Arc::new(Mutex::new(None));
        let decided = Arc::new(Notify::new());
        let (done_tx, done_rx) = watch::channel(None);
        let masker = Masker::new(secrets.values());
        let drive = Drive {
            inner: self.inner.clone(),
            cache: Mutex::new(record.clone()),
            pending: Mutex::new(Vec::new()),
            id: record.id.clone(),
            workspace: self.inner.workspace_root.join(record.id.as_str()),
            trigger_env: record.trigger.env(),
            plan: record.plan,
            params: record.params,
            secrets: Arc::new(secrets),
            masker,
            cancel: cancel.clone(),
            reason: reason.clone(),
            decided: decided.clone(),
        };
        lock(&self.inner.active).insert(
            drive.id.clone(),
            Active {
                cancel,
                reason,
                decided,
                done: done_rx,
            },
        );
        let driver = async move {
            let id = drive.id.clone();
            let inner = drive.inner.clone();
            let last = match drive.run(ticket, from).await {
                Ok(record) => Some(Arc::new(record)),
                Err(e) => {
                    tracing::error!(run = %id, error = %e, "run driver stopped on a store error");
                    None
                }
            };
            lock(&inner.active).remove(&id);
            let _ = done_tx.send(Some(last));
        };
        // On the engine's runtime, not the caller's: a driver must not die
        // with the runtime of whoever submitted the run.
        match &self.inner.runtime {
            Some(runtime) => {
                runtime.spawn(driver);
            }
            None => {
                tokio::spawn(driver);
            }
        }
    }

    /// Settles the work a previous process left in the store; call it once
    /// when the engine starts, before submitting new runs.
    ///
    /// Policy (documented in docs/engine.md): runs that were `running` fail
    /// with `interrupted: server stopped` (their running jobs too, after
    /// the job kind has stopped what they left behind; jobs that had not
    /// started are skipped); runs waiting for approval keep waiting, their
    /// timeout still counted from when the wait began; `queued` runs start
    /// again in their original order.
    pub async fn recover(&self) -> Result<Recovery, CoreError> {
        let query = RunQuery {
            statuses: vec![Status::Queued, Status::Running, Status::WaitingApproval],
            oldest_first: true,
            ..RunQuery::default()
        };
        let pending = self.inner.store.list_runs(&query).await?;
        let mut report = Recovery::default();
        for run in pending.iter().filter(|r| r.status == Status::Running) {
            self.settle_failed(run, INTERRUPTED).await?;
            report.failed.push(run.id.clone());
        }
        // Waiting runs hold their concurrency slots first, then the queue
        // re-forms in its original order.
        for status in [Status::WaitingApproval, Status::Queued] {
            for run in pending.iter().filter(|r| r.status == status) {
                if lock(&self.inner.active).contains_key(&run.id) {
                    continue;
                }
                let list = if status == Status::Queued {
                    &mut report.requeued
                } else {
                    &mut report.resumed
                };
                let secrets = match &self.inner.secrets {
                    None => BTreeMap::new(),
                    Some(source) => match source.secrets_for(run).await {
                        Ok(s) => s,
                        Err(e) => {
                            let why = format!("secrets unavailable after a restart: {e}");
                            tracing::error!(run = %run.id, "{why}");
                            self.settle_failed(run, &why).await?;
                            report.failed.push(run.id.clone());
                            continue;
                        }
                    },
                };
                list.push(run.id.clone());
                self.start(run.clone(), secrets);
            }
        }
        Ok(report)
    }

    /// Fails a run the engine is not driving, with `reason` on its
    /// running and queued jobs, its running or waiting stages and itself;
    /// a running job's leftover processes are stopped first.
    async fn settle_failed(&self, run: &RunRecord, reason: &str) -> Result<(), CoreError> {
        let inner = &self.inner;
        let id = &run.id;
        let why = || Some(reason.to_owned());
        for (si, stage) in run.stages.iter().enumerate() {
            for (ji, job) in stage.jobs.iter().enumerate() {
                let t = Target::Job(si, ji);
                match job.status {
                    Status::Running => {
                        if let (Some(h), Some(kind)) = (&job.handle, inner.registry.get(&job.kind))
                        {
                            kind.interrupted(h).await;
                            inner.store.set_handle(id, si, ji, None).await?;
                        }
                        inner
                            .change(id, t, job.status, Status::Failed, why(), None, &run.plan)
                            .await?;
                    }
                    Status::Queued => {
                        inner
                            .change(id, t, job.status, Status::Failed, why(), None, &run.plan)
                            .await?;
                    }
                    Status::Created => {
                        inner
                            .change(id, t, job.status, Status::Skipped, None, None, &run.plan)
                            .await?;
                    }
                    _ => {}
                }
            }
            let t = Target::Stage(si);
            match stage.status {
                Status::Running | Status::WaitingApproval => {
                    inner
                        .change(id, t, stage.status, Status::Failed, why(), None, &run.plan)
                        .await?;
                }
                Status::Created | Status::Queued => {
                    inner
                        .change(id, t, stage.status, Status::Skipped, None, None, &run.plan)
                        .await?;
                }
                _ => {}
            }
        }
        inner
            .change(
                id,
                Target::Run,
                run.status,
                Status::Failed,
                why(),
                None,
                &run.plan,
            )
            .await?;
        Ok(())
    }

    /// Cancels a queued, running or approval-waiting run; its running jobs
    /// are stopped and it ends `cancelled` with `reason`.
    pub async fn cancel(&self, id: &RunId, reason: &str) -> Result<(), CoreError> {
        let found = {
            let active = lock(&self.inner.active);
            active.get(id).map(|a| (a.cancel.clone(), a.reason.clone()))
        };
        match found {
            Some((token, why)) => {
                lock(&why).get_or_insert_with(|| reason.to_owned());
                token.cancel();
                Ok(())
            }
            None => {
                let run = self.get(id).await?;
                Err(CoreError::Conflict(format!(
                    "run {id} is {} and cannot be cancelled",
                    run.status
                )))
            }
        }
    }

    /// Starts a finished run again: its failed, cancelled, timed-out and
    /// skipped jobs run again; passed jobs keep their status and outputs.
    /// `secrets` are the secrets for this attempt (never stored).
    pub async fn retry(
        &self,
        id: &RunId,
        secrets: BTreeMap<String, String>,
    ) -> Result<(), CoreError> {
        if lock(&self.inner.active).contains_key(id) {
            return Err(CoreError::Conflict(format!("run {id} is still active")));
        }
        let run = self.get(id).await?;
        if !run.status.is_retryable() {
            return Err(CoreError::Conflict(format!(
                "run {id} is {}; only failed, cancelled or timed-out runs can be retried",
                run.status
            )));
        }
        let inner = &self.inner;
        for (si, stage) in run.stages.iter().enumerate() {
            for (ji, job) in stage.jobs.iter().enumerate() {
                let disabled = run.plan.stages[si].jobs[ji].skipped;
                if job.status.is_retryable() && !disabled {
                    inner
                        .change(
                            id,
                            Target::Job(si, ji),
                            job.status,
                            Status::Created,
                            None,
                            None,
                            &run.plan,
                        )
                        .await?;
                }
            }
            if stage.status.is_retryable() {
                inner
                    .change(
                        id,
                        Target::Stage(si),
                        stage.status,
                        Status::Created,
                        None,
                        None,
                        &run.plan,
                    )
                    .await?;
            }
        }
        inner
            .change(
                id,
                Target::Run,
                run.status,
                Status::Queued,
                None,
                None,
                &run.plan,
            )
            .await?;
        let fresh = self.get(id).await?;
        self.start(fresh, secrets);
        Ok(())
    }

    /// Records a decision on the approval gate of `stage`, which must be
    /// waiting. Each approver decides once per wait.
    pub async fn decide(
        &self,
        id: &RunId,
        stage: &str,
        decision: Decision,
    ) -> Result<(), CoreError> {
        let run = self.get(id).await?;
        let si = run
            .stages
            .iter()
            .position(|s| s.name == stage)
            .ok_or_else(|| CoreError::StageNotFound {
                run: id.clone(),
                stage: stage.to_owned(),
            })?;
        let rec = &run.stages[si];
        if rec.status != Status::WaitingApproval {
            return Err(CoreError::Conflict(format!(
                "stage `{stage}` is {}, not waiting for approval",
                rec.status
            )));
        }
        let gate = run.plan.stages[si].approval.as_ref();
        if let Some(g) = gate
            && !g.approvers.is_empty()
            && !g.approvers.contains(&decision.by)
        {
            return Err(CoreError::NotAnApprover {
                who: decision.by,
                stage: stage.to_owned(),
            });
        }
        let since = rec.waiting_since;
        if rec
            .approvals
            .iter()
            .any(|d| d.by == decision.by && Some(d.at) >= since)
        {
            return Err(CoreError::Conflict(format!(
                "`{}` has already decided on stage `{stage}`",
                decision.by
            )));
        }
        let notify = lock(&self.inner.active).get(id).map(|a| a.decided.clone());
        let Some(notify) = notify else {
            return Err(CoreError::Conflict(format!(
                "run {id} is not being driven by this engine"
            )));
        };
        let record = ApprovalDecision {
            by: decision.by,
            approved: decision.approve,
            comment: decision.comment,
            at: self.inner.clock.now(),
        };
        self.inner.store.add_approval(id, si, &record).await?;
        notify.notify_one();
        Ok(())
    }

    /// Deletes the workspaces of runs that finished more than `age` ago
    /// (and of runs the store no longer has, by the directory's age), so
    /// that failed and cancelled runs, which keep theirs for a retry, do
    /// not fill the disk. Workspaces of runs that are not finished are
    /// never touched; a retry after pruning starts from an empty
    /// workspace. Returns the runs whose workspace was deleted.
    pub async fn prune_workspaces(&self, age: Duration) -> Result<Vec<RunId>, CoreError> {
        let root = self.inner.workspace_root.clone();
        let dirs = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<_>> {
            let mut out = Vec::new();
            let entries = match std::fs::read_dir(&root) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                // `.scratch` and anything else that is not a run's.
                if name.starts_with('.') || !entry.file_type()?.is_dir() {
                    continue;
                }
                let modified = entry.metadata()?.modified().ok();
                out.push((name, entry.path(), modified));
            }
            Ok(out)
        })
        .await
        .map_err(|e| CoreError::Workspace {
            path: self.inner.workspace_root.clone(),
            source: std::io::Error::other(e.to_string()),
        })?
        .map_err(|source| CoreError::Workspace {
            path: self.inner.workspace_root.clone(),
            source,
        })?;
        let now = self.inner.clock.now();
        let limit = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        let mut pruned = Vec::new();
        for (name, path, modified) in dirs {
            let id = RunId(name);
            if lock(&self.inner.active).contains_key(&id) {
                continue;
            }
            let old = match self.inner.store.get_run(&id).await? {
                Some(run) => {
                    run.status.is_terminal() && run.finished_at.is_some_and(|at| now - at >= limit)
                }
                None => modified
                    .and_then(|m| std::time::SystemTime::now().duration_since(m).ok())
                    .is_some_and(|d| d >= age),
            };
            // Checked again: a retry may have started it meanwhile.
            if !old || lock(&self.inner.active).contains_key(&id) {
                continue;
            }
            let gone = path.clone();
            match tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&gone)).await {
                Ok(Ok(())) => pruned.push(id),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                Ok(Err(e)) => tracing::warn!(path = %path.display(), "pruning a workspace: {e}"),
                Err(e) => tracing::warn!(path = %path.display(), "pruning a workspace: {e}"),
            }
        }
        Ok(pruned)
    }

    /// The run's record.
    pub async fn get(&self, id: &RunId) -> Result<RunRecord, CoreError> {
        self.inner
            .store
            .get_run(id)
            .await?
            .ok_or_else(|| CoreError::RunNotFound(id.clone()))
    }

    /// Waits until the run is no longer driven (finished), then returns its
    /// record.
    pub async fn wait(&self, id: &RunId) -> Result<RunRecord, CoreError> {
        let done = lock(&self.inner.active).get(id).map(|a| a.done.clone());
        if let Some(mut done) = done {
            // The driver hands over the record it wrote last, which is
            // what the store holds: no need to read it back. An error
            // means the sender is gone: the driver has finished.
            if let Ok(end) = done.wait_for(Option::is_some).await
                && let Some(Some(record)) = end.as_ref()
            {
                return Ok(RunRecord::clone(record));
            }
        }
        self.get(id).await
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    /// One checked, recorded and published status change.
    /// A checked, timestamped status change (not yet recorded).
    fn make_change(
        &self,
        target: Target,
        from: Status,
        to: Status,
        error: Option<String>,
        exit_code: Option<i32>,
    ) -> Result<StatusChange, CoreError> {
        if !from.can_become(to) {
            return Err(CoreError::IllegalTransition { from, to });
        }
        Ok(StatusChange {
            target,
            from,
            to,
            at: self.clock.now(),
            error,
            exit_code,
        })
    }

    /// Publishes a recorded change.
    fn publish(&self, run: &RunId, change: &StatusChange, plan: &Plan) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let run = run.clone();
        let to = change.to;
        self.events.send(match change.target {
            Target::Run => Event::Run { run, status: to },
            Target::Stage(s) => Event::Stage {
                run,
                stage: plan.stages[s].name.clone(),
                status: to,
            },
            Target::Job(s, j) => Event::Job {
                run,
                job: plan.stages[s].jobs[j].name.clone(),
                status: to,
            },
        });
    }

    /// One checked, recorded and published status change.
    #[allow(clippy::too_many_arguments)]
    async fn change(
        &self,
        run: &RunId,
        target: Target,
        from: Status,
        to: Status,
        error: Option<String>,
        exit_code: Option<i32>,
        plan: &Plan,
    ) -> Result<StatusChange, CoreError> {
        let change = self.make_change(target, from, to, error, exit_code)?;
        self.store.change_status(run, &change).await?;
        self.publish(run, &change, plan);
        Ok(change)
    }
}

/// The state a stage's jobs leave it in.
struct StageEnd {
    status: Status,
    error: Option<String>,
}

impl Drive {
    fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    fn cancel_reason(&self) -> String {
        lock(&self.reason)
            .clone()
            .unwrap_or_else(|| "cancelled".to_owned())
    }

    /// The run as this driver wrote it (see `Drive::cache`).
    async fn record(&self) -> Result<RunRecord, CoreError> {
        Ok(lock(&self.cache).clone())
    }

    /// The run as stored, including what others added (approvals); also
    /// refreshes the cache.
    async fn stored_record(&self) -> Result<RunRecord, CoreError> {
        let rec = self
            .inner
            .store
            .get_run(&self.id)
            .await?
            .ok_or_else(|| CoreError::Store(StoreError::NotFound(self.id.clone())))?;
        *lock(&self.cache) = rec.clone();
        Ok(rec)
    }

    async fn set(
        &self,
        target: Target,
        from: Status,
        to: Status,
        error: Option<String>,
        exit_code: Option<i32>,
    ) -> Result<(), CoreError> {
        let change = self.inner.make_change(target, from, to, error, exit_code)?;
        let mut batch = std::mem::take(&mut *lock(&self.pending));
        batch.push(change);
        self.write(&batch).await
    }

    /// Records `batch` (one transaction when more than one), applies its
    /// last change to the cache (deferred ones are there already) and
    /// publishes them all.
    async fn write(&self, batch: &[StatusChange]) -> Result<(), CoreError> {
        match batch {
            [] => return Ok(()),
            [one] => self.inner.store.change_status(&self.id, one).await?,
            many => self.inner.store.change_statuses(&self.id, many).await?,
        }
        if let Some(last) = batch.last() {
            lock(&self.cache).apply(last)?;
        }
        for change in batch {
            self.inner.publish(&self.id, change, &self.plan);
        }
        Ok(())
    }

    /// A change that goes to the store with the next written one: used only
    /// where a written change follows before anything waits (a run and its
    /// first stage start when the first job does; a job ends with the next
    /// job's start, its retry, or its stage's and run's end; a stage ends
    /// with the run or when the next stage's first job starts).
    /// Subscribers see it when it is written.
    fn defer(
        &self,
        target: Target,
        from: Status,
        to: Status,
        error: Option<String>,
    ) -> Result<(), CoreError> {
        self.defer_exit(target, from, to, error, None)
    }

    /// [`Drive::defer`] with an exit code (a job's end).
    fn defer_exit(
        &self,
        target: Target,
        from: Status,
        to: Status,
        error: Option<String>,
        exit_code: Option<i32>,
    ) -> Result<(), CoreError> {
        let change = self.inner.make_change(target, from, to, error, exit_code)?;
        lock(&self.cache).apply(&change)?;
        lock(&self.pending).push(change);
        Ok(())
    }

    /// Writes the deferred changes now.
    async fn flush(&self) -> Result<(), CoreError> {
        let batch = std::mem::take(&mut *lock(&self.pending));
        match batch.as_slice() {
            [] => Ok(()),
            [one] => {
                self.inner.store.change_status(&self.id, one).await?;
                self.inner.publish(&self.id, one, &self.plan);
                Ok(())
            }
            many => {
                self.inner.store.change_statuses(&self.id, many).await?;
                for change in many {
                    self.inner.publish(&self.id, change, &self.plan);
                }
                Ok(())
            }
        }
    }

    /// Drives the run from `run_status`: `queued` for a new or retried run,
    /// `waiting_approval` for one resumed after a restart.
    /// Returns the final record.
    async fn run(
        self,
        ticket: Option<Ticket>,
        mut run_status: Status,
    ) -> Result<RunRecord, CoreError> {
        let _permit = match ticket {
            None => None,
            Some(t) => tokio::select! {
                p = t.wait() => Some(p),
                _ = self.cancel.cancelled() => None,
            },
        };
        let mut outcome: Option<(Status, String)> = None;
        if !self.is_cancelled() {
            for dir in [&self.workspace, &self.inner.scratch_root] {
                // A check first: `mkdir` of an existing directory still
                // takes its parent's lock, which runs starting together
                // would contend for.
                if dir.is_dir() {
                    continue;
                }
                std::fs::create_dir_all(dir).map_err(|source| CoreError::Workspace {
                    path: dir.clone(),
                    source,
                })?;
            }
            if run_status == Status::Queued {
                self.defer(Target::Run, run_status, Status::Running, None)?;
                run_status = Status::Running;
            }
        }
        for si in 0..self.plan.stages.len() {
            let rec = self.record().await?;
            let stage_rec = &rec.stages[si];
            if stage_rec.status == Status::Passed {
                continue;
            }
            let blocked = if self.is_cancelled() {
                Some(Status::Cancelled)
            } else if outcome.is_some() {
                Some(Status::Skipped)
            } else {
                None
            };
            if let Some(end) = blocked {
                self.close_stage(&rec, si, end, None).await?;
                continue;
            }
            let mut stage_status = stage_rec.status;
            if let Some(gate) = &self.plan.stages[si].approval {
                // A resumed run may already be waiting here.
                if stage_status != Status::WaitingApproval {
                    self.set(
                        Target::Stage(si),
                        stage_status,
                        Status::WaitingApproval,
                        None,
                        None,
                    )
                    .await?;
                    stage_status = Status::WaitingApproval;
                }
                if run_status != Status::WaitingApproval {
                    self.set(Target::Run, run_status, Status::WaitingApproval, None, None)
                        .await?;
                    run_status = Status::WaitingApproval;
                }
                self.flush().await?;
                let end = self.wait_gate(si, gate).await?;
                self.set(Target::Run, run_status, Status::Running, None, None)
                    .await?;
                run_status = Status::Running;
                let (status, why) = match end {
                    GateEnd::Approved => (None, None),
                    GateEnd::Rejected(why) => (Some(Status::Failed), Some(why)),
                    GateEnd::TimedOut(why) => (Some(Status::TimedOut), Some(why)),
                    GateEnd::Cancelled => (Some(Status::Cancelled), Some(self.cancel_reason())),
                };
                if let Some(status) = status {
                    let rec = self.record().await?;
                    self.close_stage(&rec, si, status, why.clone()).await?;
                    if status != Status::Cancelled {
                        outcome = Some((
                            Status::Failed,
                            format!(
                                "stage `{}`: {}",
                                self.plan.stages[si].name,
                                why.unwrap_or_default()
                            ),
                        ));
                    }
                    continue;
                }
            }
            // Already running when the run was recorded started.
            if stage_status != Status::Running {
                self.defer(Target::Stage(si), stage_status, Status::Running, None)?;
            }
            let end = self.run_stage(si).await?;
            self.defer(
                Target::Stage(si),
                Status::Running,
                end.status,
                end.error.clone(),
            )?;
            if matches!(end.status, Status::Failed | Status::TimedOut) {
                outcome = Some((
                    end.status,
                    format!(
                        "stage `{}`: {}",
                        self.plan.stages[si].name,
                        end.error.unwrap_or_default()
                    ),
                ));
            }
        }
        let (final_status, error) = if self.is_cancelled() {
            (Status::Cancelled, Some(self.cancel_reason()))
        } else if let Some((status, why)) = outcome {
            (status, Some(why))
        } else {
            (Status::Passed, None)
        };
        self.set(Target::Run, run_status, final_status, error, None)
            .await?;
        if final_status == Status::Passed && self.inner.remove_passed_workspaces {
            let dir = self.workspace.clone();
            let removed = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&dir)).await;
            if let Ok(Err(e)) = removed
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(run = %self.id, "removing the workspace: {e}");
            }
        }
        self.record().await
    }

    /// Ends a stage that did not (fully) run, and its unfinished jobs.
    async fn close_stage(
        &self,
        rec: &RunRecord,
        si: usize,
        status: Status,
        error: Option<String>,
    ) -> Result<(), CoreError> {
        for (ji, job) in rec.stages[si].jobs.iter().enumerate() {
            if !job.status.is_terminal() {
                let to = if self.plan.stages[si].jobs[ji].skipped {
                    Status::Skipped
                } else if status == Status::Cancelled {
                    Status::Cancelled
                } else {
                    Status::Skipped
                };
                self.set(Target::Job(si, ji), job.status, to, None, None)
                    .await?;
            }
        }
        let current = rec.stages[si].status;
        if current != status && current.can_become(status) {
            self.set(Target::Stage(si), current, status, error, None)
                .await?;
        } else if current.is_terminal() {
            // A stage left over from a previous attempt: reset first.
            self.set(Target::Stage(si), current, Status::Created, None, None)
                .await?;
            self.set(Target::Stage(si), Status::Created, status, error, None)
                .await?;
        }
        Ok(())
    }

    async fn wait_gate(&self, si: usize, gate: &Approval) -> Result<GateEnd, CoreError> {
        let needed = gate.needed as usize;
        loop {
            let notified = self.decided.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let rec = self.stored_record().await?;
            let stage = &rec.stages[si];
            let since = stage.waiting_since.unwrap_or(rec.created_at);
            let current: Vec<&ApprovalDecision> =
                stage.approvals.iter().filter(|d| d.at >= since).collect();
            if let Some(no) = current.iter().find(|d| !d.approved) {
                let comment = if no.comment.is_empty() {
                    String::new()
                } else {
                    format!(": {}", no.comment)
                };
                return Ok(GateEnd::Rejected(format!("rejected by {}{comment}", no.by)));
            }
            let mut yes: Vec<&str> = current.iter().map(|d| d.by.as_str()).collect();
            yes.sort_unstable();
            yes.dedup();
            if yes.len() >= needed {
                return Ok(GateEnd::Approved);
            }
            let remaining = match gate.timeout {
                None => None,
                Some(t) => {
                    let deadline =
                        since + chrono::Duration::from_std(t).unwrap_or(chrono::Duration::MAX);
                    let left = (deadline - self.inner.clock.now())
                        .to_std()
                        .unwrap_or_default();
                    if left.is_zero() {
                        return Ok(GateEnd::TimedOut(format!(
                            "approval timed out after {}s",
                            t.as_secs_f64()
                        )));
                    }
                    Some(left)
                }
            };
            let sleep = async {
                match remaining {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = notified => {}
                _ = sleep => {}
                _ = self.cancel.cancelled() => return Ok(GateEnd::Cancelled),
            }
        }
    }

    async fn run_stage(&self, si: usize) -> Result<StageEnd, CoreError> {
        let stage = &self.plan.stages[si];
        let results: Vec<Result<Status, CoreError>> = if stage.parallel {
            futures::future::join_all((0..stage.jobs.len()).map(|ji| self.run_job(si, ji))).await
        } else {
            let mut out = Vec::new();
            let mut stop: Option<Status> = None;
            for ji in 0..stage.jobs.len() {
                if let Some(end) = stop {
                    let rec = self.record().await?;
                    let cur = rec.stages[si].jobs[ji].status;
                    if !cur.is_terminal() {
                        let to = if end == Status::Cancelled {
                            Status::Cancelled
                        } else {
                            Status::Skipped
                        };
                        self.set(Target::Job(si, ji), cur, to, None, None).await?;
                    }
                    out.push(Ok(Status::Skipped));
                    continue;
                }
                let r = self.run_job(si, ji).await;
                if let Ok(st) = &r {
                    let allowed = stage.jobs[ji].allow_failure;
                    if *st == Status::Cancelled || self.is_cancelled() {
                        stop = Some(Status::Cancelled);
                    } else if matches!(st, Status::Failed | Status::TimedOut) && !allowed {
                        stop = Some(*st);
                    }
                }
                out.push(r);
            }
            out
        };
        let mut end = StageEnd {
            status: Status::Passed,
            error: None,
        };
        for (ji, r) in results.into_iter().enumerate() {
            let st = r?;
            let job = &stage.jobs[ji];
            match st {
                Status::Cancelled => {
                    end.status = Status::Cancelled;
                    end.error = Some(self.cancel_reason());
                }
                Status::Failed | Status::TimedOut
                    if !job.allow_failure && end.status == Status::Passed =>
                {
                    end.status = st;
                    end.error = Some(format!("job `{}` {}", job.name, st));
                }
                _ => {}
            }
        }
        Ok(end)
    }

    /// Runs one job with its retries; returns its final status.
    async fn run_job(&self, si: usize, ji: usize) -> Result<Status, CoreError> {
        let job = &self.plan.stages[si].jobs[ji];
        let target = Target::Job(si, ji);
        let rec = self.record().await?;
        let mut status = rec.stages[si].jobs[ji].status;
        if status == Status::Passed || status == Status::Skipped && job.skipped {
            return Ok(status);
        }
        if job.skipped {
            self.set(target, status, Status::Skipped, None, None)
                .await?;
            return Ok(Status::Skipped);
        }
        if self.is_cancelled() {
            self.set(
                target,
                status,
                Status::Cancelled,
                Some(self.cancel_reason()),
                None,
            )
            .await?;
            return Ok(Status::Cancelled);
        }
        let Some(kind) = self.inner.registry.get(&job.kind).cloned() else {
            self.set(
                target,
                status,
                Status::Failed,
                Some(format!("unknown job kind `{}`", job.kind)),
                None,
            )
            .await?;
            return Ok(Status::Failed);
        };
        let log = LogWriter::new(
            LogKey::new(self.id.clone(), job.name.clone()),
            self.inner.logs.clone(),
            self.inner.events.clone(),
            self.inner.clock.clone(),
            self.masker.clone(),
        );
        let max_attempts = job.retries.saturating_add(1);
        for attempt in 1..=max_attempts {
            // References see the outputs of every job recorded so far.
            let rec = self.record().await?;
            let outputs: BTreeMap<String, BTreeMap<String, String>> = rec
                .stages
                .iter()
                .flat_map(|s| s.jobs.iter())
                .filter(|j| !j.outputs.is_empty())
                .map(|j| (j.name.clone(), j.outputs.clone()))
                .collect();
            let scope = Scope {
                outputs: &outputs,
                params: &self.params,
            };
            let resolved = refs::resolve_json(&job.spec, scope).and_then(|spec| {
                let env = job
                    .env
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), refs::resolve(v, scope)?)))
                    .collect::<Result<BTreeMap<_, _>, refs::RefError>>()?;
                Ok((spec, env))
            });
            let (spec, job_env) = match resolved {
                Ok(x) => x,
                Err(e) => {
                    self.set(
                        target,
                        status,
                        Status::Failed,
                        Some(format!("reference: {e}")),
                        None,
                    )
                    .await?;
                    return Ok(Status::Failed);
                }
            };
            // A job recorded started with its run (`Engine::submit`) is
            // running already, on its first attempt.
            if status != Status::Running {
                self.set(target, status, Status::Running, None, None)
                    .await?;
            }
            // Named by the job's place in the plan, not by its name: the
            // place is unique (`a/b`, `a_b` and `a.b` get files of their
            // own) and short whatever the name's length.
            let attempt_name = format!("{}-{si}-{ji}-{attempt}", self.id.as_str());
            let scratch = self.inner.scratch_root.join(&attempt_name);
            let outputs_file = self
                .inner
                .scratch_root
                .join(format!("{attempt_name}.outputs"));
            if attempt > 1 {
                let _ = log
                    .line(
                        Stream::System,
                        &format!("attempt {attempt} of {max_attempts}"),
                    )
                    .await;
            }
            let token = self.cancel.child_token();
            let ctx = JobContext {
                run_id: self.id.clone(),
                stage: self.plan.stages[si].name.clone(),
                job: job.name.clone(),
                attempt,
                spec,
                workspace: self.workspace.clone(),
                scratch: scratch.clone(),
                outputs_file: outputs_file.clone(),
                env: self.job_env(si, job, attempt, job_env),
                params: self.params.clone(),
                masker: self.masker.clone(),
                log: log.clone(),
                cancel: token.clone(),
                outputs: Outputs::default(),
                handle: HandleRecorder::new(self.inner.store.clone(), self.id.clone(), si, ji),
            };
            let outputs = ctx.outputs.clone();
            let (outcome, timed_out) = self.attempt(kind.as_ref(), ctx, job.timeout, &token).await;
            // Usually neither exists: both are made only on demand.
            let _ = std::fs::remove_dir_all(&scratch);
            let _ = std::fs::remove_file(&outputs_file);
            // Outputs are shown and stored like log lines: masked.
            let produced: BTreeMap<String, String> = outputs
                .snapshot()
                .into_iter()
                .map(|(k, v)| (k, self.masker.mask(&v)))
                .collect();
            if !produced.is_empty() {
                self.inner
                    .store
                    .set_outputs(&self.id, si, ji, &produced)
                    .await?;
                if let Some(j) = lock(&self.cache)
                    .stages
                    .get_mut(si)
                    .and_then(|st| st.jobs.get_mut(ji))
                {
                    j.outputs = produced;
                }
            }
            let (to, error, code) = if timed_out {
                let secs = job.timeout.map_or(0.0, |t| t.as_secs_f64());
                (
                    Status::TimedOut,
                    Some(format!("timed out after {secs}s")),
                    None,
                )
            } else if self.is_cancelled() {
                (Status::Cancelled, Some(self.cancel_reason()), None)
            } else {
                match outcome {
                    Some(JobOutcome::Passed) => (Status::Passed, None, None),
                    Some(JobOutcome::PassedWithCode { exit_code }) => {
                        (Status::Passed, None, Some(exit_code))
                    }
                    Some(JobOutcome::Failed { error, exit_code }) => {
                        (Status::Failed, Some(error), exit_code)
                    }
                    Some(JobOutcome::Cancelled) => (
                        Status::Cancelled,
                        Some("cancelled by its job kind".to_owned()),
                        None,
                    ),
                    None => (
                        Status::Failed,
                        Some("the job kind did not stop after cancellation".to_owned()),
                        None,
                    ),
                }
            };
            // Written with the next change (the next job's start, the
            // stage's or run's end, a retry): every path after a job
            // writes one before it waits for anything.
            self.defer_exit(target, Status::Running, to, error.clone(), code)?;
            status = to;
            if to == Status::Failed && attempt < max_attempts {
                let _ = log
                    .line(
                        Stream::System,
                        &format!(
                            "attempt {attempt} failed: {}; retrying",
                            error.unwrap_or_default()
                        ),
                    )
                    .await;
                self.set(target, Status::Failed, Status::Queued, None, None)
                    .await?;
                status = Status::Queued;
                continue;
            }
            break;
        }
        Ok(status)
    }

    /// Runs one attempt under the job's timeout. `None` outcome: the kind
    /// ignored cancellation for longer than `cancel_wait`.
    async fn attempt(
        &self,
        kind: &dyn crate::kind::JobKind,
        ctx: JobContext,
        timeout: Option<Duration>,
        token: &CancellationToken,
    ) -> (Option<JobOutcome>, bool) {
        let fut = kind.run(ctx);
        tokio::pin!(fut);
        let limit = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        let mut timed_out = false;
        tokio::select! {
            out = &mut fut => return (Some(out), false),
            _ = limit => { timed_out = true; }
            _ = token.cancelled() => {}
        }
        token.cancel();
        let out = tokio::time::timeout(self.inner.cancel_wait, &mut fut)
            .await
            .ok();
        (out, timed_out)
    }

    /// The job's environment, lowest precedence first: params (those whose
    /// names are valid variable names), the job's env, secrets, `SLIPWAY_*`.
    fn job_env(
        &self,
        si: usize,
        job: &crate::plan::Job,
        attempt: u32,
        job_env: BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = self
            .params
            .iter()
            .filter(|(k, _)| is_env_name(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.extend(job_env);
        env.extend(self.secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.extend(self.trigger_env.clone());
        let facts = [
            ("CI", "true".to_owned()),
            ("SLIPWAY", "true".to_owned()),
            ("SLIPWAY_RUN_ID", self.id.to_string()),
            ("SLIPWAY_STAGE", self.plan.stages[si].name.clone()),
            ("SLIPWAY_JOB", job.name.clone()),
            ("SLIPWAY_ATTEMPT", attempt.to_string()),
            ("SLIPWAY_WORKSPACE", path_text(&self.workspace)),
        ];
        env.extend(facts.into_iter().map(|(k, v)| (k.to_owned(), v)));
        env
    }
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
