//! Adding a job kind: implement `JobKind`, register it, use it in a plan.
//! The `countdown` kind below logs a countdown and sets an output.
//!
//! `cargo run -p slipway-exec --example custom_kind`

use serde_json::{Value, json};
use slipway_core::{
    Engine, Job, JobContext, JobKind, JobOutcome, LogKey, Plan, Problem, Registry, RunRequest,
    Stage, Status, Stream, async_trait,
};
use std::process::ExitCode;
use std::sync::Arc;

struct Countdown;

#[async_trait]
impl JobKind for Countdown {
    fn name(&self) -> &str {
        "countdown"
    }

    fn validate(&self, spec: &Value) -> Result<(), Vec<Problem>> {
        match spec.get("from").and_then(Value::as_u64) {
            Some(1..=10) => Ok(()),
            _ => Err(vec![Problem::new(
                "from",
                "required: a number from 1 to 10",
            )]),
        }
    }

    async fn run(&self, ctx: JobContext) -> JobOutcome {
        let from = ctx.spec["from"].as_u64().unwrap_or(1);
        for n in (1..=from).rev() {
            if ctx.cancel.is_cancelled() {
                return JobOutcome::Cancelled;
            }
            if let Err(e) = ctx.log.line(Stream::Stdout, &format!("{n}...")).await {
                return JobOutcome::failed(e.to_string());
            }
        }
        ctx.outputs.set("said", "liftoff");
        JobOutcome::Passed
    }
}

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut registry = Registry::new();
    registry.register(Arc::new(Countdown))?;
    let engine = Engine::builder(registry).build();
    let plan = Plan::new(
        "launch",
        vec![Stage::new(
            "go",
            false,
            vec![Job::new("count", "countdown", json!({"from": 3}))],
        )],
    );
    let id = engine.submit(RunRequest::new(plan)).await?;
    let run = engine.wait(&id).await?;
    for line in engine.logs().read_all(&LogKey::new(id, "count")).await? {
        println!("{}", line.text);
    }
    println!(
        "output said={:?}, run {}",
        run.stages[0].jobs[0].outputs.get("said"),
        run.status
    );
    Ok(if run.status == Status::Passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
