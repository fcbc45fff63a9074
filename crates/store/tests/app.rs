//! The domain's use cases on the real store: what they cache in memory
//! (pages of runs, authenticated tokens) is never stale within a server.
#![allow(clippy::unwrap_used)]

use slipway_core::{Engine, Registry, Status, Trigger};
use slipway_domain::definition::Format;
use slipway_domain::{App, Order, PageRequest, ProjectInput, RunFilter};
use slipway_store::testing::TestDb;
use slipway_store::{Db, DbOptions, SqlCatalog, SqlLogSink, SqlRunStore};
use std::collections::BTreeMap;
use std::sync::Arc;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_lists_and_tokens_follow_every_change_at_once() {
    for t in TestDb::all() {
        caches_follow_changes(&t).await;
    }
}

async fn caches_follow_changes(t: &TestDb) {
    let db = Db::open(&t.url, &DbOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::new();
    slipway_exec::register_builtin(&mut registry).unwrap();
    let engine = Engine::builder(registry.clone())
        .store(Arc::new(SqlRunStore::new(db.clone())))
        .logs(Arc::new(SqlLogSink::new(db.clone())))
        .workspace_root(dir.path())
        .build();
    let app = App::new(Arc::new(SqlCatalog::new(db)), engine.clone(), registry);

    let project = app
        .create_project(ProjectInput {
            name: Some("shop".into()),
            description: None,
        })
        .await
        .unwrap();
    let (wf, _) = app
        .create_workflow(&project.id, WORKFLOW, Format::Yaml, None)
        .await
        .unwrap();
    let filter = RunFilter {
        workflow_id: Some(wf.id.clone()),
        statuses: vec![],
    };
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
