#![allow(clippy::unwrap_used)]
//! Load states on SQL (`SqlLoadStore`), on SQLite and PostgreSQL: kept
//! whole, changed only while unfinished, still there after the database is
//! opened again, seen by a second server on the same database, and loads
//! abandoned by a stopped server failed as interrupted.

use chrono::{DateTime, Duration, Utc};
use slipway_core::source::Remote;
use slipway_domain::workloads::{INTERRUPTED_LOAD, LoadState, LoadStore, Loaded, Loads, WorkId};
use slipway_git::{GitConfig, GixSource};
use slipway_store::testing::TestDb;
use slipway_store::{Db, DbOptions, SqlLoadStore};
use slipway_testkit::git::{commit, init};
use slipway_testkit::loads::start_found_and_missing;
use std::path::Path;
use std::sync::Arc;

/// A repository with `deploy/pipeline.json` (a directory task and an
/// inline one, run together) and `deploy/web/manifest.json`.
fn repository(dir: &Path) -> String {
    let repo = dir.join("repo");
    init(&repo);
    commit(
        &repo,
        &[
            (
                "deploy/web/manifest.json",
                r#"{"kind": "service", "name": "web", "command": "./serve", "port": 8080}"#,
            ),
            (
                "deploy/pipeline.json",
                r#"{"steps": [{"parallel": [
            {"directory": "deploy/web"},
            {"manifest": {"kind": "job", "name": "seed", "command": "./seed"}}
        ]}]}"#,
            ),
        ],
        "deploy",
    );
    format!("file://{}", repo.display())
}

fn source(dir: &Path) -> Arc<GixSource> {
    let mut config = GitConfig::new(dir.join("git"));
    config.allow_local = true;
    Arc::new(GixSource::new(config).unwrap())
}

fn open(t: &TestDb) -> Db {
    Db::open(&t.url, &DbOptions::default()).unwrap()
}

/// Now, to the second (both backends keep at least that).
fn now() -> DateTime<Utc> {
    chrono::DurationRound::duration_trunc(Utc::now(), Duration::seconds(1)).unwrap()
}

