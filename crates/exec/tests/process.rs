//! The process runner against real processes: output streaming, exit
//! status, environment, and stopping whole process groups.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    Fixture, SlowCountingSink, alive, group_members, proc_stat, read_pids, wait_for_line,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use slipway_core::{Masker, Stream};
use slipway_exec::{ExecError, ExitKind, GroupHandle, ProcessSpec, run_process};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn sh(fx: &Fixture, script: &str) -> ProcessSpec {
    ProcessSpec::new("sh", &fx.workspace).arg("-c").arg(script)
}

async fn run(fx: &Fixture, spec: &ProcessSpec) -> slipway_exec::ProcessExit {
    run_process(spec, &fx.log, &CancellationToken::new())
        .await
        .unwrap()
}

/// Starts `spec` in a task, waits for the log line `ready`, cancels, and
/// returns the result and how long the stop took.
async fn run_until_ready_then_cancel(
    fx: &Fixture,
    spec: ProcessSpec,
) -> (slipway_exec::ProcessExit, Duration) {
    let mut rx = fx.subscribe();
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let (log, cancel) = (fx.log.clone(), cancel.clone());
        async move { run_process(&spec, &log, &cancel).await }
    });
    wait_for_line(&mut rx, "ready").await;
    let start = Instant::now();
    cancel.cancel();
    let exit = task.await.unwrap().unwrap();
    (exit, start.elapsed())
}

#[tokio::test]
async fn stdout_and_stderr_lines_keep_their_stream_and_order() {
    let fx = Fixture::new();
    let script =
        "for i in 1 2 3 4 5; do echo out-$i; echo err-$i >&2; done; printf 'no-newline-at-end'";
    let exit = run(&fx, &sh(&fx, script)).await;
    assert_eq!(exit.exit, ExitKind::Code(0));
    assert!(!exit.cancelled);
    assert_eq!(
        fx.stream(Stream::Stdout).await,
        [
            "out-1",
            "out-2",
            "out-3",
            "out-4",
            "out-5",
            "no-newline-at-end"
        ]
    );
    assert_eq!(
        fx.stream(Stream::Stderr).await,
        ["err-1", "err-2", "err-3", "err-4", "err-5"]
    );
    let lines = fx.lines().await;
    assert!(lines.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    for s in [Stream::Stdout, Stream::Stderr] {
        let ats: Vec<_> = lines
            .iter()
            .filter(|l| l.stream == s)
            .map(|l| l.at)
            .collect();
        assert!(
            ats.windows(2).all(|w| w[0] <= w[1]),
            "times of {s:?} go backwards"
        );
    }
}

#[tokio::test]
async fn crlf_is_stripped_and_invalid_utf8_is_replaced() {
    let fx = Fixture::new();
    let exit = run(
        &fx,
        &sh(&fx, r"printf 'dos\r\nbad \377\376 bytes\n\ncaf\303\251\n'"),
    )
    .await;
    assert_eq!(exit.exit, ExitKind::Code(0));
    assert_eq!(
        fx.stream(Stream::Stdout).await,
        ["dos", "bad \u{FFFD}\u{FFFD} bytes", "", "café"]
    );
}

#[tokio::test]
async fn long_lines_are_split_at_64_kib() {
    let fx = Fixture::new();
    // 150000 x's on one line, then a line of exactly 64 KiB, then "end".
    let script = "head -c 150000 /dev/zero | tr '\\0' x; echo; \
                  head -c 65536 /dev/zero | tr '\\0' y; echo; echo end";
    let exit = run(&fx, &sh(&fx, script)).await;
    assert_eq!(exit.exit, ExitKind::Code(0));
    let out = fx.stream(Stream::Stdout).await;
    let lens: Vec<usize> = out.iter().map(String::len).collect();
    assert_eq!(lens, [65536, 65536, 150000 - 2 * 65536, 65536, 3]);
    assert!(out[..3].iter().all(|l| l.bytes().all(|b| b == b'x')));
    assert!(out[3].bytes().all(|b| b == b'y'));
    assert_eq!(out[4], "end");
}

#[tokio::test]
async fn a_split_never_cuts_a_utf8_character() {
    let fx = Fixture::new();
    // One ASCII byte, then 2-byte characters: a 64 KiB boundary falls in
    // the middle of one.
    let script = "printf a; i=0; while [ $i -lt 40000 ]; do printf '\\303\\251'; i=$((i+1)); done";
    run(&fx, &sh(&fx, script)).await;
    let out = fx.stream(Stream::Stdout).await;
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|l| !l.contains('\u{FFFD}')));
    assert_eq!(out.concat(), format!("a{}", "é".repeat(40000)));
}

