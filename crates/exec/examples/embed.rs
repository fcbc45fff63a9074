//! Embedding the engine: build a plan in code, run it on the in-memory
//! ports with the built-in `shell` kind, print the log and the result.
//! Exits 0 only if the run passed.
//!
//! `cargo run -p slipway-exec --example embed`

use serde_json::json;
use slipway_core::{Engine, Job, LogKey, Plan, Registry, RunRequest, Stage, Status};
use std::process::ExitCode;

fn shell(name: &str, script: &str) -> Job {
    Job::new(name, "shell", json!({ "steps": [{ "script": script }] }))
}

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut registry = Registry::new();
    slipway_exec::register_builtin(&mut registry)?;
    let engine = Engine::builder(registry).build();

    let plan = Plan::new(
        "hello",
        vec![
            Stage::new(
                "build",
                true,
                vec![
                    shell(
                        "compile",
                        "echo compiling; echo version=1.0.$$ >> \"$SLIPWAY_OUTPUT\"",
                    ),
                    shell("lint", "echo linting"),
                ],
            ),
            Stage::new(
                "ship",
                false,
                vec![shell(
                    "publish",
                    "echo publishing ${{ jobs.compile.outputs.version }}",
                )],
            ),
        ],
    );
    let id = engine.submit(RunRequest::new(plan)).await?;
    let run = engine.wait(&id).await?;

    for job in run.stages.iter().flat_map(|s| &s.jobs) {
        println!("== {} ({})", job.name, job.status);
        for line in engine
            .logs()
            .read_all(&LogKey::new(id.clone(), &job.name))
            .await?
        {
            println!("{:>4} {:<6} {}", line.seq, line.stream.as_str(), line.text);
        }
    }
    println!("run {} {}", run.id, run.status);
    Ok(if run.status == Status::Passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
