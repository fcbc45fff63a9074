//! Use cases of `App` over the in-memory catalog and core's in-memory run
//! store and log sink (no SQL): permissions, the trigger of an API call,
//! following a log live, a schedule's next fire time, server counts, and
//! the catalog rules the memory store keeps.
#![allow(clippy::unwrap_used)]

use chrono::{Timelike, Utc};
use slipway_core::{Engine, Registry, Status};
use slipway_domain::definition::Format;
use slipway_domain::{
    App, Caller, DomainError, Followed, LogFollow, LogStart, MemoryCatalog, Order, PageRequest,
    ProjectInput, ScheduleInput, ScheduleTarget,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

struct Fixture {
    app: App,
    engine: Engine,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::new();
    slipway_exec::register_builtin(&mut registry).unwrap();
    let engine = Engine::builder(registry.clone())
        .workspace_root(dir.path())
        .build();
    let catalog = Arc::new(MemoryCatalog::with_runs(engine.store().clone()));
    let app = App::new(catalog, engine.clone(), registry);
    Fixture {
        app,
        engine,
        _dir: dir,
    }
}

fn caller(name: &str, is_admin: bool) -> Caller {
    Caller {
        name: name.into(),
        token_id: format!("id-{name}"),
        user_id: format!("id-{name}"),
        is_admin,
    }
}

fn page(sort: &str, order: Order) -> PageRequest {
    PageRequest {
        page: 1,
        per_page: 10,
        sort: sort.into(),
        order,
    }
}

async fn project(app: &App, name: &str) -> String {
    app.create_project(ProjectInput {
        name: Some(name.into()),
        description: None,
    })
    .await
    .unwrap()
    .id
}

async fn workflow(app: &App, project: &str, text: &str) -> String {
    app.create_workflow(project, text, Format::Yaml, None)
        .await
        .unwrap()
        .0
        .id
}

/// Creates project `shop` and in it the workflow of YAML `text`; returns
/// the workflow's id.
async fn shop_workflow(app: &App, text: &str) -> String {
    let p = project(app, "shop").await;
    workflow(app, &p, text).await
}

/// Everything a follow yields until its end (bounded, so a follow that
/// never ends fails the test instead of hanging it).
async fn drain(mut follow: LogFollow) -> (Vec<(u64, String)>, Option<Status>) {
    let mut lines = Vec::new();
    let mut end = None;
    let all = async {
        while let Some(item) = follow.next().await.unwrap() {
            match item {
                Followed::Line(l) => lines.push((l.seq, l.text)),
                Followed::End(s) => end = Some(s),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("the follow ended");
    (lines, end)
}

const THREE_LINES: &str = "name: three\nstages:\n  - name: s\n    jobs:\n      - name: work\n        kind: shell\n        spec: {steps: [{script: 'echo one; echo two; echo three'}]}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_caller_allowed_to_manage_tokens_may_create_list_and_revoke_them() {
    let f = fixture();
    let admin = caller("root", true);
    let plain = caller("dev", false);

    for refused in [
        f.app.create_token(&plain, "x", false).await.err(),
        f.app.tokens(&plain).await.err(),
        f.app.revoke_token(&plain, "whatever").await.err(),
    ] {
        assert!(
            matches!(refused, Some(DomainError::Forbidden(_))),
            "{refused:?}"
        );
    }
    assert!(f.app.tokens(&admin).await.unwrap().is_empty());

    let made = f.app.create_token(&admin, "ci", false).await.unwrap();
    assert_eq!(made.token.created_by.as_deref(), Some("root"));
    let who = f.app.authenticate(&made.secret).await.unwrap().unwrap();
    assert_eq!(who.name, "ci");
    assert!(!who.is_admin);
    assert_eq!(f.app.tokens(&admin).await.unwrap().len(), 1);

    f.app.revoke_token(&admin, &made.token.id).await.unwrap();
    assert!(f.app.authenticate(&made.secret).await.unwrap().is_none());
    assert!(matches!(
        f.app.revoke_token(&admin, "nope").await,
        Err(DomainError::NotFound { kind: "token", .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_through_an_api_records_the_caller_and_its_log_can_be_followed() {
    let f = fixture();
    let wf = shop_workflow(&f.app, THREE_LINES).await;

    let run = f
        .app
        .run_workflow(&caller("alice", false), &wf, None, &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(run.trigger.kind, "api");
    assert_eq!(run.trigger.by.as_deref(), Some("alice"));
    assert_eq!(
        run.trigger
            .detail
            .get("workflow_version")
            .map(String::as_str),
        Some("1")
    );

    // Followed from the start (the run may or may not be over by now):
    // every line once, in order, then the end.
    let follow = f
        .app
        .follow_log(run.id.as_str(), "work", LogStart::Beginning)
        .await
        .unwrap();
    let (lines, end) = drain(follow).await;
    let texts: Vec<&str> = lines
        .iter()
        .filter(|(_, t)| ["one", "two", "three"].contains(&t.as_str()))
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    let seqs: Vec<u64> = lines.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(end, Some(Status::Passed));

    // Resumed after a seq: only what came after, then the end at once.
    let last = seqs.len() as u64;
    let follow = f
        .app
        .follow_log(run.id.as_str(), "work", LogStart::After(last - 1))
        .await
        .unwrap();
    let (rest, end) = drain(follow).await;
    assert_eq!(rest, vec![lines[lines.len() - 1].clone()]);
    assert_eq!(end, Some(Status::Passed));

    // The tail: the last line only.
    let (tail, _) = drain(
        f.app
            .follow_log(run.id.as_str(), "work", LogStart::Tail(1))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].0, last);

    // The whole log, read a page at a time.
    let log = f.app.job_log(run.id.as_str(), "work").await.unwrap();
    assert_eq!(log.read_after(0, 2).await.unwrap().len(), 2);
    assert_eq!(log.read_after(0, 0).await.unwrap().len(), lines.len());
    assert!(matches!(
        f.app.job_log(run.id.as_str(), "nope").await,
        Err(DomainError::NotFound { kind: "job", .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_does_not_end_while_a_retry_of_the_job_is_coming() {
    let f = fixture();
    let p = project(&f.app, "shop").await;
    // Fails on the first attempt, passes on the second: a follow started
    // now must go on through the retry and end with `passed`.
    let mark = f._dir.path().join("tried");
    let flaky = format!(
        "name: flaky\nstages:\n  - name: s\n    jobs:\n      - name: work\n        kind: shell\n        retries: 1\n        spec: {{steps: [{{script: 'sleep 0.3; if [ -e {m} ]; then echo second; else touch {m}; echo first; exit 3; fi'}}]}}\n",
        m = mark.display()
    );
    let wf = workflow(&f.app, &p, &flaky).await;
    let run = f
        .app
        .run_workflow(&caller("alice", false), &wf, None, &BTreeMap::new())
        .await
        .unwrap();
    let follow = f
        .app
        .follow_log(run.id.as_str(), "work", LogStart::Beginning)
        .await
        .unwrap();
    let (lines, end) = drain(follow).await;
    let texts: Vec<&str> = lines.iter().map(|(_, t)| t.as_str()).collect();
    assert!(texts.contains(&"first"), "{texts:?}");
    assert!(texts.contains(&"second"), "{texts:?}");
    assert_eq!(end, Some(Status::Passed));
    let done = f.engine.wait(&run.id).await.unwrap();
    assert_eq!(done.job_named("work").unwrap().attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_carry_their_next_fire_time_and_stats_count_runs() {
    let f = fixture();
    let wf = shop_workflow(&f.app, THREE_LINES).await;
    let made = f
        .app
        .create_schedule(
            ScheduleTarget::Workflow,
            &wf,
            ScheduleInput {
                expression: Some("*/5 * * * *".into()),
                ..ScheduleInput::default()
            },
        )
        .await
        .unwrap();
    let next = made.next_fire_at.unwrap();
    assert!(next > Utc::now());
    assert_eq!(next.minute() % 5, 0);
    assert_eq!(next.second(), 0);
    assert!(made.description.is_some());
    // Paused schedules still show when they would fire.
    let paused = f
        .app
        .update_schedule(
            &made.id,
            ScheduleInput {
                enabled: Some(false),
                ..ScheduleInput::default()
            },
        )
        .await
        .unwrap();
    assert!(!paused.enabled);
    assert_eq!(paused.next_fire_at, Some(next));
    let listed = f
        .app
        .schedules(ScheduleTarget::Workflow, &wf)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].next_fire_at, Some(next));

    let run = f
        .app
        .run_workflow(&caller("a", false), &wf, None, &BTreeMap::new())
        .await
        .unwrap();
    f.engine.wait(&run.id).await.unwrap();
    let stats = f.app.stats().await.unwrap();
    let count = |s: Status| {
        stats
            .runs_by_status
            .iter()
            .find(|(x, _)| *x == s)
            .map(|(_, n)| *n)
    };
    assert_eq!(stats.runs_by_status.len(), Status::ALL.len());
    assert_eq!(count(Status::Passed), Some(1));
    assert_eq!(count(Status::Running), Some(0));
    assert_eq!(stats.jobs_running, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_catalog_keeps_names_unique_pages_and_deletes_whole() {
    let f = fixture();
    let a = project(&f.app, "alpha").await;
    let b = project(&f.app, "beta").await;
    let taken = f
        .app
        .create_project(ProjectInput {
            name: Some("alpha".into()),
            description: None,
        })
        .await;
    assert!(matches!(taken, Err(DomainError::Conflict(_))), "{taken:?}");

    let asc = f.app.projects(&page("name", Order::Asc)).await.unwrap();
    let names: Vec<&str> = asc.items.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(asc.total, 2);
    let second = f
        .app
        .projects(&PageRequest {
            page: 2,
            per_page: 1,
            ..page("name", Order::Desc)
        })
        .await
        .unwrap();
    assert_eq!(second.items[0].id, a);
    assert_eq!(second.total, 2);

    let wf = workflow(&f.app, &a, THREE_LINES).await;
    assert!(matches!(
        f.app
            .create_workflow(&a, THREE_LINES, Format::Yaml, None)
            .await,
        Err(DomainError::Conflict(_))
    ));
    // The same name in another project is fine.
    workflow(&f.app, &b, THREE_LINES).await;
    let (w2, v2) = f
        .app
        .update_workflow(&wf, THREE_LINES, Format::Yaml, None)
        .await
        .unwrap();
    assert_eq!((w2.latest_version, v2.version), (2, 2));
    let versions = f
        .app
        .workflow_versions(&wf, &page("", Order::Desc))
        .await
        .unwrap();
    let numbers: Vec<i32> = versions.items.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [2, 1]);

    f.app.delete_project(&a).await.unwrap();
    assert!(matches!(
        f.app.workflow(&wf).await,
        Err(DomainError::NotFound {
            kind: "workflow",
            ..
        })
    ));
    assert_eq!(
        f.app
            .projects(&page("name", Order::Asc))
            .await
            .unwrap()
            .total,
        1
    );
}

#[test]
fn a_job_is_over_for_good_unless_a_retry_of_it_is_coming() {
    use slipway_core::{Job, Plan, RunId, RunRecord, Stage, Trigger};
    use slipway_domain::app::job_over_for_good;
    let mut job = Job::new("work", "shell", serde_json::json!({}));
    job.retries = 1;
    let plan = Plan::new("p", vec![Stage::new("s", false, vec![job])]);
    let mut run = RunRecord::new(
        RunId("r".into()),
        plan,
        BTreeMap::new(),
        Trigger::new("api"),
        None,
        Utc::now(),
    );
    let set = |run: &mut RunRecord, status: Status, attempts: u32| {
        let j = &mut run.stages[0].jobs[0];
        j.status = status;
        j.attempts = attempts;
    };
    run.status = Status::Running;
    set(&mut run, Status::Running, 1);
    assert_eq!(job_over_for_good(&run, "work"), None);
    // Failed on its first of two attempts, run still going: a retry comes.
    set(&mut run, Status::Failed, 1);
    assert_eq!(job_over_for_good(&run, "work"), None);
    // Failed on its last attempt: over.
    set(&mut run, Status::Failed, 2);
    assert_eq!(job_over_for_good(&run, "work"), Some(Status::Failed));
    // Failed with attempts left, but the run is over (cancelled): over.
    set(&mut run, Status::Failed, 1);
    run.status = Status::Cancelled;
    assert_eq!(job_over_for_good(&run, "work"), Some(Status::Failed));
    set(&mut run, Status::Passed, 1);
    assert_eq!(job_over_for_good(&run, "work"), Some(Status::Passed));
    assert_eq!(job_over_for_good(&run, "nope"), None);
}
