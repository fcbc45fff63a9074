//! The README's own path, as a new user takes it: `slipway serve` in an
//! empty directory with the default configuration (the data directory is
//! the relative `./slipway-data`), the admin token it prints, a project
//! with a secret, and a workflow whose first job writes outputs that a job
//! of the next stage reads. Only the port differs from the README: 8080
//! may be taken on a test machine, so `SLIPWAY_LISTEN` (documented in
//! docs/configuration.md) asks for any free one.

#![allow(clippy::unwrap_used)]

use reqwest::blocking::Client;
use serde_json::{Value, json};
use slipway_tests::server::read;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The server as the README starts it; killed when dropped.
struct Readme {
    child: Child,
    base: String,
    token: String,
    /// Everything the server wrote to standard error (a pipe), once it
    /// has stopped.
    stderr: mpsc::Receiver<Vec<u8>>,
    http: Client,
}

impl Readme {
    fn start(dir: &std::path::Path) -> Readme {
        let mut cmd = Command::new(slipway_tests::binary());
        cmd.arg("serve").current_dir(dir);
        // The default configuration: nothing of the caller's environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SLIPWAY_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .env("SLIPWAY_LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start slipway");
        let (err_tx, stderr) = mpsc::channel();
        let mut err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = err.read_to_end(&mut all);
            let _ = err_tx.send(all);
        });
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut token, mut base) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while base.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("the server printed its address");
            if let Some(t) = line.strip_prefix("admin token (shown once, keep it): ") {
                token = Some(t.trim().to_owned());
            } else if let Some(addr) = line.strip_prefix("listening on ") {
                base = Some(addr.trim().to_owned());
            }
        }
        Readme {
            child,
            base: base.expect("address"),
            token: token.expect("the first start prints an admin token"),
            stderr,
            http: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(
                method.parse().expect("method"),
                format!("{}{path}", self.base),
            )
            .header("Authorization", format!("Bearer {}", self.token));
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        read(req.send().expect("request"))
    }

    fn yaml(&self, path: &str, text: &str) -> (u16, Value) {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/yaml")
            .body(text.to_owned());
        read(req.send().expect("request"))
    }

    /// Stops the server (SIGTERM) and returns its standard error.
    fn stop(mut self) -> Vec<u8> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "{status}");
        self.stderr
            .recv_timeout(Duration::from_secs(30))
            .expect("stderr")
    }
}

impl Drop for Readme {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const WORKFLOW: &str = r#"
name: release
stages:
  - name: build
    jobs:
      - name: build
        kind: shell
        spec:
          steps:
            - script: |
                echo "version=1.4.2" >> "$SLIPWAY_OUTPUT"
                echo "auth=Bearer $API_TOKEN" >> "$SLIPWAY_OUTPUT"
                case "$SLIPWAY_WORKSPACE" in /*) ;; *) exit 9;; esac
  - name: deploy
    jobs:
      - name: deploy
        kind: shell
        spec:
          steps:
            - script: echo "deploying ${{ jobs.build.outputs.version }}"
"#;

#[test]
fn the_readme_path_runs_jobs_that_pass_outputs_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Readme::start(dir.path());
    assert!(
        dir.path().join("slipway-data").is_dir(),
        "the default data directory is ./slipway-data"
    );

    let (code, project) = server.call("POST", "/api/v1/projects", Some(json!({"name": "shop"})));
    assert_eq!(code, 201, "{project}");
    let pid = project["id"].as_str().unwrap();
    let secret = "tok-5e3f9a0c7d";
    let (code, body) = server.call(
        "PUT",
        &format!("/api/v1/projects/{pid}/secrets/API_TOKEN"),
        Some(json!({"value": secret})),
    );
    assert_eq!(code, 201, "{body}");
    let (code, workflow) = server.yaml(&format!("/api/v1/projects/{pid}/workflows"), WORKFLOW);
    assert_eq!(code, 201, "{workflow}");
    let wid = workflow["id"].as_str().unwrap();
    let (code, run) = server.call(
        "POST",
        &format!("/api/v1/workflows/{wid}/runs"),
        Some(json!({})),
    );
    assert_eq!(code, 201, "{run}");
    let rid = run["id"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let (code, run) = server.call("GET", &format!("/api/v1/runs/{rid}"), None);
        assert_eq!(code, 200, "{run}");
        if ["passed", "failed", "cancelled", "timed_out"].contains(&run["status"].as_str().unwrap())
        {
            break run;
        }
        assert!(Instant::now() < deadline, "the run did not end: {run}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(run["status"], "passed", "{run}");
    let jobs: Vec<&Value> = run["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["jobs"].as_array().unwrap())
        .collect();
    assert_eq!(jobs.len(), 2, "{run}");
    let build = jobs[0];
    assert_eq!(build["outputs"]["version"], "1.4.2", "{run}");
    // A secret written to an output is shown masked, like in a log line.
    assert_eq!(build["outputs"]["auth"], "Bearer ******", "{run}");
    assert!(!run.to_string().contains(secret), "{run}");
    // A passed shell job shows its exit code.
    for job in &jobs {
        assert_eq!(job["exit_code"], 0, "{job}");
    }

    let log = server
        .http
        .get(format!("{}/api/v1/runs/{rid}/jobs/deploy/log", server.base))
        .header("Authorization", format!("Bearer {}", server.token))
        .send()
        .expect("request");
    assert_eq!(log.status().as_u16(), 200);
    let log = log.text().expect("log text");
    assert!(log.contains("deploying 1.4.2"), "{log}");

    // Server logs in a pipe carry no colour codes.
    let stderr = server.stop();
    assert!(!stderr.is_empty(), "the server logged nothing");
    assert!(
        !stderr.contains(&0x1b),
        "ESC in the server's log: {}",
        String::from_utf8_lossy(&stderr)
    );
}
