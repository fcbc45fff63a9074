//! Engine behaviour on the in-memory ports, with a timer-based job kind
//! defined here (the real-process versions live in slipway-exec's tests).
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use slipway_core::{
    Approval, Decision, Engine, Event, Job, JobContext, JobKind, JobOutcome, Plan, Problem,
    Registry, RunRequest, Stage, Status, Stream, async_trait,
};
use slipway_testkit::plan::{one_job, sequential};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// `{"ms": 10, "fail": false, "outputs": {"k": "v"}, "say": "text"}`
struct Timer {
    runs: AtomicUsize,
}

#[async_trait]
impl JobKind for Timer {
    fn name(&self) -> &str {
        "timer"
    }

    fn validate(&self, spec: &Value) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        if !spec.get("ms").is_some_and(Value::is_u64) {
            problems.push(Problem::new("ms", "required"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    async fn run(&self, ctx: JobContext) -> JobOutcome {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if let Some(say) = ctx.spec.get("say").and_then(Value::as_str) {
            ctx.log.line(Stream::Stdout, say).await.unwrap();
        }
        let ms = ctx.spec["ms"].as_u64().unwrap();
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
            _ = ctx.cancel.cancelled() => return JobOutcome::Cancelled,
        }
        if let Some(Value::Object(o)) = ctx.spec.get("outputs") {
            for (k, v) in o {
                ctx.outputs.set(k, v.as_str().unwrap());
            }
        }
        // `fail_until` = attempt number from which it passes.
        let fail_until = ctx.spec.get("fail_until").and_then(Value::as_u64);
        let fail = ctx.spec.get("fail").and_then(Value::as_bool) == Some(true)
            || fail_until.is_some_and(|n| u64::from(ctx.attempt) < n)
            || std::path::Path::new(&format!("{}/fail", ctx.workspace.display())).exists()
                && ctx.job == "flaky";
        if fail {
            JobOutcome::Failed {
                error: "told to fail".into(),
                exit_code: Some(3),
            }
        } else {
            JobOutcome::Passed
        }
    }
}

fn engine() -> (Engine, Arc<Timer>, tempfile::TempDir) {
    let timer = Arc::new(Timer {
        runs: AtomicUsize::new(0),
    });
    let mut reg = Registry::new();
    reg.register(timer.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder(reg).workspace_root(dir.path()).build();
    (engine, timer, dir)
}

fn job(name: &str, spec: Value) -> Job {
    Job::new(name, "timer", spec)
}

#[test]
fn registering_a_name_twice_is_an_error() {
    let mut reg = Registry::new();
    let t = Arc::new(Timer {
        runs: AtomicUsize::new(0),
    });
    reg.register(t.clone()).unwrap();
    let err = reg.register(t.clone()).unwrap_err();
    assert_eq!(err.to_string(), "job kind `timer` is registered already");
    reg.register_as("alias", t).unwrap();
    assert_eq!(reg.names(), vec!["alias", "timer"]);
}

#[test]
fn validation_lists_every_problem_with_its_place() {
    let (engine, _, _d) = engine();
    let mut gated = Stage::new("deploy", false, vec![job("a", json!({"ms": 1}))]);
    gated.approval = Some(Approval {
        approvers: vec!["ann".into()],
        needed: 2,
        timeout: None,
    });
    let mut bad_ref = job("c", json!({"ms": 1, "x": "${{ jobs.d.outputs.v }}"}));
    bad_ref
        .env
        .insert("V".into(), "${{ jobs.ghost.outputs.v }}".into());
    let plan = Plan::new(
        "p",
        vec![
            Stage::new(
                "build",
                true,
                vec![job("a", json!({"ms": 1})), job("b", json!({})), bad_ref],
            ),
            Stage::new("build", false, vec![]),
            gated,
            Stage::new("later", false, vec![Job::new("d", "nope", json!({}))]),
        ],
    );
    let err = plan.validate(engine.registry()).unwrap_err();
    let got: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    let expect = [
        "stages[0].jobs[1].spec.ms: required",
        "stages[0].jobs[2].spec.x: `${{ jobs.d.outputs.v }}` refers to job `d`, which does not run in an earlier stage",
        "stages[0].jobs[2].env.V: `${{ jobs.ghost.outputs.v }}` refers to unknown job `ghost`",
        "stages[1].name: duplicate stage name `build`",
        "stages[1].jobs: a stage needs at least one job",
        "stages[2].approval.needed: needs 2 approvals but only 1 approvers are listed",
        "stages[2].jobs[0].name: duplicate job name `a`",
        "stages[3].jobs[0].kind: unknown job kind `nope` (known: timer)",
    ];
    assert_eq!(got, expect);
}

#[tokio::test]
async fn outputs_flow_to_later_stages_and_failures_skip_the_rest() {
    let (engine, _, _d) = engine();
    let mut allowed = job("may_fail", json!({"ms": 1, "fail": true}));
    allowed.allow_failure = true;
    let plan = Plan::new(
        "p",
        vec![
            Stage::new(
                "one",
                true,
                vec![job("a", json!({"ms": 5, "outputs": {"v": "42"}})), allowed],
            ),
            Stage::new(
                "two",
                false,
                vec![
                    job("b", json!({"ms": 1, "say": "got ${{ jobs.a.outputs.v }}"})),
                    job("c", json!({"ms": 1, "fail": true})),
                    job("d", json!({"ms": 1})),
                ],
            ),
            Stage::new("three", false, vec![job("e", json!({"ms": 1}))]),
        ],
    );
    let id = engine.submit(RunRequest::new(plan)).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Failed);
    assert_eq!(run.error.as_deref(), Some("stage `two`: job `c` failed"));
    let statuses: Vec<(String, Status)> = run
        .stages
        .iter()
        .flat_map(|s| s.jobs.iter().map(|j| (j.name.clone(), j.status)))
        .collect();
    let expect = [
        ("a", Status::Passed),
        ("may_fail", Status::Failed),
        ("b", Status::Passed),
        ("c", Status::Failed),
        ("d", Status::Skipped),
        ("e", Status::Skipped),
    ];
    assert_eq!(statuses, expect.map(|(n, s)| (n.to_owned(), s)).to_vec());
    assert_eq!(run.stages[0].status, Status::Passed);
    assert_eq!(run.stages[2].status, Status::Skipped);
    assert_eq!(run.job_named("c").unwrap().exit_code, Some(3));
    // `wait` hands back the driver's last record without reading the
    // store: it must be exactly what the store holds (the deferred job
    // ends included).
    let stored = engine.store().get_run(&id).await.unwrap().unwrap();
    assert_eq!(run, stored);
    let log = engine
        .logs()
        .read_all(&slipway_core::LogKey::new(id, "b"))
        .await
        .unwrap();
    assert_eq!(log[0].text, "got 42");
}

#[tokio::test]
async fn job_retries_and_run_retry_rerun_only_failed_jobs() {
    let (engine, timer, dir) = engine();
    let mut flaky_in_run = job("twice", json!({"ms": 1, "fail_until": 3}));
    flaky_in_run.retries = 2;
    let plan = Plan::new(
        "p",
        vec![
            Stage::new(
                "one",
                true,
                vec![
                    job("a", json!({"ms": 1, "outputs": {"v": "kept"}})),
                    flaky_in_run,
                ],
            ),
            Stage::new(
                "two",
                false,
                vec![job(
                    "flaky",
                    json!({"ms": 1, "say": "${{ jobs.a.outputs.v }}"}),
                )],
            ),
        ],
    );
    let id = engine.submit(RunRequest::new(plan)).await.unwrap();
    // Make `flaky` fail on the first run: the workspace holds a marker.
    std::fs::create_dir_all(dir.path().join(id.as_str())).unwrap();
    std::fs::write(dir.path().join(id.as_str()).join("fail"), "").unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Failed);
    let twice = run.job_named("twice").unwrap();
    assert_eq!((twice.status, twice.attempts), (Status::Passed, 3));
    assert_eq!(timer.runs.load(Ordering::SeqCst), 5);

    std::fs::remove_file(dir.path().join(id.as_str()).join("fail")).unwrap();
    engine.retry(&id, BTreeMap::new()).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Passed, "{:?}", run.error);
    // Only `flaky` ran again; `a`'s output was still there for it.
    assert_eq!(timer.runs.load(Ordering::SeqCst), 6);
    assert_eq!(run.job_named("a").unwrap().attempts, 1);
    assert_eq!(run.job_named("flaky").unwrap().attempts, 2);
    let log = engine
        .logs()
        .read_all(&slipway_core::LogKey::new(id.clone(), "flaky"))
        .await
        .unwrap();
    let texts: Vec<&str> = log.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["kept", "kept"]);
    assert!(
        engine.retry(&id, BTreeMap::new()).await.is_err(),
        "a passed run cannot be retried"
    );
}

