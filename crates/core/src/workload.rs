//! The workload runtime port: long-running workloads (deployments and
//! services) kept at a desired state by a backend.
//!
//! The domain stores what should run ([`WorkloadSpec`]: a program at a
//! revision, how many instances, a service port) and asks a
//! [`WorkloadRuntime`] to make it so; the runtime starts, supervises,
//! restarts, scales and replaces **instances** and reports them
//! ([`InstanceInfo`]). `slipway-exec` implements it with process groups
//! on the server's machine (`slipway_exec::runtime::LocalRuntime`); a
//! container or Kubernetes backend would implement the same trait (a
//! workload as a Deployment, a service's port as a Service, an instance
//! as a Pod). Jobs and cronjobs run to completion and are the engine's,
//! not the runtime's.

use crate::log::LogKey;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A workload's identity: its namespace and its name there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkloadKey {
    /// The namespace.
    pub namespace: String,
    /// The workload's name in it.
    pub name: String,
}

impl WorkloadKey {
    /// The workload `name` of `namespace`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        WorkloadKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for WorkloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// How the runtime tells that an instance is ready to serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Readiness {
    /// Its `PORT` accepts a TCP connection.
    Port,
    /// A command run in its directory (with its environment) exits 0.
    Command {
        /// The program and its arguments.
        argv: Vec<String>,
    },
    /// Ready as soon as it runs.
    Started,
}

/// What should run, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    /// Which workload.
    pub key: WorkloadKey,
    /// What a deploy changes (a release id, a manifest's digest): the
    /// instances of another revision are replaced, rolling.
    pub revision: String,
    /// The program (a path, or a name looked up in `PATH`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its environment (besides a short allowlist of the server's and
    /// `PORT`, which the runtime sets per instance).
    pub env: BTreeMap<String, String>,
    /// Where it runs (the release's files).
    pub workdir: PathBuf,
    /// How many instances to keep running (0: none, the workload stopped).
    pub instances: u32,
    /// The service port, served by the runtime and spread over the ready
    /// instances; `None` for a deployment.
    pub port: Option<u16>,
    /// How readiness is told.
    pub readiness: Readiness,
    /// How long a new instance may take to become ready.
    pub ready_timeout: Duration,
    /// Between `SIGTERM` and `SIGKILL` when an instance is stopped.
    pub stop_grace: Duration,
    /// Values masked in the instances' logs.
    pub secrets: Vec<String>,
    /// Where the instances' output goes: each instance's log is the job
    /// `<log.job>/<instance id>` of run `log.run` (the operation that
    /// applied this revision).
    pub log: Option<LogKey>,
}

/// What an instance is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// Started, not ready yet.
    Starting,
    /// Ready: the service sends it connections.
    Ready,
    /// Exited; waiting for its restart.
    Restarting,
    /// Exited again and again: restarted with the longest back-off.
    CrashLoop,
    /// Being stopped.
    Stopping,
}

impl InstanceState {
    /// Its word.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Starting => "starting",
            InstanceState::Ready => "ready",
            InstanceState::Restarting => "restarting",
            InstanceState::CrashLoop => "crash_loop",
            InstanceState::Stopping => "stopping",
        }
    }
}

/// One instance of a workload, as the runtime sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// Its id (stable across its restarts).
    pub id: String,
    /// The revision it runs.
    pub revision: String,
    /// Its own port (`PORT`).
    pub port: u16,
    /// The process id of its current process (its group's leader), while
    /// it runs.
    pub pid: Option<u32>,
    /// What it is doing.
    pub state: InstanceState,
    /// How many times it was restarted after exiting.
    pub restarts: u32,
    /// How its last process ended, when one did (`exit 1`, `signal 9`).
    pub last_exit: Option<String>,
    /// When its current process started.
    pub started_at: Option<DateTime<Utc>>,
}

/// What the runtime can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// The spec cannot run (a problem with the field named).
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The service port is taken on this machine.
    #[error("port {port} is already in use on this machine")]
    PortTaken {
        /// The port.
        port: u16,
    },
    /// New instances did not become ready in time; the previous ones (if
    /// any) keep serving.
    #[error("{key}: {message}")]
    NotReady {
        /// The workload.
        key: String,
        /// What happened.
        message: String,
    },
    /// The runtime has no such workload.
    #[error("no workload {0}")]
    NotFound(String),
    /// Anything else (spawning, the file system).
    #[error("{0}")]
    Failed(String),
}

/// A backend that keeps workloads at their desired state.
#[async_trait]
pub trait WorkloadRuntime: Send + Sync + 'static {
    /// Brings the workload to `spec`: starts it, scales it up or down, or
    /// rolls it to a new revision (new instances started and ready before
    /// the old ones stop). Returns once the wanted instances of the
    /// revision are ready; on [`RuntimeError::NotReady`] the instances
    /// that served before keep serving.
    async fn apply(&self, spec: &WorkloadSpec) -> Result<Vec<InstanceInfo>, RuntimeError>;

    /// Replaces every instance of a workload it runs by new ones of
    /// `spec`, rolling (the new ones ready before the old ones stop), even
    /// when `spec` runs the same processes; [`RuntimeError::NotFound`]
    /// when it does not run the workload.
    async fn restart(&self, spec: &WorkloadSpec) -> Result<Vec<InstanceInfo>, RuntimeError>;

    /// Stops every instance (gracefully) and forgets the workload; its
    /// service port is closed. Nothing of it is left running.
    async fn remove(&self, key: &WorkloadKey) -> Result<(), RuntimeError>;

    /// Its instances now (empty when it has none).
    fn instances(&self, key: &WorkloadKey) -> Vec<InstanceInfo>;

    /// Whether `port` could be the service port of `key`: it serves it
    /// already, or nothing else holds it ([`RuntimeError::PortTaken`]
    /// otherwise). Asked before a deploy is accepted; the default says
    /// yes (a backend whose ports are not this machine's).
    fn check_port(&self, key: &WorkloadKey, port: u16) -> Result<(), RuntimeError> {
        let _ = (key, port);
        Ok(())
    }

    /// After a start of the server: takes back the instances of `specs`
    /// that are still running (the same processes, checked by their
    /// start time), starts what is missing, serves the service ports
    /// again, and stops whatever it kept from a workload not in `specs`.
    /// Nothing is started twice.
    async fn recover(&self, specs: &[WorkloadSpec]) -> Result<(), RuntimeError>;
}
