//! Store benchmark, one line per backend:
//! `store: backend=<sqlite|postgres> dispatch_ratio=<..> log_mb_s=<..> list_p99_ms=<..>`
//!
//! - dispatch_ratio: 1000 single-job runs of `true` (two at a time) with the
//!   SQL store and log sink, as a ratio to the same on the in-memory ports,
//!   measured in this process;
//! - log_mb_s: one job printing 100 MB (1,000,000 lines of 99 bytes),
//!   stored through the SQL log sink;
//! - list_p99_ms: p99 latency of listing the newest 50 runs of a workflow
//!   that has 100,000 runs (seeded with SQL), over 500 calls.
//!
//! `cargo run --release -p slipway-store --example bench_store`
//! (PostgreSQL from `SLIPWAY_TEST_DATABASE_URL`, or the harness's cluster;
//! `--runs N`, `--log-mb N`, `--list-runs N` shrink it for a smoke run;
//! `--backend sqlite|postgres` runs one backend).

use slipway_core::{Engine, Plan, Registry, RunQuery, RunRequest, RunStore, Status};
use slipway_store::testing::{self, TestDb};
use slipway_store::{Backend, Db, DbOptions, SqlRunStore};
use slipway_testkit::plan::{one_job, shell};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const ROUNDS: usize = 10;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn registry() -> Result<Registry, BoxError> {
    let mut r = Registry::new();
    slipway_exec::register_builtin(&mut r)?;
    Ok(r)
}

fn shell_plan(script: &str) -> Plan {
    one_job("bench", "s", shell("t", script))
}

