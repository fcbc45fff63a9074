//! The git-source port: how the engine and the domain reach repositories
//! (resolve refs, read files at a commit, check a commit out into a job
//! workspace, load definitions kept in git). Implemented by `slipway-git`;
//! this module knows nothing of any git library.
//!
//! It also holds the two definition formats of the Deploy API that live in
//! repositories, [`Manifest`] (`manifest.json`) and [`Pipeline`]
//! (`pipeline.json`), with validation that lists every problem with its
//! path. `docs/formats.md` describes both.

use crate::plan::Problem;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A user name and a password or token for a remote, taken from the
/// application's secrets. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The user name (for token-only hosts, any non-empty word).
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl Credentials {
    /// Credentials from a user name and a password or token.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// A remote repository and how to authenticate to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// `https://…`, `http://…`, `git://…`, or `file://…` when the operator
    /// enables local repositories.
    pub url: String,
    /// Sent only when the server asks for them.
    pub credentials: Option<Credentials>,
}

impl Remote {
    /// A remote without credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Remote {
            url: url.into(),
            credentials: None,
        }
    }

    /// The same remote with credentials.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }
}

/// Who wrote a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Name.
    pub name: String,
    /// Email address.
    pub email: String,
}

/// A commit, as a job and a user see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    /// The full hexadecimal id.
    pub id: String,
    /// What was asked for (`main`, `v1.2`, `3f2a9c1`, …).
    pub reference: String,
    /// The full ref name it resolved through (`refs/heads/main`), when it
    /// was a ref rather than a commit id.
    pub refname: Option<String>,
    /// The whole message.
    pub message: String,
    /// The author.
    pub author: Person,
    /// When the author made it.
    pub time: DateTime<Utc>,
}

impl CommitInfo {
    /// The first line of the message.
    pub fn summary(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }

    /// The environment a job gets for this commit: `SLIPWAY_COMMIT`,
    /// `SLIPWAY_REF` and `SLIPWAY_COMMIT_MESSAGE`.
    pub fn env(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("SLIPWAY_COMMIT".to_owned(), self.id.clone()),
            (
                "SLIPWAY_REF".to_owned(),
                self.refname
                    .clone()
                    .unwrap_or_else(|| self.reference.clone()),
            ),
            ("SLIPWAY_COMMIT_MESSAGE".to_owned(), self.message.clone()),
        ])
    }
}

/// Branch or tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefKind {
    /// `refs/heads/…`
    Branch,
    /// `refs/tags/…`
    Tag,
}

/// A branch or a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefInfo {
    /// The short name (`main`, `v1.2`).
    pub name: String,
    /// The full name (`refs/heads/main`).
    pub full_name: String,
    /// Branch or tag.
    pub kind: RefKind,
    /// The commit it points at (annotated tags peeled).
    pub commit: String,
}

/// What a tree entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file, executable or not (see the mode).
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A submodule (a commit of another repository).
    Submodule,
}

/// One entry of a directory at a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    /// The file name (non-UTF-8 bytes replaced by U+FFFD).
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
    /// The git mode (`0o100644`, `0o100755`, `0o120000`, `0o40000`,
    /// `0o160000`).
    pub mode: u32,
    /// The size in bytes of files and symlinks (the target's length).
    pub size: Option<u64>,
}

/// What the shell kind asks for when a job declares a repository.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// The repository.
    pub remote: Remote,
    /// Branch, tag, or full or abbreviated commit id.
    pub reference: String,
    /// Only this directory of the repository (its contents land directly
    /// in `dest`).
    pub subdir: Option<String>,
    /// Where the files go; created when missing.
    pub dest: PathBuf,
}

