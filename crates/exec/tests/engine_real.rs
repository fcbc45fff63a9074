//! The engine driving real processes through the `shell` kind: the tests
//! the foundation issue names. Proofs come from files the jobs write and
//! the records' own times, not from sleeping.
#![allow(clippy::unwrap_used)]

mod common;

use common::{alive, group_members, proc_stat};
use serde_json::json;
use slipway_core::{
    Approval, Decision, Engine, Event, Job, LogKey, Plan, Registry, RunId, RunRecord, RunRequest,
    Stage, Status,
};
use slipway_testkit::plan::sequential;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

fn engine(dir: &Path) -> Engine {
    let mut reg = Registry::new();
    slipway_exec::register_builtin(&mut reg).unwrap();
    Engine::builder(reg)
        .workspace_root(dir)
        .cancel_wait(Duration::from_secs(20))
        .build()
}

fn sh(name: &str, script: &str) -> Job {
    Job::new(
        name,
        "shell",
        json!({"steps": [{"name": "main", "script": script}]}),
    )
}

fn one_stage(parallel: bool, jobs: Vec<Job>) -> Plan {
    Plan::new("test", vec![Stage::new("s", parallel, jobs)])
}

async fn log_text(engine: &Engine, id: &RunId, job: &str) -> Vec<String> {
    engine
        .logs()
        .read_all(&LogKey::new(id.clone(), job))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect()
}

/// Waits (bounded) until `path` holds at least `n` lines.
async fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    for _ in 0..2000 {
        if let Ok(s) = std::fs::read_to_string(path) {
            let lines: Vec<String> = s.lines().map(str::to_owned).collect();
            if lines.len() >= n {
                return lines;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} never got {n} lines", path.display());
}

fn job_of<'a>(run: &'a RunRecord, name: &str) -> &'a slipway_core::JobRecord {
    run.job_named(name).unwrap()
}

#[tokio::test]
async fn parallel_jobs_overlap_and_sequential_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    // Each parallel job signals its start and waits for the other's
    // signal: they can only pass if they really run together.
    let meet = |me: &str, other: &str| {
        format!(
            "touch {me}; i=0; while [ ! -e {other} ]; do sleep 0.01; i=$((i+1)); [ $i -lt 2000 ] || exit 7; done"
        )
    };
    let plan = Plan::new(
        "p",
        vec![
            Stage::new(
                "together",
                true,
                vec![sh("a", &meet("a", "b")), sh("b", &meet("b", "a"))],
            ),
            Stage::new(
                "in-turn",
                false,
                vec![
                    sh("c", "test ! -e d && touch c"),
                    sh("d", "test -e c && touch d"),
                ],
            ),
        ],
    );
    let id = engine.submit(RunRequest::new(plan)).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Passed, "{:?}", run.error);
    let (a, b) = (job_of(&run, "a"), job_of(&run, "b"));
    assert!(
        a.started_at < b.finished_at && b.started_at < a.finished_at,
        "a and b did not overlap"
    );
    let (c, d) = (job_of(&run, "c"), job_of(&run, "d"));
    assert!(c.finished_at <= d.started_at, "c and d overlapped");
    assert!(run.stages[0].finished_at <= run.stages[1].started_at);
}

#[tokio::test]
async fn cancelling_a_run_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let pids = dir.path().join("pids");
    let script = format!(
        "sh -c 'sleep 300 & echo $! >> {p}; sleep 300 & echo $! >> {p}; echo $$ >> {p}; wait'",
        p = pids.display()
    );
    let id = engine
        .submit(RunRequest::new(one_stage(false, vec![sh("long", &script)])))
        .await
        .unwrap();
    let listed: Vec<i32> = wait_lines(&pids, 3)
        .await
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    let pgid = proc_stat(listed[2]).unwrap().1;
    assert!(
        group_members(pgid).len() >= 4,
        "shell, inner sh and two sleeps"
    );
    engine.cancel(&id, "stop it").await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Cancelled);
    assert_eq!(run.error.as_deref(), Some("stop it"));
    assert_eq!(job_of(&run, "long").status, Status::Cancelled);
    for pid in &listed {
        assert!(!alive(*pid), "pid {pid} survived the cancel");
    }
    assert_eq!(group_members(pgid), Vec::<i32>::new());
}

