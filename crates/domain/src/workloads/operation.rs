//! Running workloads: [`Workloads`] (the store, the runtime, the secrets
//! and the files root, shared by `App` and the job kind) turns a stored
//! workload into a [`WorkloadSpec`], and [`OperationKind`], the internal
//! job kind `workload`, applies one operation (deploy, start, stop,
//! restart, scale, delete) to the runtime as the only job of a run: so an
//! operation's record, log, cancellation and crash recovery are the
//! engine's, and the runs of a workload (its id is their concurrency
//! key) are its operation history.

use super::running::{Namespace, Workload, WorkloadStore};
use crate::app::RunSecrets;
use crate::error::DomainError;
use slipway_core::{
    JobContext, JobKind, JobOutcome, LogKey, Problem, Readiness, RunId, RuntimeError, Stream,
    WorkloadKey, WorkloadRuntime, WorkloadSpec, async_trait,
};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The name of the internal job kind.
pub const OPERATION_KIND: &str = "workload";

/// The job of an operation's run whose log holds the instances' output
/// (`instances/<instance id>`).
pub const INSTANCES_LOG: &str = "instances";

/// How long new instances may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Between `SIGTERM` and `SIGKILL` when an instance stops.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Create or change a workload from a manifest.
    Deploy,
    /// Run its instances again after a stop.
    Start,
    /// No instance (the desired state is kept).
    Stop,
    /// Replace every instance, rolling.
    Restart,
    /// Another number of instances.
    Scale,
    /// Stop it and forget it.
    Delete,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 6] = [
        Operation::Deploy,
        Operation::Start,
        Operation::Stop,
        Operation::Restart,
        Operation::Scale,
        Operation::Delete,
    ];

    /// Its word (the job's name and the spec's `operation`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Deploy => "deploy",
            Operation::Start => "start",
            Operation::Stop => "stop",
            Operation::Restart => "restart",
            Operation::Scale => "scale",
            Operation::Delete => "delete",
        }
    }

    /// The operation named `word`.
    pub fn parse(word: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.as_str() == word)
    }
}

struct Inner {
    store: Arc<dyn WorkloadStore>,
    runtime: Arc<dyn WorkloadRuntime>,
    secrets: RunSecrets,
    files_root: PathBuf,
    default_project: String,
}

/// What running workloads needs, shared by `App` and [`OperationKind`].
#[derive(Clone)]
pub struct Workloads {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Workloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workloads")
            .field("files_root", &self.inner.files_root)
            .finish_non_exhaustive()
    }
}