/// What a git source can fail with. Messages never contain credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The URL's scheme or form is not accepted.
    #[error("repository URL `{url}` refused: {reason}")]
    UrlRefused {
        /// The URL, without credentials.
        url: String,
        /// Why.
        reason: String,
    },
    /// A path inside the repository is not acceptable.
    #[error("path `{path}` refused: {reason}")]
    PathRefused {
        /// The path as given.
        path: String,
        /// Why.
        reason: String,
    },
    /// No branch, tag or commit by that name.
    #[error("`{reference}` is not a branch, tag or commit of {url}")]
    RefNotFound {
        /// The URL, without credentials.
        url: String,
        /// What was asked for.
        reference: String,
    },
    /// An abbreviated id matches several objects.
    #[error("`{reference}` is ambiguous in {url}")]
    Ambiguous {
        /// The URL, without credentials.
        url: String,
        /// What was asked for.
        reference: String,
    },
    /// Nothing at that path in that commit.
    #[error("`{path}` does not exist at {commit}")]
    PathNotFound {
        /// The path.
        path: String,
        /// The commit id.
        commit: String,
    },
    /// The path is a directory (or a file) where the other was needed.
    #[error("`{path}` is not a {expected}")]
    WrongKind {
        /// The path.
        path: String,
        /// `file` or `directory`.
        expected: &'static str,
    },
    /// The server asked for credentials and none were accepted.
    #[error("authentication to {url} failed: {reason}")]
    Auth {
        /// The URL, without credentials.
        url: String,
        /// Why.
        reason: String,
    },
    /// The remote could not be reached or the transfer failed.
    #[error("fetching {url} failed: {reason}")]
    Fetch {
        /// The URL, without credentials.
        url: String,
        /// Why.
        reason: String,
    },
    /// Writing a checkout failed.
    #[error("checkout into {dest} failed: {reason}")]
    Checkout {
        /// The destination.
        dest: PathBuf,
        /// Why.
        reason: String,
    },
    /// A definition file is not valid JSON / YAML.
    #[error("`{path}` cannot be parsed: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A definition parsed but breaks the format's rules.
    #[error("`{path}` is invalid: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The file.
        path: String,
        /// Every problem.
        problems: Vec<Problem>,
    },
    /// The local mirror or the data directory failed.
    #[error("git cache: {0}")]
    Cache(String),
}

/// Checks a document loaded from git (the workflow format plugs in here).
pub type Validator = Arc<dyn Fn(&Value) -> Result<(), Vec<Problem>> + Send + Sync>;

/// What an asynchronous load reads and how it checks it.
#[derive(Clone)]
pub enum LoadKind {
    /// `<directory>/manifest.json` as a [`Manifest`].
    Manifest,
    /// `<directory>/pipeline.json` as a [`Pipeline`], with the manifests of
    /// its directory tasks.
    Pipeline,
    /// The YAML or JSON file at `path`, checked by the validator.
    Document(Validator),
}

impl fmt::Debug for LoadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LoadKind::Manifest => "Manifest",
            LoadKind::Pipeline => "Pipeline",
            LoadKind::Document(_) => "Document",
        })
    }
}

/// An asynchronous load of a definition.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    /// The repository.
    pub remote: Remote,
    /// Branch, tag or commit.
    pub reference: String,
    /// The directory (manifest, pipeline) or file (document).
    pub path: String,
    /// What to read.
    pub kind: LoadKind,
}

/// The id of an asynchronous load.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkId(pub String);

impl fmt::Display for WorkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an asynchronous load is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum LoadState {
    /// Accepted, not started.
    Pending,
    /// Fetching and reading.
    Loading,
    /// Done.
    Loaded {
        /// The result.
        result: Box<Loaded>,
    },
    /// It failed.
    Failed {
        /// Why.
        reason: String,
        /// The definition's problems, when it was invalid.
        problems: Vec<Problem>,
    },
}

/// A definition read from git, parsed and validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Loaded {
    /// A manifest.
    Manifest(LoadedManifest),
    /// A pipeline.
    Pipeline(LoadedPipeline),
    /// A generic document.
    Document {
        /// The commit it was read at.
        commit: CommitInfo,
        /// The file.
        path: String,
        /// The parsed content.
        value: Value,
    },
}

/// A manifest and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadedManifest {
    /// The commit it was read at.
    pub commit: CommitInfo,
    /// The file.
    pub path: String,
    /// The manifest.
    pub manifest: Manifest,
}

/// A pipeline with every task's manifest, read at one commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadedPipeline {
    /// The commit everything was read at.
    pub commit: CommitInfo,
    /// The file.
    pub path: String,
    /// The pipeline as written.
    pub pipeline: Pipeline,
    /// The groups in order; the tasks of one group run together.
    pub groups: Vec<Vec<ResolvedTask>>,
}