#[tokio::test]
async fn exit_codes_and_signals_are_recorded() {
    let fx = Fixture::new();
    assert_eq!(run(&fx, &sh(&fx, "exit 3")).await.exit, ExitKind::Code(3));
    let killed = run(&fx, &sh(&fx, "kill -KILL $$")).await;
    assert_eq!(killed.exit, ExitKind::Signal(9));
    assert!(!killed.cancelled);
    assert_eq!(ExitKind::signal_name(9), "SIGKILL");
}

#[tokio::test]
async fn environment_is_the_allowlist_plus_the_spec() {
    let fx = Fixture::new();
    let spec = sh(&fx, "env").env("FOO", "bar baz").env("HOME", "/nowhere");
    run(&fx, &spec).await;
    let env: BTreeMap<String, String> = fx
        .stream(Stream::Stdout)
        .await
        .iter()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    assert_eq!(env.get("FOO").map(String::as_str), Some("bar baz"));
    assert_eq!(
        env.get("HOME").map(String::as_str),
        Some("/nowhere"),
        "the spec wins"
    );
    // The shell itself adds PWD (and maybe OLDPWD, SHLVL, _).
    let shell_own = ["PWD", "OLDPWD", "SHLVL", "_"];
    for k in env.keys() {
        assert!(
            slipway_exec::process::PASS_THROUGH_ENV.contains(&k.as_str())
                || ["FOO", "HOME"].contains(&k.as_str())
                || shell_own.contains(&k.as_str()),
            "unexpected variable {k} leaked into the process"
        );
    }
    if let Ok(path) = std::env::var("PATH") {
        assert_eq!(env.get("PATH"), Some(&path));
    }
    assert!(!env.contains_key("CARGO_MANIFEST_DIR"));
}

#[tokio::test]
async fn standard_input_is_empty_and_cwd_is_used() {
    let fx = Fixture::new();
    let exit = run(&fx, &sh(&fx, "cat; pwd")).await;
    assert_eq!(exit.exit, ExitKind::Code(0));
    let cwd = fx.workspace.canonicalize().unwrap();
    assert_eq!(fx.stream(Stream::Stdout).await, [cwd.to_str().unwrap()]);
}

#[tokio::test]
async fn a_program_that_cannot_start_is_a_spawn_error() {
    let fx = Fixture::new();
    let spec = ProcessSpec::new("/nonexistent/program", &fx.workspace);
    let err = run_process(&spec, &fx.log, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(&err, ExecError::Spawn { program, .. } if program == "/nonexistent/program"));
    assert!(
        err.to_string()
            .contains("cannot start `/nonexistent/program`"),
        "{err}"
    );
}

#[tokio::test]
async fn cancel_kills_every_process_of_the_group() {
    let fx = Fixture::new();
    let pids = fx.dir.path().join("pids");
    let script = format!(
        "sleep 300 & echo $! >> {p}; sleep 300 & echo $! >> {p}; echo $$ >> {p}; echo ready; wait",
        p = pids.display()
    );
    let mut rx = fx.subscribe();
    let cancel = CancellationToken::new();
    let spec = sh(&fx, &script);
    let task = tokio::spawn({
        let (log, cancel) = (fx.log.clone(), cancel.clone());
        async move { run_process(&spec, &log, &cancel).await }
    });
    wait_for_line(&mut rx, "ready").await;
    let listed = read_pids(&pids);
    assert_eq!(listed.len(), 3);
    let pgid = listed[2];
    assert_eq!(
        proc_stat(pgid).unwrap().1,
        pgid,
        "the shell leads its own group"
    );
    assert_eq!(group_members(pgid).len(), 3);
    cancel.cancel();
    let exit = task.await.unwrap().unwrap();
    assert!(exit.cancelled);
    assert_eq!(exit.pid, u32::try_from(pgid).unwrap());
    assert_eq!(exit.exit, ExitKind::Signal(15), "sh dies of SIGTERM");
    for pid in &listed {
        assert!(!alive(*pid), "pid {pid} survived the cancel");
    }
    assert_eq!(group_members(pgid), Vec::<i32>::new());
}

