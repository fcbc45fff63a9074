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

/// The operator (the command line): what the fixtures are made as.
fn op() -> Caller {
    Caller::operator()
}

/// A service account `login` with a token, authenticated as an API
/// would: the caller its token stands for.
async fn caller(app: &App, login: &str, is_admin: bool) -> Caller {
    let made = app.issue_token(login, is_admin, None).await.unwrap();
    app.authenticate(&made.secret).await.unwrap().unwrap()
}

/// A user `login` made a member of `project` with `role`, as its token
/// would authenticate after that.
async fn member(app: &App, project: &str, login: &str, role: &str) -> Caller {
    let made = app.issue_token(login, false, None).await.unwrap();
    app.put_member(&op(), project, login, role).await.unwrap();
    app.authenticate(&made.secret).await.unwrap().unwrap()
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
    app.create_project(
        &op(),
        ProjectInput {
            name: Some(name.into()),
            description: None,
        },
    )
    .await
    .unwrap()
    .id
}

async fn workflow(app: &App, project: &str, text: &str) -> String {
    app.create_workflow(&op(), project, text, Format::Yaml)
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
    let admin = caller(&f.app, "root", true).await;
    let plain = caller(&f.app, "dev", false).await;

    for refused in [
        f.app.create_token(&plain, "x", false, None).await.err(),
        f.app.tokens(&plain).await.err(),
        f.app.revoke_token(&plain, "whatever").await.err(),
    ] {
        assert!(
            matches!(refused, Some(DomainError::Forbidden(_))),
            "{refused:?}"
        );
    }
    assert_eq!(f.app.tokens(&admin).await.unwrap().len(), 2);

    let made = f.app.create_token(&admin, "ci", false, None).await.unwrap();
    assert_eq!(made.token.created_by.as_deref(), Some("root"));
    let who = f.app.authenticate(&made.secret).await.unwrap().unwrap();
    assert_eq!(who.name, "ci");
    assert!(!who.is_admin);
    assert_eq!(f.app.tokens(&admin).await.unwrap().len(), 3);

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
    let p = project(&f.app, "shop").await;
    let wf = workflow(&f.app, &p, THREE_LINES).await;
    let alice = member(&f.app, &p, "alice", "developer").await;

    let run = f
        .app
        .run_workflow(&alice, &wf, None, &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(run.trigger.kind, "api");
    assert_eq!(run.trigger.by.as_deref(), Some("alice"));
    assert_eq!(run.trigger.by_id.as_deref(), Some(alice.user_id.as_str()));
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
        .follow_log(&alice, run.id.as_str(), "work", LogStart::Beginning)
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
        .follow_log(&alice, run.id.as_str(), "work", LogStart::After(last - 1))
        .await
        .unwrap();
    let (rest, end) = drain(follow).await;
    assert_eq!(rest, vec![lines[lines.len() - 1].clone()]);
    assert_eq!(end, Some(Status::Passed));

    // The tail: the last line only.
    let (tail, _) = drain(
        f.app
            .follow_log(&alice, run.id.as_str(), "work", LogStart::Tail(1))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].0, last);

    // The whole log, read a page at a time.
    let log = f
        .app
        .job_log(&alice, run.id.as_str(), "work")
        .await
        .unwrap();
    assert_eq!(log.read_after(0, 2).await.unwrap().len(), 2);
    assert_eq!(log.read_after(0, 0).await.unwrap().len(), lines.len());
    assert!(matches!(
        f.app.job_log(&alice, run.id.as_str(), "nope").await,
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
    let alice = member(&f.app, &p, "alice", "developer").await;
    let run = f
        .app
        .run_workflow(&alice, &wf, None, &BTreeMap::new())
        .await
        .unwrap();
    let follow = f
        .app
        .follow_log(&alice, run.id.as_str(), "work", LogStart::Beginning)
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
            &op(),
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
            &op(),
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
        .schedules(&op(), ScheduleTarget::Workflow, &wf)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].next_fire_at, Some(next));

    let run = f
        .app
        .run_workflow(&op(), &wf, None, &BTreeMap::new())
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
        .create_project(
            &op(),
            ProjectInput {
                name: Some("alpha".into()),
                description: None,
            },
        )
        .await;
    assert!(matches!(taken, Err(DomainError::Conflict(_))), "{taken:?}");

    let asc = f
        .app
        .projects(&op(), &page("name", Order::Asc))
        .await
        .unwrap();
    let names: Vec<&str> = asc.items.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(asc.total, 2);
    let second = f
        .app
        .projects(
            &op(),
            &PageRequest {
                page: 2,
                per_page: 1,
                ..page("name", Order::Desc)
            },
        )
        .await
        .unwrap();
    assert_eq!(second.items[0].id, a);
    assert_eq!(second.total, 2);

    let wf = workflow(&f.app, &a, THREE_LINES).await;
    assert!(matches!(
        f.app
            .create_workflow(&op(), &a, THREE_LINES, Format::Yaml)
            .await,
        Err(DomainError::Conflict(_))
    ));
    // The same name in another project is fine.
    workflow(&f.app, &b, THREE_LINES).await;
    let (w2, v2) = f
        .app
        .update_workflow(&op(), &wf, THREE_LINES, Format::Yaml)
        .await
        .unwrap();
    assert_eq!((w2.latest_version, v2.version), (2, 2));
    let versions = f
        .app
        .workflow_versions(&op(), &wf, &page("", Order::Desc))
        .await
        .unwrap();
    let numbers: Vec<i32> = versions.items.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [2, 1]);

    f.app.delete_project(&op(), &a).await.unwrap();
    assert!(matches!(
        f.app.workflow(&op(), &wf).await,
        Err(DomainError::NotFound {
            kind: "workflow",
            ..
        })
    ));
    assert_eq!(
        f.app
            .projects(&op(), &page("name", Order::Asc))
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

const GATED: &str = "name: gated\nstages:\n  - name: build\n    jobs:\n      - name: b\n        kind: shell\n        spec: {steps: [{script: 'true'}]}\n  - name: prod\n    approval: {approvers: ['role:maintainer', 'carol']}\n    jobs:\n      - name: d\n        kind: shell\n        spec: {steps: [{script: 'true'}]}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_what_each_member_may_do_and_views_get_the_same_answer() {
    use slipway_domain::{On, Permission, UserInput};
    let f = fixture();
    let p = project(&f.app, "shop").await;
    let q = project(&f.app, "other").await;
    let wf = workflow(&f.app, &p, GATED).await;
    let viewer = member(&f.app, &p, "vic", "viewer").await;
    let dev = member(&f.app, &p, "dan", "developer").await;
    let maint = member(&f.app, &p, "mia", "maintainer").await;
    let owner = member(&f.app, &p, "olga", "owner").await;
    let stranger = member(&f.app, &q, "sam", "owner").await;
    let forbidden = |r: &Result<_, DomainError>| matches!(r, Err(DomainError::Forbidden(_)));

    // Reading: members only.
    assert!(f.app.workflow(&viewer, &wf).await.is_ok());
    assert!(forbidden(&f.app.workflow(&stranger, &wf).await.map(|_| ())));
    let seen = f
        .app
        .projects(&viewer, &page("name", Order::Asc))
        .await
        .unwrap();
    assert_eq!(seen.items.len(), 1);
    assert_eq!(seen.items[0].id, p);

    // Running: developers and up.
    let none = BTreeMap::new();
    assert!(forbidden(
        &f.app
            .run_workflow(&viewer, &wf, None, &none)
            .await
            .map(|_| ())
    ));
    let run = f.app.run_workflow(&dev, &wf, None, &none).await.unwrap();
    // A viewer sees the run but not its logs.
    assert!(f.app.run(&viewer, run.id.as_str()).await.is_ok());
    assert!(forbidden(
        &f.app
            .job_log(&viewer, run.id.as_str(), "b")
            .await
            .map(|_| ())
    ));
    // The stranger's run list is empty, the viewer's holds the run.
    let filter = slipway_domain::RunFilter::default();
    let newest = page("created_at", Order::Desc);
    assert_eq!(
        f.app.runs(&stranger, &filter, &newest).await.unwrap().total,
        0
    );
    assert_eq!(
        f.app.runs(&viewer, &filter, &newest).await.unwrap().total,
        1
    );

    // The gate lists `role:maintainer` and `carol`: a developer is
    // refused, a maintainer decides, and the decision names them.
    for _ in 0..100 {
        let now = f.app.run(&dev, run.id.as_str()).await.unwrap();
        if now.status == Status::WaitingApproval {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = f
        .app
        .decide(&dev, run.id.as_str(), "prod", true, String::new())
        .await;
    assert!(forbidden(&refused.map(|_| ())));
    f.app
        .decide(&maint, run.id.as_str(), "prod", true, "ok".into())
        .await
        .unwrap();
    let decided = f.engine.wait(&run.id).await.unwrap();
    assert_eq!(decided.status, Status::Passed);
    let approval = &decided.stages[1].approvals[0];
    assert_eq!(approval.by, "mia");
    assert_eq!(approval.by_id.as_deref(), Some(maint.user_id.as_str()));

    // Changing: maintainers and up; deleting the project: owners.
    assert!(forbidden(
        &f.app
            .update_workflow(&dev, &wf, GATED, Format::Yaml)
            .await
            .map(|_| ())
    ));
    let (_, v2) = f
        .app
        .update_workflow(&maint, &wf, GATED, Format::Yaml)
        .await
        .unwrap();
    assert_eq!(v2.created_by_id.as_deref(), Some(maint.user_id.as_str()));
    assert!(forbidden(&f.app.delete_project(&maint, &p).await));

    // Members: owners manage them; the last owner stays.
    assert!(forbidden(
        &f.app
            .put_member(&maint, &p, "vic", "developer")
            .await
            .map(|_| ())
    ));
    let last = f.app.put_member(&owner, &p, "olga", "viewer").await;
    assert!(matches!(last, Err(DomainError::Conflict(_))), "{last:?}");
    let unknown = f.app.put_member(&owner, &p, "nobody", "viewer").await;
    assert!(
        matches!(&unknown, Err(DomainError::Invalid(ps)) if ps[0].path == "user"),
        "{unknown:?}"
    );
    let bad_role = f.app.put_member(&owner, &p, "vic", "admin").await;
    assert!(
        matches!(&bad_role, Err(DomainError::Invalid(ps)) if ps[0].path == "role"),
        "{bad_role:?}"
    );

    // Flags as views show them.
    let flags = owner.flags_on(&p, On::Project);
    assert!(flags.can_manage && flags.can_delete);
    let flags = dev.flags_on(&p, On::Workflow);
    assert!(flags.can_view && flags.can_execute && !flags.can_modify);
    assert!(!stranger.may(Permission::View, &p, On::Project));

    // A disabled user's token is refused from the next authentication on.
    let made = f
        .app
        .issue_token("dan-ci", false, Some("dan"))
        .await
        .unwrap();
    assert!(f.app.authenticate(&made.secret).await.unwrap().is_some());
    f.app
        .update_user(
            &op(),
            "dan",
            UserInput {
                disabled: Some(true),
                ..UserInput::default()
            },
        )
        .await
        .unwrap();
    assert!(f.app.authenticate(&made.secret).await.unwrap().is_none());
}

/// An application for a dialect without projects: checked before its
/// project is made (a refused one leaves no project behind), stored with
/// its first secrets, in the named project made by the first creator,
/// who owns it; a later creator needs the right to modify it.
#[tokio::test]
async fn an_application_in_a_named_project_is_checked_first_and_keeps_its_secrets() {
    let f = fixture();
    let app = f
        .app
        .clone()
        .with_secret_key(slipway_domain::SecretKey::generate().unwrap());
    let ada_token = app.issue_token("ada", false, None).await.unwrap().secret;
    let ada = app.authenticate(&ada_token).await.unwrap().unwrap();
    let input = |name: &str, secrets: &[(&str, &str)]| slipway_domain::ApplicationInput {
        name: Some(name.to_owned()),
        repository: Some(slipway_domain::RepositoryInput {
            provider: Some("github".into()),
            owner: Some("acme".into()),
            name: Some(name.to_owned()),
            url: Some("https://example.com/acme/api.git".into()),
            provider_repo_id: None,
        }),
        secrets: secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    };

    // A bad secret name: 400 naming it, and neither project nor
    // application made.
    let err = app
        .create_application_in_named_project(&ada, "deployments", input("api", &[("lower", "x")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DomainError::Invalid(p) if p[0].path == "secrets.lower"),
        "{err:?}"
    );
    assert!(matches!(
        app.project_named(&op(), "deployments").await,
        Err(DomainError::NotFound { .. })
    ));

    // Made: the project too, owned by its first creator; the secrets
    // stored with it (names only ever shown).
    let made = app
        .create_application_in_named_project(&ada, "deployments", input("api", &[("TOKEN", "t0k")]))
        .await
        .unwrap();
    // Her next request knows her as its owner.
    let ada = app.authenticate(&ada_token).await.unwrap().unwrap();
    let project = app.project_named(&ada, "deployments").await.unwrap();
    assert_eq!(made.project_id, project.id);
    let members = app.members(&op(), &project.id).await.unwrap();
    let roles: Vec<(&str, &str)> = members
        .iter()
        .map(|m| (m.login.as_str(), m.role.as_str()))
        .collect();
    assert_eq!(roles, [("ada", "owner")]);
    let names: Vec<String> = app
        .secrets(&ada, slipway_domain::SecretOwner::Application(&made.id))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["TOKEN"]);

    // Another user, no member of it: refused, nothing made; once a
    // maintainer there, allowed in the same project.
    let bob = caller(&app, "bob", false).await;
    let err = app
        .create_application_in_named_project(&bob, "deployments", input("web", &[]))
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Forbidden(_)), "{err:?}");
    let bob = member(&app, &project.id, "bob2", "maintainer").await;
    let web = app
        .create_application_in_named_project(&bob, "deployments", input("web", &[]))
        .await
        .unwrap();
    assert_eq!(web.project_id, project.id);
}
