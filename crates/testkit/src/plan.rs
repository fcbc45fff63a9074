//! The plans most tests run: one stage of one job, as a plan or as the
//! YAML of a workflow.

use slipway_core::{Job, Plan, Stage};

/// A plan `name` of one sequential stage `stage` holding only `job`.
pub fn one_job(name: &str, stage: &str, job: Job) -> Plan {
    sequential(name, vec![(stage, job)])
}

/// A plan `name` of stages run one after another, each (name, job) a
/// sequential stage holding only that job.
pub fn sequential(name: &str, stages: Vec<(&str, Job)>) -> Plan {
    let stages = stages
        .into_iter()
        .map(|(stage, job)| Stage::new(stage, false, vec![job]))
        .collect();
    Plan::new(name, stages)
}

/// A `shell` job `name` with the one step `script`.
pub fn shell(name: &str, script: &str) -> Job {
    Job::new(
        name,
        "shell",
        serde_json::json!({"steps": [{"script": script}]}),
    )
}

/// The YAML of workflow `name`: one stage `only` whose one shell job
/// `work` runs `script` (a block of one or more lines).
pub fn shell_workflow(name: &str, script: &str) -> String {
    let mut yaml = format!(
        "name: {name}
stages:
  - name: only
    jobs:
      - name: work
        kind: shell
        spec:
          steps:
            - script: |
"
    );
    for line in script.lines() {
        yaml.push_str(&format!("                {line}\n"));
    }
    yaml
}
