//! The `shell` job kind (also registered as `freestyle`): runs scripts, one
//! step after another, in the run's workspace.
//!
//! # Spec
//!
//! ```json
//! {
//!   "shell": "sh -e",
//!   "working_dir": "services/api",
//!   "steps": [
//!     { "name": "build", "script": "make build" },
//!     { "script": "set -o pipefail; make test | tee test.log", "shell": ["bash", "-e"] }
//!   ]
//! }
//! ```
//!
//! - `shell` (optional, default `"sh -e"`): the interpreter, as one string
//!   split at whitespace (no quoting) or as a list of words
//!   (`["bash", "-eo", "pipefail"]`). A step's own `shell` overrides it.
//! - `working_dir` (optional): a relative path inside the workspace, without
//!   `..`; created when missing. Default: the workspace itself.
//! - `steps` (required, at least one): each has a `script` (required, not
//!   blank) and optionally a `name` (default `step-1`, `step-2`, ...; names
//!   are unique) and a `shell`.
//!
//! Unknown fields are errors. Steps run in order, sharing the workspace (a
//! file written by one step is there for the next); a step that fails stops
//! the job. Each step is announced in the log by a system line
//! `$ step NAME`. A script is passed as `SHELL... -c SCRIPT`; a script of
//! 64 KiB or more is written to a file in the attempt's scratch directory
//! and passed as `SHELL... FILE` instead.
//!
//! A job whose steps all exit with 0 passes with exit code 0 (recorded
//! with the job). A step that exits with a non-zero code fails the job
//! with that exit code (``step `build` exited with code 2``); one killed by a signal fails it
//! naming the signal. Cancelling the job (or its timeout) sends `SIGTERM` to
//! the step's whole process group and `SIGKILL` after the grace
//! ([`ShellConfig::kill_grace`], default 5 s). When a step ends, processes
//! it left in the background are killed.
//!
//! # Environment
//!
//! A step's environment is built from nothing: the server's `PATH`, `HOME`,
//! `USER`, `LOGNAME`, `LANG`, `LC_ALL`, `TZ`, `TMPDIR` and `SHELL` (when set;
//! see [`PASS_THROUGH_ENV`]), then the job's environment from the engine
//! (`SLIPWAY_*` facts, the job's `env`, secrets), then `SLIPWAY_OUTPUT`.
//! Later sources win. Secret values are masked in the log (`******`), also
//! line by line for multi-line secrets.
//!
//! # Outputs
//!
//! `$SLIPWAY_OUTPUT` names a file private to the attempt (an absolute
//! path, as `$SLIPWAY_WORKSPACE` is, whatever the server's data
//! directory), in a writable directory, that steps append to
//! (`echo k=v >> "$SLIPWAY_OUTPUT"`); it does not exist until a step
//! writes it, since most jobs set no outputs; after the last step that ran
//! (also after a failure) it is read into the job's outputs, GitHub
//! Actions style:
//!
//! ```text
//! version=1.4.2
//! notes<<EOF
//! first line
//! second line
//! EOF
//! ```
//!
//! - `key=value`: the value is everything after the first `=`.
//! - `key<<DELIMITER`, then lines up to a line that is exactly
//!   `DELIMITER`: the value is those lines joined with `\n`.
//! - Keys match `[A-Za-z0-9_-]+`; a later value for a key replaces an
//!   earlier one; empty lines are ignored.
//! - A line that fits neither form, a bad key, a missing delimiter or a
//!   value holding a NUL character (no later job's environment or
//!   arguments could take it) is reported as a system line in the log and
//!   ignored. The file is read up
//!   to [`MAX_OUTPUTS_BYTES`]; a larger file is ignored with a warning.
//!
//! [`PASS_THROUGH_ENV`]: crate::process::PASS_THROUGH_ENV

use crate::error::ExecError;
use crate::process::{ExitKind, GroupHandle, ProcessSpec, run_process_announced};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use slipway_core::source::{CheckoutRequest, Credentials, GitSource, Remote};
use slipway_core::{JobContext, JobKind, JobOutcome, LogWriter, Outputs, Problem, Stream};
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The interpreter used when neither the spec nor the step names one.
pub const DEFAULT_SHELL: &str = "sh -e";

