//! Runs a dead server left queued get their secrets when a new engine
//! resumes them (secrets are never stored with runs: the engine asks its
//! `SecretSource`, here the domain's `RunSecrets` on the SQL catalog); a
//! run whose secrets cannot be opened fails instead of running without.
//! On SQLite, and on PostgreSQL when available.

#![allow(clippy::unwrap_used)]

use chrono::Utc;
use slipway_core::{LogKey, Registry, RunId, RunRecord, RunStore, Status, Target, Trigger};
use slipway_domain::definition::{Format, WorkflowDefinition};
use slipway_domain::secrets::SecretOwner;
use slipway_domain::{Caller, RunSecrets, SecretKey};
use slipway_store::testing::{TestDb, project_with_workflow, sql_app, sql_engine};
use slipway_store::{Db, DbOptions, SqlCatalog, SqlRunStore};
use slipway_testkit::plan::shell_workflow;
use slipway_testkit::record::change;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A workflow whose job shows the secret's length, and the secret.
fn workflow() -> String {
    shell_workflow(
        "deploy",
        "echo \"length ${#DEPLOY_TOKEN}\"\necho \"value $DEPLOY_TOKEN\"",
    )
}
const TOKEN: &str = "resume-secret-42";

fn registry() -> Registry {
    let mut r = Registry::new();
    slipway_exec::register_builtin(&mut r).unwrap();
    r
}

/// A queued run of `workflow_id` as a server that died would have left it.
async fn left_queued(store: &SqlRunStore, workflow_id: &str) -> RunId {
    let def = WorkflowDefinition::parse(&workflow(), Format::Yaml).unwrap();
    let (plan, params) = def.compile(&BTreeMap::new()).unwrap();
    let id = RunId::new();
    let mut rec = RunRecord::new(
        id.clone(),
        plan,
        params,
        Trigger::new("api"),
        Some(workflow_id.to_owned()),
        Utc::now(),
    );
    rec.apply(&change(Target::Run, Status::Created, Status::Queued))
        .unwrap();
    store.insert_run(&rec).await.unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumed_runs_get_their_secrets_or_fail() {
    TestDb::each(resume_on).await;
}

async fn resume_on(t: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&t.url, &DbOptions::default()).unwrap();
    let key = SecretKey::generate().unwrap();
    let catalog = Arc::new(SqlCatalog::new(db.clone()));
    let store = SqlRunStore::new(db.clone());

    // The first server: a workflow and its project's secret.
    let app = sql_app(&db, registry(), dir.path()).with_secret_key(key.clone());
    let (project, wf) = project_with_workflow(&app, "p", &workflow()).await;
    app.put_secret(
        &Caller::operator(),
        SecretOwner::Project(&project.id),
        "DEPLOY_TOKEN",
        TOKEN,
    )
    .await
    .unwrap();
    let queued = left_queued(&store, &wf.id).await;

    // The next server resumes it with the secret.
    let next = sql_engine(&db, registry())
        .secrets(Arc::new(RunSecrets::new(catalog.clone(), key.clone())))
        .workspace_root(dir.path())
        .build();
    let report = next.recover().await.unwrap();
    assert_eq!(report.requeued, vec![queued.clone()], "{}", t.backend());
    let run = next.wait(&queued).await.unwrap();
    assert_eq!(run.status, Status::Passed, "{:?}", run.error);
    let log: Vec<String> = next
        .logs()
        .read_all(&LogKey::new(queued.clone(), "work"))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert!(
        log.contains(&format!("length {}", TOKEN.len())),
        "{}: {log:?}",
        t.backend()
    );
    assert!(log.iter().all(|l| !l.contains(TOKEN)), "{log:?}");

    // With the wrong key the secret cannot be opened: the run fails,
    // it does not run without its secrets.
    let again = left_queued(&store, &wf.id).await;
    let wrong = sql_engine(&db, registry())
        .secrets(Arc::new(RunSecrets::new(
            catalog.clone(),
            SecretKey::generate().unwrap(),
        )))
        .workspace_root(dir.path())
        .build();
    let report = wrong.recover().await.unwrap();
    assert_eq!(report.failed, vec![again.clone()]);
    let run = store.get_run(&again).await.unwrap().unwrap();
    assert_eq!(run.status, Status::Failed);
    assert!(
        run.error
            .as_deref()
            .unwrap_or("")
            .starts_with("secrets unavailable after a restart"),
        "{:?}",
        run.error
    );
    assert_eq!(run.stages[0].jobs[0].status, Status::Skipped);
}