/// A pipeline task with its manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedTask {
    /// The name it runs under (the task's `name`, else the manifest's).
    pub name: String,
    /// The directory its manifest came from (none when inline).
    pub directory: Option<String>,
    /// The manifest.
    pub manifest: Manifest,
}

/// Access to git repositories: mirrors, refs, files, checkouts and
/// definitions. Operations other than [`GitSource::refresh`] and
/// [`GitSource::prepare_workspace`] work on the local mirror, creating it
/// when missing and refreshing it once when a reference is not found.
#[async_trait]
pub trait GitSource: Send + Sync + 'static {
    /// Brings the local mirror up to date with the remote (clone or fetch,
    /// deleted refs pruned).
    async fn refresh(&self, remote: &Remote) -> Result<(), SourceError>;

    /// The commit a branch, tag (peeled) or full or abbreviated id names.
    async fn resolve(&self, remote: &Remote, reference: &str) -> Result<CommitInfo, SourceError>;

    /// Every branch, sorted by name.
    async fn branches(&self, remote: &Remote) -> Result<Vec<RefInfo>, SourceError>;

    /// Every tag, sorted by name.
    async fn tags(&self, remote: &Remote) -> Result<Vec<RefInfo>, SourceError>;

    /// The bytes of the file at `path` in the commit `reference` names.
    async fn read_file(
        &self,
        remote: &Remote,
        reference: &str,
        path: &str,
    ) -> Result<Vec<u8>, SourceError>;

    /// The entries of the directory at `path` (`""` for the root), sorted
    /// by name.
    async fn list_dir(
        &self,
        remote: &Remote,
        reference: &str,
        path: &str,
    ) -> Result<Vec<DirEntry>, SourceError>;

    /// Writes the tree of the commit `reference` names (or only its
    /// `subdir`) into `dest` from the local mirror, exec bits and symlinks
    /// kept.
    async fn checkout(
        &self,
        remote: &Remote,
        reference: &str,
        subdir: Option<&str>,
        dest: &Path,
    ) -> Result<CommitInfo, SourceError>;

    /// What a job that declares a repository needs: refresh the mirror,
    /// resolve the reference, check it out into the workspace. The result
    /// gives the job its `SLIPWAY_*` commit variables ([`CommitInfo::env`]).
    async fn prepare_workspace(&self, request: &CheckoutRequest)
    -> Result<CommitInfo, SourceError>;

    /// Starts an asynchronous load; its state is then read by id.
    async fn start_load(&self, request: LoadRequest) -> WorkId;

    /// The state of a load, `None` for an unknown (or forgotten) id.
    async fn load_state(&self, id: &WorkId) -> Option<LoadState>;

    /// A YAML or JSON document at `path` (JSON for `.json`, YAML
    /// otherwise), parsed and checked by `validate`.
    async fn load_document(
        &self,
        remote: &Remote,
        reference: &str,
        path: &str,
        validate: &Validator,
    ) -> Result<(CommitInfo, Value), SourceError>;

    /// `<directory>/manifest.json`, parsed and validated.
    async fn load_manifest(
        &self,
        remote: &Remote,
        reference: &str,
        directory: &str,
    ) -> Result<LoadedManifest, SourceError> {
        let commit = self.resolve(remote, reference).await?;
        let path = join_path(directory, "manifest.json");
        let bytes = self.read_file(remote, &commit.id, &path).await?;
        let manifest = Manifest::from_value(&parse_json(&path, &bytes)?).map_err(|problems| {
            SourceError::Invalid {
                path: path.clone(),
                problems,
            }
        })?;
        Ok(LoadedManifest {
            commit,
            path,
            manifest,
        })
    }

    /// `<directory>/pipeline.json`, parsed and validated, with the
    /// manifest of every directory task read at the same commit.
    async fn load_pipeline(
        &self,
        remote: &Remote,
        reference: &str,
        directory: &str,
    ) -> Result<LoadedPipeline, SourceError> {
        let commit = self.resolve(remote, reference).await?;
        let path = join_path(directory, "pipeline.json");
        let bytes = self.read_file(remote, &commit.id, &path).await?;
        let pipeline = Pipeline::from_value(&parse_json(&path, &bytes)?).map_err(|problems| {
            SourceError::Invalid {
                path: path.clone(),
                problems,
            }
        })?;
        let mut groups = Vec::new();
        let mut names = HashSet::new();
        let mut problems = Vec::new();
        for (si, step) in pipeline.steps.iter().enumerate() {
            let mut group = Vec::new();
            for (task, task_path) in step.tasks_with_paths(si) {
                let (directory, manifest) = match (&task.directory, &task.manifest) {
                    (Some(dir), _) => {
                        let loaded = self.load_manifest(remote, &commit.id, dir).await?;
                        (Some(dir.clone()), loaded.manifest)
                    }
                    (None, Some(m)) => (None, m.clone()),
                    (None, None) => continue,
                };
                let name = task.name.clone().unwrap_or_else(|| manifest.name.clone());
                if !names.insert(name.clone()) {
                    problems.push(Problem::new(
                        task_path,
                        format!("task name `{name}` is used twice"),
                    ));
                }
                group.push(ResolvedTask {
                    name,
                    directory,
                    manifest,
                });
            }
            groups.push(group);
        }
        if !problems.is_empty() {
            return Err(SourceError::Invalid { path, problems });
        }
        Ok(LoadedPipeline {
            commit,
            path,
            pipeline,
            groups,
        })
    }
}

