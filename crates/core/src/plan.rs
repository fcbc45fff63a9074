//! The executable plan: stages run in order, each holding jobs; a job is a
//! `kind` name plus a JSON `spec` that its kind validates.

use crate::kind::Registry;
use crate::refs::{self, Reference};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

/// A validated-on-demand description of a run: stages in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Human name of the plan (usually the workflow's name).
    pub name: String,
    /// Stages, executed in this order.
    pub stages: Vec<Stage>,
    /// Runs sharing the same workflow key beyond this many at once wait in
    /// arrival order; `-1` means unlimited.
    #[serde(default = "unlimited")]
    pub concurrency_limit: i64,
}

fn unlimited() -> i64 {
    -1
}

/// A named group of jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Unique within the plan.
    pub name: String,
    /// Run the jobs together (`true`) or one after another (`false`).
    #[serde(default)]
    pub parallel: bool,
    /// When set, the stage waits in `waiting_approval` before its jobs start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// The stage's jobs.
    pub jobs: Vec<Job>,
}

/// An approval gate in front of a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Who may decide; empty means anyone who can reach the engine.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// How many distinct approvals let the stage continue.
    #[serde(default = "one")]
    pub needed: u32,
    /// How long the gate waits before the run fails; `None` waits forever.
    #[serde(default, with = "opt_secs", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

fn one() -> u32 {
    1
}

/// One unit of work, executed by the job kind named in `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Unique within the whole plan (references use it).
    pub name: String,
    /// The registered job kind that runs it, e.g. `shell`.
    pub kind: String,
    /// Kind-specific settings, checked by the kind's `validate`.
    #[serde(default)]
    pub spec: serde_json::Value,
    /// Extra environment for the job; values may contain references.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Time limit for one attempt; `None` means none.
    #[serde(default, with = "opt_secs", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// How many more attempts a failed job gets (not applied to cancel or
    /// timeout).
    #[serde(default)]
    pub retries: u32,
    /// A failure of this job does not fail its stage or the run.
    #[serde(default)]
    pub allow_failure: bool,
    /// The job is disabled: it is recorded as `skipped` and never runs.
    #[serde(default)]
    pub skipped: bool,
}

impl Job {
    /// A job of `kind` with `spec` and every other field at its default.
    pub fn new(name: impl Into<String>, kind: impl Into<String>, spec: serde_json::Value) -> Self {
        Job {
            name: name.into(),
            kind: kind.into(),
            spec,
            env: BTreeMap::new(),
            timeout: None,
            retries: 0,
            allow_failure: false,
            skipped: false,
        }
    }
}

impl Stage {
    /// A stage with no approval gate.
    pub fn new(name: impl Into<String>, parallel: bool, jobs: Vec<Job>) -> Self {
        Stage {
            name: name.into(),
            parallel,
            approval: None,
            jobs,
        }
    }
}

impl Plan {
    /// A plan with unlimited concurrency.
    pub fn new(name: impl Into<String>, stages: Vec<Stage>) -> Self {
        Plan {
            name: name.into(),
            stages,
            concurrency_limit: -1,
        }
    }

