//! The domain's use cases on the real store: what they cache in memory
//! (pages of runs, authenticated tokens) is never stale within a server.
#![allow(clippy::unwrap_used)]

use slipway_core::{Registry, Status, Trigger};
use slipway_domain::definition::Format;
use slipway_domain::{App, Caller, Order, PageRequest, Project, RunFilter, Workflow};
use slipway_store::testing::{TestDb, project_with_workflow, sql_app};
use slipway_store::{Db, DbOptions};
use std::collections::BTreeMap;

const WORKFLOW: &str = "name: hello\nstages:\n  - name: greet\n    jobs:\n      - name: say\n        kind: shell\n        spec: {steps: [{script: echo hello}]}\n";

const SLOW: &str = "name: slow\nstages:\n  - name: wait\n    jobs:\n      - name: nap\n        kind: shell\n        spec: {steps: [{script: sleep 0.3}]}\n";

fn page() -> PageRequest {
    PageRequest {
        page: 1,
        per_page: 10,
        sort: String::new(),
        order: Order::Desc,
    }
}

/// The use cases on a test database with the built-in kinds, a project
/// holding the workflow [`WORKFLOW`], and the filter of that workflow's
/// runs.
struct Hello {
    app: App,
    project: Project,
    wf: Workflow,
    filter: RunFilter,
    _workspaces: tempfile::TempDir,
}

impl Hello {
    /// Sets it up on `t`, the project named `name`.
    async fn on(t: &TestDb, name: &str) -> Hello {
        let db = Db::open(&t.url, &DbOptions::default()).unwrap();
        let workspaces = tempfile::tempdir().unwrap();
        let mut registry = Registry::new();
        slipway_exec::register_builtin(&mut registry).unwrap();
        let app = sql_app(&db, registry, workspaces.path());
        let (project, wf) = project_with_workflow(&app, name, WORKFLOW).await;
        let filter = RunFilter {
            workflow_id: Some(wf.id.clone()),
            statuses: vec![],
        };
        Hello {
            app,
            project,
            wf,
            filter,
            _workspaces: workspaces,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_lists_and_tokens_follow_every_change_at_once() {
    TestDb::each(caches_follow_changes).await;
}

async fn caches_follow_changes(t: &TestDb) {
    let Hello {
        app,
        project,
        wf,
        filter,
        _workspaces,
    } = Hello::on(t, "shop").await;
    let engine = app.engine();
    assert_eq!(
        app.runs(&Caller::operator(), &filter, &page())
            .await
            .unwrap()
            .total,
        0
    );

    // Listed again right after each change: never the cached page.
    let first = start(&app, &wf.id).await;
    let listed = app
        .runs(&Caller::operator(), &filter, &page())
        .await
        .unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.items[0].id, first.id);
    let done = engine.wait(&first.id).await.unwrap();
    assert_eq!(done.status, Status::Passed);
    // `wait` answers from the driver's memory: the same record, to the
    // microsecond, as the database holds.
    let stored = engine.store().get_run(&first.id).await.unwrap().unwrap();
    assert_eq!(done, stored, "{}", t.backend());
    let listed = app
        .runs(&Caller::operator(), &filter, &page())
        .await
        .unwrap();
    assert_eq!(listed.items[0].status, Status::Passed);
    let second = start(&app, &wf.id).await;
    let listed = app
        .runs(&Caller::operator(), &filter, &page())
        .await
        .unwrap();
    assert_eq!(listed.total, 2);
    assert_eq!(listed.items[0].id, second.id);
    engine.wait(&second.id).await.unwrap();

    // A single run read while it runs, then right after it ends (well
    // within `CACHE_TTL`): the second read is never the first one's
    // cached record.
    let (slow, _) = app
        .create_workflow(&Caller::operator(), &project.id, SLOW, Format::Yaml)
        .await
        .unwrap();
    let third = start(&app, &slow.id).await;
    let running = app
        .run_shared(&Caller::operator(), third.id.as_str())
        .await
        .unwrap();
    assert!(!running.status.is_terminal(), "{}", running.status);
    let ended = engine.wait(&third.id).await.unwrap();
    let read = app
        .run_shared(&Caller::operator(), third.id.as_str())
        .await
        .unwrap();
    assert_eq!(read.status, Status::Passed);
    assert_eq!(*read, ended, "{}", t.backend());

    // A token works until it is revoked, and not a moment after.
    let made = app.issue_token("ci", false, None).await.unwrap();
    for _ in 0..3 {
        let caller = app.authenticate(&made.secret).await.unwrap().unwrap();
        assert_eq!(caller.name, "ci");
    }
    app.revoke_token(&Caller::operator(), &made.token.id)
        .await
        .unwrap();
    assert!(app.authenticate(&made.secret).await.unwrap().is_none());
    assert!(app.authenticate("slw_wrong").await.unwrap().is_none());
}

/// Starts a run of workflow `id` with no params, as an API call does.
async fn start(app: &App, id: &str) -> slipway_core::RunRecord {
    app.run_workflow(&Caller::operator(), id, None, &BTreeMap::new())
        .await
        .unwrap()
}

/// Polls `fut` exactly once and drops it; says whether it was ready.
async fn poll_once<F: std::future::Future>(fut: F) -> bool {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx).is_ready())).await
}