/// Scripts at least this long (bytes) are passed in a file, not with `-c`.
pub const SCRIPT_FILE_THRESHOLD: usize = 64 * 1024;

/// The outputs file is read up to this size.
pub const MAX_OUTPUTS_BYTES: u64 = 1024 * 1024;

/// Settings of the shell kind that are the server's, not the job's.
#[derive(Clone)]
pub struct ShellConfig {
    /// How long a step's process group has after `SIGTERM` before `SIGKILL`.
    pub kill_grace: Duration,
    /// Where jobs that declare a `repo` get their checkout; without one,
    /// such jobs fail with a clear error.
    pub git: Option<Arc<dyn GitSource>>,
}

impl Default for ShellConfig {
    fn default() -> Self {
        ShellConfig {
            kill_grace: Duration::from_secs(5),
            git: None,
        }
    }
}

impl std::fmt::Debug for ShellConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShellConfig")
            .field("kill_grace", &self.kill_grace)
            .field("git", &self.git.is_some())
            .finish()
    }
}

/// The `shell` job kind; see the module docs for its spec.
#[derive(Debug, Clone, Default)]
pub struct ShellKind {
    config: ShellConfig,
}

impl ShellKind {
    /// A shell kind with `config`.
    pub fn new(config: ShellConfig) -> Self {
        ShellKind { config }
    }

    /// Its settings.
    pub fn config(&self) -> &ShellConfig {
        &self.config
    }
}

/// A shell kind spec, as parsed after validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellSpec {
    /// The interpreter for every step (default [`DEFAULT_SHELL`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<ShellCommand>,
    /// A directory relative to the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// A repository to check out into the workspace before the steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<RepoSpec>,
    /// The steps, in order.
    pub steps: Vec<StepSpec>,
}

/// A repository a job checks out before its steps run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoSpec {
    /// Its URL (`https://`, `git://`, or `file://` where the server allows).
    pub url: String,
    /// Branch, tag, or full or abbreviated commit id.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Only this directory of the repository, whose contents land in the
    /// workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdir: Option<String>,
    /// The name of a secret of the run (one of the environment variables
    /// the job gets) holding the credentials to fetch it: `user:token`,
    /// or a token alone (see `Credentials::from_secret`). The plan keeps
    /// the name only, never the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

/// One step of a [`ShellSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Its name (default `step-N`, counting from 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The script.
    pub script: String,
    /// The interpreter for this step only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<ShellCommand>,
}

/// An interpreter: `"sh -e"` (split at whitespace) or `["bash", "-e"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ShellCommand {
    /// Words separated by whitespace.
    Line(String),
    /// The words themselves.
    Words(Vec<String>),
}

impl ShellCommand {
    /// The program and its arguments.
    pub fn words(&self) -> Vec<String> {
        match self {
            ShellCommand::Line(s) => s.split_whitespace().map(str::to_owned).collect(),
            ShellCommand::Words(w) => w.clone(),
        }
    }
}

impl ShellSpec {
    /// Parses and checks `spec`, reporting every problem at once with its
    /// path relative to the spec.
    pub fn parse(spec: &Value) -> Result<ShellSpec, Vec<Problem>> {
        let problems = check_spec(spec);
        if !problems.is_empty() {
            return Err(problems);
        }
        // The checks above accept only what these types accept; this is the
        // safety net should they ever disagree.
        serde_json::from_value(spec.clone()).map_err(|e| vec![Problem::new("", e.to_string())])
    }

    /// The name of step `index` (from 0).
    pub fn step_name(&self, index: usize) -> String {
        self.steps
            .get(index)
            .and_then(|s| s.name.clone())
            .unwrap_or_else(|| default_step_name(index))
    }
}

fn default_step_name(index: usize) -> String {
    format!("step-{}", index + 1)
}

const SPEC_FIELDS: &[&str] = &["shell", "working_dir", "repo", "steps"];
const REPO_FIELDS: &[&str] = &["url", "ref", "subdir", "credentials"];
const STEP_FIELDS: &[&str] = &["name", "script", "shell"];

