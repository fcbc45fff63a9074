//! `pipeline.json`: tasks of the Deploy API run in order, a step being one
//! task or a group run together, each task a directory holding a
//! `manifest.json` or an inline manifest. `docs/formats.md` describes it.

use super::manifest::{
    Manifest, at, is_dns_label, relative_path_problem, unknown_fields, validate_manifest,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use slipway_core::Problem;
use std::collections::HashSet;

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
    pub(super) fn tasks_with_paths(&self, index: usize) -> Vec<(&PipelineTask, String)> {
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