async fn finished(loads: &Loads, id: &WorkId) -> LoadState {
    for _ in 0..400 {
        let state = loads.state(id).await.unwrap().unwrap();
        if state.is_finished() {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("load {id} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_states_are_kept_whole_and_never_change_once_finished() {
    for t in TestDb::all() {
        let backend = t.backend();
        let store = SqlLoadStore::new(open(&t));
        let t0 = now();
        let id = store
            .insert("pipeline", t0, t0 + Duration::seconds(30))
            .await
            .unwrap();
        assert_eq!(id.0.len(), 32, "{backend}");
        let got = store.get(&id).await.unwrap().unwrap();
        assert_eq!(got.state, LoadState::Pending, "{backend}");
        assert_eq!(got.kind, "pipeline");
        assert_eq!(got.created_at, t0, "{backend}");
        assert_eq!(got.lease_until, t0 + Duration::seconds(30), "{backend}");

        assert!(
            store
                .set(&id, &LoadState::Loading, t0, t0 + Duration::seconds(60))
                .await
                .unwrap()
        );
        let renewed = store.get(&id).await.unwrap().unwrap();
        assert_eq!(renewed.state, LoadState::Loading);
        assert_eq!(renewed.lease_until, t0 + Duration::seconds(60), "{backend}");

        let failed = LoadState::Failed {
            reason: "`deploy/pipeline.json` is invalid: steps: required".into(),
            problems: vec![slipway_core::Problem::new("steps", "required")],
        };
        assert!(store.set(&id, &failed, t0, t0).await.unwrap());
        assert_eq!(store.get(&id).await.unwrap().unwrap().state, failed);
        // Finished: a late writer changes nothing.
        assert!(
            !store
                .set(&id, &LoadState::Loading, t0, t0 + Duration::seconds(90))
                .await
                .unwrap(),
            "{backend}"
        );
        assert_eq!(store.get(&id).await.unwrap().unwrap().state, failed);
        assert!(store.get(&WorkId("nope".into())).await.unwrap().is_none());
        assert!(
            !store
                .set(&WorkId("nope".into()), &failed, t0, t0)
                .await
                .unwrap()
        );

        // Pruning forgets finished loads only.
        let open_one = store.insert("manifest", t0, t0).await.unwrap();
        assert_eq!(
            store.prune(t0 + Duration::seconds(1)).await.unwrap(),
            1,
            "{backend}"
        );
        assert!(store.get(&id).await.unwrap().is_none());
        assert!(store.get(&open_one).await.unwrap().is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_work_id_survives_a_restart_and_any_server_on_the_database_answers_it() {
    for t in TestDb::all() {
        let backend = t.backend();
        let dir = tempfile::tempdir().unwrap();
        let url = repository(dir.path());
        let remote = Remote::new(url);
        let first = open(&t);
        let git = source(dir.path());
        let a = Loads::new(git.clone(), Arc::new(SqlLoadStore::new(first.clone())));
        // A second server on the same database.
        let b = Loads::new(git.clone(), Arc::new(SqlLoadStore::new(open(&t))));

        let (ok, missing) = start_found_and_missing(&a, &remote).await;
        // Polled through the other server.
        let loaded = finished(&b, &ok).await;
        match &loaded {
            LoadState::Loaded { result } => match result.as_ref() {
                Loaded::Pipeline(p) => {
                    let names: Vec<&str> = p.groups[0].iter().map(|t| t.name.as_str()).collect();
                    assert_eq!(names, ["web", "seed"], "{backend}");
                    assert_eq!(p.groups[0][0].manifest.port, Some(8080));
                }
                other => panic!("{backend}: {other:?}"),
            },
            other => panic!("{backend}: {other:?}"),
        }
        let failed = finished(&b, &missing).await;
        match &failed {
            LoadState::Failed { reason, .. } => {
                assert!(reason.contains("nowhere/manifest.json"), "{reason}");
            }
            other => panic!("{backend}: {other:?}"),
        }
        assert_eq!(a.state(&ok).await.unwrap().as_ref(), Some(&loaded));

        // Every connection closed, the database opened again: the same
        // answers.
        drop((a, b, first));
        let again = Loads::new(git, Arc::new(SqlLoadStore::new(open(&t))));
        assert_eq!(again.state(&ok).await.unwrap(), Some(loaded), "{backend}");
        assert_eq!(again.state(&missing).await.unwrap(), Some(failed));
        assert_eq!(again.recover().await.unwrap(), 0, "nothing was running");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_abandoned_by_a_stopped_server_are_failed_as_interrupted() {
    for t in TestDb::all() {
        let backend = t.backend();
        let dir = tempfile::tempdir().unwrap();
        let t0 = now();
        let (dead_pending, dead_loading, live) = {
            // A server that stopped: its last lease renewals lie in the past.
            let store = SqlLoadStore::new(open(&t));
            let abandoned =
                |kind| store.insert(kind, t0 - Duration::seconds(90), t0 - Duration::seconds(60));
            let p = abandoned("manifest").await.unwrap();
            let l = abandoned("pipeline").await.unwrap();
            assert!(
                store
                    .set(
                        &l,
                        &LoadState::Loading,
                        t0 - Duration::seconds(70),
                        t0 - Duration::seconds(40)
                    )
                    .await
                    .unwrap()
            );
            // Another server, still running, renewed its lease just now.
            let live = store
                .insert("document", t0, t0 + Duration::seconds(600))
                .await
                .unwrap();
            (p, l, live)
        };

        let store = Arc::new(SqlLoadStore::new(open(&t)));
        let loads = Loads::new(source(dir.path()), store.clone());
        let interrupted = LoadState::failed(INTERRUPTED_LOAD);
        // Even before recovery, an abandoned load reads as interrupted.
        assert_eq!(
            loads.state(&dead_pending).await.unwrap(),
            Some(interrupted.clone()),
            "{backend}"
        );
        assert_eq!(loads.recover().await.unwrap(), 2, "{backend}");
        for id in [&dead_pending, &dead_loading] {
            let stored = store.get(id).await.unwrap().unwrap();
            assert_eq!(stored.state, interrupted, "{backend}");
            assert_eq!(loads.state(id).await.unwrap(), Some(interrupted.clone()));
        }
        assert_eq!(
            loads.state(&live).await.unwrap(),
            Some(LoadState::Pending),
            "{backend}: the other server's load is left alone"
        );
        assert_eq!(loads.recover().await.unwrap(), 0, "{backend}");
    }
}
