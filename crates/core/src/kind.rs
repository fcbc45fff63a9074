//! Job kinds: the `JobKind` trait, what a job receives when it runs, and
//! the registry that maps kind names to implementations.

use crate::error::{CoreError, StoreError};
use crate::log::{LogWriter, Masker};
use crate::plan::Problem;
use crate::ports::RunStore;
use crate::record::RunId;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// A kind of job: validates its spec when a plan is checked, and runs it
/// later. Implement it to add job kinds to the engine.
#[async_trait]
pub trait JobKind: Send + Sync + 'static {
    /// The name plans use in `kind`.
    fn name(&self) -> &str;

    /// Every problem with `spec`, paths relative to the spec (`steps[0].script`).
    fn validate(&self, spec: &serde_json::Value) -> Result<(), Vec<Problem>>;

    /// Runs the job. Must return soon after `ctx.cancel` fires, having
    /// stopped everything it started.
    async fn run(&self, ctx: JobContext) -> JobOutcome;

    /// Called when the engine starts and finds this job `running` from a
    /// process that died: stop whatever the job left behind, as described
    /// by the handle it recorded (`JobContext::handle`). The default does
    /// nothing.
    async fn interrupted(&self, handle: &serde_json::Value) {
        let _ = handle;
    }
}

/// How a job attempt ended, as its kind sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// It did its work (no process's exit code decided it).
    Passed,
    /// It did its work, as a process that exited with `exit_code` said
    /// (the shell kind: 0, the code of its last step). The engine records
    /// the code with the passed job.
    PassedWithCode {
        /// The exit code of the process that decided the outcome.
        exit_code: i32,
    },
    /// It failed; `error` says why.
    Failed {
        /// Why.
        error: String,
        /// The exit code of the failing process, when one decided it.
        exit_code: Option<i32>,
    },
    /// It stopped because `ctx.cancel` fired (the engine records cancelled
    /// or timed out, whichever caused it).
    Cancelled,
}

impl JobOutcome {
    /// True for [`JobOutcome::Passed`] and [`JobOutcome::PassedWithCode`].
    pub fn is_passed(&self) -> bool {
        matches!(self, JobOutcome::Passed | JobOutcome::PassedWithCode { .. })
    }

    /// A failure with a reason and no exit code.
    pub fn failed(error: impl Into<String>) -> Self {
        JobOutcome::Failed {
            error: error.into(),
            exit_code: None,
        }
    }
}

/// Where a job puts the values later jobs may read.
#[derive(Debug, Clone, Default)]
pub struct Outputs(Arc<Mutex<BTreeMap<String, String>>>);

impl Outputs {
    /// Sets output `key`.
    pub fn set(&self, key: impl Into<String>, value: impl Into<String>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.into(), value.into());
    }

    /// A copy of every output set so far.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Where a running job records what it would need to clean up after a
/// crash of the process running it (a process group id, a container
/// name...). The engine stores it with the job, hands it to
/// [`JobKind::interrupted`] when it finds the job still `running` at
/// start-up; the job's terminal status change clears it.
#[derive(Clone, Default)]
pub struct HandleRecorder {
    place: Option<(Arc<dyn RunStore>, RunId, usize, usize)>,
}

impl fmt::Debug for HandleRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Some((_, run, stage, job)) => write!(f, "HandleRecorder({run}, {stage}, {job})"),
            None => f.write_str("HandleRecorder(detached)"),
        }
    }
}

impl HandleRecorder {
    /// A recorder that writes job `job` of stage `stage` of `run`.
    pub fn new(store: Arc<dyn RunStore>, run: RunId, stage: usize, job: usize) -> Self {
        HandleRecorder {
            place: Some((store, run, stage, job)),
        }
    }

    /// A recorder that keeps nothing, for a kind run outside an engine.
    pub fn detached() -> Self {
        HandleRecorder::default()
    }

    /// Records `handle`, replacing the previous one.
    pub async fn record(&self, handle: &serde_json::Value) -> Result<(), StoreError> {
        match &self.place {
            Some((store, run, stage, job)) => {
                store.set_handle(run, *stage, *job, Some(handle)).await
            }
            None => Ok(()),
        }
    }

    /// Forgets the handle: nothing is left to clean up.
    pub async fn clear(&self) -> Result<(), StoreError> {
        match &self.place {
            Some((store, run, stage, job)) => store.set_handle(run, *stage, *job, None).await,
            None => Ok(()),
        }
    }
}

/// Everything a job receives when it runs.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The run.
    pub run_id: RunId,
    /// The stage's name.
    pub stage: String,
    /// The job's name.
    pub job: String,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// The spec, with references already resolved.
    pub spec: serde_json::Value,
    /// The run's workspace directory (shared by the run's jobs); it exists.
    pub workspace: PathBuf,
    /// A private directory for this attempt's scratch files. The engine
    /// reserves the path and removes it after the attempt; it is created on
    /// first use by [`JobContext::scratch_dir`] (creating directories is
    /// not free, and most jobs never need one).
    pub scratch: PathBuf,
    /// A file path private to this attempt, in a directory that exists,
    /// where the job's processes may write `key=value` outputs (the shell
    /// kind's `$SLIPWAY_OUTPUT`). Nothing is there at the start; the engine
    /// removes it after the attempt.
    pub outputs_file: PathBuf,
    /// Environment for processes the job starts: `SLIPWAY_*` facts, the
    /// job's env (resolved) and the secrets.
    pub env: BTreeMap<String, String>,
    /// The run's params.
    pub params: BTreeMap<String, String>,
    /// The secret values to mask (already applied by `log`).
    pub masker: Masker,
    /// The job's log.
    pub log: LogWriter,
    /// Fires on cancel or timeout.
    pub cancel: CancellationToken,
    /// Where the job sets its outputs.
    pub outputs: Outputs,
    /// Where the job records what a crash would leave behind.
    pub handle: HandleRecorder,
}

impl JobContext {
    /// The attempt's scratch directory, created if it does not exist yet.
    pub fn scratch_dir(&self) -> std::io::Result<&std::path::Path> {
        std::fs::create_dir_all(&self.scratch)?;
        Ok(&self.scratch)
    }
}

/// Maps kind names to implementations. Registering a name twice is an error.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<String, Arc<dyn JobKind>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("kinds", &self.names())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `kind` under its own name.
    pub fn register(&mut self, kind: Arc<dyn JobKind>) -> Result<(), CoreError> {
        let name = kind.name().to_owned();
        self.register_as(name, kind)
    }

    /// Registers `kind` under `name` (an alias such as `freestyle`).
    pub fn register_as(
        &mut self,
        name: impl Into<String>,
        kind: Arc<dyn JobKind>,
    ) -> Result<(), CoreError> {
        let name = name.into();
        if self.kinds.contains_key(&name) {
            return Err(CoreError::DuplicateKind(name));
        }
        self.kinds.insert(name, kind);
        Ok(())
    }

    /// The kind registered as `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn JobKind>> {
        self.kinds.get(name)
    }

    /// Every registered name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.kinds.keys().map(String::as_str).collect()
    }
}
