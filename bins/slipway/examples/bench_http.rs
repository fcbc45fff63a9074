//! Load benchmark of the HTTP API (docs/benchmarks.md, section `http`).
//!
//! Starts the release `slipway` binary on a fresh SQLite database, makes a
//! project with a workflow and a developer member of it through the API,
//! seeds 10,000 finished runs of that workflow, and measures, one after
//! another with 64 keep-alive connections for 20 s each: `/healthz` (the
//! ceiling of the HTTP stack in this process), the run list (a page of 50)
//! and a run's detail, each as the admin (`run_list`, `run_detail`) and as
//! the member (`*_member`: every answer goes through the role check).
//! Prints one `http:` line per route, then a `server:` line with the idle
//! memory and the time from start to the first answered `/healthz`.
//!
//! ```text
//! cargo build --release -p slipway --bin slipway --example bench_http
//! target/release/examples/bench_http [--runs 10000] [--conns 64] [--secs 20] [--keep DIR]
//! ```
//!
//! The load generator is a plain HTTP/1.1 client on tokio (no client
//! library in the way); it shares the machine's cores with the server.

use chrono::Utc;
use serde_json::json;
use slipway_core::{Job, Plan, RunId, RunRecord, RunStore, Stage, Status, Trigger};
use slipway_store::{Db, DbOptions, SqlRunStore};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "slw_bench_0123456789abcdef0123456789abcdef0123";

struct Opts {
    runs: usize,
    conns: usize,
    secs: u64,
    bin: PathBuf,
    keep: Option<PathBuf>,
}