fn check_spec(spec: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(obj) = spec.as_object() else {
        problems.push(Problem::new("", "must be an object with `steps`"));
        return problems;
    };
    unknown_fields(obj, SPEC_FIELDS, "", &mut problems);
    if let Some(shell) = present(obj.get("shell")) {
        check_shell(shell, "shell", &mut problems);
    }
    if let Some(dir) = present(obj.get("working_dir")) {
        match dir.as_str() {
            None => problems.push(Problem::new("working_dir", "must be a string")),
            Some(d) => {
                if let Err(why) = check_relative(d) {
                    problems.push(Problem::new("working_dir", why));
                }
            }
        }
    }
    if let Some(repo) = present(obj.get("repo")) {
        check_repo(repo, &mut problems);
    }
    match present(obj.get("steps")) {
        None => problems.push(Problem::new("steps", "required")),
        Some(Value::Array(steps)) if steps.is_empty() => {
            problems.push(Problem::new("steps", "must not be empty"));
        }
        Some(Value::Array(steps)) => {
            let mut names = HashSet::new();
            for (i, step) in steps.iter().enumerate() {
                check_step(step, i, &mut names, &mut problems);
            }
        }
        Some(_) => problems.push(Problem::new("steps", "must be a list of steps")),
    }
    problems
}

fn check_repo(repo: &Value, problems: &mut Vec<Problem>) {
    let Some(obj) = repo.as_object() else {
        problems.push(Problem::new(
            "repo",
            "must be an object with `url` and `ref`",
        ));
        return;
    };
    unknown_fields(obj, REPO_FIELDS, "repo", problems);
    for field in ["url", "ref"] {
        match present(obj.get(field)) {
            None => problems.push(Problem::new(format!("repo.{field}"), "required")),
            Some(Value::String(v)) if v.trim().is_empty() => {
                problems.push(Problem::new(format!("repo.{field}"), "must not be empty"));
            }
            Some(Value::String(_)) => {}
            Some(_) => problems.push(Problem::new(format!("repo.{field}"), "must be a string")),
        }
    }
    if let Some(name) = present(obj.get("credentials")) {
        match name.as_str() {
            Some(n) if is_env_name(n) => {}
            _ => problems.push(Problem::new(
                "repo.credentials",
                "must be the name of a secret (`[A-Z_][A-Z0-9_]*`)",
            )),
        }
    }
    if let Some(dir) = present(obj.get("subdir")) {
        match dir.as_str() {
            None => problems.push(Problem::new("repo.subdir", "must be a string")),
            Some(d) => {
                if let Err(why) = check_relative(d) {
                    problems.push(Problem::new("repo.subdir", why));
                }
            }
        }
    }
}

/// Whether `name` is `[A-Z_][A-Z0-9_]*` (what secret names are).
fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `url` with any user name or password replaced by `***`, for logs.
fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

fn check_step(step: &Value, i: usize, names: &mut HashSet<String>, problems: &mut Vec<Problem>) {
    let path = format!("steps[{i}]");
    let Some(obj) = step.as_object() else {
        problems.push(Problem::new(path, "must be an object with a `script`"));
        return;
    };
    unknown_fields(obj, STEP_FIELDS, &path, problems);
    let name = match present(obj.get("name")) {
        None => Some(default_step_name(i)),
        Some(Value::String(n)) if n.trim().is_empty() => {
            problems.push(Problem::new(format!("{path}.name"), "must not be empty"));
            None
        }
        Some(Value::String(n)) if n.contains(['\n', '\r']) => {
            problems.push(Problem::new(
                format!("{path}.name"),
                "must be a single line",
            ));
            None
        }
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => {
            problems.push(Problem::new(format!("{path}.name"), "must be a string"));
            None
        }
    };
    if let Some(name) = name
        && !names.insert(name.clone())
    {
        problems.push(Problem::new(
            format!("{path}.name"),
            format!("duplicate step name `{name}`"),
        ));
    }
    match present(obj.get("script")) {
        None => problems.push(Problem::new(format!("{path}.script"), "required")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            problems.push(Problem::new(format!("{path}.script"), "must not be empty"));
        }
        Some(Value::String(_)) => {}
        Some(_) => problems.push(Problem::new(format!("{path}.script"), "must be a string")),
    }
    if let Some(shell) = present(obj.get("shell")) {
        check_shell(shell, &format!("{path}.shell"), problems);
    }
}

