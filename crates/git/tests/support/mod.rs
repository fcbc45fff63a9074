//! Test support: fixture repositories made by the git CLI, a `git daemon`
//! (both from `slipway-testkit`) and a small HTTP server running
//! `git http-backend` as CGI, both on loopback and stopped when dropped.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use slipway_testkit::git::{Daemon, git};

/// A directory holding fixture repositories (`<root>/<name>`).
pub struct Fixtures {
    pub dir: tempfile::TempDir,
}

impl Fixtures {
    pub fn new() -> Self {
        Fixtures {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `tests/fixtures/<script>.sh` to build `<root>/<name>`.
    pub fn build(&self, script: &str, name: &str) -> PathBuf {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(format!("{script}.sh"));
        let dest = self.root().join(name);
        run_script(&script, &dest);
        dest
    }

    /// A bare clone `<root>/<name>` of `source` (what servers export).
    pub fn bare(&self, source: &Path, name: &str) -> PathBuf {
        let dest = self.root().join(name);
        slipway_testkit::git::clone(self.root(), source, &dest, true);
        dest
    }
}

/// Runs the fixture script `script` with `dest` as its argument; panics
/// with the script's stderr when it fails.
pub fn run_script(script: &Path, dest: &Path) {
    let out = Command::new("sh").arg(script).arg(dest).output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One request the HTTP server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

/// Holds one pack response halfway, so that a test can kill the client
/// in the middle of a transfer. Armed by the test; the next
/// `git-upload-pack` response longer than `after` bytes sends `after` bytes, sets `reached`, and
/// waits (the connection open) until `release` is set.
#[derive(Default)]
pub struct Gate {
    pub armed: AtomicBool,
    pub after: std::sync::atomic::AtomicUsize,
    pub reached: AtomicBool,
    pub release: AtomicBool,
}

impl Gate {
    /// Arms the gate for the next pack response.
    pub fn arm(&self, after: usize) {
        self.after.store(after, Ordering::SeqCst);
        self.reached.store(false, Ordering::SeqCst);
        self.release.store(false, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Waits until a response is held.
    pub fn wait_reached(&self) {
        for _ in 0..1200 {
            if self.reached.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no pack response reached the gate");
    }
}

/// An HTTP/1.1 server on loopback that hands every request to
/// `git http-backend` (CGI), optionally behind Basic authentication.
pub struct HttpServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub gate: Arc<Gate>,
}

impl HttpServer {
    /// Serves the repositories under `root`; when `basic` is set, every
    /// request needs `Authorization: Basic <user:password>`.
    pub fn start(root: &Path, basic: Option<(&str, &str)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Gate::default());
        let root = root.to_owned();
        let expected =
            basic.map(|(u, p)| format!("Basic {}", base64(format!("{u}:{p}").as_bytes())));
        let thread = {
            let stop = Arc::clone(&stop);
            let seen = Arc::clone(&seen);
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let root = root.clone();
                            let seen = Arc::clone(&seen);
                            let expected = expected.clone();
                            let gate = Arc::clone(&gate);
                            std::thread::spawn(move || {
                                let _ = serve(stream, &root, expected.as_deref(), &seen, &gate);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        HttpServer {
            port,
            stop,
            thread: Some(thread),
            seen,
            gate,
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn serve(
    stream: TcpStream,
    root: &Path,
    expected: Option<&str>,
    seen: &Mutex<Vec<Seen>>,
    gate: &Gate,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                    .unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body.resize(len, 0);
            reader.read_exact(&mut body)?;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        seen.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.to_owned(),
            headers: headers.clone(),
        });
        if let Some(expected) = expected
            && header("authorization").as_deref() != Some(expected)
        {
            let msg = b"authentication required\n";
            write!(
                writer,
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n",
                msg.len()
            )?;
            writer.write_all(msg)?;
            writer.flush()?;
            continue;
        }
        let mut cmd = Command::new("git");
        cmd.arg("http-backend")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_PROJECT_ROOT", root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("REQUEST_METHOD", &method)
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query)
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("CONTENT_LENGTH", body.len().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(ct) = header("content-type") {
            cmd.env("CONTENT_TYPE", ct);
        }
        if let Some(p) = header("git-protocol") {
            cmd.env("GIT_PROTOCOL", &p).env("HTTP_GIT_PROTOCOL", p);
        }
        if let Some(enc) = header("content-encoding") {
            cmd.env("HTTP_CONTENT_ENCODING", enc);
        }
        let mut child = cmd.spawn()?;
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&body);
        });
        let mut out = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut out)?;
        let _ = feeder.join();
        child.wait()?;
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| (p, 4))
            .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)));
        let (head, content) = match split {
            Some((p, n)) => (
                String::from_utf8_lossy(&out[..p]).into_owned(),
                &out[p + n..],
            ),
            None => (String::new(), &out[..]),
        };
        let mut status = "200 OK".to_owned();
        let mut response_headers = String::new();
        for h in head.lines() {
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("status") {
                    status = v.trim().to_owned();
                } else {
                    response_headers.push_str(&format!("{}: {}\r\n", k.trim(), v.trim()));
                }
            }
        }
        write!(
            writer,
            "HTTP/1.1 {status}\r\n{response_headers}Content-Length: {}\r\n\r\n",
            content.len()
        )?;
        let after = gate.after.load(Ordering::SeqCst);
        if path.ends_with("/git-upload-pack")
            && content.len() > after
            && gate.armed.swap(false, Ordering::SeqCst)
        {
            writer.write_all(&content[..after])?;
            writer.flush()?;
            gate.reached.store(true, Ordering::SeqCst);
            for _ in 0..1200 {
                if gate.release.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(());
        }
        writer.write_all(content)?;
        writer.flush()?;
    }
}

/// What a tree on disk holds: relative path → (kind, executable, bytes or
/// link target).
pub fn snapshot(root: &Path) -> std::collections::BTreeMap<Vec<u8>, (char, bool, Vec<u8>)> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(rel, ('l', false, target.as_os_str().as_bytes().to_vec()));
            } else if meta.is_dir() {
                stack.push(path);
            } else {
                let exec = meta.permissions().mode() & 0o111 != 0;
                out.insert(rel, ('f', exec, std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// `git archive <commit> [<subdir>]` extracted into a new directory.
pub fn archive(repo: &Path, commit: &str, subdir: Option<&str>) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let spec = match subdir {
        Some(dir) => format!("{commit}:{dir}"),
        None => commit.to_owned(),
    };
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "git -C '{}' archive --format=tar '{}' | tar -x -C '{}'",
            repo.display(),
            spec,
            out.path().display()
        ))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(status.success());
    out
}