fn gated_plan(needed: u32, timeout: Option<Duration>) -> Plan {
    let mut stage = Stage::new("prod", false, vec![job("deploy", json!({"ms": 1}))]);
    stage.approval = Some(Approval {
        approvers: vec!["ann".into(), "bob".into()],
        needed,
        timeout,
    });
    Plan::new(
        "p",
        vec![
            Stage::new("build", false, vec![job("build", json!({"ms": 1}))]),
            stage,
        ],
    )
}

async fn wait_for_gate(engine: &Engine, id: &slipway_core::RunId) {
    let mut events = engine.subscribe();
    if engine.get(id).await.unwrap().status == Status::WaitingApproval {
        return;
    }
    loop {
        if let Event::Run { run, status } = events.recv().await.unwrap()
            && &run == id
            && status == Status::WaitingApproval
        {
            return;
        }
    }
}

/// Submits a [`gated_plan`] needing `needed` approvals, without a timeout,
/// and waits until it waits at its gate.
async fn waiting_at_gate(engine: &Engine, needed: u32) -> slipway_core::RunId {
    let id = engine
        .submit(RunRequest::new(gated_plan(needed, None)))
        .await
        .unwrap();
    wait_for_gate(engine, &id).await;
    id
}

fn decision(by: &str, approve: bool, comment: &str) -> Decision {
    Decision {
        by: by.into(),
        by_id: None,
        answers_to: Vec::new(),
        approve,
        comment: comment.into(),
    }
}