#[tokio::test]
async fn timeout_kills_the_group_and_non_zero_exit_fails_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let pids = dir.path().join("pids");
    let mut slow = sh(
        "slow",
        &format!(
            "sleep 300 & echo $! >> {p}; echo $$ >> {p}; wait",
            p = pids.display()
        ),
    );
    slow.timeout = Some(Duration::from_millis(700));
    let id = engine
        .submit(RunRequest::new(one_stage(
            true,
            vec![slow, sh("bad", "echo oops >&2; exit 42")],
        )))
        .await
        .unwrap();
    let run = engine.wait(&id).await.unwrap();
    let listed: Vec<i32> = wait_lines(&pids, 2)
        .await
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    let slow = job_of(&run, "slow");
    assert_eq!(slow.status, Status::TimedOut);
    assert!(slow.error.as_deref().unwrap().contains("timed out"));
    for pid in &listed {
        assert!(!alive(*pid), "pid {pid} survived the timeout");
    }
    let bad = job_of(&run, "bad");
    assert_eq!(bad.status, Status::Failed);
    assert_eq!(bad.exit_code, Some(42));
    assert!(
        bad.error.as_deref().unwrap().contains("42"),
        "{:?}",
        bad.error
    );
    assert_eq!(log_text(&engine, &id, "bad").await.last().unwrap(), "oops");
    assert_eq!(run.status, Status::TimedOut);
}

#[tokio::test]
async fn retry_reruns_only_failed_jobs_and_keeps_earlier_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let count = dir.path().join("count");
    let gate = dir.path().join("let-it-pass");
    let build = format!(
        "echo build >> {}; echo version=1.4.2 >> \"$SLIPWAY_OUTPUT\"",
        count.display()
    );
    let deploy = format!(
        "echo deploy >> {c}; echo \"deploying ${{{{ jobs.build.outputs.version }}}}\"; test -e {g}",
        c = count.display(),
        g = gate.display()
    );
    let plan = sequential(
        "p",
        vec![
            ("build", sh("build", &build)),
            ("deploy", sh("deploy", &deploy)),
        ],
    );
    let id = engine.submit(RunRequest::new(plan)).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Failed);
    assert_eq!(job_of(&run, "deploy").status, Status::Failed);
    std::fs::write(&gate, "").unwrap();
    engine.retry(&id, BTreeMap::new()).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Passed, "{:?}", run.error);
    assert_eq!(
        std::fs::read_to_string(&count).unwrap(),
        "build\ndeploy\ndeploy\n"
    );
    assert_eq!(job_of(&run, "build").outputs["version"], "1.4.2");
    let log = log_text(&engine, &id, "deploy").await;
    assert_eq!(
        log.iter().filter(|l| *l == "deploying 1.4.2").count(),
        2,
        "{log:?}"
    );
}

#[tokio::test]
async fn approval_gates_approve_reject_and_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let marker = dir.path().join("deployed");
    let plan = |timeout: Option<Duration>| {
        let mut prod = Stage::new(
            "prod",
            false,
            vec![sh("deploy", &format!("echo x >> {}", marker.display()))],
        );
        prod.approval = Some(Approval {
            approvers: vec!["ann".into()],
            needed: 1,
            timeout,
        });
        Plan::new(
            "p",
            vec![Stage::new("build", false, vec![sh("build", "true")]), prod],
        )
    };
    let mut events = engine.subscribe();
    let approved = engine.submit(RunRequest::new(plan(None))).await.unwrap();
    let rejected = engine.submit(RunRequest::new(plan(None))).await.unwrap();
    let mut waiting = 0;
    while waiting < 2 {
        if let Event::Stage {
            status: Status::WaitingApproval,
            ..
        } = events.recv().await.unwrap()
        {
            waiting += 1;
        }
    }
    assert!(!marker.exists(), "a gated stage ran before approval");
    let yes = Decision {
        by: "ann".into(),
        by_id: None,
        answers_to: Vec::new(),
        approve: true,
        comment: "go".into(),
    };
    let no = Decision {
        by: "ann".into(),
        by_id: None,
        answers_to: Vec::new(),
        approve: false,
        comment: "freeze".into(),
    };
    engine.decide(&approved, "prod", yes).await.unwrap();
    engine.decide(&rejected, "prod", no).await.unwrap();
    assert_eq!(engine.wait(&approved).await.unwrap().status, Status::Passed);
    let run = engine.wait(&rejected).await.unwrap();
    assert_eq!(run.status, Status::Failed);
    assert_eq!(run.stages[1].approvals[0].comment, "freeze");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "x\n",
        "only the approved run deployed"
    );

    let timed = engine
        .submit(RunRequest::new(plan(Some(Duration::from_millis(300)))))
        .await
        .unwrap();
    let run = engine.wait(&timed).await.unwrap();
    assert_eq!(
        (run.status, run.stages[1].status),
        (Status::Failed, Status::TimedOut)
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "x\n");
}

