//! The SQL catalog on SQLite and PostgreSQL: unique names, versions that
//! only move forward, cascading deletes, tokens found by hash and revoked.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Utc};
use slipway_core::{RunId, RunRecord, RunStore, Status, Target, Trigger};
use slipway_domain::Permission;
use slipway_domain::catalog::{
    Actor, ApiToken, Application, CatalogStore, CatalogStoreError, Matrix, Order, PageRequest,
    Project, Provider, Repository, Role, ScheduleTarget, StoredSchedule, TriggerRule, User,
    Workflow, WorkflowVersion,
};
use slipway_domain::definition::Format;
use slipway_store::testing::TestDb;
use slipway_store::{Db, DbOptions, SqlCatalog, SqlRunStore};
use slipway_testkit::plan::{one_job, shell};
use slipway_testkit::record::change;
use std::collections::BTreeMap;

fn project(name: &str, age_s: i64) -> Project {
    let at = Utc::now() - Duration::seconds(age_s);
    Project {
        id: uuid_like(name),
        name: name.into(),
        description: format!("about {name}"),
        created_at: at,
        updated_at: at,
    }
}

fn uuid_like(seed: &str) -> String {
    format!(
        "id-{seed}-{}",
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    )
}

fn version(workflow: &str, v: i32) -> WorkflowVersion {
    WorkflowVersion {
        workflow_id: workflow.into(),
        version: v,
        definition: serde_json::json!({"name": "build", "v": v}),
        format: Format::Yaml,
        source: format!("name: build # v{v}\n"),
        created_by: Some("ann".into()),
        created_by_id: Some("user-ann".into()),
        created_at: Utc::now(),
    }
}

fn actor(id: &str, name: &str) -> Actor {
    Actor {
        id: id.into(),
        name: name.into(),
    }
}

fn user(login: &str) -> User {
    User {
        id: uuid_like(login),
        login: login.into(),
        display_name: format!("{login} (a person)"),
        email: None,
        is_admin: false,
        created_by: None,
        created_at: secs_ago(60),
        disabled_at: None,
    }
}

fn page(n: u32, per: u32, sort: &str, order: Order) -> PageRequest {
    PageRequest {
        page: n,
        per_page: per,
        sort: sort.into(),
        order,
    }
}

/// Whether the catalog refused a write as a duplicate.
fn is_duplicate<T>(result: Result<T, CatalogStoreError>) -> bool {
    matches!(result, Err(CatalogStoreError::Duplicate(_)))
}

/// Whether the catalog refused a write because what it refers to is missing.
fn is_missing<T>(result: Result<T, CatalogStoreError>) -> bool {
    matches!(result, Err(CatalogStoreError::Missing(_)))
}