/// Polls a `call()` once and drops it, then checks that the run it starts
/// is still recorded, as the workflow's `n`th, and passes; returns that
/// run. A call that happens to finish within its first poll (a fast
/// machine) proves nothing about dropping: it is made again, at most five
/// times, and one of them must be dropped unfinished.
async fn dropped_yet_run<F: std::future::Future>(
    t: &TestDb,
    app: &App,
    filter: &RunFilter,
    call: impl Fn() -> F,
    mut n: u64,
    what: &str,
) -> slipway_core::RunRecord {
    let mut dropped = false;
    for _ in 0..5 {
        if !poll_once(call()).await {
            dropped = true;
            break;
        }
        until_runs(app, filter, n).await;
        n += 1;
    }
    assert!(dropped, "{what} finished within its first poll five times");
    let runs = until_runs(app, filter, n).await;
    assert_eq!(
        runs.len() as u64,
        n,
        "{}: the run of {what} was never recorded",
        t.backend()
    );
    let run = app.engine().wait(&runs[0].id).await.unwrap();
    assert_eq!(run.status, Status::Passed, "{}: {what}", t.backend());
    run
}

/// Polls `app` until the workflow has `n` runs (a use case finishing in
/// the background), for at most ten seconds.
async fn until_runs(app: &App, filter: &RunFilter, n: u64) -> Vec<slipway_core::RunSummary> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let listed = app
            .runs(&Caller::operator(), filter, &page())
            .await
            .unwrap();
        if listed.total >= n || tokio::time::Instant::now() > deadline {
            return listed.items.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_stops_waiting_never_leaves_a_run_half_started() {
    TestDb::each(dropped_callers).await;
}

/// An HTTP client that hangs up drops the handler's future at its first
/// `.await`. Submitting a run and repeating one must still record the
/// run and drive it to its end, never leave it recorded but not started.
async fn dropped_callers(t: &TestDb) {
    let hello = Hello::on(t, "drops").await;
    let (app, wf, filter) = (&hello.app, &hello.wf, &hello.filter);
    let first = start(app, &wf.id).await;
    app.engine().wait(&first.id).await.unwrap();

    // Polled once, then dropped, as actix drops a handler's future when
    // its client hangs up.
    let op = Caller::operator();
    let redeploy = || app.redeploy(&op, first.id.as_str());
    let repeat = dropped_yet_run(t, app, filter, redeploy, 2, "the redeploy").await;
    assert_eq!(
        repeat.trigger.detail.get("repeats").map(String::as_str),
        Some(first.id.as_str())
    );

    // The engine's own submit, dropped the same way.
    let request = slipway_core::RunRequest {
        plan: first.plan.clone(),
        params: BTreeMap::new(),
        trigger: Trigger::new("api"),
        workflow_key: Some(wf.id.clone()),
        secrets: BTreeMap::new(),
    };
    let runs_now = until_runs(app, filter, 0).await.len() as u64;
    dropped_yet_run(
        t,
        app,
        filter,
        || app.engine().submit(request.clone()),
        runs_now + 1,
        "the submit",
    )
    .await;
}
