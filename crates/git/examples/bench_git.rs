//! Benchmark of slipway-git against the git CLI doing the same work.
//!
//! `cargo run --release -p slipway-git --example bench_git`
//!
//! Generates (with `git fast-import`) a repository of 5,000 commits and
//! 2,000 files, serves it with `git daemon` on 127.0.0.1, then times, in
//! one run: the first clone into a mirror (`git clone --bare`), a fetch of
//! 10 new commits (`git fetch`), reading one file at a ref on a warm
//! mirror (`git show REF:path`) and a checkout of a commit
//! (`git archive | tar -x`). Each figure is the median of several rounds;
//! the last four lines are `git: op=… slipway_ms=… git_ms=… ratio=…`.

use slipway_core::source::{GitSource, Remote};
use slipway_git::{GitConfig, GixSource};
use slipway_testkit::git::Daemon;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const COMMITS: usize = 5_000;
const FILES: usize = 2_000;
const ROUNDS: usize = 7;
const READS: usize = 200;

fn git(dir: &Path, args: &[&str]) -> Fallible<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()?;
    if !out.status.success() {
        return Err(format!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn sh(script: &str) -> Fallible<()> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()?;
    if !status.success() {
        return Err(format!("`{script}` failed").into());
    }
    Ok(())
}

/// A few hundred bytes of text that differ per file and per version.
fn content(file: usize, version: usize) -> String {
    let mut s = String::new();
    let mut x = (file as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ version as u64;
    for line in 0..24 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!(
            "line {line} of file {file} v{version}: {x:016x}\n"
        ));
    }
    s
}

fn path_of(file: usize) -> String {
    format!("src/mod{:02}/file{file:04}.txt", file % 40)
}

/// Appends `count` commits on `main` to the fast-import stream; the first
/// commit of a fresh repository adds every file, later ones change three.
fn commits(out: &mut Vec<u8>, first: usize, count: usize, fresh: bool) -> Fallible<()> {
    for n in first..first + count {
        let time = 1_700_000_000 + n * 60;
        writeln!(out, "commit refs/heads/main")?;
        writeln!(out, "committer Bench <bench@example.com> {time} +0000")?;
        let msg = format!("commit {n}\n");
        writeln!(out, "data {}\n{msg}", msg.len())?;
        if n == first && !fresh {
            writeln!(out, "from refs/heads/main^0")?;
        }
        let changed: Vec<usize> = if n == 0 {
            (0..FILES).collect()
        } else {
            (0..3).map(|k| (n * 7 + k * 613) % FILES).collect()
        };
        for f in changed {
            let body = content(f, n);
            writeln!(
                out,
                "M 100644 inline {}\ndata {}\n{body}",
                path_of(f),
                body.len()
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn fast_import(repo: &Path, stream: &[u8]) -> Fallible<()> {
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(repo)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .spawn()?;
    child.stdin.take().ok_or("no stdin")?.write_all(stream)?;
    if !child.wait()?.success() {
        return Err("git fast-import failed".into());
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Fallible<()> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path();
    let upstream = root.join("upstream.git");
    git(
        root,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            upstream.to_str().ok_or("path")?,
        ],
    )?;
    let started = Instant::now();
    let mut stream = Vec::new();
    commits(&mut stream, 0, COMMITS, true)?;
    fast_import(&upstream, &stream)?;
    git(&upstream, &["repack", "-adq"])?;
    println!(
        "generated {COMMITS} commits, {FILES} files in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let daemon = Daemon::start(root);
    let url = daemon.url("upstream.git");
    let remote = Remote::new(url.clone());

    // Clone.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut src = None;
    for round in 0..ROUNDS {
        let data = root.join(format!("data-{round}"));
        let s = GixSource::new(GitConfig::new(&data))?;
        let t = Instant::now();
        s.refresh(&remote).await?;
        ours.push(ms(t.elapsed()));
        let dest = root.join(format!("clone-{round}.git"));
        let t = Instant::now();
        git(
            root,
            &["clone", "-q", "--bare", &url, dest.to_str().ok_or("path")?],
        )?;
        theirs.push(ms(t.elapsed()));
        src = Some(s);
    }
    let src = src.ok_or("no rounds")?;
    let clone = (median(ours), median(theirs));
    let bare = root.join(format!("clone-{}.git", ROUNDS - 1));

    // Fetch of 10 new commits.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let mut stream = Vec::new();
        commits(&mut stream, COMMITS + round * 10, 10, false)?;
        fast_import(&upstream, &stream)?;
        let t = Instant::now();
        src.refresh(&remote).await?;
        ours.push(ms(t.elapsed()));
        let t = Instant::now();
        git(
            &bare,
            &[
                "fetch",
                "-q",
                "--prune",
                &url,
                "+refs/heads/*:refs/heads/*",
                "+refs/tags/*:refs/tags/*",
            ],
        )?;
        theirs.push(ms(t.elapsed()));
        if src.resolve(&remote, "main").await?.id != git(&bare, &["rev-parse", "main"])? {
            return Err("slipway and git disagree after the fetch".into());
        }
    }
    let fetch = (median(ours), median(theirs));

    // Read one file at a ref on a warm mirror.
    let path = path_of(1234);
    let expected = git(&bare, &["show", &format!("main:{path}")])?;
    let got = src.read_file(&remote, "main", &path).await?;
    if String::from_utf8_lossy(&got).trim() != expected {
        return Err("slipway and git read different bytes".into());
    }
    let t = Instant::now();
    for _ in 0..READS {
        src.read_file(&remote, "main", &path).await?;
    }
    let ours = ms(t.elapsed()) / READS as f64;
    let t = Instant::now();
    let git_reads = READS / 10;
    for _ in 0..git_reads {
        git(&bare, &["show", &format!("main:{path}")])?;
    }
    let theirs = ms(t.elapsed()) / git_reads as f64;
    let read = (ours, theirs);

    // Checkout of a commit.
    let commit = git(&bare, &["rev-parse", "main~100"])?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let dest = root.join(format!("ours-{round}"));
        let t = Instant::now();
        src.checkout(&remote, &commit, None, &dest).await?;
        ours.push(ms(t.elapsed()));
        let dest = root.join(format!("theirs-{round}"));
        std::fs::create_dir_all(&dest)?;
        let t = Instant::now();
        sh(&format!(
            "git -C '{}' archive --format=tar {commit} | tar -x -C '{}'",
            bare.display(),
            dest.display()
        ))?;
        theirs.push(ms(t.elapsed()));
    }
    let checkout = (median(ours), median(theirs));
    sh(&format!(
        "diff -r '{}' '{}' > /dev/null",
        root.join("ours-0").display(),
        root.join("theirs-0").display()
    ))?;

    for (op, (ours, theirs)) in [
        ("clone", clone),
        ("fetch", fetch),
        ("read", read),
        ("checkout", checkout),
    ] {
        println!(
            "git: op={op} slipway_ms={ours:.3} git_ms={theirs:.3} ratio={:.3}",
            ours / theirs
        );
    }
    Ok(())
}