#[tokio::test]
async fn the_catalog_keeps_projects_workflows_versions_and_tokens() {
    for t in TestDb::all() {
        let backend = t.backend();
        let db = Db::open(&t.url, &DbOptions::default()).unwrap();
        let cat = SqlCatalog::new(db);

        // Projects: unique names, pages, sorting, updates.
        let a = project("alpha", 30);
        let b = project("beta", 20);
        let c = project("gamma", 10);
        for p in [&a, &b, &c] {
            cat.insert_project(p, None).await.unwrap();
        }
        let dup = Project {
            id: "other".into(),
            ..a.clone()
        };
        assert!(
            is_duplicate(cat.insert_project(&dup, None).await),
            "{backend}"
        );
        let first = cat
            .projects(&page(1, 2, "name", Order::Asc), None)
            .await
            .unwrap();
        assert_eq!(first.total, 3, "{backend}");
        let names: Vec<&str> = first.items.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["alpha", "beta"], "{backend}");
        let newest = cat
            .projects(&page(1, 1, "created_at", Order::Desc), None)
            .await
            .unwrap();
        assert_eq!(newest.items[0].name, "gamma", "{backend}");
        // Only the projects asked for: counted and paged alike; none when
        // none is asked for.
        let only = [c.id.clone(), a.id.clone(), "no-such-project".to_owned()];
        let some = cat
            .projects(&page(1, 1, "name", Order::Asc), Some(&only))
            .await
            .unwrap();
        assert_eq!((some.total, some.items.len()), (2, 1), "{backend}");
        assert_eq!(some.items[0].name, "alpha", "{backend}");
        let rest = cat
            .projects(&page(2, 1, "name", Order::Asc), Some(&only))
            .await
            .unwrap();
        assert_eq!(rest.items[0].name, "gamma", "{backend}");
        let none = cat
            .projects(&page(1, 10, "name", Order::Asc), Some(&[]))
            .await
            .unwrap();
        assert_eq!((none.total, none.items.len()), (0, 0), "{backend}");
        let mut renamed = b.clone();
        renamed.name = "alpha".into();
        assert!(
            is_duplicate(cat.update_project(&renamed).await),
            "{backend}"
        );
        renamed.name = "delta".into();
        assert!(cat.update_project(&renamed).await.unwrap(), "{backend}");
        assert_eq!(
            cat.project(&b.id).await.unwrap().unwrap().name,
            "delta",
            "{backend}"
        );

        // Workflows and versions: created together, versions move forward
        // one at a time, a stale writer is refused.
        let wf = Workflow {
            id: uuid_like("wf"),
            project_id: a.id.clone(),
            name: "build".into(),
            latest_version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        cat.insert_workflow(&wf, &version(&wf.id, 1)).await.unwrap();
        let again = Workflow {
            id: "wf-2".into(),
            ..wf.clone()
        };
        assert!(
            is_duplicate(cat.insert_workflow(&again, &version("wf-2", 1)).await),
            "{backend}: the project has a workflow of that name"
        );
        assert!(cat.workflow("wf-2").await.unwrap().is_none(), "{backend}");
        let orphan = Workflow {
            id: "wf-3".into(),
            project_id: "no-such-project".into(),
            ..wf.clone()
        };
        assert!(
            is_missing(cat.insert_workflow(&orphan, &version("wf-3", 1)).await),
            "{backend}"
        );
        cat.add_version(&version(&wf.id, 2)).await.unwrap();
        assert!(
            is_duplicate(cat.add_version(&version(&wf.id, 2)).await),
            "{backend}: a writer that saw version 1 is refused"
        );
        assert_eq!(
            cat.workflow(&wf.id).await.unwrap().unwrap().latest_version,
            2
        );
        let v1 = cat.version(&wf.id, 1).await.unwrap().unwrap();
        assert_eq!(v1, version(&wf.id, 1).clone_with_time(v1.created_at));
        let versions = cat
            .versions(&wf.id, &page(1, 10, "", Order::Desc))
            .await
            .unwrap();
        assert_eq!(
            versions.items.iter().map(|v| v.version).collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(
            cat.workflow_ids(&a.id).await.unwrap(),
            std::slice::from_ref(&wf.id)
        );

        // Deleting a project takes its workflows and versions along.
        assert!(cat.delete_project(&a.id).await.unwrap(), "{backend}");
        assert!(cat.workflow(&wf.id).await.unwrap().is_none(), "{backend}");
        assert!(cat.version(&wf.id, 1).await.unwrap().is_none(), "{backend}");
        assert!(!cat.delete_project(&a.id).await.unwrap(), "{backend}");

        // Tokens: found by hash, revoked once and for all; each belongs to
        // a user that exists.
        let owner = user("ci-bot");
        cat.insert_user(&owner).await.unwrap();
        let tok = ApiToken {
            id: uuid_like("tok"),
            name: "ci".into(),
            prefix: "slw_abcdef".into(),
            user_id: owner.id.clone(),
            is_admin: false,
            created_by: None,
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: None,
        };
        cat.insert_token(&tok, "hash-1").await.unwrap();
        let stray = ApiToken {
            id: uuid_like("stray"),
            user_id: "no-such-user".into(),
            ..tok.clone()
        };
        assert!(
            is_missing(cat.insert_token(&stray, "hash-stray").await),
            "{backend}: a token of nobody"
        );
        assert_eq!(cat.count_tokens().await.unwrap(), 1);
        let (found, hash) = cat.token_by_hash("hash-1").await.unwrap().unwrap();
        assert_eq!((found.name.as_str(), hash.as_str()), ("ci", "hash-1"));
        assert_eq!(found.user_id, owner.id, "{backend}");
        assert!(cat.token_by_hash("hash-2").await.unwrap().is_none());
        cat.touch_token(&tok.id, Utc::now()).await.unwrap();
        assert!(cat.revoke_token(&tok.id, Utc::now()).await.unwrap());
        assert!(cat.revoke_token(&tok.id, Utc::now()).await.unwrap());
        assert!(!cat.revoke_token("nope", Utc::now()).await.unwrap());
        let (after, _) = cat.token_by_hash("hash-1").await.unwrap().unwrap();
        assert!(after.revoked_at.is_some() && after.last_used_at.is_some());
        assert_eq!(cat.tokens().await.unwrap().len(), 1);
    }
}

trait WithTime {
    fn clone_with_time(&self, at: chrono::DateTime<Utc>) -> Self;
}

impl WithTime for WorkflowVersion {
    fn clone_with_time(&self, at: chrono::DateTime<Utc>) -> Self {
        WorkflowVersion {
            created_at: at,
            ..self.clone()
        }
    }
}

/// A time `ago_s` seconds back, in whole seconds: it round-trips exactly on
/// both backends (SQLite keeps nanoseconds, PostgreSQL microseconds).
fn secs_ago(ago_s: i64) -> DateTime<Utc> {
    let t = Utc::now() - Duration::seconds(ago_s);
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

fn application(project_id: &str, name: &str, age_s: i64) -> Application {
    let at = secs_ago(age_s);
    Application {
        id: uuid_like(name),
        project_id: project_id.into(),
        name: name.into(),
        description: format!("the {name} service"),
        repository: Repository {
            provider: Provider::Gitlab,
            owner: "platform".into(),
            name: name.into(),
            url: format!("https://gitlab.example.com/platform/{name}.git"),
            provider_repo_id: "4711".into(),
        },
        default_branch: "main".into(),
        template_path: ".slipway/workflow.yaml".into(),
        triggers: vec![
            TriggerRule {
                event: "push".into(),
                filter: r#"body.ref == "refs/heads/main""#.into(),
                template: String::new(),
            },
            TriggerRule {
                event: "tag_push".into(),
                filter: String::new(),
                template: ".slipway/release.yaml".into(),
            },
        ],
        cancel_superseded: true,
        webhook_secret: Some("v1:sealed-webhook-secret".into()),
        permissions: None,
        created_by: Some(actor("user-ann", "ann")),
        updated_by: Some(actor("user-ann", "ann")),
        created_at: at,
        updated_at: at,
        last_run: None,
        repository_id: None,
    }
}

/// A matrix that takes execute from developers and gives viewers more.
fn matrix() -> Matrix {
    Matrix::from([
        (Role::Developer, [Permission::View].into()),
        (
            Role::Viewer,
            [Permission::View, Permission::Execute, Permission::CreateEnv].into(),
        ),
    ])
}

fn schedule(target: ScheduleTarget, target_id: &str, age_s: i64) -> StoredSchedule {
    let at = secs_ago(age_s);
    StoredSchedule {
        id: uuid_like("sched"),
        target,
        target_id: target_id.into(),
        expression: "0 9 * * 1-5".into(),
        timezone: Some("Europe/Berlin".into()),
        git_ref: String::new(),
        params: BTreeMap::from([("env".to_owned(), "staging".to_owned())]),
        enabled: true,
        last_fired_at: None,
        created_at: at,
        updated_at: at,
    }
}

/// A run started `age_s` seconds ago by a push of `commit`.
fn run(key: &str, commit: &str, age_s: i64) -> RunRecord {
    let plan = one_job("deploy", "build", shell("a", "true"));
    let mut trigger = Trigger::new("webhook");
    trigger.detail.insert("commit".into(), commit.into());
    trigger
        .detail
        .insert("ref".into(), "refs/heads/main".into());
    trigger
        .detail
        .insert("message".into(), format!("fix {commit}\n\nlonger text"));
    RunRecord::new(
        RunId::new(),
        plan,
        BTreeMap::new(),
        trigger,
        Some(key.into()),
        secs_ago(age_s),
    )
}

fn open(t: &TestDb) -> (SqlCatalog, SqlRunStore, Db) {
    let db = Db::open(&t.url, &DbOptions::default()).unwrap();
    (
        SqlCatalog::new(db.clone()),
        SqlRunStore::new(db.clone()),
        db,
    )
}

fn names(apps: &[Application]) -> Vec<&str> {
    apps.iter().map(|a| a.name.as_str()).collect()
}

#[tokio::test]
async fn applications_round_trip_are_unique_per_project_and_delete_with_what_they_own() {
    for t in TestDb::all() {
        let backend = t.backend();
        let (cat, _, _) = open(&t);
        let p = project("apps", 10);
        let q = project("others", 10);
        cat.insert_project(&p, None).await.unwrap();
        cat.insert_project(&q, None).await.unwrap();

        // Every field comes back, triggers and the sealed webhook secret
        // included.
        let app = application(&p.id, "api", 5);
        cat.insert_application(&app).await.unwrap();
        assert_eq!(
            cat.application(&app.id).await.unwrap().as_ref(),
            Some(&app),
            "{backend}"
        );
        assert!(cat.application("nope").await.unwrap().is_none());

        // Names are unique per project only; the project must exist.
        let clash = Application {
            id: uuid_like("clash"),
            ..app.clone()
        };
        assert!(
            is_duplicate(cat.insert_application(&clash).await),
            "{backend}"
        );
        let elsewhere = Application {
            project_id: q.id.clone(),
            ..clash.clone()
        };
        cat.insert_application(&elsewhere).await.unwrap();
        let orphan = Application {
            id: uuid_like("orphan"),
            project_id: "no-such-project".into(),
            ..app.clone()
        };
        assert!(
            is_missing(cat.insert_application(&orphan).await),
            "{backend}"
        );

        // A permission matrix comes back as it was; no actors are none.
        let web = Application {
            permissions: Some(matrix()),
            created_by: None,
            updated_by: None,
            ..application(&p.id, "web", 4)
        };
        cat.insert_application(&web).await.unwrap();
        assert_eq!(
            cat.application(&web.id).await.unwrap().as_ref(),
            Some(&web),
            "{backend}"
        );

        // Updates replace everything but id, project, creation time and
        // creator.
        let mut changed = app.clone();
        changed.name = "api-v2".into();
        changed.description = "renamed".into();
        changed.repository = Repository {
            provider: Provider::Github,
            owner: "acme".into(),
            name: "api2".into(),
            url: "https://github.com/acme/api2.git".into(),
            provider_repo_id: String::new(),
        };
        changed.default_branch = "trunk".into();
        changed.template_path = "ci/slipway.yaml".into();
        changed.triggers.truncate(1);
        changed.cancel_superseded = false;
        changed.webhook_secret = None;
        changed.permissions = Some(matrix());
        changed.updated_by = Some(actor("user-bob", "bob"));
        changed.updated_at = secs_ago(1);
        assert!(cat.update_application(&changed).await.unwrap(), "{backend}");
        let mut sneaky = changed.clone();
        sneaky.project_id = q.id.clone();
        sneaky.created_at = secs_ago(1000);
        sneaky.created_by = Some(actor("user-eve", "eve"));
        assert!(cat.update_application(&sneaky).await.unwrap());
        assert_eq!(
            cat.application(&app.id).await.unwrap().unwrap(),
            changed,
            "{backend}"
        );
        let taken = Application {
            name: "web".into(),
            ..changed.clone()
        };
        assert!(
            is_duplicate(cat.update_application(&taken).await),
            "{backend}"
        );
        let gone = Application {
            id: "gone".into(),
            ..changed.clone()
        };
        assert!(!cat.update_application(&gone).await.unwrap());
        let mut ids = cat.application_ids(&p.id).await.unwrap();
        ids.sort();
        let mut want = vec![app.id.clone(), web.id.clone()];
        want.sort();
        assert_eq!(ids, want, "{backend}");

        // Deleting an application takes its secrets, deliveries and
        // schedules along, and nothing of anybody else's.
        let owner = format!("application/{}", app.id);
        let web_owner = format!("application/{}", web.id);
        cat.put_secret(&owner, "TOKEN", "v1:x", Utc::now(), None)
            .await
            .unwrap();
        cat.put_secret(&web_owner, "TOKEN", "v1:y", Utc::now(), None)
            .await
            .unwrap();
        assert!(
            cat.record_delivery(&app.id, "d-1", Utc::now())
                .await
                .unwrap()
        );
        let s = schedule(ScheduleTarget::Application, &app.id, 3);
        let s_web = schedule(ScheduleTarget::Application, &web.id, 3);
        cat.insert_schedule(&s).await.unwrap();
        cat.insert_schedule(&s_web).await.unwrap();
        assert!(cat.delete_application(&app.id).await.unwrap(), "{backend}");
        assert!(!cat.delete_application(&app.id).await.unwrap(), "{backend}");
        assert!(cat.application(&app.id).await.unwrap().is_none());
        assert!(cat.secrets(&owner).await.unwrap().is_empty(), "{backend}");
        assert!(cat.schedule(&s.id).await.unwrap().is_none(), "{backend}");
        assert_eq!(cat.secrets(&web_owner).await.unwrap().len(), 1);
        assert!(cat.schedule(&s_web.id).await.unwrap().is_some());
        // Its deliveries are gone: a new application under the same id
        // starts with none.
        let again = Application {
            name: "api-again".into(),
            ..app.clone()
        };
        cat.insert_application(&again).await.unwrap();
        assert!(
            cat.record_delivery(&app.id, "d-1", Utc::now())
                .await
                .unwrap(),
            "{backend}"
        );

        // Deleting a workflow takes its schedules along.
        let wf = Workflow {
            id: uuid_like("wf"),
            project_id: p.id.clone(),
            name: "build".into(),
            latest_version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        cat.insert_workflow(&wf, &version(&wf.id, 1)).await.unwrap();
        let s_wf = schedule(ScheduleTarget::Workflow, &wf.id, 2);
        cat.insert_schedule(&s_wf).await.unwrap();
        assert!(cat.delete_workflow(&wf.id).await.unwrap());
        assert!(cat.schedule(&s_wf.id).await.unwrap().is_none(), "{backend}");

        // Deleting a project takes everything in it along: workflows and
        // their schedules, applications with theirs, the project's
        // secrets.
        let wf2 = Workflow {
            id: uuid_like("wf2"),
            ..wf.clone()
        };
        cat.insert_workflow(&wf2, &version(&wf2.id, 1))
            .await
            .unwrap();
        let s_wf2 = schedule(ScheduleTarget::Workflow, &wf2.id, 2);
        cat.insert_schedule(&s_wf2).await.unwrap();
        let p_owner = format!("project/{}", p.id);
        let q_owner = format!("project/{}", q.id);
        cat.put_secret(&p_owner, "SHARED", "v1:p", Utc::now(), None)
            .await
            .unwrap();
        cat.put_secret(&q_owner, "SHARED", "v1:q", Utc::now(), None)
            .await
            .unwrap();
        assert!(cat.delete_project(&p.id).await.unwrap(), "{backend}");
        for id in [&again.id, &web.id] {
            assert!(cat.application(id).await.unwrap().is_none(), "{backend}");
        }
        assert!(cat.application_ids(&p.id).await.unwrap().is_empty());
        assert!(cat.workflow(&wf2.id).await.unwrap().is_none());
        assert!(
            cat.schedule(&s_wf2.id).await.unwrap().is_none(),
            "{backend}"
        );
        assert!(
            cat.schedule(&s_web.id).await.unwrap().is_none(),
            "{backend}"
        );
        assert!(cat.secrets(&web_owner).await.unwrap().is_empty());
        assert!(cat.secrets(&p_owner).await.unwrap().is_empty(), "{backend}");
        assert_eq!(cat.secrets(&q_owner).await.unwrap().len(), 1);
        assert!(cat.application(&elsewhere.id).await.unwrap().is_some());
        assert!(
            is_missing(cat.record_delivery(&again.id, "d-2", Utc::now()).await),
            "{backend}: a delivery of a deleted application"
        );
    }
}

#[tokio::test]
async fn application_lists_page_sort_filter_and_follow_the_latest_run() {
    for t in TestDb::all() {
        let backend = t.backend();
        let (cat, runs, db) = open(&t);
        let p = project("listed", 100);
        let q = project("other", 100);
        cat.insert_project(&p, None).await.unwrap();
        cat.insert_project(&q, None).await.unwrap();
        let mut apps = BTreeMap::new();
        for (i, name) in ["delta", "alpha", "charlie", "bravo"].iter().enumerate() {
            let a = application(&p.id, name, 50 - i64::try_from(i).unwrap());
            cat.insert_application(&a).await.unwrap();
            apps.insert(*name, a);
        }
        let echo = application(&q.id, "echo", 10);
        cat.insert_application(&echo).await.unwrap();
        let list = |project: Option<String>, status: Option<&'static str>, page: PageRequest| {
            let cat = cat.clone();
            async move {
                cat.applications(project.as_deref(), None, status, &page)
                    .await
                    .unwrap()
            }
        };
        let pid = Some(p.id.clone());

        // Pages by name, both ways; every project's when none is given.
        let first = list(pid.clone(), None, page(1, 2, "name", Order::Asc)).await;
        assert_eq!(first.total, 4, "{backend}");
        assert_eq!((first.page, first.per_page), (1, 2));
        assert_eq!(names(&first.items), ["alpha", "bravo"], "{backend}");
        let second = list(pid.clone(), None, page(2, 2, "name", Order::Asc)).await;
        assert_eq!(names(&second.items), ["charlie", "delta"], "{backend}");
        let desc = list(pid.clone(), None, page(1, 3, "name", Order::Desc)).await;
        assert_eq!(
            names(&desc.items),
            ["delta", "charlie", "bravo"],
            "{backend}"
        );
        let oldest = list(pid.clone(), None, page(1, 4, "created_at", Order::Asc)).await;
        assert_eq!(
            names(&oldest.items),
            ["delta", "alpha", "charlie", "bravo"],
            "{backend}"
        );
        let unknown = list(pid.clone(), None, page(1, 4, "colour", Order::Asc)).await;
        assert_eq!(
            names(&unknown.items),
            ["alpha", "bravo", "charlie", "delta"],
            "{backend}: an unknown sort sorts by name"
        );
        let all = list(None, None, page(1, 10, "name", Order::Asc)).await;
        assert_eq!(all.total, 5, "{backend}");
        assert_eq!(all.items.last().unwrap().name, "echo");
        assert!(all.items.iter().all(|a| a.last_run.is_none()));

        // Only the applications of the projects asked for, counted alike;
        // none when no project is asked for; with a project, both apply.
        let only_q = [q.id.clone()];
        let of_q = cat
            .applications(None, Some(&only_q), None, &page(1, 10, "name", Order::Asc))
            .await
            .unwrap();
        assert_eq!(
            (of_q.total, names(&of_q.items)),
            (1, vec!["echo"]),
            "{backend}"
        );
        let both = [p.id.clone(), q.id.clone()];
        let of_both = cat
            .applications(None, Some(&both), None, &page(1, 2, "name", Order::Desc))
            .await
            .unwrap();
        assert_eq!(
            (of_both.total, names(&of_both.items)),
            (5, vec!["echo", "delta"]),
            "{backend}"
        );
        let of_none = cat
            .applications(None, Some(&[]), None, &page(1, 10, "name", Order::Asc))
            .await
            .unwrap();
        assert_eq!((of_none.total, of_none.items.len()), (0, 0), "{backend}");
        let p_not_in_q = cat
            .applications(
                Some(&p.id),
                Some(&only_q),
                None,
                &page(1, 10, "name", Order::Asc),
            )
            .await
            .unwrap();
        assert_eq!(p_not_in_q.total, 0, "{backend}");

        // Runs: bravo ran first, delta next, alpha last; charlie never.
        let r_bravo = run(&apps["bravo"].id, "b0b0", 30);
        let r_delta = run(&apps["delta"].id, "d0d0", 20);
        let r_alpha = run(&apps["alpha"].id, "a0a0", 10);
        for (name, r) in [
            ("bravo", &r_bravo),
            ("delta", &r_delta),
            ("alpha", &r_alpha),
        ] {
            runs.insert_run(r).await.unwrap();
            cat.set_last_run(&apps[name].id, r.id.as_str())
                .await
                .unwrap();
        }
        let by_last = |order| {
            let pid = pid.clone();
            async move { list(pid, None, page(1, 10, "last_run_at", order)).await }
        };
        assert_eq!(
            names(&by_last(Order::Asc).await.items),
            ["charlie", "bravo", "delta", "alpha"],
            "{backend}: never ran sorts as the oldest"
        );
        assert_eq!(
            names(&by_last(Order::Desc).await.items),
            ["alpha", "delta", "bravo", "charlie"],
            "{backend}"
        );

        // The latest run as reads show it, following its status.
        let bravo = cat.application(&apps["bravo"].id).await.unwrap().unwrap();
        let last = bravo.last_run.unwrap();
        assert_eq!(last.run_id, r_bravo.id.as_str());
        assert_eq!(last.commit.as_deref(), Some("b0b0"));
        assert_eq!(last.git_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(last.message.as_deref(), Some("fix b0b0"), "first line");
        assert_eq!((last.status.as_str(), last.completed), ("created", false));
        assert_eq!(last.created_at, r_bravo.created_at, "{backend}");
        for (from, to) in [
            (Status::Created, Status::Queued),
            (Status::Queued, Status::Running),
            (Status::Running, Status::Passed),
        ] {
            runs.change_status(&r_bravo.id, &change(Target::Run, from, to))
                .await
                .unwrap();
        }
        let last = cat
            .application(&apps["bravo"].id)
            .await
            .unwrap()
            .unwrap()
            .last_run
            .unwrap();
        assert_eq!((last.status.as_str(), last.completed), ("passed", true));

        // Filtered by the latest run's status, counted alike.
        let passed = list(pid.clone(), Some("passed"), page(1, 10, "name", Order::Asc)).await;
        assert_eq!((passed.total, names(&passed.items)), (1, vec!["bravo"]));
        assert_eq!(passed.items[0].last_run.as_ref().unwrap().status, "passed");
        let created = list(pid.clone(), Some("created"), page(1, 1, "name", Order::Asc)).await;
        assert_eq!(
            (created.total, names(&created.items)),
            (2, vec!["alpha"]),
            "{backend}"
        );
        let everywhere = list(None, Some("created"), page(1, 10, "name", Order::Desc)).await;
        assert_eq!(names(&everywhere.items), ["delta", "alpha"], "{backend}");
        let created_in = |ids: Vec<String>| {
            let cat = cat.clone();
            async move {
                cat.applications(
                    None,
                    Some(&ids),
                    Some("created"),
                    &page(1, 10, "name", Order::Asc),
                )
                .await
                .unwrap()
                .total
            }
        };
        assert_eq!(created_in(vec![p.id.clone()]).await, 2, "{backend}");
        assert_eq!(created_in(vec![q.id.clone()]).await, 0, "{backend}");
        assert_eq!(
            list(pid.clone(), Some("failed"), page(1, 10, "name", Order::Asc))
                .await
                .total,
            0
        );

        // A newer latest run is kept when an older one records itself
        // late; a newer one replaces it.
        cat.set_last_run(&apps["alpha"].id, r_bravo.id.as_str())
            .await
            .unwrap();
        let alpha = cat.application(&apps["alpha"].id).await.unwrap().unwrap();
        assert_eq!(
            alpha.last_run.unwrap().run_id,
            r_alpha.id.as_str(),
            "{backend}"
        );
        let r_bravo2 = run(&apps["bravo"].id, "b1b1", 5);
        runs.insert_run(&r_bravo2).await.unwrap();
        cat.set_last_run(&apps["bravo"].id, r_bravo2.id.as_str())
            .await
            .unwrap();
        let bravo = cat.application(&apps["bravo"].id).await.unwrap().unwrap();
        let last = bravo.last_run.unwrap();
        assert_eq!(
            (last.commit.as_deref(), last.completed),
            (Some("b1b1"), false)
        );
        assert!(is_missing(
            cat.set_last_run("no-such-app", r_alpha.id.as_str()).await
        ));

        // A latest run that was deleted shows as none, and sorts as never
        // run.
        let mut conn = db.conn().unwrap();
        slipway_store::db::execute(
            &mut conn,
            &format!("DELETE FROM runs WHERE id = '{}'", r_delta.id.as_str()),
        )
        .unwrap();
        drop(conn);
        let delta = cat.application(&apps["delta"].id).await.unwrap().unwrap();
        assert!(delta.last_run.is_none(), "{backend}");
        let asc = by_last(Order::Asc).await;
        assert_eq!(asc.items.len(), 4);
        let mut never: Vec<&str> = names(&asc.items[..2]);
        never.sort_unstable();
        assert_eq!(never, ["charlie", "delta"], "{backend}");
        assert_eq!(names(&asc.items[2..]), ["alpha", "bravo"], "{backend}");
    }
}

#[tokio::test]
async fn secrets_are_set_replaced_listed_without_values_and_deleted() {
    for t in TestDb::all() {
        let backend = t.backend();
        let (cat, _, _) = open(&t);
        let owner = "project/p1";
        let t0 = secs_ago(100);
        assert!(
            cat.put_secret(owner, "TOKEN", "v1:one", t0, None)
                .await
                .unwrap()
        );
        assert!(
            cat.put_secret(owner, "API_KEY", "v1:key", t0, None)
                .await
                .unwrap()
        );
        assert!(
            cat.put_secret("application/a1", "TOKEN", "v1:app", t0, None)
                .await
                .unwrap()
        );
        let t1 = secs_ago(10);
        let bob = actor("user-bob", "bob");
        assert!(
            !cat.put_secret(owner, "TOKEN", "v1:two", t1, Some(&bob))
                .await
                .unwrap(),
            "{backend}: a replacement is not a creation"
        );
        let metas = cat.secrets(owner).await.unwrap();
        assert_eq!(
            metas.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["API_KEY", "TOKEN"]
        );
        let token = &metas[1];
        assert_eq!((token.created_at, token.updated_at), (t0, t1), "{backend}");
        assert_eq!(token.updated_by, Some(bob.clone()), "{backend}");
        assert_eq!(metas[0].updated_by, None, "{backend}: set by nobody known");
        // Whoever sets it next is who set it last; a creation records its
        // setter too.
        let ann = actor("user-ann", "ann");
        cat.put_secret(owner, "TOKEN", "v1:three", t1, None)
            .await
            .unwrap();
        cat.put_secret(owner, "NEW", "v1:new", t1, Some(&ann))
            .await
            .unwrap();
        let metas = cat.secrets(owner).await.unwrap();
        let by: Vec<_> = metas.iter().map(|m| m.updated_by.clone()).collect();
        assert_eq!(by, [None, Some(ann), None], "{backend}");
        cat.delete_secret(owner, "NEW").await.unwrap();
        let shown = serde_json::to_string(&metas).unwrap();
        assert!(!shown.contains("v1:"), "{backend}: {shown}");
        assert_eq!(
            cat.sealed_secrets(owner).await.unwrap(),
            [
                ("API_KEY".to_owned(), "v1:key".to_owned()),
                ("TOKEN".to_owned(), "v1:three".to_owned())
            ]
        );
        assert_eq!(
            cat.sealed_secrets("application/a1").await.unwrap(),
            [("TOKEN".to_owned(), "v1:app".to_owned())]
        );
        assert!(cat.delete_secret(owner, "TOKEN").await.unwrap());
        assert!(!cat.delete_secret(owner, "TOKEN").await.unwrap());
        assert_eq!(cat.secrets(owner).await.unwrap().len(), 1);
        assert!(cat.secrets("project/none").await.unwrap().is_empty());

        // Eight first writers of one name at once: one creates, the
        // others replace, none fails.
        let mut tasks = Vec::new();
        for i in 0..8 {
            let cat = cat.clone();
            tasks.push(tokio::spawn(async move {
                cat.put_secret("project/race", "NEW", &format!("v1:{i}"), Utc::now(), None)
                    .await
                    .unwrap()
            }));
        }
        let mut created = 0;
        for task in tasks {
            created += usize::from(task.await.unwrap());
        }
        assert_eq!(created, 1, "{backend}");
        assert_eq!(cat.secrets("project/race").await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn deliveries_are_recorded_once_even_when_they_race() {
    for t in TestDb::all() {
        let backend = t.backend();
        let (cat, _, _) = open(&t);
        let p = project("hooks", 10);
        cat.insert_project(&p, None).await.unwrap();
        let a = application(&p.id, "a", 5);
        let b = application(&p.id, "b", 5);
        cat.insert_application(&a).await.unwrap();
        cat.insert_application(&b).await.unwrap();
        assert!(cat.record_delivery(&a.id, "d-1", Utc::now()).await.unwrap());
        assert!(
            !cat.record_delivery(&a.id, "d-1", Utc::now()).await.unwrap(),
            "{backend}: a repeat"
        );
        assert!(
            cat.record_delivery(&b.id, "d-1", Utc::now()).await.unwrap(),
            "{backend}: per application"
        );
        cat.forget_delivery(&a.id, "d-1").await.unwrap();
        cat.forget_delivery(&a.id, "never-seen").await.unwrap();
        assert!(
            cat.record_delivery(&a.id, "d-1", Utc::now()).await.unwrap(),
            "{backend}: a forgotten delivery is new again"
        );
        assert!(is_missing(
            cat.record_delivery("no-such-app", "d-1", Utc::now()).await
        ));

        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (cat, id) = (cat.clone(), a.id.clone());
            tasks.push(tokio::spawn(async move {
                cat.record_delivery(&id, "d-race", Utc::now())
                    .await
                    .unwrap()
            }));
        }
        let mut first = 0;
        for task in tasks {
            first += usize::from(task.await.unwrap());
        }
        assert_eq!(first, 1, "{backend}");
    }
}

#[tokio::test]
async fn schedules_are_kept_and_each_fire_time_is_claimed_once() {
    for t in TestDb::all() {
        let backend = t.backend();
        let (cat, _, _) = open(&t);
        let on_wf = schedule(ScheduleTarget::Workflow, "wf-1", 30);
        let on_app = StoredSchedule {
            timezone: None,
            git_ref: "refs/heads/release".into(),
            params: BTreeMap::new(),
            ..schedule(ScheduleTarget::Application, "app-1", 20)
        };
        let on_wf2 = schedule(ScheduleTarget::Workflow, "wf-1", 10);
        for s in [&on_wf, &on_app, &on_wf2] {
            cat.insert_schedule(s).await.unwrap();
        }
        assert!(is_duplicate(cat.insert_schedule(&on_wf).await));
        assert_eq!(
            cat.schedule(&on_app.id).await.unwrap().as_ref(),
            Some(&on_app),
            "{backend}"
        );
        assert!(cat.schedule("nope").await.unwrap().is_none());
        let ids = |v: Vec<StoredSchedule>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(
            ids(cat.schedules(None).await.unwrap()),
            [on_wf.id.clone(), on_app.id.clone(), on_wf2.id.clone()],
            "{backend}: oldest first"
        );
        assert_eq!(
            ids(cat
                .schedules(Some((ScheduleTarget::Workflow, "wf-1")))
                .await
                .unwrap()),
            [on_wf.id.clone(), on_wf2.id.clone()]
        );
        assert!(
            cat.schedules(Some((ScheduleTarget::Application, "wf-1")))
                .await
                .unwrap()
                .is_empty()
        );

        // Compare and set on the last fire time.
        let (f1, f2, f3) = (secs_ago(300), secs_ago(200), secs_ago(100));
        assert!(
            cat.claim_fire(&on_wf.id, None, f1).await.unwrap(),
            "{backend}"
        );
        assert!(
            !cat.claim_fire(&on_wf.id, None, f1).await.unwrap(),
            "{backend}: claimed already"
        );
        assert!(cat.claim_fire(&on_wf.id, Some(f1), f2).await.unwrap());
        assert!(
            !cat.claim_fire(&on_wf.id, Some(f1), f3).await.unwrap(),
            "{backend}: somebody moved it on"
        );
        assert!(!cat.claim_fire("nope", None, f1).await.unwrap());
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (cat, id) = (cat.clone(), on_wf.id.clone());
            tasks.push(tokio::spawn(async move {
                cat.claim_fire(&id, Some(f2), f3).await.unwrap()
            }));
        }
        let mut won = 0;
        for task in tasks {
            won += usize::from(task.await.unwrap());
        }
        assert_eq!(won, 1, "{backend}");
        assert_eq!(
            cat.schedule(&on_wf.id)
                .await
                .unwrap()
                .unwrap()
                .last_fired_at,
            Some(f3)
        );

        // Updates change the definition, not the fire time.
        let mut changed = on_wf.clone();
        changed.expression = "@hourly".into();
        changed.timezone = None;
        changed.git_ref = "refs/tags/v1".into();
        changed.params = BTreeMap::from([("a".to_owned(), "b".to_owned())]);
        changed.enabled = false;
        changed.last_fired_at = None;
        changed.updated_at = secs_ago(1);
        assert!(cat.update_schedule(&changed).await.unwrap());
        let stored = cat.schedule(&on_wf.id).await.unwrap().unwrap();
        assert_eq!(
            stored,
            StoredSchedule {
                last_fired_at: Some(f3),
                ..changed.clone()
            },
            "{backend}"
        );
        let gone = StoredSchedule {
            id: "gone".into(),
            ..changed
        };
        assert!(!cat.update_schedule(&gone).await.unwrap());
        assert!(cat.delete_schedule(&on_wf.id).await.unwrap());
        assert!(!cat.delete_schedule(&on_wf.id).await.unwrap());
        assert_eq!(cat.schedules(None).await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn an_application_and_its_first_secrets_are_stored_together_or_not_at_all() {
    for t in TestDb::all() {
        let backend = t.backend();
        let (cat, _, _) = open(&t);
        let p = project("with-secrets", 10);
        cat.insert_project(&p, None).await.unwrap();
        let found = cat.project_by_name("with-secrets").await.unwrap();
        assert_eq!(
            found.map(|f| (f.id, f.name, f.description)),
            Some((p.id.clone(), p.name.clone(), p.description.clone())),
            "{backend}"
        );
        assert!(cat.project_by_name("nope").await.unwrap().is_none());

        let app = Application {
            created_by: Some(actor("u1", "ada")),
            ..application(&p.id, "api", 5)
        };
        let sealed = vec![
            ("API_KEY".to_owned(), "v1:key".to_owned()),
            ("TOKEN".to_owned(), "v1:token".to_owned()),
        ];
        cat.insert_application_with_secrets(&app, &sealed)
            .await
            .unwrap();
        let owner = format!("application/{}", app.id);
        assert_eq!(
            cat.sealed_secrets(&owner).await.unwrap(),
            sealed,
            "{backend}"
        );
        let meta = cat.secrets(&owner).await.unwrap();
        assert!(
            meta.iter().all(|m| m.created_at == app.created_at
                && m.updated_by.as_ref().map(|a| a.name.as_str()) == Some("ada")),
            "{backend}: {meta:?}"
        );

        // A clash of names stores neither the application nor its secrets.
        let clash = Application {
            id: uuid_like("clash-with-secrets"),
            ..app.clone()
        };
        assert!(
            is_duplicate(cat.insert_application_with_secrets(&clash, &sealed).await),
            "{backend}"
        );
        assert!(cat.application(&clash.id).await.unwrap().is_none());
        assert!(
            cat.sealed_secrets(&format!("application/{}", clash.id))
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
    }
}
