//! The `shell` job kind against real processes: steps, workspace, exit
//! codes, outputs, masking, cancel and spec validation.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, wait_for_line};
use serde_json::{Value, json};
use slipway_core::{JobKind, JobOutcome, Problem, Registry, Stream};
use slipway_exec::{ShellConfig, ShellKind};
use std::collections::BTreeMap;
use std::time::Duration;

/// How a job whose steps all exit with 0 ends: passed, with code 0.
const PASSED: JobOutcome = JobOutcome::PassedWithCode { exit_code: 0 };

fn kind() -> ShellKind {
    ShellKind::default()
}

fn steps(scripts: &[&str]) -> Value {
    json!({ "steps": scripts.iter().map(|s| json!({"script": s})).collect::<Vec<_>>() })
}

async fn run(fx: &Fixture, spec: Value) -> (JobOutcome, BTreeMap<String, String>) {
    run_env(fx, spec, BTreeMap::new()).await
}

async fn run_env(
    fx: &Fixture,
    spec: Value,
    env: BTreeMap<String, String>,
) -> (JobOutcome, BTreeMap<String, String>) {
    let k = kind();
    k.validate(&spec).unwrap();
    let ctx = fx.ctx(spec, env);
    let outputs = ctx.outputs.clone();
    let outcome = k.run(ctx).await;
    (outcome, outputs.snapshot())
}

#[tokio::test]
async fn a_failing_step_stops_the_job_with_its_exit_code() {
    let fx = Fixture::new();
    let spec = json!({"steps": [
        {"script": "echo one"},
        {"name": "build", "script": "echo broken >&2; exit 2"},
        {"name": "never", "script": "touch never-ran"},
    ]});
    let (outcome, _) = run(&fx, spec).await;
    assert_eq!(
        outcome,
        JobOutcome::Failed {
            error: "step `build` exited with code 2".into(),
            exit_code: Some(2),
        }
    );
    assert!(!fx.workspace.join("never-ran").exists());
    assert_eq!(
        fx.texts().await,
        ["$ step step-1", "one", "$ step build", "broken"]
    );
    assert_eq!(
        fx.stream(Stream::System).await,
        ["$ step step-1", "$ step build"]
    );
}

#[tokio::test]
async fn steps_share_one_workspace() {
    let fx = Fixture::new();
    let (outcome, _) = run(
        &fx,
        steps(&["echo from-step-1 > shared.txt", "cat shared.txt"]),
    )
    .await;
    assert_eq!(outcome, PASSED);
    assert_eq!(fx.stream(Stream::Stdout).await, ["from-step-1"]);
    assert!(fx.workspace.join("shared.txt").exists());
}

#[tokio::test]
async fn working_dir_is_created_inside_the_workspace() {
    let fx = Fixture::new();
    let spec = json!({"working_dir": "sub/dir", "steps": [{"script": "pwd; touch here"}]});
    let (outcome, _) = run(&fx, spec).await;
    assert_eq!(outcome, PASSED);
    assert!(fx.workspace.join("sub/dir/here").exists());
    let pwd = fx.stream(Stream::Stdout).await;
    assert!(pwd[0].ends_with("/workspace/sub/dir"), "{pwd:?}");
}