#[tokio::test]
async fn approval_needs_n_distinct_approvers_and_records_them() {
    let (engine, _, _d) = engine();
    let id = waiting_at_gate(&engine, 2).await;
    let err = engine
        .decide(&id, "prod", decision("eve", true, ""))
        .await
        .unwrap_err();
    assert!(matches!(err, slipway_core::CoreError::NotAnApprover { .. }));
    engine
        .decide(&id, "prod", decision("ann", true, "looks fine"))
        .await
        .unwrap();
    let again = engine.decide(&id, "prod", decision("ann", true, "")).await;
    assert!(matches!(again, Err(slipway_core::CoreError::Conflict(_))));
    assert_eq!(
        engine.get(&id).await.unwrap().status,
        Status::WaitingApproval
    );
    engine
        .decide(&id, "prod", decision("bob", true, "ok"))
        .await
        .unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Passed);
    let who: Vec<(&str, &str)> = run.stages[1]
        .approvals
        .iter()
        .map(|d| (d.by.as_str(), d.comment.as_str()))
        .collect();
    assert_eq!(who, [("ann", "looks fine"), ("bob", "ok")]);
    let nothing_waits = engine.decide(&id, "prod", decision("bob", true, "")).await;
    assert!(matches!(
        nothing_waits,
        Err(slipway_core::CoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn approval_rejection_and_timeout_fail_the_run() {
    let (engine, _, _d) = engine();
    let id = waiting_at_gate(&engine, 1).await;
    engine
        .decide(&id, "prod", decision("bob", false, "not today"))
        .await
        .unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Failed);
    assert_eq!(run.stages[1].status, Status::Failed);
    assert_eq!(
        run.stages[1].error.as_deref(),
        Some("rejected by bob: not today")
    );
    assert_eq!(run.stages[1].jobs[0].status, Status::Skipped);

    let id = engine
        .submit(RunRequest::new(gated_plan(
            1,
            Some(Duration::from_millis(200)),
        )))
        .await
        .unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Failed);
    assert_eq!(run.stages[1].status, Status::TimedOut);
    assert!(run.error.unwrap().contains("approval timed out"));
}

#[tokio::test]
async fn concurrency_limit_queues_in_arrival_order_and_cancel_frees_the_line() {
    let (engine, _, _d) = engine();
    let mut plan = one_job("p", "s", job("j", json!({"ms": 40})));
    plan.concurrency_limit = 1;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let mut req = RunRequest::new(plan.clone());
        req.workflow_key = Some("wf".into());
        ids.push(engine.submit(req).await.unwrap());
    }
    // The first, which nothing held back, was recorded started by
    // `submit` itself (run, stage and job in one write); the others wait
    // in line, queued.
    let first = engine.store().get_run(&ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (
            first.status,
            first.stages[0].status,
            first.stages[0].jobs[0].status,
            first.stages[0].jobs[0].attempts
        ),
        (Status::Running, Status::Running, Status::Running, 1)
    );
    let second = engine.store().get_run(&ids[1]).await.unwrap().unwrap();
    assert_eq!(
        (second.status, second.stages[0].jobs[0].status),
        (Status::Queued, Status::Created)
    );
    // The third, still queued, is cancelled and leaves the line.
    engine.cancel(&ids[2], "not needed").await.unwrap();
    let mut runs = Vec::new();
    for id in &ids {
        runs.push(engine.wait(id).await.unwrap());
    }
    assert_eq!(runs[2].status, Status::Cancelled);
    assert_eq!(runs[2].error.as_deref(), Some("not needed"));
    assert_eq!(runs[2].stages[0].jobs[0].status, Status::Cancelled);
    assert!(runs[2].started_at.is_none());
    let done: Vec<_> = [0, 1, 3].iter().map(|&i| &runs[i]).collect();
    for w in done.windows(2) {
        assert_eq!(w[0].status, Status::Passed);
        assert!(
            w[0].finished_at.unwrap() <= w[1].started_at.unwrap(),
            "runs overlapped or ran out of order"
        );
    }
}

