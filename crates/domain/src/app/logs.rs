//! Job logs: read a page at a time, or followed live until the job is
//! over for good. Every API that shows logs (the native SSE route, a
//! dialect's polling route) uses these, so the follow protocol and the
//! "finished for good" rule live here only.

use super::{App, Caller, DomainError, Result};
use crate::access::Permission;
use crate::error::OrNotFound;
use slipway_core::{Engine, RunId, RunRecord, Status};
use slipway_core::{Event, LogKey, LogLine, LogSink};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast;

/// A job's log, once the run and the job are known to exist.
#[derive(Clone)]
pub struct JobLog {
    key: LogKey,
    logs: Arc<dyn LogSink>,
    engine: Engine,
}

impl std::fmt::Debug for JobLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobLog").field("key", &self.key).finish()
    }
}

/// Where a followed log starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogStart {
    /// The first line.
    #[default]
    Beginning,
    /// The line after this `seq` (a client resuming).
    After(u64),
    /// The last `n` stored lines.
    Tail(usize),
}

/// What following a log yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    /// The next line (its `seq` is one more than the last yielded, or the
    /// first after a gap the store no longer has).
    Line(LogLine),
    /// The job is over for good (no retry of it pending), with this status;
    /// every stored line came before.
    End(Status),
}

impl JobLog {
    /// The log's key (run and job).
    pub fn key(&self) -> &LogKey {
        &self.key
    }

    /// Stored lines with `seq > after`, at most `limit` (0: all).
    pub async fn read_after(&self, after: u64, limit: usize) -> Result<Vec<LogLine>> {
        Ok(self.logs.read_after(&self.key, after, limit).await?)
    }

    /// Follows the log from `start`: subscribes to new lines and to the
    /// job's status first, then reads what is stored, so that nothing is
    /// lost or repeated between the two.
    pub async fn follow(&self, start: LogStart) -> Result<LogFollow> {
        let live = self.logs.subscribe(&self.key);
        let events = self.engine.subscribe();
        let (first, after) = match start {
            LogStart::After(after) => (self.logs.read_after(&self.key, after, 0).await?, after),
            LogStart::Tail(n) => {
                // Where the log ends now, then its last n lines: the
                // stream goes on after whichever comes first.
                let end = self
                    .logs
                    .tail(&self.key, 1)
                    .await?
                    .last()
                    .map_or(0, |l| l.seq);
                let lines = self.logs.tail(&self.key, n).await?;
                let start = lines.first().map_or(end, |l| l.seq.saturating_sub(1));
                (lines, start)
            }
            LogStart::Beginning => (self.logs.read_after(&self.key, 0, 0).await?, 0),
        };
        Ok(LogFollow {
            log: self.clone(),
            live,
            events,
            last: after,
            pending: first.into(),
            check: true,
            catch_up: false,
            end: None,
            done: false,
        })
    }
}

/// A log being followed: [`LogFollow::next`] yields its lines in `seq`
/// order, each once, then [`Followed::End`] when the job is over for good.
pub struct LogFollow {
    log: JobLog,
    live: broadcast::Receiver<LogLine>,
    events: broadcast::Receiver<Event>,
    /// The last `seq` yielded (or the one the follow started after).
    last: u64,
    /// Lines read but not yet yielded.
    pending: VecDeque<LogLine>,
    /// Whether to look whether the job is over.
    check: bool,
    /// Whether to read what the store has after `last`.
    catch_up: bool,
    /// The job's final status, yielded after the pending lines.
    end: Option<Status>,
    done: bool,
}