/// `dir/name`, or `name` when `dir` is the root.
fn join_path(dir: &str, name: &str) -> String {
    let dir = dir.trim_matches('/');
    if dir.is_empty() || dir == "." {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Parses a JSON definition file.
pub fn parse_json(path: &str, bytes: &[u8]) -> Result<Value, SourceError> {
    serde_json::from_slice(bytes).map_err(|e| SourceError::Parse {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

// ---------------------------------------------------------------------------
// The Deploy API's manifest.json and pipeline.json.

/// What a manifest describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Runs once to completion.
    Job,
    /// A job run on a schedule.
    Cronjob,
    /// Long-running instances.
    Deployment,
    /// A deployment that listens on a port.
    Service,
}

impl WorkloadKind {
    fn long_running(self) -> bool {
        matches!(self, WorkloadKind::Deployment | WorkloadKind::Service)
    }
}

/// `manifest.json`: one workload (see `docs/formats.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Job, cronjob, deployment or service.
    pub kind: WorkloadKind,
    /// A DNS label: lower-case letters, digits and `-`, at most 63.
    pub name: String,
    /// The program to run.
    pub command: String,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Working directory relative to the manifest's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// How many copies run (deployment, service; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
    /// The port a service listens on (service: required; deployment:
    /// optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// A 5-field cron expression or `@hourly`-style macro (cronjob only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Seconds a job or cronjob run may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

const MANIFEST_FIELDS: &[&str] = &[
    "kind",
    "name",
    "command",
    "args",
    "env",
    "workdir",
    "instances",
    "port",
    "schedule",
    "timeout",
];

impl Manifest {
    /// Validates `value` and converts it; every problem is listed, paths
    /// relative to the manifest.
    pub fn from_value(value: &Value) -> Result<Manifest, Vec<Problem>> {
        let mut problems = Vec::new();
        validate_manifest(value, "", &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        serde_json::from_value(value.clone()).map_err(|e| vec![Problem::new("", e.to_string())])
    }

    /// Every problem of a manifest already in typed form (a manifest
    /// built in code or received in a request body).
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let value =
            serde_json::to_value(self).map_err(|e| vec![Problem::new("", e.to_string())])?;
        let mut problems = Vec::new();
        validate_manifest(&value, "", &mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn at(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else if field.starts_with('[') {
        format!("{prefix}{field}")
    } else {
        format!("{prefix}.{field}")
    }
}

fn unknown_fields(
    map: &serde_json::Map<String, Value>,
    known: &[&str],
    prefix: &str,
    problems: &mut Vec<Problem>,
) {
    for key in map.keys() {
        if !known.contains(&key.as_str()) {
            problems.push(Problem::new(at(prefix, key), "unknown field"));
        }
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Why a repository-relative path is not acceptable, if it is not.
pub fn relative_path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("must not be empty");
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return Some("must be relative");
    }
    if path.contains('\0') {
        return Some("must not contain NUL");
    }
    if path.split(['/', '\\']).any(|c| c == "..") {
        return Some("must not contain `..`");
    }
    None
}

fn is_schedule(s: &str) -> bool {
    const MACROS: &[&str] = &[
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ];
    if MACROS.contains(&s.trim()) {
        return true;
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/' | '?'))
        })
}

fn validate_manifest(value: &Value, prefix: &str, problems: &mut Vec<Problem>) {
    let mut push =
        |field: &str, message: &str| problems.push(Problem::new(at(prefix, field), message));
    let Some(map) = value.as_object() else {
        push("", "must be an object");
        return;
    };
    let kind = match map.get("kind") {
        None => {
            push("kind", "required");
            None
        }
        Some(v) => match serde_json::from_value::<WorkloadKind>(v.clone()) {
            Ok(k) => Some(k),
            Err(_) => {
                push("kind", "must be one of job, cronjob, deployment, service");
                None
            }
        },
    };
    match map.get("name") {
        None => push("name", "required"),
        Some(Value::String(s)) if is_dns_label(s) => {}
        Some(_) => push(
            "name",
            "must be 1 to 63 lower-case letters, digits or `-`, not starting or ending with `-`",
        ),
    }
    match map.get("command") {
        None => push("command", "required"),
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(_) => push("command", "must be a non-empty string"),
    }
    match map.get("args") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_string() {
                    push(&format!("args[{i}]"), "must be a string");
                }
            }
        }
        Some(_) => push("args", "must be an array of strings"),
    }
    match map.get("env") {
        None => {}
        Some(Value::Object(env)) => {
            for (key, v) in env {
                let field = format!("env.{key}");
                if !is_env_name(key) {
                    push(
                        &field,
                        "must be letters, digits and `_`, not starting with a digit",
                    );
                } else if key.starts_with("SLIPWAY_") {
                    push(&field, "the SLIPWAY_ prefix is reserved");
                }
                if !v.is_string() {
                    push(&field, "must be a string");
                }
            }
        }
        Some(_) => push("env", "must be an object of strings"),
    }
    match map.get("workdir") {
        None => {}
        Some(Value::String(s)) => {
            if let Some(reason) = relative_path_problem(s) {
                push("workdir", reason);
            }
        }
        Some(_) => push("workdir", "must be a string"),
    }
    match map.get("instances") {
        None => {}
        Some(v) => match v.as_u64() {
            Some(n) if (1..=1000).contains(&n) => {
                if kind.is_some_and(|k| !k.long_running()) {
                    push("instances", "only deployments and services have instances");
                }
            }
            _ => push("instances", "must be an integer from 1 to 1000"),
        },
    }
    match map.get("port") {
        None => {
            if kind == Some(WorkloadKind::Service) {
                push("port", "required for a service");
            }
        }
        Some(v) => match v.as_u64() {
            Some(n) if (1..=65535).contains(&n) => {
                if kind.is_some_and(|k| !k.long_running()) {
                    push("port", "only deployments and services have a port");
                }
            }
            _ => push("port", "must be an integer from 1 to 65535"),
        },
    }
    match map.get("schedule") {
        None => {
            if kind == Some(WorkloadKind::Cronjob) {
                push("schedule", "required for a cronjob");
            }
        }
        Some(Value::String(s)) if is_schedule(s) => {
            if kind.is_some_and(|k| k != WorkloadKind::Cronjob) {
                push("schedule", "only cronjobs have a schedule");
            }
        }
        Some(_) => push(
            "schedule",
            "must be a 5-field cron expression (`0 3 * * *`) or a macro such as `@daily`",
        ),
    }
    match map.get("timeout") {
        None => {}
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => {
                if kind.is_some_and(|k| k.long_running()) {
                    push("timeout", "only jobs and cronjobs have a timeout");
                }
            }
            _ => push("timeout", "must be a whole number of seconds, at least 1"),
        },
    }
    unknown_fields(map, MANIFEST_FIELDS, prefix, problems);
}

/// `pipeline.json`: tasks in order; a step is one task or a group of
/// tasks run together (see `docs/formats.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline {
    /// A default name for runs of the pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The steps, run one after another.
    pub steps: Vec<PipelineStep>,
}

/// One step of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PipelineStep {
    /// Tasks run together; the step ends when all have ended.
    Parallel {
        /// The tasks.
        parallel: Vec<PipelineTask>,
    },
    /// One task.
    Task(PipelineTask),
}

