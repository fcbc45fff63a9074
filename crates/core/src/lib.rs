//! # slipway-core: the embeddable workflow engine
//!
//! A [`Plan`] is stages run in order; each stage holds jobs, run together
//! when the stage is `parallel`, one after another otherwise. A job names a
//! [`JobKind`] and carries a JSON spec that the kind validates. The
//! [`Engine`] executes plans on tokio: timeouts, cancellation, retries,
//! approval gates, per-workflow concurrency limits, outputs passed between
//! jobs (see [`refs`] for the syntax) and an [`Event`] stream.
//!
//! The engine reaches the outside world only through ports: a [`RunStore`],
//! a [`LogSink`], a [`Clock`], and optionally a [`SecretSource`] (the
//! secrets of runs resumed after a restart). In-memory implementations of
//! the first three ship in [`memory`], so the engine runs with nothing
//! else. [`source::GitSource`] is the port through which job kinds and
//! the domain read git repositories (resolve, files and directories at a
//! ref, checkouts); `slipway-git` implements it. [`WorkloadRuntime`] is
//! the port of long-running workloads (deployments and services) kept at
//! their desired state; `slipway-exec` implements it with local process
//! groups.
//!
//! **Must not depend on**: any other Slipway crate, HTTP, SQL, git
//! libraries or dialects. Everything else depends on this crate.

pub mod engine;
pub mod error;
pub mod events;
pub mod kind;
pub mod log;
pub mod memory;
pub mod plan;
pub mod ports;
pub mod record;
pub mod refs;
pub mod source;
pub mod status;
pub mod workload;

pub use engine::{Decision, Engine, EngineBuilder, INTERRUPTED, Recovery, RunRequest};
pub use error::{CoreError, StoreError};
pub use events::{Event, EventBus};
pub use kind::{HandleRecorder, JobContext, JobKind, JobOutcome, Outputs, Registry};
pub use log::{LogKey, LogLine, LogWriter, Masker, NewLine, Stream};
pub use memory::{MemoryLogSink, MemoryRunStore};
pub use plan::{Approval, Job, Plan, PlanError, Problem, Stage};
pub use ports::{Clock, LogSink, RunStore, SecretSource, SystemClock};
pub use record::{
    ApprovalDecision, JobRecord, RunId, RunQuery, RunRecord, RunSummary, StageRecord, StatusChange,
    Target, Trigger,
};
pub use status::Status;
pub use workload::{
    InstanceInfo, InstanceState, Readiness, RuntimeError, WorkloadKey, WorkloadRuntime,
    WorkloadSpec,
};

pub use async_trait::async_trait;
pub use tokio_util::sync::CancellationToken;
