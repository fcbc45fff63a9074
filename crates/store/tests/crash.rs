//! Nothing is lost across a crash: a child process (this test binary, run
//! again as the ignored `crash_child_process`) runs a job that prints a
//! numbered line every 10 ms, with a second run queued behind it; the test
//! SIGKILLs the child mid-job, starts a new engine on the same database and
//! checks what recovery settled. On SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used)]

use slipway_core::{
    Engine, Event, INTERRUPTED, LogKey, LogSink, Plan, Registry, RunId, RunRequest, RunStore,
    Status,
};
use slipway_exec::GroupHandle;
use slipway_store::testing::{TestDb, sql_engine};
use slipway_store::{Db, DbOptions, SqlLogSink, SqlRunStore};
use slipway_testkit::plan::{one_job, shell};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_DB: &str = "SLIPWAY_CRASH_CHILD_DB";
const CHILD_WORKSPACES: &str = "SLIPWAY_CRASH_CHILD_WORKSPACES";
/// Lines the parent sees stored before it kills the child.
const LINES_BEFORE_KILL: usize = 40;

/// The counting job ignores SIGPIPE, so that it outlives the engine that
/// started it (whose end of its pipes dies with it) and recovery has a
/// real leftover process group to kill.
fn counting_plan() -> Plan {
    one_at_a_time(one_job(
        "crash",
        "count",
        shell(
            "count",
            "trap '' PIPE; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo \"line $i\" || true; sleep 0.01; done",
        ),
    ))
}

fn quick_plan() -> Plan {
    one_at_a_time(one_job(
        "crash",
        "quick",
        shell("quick", "echo after the crash"),
    ))
}

/// `plan` with a concurrency limit of one run at a time.
fn one_at_a_time(mut plan: Plan) -> Plan {
    plan.concurrency_limit = 1;
    plan
}

fn engine(db: &Db, workspaces: &std::path::Path) -> Engine {
    let mut registry = Registry::new();
    slipway_exec::register_builtin(&mut registry).unwrap();
    sql_engine(db, registry).workspace_root(workspaces).build()
}

/// The child: starts both runs, then reports on stdout every line of the
/// counting job once it is stored (the engine publishes a line only after
/// the log sink took it), until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by crash_mid_job_loses_nothing as a child process"]
async fn crash_child_process() {
    let url = std::env::var(CHILD_DB).expect("run by crash_mid_job_loses_nothing");
    let workspaces = std::env::var(CHILD_WORKSPACES).unwrap();
    let db = Db::open(&url, &DbOptions::default()).unwrap();
    let engine = engine(&db, workspaces.as_ref());
    let mut events = engine.subscribe();
    let mut first = RunRequest::new(counting_plan());
    first.workflow_key = Some("crash".into());
    let first = engine.submit(first).await.unwrap();
    let mut second = RunRequest::new(quick_plan());
    second.workflow_key = Some("crash".into());
    let second = engine.submit(second).await.unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "child-runs {first} {second}").unwrap();
    out.flush().unwrap();
    loop {
        match events.recv().await {
            Ok(Event::Log { run, line, .. }) if run == first => {
                writeln!(out, "stored {} {}", line.seq, line.text).unwrap();
                out.flush().unwrap();
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                panic!("the child's event stream lagged by {n}");
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_job_loses_nothing() {
    TestDb::each(crash_on).await;
}

async fn crash_on(t: &TestDb) {
    let backend = t.backend();
    let workspaces = tempfile::tempdir().unwrap();
    // Migrate first, so that the child and the parent agree on the schema.
    drop(Db::open(&t.url, &DbOptions::default()).unwrap());

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, &t.url)
        .env(CHILD_WORKSPACES, workspaces.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut first, mut second) = (None, None);
    let mut stored: Vec<(u64, String)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored.len() < LINES_BEFORE_KILL {
        assert!(
            Instant::now() < deadline,
            "{backend}: the child is too slow"
        );
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{backend}: the child ended early"))
            .unwrap();
        // libtest writes `test crash_child_process ... ` without a newline
        // before the test's own output.
        if let Some((_, ids)) = line.split_once("child-runs ") {
            let (a, b) = ids.split_once(' ').unwrap();
            first = Some(RunId(a.to_owned()));
            second = Some(RunId(b.to_owned()));
        } else if let Some(rest) = line.strip_prefix("stored ") {
            let (seq, text) = rest.split_once(' ').unwrap();
            stored.push((seq.parse().unwrap(), text.to_owned()));
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (first, second) = (first.unwrap(), second.unwrap());

    let db = Db::open(&t.url, &DbOptions::default()).unwrap();
    let store = SqlRunStore::new(db.clone());
    let logs = SqlLogSink::new(db.clone());

    // What the dead process left: the job running with its process group
    // recorded and still alive, the second run queued.
    let before = store.get_run(&first).await.unwrap().unwrap();
    assert_eq!(before.status, Status::Running, "{backend}");
    let handle: GroupHandle =
        serde_json::from_value(before.stages[0].jobs[0].handle.clone().unwrap()).unwrap();
    assert!(handle.is_alive(), "{backend}: the job outlived its engine");
    let queued = store.get_run(&second).await.unwrap().unwrap();
    assert_eq!(queued.status, Status::Queued, "{backend}");

    let engine = engine(&db, workspaces.path());
    let report = engine.recover().await.unwrap();
    assert_eq!(report.failed, vec![first.clone()], "{backend}");
    assert_eq!(report.requeued, vec![second.clone()], "{backend}");

    // The interrupted job: failed with the reason, its group killed.
    let gone_by = Instant::now() + Duration::from_secs(10);
    while handle.is_alive() {
        assert!(
            Instant::now() < gone_by,
            "{backend}: the job's process group survived recovery"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = engine.get(&first).await.unwrap();
    assert_eq!(after.status, Status::Failed, "{backend}");
    let job = &after.stages[0].jobs[0];
    assert_eq!(job.status, Status::Failed, "{backend}");
    assert_eq!(job.error.as_deref(), Some(INTERRUPTED), "{backend}");
    assert!(job.handle.is_none(), "{backend}: the handle was cleared");

    // Every line stored before the kill is there, numbered without a gap.
    let log = logs
        .read_all(&LogKey::new(first.clone(), "count"))
        .await
        .unwrap();
    let have: BTreeSet<(u64, String)> = log.iter().map(|l| (l.seq, l.text.clone())).collect();
    for line in &stored {
        assert!(have.contains(line), "{backend}: lost {line:?}");
    }
    let seqs: Vec<u64> = log.iter().map(|l| l.seq).collect();
    assert_eq!(
        seqs,
        (1..=log.len() as u64).collect::<Vec<_>>(),
        "{backend}"
    );
    let counted: Vec<&str> = log
        .iter()
        .filter(|l| l.text.starts_with("line "))
        .map(|l| l.text.as_str())
        .collect();
    let expected: Vec<String> = (1..=counted.len()).map(|i| format!("line {i}")).collect();
    assert_eq!(counted, expected, "{backend}: the output has no hole");
    assert!(counted.len() >= LINES_BEFORE_KILL - 1, "{backend}");

    // The run queued behind it went on and passed.
    let done = tokio::time::timeout(Duration::from_secs(30), engine.wait(&second))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, Status::Passed, "{backend}: {:?}", done.error);
    let quick = logs.read_all(&LogKey::new(second, "quick")).await.unwrap();
    assert!(
        quick.iter().any(|l| l.text == "after the crash"),
        "{backend}"
    );
}
