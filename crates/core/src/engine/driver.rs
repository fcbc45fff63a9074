//! The driver of one run: the task that walks its stages and jobs,
//! records every status change, waits at approval gates and runs job
//! attempts through their kinds.

use super::gate::Ticket;
use super::workspaces::path_text;
use super::{Active, Engine, Inner, lock};
use crate::error::{CoreError, StoreError};
use crate::kind::{HandleRecorder, JobContext, JobOutcome, Outputs};
use crate::log::{LogKey, LogWriter, Masker, Stream};
use crate::plan::{Approval, Plan};
use crate::record::{ApprovalDecision, RunId, RunRecord, StatusChange, Target};
use crate::refs::{self, Scope};
use crate::status::Status;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

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
    pub(super) fn start_with(
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
        self.spawn(driver);
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
            // Outputs are shown and stored like log lines: masked, names
            // as well as values.
            let produced: BTreeMap<String, String> = outputs
                .snapshot()
                .into_iter()
                .map(|(k, v)| (self.masker.mask_owned(k), self.masker.mask_owned(v)))
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
