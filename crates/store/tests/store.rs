//! The store suite, run against SQLite always and PostgreSQL when one can
//! be had (see `slipway_store::testing`; with CI=true it must be).
#![allow(clippy::unwrap_used)]

use chrono::Utc;
use diesel::RunQueryDsl;
use slipway_core::{
    ApprovalDecision, Job, LogKey, LogSink, NewLine, Plan, RunId, RunQuery, RunRecord, RunStore,
    Stage, Status, StoreError, Stream, Target, Trigger,
};
use slipway_store::testing::TestDb;
use slipway_store::{Db, DbOptions, SqlLogSink, SqlRunStore};
use slipway_testkit::record::change;
use std::collections::{BTreeMap, BTreeSet};

fn open(t: &TestDb) -> Db {
    Db::open(&t.url, &DbOptions::default()).unwrap()
}

fn record(key: Option<&str>) -> RunRecord {
    let plan = Plan::new(
        "p",
        vec![
            Stage::new(
                "build",
                true,
                vec![
                    Job::new(
                        "a",
                        "shell",
                        serde_json::json!({"steps": [{"script": "true"}]}),
                    ),
                    Job::new(
                        "b",
                        "shell",
                        serde_json::json!({"steps": [{"script": "true"}]}),
                    ),
                ],
            ),
            Stage::new(
                "ship",
                false,
                vec![Job::new("c", "shell", serde_json::json!({}))],
            ),
        ],
    );
    let mut trigger = Trigger::new("webhook");
    trigger.by = Some("ann".into());
    trigger.detail.insert("commit".into(), "abc123".into());
    RunRecord::new(
        RunId::new(),
        plan,
        BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
        trigger,
        key.map(str::to_owned),
        Utc::now(),
    )
}

#[tokio::test]
async fn both_migration_trees_yield_the_same_tables_and_columns() {
    let sqlite = TestDb::sqlite();
    let Some(pg) = TestDb::postgres() else { return };
    let columns = |db: &Db| -> BTreeSet<(String, String)> {
        #[derive(diesel::QueryableByName)]
        struct Col {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            c: String,
        }
        let sql = match db.backend() {
            slipway_store::Backend::Sqlite => {
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
            }
            slipway_store::Backend::Postgres => {
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
                 WHERE table_schema = 'public'"
            }
        };
        let mut conn = db.conn().unwrap();
        let rows: Vec<Col> = diesel::sql_query(sql).load(&mut **conn).unwrap();
        rows.into_iter().map(|r| (r.t, r.c)).collect()
    };
    let (a, b) = (columns(&open(&sqlite)), columns(&open(&pg)));
    assert!(a.contains(&("runs".into(), "status".into())));
    assert!(a.contains(&("log_chunks".into(), "body".into())));
    for (table, column) in [
        ("projects", "name"),
        ("workflows", "latest_version"),
        ("workflow_versions", "definition"),
        ("api_tokens", "secret_hash"),
        ("applications", "triggers"),
        ("applications", "last_run_id"),
        ("secrets", "value"),
        ("deliveries", "delivery_id"),
        ("schedules", "last_fired_at"),
        ("users", "login"),
        ("api_tokens", "user_id"),
        ("project_members", "role"),
        ("application_follows", "user_id"),
        ("applications", "permissions"),
        ("applications", "updated_by_name"),
        ("secrets", "updated_by_id"),
        ("workflow_versions", "created_by_id"),
        ("approvals", "decided_by_id"),
    ] {
        assert!(
            a.contains(&(table.into(), column.into())),
            "{table}.{column}"
        );
    }
    assert_eq!(a, b);
}