/// `v` unless it is missing or `null` (both mean "not given").
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn unknown_fields(
    obj: &serde_json::Map<String, Value>,
    known: &[&str],
    path: &str,
    problems: &mut Vec<Problem>,
) {
    for key in obj.keys() {
        if !known.contains(&key.as_str()) {
            let at = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            problems.push(Problem::new(
                at,
                format!("unknown field (known: {})", known.join(", ")),
            ));
        }
    }
}

fn check_shell(v: &Value, path: &str, problems: &mut Vec<Problem>) {
    match v {
        Value::String(s) if s.trim().is_empty() => {
            problems.push(Problem::new(path, "must not be empty"));
        }
        Value::String(_) => {}
        Value::Array(words) if words.is_empty() => {
            problems.push(Problem::new(path, "must not be empty"));
        }
        Value::Array(words) => {
            for (i, w) in words.iter().enumerate() {
                match w.as_str() {
                    Some(s) if i == 0 && s.trim().is_empty() => {
                        problems.push(Problem::new(format!("{path}[0]"), "must not be empty"));
                    }
                    Some(_) => {}
                    None => problems.push(Problem::new(format!("{path}[{i}]"), "must be a string")),
                }
            }
        }
        _ => problems.push(Problem::new(
            path,
            "must be a string (\"sh -e\") or a list of strings ([\"bash\", \"-e\"])",
        )),
    }
}

/// Accepts a relative path that stays inside its base: no root, no `..`.
fn check_relative(dir: &str) -> Result<(), &'static str> {
    const WHY: &str = "must be a relative path inside the workspace";
    if dir.is_empty() {
        return Err("must not be empty (leave it out for the workspace itself)");
    }
    if dir.contains('\0') {
        return Err(WHY);
    }
    for c in Path::new(dir).components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return Err(WHY),
        }
    }
    Ok(())
}

#[async_trait]
impl JobKind for ShellKind {
    fn name(&self) -> &str {
        "shell"
    }

    /// Kills what is left of the step's process group that was running
    /// when the server died (see [`GroupHandle::kill_leftovers`]).
    async fn interrupted(&self, handle: &Value) {
        let Ok(group) = serde_json::from_value::<GroupHandle>(handle.clone()) else {
            tracing::warn!(%handle, "not a process group handle; nothing killed");
            return;
        };
        let pgid = group.pgid;
        match tokio::task::spawn_blocking(move || group.kill_leftovers()).await {
            Ok(0) => tracing::info!(pgid, "no process of the interrupted job was left"),
            Ok(n) => tracing::info!(pgid, killed = n, "killed the interrupted job's processes"),
            Err(e) => tracing::warn!(pgid, "killing the interrupted job's processes: {e}"),
        }
    }

    fn validate(&self, spec: &Value) -> Result<(), Vec<Problem>> {
        ShellSpec::parse(spec).map(|_| ())
    }

    async fn run(&self, ctx: JobContext) -> JobOutcome {
        let spec = match ShellSpec::parse(&ctx.spec) {
            Ok(s) => s,
            Err(problems) => {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                return JobOutcome::failed(format!("invalid spec: {}", list.join("; ")));
            }
        };
        // The steps run in the workspace, not in this process's current
        // directory: a relative path handed to them would point elsewhere.
        // The engine hands out absolute paths; a context made by hand may
        // not.
        let workspace = absolute(&ctx.workspace);
        let cwd = match working_dir(&workspace, spec.working_dir.as_deref()) {
            Ok(d) => d,
            Err(e) => return JobOutcome::failed(e.to_string()),
        };
        // The outputs file itself is left to the job: most jobs set none,
        // and a missing file means no outputs.
        let outputs_path = absolute(&ctx.outputs_file);
        let mut env = ctx.env.clone();
        if env
            .get("SLIPWAY_WORKSPACE")
            .is_some_and(|w| Path::new(w).is_relative())
        {
            env.insert(
                "SLIPWAY_WORKSPACE".to_owned(),
                workspace.to_string_lossy().into_owned(),
            );
        }
        if let Some(repo) = &spec.repo {
            match self.checkout(&ctx, repo).await {
                Ok(mut vars) => {
                    // Checked out by commit id, the checkout knows no ref
                    // name: the one the run's trigger recorded (a pushed
                    // branch, a dispatched tag) is the better answer.
                    if vars.get("SLIPWAY_REF") == vars.get("SLIPWAY_COMMIT")
                        && env.contains_key("SLIPWAY_REF")
                    {
                        vars.remove("SLIPWAY_REF");
                    }
                    env.extend(vars);
                }
                Err(why) => return JobOutcome::failed(why),
            }
        }
        env.insert(
            "SLIPWAY_OUTPUT".to_owned(),
            outputs_path.to_string_lossy().into_owned(),
        );

        let outcome = self.run_steps(&ctx, &spec, &cwd, &env).await;
        if let Err(e) = read_outputs(&outputs_path, &ctx.outputs, &ctx.log).await {
            tracing::warn!(job = %ctx.job, "{e}");
            if outcome.is_passed() {
                return JobOutcome::failed(e.to_string());
            }
        }
        outcome
    }
}

