//! Namespaces and workloads through the real binary, with real processes,
//! on SQLite and on PostgreSQL: a service of two instances of a small
//! HTTP server (crates/exec/examples/tiny_http.rs) deployed by an
//! operation with a record; the server killed with SIGKILL and started
//! again on the same data: the same two instances serve (same pids) on
//! the service port; stop leaves no process and keeps the workload;
//! deleting the namespace leaves nothing; bad input is refused with the
//! field named and nothing made.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use slipway_store::testing::TestDb;
use slipway_testkit::programs::{free_port, tiny_http};
use slipway_tests::server::Server;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// One request to `127.0.0.1:port`; the body.
fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split("\r\n\r\n").nth(1).map(str::to_owned)
}

fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

fn wait_passed(s: &Server, run: &Value) -> Value {
    let id = run["id"].as_str().unwrap();
    let done = s.wait_run(id, 60, |r| {
        !matches!(r["status"].as_str(), Some("created" | "queued" | "running"))
    });
    assert_eq!(done["status"], "passed", "{done}");
    done
}

fn pids(w: &Value) -> BTreeSet<u64> {
    w["running"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["pid"].as_u64())
        .collect()
}

fn workload(s: &Server) -> Value {
    let (code, w) = s.call("GET", "/api/v1/namespaces/shop/workloads/web", None);
    assert_eq!(code, 200, "{w}");
    w
}

