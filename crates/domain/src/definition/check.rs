//! Validation of a definition, checking of a run's inputs, and lowering to
//! a core plan.

use super::decode::join;
use super::{JobDef, ParamDef, ParamType, WorkflowDefinition};
use crate::limits;
use serde_json::Value;
use slipway_core::refs::{self, Reference};
use slipway_core::{Approval, Job, Plan, Problem, Registry, Stage};
use std::collections::{BTreeMap, HashSet};

/// See [`WorkflowDefinition::validate`].
pub(crate) fn validate(def: &WorkflowDefinition, registry: &Registry) -> Result<(), Vec<Problem>> {
    let mut out = Vec::new();
    check_params(&def.params, &mut out);
    let known: HashSet<&str> = def.params.iter().map(|p| p.name.as_str()).collect();
    check_env_names(&def.env, "env", &mut out);
    check_env_values(&def.env, "env", &mut out);
    for (k, v) in &def.env {
        check_workflow_env_refs(v, &join("env", k), &known, &mut out);
    }
    if let Some(why) = limits::name_problem(&def.name) {
        out.push(Problem::new("name", why));
    }
    // The definition has the plan's layout, so core's paths are ours as
    // they are. The workflow env is left out: references in it are checked
    // above, and merged into every job it would be reported once per job.
    if let Err(e) = lower(def, false).validate(registry) {
        out.extend(e.problems);
    }
    for (si, stage) in def.stages.iter().enumerate() {
        let sp = format!("stages[{si}]");
        if let Some(why) = limits::name_problem(&stage.name) {
            out.push(Problem::new(format!("{sp}.name"), why));
        }
        if let Some(a) = &stage.approval {
            let mut seen = HashSet::new();
            for (i, who) in a.approvers.iter().enumerate() {
                let ap = format!("{sp}.approval.approvers[{i}]");
                if who.trim().is_empty() {
                    out.push(Problem::new(ap, "must not be empty"));
                } else if !seen.insert(who.as_str()) {
                    out.push(Problem::new(ap, format!("duplicate approver `{who}`")));
                }
            }
        }
        for (ji, job) in stage.jobs.iter().enumerate() {
            let jp = format!("{sp}.jobs[{ji}]");
            if let Some(why) = limits::name_problem(&job.name) {
                out.push(Problem::new(format!("{jp}.name"), why));
            }
            check_env_names(&job.env, &join(&jp, "env"), &mut out);
            check_env_values(&job.env, &join(&jp, "env"), &mut out);
            check_spec_strings(&job.spec, &join(&jp, "spec"), &mut out);
            check_job_param_refs(job, &jp, &known, &mut out);
        }
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// Names a reference can use: letters, digits, `_` and `-` (see core's
/// `refs`).
fn reference_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Environment variable names: a letter or `_`, then letters, digits, `_`.
fn variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_params(params: &[ParamDef], out: &mut Vec<Problem>) {
    let mut names = HashSet::new();
    for (i, p) in params.iter().enumerate() {
        let pp = format!("params[{i}]");
        if p.name.trim().is_empty() {
            out.push(Problem::new(format!("{pp}.name"), "required"));
        } else if !reference_name(&p.name) {
            out.push(Problem::new(
                format!("{pp}.name"),
                format!(
                    "`{}` is not a valid param name: use letters, digits, `_` and `-`",
                    p.name.escape_debug()
                ),
            ));
        } else if !names.insert(p.name.as_str()) {
            out.push(Problem::new(
                format!("{pp}.name"),
                format!("duplicate param name `{}`", p.name),
            ));
        }
        let cp = format!("{pp}.choices");
        if p.param_type == ParamType::Choice {
            if p.choices.is_empty() {
                out.push(Problem::new(
                    cp.as_str(),
                    "a choice param needs at least one choice",
                ));
            }
            let mut seen = HashSet::new();
            for (k, c) in p.choices.iter().enumerate() {
                if !seen.insert(c.as_str()) {
                    out.push(Problem::new(
                        format!("{cp}[{k}]"),
                        format!("duplicate choice `{c}`"),
                    ));
                }
            }
        } else if !p.choices.is_empty() {
            out.push(Problem::new(
                cp,
                format!(
                    "only a choice param has choices (this one is {})",
                    p.param_type
                ),
            ));
        }
        if let Some(d) = &p.default
            && let Err(why) = coerce(p, d)
        {
            out.push(Problem::new(format!("{pp}.default"), why));
        }
    }
}

fn check_env_names(env: &BTreeMap<String, String>, path: &str, out: &mut Vec<Problem>) {
    for k in env.keys() {
        if !variable_name(k) {
            out.push(Problem::new(
                join(path, k),
                "not a valid variable name: use letters, digits and `_`, not starting with a digit",
            ));
        }
    }
}

/// Values that no process environment can take (see [`limits`]).
fn check_env_values(env: &BTreeMap<String, String>, path: &str, out: &mut Vec<Problem>) {
    for (k, v) in env {
        if let Some(why) = limits::value_problem(v) {
            out.push(Problem::new(join(path, k), why));
        }
    }
}

/// Strings of a spec that no process argument can take (see [`limits`]).
fn check_spec_strings(spec: &Value, path: &str, out: &mut Vec<Problem>) {
    let mut texts = Vec::new();
    strings_in(spec, path.to_owned(), &mut texts);
    for (at, text) in texts {
        if let Some(why) = limits::spec_string_problem(text) {
            out.push(Problem::new(at, why));
        }
    }
}

fn check_workflow_env_refs(text: &str, path: &str, known: &HashSet<&str>, out: &mut Vec<Problem>) {
    match refs::parse_all(text) {
        Err(e) => out.push(Problem::new(path, e.to_string())),
        Ok(found) => {
            for r in found {
                match &r {
                    Reference::Param(name) if !known.contains(name.as_str()) => {
                        out.push(Problem::new(path, unknown_param_ref(&r, name)));
                    }
                    Reference::Param(_) => {}
                    Reference::Output { .. } => out.push(Problem::new(
                        path,
                        format!("`{r}`: the workflow's env may only refer to params"),
                    )),
                }
            }
        }
    }
}

fn unknown_param_ref(r: &Reference, name: &str) -> String {
    format!("`{r}` refers to unknown param `{name}`")
}

/// Param references in a job's spec and env that name no param. Malformed
/// references are core's to report.
fn check_job_param_refs(job: &JobDef, jp: &str, known: &HashSet<&str>, out: &mut Vec<Problem>) {
    let mut texts = Vec::new();
    strings_in(&job.spec, join(jp, "spec"), &mut texts);
    for (k, v) in &job.env {
        texts.push((join(&join(jp, "env"), k), v.as_str()));
    }
    for (path, text) in texts {
        for r in refs::parse_all(text).unwrap_or_default() {
            if let Reference::Param(name) = &r
                && !known.contains(name.as_str())
            {
                out.push(Problem::new(path.as_str(), unknown_param_ref(&r, name)));
            }
        }
    }
}

/// Every string inside `v` with its path.
fn strings_in<'a>(v: &'a Value, path: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::String(s) => out.push((path, s)),
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                strings_in(x, format!("{path}[{i}]"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                strings_in(x, join(&path, k), out);
            }
        }
        _ => {}
    }
}