impl ShellKind {
    /// Checks `repo` out into the workspace; the commit's variables on
    /// success, the reason on failure.
    async fn checkout(
        &self,
        ctx: &JobContext,
        repo: &RepoSpec,
    ) -> Result<BTreeMap<String, String>, String> {
        let shown = redact_url(&repo.url);
        let Some(git) = &self.config.git else {
            return Err(format!(
                "repo {shown}: this server has no git source configured"
            ));
        };
        let say = |text: String| async move {
            ctx.log
                .line(Stream::System, &text)
                .await
                .map_err(|e| ExecError::from(e).to_string())
        };
        let mut remote = Remote::new(repo.url.clone());
        if let Some(name) = &repo.credentials {
            let value = ctx.env.get(name).ok_or_else(|| {
                format!("repo {shown}: its credentials secret `{name}` is not set")
            })?;
            let credentials = Credentials::from_secret(value).ok_or_else(|| {
                format!("repo {shown}: its credentials secret `{name}` is not `user:token` or a token alone")
            })?;
            remote = remote.with_credentials(credentials);
        }
        say(format!("$ checkout {shown} at {}", repo.reference)).await?;
        let request = CheckoutRequest {
            remote,
            reference: repo.reference.clone(),
            subdir: repo.subdir.clone(),
            dest: ctx.workspace.clone(),
        };
        let info = tokio::select! {
            r = git.prepare_workspace(&request) => r.map_err(|e| format!("checkout: {e}"))?,
            () = ctx.cancel.cancelled() => return Err("cancelled during checkout".into()),
        };
        say(format!(
            "checked out {} ({})",
            info.id,
            info.message.lines().next().unwrap_or_default()
        ))
        .await?;
        Ok(info.env())
    }