#[tokio::test]
async fn a_symlinked_working_dir_may_not_leave_the_workspace() {
    let fx = Fixture::new();
    std::os::unix::fs::symlink(fx.dir.path(), fx.workspace.join("out")).unwrap();
    let spec = json!({"working_dir": "out", "steps": [{"script": "touch escaped"}]});
    let (outcome, _) = run(&fx, spec).await;
    let JobOutcome::Failed { error, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(error.contains("outside the workspace"), "{error}");
    assert!(!fx.dir.path().join("escaped").exists());
}

#[tokio::test]
async fn outputs_are_read_from_slipway_output() {
    let fx = Fixture::new();
    let spec = steps(&[
        "echo version=1.4.2 >> \"$SLIPWAY_OUTPUT\"",
        "{ echo 'notes<<EOF'; echo 'line one'; echo 'line two'; echo EOF; } >> \"$SLIPWAY_OUTPUT\"",
        "echo 'not a valid line' >> \"$SLIPWAY_OUTPUT\"; echo 'bad key!=x' >> \"$SLIPWAY_OUTPUT\"",
    ]);
    let (outcome, outputs) = run(&fx, spec).await;
    assert_eq!(outcome, PASSED);
    assert_eq!(
        outputs,
        BTreeMap::from([
            ("notes".to_owned(), "line one\nline two".to_owned()),
            ("version".to_owned(), "1.4.2".to_owned()),
        ])
    );
    let system = fx.stream(Stream::System).await;
    assert_eq!(
        system[3..],
        [
            "warning: outputs file line 6: neither `key=value` nor `key<<DELIMITER`; ignored",
            "warning: outputs file line 7: invalid key `bad key!`; ignored",
        ]
    );
}

#[tokio::test]
async fn outputs_are_kept_when_a_step_fails() {
    let fx = Fixture::new();
    let (outcome, outputs) = run(
        &fx,
        steps(&["echo reason=flaky >> \"$SLIPWAY_OUTPUT\"; exit 1"]),
    )
    .await;
    assert!(matches!(
        outcome,
        JobOutcome::Failed {
            exit_code: Some(1),
            ..
        }
    ));
    assert_eq!(outputs.get("reason").map(String::as_str), Some("flaky"));
}

#[tokio::test]
async fn the_environment_comes_from_the_context() {
    let fx = Fixture::new();
    let env = BTreeMap::from([("GREETING".to_owned(), "hello there".to_owned())]);
    let spec = steps(&[
        "echo \"$GREETING\"; test ! -e \"$SLIPWAY_OUTPUT\" && test -w \"$(dirname \"$SLIPWAY_OUTPUT\")\" && echo outputs-file-can-be-written",
    ]);
    let (outcome, _) = run_env(&fx, spec, env).await;
    assert_eq!(outcome, PASSED);
    assert_eq!(
        fx.stream(Stream::Stdout).await,
        ["hello there", "outputs-file-can-be-written"]
    );
}

#[tokio::test]
async fn relative_paths_in_the_context_are_made_absolute_for_the_steps() {
    let fx = Fixture::new();
    // The paths as an embedder may give them: relative to this process's
    // current directory, which is not the step's.
    let cwd = std::env::current_dir().unwrap();
    let mut rel = std::path::PathBuf::new();
    for _ in cwd.components().skip(1) {
        rel.push("..");
    }
    let rel = |p: &std::path::Path| rel.join(p.strip_prefix("/").unwrap());
    let env = BTreeMap::from([(
        "SLIPWAY_WORKSPACE".to_owned(),
        rel(&fx.workspace).to_string_lossy().into_owned(),
    )]);
    let spec = steps(&[
        "echo v=1 >> \"$SLIPWAY_OUTPUT\"",
        "case \"$SLIPWAY_WORKSPACE\" in /*) echo absolute;; *) echo relative;; esac",
        "case \"$SLIPWAY_OUTPUT\" in /*) echo absolute;; *) echo relative;; esac",
    ]);
    let k = kind();
    let mut ctx = fx.ctx(spec, env);
    ctx.workspace = rel(&ctx.workspace);
    ctx.outputs_file = rel(&ctx.outputs_file);
    ctx.scratch = rel(&ctx.scratch);
    assert!(ctx.workspace.is_relative());
    let outputs = ctx.outputs.clone();
    let outcome = k.run(ctx).await;
    assert_eq!(outcome, PASSED, "{:?}", fx.texts().await);
    assert_eq!(outputs.snapshot().get("v").map(String::as_str), Some("1"));
    assert_eq!(fx.stream(Stream::Stdout).await, ["absolute", "absolute"]);
}

#[tokio::test]
async fn secrets_never_reach_the_sink() {
    let token = "s3cr3t-v4lue";
    let cert = "-----BEGIN-----\nQUJDREVGR0g=\n-----END-----";
    let fx = Fixture::with_secrets(&[token, cert]);
    let env = BTreeMap::from([
        ("API_TOKEN".to_owned(), token.to_owned()),
        ("CERT".to_owned(), cert.to_owned()),
    ]);
    let spec =
        steps(&["echo \"token is $API_TOKEN\"; printf '%s\\n' \"$CERT\"; echo \"$API_TOKEN\" >&2"]);
    let (outcome, _) = run_env(&fx, spec, env).await;
    assert_eq!(outcome, PASSED);
    assert_eq!(
        fx.stream(Stream::Stdout).await,
        ["token is ******", "******", "******", "******"]
    );
    assert_eq!(fx.stream(Stream::Stderr).await, ["******"]);
    for text in fx.texts().await {
        assert!(
            !text.contains("s3cr3t") && !text.contains("QUJDREVGR0g="),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_step_killed_by_a_signal_names_it() {
    let fx = Fixture::new();
    let (outcome, _) = run(
        &fx,
        json!({"steps": [{"name": "die", "script": "kill -KILL $$"}]}),
    )
    .await;
    assert_eq!(
        outcome,
        JobOutcome::Failed {
            error: "step `die` was killed by signal SIGKILL".into(),
            exit_code: None,
        }
    );
}

#[tokio::test]
async fn a_shell_that_cannot_start_fails_the_job_with_the_reason() {
    let fx = Fixture::new();
    let spec =
        json!({"shell": ["/nonexistent/shell", "-e"], "steps": [{"name": "s", "script": "true"}]});
    let (outcome, _) = run(&fx, spec).await;
    let JobOutcome::Failed { error, exit_code } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(exit_code, None);
    assert!(
        error.starts_with("step `s`: cannot start `/nonexistent/shell`"),
        "{error}"
    );
    // The log still says which step did not start.
    assert_eq!(fx.texts().await, ["$ step s"]);
}

#[tokio::test]
async fn cancel_stops_the_step_and_skips_the_rest() {
    let fx = Fixture::new();
    let k = ShellKind::new(ShellConfig {
        kill_grace: Duration::from_millis(300),
        ..ShellConfig::default()
    });
    let ctx = fx.ctx(
        steps(&["echo ready; sleep 300", "touch never-ran"]),
        BTreeMap::new(),
    );
    let cancel = ctx.cancel.clone();
    let mut rx = fx.subscribe();
    let task = tokio::spawn(async move { k.run(ctx).await });
    wait_for_line(&mut rx, "ready").await;
    cancel.cancel();
    assert_eq!(task.await.unwrap(), JobOutcome::Cancelled);
    assert!(!fx.workspace.join("never-ran").exists());
}

#[tokio::test]
async fn a_cancelled_context_runs_no_step() {
    let fx = Fixture::new();
    let ctx = fx.ctx(steps(&["touch ran"]), BTreeMap::new());
    ctx.cancel.cancel();
    assert_eq!(kind().run(ctx).await, JobOutcome::Cancelled);
    assert!(!fx.workspace.join("ran").exists());
}

#[tokio::test]
async fn large_scripts_are_passed_in_a_file() {
    let fx = Fixture::new();
    let big = format!("echo \"$0\"\necho big\n#{}\n", "x".repeat(70 * 1024));
    let (outcome, _) = run(
        &fx,
        json!({"steps": [{"script": "echo \"$0\""}, {"script": big}]}),
    )
    .await;
    assert_eq!(outcome, PASSED);
    let out = fx.stream(Stream::Stdout).await;
    assert_eq!(out[0], "sh", "a small script is passed with -c");
    assert!(out[1].ends_with("/step-2.sh"), "{out:?}");
    assert_eq!(out[2], "big");
}

#[tokio::test]
async fn the_shell_can_be_set_for_the_job_and_per_step() {
    let fx = Fixture::new();
    let spec = json!({
        "shell": "bash -e",
        "steps": [
            {"name": "lenient", "script": "false | true; echo \"$BASH_VERSION\" | cut -c1"},
            {"name": "strict", "shell": ["bash", "-eo", "pipefail"], "script": "false | true"},
        ],
    });
    let (outcome, _) = run(&fx, spec).await;
    assert_eq!(
        outcome,
        JobOutcome::Failed {
            error: "step `strict` exited with code 1".into(),
            exit_code: Some(1),
        }
    );
    let out = fx.stream(Stream::Stdout).await;
    assert_eq!(out.len(), 1);
    assert!(
        out[0].chars().all(|c| c.is_ascii_digit()),
        "not bash: {out:?}"
    );
}

fn problems(spec: Value) -> Vec<String> {
    kind()
        .validate(&spec)
        .unwrap_err()
        .iter()
        .map(Problem::to_string)
        .collect()
}

#[test]
fn validate_lists_every_problem_with_its_path() {
    let spec = json!({
        "shell": "  ",
        "working_dir": "../elsewhere",
        "colour": "red",
        "steps": [
            {"script": "make"},
            {"name": "test"},
            {"name": "test", "script": 7, "shell": [], "retries": 2},
            "echo hi",
        ],
    });
    assert_eq!(
        problems(spec),
        [
            "colour: unknown field (known: shell, working_dir, repo, steps)",
            "shell: must not be empty",
            "working_dir: must be a relative path inside the workspace",
            "steps[1].script: required",
            "steps[2].retries: unknown field (known: name, script, shell)",
            "steps[2].name: duplicate step name `test`",
            "steps[2].script: must be a string",
            "steps[2].shell: must not be empty",
            "steps[3]: must be an object with a `script`",
        ]
    );
}

#[test]
fn validate_names_missing_and_empty_steps_and_bad_paths() {
    assert_eq!(problems(json!({})), ["steps: required"]);
    assert_eq!(problems(json!({"steps": []})), ["steps: must not be empty"]);
    assert_eq!(
        problems(json!({"steps": "echo"})),
        ["steps: must be a list of steps"]
    );
    assert_eq!(
        problems(json!("echo")),
        [": must be an object with `steps`"]
    );
    assert_eq!(
        problems(json!({"working_dir": "/etc", "steps": [{"script": " "}]})),
        [
            "working_dir: must be a relative path inside the workspace",
            "steps[0].script: must not be empty",
        ]
    );
    assert_eq!(
        problems(json!({"shell": ["bash", 1], "steps": [{"script": "x"}]})),
        ["shell[1]: must be a string"]
    );
    assert!(
        kind()
            .validate(&json!({"shell": null, "steps": [{"script": "x"}]}))
            .is_ok()
    );
}

#[test]
fn register_builtin_adds_shell_and_freestyle() {
    let mut reg = Registry::new();
    slipway_exec::register_builtin(&mut reg).unwrap();
    assert_eq!(reg.names(), ["freestyle", "shell"]);
    assert_eq!(reg.get("freestyle").unwrap().name(), "shell");
    assert!(
        slipway_exec::register_builtin(&mut reg).is_err(),
        "twice is a duplicate"
    );
}

#[tokio::test]
async fn a_repo_is_validated_and_needs_a_git_source() {
    let problems = kind()
        .validate(&json!({"repo": {"url": "", "branch": "x", "subdir": "../up"}, "steps": [{"script": "true"}]}))
        .unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        ["repo.branch", "repo.url", "repo.ref", "repo.subdir"]
    );

    let fx = Fixture::new();
    let spec = json!({"repo": {"url": "https://ann:secret@example.invalid/r.git", "ref": "main"}, "steps": [{"script": "touch ran"}]});
    let (outcome, _) = run(&fx, spec).await;
    match outcome {
        JobOutcome::Failed { error, .. } => {
            assert!(error.contains("no git source"), "{error}");
            assert!(!error.contains("secret"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!fx.workspace.join("ran").exists());
}
