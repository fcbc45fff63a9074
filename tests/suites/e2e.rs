//! End to end, through the real binary: a two-stage workflow whose second
//! stage waits for approval; the first job's log followed live over SSE
//! with a reconnect in the middle (every line exactly once); approval;
//! `passed`; a restart leaves the run and its logs unchanged. On SQLite,
//! and on PostgreSQL when one is available (required with `CI=true`).

#![allow(clippy::unwrap_used)]

use serde_json::json;
use slipway_store::testing::TestDb;
use slipway_tests::server::{ADMIN, Server, SseReader};
use std::collections::BTreeSet;
use std::time::Duration;

const LINES: usize = 40;

fn workflow() -> String {
    format!(
        r#"
name: release
stages:
  - name: build
    jobs:
      - name: compile
        kind: shell
        spec:
          steps:
            - script: |
                for i in $(seq 1 {LINES}); do echo "line $i"; sleep 0.03; done
  - name: ship
    approval:
      needed: 1
    jobs:
      - name: deploy
        kind: shell
        spec:
          steps:
            - script: echo "deployed"
"#
    )
}

fn stream(server: &Server, run: &str, last_event_id: Option<u64>) -> SseReader {
    let mut req = server
        .client()
        .get(server.url(&format!("/api/v1/runs/{run}/jobs/compile/log/stream")))
        .header("Authorization", format!("Bearer {ADMIN}"))
        .timeout(Duration::from_secs(120));
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let res = req.send().expect("stream");
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    SseReader::new(res)
}

fn scenario(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), db, &[]);
    let wf = server.workflow("shop", &workflow());
    let run_id = server.start_run(&wf);

    // Follow the log, drop the connection after a few lines, resume.
    let mut seen: Vec<(u64, String)> = Vec::new();
    {
        let mut sse = stream(&server, &run_id, None);
        while seen.len() < 8 {
            let ev = sse.next_event().expect("an event before the drop");
            assert_eq!(ev.event, None, "no end this early: {ev:?}");
            let line: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
            let id: u64 = ev.id.unwrap().parse().unwrap();
            assert_eq!(line["seq"].as_u64(), Some(id));
            seen.push((id, line["text"].as_str().unwrap().to_owned()));
        }
    }
    let last = seen.last().unwrap().0;
    let mut sse = stream(&server, &run_id, Some(last));
    let end = loop {
        let ev = sse.next_event().expect("the stream ends with an end event");
        if ev.event.as_deref() == Some("end") {
            break ev;
        }
        let line: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
        seen.push((
            ev.id.unwrap().parse().unwrap(),
            line["text"].as_str().unwrap().to_owned(),
        ));
    };
    assert!(end.data.contains("passed"), "{end:?}");
    let seqs: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every line exactly once, in order");
    let texts: BTreeSet<&str> = seen.iter().map(|(_, t)| t.as_str()).collect();
    for i in 1..=LINES {
        assert!(
            texts.contains(format!("line {i}").as_str()),
            "line {i} missing"
        );
    }
    let stdout_lines = seen.iter().filter(|(_, t)| t.starts_with("line ")).count();
    assert_eq!(stdout_lines, LINES);

    // Approve the gate and wait for the end.
    server.wait_run(&run_id, 30, |r| r["status"] == "waiting_approval");
    let (code, body) = server.call(
        "POST",
        &format!("/api/v1/runs/{run_id}/stages/ship/approve"),
        Some(json!({"comment": "ship it"})),
    );
    assert_eq!(code, 200, "{body}");
    let done = server.wait_run(&run_id, 30, |r| {
        r["status"] != "running" && r["status"] != "waiting_approval"
    });
    assert_eq!(done["status"], "passed", "{done}");
    assert_eq!(done["stages"][1]["approvals"][0]["comment"], "ship it");
    assert_eq!(done["stages"][1]["approvals"][0]["by"], "admin");

    // Deciding again: nothing waits.
    let (code, body) = server.call(
        "POST",
        &format!("/api/v1/runs/{run_id}/stages/ship/approve"),
        None,
    );
    assert_eq!(code, 409, "{body}");

    let log_path = format!("/api/v1/runs/{run_id}/jobs/compile/log");
    let log_before = server.text(&log_path);
    assert_eq!(log_before.lines().count(), seen.len());
    let (_, run_before) = server.call("GET", &format!("/api/v1/runs/{run_id}"), None);

    // Stop and start again: nothing changed.
    let status = server.stop();
    assert!(status.success(), "exit status {status}");
    server.restart();
    let (code, run_after) = server.call("GET", &format!("/api/v1/runs/{run_id}"), None);
    assert_eq!(code, 200);
    assert_eq!(run_before, run_after);
    let log_after = server.text(&log_path);
    assert_eq!(log_before, log_after);
    let (code, list) = server.call("GET", "/api/v1/runs?status=passed", None);
    assert_eq!(code, 200);
    assert_eq!(list["total"], 1, "{list}");
    let _ = server.stop();
}

#[test]
fn end_to_end_sqlite() {
    scenario(None);
}

#[test]
fn end_to_end_postgres() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    scenario(Some(&db.url));
}