#[tokio::test]
async fn runs_round_trip_whole_and_changes_are_conditional() {
    for t in TestDb::all() {
        let store = SqlRunStore::new(open(&t));
        let run = record(Some("wf"));
        store.insert_run(&run).await.unwrap();
        let got = store.get_run(&run.id).await.unwrap().unwrap();
        assert_eq!(got.plan, run.plan, "{}", t.backend());
        assert_eq!(got.params, run.params);
        assert_eq!(got.trigger, run.trigger);
        assert_eq!(got.stages.len(), 2);
        assert_eq!(got.stages[0].jobs.len(), 2);
        assert!((got.created_at - run.created_at).num_milliseconds().abs() < 1);
        assert!(matches!(
            store.insert_run(&run).await,
            Err(StoreError::Duplicate(_))
        ));

        store
            .change_status(
                &run.id,
                &change(Target::Run, Status::Created, Status::Queued),
            )
            .await
            .unwrap();
        // A stale `from` is refused and changes nothing.
        let stale = store
            .change_status(
                &run.id,
                &change(Target::Run, Status::Created, Status::Running),
            )
            .await;
        assert!(
            matches!(
                stale,
                Err(StoreError::Conflict {
                    actual: Status::Queued,
                    ..
                })
            ),
            "{}: {stale:?}",
            t.backend()
        );
        let job = Target::Job(0, 1);
        store
            .change_status(&run.id, &change(job, Status::Created, Status::Running))
            .await
            .unwrap();
        let mut fail = change(job, Status::Running, Status::Failed);
        fail.error = Some("exit 2".into());
        fail.exit_code = Some(2);
        store.change_status(&run.id, &fail).await.unwrap();
        store
            .set_outputs(
                &run.id,
                0,
                1,
                &BTreeMap::from([("v".to_owned(), "1".to_owned())]),
            )
            .await
            .unwrap();
        store
            .change_status(
                &run.id,
                &change(Target::Stage(1), Status::Created, Status::WaitingApproval),
            )
            .await
            .unwrap();
        let d = ApprovalDecision {
            by: "ann".into(),
            by_id: Some("user-ann".into()),
            approved: true,
            comment: "ok".into(),
            at: Utc::now(),
        };
        store.add_approval(&run.id, 1, &d).await.unwrap();
        let anonymous = ApprovalDecision {
            by: "ops".into(),
            by_id: None,
            ..d.clone()
        };
        store.add_approval(&run.id, 1, &anonymous).await.unwrap();
        let got = store.get_run(&run.id).await.unwrap().unwrap();
        let j = &got.stages[0].jobs[1];
        assert_eq!(
            (j.status, j.exit_code, j.attempts),
            (Status::Failed, Some(2), 1)
        );
        assert_eq!(j.error.as_deref(), Some("exit 2"));
        assert!(j.started_at.is_some() && j.finished_at.is_some());
        assert_eq!(j.outputs["v"], "1");
        assert!(got.stages[1].waiting_since.is_some());
        let deciders: Vec<_> = got.stages[1]
            .approvals
            .iter()
            .map(|a| (a.by.as_str(), a.by_id.as_deref()))
            .collect();
        assert_eq!(
            deciders,
            [("ann", Some("user-ann")), ("ops", None)],
            "{}",
            t.backend()
        );

        // Retry resets the finished fields.
        store
            .change_status(&run.id, &change(job, Status::Failed, Status::Created))
            .await
            .unwrap();
        let j = store.get_run(&run.id).await.unwrap().unwrap().stages[0].jobs[1].clone();
        assert_eq!(
            (j.status, j.exit_code, j.error, j.finished_at),
            (Status::Created, None, None, None)
        );
        assert_eq!(j.attempts, 1, "attempts are kept across a retry");

        let unknown = store
            .change_status(
                &RunId::new(),
                &change(Target::Run, Status::Created, Status::Queued),
            )
            .await;
        assert!(matches!(unknown, Err(StoreError::NotFound(_))));
        assert!(store.get_run(&RunId::new()).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn list_filters_orders_and_pages() {
    for t in TestDb::all() {
        let store = SqlRunStore::new(open(&t));
        let mut ids = Vec::new();
        for i in 0..5 {
            let run = record(Some(if i % 2 == 0 { "even" } else { "odd" }));
            store.insert_run(&run).await.unwrap();
            ids.push(run.id);
        }
        store
            .change_status(
                &ids[4],
                &change(Target::Run, Status::Created, Status::Queued),
            )
            .await
            .unwrap();
        let list = |q: RunQuery| {
            let store = store.clone();
            async move {
                store
                    .list_runs(&q)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.id)
                    .collect::<Vec<_>>()
            }
        };
        let even = list(RunQuery {
            workflow_key: Some("even".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(
            even,
            [ids[4].clone(), ids[2].clone(), ids[0].clone()],
            "{}",
            t.backend()
        );
        let oldest = list(RunQuery {
            oldest_first: true,
            limit: 2,
            offset: 1,
            ..Default::default()
        })
        .await;
        assert_eq!(oldest, [ids[1].clone(), ids[2].clone()]);
        let queued = list(RunQuery {
            statuses: vec![Status::Queued],
            ..Default::default()
        })
        .await;
        assert_eq!(queued, [ids[4].clone()]);

        // Several workflow keys: any of them; none at all: no run; with a
        // single key and statuses, every filter applies.
        let keys = |k: &[&str]| Some(k.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>());
        let odd = list(RunQuery {
            workflow_keys: keys(&["odd", "no-such-key"]),
            ..Default::default()
        })
        .await;
        assert_eq!(odd, [ids[3].clone(), ids[1].clone()], "{}", t.backend());
        let both = list(RunQuery {
            workflow_keys: keys(&["odd", "even"]),
            oldest_first: true,
            ..Default::default()
        })
        .await;
        assert_eq!(both, ids, "{}", t.backend());
        let nothing = list(RunQuery {
            workflow_keys: keys(&[]),
            ..Default::default()
        })
        .await;
        assert!(nothing.is_empty(), "{}", t.backend());
        let queued_even = list(RunQuery {
            workflow_keys: keys(&["odd", "even"]),
            statuses: vec![Status::Queued],
            ..Default::default()
        })
        .await;
        assert_eq!(queued_even, [ids[4].clone()], "{}", t.backend());
        let disjoint = list(RunQuery {
            workflow_key: Some("even".into()),
            workflow_keys: keys(&["odd"]),
            ..Default::default()
        })
        .await;
        assert!(disjoint.is_empty(), "{}", t.backend());
        let (odd_page, odd_total) = store
            .list_summaries(&RunQuery {
                workflow_keys: keys(&["odd"]),
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(odd_total, 2, "{}", t.backend());
        assert_eq!(odd_page[0].id, ids[3], "{}", t.backend());
        for (k, n) in [
            (keys(&["even"]), 3),
            (keys(&[]), 0),
            (keys(&["odd", "even"]), 5),
        ] {
            let q = RunQuery {
                workflow_keys: k,
                ..Default::default()
            };
            assert_eq!(store.count_runs(&q).await.unwrap(), n, "{}", t.backend());
        }
        let full = store
            .list_runs(&RunQuery {
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(full[0].stages[0].jobs.len(), 2, "listed runs are whole");

        // Summaries: the same order and filters, the total of all pages.
        let q = RunQuery {
            workflow_key: Some("even".into()),
            limit: 2,
            ..Default::default()
        };
        let (page, total) = store.list_summaries(&q).await.unwrap();
        assert_eq!(total, 3, "{}", t.backend());
        let got: Vec<_> = page.iter().map(|r| r.id.clone()).collect();
        assert_eq!(got, [ids[4].clone(), ids[2].clone()], "{}", t.backend());
        let whole = store.get_run(&ids[4]).await.unwrap().unwrap();
        assert_eq!(
            page[0],
            slipway_core::RunSummary::from(&whole),
            "{}",
            t.backend()
        );
        let (_, queued_total) = store
            .list_summaries(&RunQuery {
                statuses: vec![Status::Queued],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(queued_total, 1);
    }
}

fn lines(from: usize, n: usize) -> Vec<NewLine> {
    (from..from + n)
        .map(|i| NewLine {
            stream: if i % 3 == 0 {
                Stream::Stderr
            } else {
                Stream::Stdout
            },
            at: Utc::now(),
            text: format!("line {i}"),
        })
        .collect()
}

#[tokio::test]
async fn logs_number_lines_resume_tail_and_stream_live() {
    for t in TestDb::all() {
        let db = open(&t);
        let runs = SqlRunStore::new(db.clone());
        let run = record(None);
        runs.insert_run(&run).await.unwrap();
        let sink = SqlLogSink::new(db.clone());
        let key = LogKey::new(run.id.clone(), "a");
        let mut live = sink.subscribe(&key);
        // 100 batches of 7 lines: more chunks than one read page.
        for b in 0..100 {
            let stored = sink.append(&key, lines(b * 7 + 1, 7)).await.unwrap();
            assert_eq!(stored[0].seq, (b * 7 + 1) as u64);
        }
        let all = sink.read_all(&key).await.unwrap();
        assert_eq!(all.len(), 700, "{}", t.backend());
        assert!(
            all.iter()
                .enumerate()
                .all(|(i, l)| l.seq == i as u64 + 1 && l.text == format!("line {}", i + 1))
        );
        assert_eq!(all[2].stream, Stream::Stderr);
        let after = sink.read_after(&key, 650, 10).await.unwrap();
        assert_eq!(
            after.iter().map(|l| l.seq).collect::<Vec<_>>(),
            (651..=660).collect::<Vec<_>>()
        );
        let tail = sink.tail(&key, 300).await.unwrap();
        assert_eq!(tail.len(), 300);
        assert_eq!((tail[0].seq, tail[299].seq), (401, 700));
        assert_eq!(sink.tail(&key, 5000).await.unwrap().len(), 700);
        assert_eq!(live.recv().await.unwrap().seq, 1);

        // A second sink on the same database (a restarted server) goes on
        // numbering after the stored lines.
        let again = SqlLogSink::new(db.clone());
        let more = again.append(&key, lines(701, 1)).await.unwrap();
        assert_eq!(more[0].seq, 701);

        // A server keeps state for a bounded number of logs: after 600
        // other logs the first one's state is gone, yet its numbering goes
        // on from the database, and a watched log keeps its live channel.
        let watched = LogKey::new(run.id.clone(), "watched");
        let mut watcher = again.subscribe(&watched);
        for i in 0..600 {
            let other = LogKey::new(run.id.clone(), format!("job-{i}"));
            again.append(&other, lines(1, 1)).await.unwrap();
        }
        assert!(again.states() < 300, "{}: {}", t.backend(), again.states());
        let more = again.append(&key, lines(702, 2)).await.unwrap();
        assert_eq!((more[0].seq, more[1].seq), (702, 703));
        again.append(&watched, lines(1, 1)).await.unwrap();
        assert_eq!(watcher.recv().await.unwrap().text, "line 1");
        assert!(
            sink.read_all(&LogKey::new(run.id.clone(), "nobody"))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_writers_on_sqlite_never_see_database_is_locked() {
    let t = TestDb::sqlite();
    let db = open(&t);
    let store = SqlRunStore::new(db.clone());
    let sink = SqlLogSink::new(db.clone());
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (store, sink) = (store.clone(), sink.clone());
        tasks.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            for _ in 0..25 {
                let run = record(Some(&format!("w{w}")));
                let step = async {
                    store.insert_run(&run).await?;
                    store
                        .change_status(
                            &run.id,
                            &change(Target::Run, Status::Created, Status::Queued),
                        )
                        .await?;
                    store
                        .change_status(
                            &run.id,
                            &change(Target::Job(0, 0), Status::Created, Status::Running),
                        )
                        .await?;
                    sink.append(&LogKey::new(run.id.clone(), "a"), lines(1, 20))
                        .await?;
                    store
                        .list_runs(&RunQuery {
                            limit: 5,
                            ..Default::default()
                        })
                        .await?;
                    Ok::<(), StoreError>(())
                };
                if let Err(e) = step.await {
                    errors.push(e.to_string());
                }
            }
            errors
        }));
    }
    let mut errors = Vec::new();
    for t in tasks {
        errors.extend(t.await.unwrap());
    }
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(
        store.list_runs(&RunQuery::default()).await.unwrap().len(),
        200
    );
}

#[test]
fn connection_failures_report_the_real_cause() {
    let refused = Db::open(
        "postgres://postgres@127.0.0.1:1/none",
        &DbOptions::default(),
    )
    .unwrap_err();
    assert!(
        refused.to_string().to_lowercase().contains("refused"),
        "{refused}"
    );
    if let Some(pg) = TestDb::postgres() {
        let url = pg
            .url
            .rsplit_once('/')
            .map(|(base, _)| format!("{base}/no_such_db_here"))
            .unwrap();
        let missing = Db::open(&url, &DbOptions::default()).unwrap_err();
        assert!(missing.to_string().contains("does not exist"), "{missing}");
    }
    let bad = Db::open("mysql://root@localhost/x", &DbOptions::default()).unwrap_err();
    assert!(
        bad.to_string().contains("unsupported database URL"),
        "{bad}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "").unwrap();
    let nested = format!("sqlite://{}/file/db.sqlite", dir.path().display());
    assert!(Db::open(&nested, &DbOptions::default()).is_err());
}

#[tokio::test]
async fn changes_made_together_are_recorded_all_or_none() {
    for t in TestDb::all() {
        let backend = t.backend();
        let store = SqlRunStore::new(open(&t));
        let rec = record(None);
        store.insert_run(&rec).await.unwrap();
        let start = rec.status;
        // The second change expects a status the stage is not in: nothing
        // of the batch may stick.
        let bad = [
            change(Target::Run, start, Status::Queued),
            change(Target::Stage(0), Status::Running, Status::Passed),
        ];
        let err = store.change_statuses(&rec.id, &bad).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    target: Target::Stage(0),
                    expected: Status::Running,
                    actual: Status::Created,
                    ..
                }
            ),
            "{backend}: the conflicting change is named: {err:?}"
        );
        let now = store.get_run(&rec.id).await.unwrap().unwrap();
        assert_eq!(now.status, start, "{backend}: rolled back");

        let good = [
            change(Target::Run, start, Status::Queued),
            change(Target::Run, Status::Queued, Status::Running),
            change(Target::Stage(0), Status::Created, Status::Running),
            change(Target::Job(0, 0), Status::Created, Status::Running),
        ];
        store.change_statuses(&rec.id, &good).await.unwrap();
        let now = store.get_run(&rec.id).await.unwrap().unwrap();
        assert_eq!(
            (
                now.status,
                now.stages[0].status,
                now.stages[0].jobs[0].status
            ),
            (Status::Running, Status::Running, Status::Running),
            "{backend}"
        );
        assert!(now.started_at.is_some() && now.stages[0].jobs[0].attempts == 1);

        // A job, its stage and its run ending together (one statement on
        // PostgreSQL): every effect of each change is there.
        let mut job_end = change(Target::Job(0, 0), Status::Running, Status::Failed);
        job_end.exit_code = Some(3);
        job_end.error = Some("exit 3".into());
        let end = [
            job_end,
            change(Target::Stage(0), Status::Running, Status::Failed),
            change(Target::Run, Status::Running, Status::Failed),
        ];
        store.change_statuses(&rec.id, &end).await.unwrap();
        let now = store.get_run(&rec.id).await.unwrap().unwrap();
        let job = &now.stages[0].jobs[0];
        assert_eq!(
            (now.status, now.stages[0].status, job.status),
            (Status::Failed, Status::Failed, Status::Failed),
            "{backend}"
        );
        assert_eq!(job.exit_code, Some(3));
        assert_eq!(job.error.as_deref(), Some("exit 3"));
        assert!(job.finished_at.is_some() && now.finished_at.is_some());
        // Repeating it finds every row moved on: refused as a whole.
        assert!(store.change_statuses(&rec.id, &end).await.is_err());
    }
}
