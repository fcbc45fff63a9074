//! The ports the engine needs, as traits. `memory` holds in-memory
//! implementations; `slipway-store` implements them on SQL databases.

use crate::error::StoreError;
use crate::log::{LogKey, LogLine, NewLine};
use crate::record::{ApprovalDecision, RunId, RunQuery, RunRecord, RunSummary, StatusChange};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use tokio::sync::broadcast;

/// Where runs, stages and jobs are recorded.
#[async_trait]
pub trait RunStore: Send + Sync + 'static {
    /// Stores a new run with all its stage and job records, whole or not
    /// at all.
    async fn insert_run(&self, run: &RunRecord) -> Result<(), StoreError>;

    /// The run with that id.
    async fn get_run(&self, id: &RunId) -> Result<Option<RunRecord>, StoreError>;

    /// Runs matching `query`, ordered by creation time.
    async fn list_runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>, StoreError>;

    /// How many runs match `query`'s filters (its order, limit and offset
    /// are ignored): the total of a paged list.
    async fn count_runs(&self, query: &RunQuery) -> Result<u64, StoreError>;

    /// A page of runs as summaries, with the total matching the filters:
    /// what a list shows, without reading plans, stages and jobs. The
    /// default builds them from `list_runs` and `count_runs`.
    async fn list_summaries(&self, query: &RunQuery) -> Result<(Vec<RunSummary>, u64), StoreError> {
        let runs = self.list_runs(query).await?;
        let total = self.count_runs(query).await?;
        Ok((runs.iter().map(RunSummary::from).collect(), total))
    }

    /// Applies a conditional status change (see [`StatusChange`] for the
    /// field effects). Fails with `Conflict` when the record is not in
    /// `change.from`.
    async fn change_status(&self, run: &RunId, change: &StatusChange) -> Result<(), StoreError>;

    /// Applies several changes of one run, in order, all or none (the
    /// engine uses it for changes that happen together, such as a run, its
    /// first stage and its first job starting). The default applies them
    /// one by one; stores that can should do it in one transaction.
    async fn change_statuses(
        &self,
        run: &RunId,
        changes: &[StatusChange],
    ) -> Result<(), StoreError> {
        for change in changes {
            self.change_status(run, change).await?;
        }
        Ok(())
    }

    /// Replaces a job's outputs.
    async fn set_outputs(
        &self,
        run: &RunId,
        stage: usize,
        job: usize,
        outputs: &BTreeMap<String, String>,
    ) -> Result<(), StoreError>;

    /// Records (or clears) what a running job's kind needs to find its
    /// leftovers after a crash.
    async fn set_handle(
        &self,
        run: &RunId,
        stage: usize,
        job: usize,
        handle: Option<&serde_json::Value>,
    ) -> Result<(), StoreError>;

    /// Appends a decision to a stage's approval history.
    async fn add_approval(
        &self,
        run: &RunId,
        stage: usize,
        decision: &ApprovalDecision,
    ) -> Result<(), StoreError>;
}

/// Where job logs go.
#[async_trait]
pub trait LogSink: Send + Sync + 'static {
    /// Appends lines to a job's log, numbering them after the last stored
    /// line; returns them as stored.
    async fn append(&self, key: &LogKey, lines: Vec<NewLine>) -> Result<Vec<LogLine>, StoreError>;

    /// Lines with `seq > after`, at most `limit` of them (0: all).
    async fn read_after(
        &self,
        key: &LogKey,
        after: u64,
        limit: usize,
    ) -> Result<Vec<LogLine>, StoreError>;

    /// The last `n` lines, oldest first, without reading the whole log.
    async fn tail(&self, key: &LogKey, n: usize) -> Result<Vec<LogLine>, StoreError>;

    /// Live lines appended from now on. Subscribe first, then read stored
    /// lines, then skip live ones whose `seq` was already seen.
    fn subscribe(&self, key: &LogKey) -> broadcast::Receiver<LogLine>;

    /// The whole log.
    async fn read_all(&self, key: &LogKey) -> Result<Vec<LogLine>, StoreError> {
        self.read_after(key, 0, 0).await
    }
}

/// Where the engine gets a run's secrets when it resumes the run by itself
/// (queued or approval-waiting runs after a restart): secrets are never
/// stored with runs, so whoever keeps them hands them over again.
#[async_trait]
pub trait SecretSource: Send + Sync + 'static {
    /// The secrets `run` gets, by environment variable name (empty when it
    /// has none). An error fails the run rather than running it without.
    async fn secrets_for(&self, run: &RunRecord) -> Result<BTreeMap<String, String>, StoreError>;
}

/// The time source; injected so that tests can control it.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// The time, to the microsecond: the precision both SQL backends keep,
    /// so that a record held in memory equals the same record read back.
    fn now(&self) -> DateTime<Utc> {
        use chrono::SubsecRound;
        Utc::now().trunc_subsecs(6)
    }
}
