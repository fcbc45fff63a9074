//! The domain's use cases on the real store: what they cache in memory
//! (pages of runs, authenticated tokens) is never stale within a server.
#![allow(clippy::unwrap_used)]

use slipway_core::{Registry, Status, Trigger};
use slipway_domain::definition::Format;
use slipway_domain::{App, Order, PageRequest, Project, RunFilter, Workflow};
use slipway_store::testing::{TestDb, project_with_workflow, sql_app};
use slipway_store::{Db, DbOptions};
use std::collections::BTreeMap;
use std::path::Path;

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

/// The use cases on `t` with the built-in kinds and workspaces under `dir`,
/// a project `name` holding the workflow [`WORKFLOW`], and the filter of
/// that workflow's runs.
async fn hello_workflow(t: &TestDb, dir: &Path, name: &str) -> (App, Project, Workflow, RunFilter) {
    let db = Db::open(&t.url, &DbOptions::default()).unwrap();
    let mut registry = Registry::new();
    slipway_exec::register_builtin(&mut registry).unwrap();
    let app = sql_app(&db, registry, dir);
    let (project, wf) = project_with_workflow(&app, name, WORKFLOW).await;
    let filter = RunFilter {
        workflow_id: Some(wf.id.clone()),
        statuses: vec![],
    };
    (app, project, wf, filter)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_lists_and_tokens_follow_every_change_at_once() {
    TestDb::each(caches_follow_changes).await;
}

async fn caches_follow_changes(t: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (app, project, wf, filter) = hello_workflow(t, dir.path(), "shop").await;
    let engine = app.engine().clone();
    assert_eq!(app.runs(&filter, &page()).await.unwrap().total, 0);

    // Listed again right after each change: never the cached page.
    let first = app
        .start_run(&wf.id, None, &BTreeMap::new(), Trigger::new("api"))
        .await
        .unwrap();
    let listed = app.runs(&filter, &page()).await.unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.items[0].id, first.id);
    let done = engine.wait(&first.id).await.unwrap();
    assert_eq!(done.status, Status::Passed);
    // `wait` answers from the driver's memory: the same record, to the
    // microsecond, as the database holds.
    let stored = engine.store().get_run(&first.id).await.unwrap().unwrap();
    assert_eq!(done, stored, "{}", t.backend());
    let listed = app.runs(&filter, &page()).await.unwrap();
    assert_eq!(listed.items[0].status, Status::Passed);
    let second = app
        .start_run(&wf.id, None, &BTreeMap::new(), Trigger::new("api"))
        .await
        .unwrap();
    let listed = app.runs(&filter, &page()).await.unwrap();
    assert_eq!(listed.total, 2);
    assert_eq!(listed.items[0].id, second.id);
    engine.wait(&second.id).await.unwrap();

    // A single run read while it runs, then right after it ends (well
    // within `CACHE_TTL`): the second read is never the first one's
    // cached record.
    let (slow, _) = app
        .create_workflow(&project.id, SLOW, Format::Yaml, None)
        .await
        .unwrap();
    let third = app
        .start_run(&slow.id, None, &BTreeMap::new(), Trigger::new("api"))
        .await
        .unwrap();
    let running = app.run_shared(third.id.as_str()).await.unwrap();
    assert!(!running.status.is_terminal(), "{}", running.status);
    let ended = engine.wait(&third.id).await.unwrap();
    let read = app.run_shared(third.id.as_str()).await.unwrap();
    assert_eq!(read.status, Status::Passed);
    assert_eq!(*read, ended, "{}", t.backend());

    // A token works until it is revoked, and not a moment after.
    let made = app.issue_token("ci", false).await.unwrap();
    for _ in 0..3 {
        let caller = app.authenticate(&made.secret).await.unwrap().unwrap();
        assert_eq!(caller.name, "ci");
    }
    let admin = slipway_domain::Caller {
        name: "root".into(),
        token_id: "root".into(),
        is_admin: true,
    };
    app.revoke_token(&admin, &made.token.id).await.unwrap();
    assert!(app.authenticate(&made.secret).await.unwrap().is_none());
    assert!(app.authenticate("slw_wrong").await.unwrap().is_none());
}

/// Polls `fut` exactly once and drops it; says whether it was ready.
async fn poll_once<F: std::future::Future>(fut: F) -> bool {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx).is_ready())).await
}

/// Polls `app` until the workflow has `n` runs (a use case finishing in
/// the background), for at most ten seconds.
async fn until_runs(app: &App, filter: &RunFilter, n: u64) -> Vec<slipway_core::RunSummary> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let listed = app.runs(filter, &page()).await.unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let (app, _, wf, filter) = hello_workflow(t, dir.path(), "drops").await;
    let engine = app.engine().clone();
    let first = app
        .start_run(&wf.id, None, &BTreeMap::new(), Trigger::new("api"))
        .await
        .unwrap();
    engine.wait(&first.id).await.unwrap();

    // Polled once, then dropped, as actix drops a handler's future when
    // its client hangs up.
    let ready = poll_once(app.redeploy(first.id.as_str(), None)).await;
    assert!(!ready, "the redeploy finished within its first poll");
    let runs = until_runs(&app, &filter, 2).await;
    assert_eq!(
        runs.len(),
        2,
        "{}: the repeated run was never recorded",
        t.backend()
    );
    let repeat = engine.wait(&runs[0].id).await.unwrap();
    assert_eq!(repeat.status, Status::Passed, "{}", t.backend());
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
    let ready = poll_once(engine.submit(request)).await;
    assert!(!ready, "the submit finished within its first poll");
    let runs = until_runs(&app, &filter, 3).await;
    assert_eq!(
        runs.len(),
        3,
        "{}: the submitted run was never recorded",
        t.backend()
    );
    let third = engine.wait(&runs[0].id).await.unwrap();
    assert_eq!(third.status, Status::Passed, "{}", t.backend());
}