    /// Every job with its stage index, in execution order.
    pub fn jobs(&self) -> impl Iterator<Item = (usize, &Job)> {
        self.stages
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.jobs.iter().map(move |j| (i, j)))
    }

    /// Checks the whole plan against `registry` and reports every problem
    /// at once, each with its place (`stages[1].jobs[0].spec.steps`).
    pub fn validate(&self, registry: &Registry) -> Result<(), PlanError> {
        let mut problems = Vec::new();
        let mut push = |path: String, message: String| problems.push(Problem { path, message });
        if self.name.trim().is_empty() {
            push("name".into(), "required".into());
        }
        if self.stages.is_empty() {
            push("stages".into(), "at least one stage is required".into());
        }
        if self.concurrency_limit == 0 || self.concurrency_limit < -1 {
            push(
                "concurrency_limit".into(),
                "must be -1 (unlimited) or at least 1".into(),
            );
        }
        let mut stage_names = HashSet::new();
        // job name -> stage index, filled stage by stage so that references
        // can only point backwards.
        let mut earlier: HashMap<&str, usize> = HashMap::new();
        let mut all_jobs: HashMap<&str, usize> = HashMap::new();
        for (si, stage) in self.stages.iter().enumerate() {
            for job in &stage.jobs {
                all_jobs.entry(job.name.as_str()).or_insert(si);
            }
        }
        for (si, stage) in self.stages.iter().enumerate() {
            let sp = format!("stages[{si}]");
            if stage.name.trim().is_empty() {
                push(format!("{sp}.name"), "required".into());
            } else if !stage_names.insert(stage.name.as_str()) {
                push(
                    format!("{sp}.name"),
                    format!("duplicate stage name `{}`", stage.name),
                );
            }
            if stage.jobs.is_empty() {
                push(
                    format!("{sp}.jobs"),
                    "a stage needs at least one job".into(),
                );
            }
            if let Some(a) = &stage.approval {
                if a.needed == 0 {
                    push(format!("{sp}.approval.needed"), "must be at least 1".into());
                } else if !a.approvers.is_empty() && (a.needed as usize) > a.approvers.len() {
                    push(
                        format!("{sp}.approval.needed"),
                        format!(
                            "needs {} approvals but only {} approvers are listed",
                            a.needed,
                            a.approvers.len()
                        ),
                    );
                }
            }
            let mut seen_here = Vec::new();
            for (ji, job) in stage.jobs.iter().enumerate() {
                let jp = format!("{sp}.jobs[{ji}]");
                if job.name.trim().is_empty() {
                    push(format!("{jp}.name"), "required".into());
                } else if seen_here.contains(&job.name.as_str())
                    || earlier.contains_key(job.name.as_str())
                {
                    push(
                        format!("{jp}.name"),
                        format!("duplicate job name `{}`", job.name),
                    );
                }
                match registry.get(&job.kind) {
                    None => push(
                        format!("{jp}.kind"),
                        format!(
                            "unknown job kind `{}` (known: {})",
                            job.kind,
                            registry.names().join(", ")
                        ),
                    ),
                    Some(kind) => {
                        if let Err(errs) = kind.validate(&job.spec) {
                            for e in errs {
                                let path = if e.path.is_empty() {
                                    format!("{jp}.spec")
                                } else {
                                    format!("{jp}.spec.{}", e.path)
                                };
                                push(path, e.message);
                            }
                        }
                    }
                }
                if job.timeout == Some(Duration::ZERO) {
                    push(format!("{jp}.timeout"), "must be positive".into());
                }
                // References may only name jobs of earlier stages.
                let mut texts: Vec<(String, &str)> = Vec::new();
                collect_strings(&job.spec, format!("{jp}.spec"), &mut texts);
                for (k, v) in &job.env {
                    texts.push((format!("{jp}.env.{k}"), v.as_str()));
                }
                for (path, text) in texts {
                    match refs::parse_all(text) {
                        Err(e) => push(path, e.to_string()),
                        Ok(found) => {
                            for r in found {
                                if let Reference::Output { job: target, .. } = &r
                                    && !earlier.contains_key(target.as_str())
                                {
                                    let why = match all_jobs.get(target.as_str()) {
                                        Some(_) => format!(
                                            "`{r}` refers to job `{target}`, which does not run in an earlier stage"
                                        ),
                                        None => {
                                            format!("`{r}` refers to unknown job `{target}`")
                                        }
                                    };
                                    push(path.clone(), why);
                                }
                            }
                        }
                    }
                }
                seen_here.push(job.name.as_str());
            }
            for name in seen_here {
                earlier.insert(name, si);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PlanError { problems })
        }
    }
}

fn collect_strings<'a>(v: &'a serde_json::Value, path: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        serde_json::Value::String(s) => out.push((path, s)),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect_strings(x, format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                collect_strings(x, format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// One thing wrong with a plan, a spec or a definition, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Where, e.g. `stages[1].jobs[0].spec.steps`; relative to the spec
    /// when a job kind reports it.
    pub path: String,
    /// What is wrong, e.g. `required`.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid plan: {}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
pub struct PlanError {
    /// All problems, in plan order.
    pub problems: Vec<Problem>,
}

/// Durations as whole or fractional seconds in JSON (`"timeout": 30`).
mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let v: Option<f64> = Option::deserialize(d)?;
        match v {
            None => Ok(None),
            Some(x) => Duration::try_from_secs_f64(x).map(Some).map_err(|_| {
                serde::de::Error::custom(format!(
                    "a duration in seconds must be a non-negative number that fits, got {x}"
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_that_do_not_fit_are_refused_not_a_panic() {
        for bad in ["1e300", "-1", "1e20"] {
            let text = format!(r#"{{"name":"j","kind":"k","spec":{{}},"timeout":{bad}}}"#);
            assert!(serde_json::from_str::<Job>(&text).is_err(), "{bad}");
        }
        let ok: Result<Job, _> =
            serde_json::from_str(r#"{"name":"j","kind":"k","spec":{},"timeout":1.5}"#);
        assert_eq!(
            ok.map(|j| j.timeout).ok().flatten(),
            Some(Duration::from_millis(1500))
        );
    }
}
