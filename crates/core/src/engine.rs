//! The engine: executes plans on tokio.
//!
//! Each submitted run gets one driver task. Stages run in order; the jobs
//! of a parallel stage run together, those of a sequential stage one after
//! another. A failed job (unless it allows failure) fails its stage and the
//! run, and later stages are skipped. Cancelling a run fires the
//! cancellation token every running job holds. Runs sharing a workflow key
//! wait for a slot of the plan's concurrency limit in arrival order.

mod builder;
mod driver;
mod gate;
mod recovery;
mod workspaces;

pub use builder::EngineBuilder;

use crate::error::CoreError;
use crate::events::{Event, EventBus};
use crate::kind::Registry;
use crate::plan::Plan;
use crate::ports::{Clock, LogSink, RunStore, SecretSource};
use crate::record::{ApprovalDecision, RunId, RunRecord, StatusChange, Target, Trigger};
use crate::status::Status;
use gate::{Gates, Ticket};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
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
    /// The id of that user, when the caller knows one (recorded).
    pub by_id: Option<String>,
    /// Other names the decider answers to in an approver list (a product
    /// may list groups or roles, `role:maintainer`); `by` always counts.
    pub answers_to: Vec<String>,
    /// Approve or reject.
    pub approve: bool,
    /// Why.
    pub comment: String,
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

impl Engine {
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

    /// Spawns `fut` on the engine's runtime (see
    /// [`EngineBuilder::runtime`](crate::EngineBuilder::runtime)), or on the
    /// caller's when the engine has none.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.inner.runtime {
            Some(runtime) => runtime.spawn(fut),
            None => tokio::spawn(fut),
        }
    }

    /// Runs `work` on the engine's runtime and waits for it: work that
    /// writes in several steps finishes even when the caller stops
    /// waiting (a dropped future, an HTTP client that hung up), so no
    /// run is left recorded but never started.
    pub async fn detached<T, F, Fut>(&self, work: F) -> Result<T, CoreError>
    where
        F: FnOnce(Engine) -> Fut,
        Fut: std::future::Future<Output = Result<T, CoreError>> + Send + 'static,
        T: Send + 'static,
    {
        self.spawn(work(self.clone()))
            .await
            .map_err(|e| CoreError::Task(e.to_string()))?
    }

    /// Validates and records a run, then starts it (it may wait in
    /// `queued` for a concurrency slot). Returns its id at once. Once
    /// called, the run is recorded and started even if the returned
    /// future is dropped before it is ready.
    pub async fn submit(&self, mut req: RunRequest) -> Result<RunId, CoreError> {
        // Everything up to the write is synchronous, the place in line
        // included, so runs submitted one after another keep their order
        // whichever order the runtime runs the detached writes in.
        let secrets = std::mem::take(&mut req.secrets);
        let (record, made, ticket) = self.prepare(req)?;
        self.detached(|engine| async move {
            let id = record.id.clone();
            engine.inner.store.insert_run(&record).await?;
            for change in &made {
                engine.inner.publish(&id, change, &record.plan);
            }
            engine.start_with(record, secrets, ticket);
            Ok(id)
        })
        .await
    }

    /// A new run's record, the status changes it is recorded with, and its
    /// place in its workflow's line.
    fn prepare(
        &self,
        req: RunRequest,
    ) -> Result<(RunRecord, Vec<StatusChange>, Option<Ticket>), CoreError> {
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
        Ok((record, made, ticket))
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
    /// `secrets` are the secrets for this attempt (never stored). Like
    /// [`Engine::submit`], it completes even if its future is dropped.
    pub async fn retry(
        &self,
        id: &RunId,
        secrets: BTreeMap<String, String>,
    ) -> Result<(), CoreError> {
        let id = id.clone();
        self.detached(|engine| async move { engine.retry_here(&id, secrets).await })
            .await
    }

    async fn retry_here(
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
            && !decision.answers_to.iter().any(|n| g.approvers.contains(n))
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
            by_id: decision.by_id,
            approved: decision.approve,
            comment: decision.comment,
            at: self.inner.clock.now(),
        };
        self.inner.store.add_approval(id, si, &record).await?;
        notify.notify_one();
        Ok(())
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
