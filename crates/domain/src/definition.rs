//! Workflow definitions: the JSON or YAML documents users write, checked
//! against the registered job kinds and compiled into `slipway-core` plans.
//!
//! A [`WorkflowDefinition`] is read with [`WorkflowDefinition::parse`]
//! (unknown fields, wrong types and bad durations are refused with their
//! paths), checked with [`WorkflowDefinition::validate`] (every problem at
//! once, core's plan checks included) and turned into a [`Plan`] plus the
//! run's params with [`WorkflowDefinition::compile`]. Serializing it with
//! serde gives the canonical JSON form that is stored, and reading that
//! back gives the same definition. The format is described in
//! `docs/workflow-format.md`.

mod check;
mod decode;
mod doc;
mod duration;

pub use duration::{MAX_DURATION, format_duration, parse_duration};

use crate::error::DefinitionError;
use serde::{Deserialize, Deserializer, Serialize};
use slipway_core::{Plan, Problem, Registry};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The text formats a definition can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JSON.
    Json,
    /// YAML (one document).
    Yaml,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
        })
    }
}

impl Format {
    /// The format a `Content-Type` header value names, parameters such as
    /// `; charset=utf-8` ignored: `application/json`, `text/json` and any
    /// `+json` type are JSON; `application/yaml`, `application/x-yaml`,
    /// `text/yaml`, `text/x-yaml` and any `+yaml` type are YAML.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" | "text/json" => Some(Format::Json),
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
                Some(Format::Yaml)
            }
            e if e.ends_with("+json") => Some(Format::Json),
            e if e.ends_with("+yaml") => Some(Format::Yaml),
            _ => None,
        }
    }

    /// The format a file name's extension names: `.json` is JSON, `.yaml`
    /// and `.yml` are YAML (case ignored).
    pub fn from_path(path: &str) -> Option<Format> {
        let (_, ext) = path.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }

    /// A guess from the text itself when nothing else says: JSON when the
    /// first non-blank character opens an object, YAML otherwise.
    pub fn sniff(text: &str) -> Format {
        if text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('{')
        {
            Format::Json
        } else {
            Format::Yaml
        }
    }
}

/// A workflow as its author wrote it: params, stages of jobs, limits.
///
/// Serializes to the canonical JSON form; deserializing (from that form or
/// any JSON) applies the same checks as [`WorkflowDefinition::parse`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowDefinition {
    /// The workflow's name (also the compiled plan's name).
    pub name: String,
    /// Free text for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What a run may be given, in the order a form would show them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ParamDef>,
    /// Environment for every job; a job's own `env` wins on the same name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// How many runs of this workflow may run at once; `-1` is unlimited.
    pub concurrency_limit: i64,
    /// The stages, run in this order.
    pub stages: Vec<StageDef>,
}

/// A typed run parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamDef {
    /// How references (`${{ params.<name> }}`) and inputs name it.
    pub name: String,
    /// Free text for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What values it takes.
    #[serde(rename = "type")]
    pub param_type: ParamType,
    /// The value used when a run does not give one, as written (checked by
    /// [`WorkflowDefinition::validate`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// A run must give a value (matters only when there is no default).
    pub required: bool,
    /// The allowed values of a `choice` param.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

/// The type of a param.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// One line of text.
    String,
    /// Text that may span lines.
    Text,
    /// One of the listed `choices`.
    Choice,
    /// `true` or `false`.
    Bool,
    /// A finite decimal number.
    Number,
}

impl ParamType {
    /// Every type, in documentation order.
    pub const ALL: [ParamType; 5] = [
        ParamType::String,
        ParamType::Text,
        ParamType::Choice,
        ParamType::Bool,
        ParamType::Number,
    ];

    /// The word a definition uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Text => "text",
            ParamType::Choice => "choice",
            ParamType::Bool => "bool",
            ParamType::Number => "number",
        }
    }

    /// The type named by `word`.
    pub fn from_word(word: &str) -> Option<ParamType> {
        ParamType::ALL.into_iter().find(|t| t.as_str() == word)
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage: jobs run together or in turn, optionally behind an approval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageDef {
    /// Unique within the workflow.
    pub name: String,
    /// Run the jobs together (`true`) or one after another.
    pub parallel: bool,
    /// A gate the stage waits at before its jobs start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalDef>,
    /// The stage's jobs.
    pub jobs: Vec<JobDef>,
}

/// An approval gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalDef {
    /// Who may decide; empty means anyone allowed to approve runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// How many distinct approvals open the gate.
    pub needed: u32,
    /// How long the gate waits before the run fails; `None` waits forever.
    #[serde(with = "duration::opt_text", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// A job: a registered kind and the spec that kind reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobDef {
    /// Unique within the whole workflow (references use it).
    pub name: String,
    /// The job kind, e.g. `shell`.
    pub kind: String,
    /// The kind's settings (an object), checked by the kind.
    pub spec: serde_json::Value,
    /// Extra environment; values may hold references.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Time limit of one attempt; `None` means none.
    #[serde(with = "duration::opt_text", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// How many more attempts a failed job gets.
    pub retries: u32,
    /// A failure of this job does not fail the stage.
    pub allow_failure: bool,
    /// The job is disabled: recorded `skipped`, never run.
    pub skipped: bool,
}