#[tokio::test]
async fn events_report_status_changes_and_log_lines() {
    let (engine, _, _d) = engine();
    let mut events = engine.subscribe();
    let plan = Plan::new(
        "p",
        vec![Stage::new(
            "s",
            false,
            vec![job("j", json!({"ms": 1, "say": "hello"}))],
        )],
    );
    let id = engine.submit(RunRequest::new(plan)).await.unwrap();
    engine.wait(&id).await.unwrap();
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(match e {
            Event::Run { status, .. } => format!("run {status}"),
            Event::Stage { stage, status, .. } => format!("stage {stage} {status}"),
            Event::Job { job, status, .. } => format!("job {job} {status}"),
            Event::Log { line, .. } => format!("log {} {}", line.seq, line.text),
        });
    }
    assert_eq!(
        seen,
        [
            "run queued",
            "run running",
            "stage s running",
            "job j running",
            "log 1 hello",
            "job j passed",
            "stage s passed",
            "run passed"
        ]
    );
}

#[tokio::test]
async fn a_passed_run_may_leave_no_workspace_behind_and_a_failed_one_keeps_it() {
    let timer = Arc::new(Timer {
        runs: AtomicUsize::new(0),
    });
    let mut reg = Registry::new();
    reg.register(timer).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder(reg)
        .workspace_root(dir.path())
        .remove_passed_workspaces(true)
        .build();
    let one = |fail: bool| {
        Plan::new(
            "p",
            vec![Stage::new(
                "s",
                false,
                vec![job("a", json!({"ms": 1, "fail": fail}))],
            )],
        )
    };
    let passed = engine.submit(RunRequest::new(one(false))).await.unwrap();
    assert_eq!(engine.wait(&passed).await.unwrap().status, Status::Passed);
    assert!(!dir.path().join(passed.as_str()).exists());
    let failed = engine.submit(RunRequest::new(one(true))).await.unwrap();
    assert_eq!(engine.wait(&failed).await.unwrap().status, Status::Failed);
    assert!(
        dir.path().join(failed.as_str()).is_dir(),
        "kept for a retry"
    );

    // Pruning: a workspace is deleted once its run finished long enough
    // ago, never while the run goes on; a directory no run owns goes by
    // its age; the scratch area stays.
    let slow = engine
        .submit(RunRequest::new(one_job(
            "p",
            "s",
            job("a", json!({"ms": 5000})),
        )))
        .await
        .unwrap();
    while !dir.path().join(slow.as_str()).is_dir() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::fs::create_dir_all(dir.path().join("left-by-nobody")).unwrap();
    let hour = Duration::from_secs(3600);
    assert!(engine.prune_workspaces(hour).await.unwrap().is_empty());
    assert!(dir.path().join(failed.as_str()).is_dir());
    let mut pruned: Vec<String> = engine
        .prune_workspaces(Duration::ZERO)
        .await
        .unwrap()
        .into_iter()
        .map(|id| id.to_string())
        .collect();
    pruned.sort();
    let mut expected = vec![failed.to_string(), "left-by-nobody".to_owned()];
    expected.sort();
    assert_eq!(pruned, expected);
    assert!(!dir.path().join(failed.as_str()).exists());
    assert!(dir.path().join(slow.as_str()).is_dir(), "still running");
    assert!(dir.path().join(".scratch").is_dir());
    engine.cancel(&slow, "done").await.unwrap();
    engine.wait(&slow).await.unwrap();
}