    async fn run_steps(
        &self,
        ctx: &JobContext,
        spec: &ShellSpec,
        cwd: &Path,
        env: &BTreeMap<String, String>,
    ) -> JobOutcome {
        let default_shell = ShellCommand::Line(DEFAULT_SHELL.to_owned());
        let job_shell = spec.shell.as_ref().unwrap_or(&default_shell);
        for (i, step) in spec.steps.iter().enumerate() {
            if ctx.cancel.is_cancelled() {
                return JobOutcome::Cancelled;
            }
            let name = spec.step_name(i);
            let words = step.shell.as_ref().unwrap_or(job_shell).words();
            let Some((program, shell_args)) = words.split_first() else {
                return JobOutcome::failed(format!("step `{name}`: no shell"));
            };
            let mut args: Vec<OsString> = shell_args.iter().map(OsString::from).collect();
            if step.script.len() < SCRIPT_FILE_THRESHOLD {
                args.push("-c".into());
                args.push(step.script.clone().into());
            } else {
                let file = match ctx.scratch_dir() {
                    Ok(dir) => absolute(dir).join(format!("step-{}.sh", i + 1)),
                    Err(source) => {
                        let e = ExecError::Script {
                            path: ctx.scratch.clone(),
                            source,
                        };
                        return JobOutcome::failed(format!("step `{name}`: {e}"));
                    }
                };
                if let Err(source) = tokio::fs::write(&file, &step.script).await {
                    let e = ExecError::Script { path: file, source };
                    return JobOutcome::failed(format!("step `{name}`: {e}"));
                }
                args.push(file.into_os_string());
            }
            let process = ProcessSpec {
                program: program.into(),
                args,
                env: env.clone(),
                cwd: cwd.to_path_buf(),
                kill_grace: self.config.kill_grace,
            };
            let announce = format!("$ step {name}");
            let exit = match run_process_announced(
                &process,
                &ctx.log,
                &ctx.cancel,
                &ctx.handle,
                Some(&announce),
            )
            .await
            {
                Ok(exit) => exit,
                Err(e) => return JobOutcome::failed(format!("step `{name}`: {e}")),
            };
            if exit.cancelled {
                return JobOutcome::Cancelled;
            }
            match exit.exit {
                ExitKind::Code(0) => {}
                ExitKind::Code(code) => {
                    return JobOutcome::Failed {
                        error: format!("step `{name}` exited with code {code}"),
                        exit_code: Some(code),
                    };
                }
                ExitKind::Signal(sig) => {
                    return JobOutcome::failed(format!(
                        "step `{name}` was killed by signal {}",
                        ExitKind::signal_name(sig)
                    ));
                }
            }
        }
        if ctx.cancel.is_cancelled() {
            return JobOutcome::Cancelled;
        }
        // Every step exited with 0, the last one included.
        JobOutcome::PassedWithCode { exit_code: 0 }
    }
}

/// `path` made absolute against this process's current directory (as it
/// is when it cannot be).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `workspace/dir`, created when missing, checked to stay inside the
/// workspace once symbolic links are resolved.
fn working_dir(workspace: &Path, dir: Option<&str>) -> Result<PathBuf, ExecError> {
    let Some(dir) = dir else {
        return Ok(workspace.to_path_buf());
    };
    let path = workspace.join(dir);
    let err = |source| ExecError::WorkingDir {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&path).map_err(err)?;
    let real = path.canonicalize().map_err(err)?;
    let base = workspace.canonicalize().map_err(err)?;
    if !real.starts_with(&base) {
        return Err(err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "leads outside the workspace",
        )));
    }
    Ok(path)
}