impl WorkflowDefinition {
    /// Reads a definition from `text` in `format`. Syntax errors name their
    /// line; shape errors (unknown fields, wrong types, bad durations) are
    /// all listed, each with its path.
    pub fn parse(text: &str, format: Format) -> Result<Self, DefinitionError> {
        let doc = doc_from_text(text, format)?;
        decode::decode(&doc).map_err(|problems| DefinitionError::Shape { problems })
    }

    /// [`WorkflowDefinition::parse`] of raw bytes, which must be UTF-8 (a
    /// leading byte-order mark is ignored).
    pub fn parse_bytes(bytes: &[u8], format: Format) -> Result<Self, DefinitionError> {
        let text = std::str::from_utf8(bytes).map_err(|_| DefinitionError::NotUtf8)?;
        Self::parse(text, format)
    }

    /// [`WorkflowDefinition::parse`] of JSON text.
    pub fn from_json(text: &str) -> Result<Self, DefinitionError> {
        Self::parse(text, Format::Json)
    }

    /// [`WorkflowDefinition::parse`] of YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, DefinitionError> {
        Self::parse(text, Format::Yaml)
    }

    /// Checks the definition against the job kinds in `registry` and
    /// reports every problem at once, each with its path: core's plan
    /// checks (names, empty stages, kinds, specs, approvals, job references,
    /// concurrency limit) plus params, env names and param references.
    pub fn validate(&self, registry: &Registry) -> Result<(), Vec<Problem>> {
        check::validate(self, registry)
    }

    /// Checks a run's `inputs` against the params and returns every param's
    /// value as core wants it (a string): unknown names, missing required
    /// params, values of the wrong type and values outside the choices are
    /// refused (paths `params.<name>`); params not given take their default.
    pub fn check_inputs(
        &self,
        inputs: &BTreeMap<String, serde_json::Value>,
    ) -> Result<BTreeMap<String, String>, Vec<Problem>> {
        check::inputs(self, inputs)
    }

    /// The plan a run of this definition executes, with `inputs` checked by
    /// [`WorkflowDefinition::check_inputs`] and returned resolved. The
    /// workflow's `env` is merged into each job's. Validate the definition
    /// first (when it is saved); the engine checks the plan again on submit.
    pub fn compile(
        &self,
        inputs: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(Plan, BTreeMap<String, String>), Vec<Problem>> {
        let params = self.check_inputs(inputs)?;
        Ok((check::lower(self, true), params))
    }
}

impl std::str::FromStr for WorkflowDefinition {
    type Err = DefinitionError;

    /// Reads JSON or YAML, told apart by [`Format::sniff`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text, Format::sniff(text))
    }
}

impl<'de> Deserialize<'de> for WorkflowDefinition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let doc::Doc(value) = doc::Doc::deserialize(d)?;
        decode::decode(&value).map_err(|problems| {
            serde::de::Error::custom(DefinitionError::Shape { problems }.to_string())
        })
    }
}

fn doc_from_text(text: &str, format: Format) -> Result<serde_json::Value, DefinitionError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Json => serde_json::from_str::<doc::Doc>(text)
            .map(|d| d.0)
            .map_err(|e| DefinitionError::Syntax {
                format,
                line: (e.line() > 0).then_some(e.line()),
                column: (e.line() > 0).then_some(e.column()),
                message: e.to_string(),
            }),
        Format::Yaml if doc::too_deep(text, doc::MAX_FLOW_DEPTH) => Err(DefinitionError::Syntax {
            format,
            line: None,
            column: None,
            message: format!(
                "`[` and `{{` are nested more than {} levels deep",
                doc::MAX_FLOW_DEPTH
            ),
        }),
        Format::Yaml => serde_yaml_ng::from_str::<doc::Doc>(text)
            .map(|d| d.0)
            .map_err(|e| {
                let at = e.location();
                DefinitionError::Syntax {
                    format,
                    line: at.as_ref().map(|l| l.line()),
                    column: at.as_ref().map(|l| l.column()),
                    message: e.to_string(),
                }
            }),
    }
}
