//! # slipway-domain: the CD product model and its use cases
//!
//! Projects, applications and their triggers, workflow definitions and
//! their compilation into `slipway-core` plans, namespaces and workloads,
//! releases, approvals and tickets, secrets, tokens and permissions. Its use
//! cases (dispatch, redeploy, cancel, approve, ...) are what every HTTP
//! dialect calls.
//!
//! **Depends on** `slipway-core` only. **Must not depend on** HTTP, SQL,
//! git libraries, process execution or any dialect: storage is reached
//! through traits defined here and implemented in `slipway-store`.
//!
//! Filled so far: [`definition`], the workflow definition format (see
//! `docs/workflow-format.md`); [`catalog`], projects, workflows and their
//! versions, API tokens, and the [`CatalogStore`] port; [`app`], the use
//! cases ([`App`]); [`schedule`], cron schedules; [`webhook`], webhook
//! signatures and events; [`secrets`], secret values sealed at rest. Still
//! to come with "Applications and triggers...": applications, stored
//! secrets and the triggers that use these pieces.

pub mod app;
pub mod catalog;
pub mod definition;
pub mod error;
pub mod schedule;
pub mod secrets;
pub mod webhook;

pub use app::{App, Caller, DomainError, NewToken, ProjectInput, RunFilter};
pub use catalog::{
    ApiToken, CatalogStore, CatalogStoreError, Order, Page, PageRequest, Project, Workflow,
    WorkflowVersion,
};
pub use definition::{
    ApprovalDef, Format, JobDef, MAX_DURATION, ParamDef, ParamType, StageDef, WorkflowDefinition,
    format_duration, parse_duration,
};
pub use error::DefinitionError;
pub use schedule::{FiresBetween, Schedule, ScheduleError};
pub use secrets::{SecretError, SecretKey, SecretName, SecretOwner};
pub use slipway_core::Problem;
