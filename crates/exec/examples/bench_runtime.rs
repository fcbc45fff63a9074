//! Benchmark of the local workload runtime, on this machine, in one
//! process (run with `--release`):
//!
//! - `proxy_ratio`: requests per second through a service's port over
//!   requests per second straight to its one instance, same clients (keep-alive
//!   connections), same run; `added_p99_ms`: the 99th percentile latency
//!   through the port minus straight to the instance;
//! - `idle_cpu_pct` and `idle_mb`: what 100 idle deployments of 2
//!   instances (logs shipped to an in-memory store) cost this process, in
//!   percent of one core over 10 s and in resident memory above the
//!   baseline;
//! - `ready_ms`: the median time from `apply` to ready of a one-instance
//!   service whose program is ready as soon as it listens.
//!
//! Prints one line: `runtime: proxy_ratio=… added_p99_ms=… idle_cpu_pct=…
//! idle_mb=… ready_ms=…`. The instances are this binary again, run as a
//! tiny keep-alive HTTP server (`BENCH_SERVE=1`).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use slipway_core::{
    EventBus, LogKey, MemoryLogSink, Readiness, RunId, SystemClock, WorkloadKey, WorkloadRuntime,
    WorkloadSpec,
};
use slipway_exec::LocalRuntime;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Client threads per measurement.
const CLIENTS: usize = 4;
/// How long each rate is measured.
const MEASURE: Duration = Duration::from_secs(3);

/// The instance's life when run as the benchmark's server: answers every
/// request on a connection until the client closes it.
fn serve() {
    let port = std::env::var("PORT").unwrap_or_default();
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).unwrap();
    println!("listening on {port}");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            loop {
                let mut in_headers = true;
                while in_headers {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => in_headers = !(line == "\r\n" || line == "\n"),
                    }
                }
                let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
                if writer.write_all(reply).is_err() {
                    return;
                }
            }
        });
    }
}

/// Requests per second and latencies (ms) of `CLIENTS` keep-alive clients
/// on `port` for [`MEASURE`].
fn load(port: u16) -> (f64, Vec<f64>) {
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut latencies = Vec::new();
                let mut line = String::new();
                while started.elapsed() < MEASURE {
                    let t = Instant::now();
                    writer
                        .write_all(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n")
                        .unwrap();
                    // Status, a header, the blank line, the body.
                    for _ in 0..4 {
                        line.clear();
                        reader.read_line(&mut line).unwrap();
                    }
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                latencies
            })
        })
        .collect();
    let mut all: Vec<f64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    (rate, all)
}

fn p99(sorted: &[f64]) -> f64 {
    sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)]
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// This process's CPU time (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // `/proc` counts in USER_HZ, which Linux fixes at 100 per second.
    Duration::from_millis(ticks * 10)
}

/// This process's resident memory, in MB.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn spec(work: &std::path::Path, name: &str, instances: u32, port: Option<u16>) -> WorkloadSpec {
    WorkloadSpec {
        key: WorkloadKey::new("bench", name),
        revision: "v1".to_owned(),
        program: std::env::current_exe().unwrap().display().to_string(),
        args: Vec::new(),
        env: BTreeMap::from([("BENCH_SERVE".to_owned(), "1".to_owned())]),
        workdir: work.to_path_buf(),
        instances,
        port,
        readiness: Readiness::Port,
        ready_timeout: Duration::from_secs(30),
        stop_grace: Duration::from_secs(2),
        secrets: Vec::new(),
        log: Some(LogKey::new(RunId::new(), "instances")),
    }
}

fn main() {
    if std::env::var("BENCH_SERVE").is_ok() {
        serve();
        return;
    }
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let rt = LocalRuntime::new(root.path(), "127.0.0.1".parse().unwrap()).with_logs(
        Arc::new(MemoryLogSink::default()),
        EventBus::new(16),
        Arc::new(SystemClock),
    );

    // Start → ready of a one-instance service, median of 9.
    let mut ready = Vec::new();
    for i in 0..9 {
        let s = spec(work.path(), &format!("ready-{i}"), 1, Some(free_port()));
        let t = Instant::now();
        tokio.block_on(rt.apply(&s)).unwrap();
        ready.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio.block_on(rt.remove(&s.key)).unwrap();
    }
    ready.sort_by(f64::total_cmp);
    let ready_ms = ready[ready.len() / 2];

    // Through the port against straight to the instance.
    let port = free_port();
    let web = spec(work.path(), "web", 1, Some(port));
    let infos = tokio.block_on(rt.apply(&web)).unwrap();
    let direct_port = infos[0].port;
    let _warm = (load(direct_port), load(port));
    let (direct_rate, direct) = load(direct_port);
    let (proxy_rate, proxied) = load(port);
    let proxy_ratio = proxy_rate / direct_rate;
    let added_p99_ms = p99(&proxied) - p99(&direct);
    tokio.block_on(rt.remove(&web.key)).unwrap();

    // 100 idle deployments of 2 instances.
    std::thread::sleep(Duration::from_secs(1));
    let base_mb = rss_mb();
    let idle: Vec<WorkloadSpec> = (0..100)
        .map(|i| spec(work.path(), &format!("idle-{i}"), 2, None))
        .collect();
    for s in &idle {
        tokio.block_on(rt.apply(s)).unwrap();
    }
    std::thread::sleep(Duration::from_secs(2));
    let (cpu0, t0) = (cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_secs(10));
    let idle_cpu_pct = (cpu_time() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64() * 100.0;
    let idle_mb = rss_mb() - base_mb;
    for s in &idle {
        tokio.block_on(rt.remove(&s.key)).unwrap();
    }

    println!(
        "runtime: proxy_ratio={proxy_ratio:.2} added_p99_ms={added_p99_ms:.3} idle_cpu_pct={idle_cpu_pct:.2} idle_mb={idle_mb:.1} ready_ms={ready_ms:.1} (direct {direct_rate:.0}/s p99 {:.3} ms, through the port {proxy_rate:.0}/s p99 {:.3} ms)",
        p99(&direct),
        p99(&proxied)
    );
}
