//! The plans most tests run: one stage of one job.

use slipway_core::{Job, Plan, Stage};

/// A plan `name` of one sequential stage `stage` holding only `job`.
pub fn one_job(name: &str, stage: &str, job: Job) -> Plan {
    Plan::new(name, vec![Stage::new(stage, false, vec![job])])
}

/// A `shell` job `name` with the one step `script`.
pub fn shell(name: &str, script: &str) -> Job {
    Job::new(
        name,
        "shell",
        serde_json::json!({"steps": [{"script": script}]}),
    )
}