/// `v` as a value of param `p`, in the string form core passes on.
pub(crate) fn coerce(p: &ParamDef, v: &Value) -> Result<String, String> {
    // A param reaches jobs as an environment variable.
    if let Value::String(s) = v
        && let Some(why) = limits::value_problem(s)
    {
        return Err(why);
    }
    match (p.param_type, v) {
        (ParamType::String, Value::String(s)) if s.contains(['\n', '\r']) => {
            Err("a string param holds one line; use type text for more".to_owned())
        }
        (ParamType::String | ParamType::Text, Value::String(s)) => Ok(s.clone()),
        (ParamType::Choice, Value::String(s)) if p.choices.contains(s) => Ok(s.clone()),
        (ParamType::Choice, Value::String(s)) => Err(format!(
            "`{}` is not one of the choices: {}",
            s.escape_debug(),
            p.choices.join(", ")
        )),
        (ParamType::Bool, Value::Bool(b)) => Ok(b.to_string()),
        (ParamType::Bool, Value::String(s)) if s == "true" || s == "false" => Ok(s.clone()),
        (ParamType::Bool, _) => Err("must be true or false".to_owned()),
        (ParamType::Number, Value::Number(n)) => Ok(n.to_string()),
        (ParamType::Number, Value::String(s)) => {
            number_text(s).ok_or_else(|| format!("`{}` is not a finite number", s.escape_debug()))
        }
        (ParamType::Number, _) => Err("must be a number".to_owned()),
        (_, other) => Err(format!(
            "must be a string, not {}",
            match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::Array(_) => "a list",
                Value::Object(_) => "a mapping",
                Value::String(_) => "a string",
            }
        )),
    }
}