fn opts() -> Opts {
    let mut o = Opts {
        runs: 10_000,
        conns: 64,
        secs: 20,
        bin: std::env::current_exe()
            .ok()
            .and_then(|p| p.parent()?.parent().map(|d| d.join("slipway")))
            .unwrap_or_else(|| PathBuf::from("target/release/slipway")),
        keep: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < args.len() {
        let v = &args[i + 1];
        match args[i].as_str() {
            "--runs" => o.runs = v.parse().expect("--runs N"),
            "--conns" => o.conns = v.parse().expect("--conns N"),
            "--secs" => o.secs = v.parse().expect("--secs N"),
            "--bin" => o.bin = PathBuf::from(v),
            "--keep" => o.keep = Some(PathBuf::from(v)),
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    o
}

fn plan() -> Plan {
    let shell = |s: &str| json!({"steps": [{"script": s}]});
    Plan::new(
        "release",
        vec![
            Stage::new(
                "build",
                true,
                vec![
                    Job::new("compile", "shell", shell("make")),
                    Job::new("lint", "shell", shell("make lint")),
                ],
            ),
            Stage::new(
                "ship",
                false,
                vec![Job::new("deploy", "shell", shell("./deploy"))],
            ),
        ],
    )
}

/// Inserts `n` finished runs of workflow `key`, as the engine would have
/// left them.
async fn seed(url: &str, n: usize, key: &str) -> Vec<String> {
    let db = Db::open(url, &DbOptions::default()).expect("open database");
    let store = Arc::new(SqlRunStore::new(db));
    let started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..n {
        let now = Utc::now();
        let mut params = BTreeMap::new();
        params.insert("version".to_owned(), format!("1.{i}"));
        let mut trigger = Trigger::new("api");
        trigger.by = Some("bench".into());
        let mut r = RunRecord::new(
            RunId::new(),
            plan(),
            params,
            trigger,
            Some(key.to_owned()),
            now,
        );
        r.status = Status::Passed;
        r.started_at = Some(now);
        r.finished_at = Some(now);
        for s in &mut r.stages {
            s.status = Status::Passed;
            s.started_at = Some(now);
            s.finished_at = Some(now);
            for j in &mut s.jobs {
                j.status = Status::Passed;
                j.started_at = Some(now);
                j.finished_at = Some(now);
                j.attempts = 1;
                j.exit_code = Some(0);
            }
        }
        store.insert_run(&r).await.expect("insert run");
        ids.push(r.id.to_string());
    }
    eprintln!("seeded {n} runs in {:.1}s", started.elapsed().as_secs_f64());
    ids
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Started {
    child: Child,
    addr: String,
    ready_ms: f64,
}

fn start(bin: &PathBuf, dir: &std::path::Path) -> Started {
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("SLIPWAY_ADMIN_TOKEN", TOKEN)
        .env("SLIPWAY_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    let out = child.stdout.take().expect("stdout");
    let mut addr = String::new();
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        if let Some(a) = line.strip_prefix("listening on http://") {
            addr = a.trim().to_owned();
            break;
        }
    }
    assert!(!addr.is_empty(), "the server did not start");
    // Ready: the first answered /healthz.
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut buf = String::new();
            if s.read_to_string(&mut buf).is_ok() && buf.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "not ready in 30 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    Started {
        child,
        addr,
        ready_ms: t0.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Sends one request with a JSON body as `token` and answers the status
/// and the body (setup only: a connection per request).
fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let body = body.to_string();
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let json = out
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// A project with one workflow, and a developer member of it with a token:
/// the workflow's id and the member's token (`None` from a server that
/// has no members: the one before them, run for a baseline).
fn setup(addr: &str) -> (String, Option<String>) {
    let (code, project) = call(
        addr,
        "POST",
        "/api/v1/projects",
        TOKEN,
        &json!({"name": "bench"}),
    );
    assert_eq!(code, 201, "{project}");
    let pid = project["id"].as_str().expect("project id").to_owned();
    let definition = json!({"name": "release", "stages": [{"name": "build", "jobs": [
        {"name": "compile", "kind": "shell", "spec": {"steps": [{"script": "make"}]}}]}]});
    let (code, wf) = call(
        addr,
        "POST",
        &format!("/api/v1/projects/{pid}/workflows"),
        TOKEN,
        &definition,
    );
    assert_eq!(code, 201, "{wf}");
    let (code, token) = call(
        addr,
        "POST",
        "/api/v1/tokens",
        TOKEN,
        &json!({"name": "dev"}),
    );
    assert_eq!(code, 201, "{token}");
    let (code, _) = call(
        addr,
        "PUT",
        &format!("/api/v1/projects/{pid}/members/dev"),
        TOKEN,
        &json!({"role": "developer"}),
    );
    let member = (code == 200).then(|| token["secret"].as_str().expect("secret").to_owned());
    (wf["id"].as_str().expect("workflow id").to_owned(), member)
}

/// One keep-alive connection sending requests for `paths` in turn as
/// `token` until `until`; returns the latencies in microseconds.
async fn connection(
    addr: String,
    token: Arc<String>,
    paths: Arc<Vec<String>>,
    offset: usize,
    until: Instant,
) -> Vec<u32> {
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    stream.set_nodelay(true).ok();
    let (rd, mut wr) = stream.into_split();
    let mut rd = tokio::io::BufReader::new(rd);
    let mut lat = Vec::with_capacity(100_000);
    let mut i = offset;
    let mut line = String::new();
    let mut body = Vec::new();
    while Instant::now() < until {
        let path = &paths[i % paths.len()];
        i += 1;
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n");
        let t = Instant::now();
        wr.write_all(req.as_bytes()).await.expect("write");
        let mut len = 0usize;
        let mut status_ok = false;
        let mut first = true;
        loop {
            line.clear();
            let n = rd.read_line(&mut line).await.expect("read");
            assert!(n > 0, "connection closed");
            if first {
                status_ok = line.starts_with("HTTP/1.1 200");
                first = false;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().expect("length");
            }
        }
        body.resize(len, 0);
        rd.read_exact(&mut body).await.expect("body");
        assert!(
            status_ok,
            "non-200 answer for {path}: {}",
            String::from_utf8_lossy(&body)
        );
        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    lat
}

async fn load(addr: &str, token: &str, paths: Vec<String>, conns: usize, secs: u64) -> (f64, f64) {
    let paths = Arc::new(paths);
    let token = Arc::new(token.to_owned());
    let until = Instant::now() + Duration::from_secs(secs);
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|c| {
            tokio::spawn(connection(
                addr.to_owned(),
                token.clone(),
                paths.clone(),
                c * 7,
                until,
            ))
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let elapsed = t0.elapsed().as_secs_f64();
    all.sort_unstable();
    let p99 = all
        .get((all.len() * 99 / 100).min(all.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0);
    (all.len() as f64 / elapsed, f64::from(p99) / 1000.0)
}

#[tokio::main]
async fn main() {
    let o = opts();
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = match &o.keep {
        Some(d) => {
            std::fs::create_dir_all(d).expect("--keep directory");
            d.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    let url = format!("sqlite://{}", dir.join("slipway.db").display());
    let mut server = start(&o.bin, &dir);
    let (workflow, member) = setup(&server.addr);
    let ids = seed(&url, o.runs, &workflow).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_mb(server.child.id());

    let detail: Vec<String> = ids
        .iter()
        .step_by((ids.len() / 500).max(1))
        .map(|id| format!("/api/v1/runs/{id}"))
        .collect();
    let list = vec!["/api/v1/runs?per_page=50".to_owned()];
    let mut routes = vec![
        ("healthz", TOKEN, vec!["/healthz".to_owned()]),
        ("run_list", TOKEN, list.clone()),
        ("run_detail", TOKEN, detail.clone()),
    ];
    if let Some(member) = &member {
        routes.push(("run_list_member", member.as_str(), list));
        routes.push(("run_detail_member", member.as_str(), detail));
    }
    let mut lines = Vec::new();
    let mut ceiling = 0.0;
    for (name, token, paths) in routes {
        let (rps, p99) = load(&server.addr, token, paths, o.conns, o.secs).await;
        if name == "healthz" {
            ceiling = rps;
        }
        let ratio = if ceiling > 0.0 { rps / ceiling } else { 0.0 };
        lines.push(format!(
            "http: route={name} rps={rps:.0} p99_ms={p99:.2} ratio_to_healthz={ratio:.2}"
        ));
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    for l in lines {
        println!("{l}");
    }
    println!(
        "server: idle_rss_mb={idle:.1} ready_ms={:.0}",
        server.ready_ms
    );
}
