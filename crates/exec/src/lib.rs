//! # slipway-exec: real execution
//!
//! The part of Slipway that runs real processes for jobs, and the built-in
//! job kinds built on it:
//!
//! - [`process`]: the process runner. One program in its own process
//!   group, a cleared environment with a short allowlist, stdout and stderr
//!   streamed line by line into the job's log in batches, and on cancel
//!   `SIGTERM` to the whole group, a grace period, then `SIGKILL`.
//! - [`shell`]: the `shell` job kind (also registered as `freestyle`):
//!   scripts run step by step in the run's workspace, outputs read from
//!   `$SLIPWAY_OUTPUT`.
//! - [`runtime`]: the local workload runtime ([`runtime::LocalRuntime`]):
//!   deployments and services kept running as supervised process groups,
//!   a service's port spread over its ready instances, rolling deploys,
//!   instances taken back after a restart of the server.
//!
//! [`register_builtin`] puts the built-in kinds into an engine's
//! [`Registry`]. (Cron schedules are the domain's: `slipway_domain::schedule`.)
//!
//! **Must not depend on**: any Slipway crate but `slipway-core`; HTTP, SQL
//! or git libraries. Job kinds reach the engine only through
//! `slipway_core::JobKind` and the `JobContext` it is handed.

pub mod error;
pub mod process;
pub mod runtime;
pub mod shell;

pub use error::ExecError;
pub use process::{
    ExitKind, GroupHandle, ProcessExit, ProcessSpec, run_process, run_process_announced,
    run_process_recorded,
};
pub use runtime::LocalRuntime;
pub use shell::{ShellConfig, ShellKind, ShellSpec};

use slipway_core::{CoreError, JobKind, Registry};
use std::sync::Arc;

/// Registers the built-in job kinds with default settings: the shell kind
/// as `shell` and as `freestyle`.
pub fn register_builtin(registry: &mut Registry) -> Result<(), CoreError> {
    register_builtin_with(registry, ShellConfig::default())
}

/// Registers the built-in job kinds, the shell kind with `shell` settings.
pub fn register_builtin_with(registry: &mut Registry, shell: ShellConfig) -> Result<(), CoreError> {
    let kind: Arc<dyn JobKind> = Arc::new(ShellKind::new(shell));
    registry.register_as("shell", kind.clone())?;
    registry.register_as("freestyle", kind)
}