impl PipelineStep {
    fn tasks_with_paths(&self, index: usize) -> Vec<(&PipelineTask, String)> {
        match self {
            PipelineStep::Task(t) => vec![(t, format!("steps[{index}]"))],
            PipelineStep::Parallel { parallel } => parallel
                .iter()
                .enumerate()
                .map(|(i, t)| (t, format!("steps[{index}].parallel[{i}]")))
                .collect(),
        }
    }
}

/// A task: a directory of the repository holding a `manifest.json`, or a
/// manifest written inline. Exactly one of the two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineTask {
    /// The name the task runs under (default: the manifest's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A directory, relative to the repository root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    /// An inline manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
}

impl Pipeline {
    /// Validates `value` and converts it; every problem is listed, paths
    /// relative to the pipeline (`steps[1].parallel[0].manifest.port`).
    pub fn from_value(value: &Value) -> Result<Pipeline, Vec<Problem>> {
        let mut problems = Vec::new();
        validate_pipeline(value, &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        serde_json::from_value(value.clone()).map_err(|e| vec![Problem::new("", e.to_string())])
    }
}

fn validate_pipeline(value: &Value, problems: &mut Vec<Problem>) {
    let Some(map) = value.as_object() else {
        problems.push(Problem::new("", "must be an object"));
        return;
    };
    match map.get("name") {
        None => {}
        Some(Value::String(s)) if is_dns_label(s) => {}
        Some(_) => problems.push(Problem::new(
            "name",
            "must be 1 to 63 lower-case letters, digits or `-`",
        )),
    }
    let mut inline_names = HashSet::new();
    match map.get("steps") {
        None => problems.push(Problem::new("steps", "required")),
        Some(Value::Array(steps)) if steps.is_empty() => {
            problems.push(Problem::new("steps", "at least one step is required"));
        }
        Some(Value::Array(steps)) => {
            for (si, step) in steps.iter().enumerate() {
                let sp = format!("steps[{si}]");
                match step.as_object() {
                    Some(obj) if obj.contains_key("parallel") => {
                        unknown_fields(obj, &["parallel"], &sp, problems);
                        match obj.get("parallel") {
                            Some(Value::Array(tasks)) if !tasks.is_empty() => {
                                for (ti, task) in tasks.iter().enumerate() {
                                    let tp = format!("{sp}.parallel[{ti}]");
                                    validate_task(task, &tp, &mut inline_names, problems);
                                }
                            }
                            _ => problems.push(Problem::new(
                                format!("{sp}.parallel"),
                                "must be a non-empty array of tasks",
                            )),
                        }
                    }
                    Some(_) => validate_task(step, &sp, &mut inline_names, problems),
                    None => problems.push(Problem::new(sp, "must be an object")),
                }
            }
        }
        Some(_) => problems.push(Problem::new("steps", "must be an array")),
    }
    unknown_fields(map, &["name", "steps"], "", problems);
}

fn validate_task(
    value: &Value,
    path: &str,
    names: &mut HashSet<String>,
    problems: &mut Vec<Problem>,
) {
    let Some(map) = value.as_object() else {
        problems.push(Problem::new(path, "must be an object"));
        return;
    };
    let mut name = None;
    match map.get("name") {
        None => {}
        Some(Value::String(s)) if is_dns_label(s) => name = Some(s.clone()),
        Some(_) => problems.push(Problem::new(
            at(path, "name"),
            "must be 1 to 63 lower-case letters, digits or `-`",
        )),
    }
    match (map.get("directory"), map.get("manifest")) {
        (Some(_), Some(_)) | (None, None) => problems.push(Problem::new(
            path,
            "needs exactly one of `directory` and `manifest`",
        )),
        (Some(Value::String(dir)), None) => {
            if let Some(reason) = relative_path_problem(dir) {
                problems.push(Problem::new(at(path, "directory"), reason));
            }
        }
        (Some(_), None) => problems.push(Problem::new(at(path, "directory"), "must be a string")),
        (None, Some(manifest)) => {
            validate_manifest(manifest, &at(path, "manifest"), problems);
            if name.is_none() {
                name = manifest
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
        }
    }
    if let Some(name) = name
        && !names.insert(name.clone())
    {
        problems.push(Problem::new(
            path,
            format!("task name `{name}` is used twice"),
        ));
    }
    unknown_fields(map, &["name", "directory", "manifest"], path, problems);
}
