//! `Engine::recover` on records left behind by a process that died.
#![allow(clippy::unwrap_used)]

use chrono::Utc;
use serde_json::{Value, json};
use slipway_core::{
    Approval, Decision, Engine, INTERRUPTED, Job, JobContext, JobKind, JobOutcome, MemoryRunStore,
    Plan, Problem, Registry, RunId, RunRecord, RunStore, Stage, Status, StatusChange, Target,
    Trigger, async_trait,
};
use slipway_testkit::plan::sequential;
use slipway_testkit::record::change;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Quick {
    interrupted: Mutex<Vec<Value>>,
    ran: Mutex<Vec<String>>,
}

#[async_trait]
impl JobKind for Quick {
    fn name(&self) -> &str {
        "quick"
    }
    fn validate(&self, _: &Value) -> Result<(), Vec<Problem>> {
        Ok(())
    }
    async fn run(&self, ctx: JobContext) -> JobOutcome {
        self.ran.lock().unwrap().push(ctx.run_id.to_string());
        tokio::time::sleep(Duration::from_millis(20)).await;
        JobOutcome::Passed
    }
    async fn interrupted(&self, handle: &Value) {
        self.interrupted.lock().unwrap().push(handle.clone());
    }
}

async fn set(store: &MemoryRunStore, id: &RunId, target: Target, from: Status, to: Status) {
    store
        .change_status(id, &change(target, from, to))
        .await
        .unwrap();
}

/// Applies `changes` (target, from, to) to run `id` in order.
async fn set_all(store: &MemoryRunStore, id: &RunId, changes: &[(Target, Status, Status)]) {
    for &(target, from, to) in changes {
        set(store, id, target, from, to).await;
    }
}