#[tokio::test]
async fn concurrency_limit_one_runs_three_runs_one_after_another_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let order = dir.path().join("order");
    let mut ids = Vec::new();
    for n in 0..3 {
        let mut plan = one_stage(
            false,
            vec![sh(
                "j",
                &format!(
                    "echo start-{n} >> {o}; sleep 0.1; echo end-{n} >> {o}",
                    o = order.display()
                ),
            )],
        );
        plan.concurrency_limit = 1;
        let mut req = RunRequest::new(plan);
        req.workflow_key = Some("wf-1".into());
        ids.push(engine.submit(req).await.unwrap());
    }
    let mut runs = Vec::new();
    for id in &ids {
        runs.push(engine.wait(id).await.unwrap());
    }
    assert_eq!(
        std::fs::read_to_string(&order).unwrap(),
        "start-0\nend-0\nstart-1\nend-1\nstart-2\nend-2\n"
    );
    for w in runs.windows(2) {
        assert!(w[0].finished_at <= w[1].started_at);
    }
}

#[tokio::test]
async fn secrets_reach_the_job_but_never_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let seen = dir.path().join("seen");
    let script = format!(
        "echo \"token is $API_TOKEN\"; printf '%s\\n' \"$CERT\"; echo \"$API_TOKEN\" > {}",
        seen.display()
    );
    let mut req = RunRequest::new(one_stage(false, vec![sh("leaky", &script)]));
    req.secrets
        .insert("API_TOKEN".into(), "s3cr3t-v4lue".into());
    req.secrets.insert(
        "CERT".into(),
        "-----BEGIN-----\nQUJDREVGR0g=\n-----END-----".into(),
    );
    let mut events = engine.subscribe();
    let id = engine.submit(req).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Passed);
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "s3cr3t-v4lue\n");
    let log = log_text(&engine, &id, "leaky").await;
    let stdout: Vec<&String> = log.iter().filter(|l| !l.starts_with("$ ")).collect();
    assert_eq!(stdout, ["token is ******", "******", "******", "******"]);
    while let Ok(e) = events.try_recv() {
        if let Event::Log { line, .. } = e {
            assert!(!line.text.contains("s3cr3t") && !line.text.contains("QUJDREVGR0g="));
        }
    }
    let stored = format!("{run:?}");
    assert!(
        !stored.contains("s3cr3t"),
        "a secret was stored in the run record"
    );
}

#[test]
fn plan_validation_lists_every_problem_with_its_place() {
    let mut reg = Registry::new();
    slipway_exec::register_builtin(&mut reg).unwrap();
    let plan = Plan::new(
        "p",
        vec![
            Stage::new("a", false, vec![sh("x", "true"), sh("x", "true")]),
            Stage::new("b", true, vec![Job::new("y", "freestyle", json!({}))]),
            Stage::new("c", false, vec![]),
            Stage::new("d", false, vec![Job::new("z", "docker", json!({}))]),
        ],
    );
    let problems: Vec<String> = plan
        .validate(&reg)
        .unwrap_err()
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(
        problems,
        [
            "stages[0].jobs[1].name: duplicate job name `x`",
            "stages[1].jobs[0].spec.steps: required",
            "stages[2].jobs: a stage needs at least one job",
            "stages[3].jobs[0].kind: unknown job kind `docker` (known: freestyle, shell)",
        ]
    );
}

