//! In-memory implementations of the ports, so that the engine runs alone in
//! a test or an embedding tool. Nothing here survives the process.

use crate::error::StoreError;
use crate::log::{LogKey, LogLine, NewLine};
use crate::ports::{LogSink, RunStore};
use crate::record::{ApprovalDecision, JobRecord, RunId, RunQuery, RunRecord, StatusChange};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Runs kept in a map, in insertion order.
#[derive(Debug, Default)]
pub struct MemoryRunStore {
    inner: Mutex<MemRuns>,
}

#[derive(Debug, Default)]
struct MemRuns {
    order: Vec<RunId>,
    runs: HashMap<RunId, RunRecord>,
}

impl MemoryRunStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut MemRuns) -> T) -> T {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    fn with_run<T>(
        &self,
        id: &RunId,
        f: impl FnOnce(&mut RunRecord) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with(|m| match m.runs.get_mut(id) {
            Some(r) => f(r),
            None => Err(StoreError::NotFound(id.clone())),
        })
    }

    /// Runs `f` on job `job` of stage `stage` of run `run`
    /// (`NoSuchTarget` when the run has no such job).
    fn with_job(
        &self,
        run: &RunId,
        stage: usize,
        job: usize,
        f: impl FnOnce(&mut JobRecord),
    ) -> Result<(), StoreError> {
        self.with_run(run, |r| {
            let j = r
                .stages
                .get_mut(stage)
                .and_then(|s| s.jobs.get_mut(job))
                .ok_or_else(|| StoreError::NoSuchTarget {
                    run: run.clone(),
                    target: crate::record::Target::Job(stage, job),
                })?;
            f(j);
            Ok(())
        })
    }
}

/// Whether `r` passes `q`'s filters (its workflow and statuses).
fn passes(q: &RunQuery, r: &RunRecord) -> bool {
    (q.workflow_key.is_none() || r.workflow_key == q.workflow_key)
        && q.workflow_keys
            .as_ref()
            .is_none_or(|keys| r.workflow_key.as_ref().is_some_and(|k| keys.contains(k)))
        && (q.statuses.is_empty() || q.statuses.contains(&r.status))
}

#[async_trait]
impl RunStore for MemoryRunStore {
    async fn insert_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.with(|m| {
            if m.runs.contains_key(&run.id) {
                return Err(StoreError::Duplicate(run.id.clone()));
            }
            m.order.push(run.id.clone());
            m.runs.insert(run.id.clone(), run.clone());
            Ok(())
        })
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<RunRecord>, StoreError> {
        Ok(self.with(|m| m.runs.get(id).cloned()))
    }

    async fn list_runs(&self, q: &RunQuery) -> Result<Vec<RunRecord>, StoreError> {
        Ok(self.with(|m| {
            let iter: Box<dyn Iterator<Item = &RunId>> = if q.oldest_first {
                Box::new(m.order.iter())
            } else {
                Box::new(m.order.iter().rev())
            };
            let limit = if q.limit == 0 { usize::MAX } else { q.limit };
            iter.filter_map(|id| m.runs.get(id))
                .filter(|r| passes(q, r))
                .skip(q.offset)
                .take(limit)
                .cloned()
                .collect()
        }))
    }

    async fn count_runs(&self, q: &RunQuery) -> Result<u64, StoreError> {
        Ok(self.with(|m| m.runs.values().filter(|r| passes(q, r)).count() as u64))
    }

    async fn change_status(&self, run: &RunId, change: &StatusChange) -> Result<(), StoreError> {
        self.with_run(run, |r| r.apply(change))
    }

    async fn change_statuses(
        &self,
        run: &RunId,
        changes: &[StatusChange],
    ) -> Result<(), StoreError> {
        self.with_run(run, |r| {
            let mut next = r.clone();
            for change in changes {
                next.apply(change)?;
            }
            *r = next;
            Ok(())
        })
    }

    async fn set_outputs(
        &self,
        run: &RunId,
        stage: usize,
        job: usize,
        outputs: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        self.with_job(run, stage, job, |j| j.outputs = outputs.clone())
    }

    async fn set_handle(
        &self,
        run: &RunId,
        stage: usize,
        job: usize,
        handle: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        self.with_job(run, stage, job, |j| j.handle = handle.cloned())
    }

    async fn add_approval(
        &self,
        run: &RunId,
        stage: usize,
        decision: &ApprovalDecision,
    ) -> Result<(), StoreError> {
        self.with_run(run, |r| {
            let s = r
                .stages
                .get_mut(stage)
                .ok_or_else(|| StoreError::NoSuchTarget {
                    run: run.clone(),
                    target: crate::record::Target::Stage(stage),
                })?;
            s.approvals.push(decision.clone());
            Ok(())
        })
    }
}

/// Job logs kept in memory, with a live channel per log.
#[derive(Debug, Default)]
pub struct MemoryLogSink {
    logs: Mutex<HashMap<LogKey, MemLog>>,
}

#[derive(Debug)]
struct MemLog {
    lines: Vec<LogLine>,
    /// Made when somebody first subscribes: most logs are never watched
    /// live, and a channel's buffer is allocated whole.
    live: Option<broadcast::Sender<LogLine>>,
}

impl MemLog {
    fn new() -> Self {
        MemLog {
            lines: Vec::new(),
            live: None,
        }
    }
}

/// Lines a live reader may fall behind by before it is told it lagged
/// (it then reads the rest from the store).
pub const LIVE_CAPACITY: usize = 1024;

impl MemoryLogSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, key: &LogKey, f: impl FnOnce(&mut MemLog) -> T) -> T {
        let mut g = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        f(g.entry(key.clone()).or_insert_with(MemLog::new))
    }
}

#[async_trait]
impl LogSink for MemoryLogSink {
    async fn append(&self, key: &LogKey, lines: Vec<NewLine>) -> Result<Vec<LogLine>, StoreError> {
        Ok(self.with(key, |log| {
            let first = log.lines.last().map_or(0, |l| l.seq) + 1;
            let mut stored = Vec::with_capacity(lines.len());
            for (seq, l) in (first..).zip(lines) {
                let line = LogLine {
                    seq,
                    stream: l.stream,
                    at: l.at,
                    text: l.text,
                };
                if let Some(live) = &log.live {
                    let _ = live.send(line.clone());
                }
                log.lines.push(line.clone());
                stored.push(line);
            }
            stored
        }))
    }

    async fn read_after(
        &self,
        key: &LogKey,
        after: u64,
        limit: usize,
    ) -> Result<Vec<LogLine>, StoreError> {
        Ok(self.with(key, |log| {
            // seq n is at index n - 1.
            let start = usize::try_from(after)
                .unwrap_or(usize::MAX)
                .min(log.lines.len());
            let end = if limit == 0 {
                log.lines.len()
            } else {
                start.saturating_add(limit).min(log.lines.len())
            };
            log.lines[start..end].to_vec()
        }))
    }

    async fn tail(&self, key: &LogKey, n: usize) -> Result<Vec<LogLine>, StoreError> {
        Ok(self.with(key, |log| {
            let start = log.lines.len().saturating_sub(n);
            log.lines[start..].to_vec()
        }))
    }

    fn subscribe(&self, key: &LogKey) -> broadcast::Receiver<LogLine> {
        self.with(key, |log| {
            log.live
                .get_or_insert_with(|| broadcast::channel(LIVE_CAPACITY).0)
                .subscribe()
        })
    }
}
