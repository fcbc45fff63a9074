//! A shell job that declares a `repo` gets the commit checked out into its
//! workspace before its steps run, with the commit's variables, through
//! the real engine, the real shell kind and a real repository.
#![allow(clippy::unwrap_used)]

use serde_json::json;
use slipway_core::{Engine, Job, LogKey, Plan, Registry, RunRequest, Stage, Status};
use slipway_exec::ShellConfig;
use slipway_git::{GitConfig, GixSource};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ann")
        .env("GIT_AUTHOR_EMAIL", "ann@example.invalid")
        .env("GIT_COMMITTER_NAME", "Ann")
        .env("GIT_COMMITTER_EMAIL", "ann@example.invalid")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_with_a_repo_runs_in_its_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("app")).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("app/README.md"), "hello from the repo\n").unwrap();
    std::fs::write(work.join("app/run.sh"), "#!/bin/sh\necho script ran\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["update-index", "--chmod=+x", "app/run.sh"]);
    git(&work, &["commit", "-q", "-m", "first commit"]);
    let commit = git(&work, &["rev-parse", "main"]);
    let bare = tmp.path().join("repo.git");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );

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
    let plan = Plan::new(
        "checkout",
        vec![Stage::new(
            "build",
            false,
            vec![Job::new(
                "build",
                "shell",
                json!({
                    "repo": {"url": format!("file://{}", bare.display()), "ref": "main", "subdir": "app"},
                    "steps": [{"script": "cat README.md; ./run.sh; echo \"commit=$SLIPWAY_COMMIT ref=$SLIPWAY_REF msg=$SLIPWAY_COMMIT_MESSAGE\""}]
                }),
            )],
        )],
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
    let bad = Plan::new(
        "checkout",
        vec![Stage::new(
            "build",
            false,
            vec![Job::new(
                "build",
                "shell",
                json!({
                    "repo": {"url": format!("file://{}", bare.display()), "ref": "no-such-branch"},
                    "steps": [{"script": "touch ran"}]
                }),
            )],
        )],
    );
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
