//! `manifest.json`: one workload of the Deploy API (job, cronjob,
//! deployment or service) and its validation, which lists every problem
//! with its path. `docs/formats.md` describes the format.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use slipway_core::Problem;
use std::collections::BTreeMap;

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
    /// Deployments and services run until stopped; jobs and cronjobs end.
    pub fn long_running(self) -> bool {
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

pub(super) fn at(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else if field.starts_with('[') {
        format!("{prefix}{field}")
    } else {
        format!("{prefix}.{field}")
    }
}

pub(super) fn unknown_fields(
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

pub(crate) fn is_dns_label(s: &str) -> bool {
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

pub(super) fn validate_manifest(value: &Value, prefix: &str, problems: &mut Vec<Problem>) {
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
    // Integers from 1 to a bound that only the long-running kinds have.
    for (field, max, only) in [
        (
            "instances",
            1000,
            "only deployments and services have instances",
        ),
        ("port", 65535, "only deployments and services have a port"),
    ] {
        let Some(v) = map.get(field) else {
            continue;
        };
        match v.as_u64() {
            Some(n) if (1..=max).contains(&n) => {
                if kind.is_some_and(|k| !k.long_running()) {
                    push(field, only);
                }
            }
            _ => push(field, &format!("must be an integer from 1 to {max}")),
        }
    }
    if kind == Some(WorkloadKind::Service) && !map.contains_key("port") {
        push("port", "required for a service");
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
