//! Dispatch benchmark: N single-job runs of `true` through the engine on
//! the in-memory ports, two at a time, against N bare spawns of
//! `/bin/sh -c true`, two at a time, in the same process. The two are
//! measured in ten alternating rounds.
//!
//! `cargo run --release -p slipway-exec --example bench_dispatch -- --runs 2000`
//!
//! Last line: `dispatch: engine=<runs/s> raw=<spawns/s> ratio=<engine/raw>`.

use slipway_core::{Engine, Registry, RunRequest, Status};
use slipway_testkit::plan::{one_job, shell};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const WORKERS: usize = 2;
const ROUNDS: usize = 10;

async fn raw(n: usize) -> Result<f64, Box<dyn std::error::Error + Send + Sync>> {
    let left = Arc::new(AtomicUsize::new(n));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let left = left.clone();
        tasks.push(tokio::spawn(async move {
            while left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |x| x.checked_sub(1))
                .is_ok()
            {
                let st = tokio::process::Command::new("/bin/sh")
                    .args(["-c", "true"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .await?;
                if !st.success() {
                    return Err("sh -c true failed".into());
                }
            }
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

async fn engine(
    engine: &Engine,
    n: usize,
) -> Result<f64, Box<dyn std::error::Error + Send + Sync>> {
    let plan = one_job("bench", "s", shell("t", "true"));
    let left = Arc::new(AtomicUsize::new(n));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let (left, engine, plan) = (left.clone(), engine.clone(), plan.clone());
        tasks.push(tokio::spawn(async move {
            while left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |x| x.checked_sub(1))
                .is_ok()
            {
                let id = engine.submit(RunRequest::new(plan.clone())).await?;
                let run = engine.wait(&id).await?;
                if run.status != Status::Passed {
                    return Err(format!("run {id} ended {}: {:?}", run.status, run.error).into());
                }
            }
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let mut runs = 2000usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut registry = Registry::new();
    slipway_exec::register_builtin(&mut registry)?;
    let root = tempfile::tempdir()?;
    let eng = Engine::builder(registry)
        .workspace_root(root.path())
        .build();
    // Warm both paths up, then measure them in alternating rounds so that
    // a change in the machine's load hits both alike.
    raw(50).await?;
    engine(&eng, 50).await?;
    let (mut raw_s, mut engine_s) = (0.0, 0.0);
    let per_round = runs.div_ceil(ROUNDS);
    for _ in 0..ROUNDS {
        raw_s += per_round as f64 / raw(per_round).await?;
        engine_s += per_round as f64 / engine(&eng, per_round).await?;
    }
    let total = (per_round * ROUNDS) as f64;
    let (raw_rate, engine_rate) = (total / raw_s, total / engine_s);
    println!("runs={runs} workers={WORKERS}");
    println!(
        "dispatch: engine={engine_rate:.0} raw={raw_rate:.0} ratio={:.2}",
        engine_rate / raw_rate
    );
    Ok(())
}
