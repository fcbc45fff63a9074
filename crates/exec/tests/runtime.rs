//! The local workload runtime with real processes: a service of three
//! instances of a small HTTP server (`examples/tiny_http.rs`) answering
//! through its service port; an instance killed by hand restarted and
//! counted; a rolling deploy that loses no request of a client looping on
//! the port; a deploy that never gets ready leaving the old instances
//! serving; scaling; a crash loop; removal leaving no process; a taken
//! port refused; instances taken back after the server's tasks died, and
//! their output shipped into the log store, masked.

#![allow(clippy::unwrap_used)]

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use slipway_core::{
    EventBus, InstanceInfo, InstanceState, LogKey, LogSink, MemoryLogSink, Readiness, RunId,
    RuntimeError, SystemClock, WorkloadKey, WorkloadRuntime, WorkloadSpec,
};
use slipway_exec::LocalRuntime;
use slipway_testkit::programs::{free_port, tiny_http};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn spec(dir: &Path, name: &str, revision: &str, instances: u32, port: Option<u16>) -> WorkloadSpec {
    WorkloadSpec {
        key: WorkloadKey::new("shop", name),
        revision: revision.to_owned(),
        program: tiny_http().display().to_string(),
        args: Vec::new(),
        env: BTreeMap::from([
            ("REVISION".to_owned(), revision.to_owned()),
            ("TOKEN".to_owned(), "s3cr3t-token".to_owned()),
        ]),
        workdir: dir.to_path_buf(),
        instances,
        port,
        readiness: Readiness::Port,
        ready_timeout: Duration::from_secs(10),
        stop_grace: Duration::from_secs(2),
        secrets: vec!["s3cr3t-token".to_owned()],
        log: None,
    }
}

/// One GET through `port`: the answer's body (`<pid> <port> <revision>`).
fn get(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.trim().to_owned())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| std::io::Error::other(format!("no body in {text:?}")))
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn pids(infos: &[InstanceInfo]) -> BTreeSet<u32> {
    infos.iter().filter_map(|i| i.pid).collect()
}

async fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_serves_restarts_rolls_scales_and_stops() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let rt = LocalRuntime::new(root.path(), "127.0.0.1".parse().unwrap());
    let port = free_port();
    let v1 = spec(work.path(), "web", "v1", 3, Some(port));

    // Three instances, each ready, answering through the service port.
    let infos = rt.apply(&v1).await.unwrap();
    assert_eq!(infos.len(), 3);
    assert!(
        infos
            .iter()
            .all(|i| i.state == InstanceState::Ready && i.revision == "v1")
    );
    let started = pids(&infos);
    assert_eq!(started.len(), 3);
    let mut seen = BTreeSet::new();
    for _ in 0..12 {
        let body = get(port).unwrap();
        let pid: u32 = body.split_whitespace().next().unwrap().parse().unwrap();
        assert!(body.ends_with(" v1"), "{body}");
        seen.insert(pid);
    }
    assert_eq!(seen, started, "connections are spread over every instance");

    // One killed by hand: restarted, the restart counted, still three.
    let victim = infos[0].clone();
    kill(Pid::from_raw(victim.pid.unwrap() as i32), Signal::SIGKILL).unwrap();
    wait_for("the restart", 10, || {
        rt.instances(&v1.key).iter().any(|i| {
            i.id == victim.id
                && i.restarts == 1
                && i.state == InstanceState::Ready
                && i.pid != victim.pid
        })
    })
    .await;
    let now = rt.instances(&v1.key);
    assert_eq!(now.len(), 3);
    let restarted = now.iter().find(|i| i.id == victim.id).unwrap();
    assert_eq!(restarted.last_exit.as_deref(), Some("signal 9"));
    assert!(get(port).is_ok());

    // A rolling deploy while a client loops on the port: no request lost.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let client = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        std::thread::spawn(move || {
            let mut revisions = BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                match get(port) {
                    Ok(body) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        revisions.insert(body.rsplit(' ').next().unwrap().to_owned());
                    }
                    Err(e) => {
                        eprintln!("lost: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            revisions
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = pids(&rt.instances(&v1.key));
    let v2 = spec(work.path(), "web", "v2", 3, Some(port));
    let infos = rt.apply(&v2).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let revisions = client.join().unwrap();
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests lost in the deploy"
    );
    assert!(
        ok.load(Ordering::Relaxed) > 20,
        "{} requests",
        ok.load(Ordering::Relaxed)
    );
    assert_eq!(
        revisions,
        BTreeSet::from(["v1".to_owned(), "v2".to_owned()])
    );
    assert!(
        infos
            .iter()
            .all(|i| i.revision == "v2" && i.state == InstanceState::Ready)
    );
    assert!(
        before.iter().all(|p| !alive(*p)),
        "the old instances are gone"
    );
    assert!(get(port).unwrap().ends_with(" v2"));

    // A revision that never gets ready: refused, v2 keeps serving.
    let mut broken = spec(work.path(), "web", "v3", 3, Some(port));
    broken.env.insert("FAIL".to_owned(), "1".to_owned());
    broken.ready_timeout = Duration::from_secs(1);
    let err = rt.apply(&broken).await.unwrap_err();
    assert!(
        matches!(&err, RuntimeError::NotReady { message, .. } if message.contains("exit 3")),
        "{err:?}"
    );
    let still = rt.instances(&v1.key);
    assert_eq!(still.len(), 3);
    assert!(still.iter().all(|i| i.revision == "v2"));
    assert!(get(port).unwrap().ends_with(" v2"));

    // Scaling down and up keeps the revision and the survivors.
    let mut two = v2.clone();
    two.instances = 1;
    let one = rt.apply(&two).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(pids(&rt.instances(&v1.key)).len(), 1);
    two.instances = 2;
    let back = rt.apply(&two).await.unwrap();
    assert_eq!(back.len(), 2);
    assert!(
        back.iter()
            .any(|i| i.id == one[0].id && i.pid == one[0].pid)
    );

    // A restart replaces every instance by a new one, rolling.
    let before = pids(&rt.instances(&v1.key));
    let again = rt.restart(&two).await.unwrap();
    assert_eq!(again.len(), 2);
    assert!(pids(&again).is_disjoint(&before), "{again:?}");
    assert!(before.iter().all(|p| !alive(*p)));
    assert!(get(port).unwrap().ends_with(" v2"));
    let other = WorkloadKey::new("shop", "never-applied");
    assert!(matches!(
        rt.restart(&WorkloadSpec {
            key: other,
            ..two.clone()
        })
        .await,
        Err(RuntimeError::NotFound(_))
    ));

    // Removed: no process of it remains, its port is closed.
    let last = pids(&rt.instances(&v1.key));
    rt.remove(&v1.key).await.unwrap();
    assert!(last.iter().all(|p| !alive(*p)));
    assert!(rt.instances(&v1.key).is_empty());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(matches!(
        rt.remove(&v1.key).await,
        Err(RuntimeError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_specs_and_taken_ports_are_refused_and_crash_loops_are_told() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let rt = LocalRuntime::new(root.path(), "127.0.0.1".parse().unwrap());

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = rt
        .apply(&spec(work.path(), "api", "v1", 1, Some(port)))
        .await
        .unwrap_err();
    assert_eq!(err, RuntimeError::PortTaken { port });
    assert!(rt.instances(&WorkloadKey::new("shop", "api")).is_empty());

    for (field, bad) in [
        ("name", spec(work.path(), "../up", "v1", 1, None)),
        (
            "workdir",
            spec(&work.path().join("missing"), "api", "v1", 1, None),
        ),
        ("instances", spec(work.path(), "api", "v1", 10_000, None)),
    ] {
        match rt.apply(&bad).await {
            Err(RuntimeError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }

    // A program that always exits: restarted with back-off, then told to
    // be in a crash loop.
    let mut crashing = spec(work.path(), "crashy", "v1", 1, None);
    crashing.env.insert("FAIL".to_owned(), "1".to_owned());
    crashing.readiness = Readiness::Started;
    rt.apply(&crashing).await.unwrap();
    wait_for("the crash loop", 20, || {
        rt.instances(&crashing.key)
            .first()
            .is_some_and(|i| i.state == InstanceState::CrashLoop && i.restarts >= 5)
    })
    .await;
    rt.remove(&crashing.key).await.unwrap();
}

/// Instances outlive the server's tasks (a crash): the next runtime takes
/// back the same processes, exactly as many as wanted, serves the port
/// again, and restarts a taken-back instance that dies. Output is shipped
/// into the log store, the secret masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_are_taken_back_after_the_server_dies() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut v1 = spec(work.path(), "web", "v1", 2, Some(port));
    let run = RunId::new();
    v1.log = Some(LogKey::new(run.clone(), "instances"));
    let sink = Arc::new(MemoryLogSink::default());

    // The first "server": its own tokio runtime, shut down without
    // stopping anything (as kill -9 would).
    let stale = spec(work.path(), "old", "v1", 1, None);
    let (first, stale_infos) = {
        let (root, v1, stale, sink) = (
            root.path().to_path_buf(),
            v1.clone(),
            stale.clone(),
            sink.clone(),
        );
        std::thread::spawn(move || {
            let tokio = tokio::runtime::Runtime::new().unwrap();
            let infos = tokio.block_on(async {
                let rt = LocalRuntime::new(&root, "127.0.0.1".parse().unwrap()).with_logs(
                    sink,
                    EventBus::new(16),
                    Arc::new(SystemClock),
                );
                (
                    rt.apply(&v1).await.unwrap(),
                    rt.apply(&stale).await.unwrap(),
                )
            });
            tokio.shutdown_background();
            infos
        })
        .join()
        .unwrap()
    };
    let before = pids(&first);
    assert_eq!(before.len(), 2);
    assert!(
        before.iter().all(|p| alive(*p)),
        "instances outlive the server"
    );

    // The second "server" wants `web` only: what is kept of `old` is
    // stopped.
    let stale_pids = pids(&stale_infos);
    assert!(stale_pids.iter().all(|p| alive(*p)));
    let rt = LocalRuntime::new(root.path(), "127.0.0.1".parse().unwrap()).with_logs(
        sink.clone(),
        EventBus::new(16),
        Arc::new(SystemClock),
    );
    rt.recover(std::slice::from_ref(&v1)).await.unwrap();
    let after = rt.instances(&v1.key);
    assert_eq!(
        pids(&after),
        before,
        "the same processes, none started twice"
    );
    assert!(after.iter().all(|i| i.state == InstanceState::Ready));
    wait_for("the stale workload to stop", 10, || {
        stale_pids.iter().all(|p| !alive(*p))
    })
    .await;
    let body = get(port).unwrap();
    assert!(before.contains(&body.split_whitespace().next().unwrap().parse().unwrap()));

    // A taken-back instance that dies is restarted.
    let victim = after[0].clone();
    kill(Pid::from_raw(victim.pid.unwrap() as i32), Signal::SIGKILL).unwrap();
    wait_for("the restart of a taken-back instance", 10, || {
        rt.instances(&v1.key)
            .iter()
            .any(|i| i.id == victim.id && i.restarts == 1 && i.state == InstanceState::Ready)
    })
    .await;
    assert_eq!(rt.instances(&v1.key).len(), 2);

    // The restarted instance's output is in the log store, masked.
    let key = LogKey::new(run, format!("instances/{}", victim.id));
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines = sink.read_all(&key).await.unwrap();
        if lines.iter().any(|l| l.text.starts_with("listening on")) {
            break lines;
        }
        assert!(Instant::now() < deadline, "no shipped output: {lines:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let start = lines
        .iter()
        .find(|l| l.text.starts_with("listening on"))
        .unwrap();
    assert!(start.text.contains("token=******"), "{}", start.text);
    assert!(lines.iter().all(|l| !l.text.contains("s3cr3t-token")));

    let last = pids(&rt.instances(&v1.key));
    rt.remove(&v1.key).await.unwrap();
    assert!(last.iter().all(|p| !alive(*p)));
}

/// Readiness told by a command: an instance counts only once the command
/// exits 0 (here: once the program has written its marker file), and a
/// deployment without a port serves no port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_can_be_a_command() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let rt = LocalRuntime::new(root.path(), "127.0.0.1".parse().unwrap());
    let mut worker = spec(work.path(), "worker", "v1", 2, None);
    worker.program = "sh".to_owned();
    worker.args = vec![
        "-c".to_owned(),
        "sleep 0.4; touch ready.$PORT; exec sleep 100".to_owned(),
    ];
    worker.readiness = Readiness::Command {
        argv: vec![
            "sh".to_owned(),
            "-c".to_owned(),
            "test -f ready.$PORT".to_owned(),
        ],
    };
    let t = Instant::now();
    let infos = rt.apply(&worker).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "ready before the marker"
    );
    assert_eq!(infos.len(), 2);
    for i in &infos {
        assert_eq!(i.state, InstanceState::Ready);
        assert!(work.path().join(format!("ready.{}", i.port)).exists());
    }
    let last = pids(&infos);
    rt.remove(&worker.key).await.unwrap();
    assert!(last.iter().all(|p| !alive(*p)));
}