impl Workloads {
    /// Workloads kept in `store`, run by `runtime`, with the projects'
    /// secrets of `secrets` in their environment, running in directories
    /// under `files_root`; a first deploy into an unknown namespace makes
    /// it in the project named `default_project` (made on first use).
    pub fn new(
        store: Arc<dyn WorkloadStore>,
        runtime: Arc<dyn WorkloadRuntime>,
        secrets: RunSecrets,
        files_root: impl Into<PathBuf>,
        default_project: impl Into<String>,
    ) -> Self {
        Workloads {
            inner: Arc::new(Inner {
                store,
                runtime,
                secrets,
                files_root: files_root.into(),
                default_project: default_project.into(),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn WorkloadStore> {
        &self.inner.store
    }

    /// The runtime.
    pub fn runtime(&self) -> &Arc<dyn WorkloadRuntime> {
        &self.inner.runtime
    }

    /// The project a first deploy puts a new namespace in.
    pub fn default_project(&self) -> &str {
        &self.inner.default_project
    }

    /// The job kind that runs operations (register it in the engine's
    /// registry).
    pub fn kind(&self) -> Arc<dyn JobKind> {
        Arc::new(OperationKind {
            workloads: self.clone(),
        })
    }

    /// Where a workload of `namespace` named `name` runs, relative to the
    /// files root: the manifest's `workdir` (an existing directory under
    /// the root, reached without leaving it through a symbolic link), or
    /// its own directory `<namespace>/<name>`, made when missing.
    pub fn resolve_workdir(
        &self,
        namespace: &str,
        name: &str,
        workdir: Option<&str>,
    ) -> Result<String, Problem> {
        let root = &self.inner.files_root;
        let fail = |m: String| Problem::new("workdir", m);
        let Some(wanted) = workdir else {
            let own = format!("{namespace}/{name}");
            std::fs::create_dir_all(root.join(&own))
                .map_err(|e| fail(format!("cannot make the workload's directory: {e}")))?;
            return Ok(own);
        };
        if let Some(why) = super::relative_path_problem(wanted) {
            return Err(fail(why.to_owned()));
        }
        std::fs::create_dir_all(root)
            .map_err(|e| fail(format!("cannot make the files directory: {e}")))?;
        let real_root = root
            .canonicalize()
            .map_err(|e| fail(format!("the files directory: {e}")))?;
        let real = root.join(wanted).canonicalize().map_err(|_| {
            fail(format!(
                "`{wanted}` is not a directory under the workloads' files directory"
            ))
        })?;
        if !real.starts_with(&real_root) {
            return Err(fail(format!(
                "`{wanted}` leads out of the workloads' files directory through a symbolic link"
            )));
        }
        if !real.is_dir() {
            return Err(fail(format!("`{wanted}` is not a directory")));
        }
        let rel = real.strip_prefix(&real_root).unwrap_or(Path::new(""));
        let parts: Vec<String> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        Ok(if parts.is_empty() {
            ".".to_owned()
        } else {
            parts.join("/")
        })
    }

    /// What the runtime should run for `w` of `ns`; its instances' output
    /// goes to the log of `log_run` (job `instances/<instance id>`).
    pub async fn spec_of(
        &self,
        w: &Workload,
        ns: &Namespace,
        log_run: Option<&str>,
    ) -> Result<WorkloadSpec, DomainError> {
        let secrets = self.inner.secrets.of(&ns.project_id, None).await?;
        let workdir = self.inner.files_root.join(&w.workdir);
        let command = &w.manifest.command;
        let program = if command.contains('/') && !command.starts_with('/') {
            workdir.join(command).display().to_string()
        } else {
            command.clone()
        };
        let mut env = secrets.clone();
        env.extend(w.manifest.env.clone());
        let readiness = if w.manifest.port.is_some() {
            Readiness::Port
        } else {
            Readiness::Started
        };
        Ok(WorkloadSpec {
            key: WorkloadKey::new(&ns.name, &w.name),
            revision: format!("r{}", w.revision),
            program,
            args: w.manifest.args.clone(),
            env,
            workdir,
            instances: w.instances,
            port: w.port,
            readiness,
            ready_timeout: READY_TIMEOUT,
            stop_grace: STOP_GRACE,
            secrets: secrets.into_values().collect(),
            log: log_run.map(|r| LogKey::new(RunId(r.to_owned()), INSTANCES_LOG)),
        })
    }

    /// After a start of the server (and the engine's own recovery): hands
    /// the runtime the spec of every stored workload, so that it takes
    /// back what still runs and starts what is missing. Returns how many
    /// workloads there are.
    pub async fn recover(&self) -> Result<usize, DomainError> {
        let all = self.inner.store.all_workloads(None).await?;
        let mut specs = Vec::with_capacity(all.len());
        for w in &all {
            let Some(ns) = self.inner.store.namespace(&w.namespace_id).await? else {
                continue;
            };
            specs.push(self.spec_of(w, &ns, w.log_run.as_deref()).await?);
        }
        // A workload that cannot be brought back (its port taken
        // meanwhile) is logged by the runtime; the others still are.
        if let Err(e) = self.inner.runtime.recover(&specs).await {
            tracing::error!(error = %e, "not every workload could be recovered");
        }
        Ok(specs.len())
    }
}

/// The internal job kind `workload`: spec `{"operation": "deploy" |
/// "start" | "stop" | "restart" | "scale" | "delete", "workload": "<id>"}`.
/// It brings the runtime to the workload's stored desired state (or
/// removes it) and writes what happened to its log.
pub struct OperationKind {
    workloads: Workloads,
}

impl std::fmt::Debug for OperationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperationKind")
    }
}

fn runtime_error(e: &RuntimeError) -> String {
    e.to_string()
}

impl OperationKind {
    async fn say(ctx: &JobContext, text: &str) {
        if let Err(e) = ctx.log.line(Stream::System, text).await {
            tracing::warn!(error = %e, "writing an operation's log");
        }
    }

    async fn operate(&self, ctx: &JobContext, op: Operation, id: &str) -> Result<(), String> {
        let store = self.workloads.store();
        let runtime = self.workloads.runtime();
        let Some(w) = store.workload(id).await.map_err(|e| e.to_string())? else {
            if op == Operation::Delete {
                Self::say(ctx, "the workload is gone already").await;
                return Ok(());
            }
            return Err(format!("workload {id} was deleted"));
        };
        let ns = store
            .namespace(&w.namespace_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the namespace of workload {id} is gone"))?;
        let key = WorkloadKey::new(&ns.name, &w.name);
        match op {
            Operation::Delete => {
                Self::say(ctx, &format!("stopping every instance of {key}")).await;
                match runtime.remove(&key).await {
                    Ok(()) | Err(RuntimeError::NotFound(_)) => {}
                    Err(e) => return Err(runtime_error(&e)),
                }
                store
                    .delete_workload(&w.id)
                    .await
                    .map_err(|e| e.to_string())?;
                Self::say(ctx, &format!("{key} is deleted")).await;
                return Ok(());
            }
            Operation::Restart if w.instances > 0 => {
                Self::say(ctx, &format!("restarting every instance of {key}, rolling")).await;
                // The new instances log to this operation's run.
                let spec = self
                    .workloads
                    .spec_of(&w, &ns, Some(ctx.run_id.as_str()))
                    .await
                    .map_err(|e| e.to_string())?;
                match runtime.restart(&spec).await {
                    Ok(instances) => {
                        self.report(ctx, &instances).await;
                        if let Err(e) = store.set_log_run(&w.id, ctx.run_id.as_str()).await {
                            tracing::warn!(workload = %key, error = %e, "recording the log of a workload");
                        }
                        return Ok(());
                    }
                    // Not running here (yet): apply the desired state.
                    Err(RuntimeError::NotFound(_)) => {}
                    Err(e) => return Err(runtime_error(&e)),
                }
            }
            _ => {}
        }
        let spec = self
            .workloads
            .spec_of(&w, &ns, Some(ctx.run_id.as_str()))
            .await
            .map_err(|e| e.to_string())?;
        Self::say(
            ctx,
            &format!(
                "{key}: revision {}, {} instance(s) of `{}`{}",
                spec.revision,
                spec.instances,
                w.manifest.command,
                spec.port
                    .map(|p| format!(", service port {p}"))
                    .unwrap_or_default()
            ),
        )
        .await;
        let instances = runtime.apply(&spec).await.map_err(|e| runtime_error(&e))?;
        self.report(ctx, &instances).await;
        if spec.instances > 0
            && let Err(e) = store.set_log_run(&w.id, ctx.run_id.as_str()).await
        {
            tracing::warn!(workload = %key, error = %e, "recording the log of a workload");
        }
        Ok(())
    }

    async fn report(&self, ctx: &JobContext, instances: &[slipway_core::InstanceInfo]) {
        if instances.is_empty() {
            Self::say(ctx, "no instance runs").await;
        }
        for i in instances {
            Self::say(
                ctx,
                &format!(
                    "instance {} ({}): {}, port {}, pid {}",
                    i.id,
                    i.revision,
                    i.state.as_str(),
                    i.port,
                    i.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
                ),
            )
            .await;
        }
    }
}

#[async_trait]
impl JobKind for OperationKind {
    fn name(&self) -> &str {
        OPERATION_KIND
    }

    fn validate(&self, spec: &serde_json::Value) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        match spec.get("operation").and_then(|v| v.as_str()) {
            Some(w) if Operation::parse(w).is_some() => {}
            _ => problems.push(Problem::new(
                "operation",
                "must be one of deploy, start, stop, restart, scale, delete",
            )),
        }
        match spec.get("workload").and_then(|v| v.as_str()) {
            Some(w) if !w.is_empty() => {}
            _ => problems.push(Problem::new("workload", "required: a workload's id")),
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    async fn run(&self, ctx: JobContext) -> JobOutcome {
        let op = ctx
            .spec
            .get("operation")
            .and_then(|v| v.as_str())
            .and_then(Operation::parse);
        let id = ctx.spec.get("workload").and_then(|v| v.as_str());
        let (Some(op), Some(id)) = (op, id) else {
            return JobOutcome::failed("the spec names no operation or workload");
        };
        // Not cut short by a cancel: a change of the runtime ends within
        // the readiness timeout, and stopping it halfway would leave
        // instances nobody accounts for.
        match self.operate(&ctx, op, id).await {
            Ok(()) => JobOutcome::Passed,
            Err(e) => {
                Self::say(&ctx, &format!("failed: {e}")).await;
                JobOutcome::failed(e)
            }
        }
    }
}