#[tokio::test]
async fn similar_job_names_each_get_their_own_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    // `a/b`, `a_b` and `a.b` once shared one outputs file. Each writes
    // its name, waits until all three have, and reads its file back.
    let names = ["a/b", "a_b", "a.b"];
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let jobs = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            sh(
                name,
                &format!(
                    "echo \"me=$SLIPWAY_JOB\" >> \"$SLIPWAY_OUTPUT\"; touch {m}/{i}; \
                     n=0; while [ $(ls {m} | wc -l) -lt 3 ]; do sleep 0.01; n=$((n+1)); [ $n -lt 2000 ] || exit 7; done; \
                     cat \"$SLIPWAY_OUTPUT\"",
                    m = marks.display()
                ),
            )
        })
        .collect();
    let id = engine
        .submit(RunRequest::new(one_stage(true, jobs)))
        .await
        .unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Passed, "{:?}", run.error);
    for name in names {
        let job = job_of(&run, name);
        assert_eq!(
            job.outputs,
            BTreeMap::from([("me".to_owned(), name.to_owned())]),
            "{name}"
        );
        assert_eq!(
            log_text(&engine, &id, name).await[1..],
            [format!("me={name}")]
        );
    }
}

#[tokio::test]
async fn a_passed_shell_job_records_exit_code_0() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let id = engine
        .submit(RunRequest::new(one_stage(
            false,
            vec![sh("ok", "true"), sh("bad", "exit 3")],
        )))
        .await
        .unwrap();
    let run = engine.wait(&id).await.unwrap();
    let ok = job_of(&run, "ok");
    assert_eq!(ok.status, Status::Passed);
    assert_eq!(ok.exit_code, Some(0));
    assert_eq!(job_of(&run, "bad").exit_code, Some(3));
    let stored = engine.store().get_run(&id).await.unwrap().unwrap();
    assert_eq!(job_of(&stored, "ok").exit_code, Some(0));
}

#[tokio::test]
async fn a_secret_written_to_an_output_is_recorded_masked() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let plan = sequential(
        "p",
        vec![
            (
                "a",
                sh(
                    "leak",
                    "echo \"token=Bearer $API_TOKEN\" >> \"$SLIPWAY_OUTPUT\"; echo plain=ok >> \"$SLIPWAY_OUTPUT\"",
                ),
            ),
            ("b", sh("next", "echo 'got ${{ jobs.leak.outputs.token }}'")),
        ],
    );
    let mut req = RunRequest::new(plan);
    req.secrets
        .insert("API_TOKEN".into(), "tok-0123456789".into());
    let id = engine.submit(req).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(run.status, Status::Passed, "{:?}", run.error);
    let leak = job_of(&run, "leak");
    assert_eq!(leak.outputs["token"], "Bearer ******");
    assert_eq!(leak.outputs["plain"], "ok");
    let stored = engine.store().get_run(&id).await.unwrap().unwrap();
    assert_eq!(job_of(&stored, "leak").outputs["token"], "Bearer ******");
    assert!(
        log_text(&engine, &id, "next")
            .await
            .contains(&"got Bearer ******".to_owned())
    );
}

#[tokio::test]
async fn outputs_flow_with_a_relative_workspace_root() {
    let dir = tempfile::tempdir().unwrap();
    // The server's default data directory is relative (`./slipway-data`).
    let cwd = std::env::current_dir().unwrap();
    let mut root = std::path::PathBuf::new();
    for _ in cwd.components().skip(1) {
        root.push("..");
    }
    let root = root.join(dir.path().strip_prefix("/").unwrap());
    let mut reg = Registry::new();
    slipway_exec::register_builtin(&mut reg).unwrap();
    let engine = Engine::builder(reg).workspace_root(&root).build();
    let plan = sequential(
        "p",
        vec![
            (
                "a",
                sh(
                    "write",
                    "echo v=1 >> \"$SLIPWAY_OUTPUT\"; echo \"$SLIPWAY_WORKSPACE\"",
                ),
            ),
            ("b", sh("read", "test '${{ jobs.write.outputs.v }}' = 1")),
        ],
    );
    let id = engine.submit(RunRequest::new(plan)).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    assert_eq!(
        run.status,
        Status::Passed,
        "{:?} {:?}",
        run.error,
        log_text(&engine, &id, "write").await
    );
    assert_eq!(job_of(&run, "write").outputs["v"], "1");
    let shown = log_text(&engine, &id, "write").await;
    assert!(shown[1].starts_with('/'), "{shown:?}");
}
