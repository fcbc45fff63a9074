//! Fixture repositories made with the git CLI, and `git daemon` serving
//! them on loopback.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The author and committer of every commit [`git`] makes.
pub const AUTHOR: (&str, &str) = ("Ada Lovelace", "ada@example.com");

/// Runs git in `dir` with no user or system configuration, as [`AUTHOR`];
/// panics with git's stderr when it fails, else returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", AUTHOR.0)
        .env("GIT_AUTHOR_EMAIL", AUTHOR.1)
        .env("GIT_COMMITTER_NAME", AUTHOR.0)
        .env("GIT_COMMITTER_EMAIL", AUTHOR.1)
        .output()
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Creates `dir` (and its parents) as a new repository on branch `main`.
pub fn init(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    git(dir, &["init", "-q", "-b", "main"]);
}

/// Writes `files` (path, text) into the work tree `work`, commits every
/// change with `message` and returns the new commit's id.
pub fn commit(work: &Path, files: &[(&str, &str)], message: &str) -> String {
    for (name, text) in files {
        let path = work.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", message]);
    git(work, &["rev-parse", "HEAD"])
}

/// Clones `source` into `dest` (bare when asked), running git in `dir`.
pub fn clone(dir: &Path, source: &Path, dest: &Path, bare: bool) {
    let (source, dest) = (path_str(source), path_str(dest));
    let mut args = vec!["clone", "-q"];
    if bare {
        args.push("--bare");
    }
    args.extend([source, dest]);
    git(dir, &args);
}

/// An empty bare repository `origin.git` under `dir` (default branch
/// `main`) and its clone `work` on branch `main`: where a test commits
/// and from where it pushes. Their paths.
pub fn origin_and_work(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let bare = dir.join("origin.git");
    let work = dir.join("work");
    git(dir, &["init", "-q", "--bare", "-b", "main", "origin.git"]);
    clone(dir, &bare, &work, false);
    git(&work, &["checkout", "-q", "-b", "main"]);
    (bare, work)
}

fn path_str(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
}

/// `git daemon` exporting every repository under a directory; stopped when
/// dropped.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
}

impl Daemon {
    /// Starts the daemon on a free port and waits until it accepts
    /// connections.
    pub fn start(base: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port: {e}"));
        // `git daemon` would run `git-daemon` as a child of its own, which
        // killing `git` leaves running: start `git-daemon` itself.
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| panic!("git --exec-path failed"));
        let mut child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .args([
                "--export-all",
                "--reuseaddr",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                path_str(base),
            ])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("git daemon: {e}"));
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Daemon { child, port };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("git daemon did not start");
    }

    /// The `git://` URL of repository `name` under the daemon's base.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