/// A number written as text, in the form a JSON number of it prints as.
fn number_text(s: &str) -> Option<String> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(i.to_string());
    }
    let x: f64 = t.parse().ok()?;
    serde_json::Number::from_f64(x).map(|n| n.to_string())
}

/// The value of a param nobody gave and that has no default.
fn implicit(p: &ParamDef) -> String {
    match p.param_type {
        ParamType::String | ParamType::Text => String::new(),
        ParamType::Bool => "false".to_owned(),
        ParamType::Number => "0".to_owned(),
        ParamType::Choice => p.choices.first().cloned().unwrap_or_default(),
    }
}

/// See [`WorkflowDefinition::check_inputs`].
pub(crate) fn inputs(
    def: &WorkflowDefinition,
    inputs: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, String>, Vec<Problem>> {
    let mut out = Vec::new();
    let path = |name: &str| join("params", name);
    for name in inputs.keys() {
        if !def.params.iter().any(|p| &p.name == name) {
            let known: Vec<&str> = def.params.iter().map(|p| p.name.as_str()).collect();
            let hint = if known.is_empty() {
                "this workflow takes no params".to_owned()
            } else {
                format!("known: {}", known.join(", "))
            };
            out.push(Problem::new(path(name), format!("unknown param ({hint})")));
        }
    }
    let mut values = BTreeMap::new();
    for p in &def.params {
        if values.contains_key(&p.name) {
            continue;
        }
        // JSON null means "not given".
        let given = inputs.get(&p.name).filter(|v| !v.is_null());
        let value = match (given, &p.default) {
            (Some(v), _) => coerce(p, v),
            (None, Some(d)) => {
                coerce(p, d).map_err(|why| format!("the definition's default is invalid: {why}"))
            }
            (None, None) if p.required => Err("required".to_owned()),
            (None, None) => Ok(implicit(p)),
        };
        match value {
            Ok(v) => {
                values.insert(p.name.clone(), v);
            }
            Err(why) => out.push(Problem::new(path(&p.name), why)),
        }
    }
    if out.is_empty() { Ok(values) } else { Err(out) }
}

/// The core plan of `def`; with `merge_env`, the workflow env goes into
/// every job's env (the job's own values win).
pub(crate) fn lower(def: &WorkflowDefinition, merge_env: bool) -> Plan {
    let stages = def
        .stages
        .iter()
        .map(|s| Stage {
            name: s.name.clone(),
            parallel: s.parallel,
            approval: s.approval.as_ref().map(|a| Approval {
                approvers: a.approvers.clone(),
                needed: a.needed,
                timeout: a.timeout,
            }),
            jobs: s
                .jobs
                .iter()
                .map(|j| {
                    let mut env = if merge_env {
                        def.env.clone()
                    } else {
                        BTreeMap::new()
                    };
                    env.extend(j.env.clone());
                    Job {
                        name: j.name.clone(),
                        kind: j.kind.clone(),
                        spec: j.spec.clone(),
                        env,
                        timeout: j.timeout,
                        retries: j.retries,
                        allow_failure: j.allow_failure,
                        skipped: j.skipped,
                    }
                })
                .collect(),
        })
        .collect();
    Plan {
        name: def.name.clone(),
        stages,
        concurrency_limit: def.concurrency_limit,
    }
}