/// Waits until the workload has `n` ready instances; the workload.
fn wait_ready(s: &Server, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let w = workload(s);
        let ready = w["running"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["state"] == "ready")
            .count();
        if ready == n && w["running"].as_array().unwrap().len() == n {
            return w;
        }
        assert!(Instant::now() < deadline, "not {n} ready instances: {w}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills, when dropped, every process whose command line holds its
/// marker: instances are detached from the server by design, so a test
/// that fails half-way would leave them running.
struct Leftovers(String);

impl Drop for Leftovers {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()) {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&self.0) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

fn service_survives_kill_9(db_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!(
        "--suite-marker={}",
        dir.path().file_name().unwrap().to_string_lossy()
    );
    let _leftovers = Leftovers(marker.clone());
    let mut s = Server::start(dir.path(), db_url, &[]);
    let port = free_port();
    let manifest = json!({
        "kind": "service",
        "name": "web",
        "command": tiny_http().display().to_string(),
        "args": [marker],
        "env": {"REVISION": "one"},
        "instances": 2,
        "port": port,
    });

    // Bad input first: nothing is made.
    let (code, body) = s.call(
        "PUT",
        "/api/v1/namespaces/shop/workloads",
        Some(json!({"kind": "service", "name": "Web", "instances": 0, "extra": 1})),
    );
    assert_eq!(code, 400, "{body}");
    let paths: BTreeSet<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    for p in ["name", "command", "port", "instances", "extra"] {
        assert!(paths.contains(p), "{p} missing in {body}");
    }
    let mut with_dots = manifest.clone();
    with_dots["workdir"] = json!("../etc");
    let (code, body) = s.call("PUT", "/api/v1/namespaces/shop/workloads", Some(with_dots));
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["path"], "workdir", "{body}");
    let mut job = manifest.clone();
    job["kind"] = json!("job");
    job.as_object_mut().unwrap().remove("instances");
    job.as_object_mut().unwrap().remove("port");
    let (code, body) = s.call("PUT", "/api/v1/namespaces/shop/workloads", Some(job));
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["path"], "kind", "{body}");
    let busy = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let mut taken = manifest.clone();
    taken["port"] = json!(busy.local_addr().unwrap().port());
    let (code, body) = s.call("PUT", "/api/v1/namespaces/shop/workloads", Some(taken));
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["details"][0]["path"], "port", "{body}");
    drop(busy);
    let (code, _) = s.call("GET", "/api/v1/namespaces/shop", None);
    assert_eq!(code, 404, "a refused deploy made no namespace");

    // The first deploy makes the namespace (in the default project).
    let (code, deployed) = s.call("PUT", "/api/v1/namespaces/shop/workloads", Some(manifest));
    assert_eq!(code, 202, "{deployed}");
    assert_eq!(deployed["workload"]["revision"], "r1");
    let run = wait_passed(&s, &deployed["operation"]);
    assert_eq!(run["trigger"]["detail"]["operation"], "deploy", "{run}");
    let (code, ns) = s.call("GET", "/api/v1/namespaces/shop", None);
    assert_eq!(code, 200, "{ns}");
    assert_eq!(ns["permissions"]["can_modify"], true);
    let (code, project) = s.call(
        "GET",
        &format!("/api/v1/projects/{}", ns["project_id"].as_str().unwrap()),
        None,
    );
    assert_eq!(code, 200);
    assert_eq!(project["name"], "default");
    let (code, again) = s.call(
        "POST",
        &format!(
            "/api/v1/projects/{}/namespaces",
            project["id"].as_str().unwrap()
        ),
        Some(json!({"name": "shop"})),
    );
    assert_eq!(code, 409, "{again}");
    assert_eq!(again["error"]["details"][0]["path"], "name");

    let before = wait_ready(&s, 2);
    let before_pids = pids(&before);
    assert_eq!(before_pids.len(), 2, "{before}");
    let answer = get(port).expect("the service port answers");
    assert!(answer.trim_end().ends_with(" one"), "{answer}");
    // The operation's log says what it did; the instances' output is in
    // the log store as `instances/<id>` of that run.
    let op_id = deployed["operation"]["id"].as_str().unwrap();
    let log = s.text(&format!("/api/v1/runs/{op_id}/jobs/deploy/log"));
    assert!(log.contains("revision r1, 2 instance(s)"), "{log}");

    // kill -9 the server; start it again on the same data.
    s.kill9();
    for pid in &before_pids {
        assert!(alive(*pid), "instance {pid} died with the server");
    }
    s.restart();
    let after = wait_ready(&s, 2);
    assert_eq!(
        pids(&after),
        before_pids,
        "the same instances serve: {after}"
    );
    let answer = get(port).expect("the service port answers again");
    let pid: u64 = answer.split(' ').next().unwrap().parse().unwrap();
    assert!(before_pids.contains(&pid), "{answer}");

    // Stop: no process remains, the workload is kept with 0 instances.
    let (code, stop) = s.call("POST", "/api/v1/namespaces/shop/workloads/web/stop", None);
    assert_eq!(code, 202, "{stop}");
    wait_passed(&s, &stop);
    let stopped = workload(&s);
    assert_eq!(stopped["instances"], 0);
    assert!(
        stopped["running"].as_array().unwrap().is_empty(),
        "{stopped}"
    );
    for pid in &before_pids {
        assert!(!alive(*pid), "instance {pid} still runs after stop");
    }
    assert!(get(port).is_none() || get(port).is_some_and(|b| b.is_empty()));

    // Start brings back the manifest's count.
    let (code, start) = s.call("POST", "/api/v1/namespaces/shop/workloads/web/start", None);
    assert_eq!(code, 202, "{start}");
    wait_passed(&s, &start);
    let started = wait_ready(&s, 2);

    // Scale to 3: the two keep running, one more joins.
    let started_pids = pids(&started);
    let (code, scale) = s.call(
        "POST",
        "/api/v1/namespaces/shop/workloads/web/scale",
        Some(json!({"instances": 3})),
    );
    assert_eq!(code, 202, "{scale}");
    wait_passed(&s, &scale);
    let scaled = wait_ready(&s, 3);
    assert!(pids(&scaled).is_superset(&started_pids), "{scaled}");

    // Restart: three new processes, the service answering throughout.
    let (code, restart) = s.call(
        "POST",
        "/api/v1/namespaces/shop/workloads/web/restart",
        None,
    );
    assert_eq!(code, 202, "{restart}");
    wait_passed(&s, &restart);
    let restarted = wait_ready(&s, 3);
    assert!(pids(&restarted).is_disjoint(&pids(&scaled)), "{restarted}");
    for pid in pids(&scaled) {
        assert!(!alive(pid), "instance {pid} still runs after the restart");
    }
    assert!(get(port).is_some_and(|b| b.trim_end().ends_with(" one")));
    // An instance's output is the log of the operation that started it.
    let restart_id = restart["id"].as_str().unwrap();
    let instance = restarted["running"][0]["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = s.text(&format!(
            "/api/v1/runs/{restart_id}/jobs/instances%2F{instance}/log"
        ));
        if log.contains("listening on") {
            break;
        }
        assert!(Instant::now() < deadline, "no instance log: {log:?}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The operation history is the workload's run list.
    let id = started["id"].as_str().unwrap();
    let (code, history) = s.call("GET", &format!("/api/v1/runs?workflow_id={id}"), None);
    assert_eq!(code, 200, "{history}");
    assert_eq!(history["total"], 5, "{history}");

    // Deleting the workload stops it; then the empty namespace goes.
    let last_pids = pids(&restarted);
    let (code, delete) = s.call("DELETE", "/api/v1/namespaces/shop/workloads/web", None);
    assert_eq!(code, 202, "{delete}");
    wait_passed(&s, &delete);
    for pid in &last_pids {
        assert!(!alive(*pid), "instance {pid} still runs after the delete");
    }
    let (code, _) = s.call("GET", "/api/v1/namespaces/shop/workloads/web", None);
    assert_eq!(code, 404);
    assert!(get(port).is_none() || get(port).is_some_and(|b| b.is_empty()));
    let (code, body) = s.call("DELETE", "/api/v1/namespaces/shop", None);
    assert_eq!(code, 204, "{body}");
    let (code, _) = s.call("DELETE", "/api/v1/namespaces/shop", None);
    assert_eq!(code, 404);
    s.stop();
}

#[test]
fn a_service_survives_kill_9_of_the_server_on_sqlite() {
    service_survives_kill_9(None);
}

#[test]
fn a_service_survives_kill_9_of_the_server_on_postgres() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("SLIPWAY_TEST_DATABASE_URL is not set: skipped");
        return;
    };
    service_survives_kill_9(Some(&db.url));
}
