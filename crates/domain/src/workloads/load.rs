//! Definitions read from git through core's generic [`GitSource`]:
//! a manifest, a pipeline with the manifests of its directory tasks (all at
//! one commit), or a YAML / JSON document checked by a caller's validator.
//! The functions here work with any `GitSource` (the gix one, an in-memory
//! one); [`super::Loads`] runs them as tracked work.

use super::manifest::Manifest;
use super::pipeline::Pipeline;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use slipway_core::Problem;
use slipway_core::source::{CommitInfo, GitSource, Remote, SourceError};
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// Checks a document loaded from git (the workflow format plugs in here).
pub type Validator = Arc<dyn Fn(&Value) -> Result<(), Vec<Problem>> + Send + Sync>;

/// What loading a definition can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// Reading from git failed (unknown reference, missing file, fetch).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The file is not valid JSON / YAML.
    #[error("`{path}` cannot be parsed: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file parsed but breaks the format's rules.
    #[error("`{path}` is invalid: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The file.
        path: String,
        /// Every problem.
        problems: Vec<Problem>,
    },
}

impl LoadError {
    /// The definition's problems, when it was invalid (empty otherwise).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            LoadError::Invalid { problems, .. } => problems.clone(),
            _ => Vec::new(),
        }
    }
}

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

impl LoadKind {
    /// `manifest`, `pipeline` or `document`: how the kind is recorded.
    pub fn word(&self) -> &'static str {
        match self {
            LoadKind::Manifest => "manifest",
            LoadKind::Pipeline => "pipeline",
            LoadKind::Document(_) => "document",
        }
    }
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

/// The id of an asynchronous load: 32 random hexadecimal digits, hard to
/// guess.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkId(pub String);

impl WorkId {
    /// A new random id.
    pub fn random() -> WorkId {
        WorkId(uuid::Uuid::new_v4().simple().to_string())
    }
}

impl fmt::Display for WorkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an asynchronous load is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl LoadState {
    /// `pending`, `loading`, `loaded` or `failed` (the `state` field of the
    /// JSON form).
    pub fn word(&self) -> &'static str {
        match self {
            LoadState::Pending => "pending",
            LoadState::Loading => "loading",
            LoadState::Loaded { .. } => "loaded",
            LoadState::Failed { .. } => "failed",
        }
    }

    /// Whether the load has ended (loaded or failed); an ended load never
    /// changes again.
    pub fn is_finished(&self) -> bool {
        matches!(self, LoadState::Loaded { .. } | LoadState::Failed { .. })
    }

    /// A failure without problems.
    pub fn failed(reason: impl Into<String>) -> LoadState {
        LoadState::Failed {
            reason: reason.into(),
            problems: Vec::new(),
        }
    }
}

/// A definition read from git, parsed and validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadedManifest {
    /// The commit it was read at.
    pub commit: CommitInfo,
    /// The file.
    pub path: String,
    /// The manifest.
    pub manifest: Manifest,
}

/// A pipeline with every task's manifest, read at one commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedTask {
    /// The name it runs under (the task's `name`, else the manifest's).
    pub name: String,
    /// The directory its manifest came from (none when inline).
    pub directory: Option<String>,
    /// The manifest.
    pub manifest: Manifest,
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
pub fn parse_json(path: &str, bytes: &[u8]) -> Result<Value, LoadError> {
    serde_json::from_slice(bytes).map_err(|e| LoadError::Parse {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Parses a definition document: JSON for `.json`, YAML otherwise.
pub fn parse_document(path: &str, bytes: &[u8]) -> Result<Value, LoadError> {
    if path.ends_with(".json") {
        return parse_json(path, bytes);
    }
    serde_yaml_ng::from_slice(bytes).map_err(|e| LoadError::Parse {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// `<directory>/manifest.json` at `reference`, parsed and validated.
pub async fn load_manifest(
    source: &dyn GitSource,
    remote: &Remote,
    reference: &str,
    directory: &str,
) -> Result<LoadedManifest, LoadError> {
    let commit = source.resolve(remote, reference).await?;
    manifest_at(source, remote, commit, directory).await
}

/// The manifest of `directory` at an already resolved commit.
async fn manifest_at(
    source: &dyn GitSource,
    remote: &Remote,
    commit: CommitInfo,
    directory: &str,
) -> Result<LoadedManifest, LoadError> {
    let path = join_path(directory, "manifest.json");
    let manifest = read_checked(source, remote, &commit, &path, Manifest::from_value).await?;
    Ok(LoadedManifest {
        commit,
        path,
        manifest,
    })
}

/// `<directory>/pipeline.json` at `reference`, parsed and validated, with
/// the manifest of every directory task read at the same commit.
pub async fn load_pipeline(
    source: &dyn GitSource,
    remote: &Remote,
    reference: &str,
    directory: &str,
) -> Result<LoadedPipeline, LoadError> {
    let commit = source.resolve(remote, reference).await?;
    let path = join_path(directory, "pipeline.json");
    let pipeline = read_checked(source, remote, &commit, &path, Pipeline::from_value).await?;
    let mut groups = Vec::new();
    let mut names = HashSet::new();
    let mut problems = Vec::new();
    for (si, step) in pipeline.steps.iter().enumerate() {
        let mut group = Vec::new();
        for (task, task_path) in step.tasks_with_paths(si) {
            let (directory, manifest) = match (&task.directory, &task.manifest) {
                (Some(dir), _) => {
                    let loaded = manifest_at(source, remote, commit.clone(), dir).await?;
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
        return Err(LoadError::Invalid { path, problems });
    }
    Ok(LoadedPipeline {
        commit,
        path,
        pipeline,
        groups,
    })
}

/// The YAML or JSON document at `path` (JSON for `.json`, YAML otherwise)
/// at `reference`, parsed and checked by `validate`.
pub async fn load_document(
    source: &dyn GitSource,
    remote: &Remote,
    reference: &str,
    path: &str,
    validate: &Validator,
) -> Result<(CommitInfo, Value), LoadError> {
    let commit = source.resolve(remote, reference).await?;
    let value = read_checked(source, remote, &commit, path, |v| {
        validate(v)?;
        Ok(v.clone())
    })
    .await?;
    Ok((commit, value))
}

/// The file at `path` at `commit`, parsed (JSON for `.json`, YAML
/// otherwise) and made into a `T` by `check`, whose problems make it
/// [`LoadError::Invalid`].
async fn read_checked<T>(
    source: &dyn GitSource,
    remote: &Remote,
    commit: &CommitInfo,
    path: &str,
    check: impl FnOnce(&Value) -> Result<T, Vec<Problem>>,
) -> Result<T, LoadError> {
    let bytes = source.read_file(remote, &commit.id, path).await?;
    check(&parse_document(path, &bytes)?).map_err(|problems| LoadError::Invalid {
        path: path.to_owned(),
        problems,
    })
}

/// Runs one load request to its result.
pub async fn run_load(source: &dyn GitSource, request: LoadRequest) -> Result<Loaded, LoadError> {
    let LoadRequest {
        remote,
        reference,
        path,
        kind,
    } = request;
    match kind {
        LoadKind::Manifest => load_manifest(source, &remote, &reference, &path)
            .await
            .map(Loaded::Manifest),
        LoadKind::Pipeline => load_pipeline(source, &remote, &reference, &path)
            .await
            .map(Loaded::Pipeline),
        LoadKind::Document(validate) => {
            let (commit, value) =
                load_document(source, &remote, &reference, &path, &validate).await?;
            Ok(Loaded::Document {
                commit,
                path,
                value,
            })
        }
    }
}