impl std::fmt::Debug for LogFollow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFollow")
            .field("key", &self.log.key)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl LogFollow {
    /// The `seq` of the last line yielded (where a client resumes).
    pub fn last_seq(&self) -> u64 {
        self.last
    }

    /// The next line, or the end; `None` once the end was yielded.
    ///
    /// Cancel-safe: dropping the future (in a `select!` with a heartbeat,
    /// say) loses no line; the next call goes on where this one was.
    pub async fn next(&mut self) -> Result<Option<Followed>> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                if line.seq <= self.last {
                    continue;
                }
                self.last = line.seq;
                return Ok(Some(Followed::Line(line)));
            }
            if self.done {
                return Ok(None);
            }
            if let Some(status) = self.end.take() {
                self.done = true;
                return Ok(Some(Followed::End(status)));
            }
            if self.check {
                let finished = self.finished().await?;
                if let Some(status) = finished {
                    let rest = self.log.read_after(self.last, 0).await?;
                    self.pending.extend(rest);
                    self.end = Some(status);
                }
                self.check = false;
                continue;
            }
            if self.catch_up {
                let rest = self.log.read_after(self.last, 0).await?;
                self.pending.extend(rest);
                self.catch_up = false;
                continue;
            }
            // Both receivers are cancel-safe, and nothing changes before
            // one of them answers.
            tokio::select! {
                line = self.live.recv() => match line {
                    Ok(l) if l.seq == self.last + 1 => self.pending.push_back(l),
                    Ok(l) if l.seq <= self.last => {}
                    // A gap (lines stored before the subscription, or
                    // missed): the store has them.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up = true,
                    Err(broadcast::error::RecvError::Closed) => {
                        self.live = self.log.logs.subscribe(&self.log.key);
                        self.catch_up = true;
                    }
                },
                event = self.events.recv() => match event {
                    Ok(Event::Job { run, job, status })
                        if run == self.log.key.run && job == self.log.key.job && status.is_terminal() =>
                    {
                        self.check = true;
                    }
                    Ok(Event::Run { run, status })
                        if run == self.log.key.run && status.is_terminal() =>
                    {
                        self.check = true;
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => self.check = true,
                    Err(broadcast::error::RecvError::Closed) => {
                        self.events = self.log.engine.subscribe();
                        self.check = true;
                    }
                },
            }
        }
    }

    /// The job's status when it is over for good, else `None`.
    async fn finished(&self) -> Result<Option<Status>> {
        let run = self
            .log
            .engine
            .store()
            .get_run(&self.log.key.run)
            .await?
            .or_not_found("run", &self.log.key.run)?;
        Ok(job_over_for_good(&run, &self.log.key.job))
    }
}

/// The status of job `job` of `run` when it is over for good, else `None`:
/// a job that failed with attempts left in a run still going will be
/// retried, so it is not over.
pub fn job_over_for_good(run: &RunRecord, job: &str) -> Option<Status> {
    let record = run.job_named(job)?;
    if !record.status.is_terminal() {
        return None;
    }
    let retries = run
        .plan
        .stages
        .iter()
        .flat_map(|s| s.jobs.iter())
        .find(|j| j.name == job)
        .map_or(0, |j| j.retries);
    let retry_pending =
        record.status == Status::Failed && record.attempts <= retries && !run.status.is_terminal();
    (!retry_pending).then_some(record.status)
}

impl App {
    /// The log of job `job` of run `run`, after checking both exist, for
    /// a caller who may run the run's workflow or application (reading
    /// logs is a developer's right, not a viewer's).
    ///
    /// The run of a workload operation also has the logs of the instances
    /// it started, as jobs `instances/<instance id>` (docs/runtime.md); they
    /// go on while the instance runs.
    pub async fn job_log(&self, by: &Caller, run: &str, job: &str) -> Result<JobLog> {
        let record = self.run_for(by, Permission::Execute, run).await?;
        let instance_log = job
            .strip_prefix(crate::workloads::INSTANCES_LOG)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
            && record
                .plan
                .stages
                .iter()
                .flat_map(|s| s.jobs.iter())
                .any(|j| j.kind == crate::workloads::OPERATION_KIND);
        if record.job_named(job).is_none() && !instance_log {
            return Err(DomainError::not_found(
                "job",
                format!("`{job}` of run {run}"),
            ));
        }
        Ok(JobLog {
            key: LogKey::new(RunId(run.to_owned()), job),
            logs: self.engine.logs().clone(),
            engine: self.engine.clone(),
        })
    }

    /// Follows the log of job `job` of run `run` from `start` (see
    /// [`JobLog::follow`]).
    pub async fn follow_log(
        &self,
        by: &Caller,
        run: &str,
        job: &str,
        start: LogStart,
    ) -> Result<LogFollow> {
        self.job_log(by, run, job).await?.follow(start).await
    }
}
