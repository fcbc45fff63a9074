//! Errors of the engine and of its ports.

use crate::plan::PlanError;
use crate::record::{RunId, Target};
use crate::status::Status;

/// What a store port can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No record with that id.
    #[error("run {0} not found")]
    NotFound(RunId),
    /// A record with that id exists already.
    #[error("run {0} exists already")]
    Duplicate(RunId),
    /// A conditional change found the record in another status.
    #[error("{target:?} of run {run} is {actual}, not {expected}")]
    Conflict {
        /// The run.
        run: RunId,
        /// The record.
        target: Target,
        /// The status the change required.
        expected: Status,
        /// The status it was in.
        actual: Status,
    },
    /// The target does not exist in the run.
    #[error("run {run} has no {target:?}")]
    NoSuchTarget {
        /// The run.
        run: RunId,
        /// The record asked for.
        target: Target,
    },
    /// The backend failed (connection, I/O, ...); the message says why.
    #[error("store backend: {0}")]
    Backend(String),
}

/// What the engine's operations can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The plan is invalid; every problem is listed.
    #[error(transparent)]
    InvalidPlan(#[from] PlanError),
    /// A job kind with that name is registered already.
    #[error("job kind `{0}` is registered already")]
    DuplicateKind(String),
    /// No run with that id.
    #[error("run {0} not found")]
    RunNotFound(RunId),
    /// No stage with that name in the run.
    #[error("run {run} has no stage `{stage}`")]
    StageNotFound {
        /// The run.
        run: RunId,
        /// The stage asked for.
        stage: String,
    },
    /// The operation does not fit the run's current state (cancel a
    /// finished run, approve a stage that is not waiting, ...).
    #[error("{0}")]
    Conflict(String),
    /// The decider is not among the gate's approvers.
    #[error("`{who}` may not decide on stage `{stage}`")]
    NotAnApprover {
        /// Who tried.
        who: String,
        /// The stage.
        stage: String,
    },
    /// An illegal status transition was attempted.
    #[error("illegal transition {from} -> {to}")]
    IllegalTransition {
        /// From.
        from: Status,
        /// To.
        to: Status,
    },
    /// The engine is shutting down and takes no new work.
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// A task the engine ran on its runtime stopped before it finished
    /// (it panicked, or the runtime was shutting down).
    #[error("an engine task stopped: {0}")]
    Task(String),
    /// A port failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Preparing a job's workspace failed.
    #[error("workspace {path}: {source}")]
    Workspace {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
