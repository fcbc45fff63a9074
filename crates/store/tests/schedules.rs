//! Cron schedules through the use cases, on the SQL catalog (SQLite, and
//! PostgreSQL when available), with the time injected: a schedule fires at
//! its minute and not before, once per fire time even with two servers
//! racing, at most once after downtime, never while paused; a schedule on
//! an application runs its template at the head of its branch.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use slipway_core::{Registry, RunId, Status};
use slipway_domain::catalog::ScheduleTarget;
use slipway_domain::{App, ApplicationInput, Caller, RepositoryInput, ScheduleInput, SecretKey};
use slipway_git::{GitConfig, GixSource};
use slipway_store::testing::{TestDb, project_with_workflow, sql_app};
use slipway_store::{Db, DbOptions};
use slipway_testkit::git::{commit, init};
use slipway_testkit::plan::shell_workflow;
use std::path::Path;
use std::sync::Arc;

/// The workflow the schedules run.
fn workflow() -> String {
    shell_workflow("nightly", "echo \"tick\"")
}

fn app_on(t: &TestDb, dir: &Path) -> App {
    let db = Db::open(&t.url, &DbOptions::default()).unwrap();
    let mut git_config = GitConfig::new(dir.join("git"));
    git_config.allow_local = true;
    let source = Arc::new(GixSource::new(git_config).unwrap());
    let mut registry = Registry::new();
    slipway_exec::register_builtin_with(
        &mut registry,
        slipway_exec::ShellConfig {
            git: Some(source.clone()),
            ..slipway_exec::ShellConfig::default()
        },
    )
    .unwrap();
    sql_app(&db, registry, &dir.join("workspaces"))
        .with_secret_key(SecretKey::generate().unwrap())
        .with_git(source)
}

/// The first multiple of `step` seconds strictly after `t` (computed by
/// hand, independently of the cron library).
fn next_multiple(t: DateTime<Utc>, step: i64) -> DateTime<Utc> {
    Utc.timestamp_opt((t.timestamp() / step + 1) * step, 0)
        .unwrap()
}

async fn fired(app: &App, at: DateTime<Utc>) -> Vec<RunId> {
    app.fire_due_schedules(at).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_fire_at_their_minute_once_and_catch_up_once() {
    TestDb::each(cron_on).await;
}

async fn cron_on(t: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_on(t, dir.path());
    let (project, wf) = project_with_workflow(&app, "ops", &workflow()).await;
    let s = app
        .create_schedule(
            &Caller::operator(),
            ScheduleTarget::Workflow,
            &wf.id,
            ScheduleInput {
                expression: Some("*/5 * * * *".into()),
                ..ScheduleInput::default()
            },
        )
        .await
        .unwrap();
    let next = next_multiple(s.created_at, 300);

    // Not a second early; at its minute exactly one run; not again.
    assert!(fired(&app, next - Duration::seconds(1)).await.is_empty());
    let first = fired(&app, next).await;
    assert_eq!(first.len(), 1, "{}", t.backend());
    let run = app.engine().wait(&first[0]).await.unwrap();
    assert_eq!(run.status, Status::Passed);
    assert_eq!(run.trigger.kind, "cron");
    assert_eq!(run.trigger.detail["schedule"], s.id);
    assert_eq!(run.trigger.detail["fire_time"], next.to_rfc3339());
    assert_eq!(run.workflow_key.as_deref(), Some(wf.id.as_str()));
    assert!(fired(&app, next + Duration::seconds(30)).await.is_empty());
    let stored = app.schedule(&Caller::operator(), &s.id).await.unwrap();
    assert_eq!(stored.last_fired_at, Some(next));

    // Down for 27 minutes: one catch-up run, for the latest missed time.
    let later = next + Duration::minutes(27);
    let caught = fired(&app, later).await;
    assert_eq!(caught.len(), 1);
    let run = app.engine().wait(&caught[0]).await.unwrap();
    assert_eq!(
        run.trigger.detail["fire_time"],
        (next + Duration::minutes(25)).to_rfc3339()
    );
    assert!(fired(&app, later).await.is_empty());

    // Two servers on one database: each fire time starts one run.
    let other = app_on(t, dir.path());
    let at = next + Duration::minutes(30);
    let (a, b) = tokio::join!(fired(&app, at), fired(&other, at));
    assert_eq!(a.len() + b.len(), 1, "{} {a:?} {b:?}", t.backend());
    for id in a.iter().chain(&b) {
        app.engine().wait(id).await.ok();
        other.engine().wait(id).await.ok();
    }

    // Paused: nothing.
    app.update_schedule(
        &Caller::operator(),
        &s.id,
        ScheduleInput {
            enabled: Some(false),
            ..ScheduleInput::default()
        },
    )
    .await
    .unwrap();
    assert!(fired(&app, at + Duration::minutes(5)).await.is_empty());

    // A 6-field schedule with a time zone on an application: 09:30:00 in
    // Tokyo is 00:30:00 UTC; it runs the template at the branch's head.
    let repo = dir.path().join("repo");
    init(&repo);
    let head = commit(
        &repo,
        &[(".slipway/workflow.yaml", &workflow())],
        "template",
    );
    let application = app
        .create_application(
            &Caller::operator(),
            &project.id,
            ApplicationInput {
                name: Some("site".into()),
                repository: Some(RepositoryInput {
                    provider: Some("generic".into()),
                    owner: Some("ops".into()),
                    name: Some("site".into()),
                    url: Some(format!("file://{}", repo.display())),
                    provider_repo_id: None,
                }),
                ..ApplicationInput::default()
            },
        )
        .await
        .unwrap();
    let tokyo = app
        .create_schedule(
            &Caller::operator(),
            ScheduleTarget::Application,
            &application.id,
            ScheduleInput {
                expression: Some("0 30 9 * * *".into()),
                timezone: Some(Some("Asia/Tokyo".into())),
                ..ScheduleInput::default()
            },
        )
        .await
        .unwrap();
    // The first 00:30:00 UTC after the schedule was made.
    let mut when =
        Utc.from_utc_datetime(&tokyo.created_at.date_naive().and_hms_opt(0, 30, 0).unwrap());
    if when <= tokyo.created_at {
        when += Duration::days(1);
    }
    assert!(fired(&app, when - Duration::seconds(1)).await.is_empty());
    let started = fired(&app, when).await;
    assert_eq!(started.len(), 1, "{}", t.backend());
    let run = app.engine().wait(&started[0]).await.unwrap();
    assert_eq!(run.status, Status::Passed, "{:?}", run.error);
    assert_eq!(run.trigger.detail["commit"], head);
    assert_eq!(run.trigger.detail["ref"], "refs/heads/main");
    assert_eq!(run.workflow_key.as_deref(), Some(application.id.as_str()));
    let shown = app
        .application(&Caller::operator(), &application.id)
        .await
        .unwrap();
    assert_eq!(shown.last_run.unwrap().run_id, run.id.to_string());
}