/// Reads the outputs file into `outputs`, logging a warning for each line
/// it ignores.
async fn read_outputs(path: &Path, outputs: &Outputs, log: &LogWriter) -> Result<(), ExecError> {
    let err = |source| ExecError::Outputs {
        path: path.to_path_buf(),
        source,
    };
    let size = match tokio::fs::metadata(path).await {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    if size > MAX_OUTPUTS_BYTES {
        log.line(
            Stream::System,
            &format!(
                "warning: the outputs file is {size} bytes, more than {MAX_OUTPUTS_BYTES}; no outputs were set"
            ),
        )
        .await?;
        return Ok(());
    }
    let bytes = tokio::fs::read(path).await.map_err(err)?;
    let text = String::from_utf8_lossy(&bytes);
    let (values, warnings) = parse_outputs(&text);
    for (k, v) in values {
        outputs.set(k, v);
    }
    if !warnings.is_empty() {
        let at = log.now();
        let lines = warnings
            .into_iter()
            .map(|w| slipway_core::NewLine {
                stream: Stream::System,
                at,
                text: format!("warning: outputs file {w}; ignored"),
            })
            .collect();
        log.lines(lines).await?;
    }
    Ok(())
}

/// The warning for a value no later job could be given (references put
/// outputs into environments and arguments, which cannot hold a NUL).
fn nul_value(line: usize, key: &str) -> String {
    format!("line {line}: the value of `{key}` holds a NUL character")
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parses an outputs file: the values in file order (later ones win when
/// set), and a description of each ignored line.
pub fn parse_outputs(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut values = Vec::new();
    let mut warnings = Vec::new();
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l));
    let shown = |key: &str| -> String {
        let mut k: String = key.chars().take(40).collect();
        if k.len() < key.len() {
            k.push_str("...");
        }
        k.escape_debug().to_string()
    };
    while let Some((n, line)) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let (key, value) = (&line[..e], &line[e + 1..]);
                if value.contains('\0') {
                    warnings.push(nul_value(n, &shown(key)));
                } else if valid_key(key) {
                    values.push((key.to_owned(), value.to_owned()));
                } else {
                    warnings.push(format!("line {n}: invalid key `{}`", shown(key)));
                }
            }
            (_, Some(h)) => {
                let (key, delim) = (&line[..h], &line[h + 2..]);
                if delim.is_empty() {
                    warnings.push(format!("line {n}: `{}<<` has no delimiter", shown(key)));
                    continue;
                }
                let mut body: Vec<&str> = Vec::new();
                let mut closed = false;
                for (_, l) in lines.by_ref() {
                    if l == delim {
                        closed = true;
                        break;
                    }
                    body.push(l);
                }
                if !closed {
                    warnings.push(format!(
                        "line {n}: `{}<<{}` is never closed by its delimiter",
                        shown(key),
                        shown(delim)
                    ));
                } else if !valid_key(key) {
                    warnings.push(format!("line {n}: invalid key `{}`", shown(key)));
                } else if body.iter().any(|l| l.contains('\0')) {
                    warnings.push(nul_value(n, &shown(key)));
                } else {
                    values.push((key.to_owned(), body.join("\n")));
                }
            }
            _ => warnings.push(format!(
                "line {n}: neither `key=value` nor `key<<DELIMITER`"
            )),
        }
    }
    (values, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_are_parsed_github_style() {
        let text = "a=1\r\nb=x=y\n\nmulti<<EOF\nline 1\n\nline 3\nEOF\nbad key=1\nnothing here\nk<<\nlast=ok\nopen<<END\nnever closed";
        let (values, warnings) = parse_outputs(text);
        assert_eq!(
            values,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x=y".to_owned()),
                ("multi".to_owned(), "line 1\n\nline 3".to_owned()),
                ("last".to_owned(), "ok".to_owned()),
            ]
        );
        assert_eq!(
            warnings,
            [
                "line 9: invalid key `bad key`",
                "line 10: neither `key=value` nor `key<<DELIMITER`",
                "line 11: `k<<` has no delimiter",
                "line 13: `open<<END` is never closed by its delimiter",
            ]
        );
    }

    #[test]
    fn values_with_a_nul_are_ignored_with_a_warning() {
        let (values, warnings) = parse_outputs("a=x\0y\nm<<E\n1\n\0\nE\nok=1\n");
        assert_eq!(values, [("ok".to_owned(), "1".to_owned())]);
        assert_eq!(
            warnings,
            [
                "line 1: the value of `a` holds a NUL character",
                "line 2: the value of `m` holds a NUL character",
            ]
        );
    }

    #[test]
    fn equals_before_heredoc_marker_is_a_plain_value() {
        let (values, warnings) = parse_outputs("cmd=a<<b\n");
        assert_eq!(values, [("cmd".to_owned(), "a<<b".to_owned())]);
        assert!(warnings.is_empty());
    }

    #[test]
    fn relative_paths_are_checked() {
        assert!(check_relative("a/b").is_ok());
        assert!(check_relative("./a").is_ok());
        assert!(check_relative("/etc").is_err());
        assert!(check_relative("a/../b").is_err());
        assert!(check_relative("..").is_err());
        assert!(check_relative("").is_err());
    }

    #[test]
    fn minimal_spec_parses_with_defaults() {
        let spec =
            ShellSpec::parse(&json!({"steps": [{"script": "true"}, {"name": "b", "script": "x"}]}));
        let spec = spec.unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(spec.step_name(0), "step-1");
        assert_eq!(spec.step_name(1), "b");
        assert_eq!(spec.shell, None);
        assert_eq!(
            ShellCommand::Line(DEFAULT_SHELL.into()).words(),
            ["sh", "-e"]
        );
    }

    #[test]
    fn default_names_count_for_duplicates() {
        let problems = ShellSpec::parse(
            &json!({"steps": [{"script": "a"}, {"name": "step-1", "script": "b"}]}),
        )
        .err()
        .unwrap_or_default();
        assert_eq!(
            problems,
            [Problem::new(
                "steps[1].name",
                "duplicate step name `step-1`"
            )]
        );
    }
}
