//! A shell job that declares a `repo` gets the commit checked out into its
//! workspace before its steps run, with the commit's variables, through
//! the real engine, the real shell kind and a real repository.
#![allow(clippy::unwrap_used)]

use serde_json::json;
use slipway_core::{Engine, Job, LogKey, Plan, Registry, RunRequest, Status};
use slipway_exec::ShellConfig;
use slipway_git::{GitConfig, GixSource};
use slipway_testkit::git::{clone, git, init};
use slipway_testkit::plan::one_job;
use std::sync::Arc;

/// A `shell` job `build` whose workspace is a checkout of `repo`.
fn checkout_plan(repo: serde_json::Value, script: &str) -> Plan {
    one_job(
        "checkout",
        "build",
        Job::new(
            "build",
            "shell",
            json!({"repo": repo, "steps": [{"script": script}]}),
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_with_a_repo_runs_in_its_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    init(&work);
    std::fs::create_dir_all(work.join("app")).unwrap();
    std::fs::write(work.join("app/README.md"), "hello from the repo\n").unwrap();
    std::fs::write(work.join("app/run.sh"), "#!/bin/sh\necho script ran\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["update-index", "--chmod=+x", "app/run.sh"]);
    git(&work, &["commit", "-q", "-m", "first commit"]);
    let commit = git(&work, &["rev-parse", "main"]);
    let bare = tmp.path().join("repo.git");
    clone(tmp.path(), &work, &bare, true);

    let mut config = GitConfig::new(tmp.path().join("data"));
    config.allow_local = true;
    let source = GixSource::new(config).unwrap();
    let mut registry = Registry::new();
    slipway_exec::register_builtin_with(
        &mut registry,
        ShellConfig {
            git: Some(Arc::new(source)),
            ..ShellConfig::default()
        },
    )
    .unwrap();
    let engine = Engine::builder(registry)
        .workspace_root(tmp.path().join("ws"))
        .build();
    let url = format!("file://{}", bare.display());
    let plan = checkout_plan(
        json!({"url": url, "ref": "main", "subdir": "app"}),
        "cat README.md; ./run.sh; echo \"commit=$SLIPWAY_COMMIT ref=$SLIPWAY_REF msg=$SLIPWAY_COMMIT_MESSAGE\"",
    );
    let id = engine.submit(RunRequest::new(plan)).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    let log = engine
        .logs()
        .read_all(&LogKey::new(id, "build"))
        .await
        .unwrap();
    let texts: Vec<&str> = log.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(run.status, Status::Passed, "{texts:?}");
    assert!(texts.contains(&"hello from the repo"), "{texts:?}");
    assert!(texts.contains(&"script ran"), "{texts:?}");
    let expected = format!("commit={commit} ref=refs/heads/main msg=first commit");
    assert!(texts.contains(&expected.as_str()), "{texts:?} / {expected}");

    // A ref that does not exist fails the job before any step runs.
    let bad = checkout_plan(json!({"url": url, "ref": "no-such-branch"}), "touch ran");
    let id = engine.submit(RunRequest::new(bad)).await.unwrap();
    let run = engine.wait(&id).await.unwrap();
    let job = &run.stages[0].jobs[0];
    assert_eq!(job.status, Status::Failed);
    assert!(
        job.error
            .as_deref()
            .unwrap_or_default()
            .contains("checkout"),
        "{:?}",
        job.error
    );
    assert!(!tmp.path().join("ws").join(id.as_str()).join("ran").exists());
}
