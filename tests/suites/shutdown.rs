//! SIGTERM during runs: a job that ends within the grace period finishes,
//! one that does not is cancelled with a recorded reason; the server exits
//! 0, and after a restart both runs are settled and visible.

#![allow(clippy::unwrap_used)]

use slipway_testkit::plan::shell_workflow;
use slipway_tests::server::Server;

#[test]
fn sigterm_lets_short_jobs_finish_and_cancels_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), None, &["--shutdown-grace", "3"]);
    let quick = server.workflow("a", &shell_workflow("quick", "sleep 1; echo finished"));
    let slow = server.workflow("b", &shell_workflow("slow", "echo started; sleep 120"));
    let ids = [server.start_run(&quick), server.start_run(&slow)];
    for id in &ids {
        server.wait_run(id, 30, |r| r["stages"][0]["jobs"][0]["status"] == "running");
    }
    let status = server.stop();
    assert!(status.success(), "exit status {status}");

    server.restart();
    let quick_run = server.wait_run(&ids[0], 5, |_| true);
    assert_eq!(quick_run["status"], "passed", "{quick_run}");
    let slow_run = server.wait_run(&ids[1], 5, |_| true);
    assert_eq!(slow_run["status"], "cancelled", "{slow_run}");
    assert_eq!(slow_run["error"], "cancelled: server shutting down");
    assert!(slow_run["finished_at"].is_string());
    let job = &slow_run["stages"][0]["jobs"][0];
    assert_eq!(job["status"], "cancelled", "{job}");
    let (code, list) = server.call("GET", "/api/v1/runs", None);
    assert_eq!(code, 200);
    assert_eq!(list["total"], 2, "{list}");
    let _ = server.stop();
}