/// Reports, as its outputs, the paths it was given.
struct Paths;

#[async_trait]
impl JobKind for Paths {
    fn name(&self) -> &str {
        "paths"
    }

    fn validate(&self, _spec: &Value) -> Result<(), Vec<Problem>> {
        Ok(())
    }

    async fn run(&self, ctx: JobContext) -> JobOutcome {
        let shown = |p: &std::path::Path| p.to_string_lossy().into_owned();
        ctx.outputs.set("workspace", shown(&ctx.workspace));
        ctx.outputs.set("scratch", shown(&ctx.scratch));
        ctx.outputs.set("outputs_file", shown(&ctx.outputs_file));
        ctx.outputs.set(
            "env_workspace",
            ctx.env
                .get("SLIPWAY_WORKSPACE")
                .cloned()
                .unwrap_or_default(),
        );
        JobOutcome::Passed
    }
}

/// `p` (absolute) as a path relative to the current directory.
fn relative_to_cwd(p: &std::path::Path) -> std::path::PathBuf {
    let cwd = std::env::current_dir().unwrap();
    let mut rel = std::path::PathBuf::new();
    for _ in cwd.components().skip(1) {
        rel.push("..");
    }
    rel.join(p.strip_prefix("/").unwrap())
}

#[tokio::test]
async fn every_path_given_to_a_job_is_absolute_even_with_a_relative_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = relative_to_cwd(dir.path());
    assert!(root.is_relative());
    let mut reg = Registry::new();
    reg.register(Arc::new(Paths)).unwrap();
    let engine = Engine::builder(reg).workspace_root(&root).build();
    let plan = Plan::new(
        "p",
        vec![Stage::new(
            "s",
            false,
            vec![Job::new("j", "paths", json!({}))],
        )],
    );
    let id = engine.submit(RunRequest::new(plan)).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Passed);
    let outputs = &run.stages[0].jobs[0].outputs;
    assert_eq!(outputs.len(), 4, "{outputs:?}");
    let absolute_root = std::env::current_dir().unwrap().join(&root);
    for (what, path) in outputs {
        let path = std::path::Path::new(path);
        assert!(path.is_absolute(), "{what} is relative: {}", path.display());
        assert!(
            path.starts_with(&absolute_root),
            "{what} is not under the root: {}",
            path.display()
        );
    }
    assert_eq!(outputs["workspace"], outputs["env_workspace"]);
}