/// The engine a restarted process makes on `store`, running [`Quick`].
fn restarted(store: &Arc<MemoryRunStore>) -> (Engine, Arc<Quick>, tempfile::TempDir) {
    let kind = Arc::new(Quick::default());
    let mut reg = Registry::new();
    reg.register(kind.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder(reg)
        .store(store.clone())
        .workspace_root(dir.path())
        .build();
    (engine, kind, dir)
}

async fn seed(store: &MemoryRunStore, plan: Plan) -> RunId {
    let rec = RunRecord::new(
        RunId::new(),
        plan,
        BTreeMap::new(),
        Trigger::new("api"),
        Some("wf".into()),
        Utc::now(),
    );
    store.insert_run(&rec).await.unwrap();
    set(store, &rec.id, Target::Run, Status::Created, Status::Queued).await;
    rec.id
}

#[tokio::test]
async fn recovery_fails_interrupted_runs_keeps_approvals_waiting_and_requeues_in_order() {
    let store = Arc::new(MemoryRunStore::new());
    let two_stages = Plan {
        concurrency_limit: 1,
        ..sequential(
            "p",
            vec![
                ("one", Job::new("a", "quick", json!({}))),
                ("two", Job::new("b", "quick", json!({}))),
            ],
        )
    };
    // A run that was in the middle of job `a` when the process died.
    let crashed = seed(&store, two_stages.clone()).await;
    set_all(
        &store,
        &crashed,
        &[
            (Target::Run, Status::Queued, Status::Running),
            (Target::Stage(0), Status::Created, Status::Running),
            (Target::Job(0, 0), Status::Created, Status::Running),
        ],
    )
    .await;
    store
        .set_handle(&crashed, 0, 0, Some(&json!({"pgid": 4242})))
        .await
        .unwrap();
    // A run waiting for approval, for 100 ms already, with a 60 s timeout.
    let mut gated = two_stages.clone();
    gated.stages[1].approval = Some(Approval {
        approvers: vec![],
        needed: 1,
        timeout: Some(Duration::from_secs(60)),
    });
    let waiting = seed(&store, gated).await;
    set_all(
        &store,
        &waiting,
        &[
            (Target::Run, Status::Queued, Status::Running),
            (Target::Stage(0), Status::Created, Status::Running),
            (Target::Stage(0), Status::Running, Status::Passed),
            (Target::Job(0, 0), Status::Created, Status::Running),
            (Target::Job(0, 0), Status::Running, Status::Passed),
            (Target::Stage(1), Status::Created, Status::WaitingApproval),
            (Target::Run, Status::Running, Status::WaitingApproval),
        ],
    )
    .await;
    let began = store.get_run(&waiting).await.unwrap().unwrap().stages[1].waiting_since;
    // Two runs queued behind them.
    let q1 = seed(&store, two_stages.clone()).await;
    let q2 = seed(&store, two_stages.clone()).await;

    let (engine, kind, _dir) = restarted(&store);
    let report = engine.recover().await.unwrap();
    assert_eq!(report.failed, std::slice::from_ref(&crashed));
    assert_eq!(report.resumed, std::slice::from_ref(&waiting));
    assert_eq!(report.requeued, [q1.clone(), q2.clone()]);

    let run = engine.get(&crashed).await.unwrap();
    assert_eq!(run.status, Status::Failed);
    assert_eq!(run.error.as_deref(), Some(INTERRUPTED));
    let a = &run.stages[0].jobs[0];
    assert_eq!(
        (a.status, a.error.as_deref()),
        (Status::Failed, Some(INTERRUPTED))
    );
    assert_eq!(run.stages[1].jobs[0].status, Status::Skipped);
    assert_eq!(*kind.interrupted.lock().unwrap(), [json!({"pgid": 4242})]);

    // The waiting run still waits, from when it began, and holds the one
    // slot of the workflow: the queued runs have not started.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let w = engine.get(&waiting).await.unwrap();
    assert_eq!(
        (w.status, w.stages[1].waiting_since),
        (Status::WaitingApproval, began)
    );
    assert_eq!(engine.get(&q1).await.unwrap().status, Status::Queued);
    engine
        .decide(
            &waiting,
            "two",
            Decision {
                by: "ann".into(),
                by_id: None,
                answers_to: Vec::new(),
                approve: true,
                comment: String::new(),
            },
        )
        .await
        .unwrap();
    for id in [&waiting, &q1, &q2] {
        assert_eq!(engine.wait(id).await.unwrap().status, Status::Passed);
    }
    let ran = kind.ran.lock().unwrap().clone();
    let order: Vec<&str> = ran.iter().map(String::as_str).collect();
    assert_eq!(
        order,
        [
            waiting.as_str(),
            q1.as_str(),
            q1.as_str(),
            q2.as_str(),
            q2.as_str()
        ],
        "the waiting run's second job, then the queued runs in their original order"
    );
}

#[tokio::test]
async fn an_approval_that_expired_while_the_server_was_down_fails_at_once() {
    let store = Arc::new(MemoryRunStore::new());
    let mut plan = Plan::new(
        "p",
        vec![Stage::new(
            "gated",
            false,
            vec![Job::new("b", "quick", json!({}))],
        )],
    );
    plan.stages[0].approval = Some(Approval {
        approvers: vec![],
        needed: 1,
        timeout: Some(Duration::from_secs(60)),
    });
    let id = seed(&store, plan).await;
    set(&store, &id, Target::Run, Status::Queued, Status::Running).await;
    // The wait began two minutes ago, then the server died.
    let began = Utc::now() - chrono::Duration::seconds(120);
    for target in [Target::Stage(0), Target::Run] {
        let from = if target == Target::Run {
            Status::Running
        } else {
            Status::Created
        };
        let change = StatusChange {
            at: began,
            ..change(target, from, Status::WaitingApproval)
        };
        store.change_status(&id, &change).await.unwrap();
    }

    let (engine, kind, _dir) = restarted(&store);
    let report = engine.recover().await.unwrap();
    assert_eq!(report.resumed, std::slice::from_ref(&id));
    let run = tokio::time::timeout(Duration::from_secs(5), engine.wait(&id))
        .await
        .expect("the expired gate is settled at once, not after another 60 s")
        .unwrap();
    assert_eq!(run.status, Status::Failed);
    assert_eq!(run.stages[0].status, Status::TimedOut);
    assert_eq!(run.stages[0].jobs[0].status, Status::Skipped);
    assert!(kind.ran.lock().unwrap().is_empty());
}