#[tokio::test]
async fn a_group_ignoring_sigterm_is_killed_after_the_grace() {
    let fx = Fixture::new();
    let pids = fx.dir.path().join("pids");
    let script = format!(
        "trap '' TERM; sleep 300 & echo $! >> {p}; echo $$ >> {p}; echo ready; wait; echo survived",
        p = pids.display()
    );
    let grace = Duration::from_millis(300);
    let (exit, took) = run_until_ready_then_cancel(&fx, sh(&fx, &script).kill_grace(grace)).await;
    assert!(exit.cancelled);
    assert_eq!(exit.exit, ExitKind::Signal(9));
    assert!(
        took >= grace,
        "SIGKILL came before the grace was over ({took:?})"
    );
    assert!(took < Duration::from_secs(10), "stopping took {took:?}");
    for pid in read_pids(&pids) {
        assert!(!alive(pid), "pid {pid} survived SIGKILL");
    }
    assert!(
        !fx.stream(Stream::Stdout)
            .await
            .contains(&"survived".to_owned())
    );
}

#[tokio::test]
async fn a_process_that_handles_sigterm_may_clean_up_and_exit() {
    let fx = Fixture::new();
    // "ready" comes from the child itself, so that SIGTERM cannot reach it
    // between fork and exec (where dash would only note it for later).
    let script = "trap 'echo cleaning up; exit 3' TERM; sh -c 'echo ready; exec sleep 300' & wait";
    let (exit, took) = run_until_ready_then_cancel(&fx, sh(&fx, script)).await;
    assert!(exit.cancelled);
    assert_eq!(exit.exit, ExitKind::Code(3));
    assert!(
        took < Duration::from_secs(5),
        "the grace was waited out: {took:?}"
    );
    assert_eq!(fx.stream(Stream::Stdout).await, ["ready", "cleaning up"]);
}

#[tokio::test]
async fn the_grace_covers_the_whole_group_not_only_the_program() {
    let fx = Fixture::new();
    let done = fx.dir.path().join("cleaned");
    // The program dies of SIGTERM at once; its background subshell needs a
    // moment to clean up when it gets SIGTERM too.
    let script = format!(
        "(trap 'sleep 0.2; echo yes > {d}; exit 0' TERM; echo ready; while :; do sleep 0.05; done) & wait",
        d = done.display()
    );
    let (exit, _) = run_until_ready_then_cancel(&fx, sh(&fx, &script)).await;
    assert!(exit.cancelled);
    assert_eq!(exit.exit, ExitKind::Signal(15));
    assert_eq!(std::fs::read_to_string(&done).unwrap(), "yes\n");
}

#[tokio::test]
async fn background_processes_do_not_outlive_the_program() {
    let fx = Fixture::new();
    let pids = fx.dir.path().join("pids");
    // One leftover holds the output pipe, one does not.
    let script = format!(
        "sleep 300 & echo $! >> {p}; sleep 300 >/dev/null 2>&1 & echo $! >> {p}; echo bye",
        p = pids.display()
    );
    let start = Instant::now();
    let exit = run(&fx, &sh(&fx, &script)).await;
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(exit.exit, ExitKind::Code(0));
    assert!(!exit.cancelled);
    for pid in read_pids(&pids) {
        assert!(!alive(pid), "leftover {pid} outlived the job");
    }
    assert_eq!(fx.stream(Stream::Stdout).await, ["bye"]);
}

#[tokio::test]
async fn a_process_that_left_the_group_cannot_hang_the_runner() {
    let fx = Fixture::new();
    let pidfile = fx.dir.path().join("escaped");
    // setsid: a new session and group, out of reach of killpg, still
    // holding our stdout.
    let script = format!(
        "setsid sh -c 'echo $$ > {p}.tmp; mv {p}.tmp {p}; exec sleep 300' & \
         while [ ! -s {p} ]; do sleep 0.01; done; echo bye",
        p = pidfile.display()
    );
    let start = Instant::now();
    let exit = run(&fx, &sh(&fx, &script)).await;
    let took = start.elapsed();
    let escaped = read_pids(&pidfile)[0];
    let still_there = alive(escaped);
    kill(Pid::from_raw(escaped), Signal::SIGKILL).unwrap();
    assert!(
        still_there,
        "setsid did not escape the group; the test proves nothing"
    );
    assert_eq!(exit.exit, ExitKind::Code(0));
    assert!(
        took < Duration::from_secs(20),
        "the runner hung on the pipe for {took:?}"
    );
    assert_eq!(fx.stream(Stream::Stdout).await, ["bye"]);
}