#[tokio::test]
async fn secrets_in_outputs_are_masked_before_they_are_recorded() {
    let (engine, _, _d) = engine();
    let plan = sequential(
        "p",
        vec![
            (
                "a",
                job(
                    "leak",
                    json!({"ms": 1, "outputs": {"token": "tok=hunter2-secret!", "plain": "fine", "k-hunter2-secret": "v"}}),
                ),
            ),
            (
                "b",
                job(
                    "reader",
                    json!({"ms": 1, "outputs": {"seen": "${{ jobs.leak.outputs.token }}"}}),
                ),
            ),
        ],
    );
    let mut req = RunRequest::new(plan);
    req.secrets.insert("TOKEN".into(), "hunter2-secret".into());
    let id = engine.submit(req).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Passed);
    let leak = &run.stages[0].jobs[0].outputs;
    assert_eq!(leak["token"], "tok=******!");
    assert_eq!(leak["plain"], "fine");
    // An output's name is masked too.
    assert_eq!(leak["k-******"], "v");
    assert!(leak.keys().all(|k| !k.contains("hunter2")), "{leak:?}");
    // Later jobs see what was recorded, never the value itself.
    assert_eq!(run.stages[1].jobs[0].outputs["seen"], "tok=******!");
    let stored = engine.store().get_run(&id).await.unwrap().unwrap();
    assert_eq!(stored.stages[0].jobs[0].outputs["token"], "tok=******!");
}

/// Submits a run of one 100 ms job from a short-lived runtime of its own
/// (as an HTTP worker's may be) that is shut down right after, and waits
/// for the run on `main`.
fn submit_from_a_passing_runtime(
    engine: &Engine,
    main: &tokio::runtime::Runtime,
) -> Result<slipway_core::RunRecord, tokio::time::error::Elapsed> {
    let plan = one_job("p", "s", job("a", json!({"ms": 100})));
    let worker = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let id = worker
        .block_on(engine.submit(RunRequest::new(plan)))
        .unwrap();
    // Every task spawned on it dies with it.
    drop(worker);
    main.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), engine.wait(&id))
            .await
            .map(|r| r.unwrap())
    })
}

#[test]
fn runs_are_driven_on_the_engines_runtime_whatever_runtime_submits_them() {
    let main = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Built on `main`: that is where its runs are driven.
    let (engine, _, _d) = main.block_on(async { engine() });
    let run = submit_from_a_passing_runtime(&engine, &main).expect("the run ended");
    assert_eq!(run.status, Status::Passed);

    // Built outside any runtime, and given `main` explicitly.
    let mut reg = Registry::new();
    reg.register(Arc::new(Timer {
        runs: AtomicUsize::new(0),
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder(reg)
        .workspace_root(dir.path())
        .runtime(main.handle().clone())
        .build();
    let run = submit_from_a_passing_runtime(&engine, &main).expect("the run ended");
    assert_eq!(run.status, Status::Passed);
}
