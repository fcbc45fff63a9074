//! # slipway-domain: the CD product model and its use cases
//!
//! Projects, applications and their triggers, workflow definitions and
//! their compilation into `slipway-core` plans, approvals, secrets, tokens
//! and permissions, the Deploy API's manifests and pipelines; namespaces,
//! workloads, releases and tickets are still to come. Its use cases
//! (dispatch, redeploy, cancel, approve, ...) are what every HTTP API
//! calls: a dialect is written against [`App`] and its view types alone.
//!
//! **Depends on** `slipway-core` only. **Must not depend on** HTTP, SQL,
//! git libraries, process execution or any dialect: storage is reached
//! through traits defined here and implemented in `slipway-store`.
//!
//! Filled so far: [`definition`], the workflow definition format (see
//! `docs/workflow-format.md`); [`catalog`], projects, workflows and their
//! versions, applications, stored secrets, schedules, API tokens, and the
//! [`CatalogStore`] port; [`app`], the use cases ([`App`], one file per
//! topic: projects, workflows, runs, logs, tokens, sessions, permissions,
//! applications, secrets, audit, dispatch, webhooks, schedules);
//! [`schedule`], cron expressions; [`webhook`], webhook signatures and
//! events; [`filter`], CEL trigger filters; [`secrets`], secret values
//! sealed at rest (and the session key);
//! [`limits`], the limits on names and values, in one place;
//! [`memory`], an in-memory [`CatalogStore`] (with core's in-memory run
//! store and log sink, `App` runs without a database); [`workloads`], the
//! Deploy API's `manifest.json` / `pipeline.json` and the asynchronous
//! loads answered by `work_id`.

pub mod access;
pub mod app;
pub use app::applications;
pub mod catalog;
pub mod definition;
pub mod error;
pub mod filter;
pub mod limits;
pub mod memory;
pub mod schedule;
pub mod secrets;
pub mod webhook;
pub mod workloads;

pub use access::{Actor, Flags, Matrix, Permission, Role};
pub use app::sessions;
pub use app::{
    AdminTask, App, ApplicationInput, AuditEntry, AuditFilter, Caller, DispatchInput, Followed,
    HookOutcome, JobLog, LogFollow, LogStart, MAX_REPOSITORY_NAME_LEN, MatrixInput,
    NamedRepositoryInput, NewToken, On, ProjectInput, RepositoryInput, RunFilter, RunSecrets,
    ScheduleDetail, ScheduleInput, ServerStats, Session, SessionRefusal, SessionTtl, UserInput,
    Via,
};
pub use catalog::{
    ApiToken, Application, CatalogStore, CatalogStoreError, Identity, LastRun, Member,
    NamedRepository, Order, Page, PageRequest, Project, Repository, ScheduleTarget, SecretMeta,
    StoredSchedule, TriggerRule, User, Workflow, WorkflowVersion,
};
pub use definition::{
    ApprovalDef, Format, JobDef, MAX_DURATION, ParamDef, ParamType, StageDef, WorkflowDefinition,
    format_duration, parse_duration,
};
pub use error::{DefinitionError, DomainError};
pub use memory::MemoryCatalog;
pub use schedule::{FiresBetween, Schedule, ScheduleError};
pub use secrets::{SecretError, SecretKey, SecretName, SecretOwner, SessionKey};
pub use slipway_core::Problem;
pub use webhook::Provider;