#[tokio::test]
async fn lines_are_stored_in_batches() {
    let sink = Arc::new(SlowCountingSink::default());
    let fx = Fixture::with(sink.clone(), Masker::none());
    let exit = run(&fx, &sh(&fx, "seq 1 20000")).await;
    assert_eq!(exit.exit, ExitKind::Code(0));
    let out = fx.stream(Stream::Stdout).await;
    assert_eq!(out.len(), 20000);
    assert!(
        out.iter()
            .enumerate()
            .all(|(i, l)| *l == (i + 1).to_string())
    );
    let calls = sink.calls.load(Ordering::SeqCst);
    assert!(
        calls <= 2000,
        "{calls} appends for 20000 lines: not batched"
    );
    assert!(sink.largest.load(Ordering::SeqCst) <= slipway_exec::process::MAX_BATCH_LINES);
}

#[tokio::test]
async fn secrets_are_masked_on_the_way_to_the_sink() {
    let fx = Fixture::with_secrets(&["hunter2-hunter2"]);
    run(
        &fx,
        &sh(&fx, "echo pw=hunter2-hunter2; echo hunter2-hunter2 >&2"),
    )
    .await;
    assert_eq!(fx.stream(Stream::Stdout).await, ["pw=******"]);
    assert_eq!(fx.stream(Stream::Stderr).await, ["******"]);
}

#[tokio::test]
async fn a_secret_across_the_64_kib_cut_is_still_masked() {
    let secret = "s3cret-across-the-cut";
    let fx = Fixture::with_secrets(&[secret]);
    // 65,521 characters, then the secret: the cut at 65,536 bytes would
    // fall 15 bytes into it and leave its halves on two stored lines.
    let script = format!("head -c 65521 /dev/zero | tr '\\0' x; echo {secret}; echo after");
    let exit = run(&fx, &sh(&fx, &script)).await;
    assert_eq!(exit.exit, ExitKind::Code(0));
    let out = fx.stream(Stream::Stdout).await;
    for line in &out {
        assert!(
            !line.contains("s3cret") && !line.contains("the-cut"),
            "a piece of the secret was stored: ...{}",
            &line[line.len().saturating_sub(40)..]
        );
    }
    // Nothing is lost: the pieces put together are the masked line.
    assert_eq!(
        out.len(),
        3,
        "{:?}",
        out.iter().map(String::len).collect::<Vec<_>>()
    );
    assert!(out[0].len() <= slipway_exec::process::MAX_LINE);
    assert_eq!(out[..2].concat(), format!("{}******", "x".repeat(65521)));
    assert_eq!(out[2], "after");
}

/// Starts `sh -c 'sleep 300 & sleep 300 & wait'` leading its own group, as
/// a job of a server that then died would have left it.
fn orphan_group() -> std::process::Child {
    use std::os::unix::process::CommandExt;
    std::process::Command::new("sh")
        .args(["-c", "sleep 300 & sleep 300 & wait"])
        .process_group(0)
        .spawn()
        .unwrap()
}

async fn wait_members(pgid: i32, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while group_members(pgid).len() != n {
        assert!(
            Instant::now() < deadline,
            "group {pgid} never had {n} members"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_recorded_group_is_killed_only_when_it_is_really_ours() {
    let mut child = orphan_group();
    let pgid = i32::try_from(child.id()).unwrap();
    wait_members(pgid, 3).await;
    let handle = GroupHandle::of(child.id()).unwrap();

    // The pid now belongs to a process that started at another time: the
    // group is not ours and is left alone; so after a reboot.
    let reused = GroupHandle {
        start: handle.start + 1,
        ..handle.clone()
    };
    assert_eq!(reused.kill_leftovers(), 0);
    let rebooted = GroupHandle {
        boot_id: "another-boot".into(),
        ..handle.clone()
    };
    assert_eq!(rebooted.kill_leftovers(), 0);
    assert_eq!(group_members(pgid).len(), 3);

    // The real one: the whole group goes (a zombie counts as gone).
    assert_eq!(handle.kill_leftovers(), 3);
    child.wait().unwrap();
    wait_members(pgid, 0).await;
    assert!(!handle.is_alive());
}

#[tokio::test]
async fn members_left_behind_by_a_dead_leader_are_killed() {
    let mut child = orphan_group();
    let pgid = i32::try_from(child.id()).unwrap();
    wait_members(pgid, 3).await;
    let handle = GroupHandle::of(child.id()).unwrap();
    // The leader dies, its two sleeps stay in the group.
    kill(Pid::from_raw(pgid), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    wait_members(pgid, 2).await;
    assert_eq!(handle.kill_leftovers(), 2);
    wait_members(pgid, 0).await;
}
