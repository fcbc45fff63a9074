//! The real `slipway` binary on a free loopback port with a temporary data
//! directory, a small HTTP client for it, and a reader of live logs.

use reqwest::blocking::{Client, Response};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The admin secret the test servers import.
pub const ADMIN: &str = "slw_test_admin_0123456789abcdef0123456789abcdef";

/// A running server; killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub data_dir: PathBuf,
    pub db_url: Option<String>,
    args: Vec<String>,
    http: Client,
}

impl Server {
    /// Starts a server on `data_dir` (and `db_url` when given) with extra
    /// `serve` flags.
    pub fn start(data_dir: &Path, db_url: Option<&str>, args: &[&str]) -> Server {
        let mut s = Server {
            child: None,
            base: String::new(),
            data_dir: data_dir.to_path_buf(),
            db_url: db_url.map(str::to_owned),
            args: args.iter().map(|s| s.to_string()).collect(),
            http: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.join("server.log"))
            .expect("log file");
        let mut cmd = Command::new(crate::binary());
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .env("SLIPWAY_ADMIN_TOKEN", ADMIN)
            .env("SLIPWAY_LOG", "info")
            .env_remove("SLIPWAY_DATABASE_URL")
            .env_remove("SLIPWAY_CONFIG")
            .current_dir(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        if let Some(url) = &self.db_url {
            cmd.arg("--database-url").arg(url);
        }
        let mut child = cmd.spawn().expect("start slipway");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("listening on ") {
                        self.base = addr.trim().to_owned();
                        break;
                    }
                }
                Err(_) => panic!(
                    "the server did not start; its log:\n{}",
                    std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
                ),
            }
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the server did not stop within 90 s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server with SIGKILL (no clean-up of any kind) and
    /// waits for it to be gone.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
        let _ = child.wait();
    }

    /// Starts the server again on the same data and database.
    pub fn restart(&mut self) {
        self.spawn();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn client(&self) -> &Client {
        &self.http
    }

    /// A request with the admin token.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(Some(ADMIN), method, path, body)
    }

    /// A request with `token` (or none).
    pub fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().expect("method"), self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        read(req.send().expect("request"))
    }

    /// A request with a raw body and content type.
    pub fn raw(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().expect("method"), self.url(path))
            .body(body);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        read(req.send().expect("request"))
    }

    /// Polls a run until `done` holds (or panics after `secs`).
    pub fn wait_run(&self, id: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (code, run) = self.call("GET", &format!("/api/v1/runs/{id}"), None);
            assert_eq!(code, 200, "{run}");
            if done(&run) {
                return run;
            }
            if Instant::now() > deadline {
                panic!("run did not reach the expected state: {run}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts a run of workflow `wf` with no parameters; returns its id.
    pub fn start_run(&self, wf: &str) -> String {
        let (code, run) = self.call(
            "POST",
            &format!("/api/v1/workflows/{wf}/runs"),
            Some(serde_json::json!({})),
        );
        assert_eq!(code, 201, "{run}");
        run["id"].as_str().expect("run id").to_owned()
    }

    /// The body of a `GET path` with the admin token, as text.
    pub fn text(&self, path: &str) -> String {
        self.http
            .get(self.url(path))
            .header("Authorization", format!("Bearer {ADMIN}"))
            .send()
            .expect("request")
            .text()
            .expect("a text body")
    }

    /// Creates a project and a workflow from YAML; returns the workflow id.
    pub fn workflow(&self, project: &str, yaml: &str) -> String {
        let (code, p) = self.call(
            "POST",
            "/api/v1/projects",
            Some(serde_json::json!({ "name": project })),
        );
        assert_eq!(code, 201, "{p}");
        let pid = p["id"].as_str().expect("project id").to_owned();
        let (code, w) = self.raw(
            Some(ADMIN),
            "POST",
            &format!("/api/v1/projects/{pid}/workflows"),
            Some("application/yaml"),
            yaml.as_bytes().to_vec(),
        );
        assert_eq!(code, 201, "{w}");
        w["id"].as_str().expect("workflow id").to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Status and JSON body (Null when the body is not JSON).
pub fn read(res: Response) -> (u16, Value) {
    let code = res.status().as_u16();
    let text = res.text().unwrap_or_default();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Status, JSON body (as [`read`]) and the value of header `name`, if any.
pub fn read_with_header(res: Response, name: &str) -> (u16, Value, Option<String>) {
    let header = res
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("a text header").to_owned());
    let (code, body) = read(res);
    (code, body, header)
}

/// One Server-Sent Event.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Reads events from an SSE response.
#[derive(Debug)]
pub struct SseReader {
    lines: std::io::Lines<BufReader<Response>>,
}

impl SseReader {
    pub fn new(res: Response) -> SseReader {
        SseReader {
            lines: BufReader::new(res).lines(),
        }
    }

    /// The next event (comments skipped); `None` at the end of the stream.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        let mut ev = SseEvent::default();
        let mut any = false;
        for line in self.lines.by_ref() {
            let line = line.ok()?;
            if line.is_empty() {
                if any {
                    return Some(ev);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            any = true;
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => ev.id = Some(value.to_owned()),
                "event" => ev.event = Some(value.to_owned()),
                "data" => {
                    if !ev.data.is_empty() {
                        ev.data.push('\n');
                    }
                    ev.data.push_str(value);
                }
                _ => {}
            }
        }
        None
    }
}