/// Runs/s of `n` runs of `true`, two at a time.
async fn dispatch(engine: &Engine, n: usize) -> Result<f64, BoxError> {
    let left = Arc::new(AtomicUsize::new(n));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (left, engine) = (left.clone(), engine.clone());
        tasks.push(tokio::spawn(async move {
            while left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |x| x.checked_sub(1))
                .is_ok()
            {
                let id = engine.submit(RunRequest::new(shell_plan("true"))).await?;
                let run = engine.wait(&id).await?;
                if run.status != Status::Passed {
                    return Err::<(), BoxError>(
                        format!("run ended {}: {:?}", run.status, run.error).into(),
                    );
                }
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn sql_engine(db: &Db, root: &std::path::Path) -> Result<Engine, BoxError> {
    Ok(testing::sql_engine(db, registry()?)
        .workspace_root(root)
        .build())
}

/// Seeds `n` finished runs of workflow `wf-bench`, each with one stage and
/// one job, in a few large statements.
fn seed(db: &Db, n: usize) -> Result<(), BoxError> {
    let plan = serde_json::to_string(&shell_plan("true"))?.replace('\'', "''");
    let numbers = match db.backend() {
        Backend::Postgres => format!("SELECT g AS n FROM generate_series(1, {n}) g"),
        Backend::Sqlite => format!(
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {n}) SELECT n FROM c"
        ),
    };
    let now = "'2026-01-01 00:00:00'";
    let ts = match db.backend() {
        Backend::Postgres => format!("TIMESTAMP {now}"),
        Backend::Sqlite => now.to_owned(),
    };
    let statements = [
        format!(
            "INSERT INTO runs (id, workflow_key, plan, params, trigger_info, status, created_at, started_at, finished_at) \
             SELECT 'seed-' || n, 'wf-bench', '{plan}', '{{}}', '{{\"kind\":\"api\"}}', 'passed', {ts}, {ts}, {ts} FROM ({numbers}) s"
        ),
        format!(
            "INSERT INTO stages (run_id, idx, name, status, started_at, finished_at) \
             SELECT 'seed-' || n, 0, 's', 'passed', {ts}, {ts} FROM ({numbers}) s"
        ),
        format!(
            "INSERT INTO jobs (run_id, stage_idx, idx, name, kind, status, started_at, finished_at, attempts, outputs) \
             SELECT 'seed-' || n, 0, 0, 't', 'shell', 'passed', {ts}, {ts}, 1, '{{}}' FROM ({numbers}) s"
        ),
    ];
    db.write_blocking(|c| {
        for s in &statements {
            slipway_store::db::execute(c, s)?;
        }
        Ok(())
    })?;
    // Statistics, as after any bulk load (autovacuum would get there too,
    // later): without them PostgreSQL plans `run_id = ANY(...)` as a scan.
    let mut c = db.conn()?;
    slipway_store::db::execute(&mut c, "ANALYZE")?;
    Ok(())
}

async fn bench(
    t: &TestDb,
    runs: usize,
    log_mb: usize,
    list_runs: usize,
) -> Result<String, BoxError> {
    let db = Db::open(&t.url, &DbOptions::default())?;
    let root = tempfile::tempdir()?;
    let memory = Engine::builder(registry()?)
        .workspace_root(root.path())
        .build();
    let sql = sql_engine(&db, root.path())?;
    dispatch(&memory, 20).await?;
    dispatch(&sql, 20).await?;
    // Alternating rounds, so that a change in the machine's load hits both.
    let per_round = runs.div_ceil(ROUNDS);
    let (mut mem_s, mut sql_s) = (0.0, 0.0);
    for _ in 0..ROUNDS {
        mem_s += per_round as f64 / dispatch(&memory, per_round).await?;
        sql_s += per_round as f64 / dispatch(&sql, per_round).await?;
    }
    let total = (per_round * ROUNDS) as f64;
    let (mem_rate, sql_rate) = (total / mem_s, total / sql_s);

    let lines = log_mb * 10_000;
    let script = format!(
        "yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -n {lines}"
    );
    let start = Instant::now();
    let id = sql.submit(RunRequest::new(shell_plan(&script))).await?;
    let run = sql.wait(&id).await?;
    let secs = start.elapsed().as_secs_f64();
    if run.status != Status::Passed {
        return Err(format!("log job ended {}", run.status).into());
    }
    let stored = sql
        .logs()
        .tail(&slipway_core::LogKey::new(id, "t"), 1)
        .await?;
    let last_seq = stored.last().map_or(0, |l| l.seq);
    if last_seq < lines as u64 {
        return Err(format!("only {last_seq} of {lines} lines stored").into());
    }
    let log_mb_s = (lines * 100) as f64 / 1e6 / secs;

    let db2 = db.clone();
    tokio::task::spawn_blocking(move || seed(&db2, list_runs)).await??;
    let store = SqlRunStore::new(db.clone());
    let q = RunQuery {
        workflow_key: Some("wf-bench".into()),
        limit: 50,
        ..Default::default()
    };
    for _ in 0..20 {
        store.list_runs(&q).await?;
    }
    let mut times = Vec::with_capacity(500);
    for _ in 0..500 {
        let s = Instant::now();
        let got = store.list_runs(&q).await?;
        times.push(s.elapsed().as_secs_f64() * 1000.0);
        if got.len() != 50 {
            return Err("list returned fewer than 50 runs".into());
        }
    }
    times.sort_by(f64::total_cmp);
    let p99 = times[(times.len() * 99).div_ceil(100) - 1];
    let p50 = times[times.len() / 2];
    let max = times[times.len() - 1];
    println!(
        "detail: backend={} memory_runs_s={mem_rate:.0} sql_runs_s={sql_rate:.0} log_secs={secs:.2} list_runs={list_runs} list_p50_ms={p50:.2} list_max_ms={max:.2}",
        t.backend()
    );
    Ok(format!(
        "store: backend={} dispatch_ratio={:.2} log_mb_s={:.1} list_p99_ms={:.2}",
        t.backend(),
        sql_rate / mem_rate,
        log_mb_s,
        p99
    ))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let (mut runs, mut log_mb, mut list_runs) = (1000usize, 100usize, 100_000usize);
    let mut only: Option<String> = None;
    while let Some(a) = args.next() {
        let mut num =
            || -> Result<usize, BoxError> { Ok(args.next().ok_or("missing number")?.parse()?) };
        match a.as_str() {
            "--runs" => runs = num()?,
            "--log-mb" => log_mb = num()?,
            "--list-runs" => list_runs = num()?.max(50),
            "--backend" => only = Some(args.next().ok_or("--backend needs sqlite or postgres")?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut out = Vec::new();
    let dbs = match only.as_deref() {
        None => TestDb::all(),
        Some("sqlite") => vec![TestDb::sqlite()],
        Some("postgres") => TestDb::postgres().into_iter().collect(),
        Some(other) => return Err(format!("unknown backend {other}").into()),
    };
    for t in dbs {
        out.push(bench(&t, runs, log_mb, list_runs).await?);
    }
    for line in out {
        println!("{line}");
    }
    Ok(())
}
