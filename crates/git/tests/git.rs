#![allow(clippy::unwrap_used)]
//! Git sourcing against real repositories served over file://, git:// and
//! HTTP on loopback.

mod support;

use slipway_core::Problem;
use slipway_core::source::{
    CheckoutRequest, Credentials, EntryKind, GitSource, Remote, SourceError,
};
use slipway_domain::workloads::{
    LoadError, LoadState, Loaded, Loads, Validator, WorkId, WorkloadKind, load_document,
    load_manifest, load_pipeline,
};
use slipway_git::{GitConfig, GixSource};
use slipway_testkit::git::clone;
use slipway_testkit::loads::start_found_and_missing;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use support::{Daemon, Fixtures, HttpServer, archive, git, run_script, snapshot};

/// The basic fixture, built once per test binary into the target's
/// temporary directory (rebuilt when the script changes).
fn basic() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let script_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/basic.sh");
        let script = std::fs::read(&script_path).unwrap();
        let stamp: u64 = script.iter().fold(1469598103934665603u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(1099511628211)
        });
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("slipway-git-basic-{stamp:x}"));
        let repo = dir.join("repo");
        if !repo
            .join(".git")
            .join("refs")
            .join("tags")
            .join("v1.0")
            .exists()
        {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            run_script(&script_path, &repo);
        }
        repo
    })
}

/// A fresh bare copy of the basic fixture under `fx`, named `name`.
fn upstream(fx: &Fixtures, name: &str) -> PathBuf {
    fx.bare(basic(), name)
}

fn source(allow_local: bool) -> (tempfile::TempDir, GixSource) {
    let data = tempfile::tempdir().unwrap();
    let mut config = GitConfig::new(data.path());
    config.allow_local = allow_local;
    (data, GixSource::new(config).unwrap())
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn rev(repo: &Path, spec: &str) -> String {
    git(repo, &["rev-parse", spec])
}

/// The names of `remote`'s branches, as `src` lists them.
async fn branch_names(src: &GixSource, remote: &Remote) -> Vec<String> {
    src.branches(remote)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect()
}

/// Reads `big.bin` at `reference` and checks it is whole (its size).
async fn assert_big_bin(src: &GixSource, remote: &Remote, reference: &str) {
    let big = src.read_file(remote, reference, "big.bin").await.unwrap();
    assert_eq!(big.len(), 20_971_521, "big.bin at {reference}");
}

async fn check_refs(src: &GixSource, remote: &Remote, bare: &Path) {
    let main = src.resolve(remote, "main").await.unwrap();
    assert_eq!(main.id, rev(bare, "main"));
    assert_eq!(main.refname.as_deref(), Some("refs/heads/main"));
    assert_eq!(main.summary(), "merge feature");
    assert_eq!(main.author.name, "Ada Lovelace");
    assert_eq!(main.author.email, "ada@example.com");
    assert_eq!(main.time.to_rfc3339(), "2024-01-05T03:04:05+00:00");

    let annotated = src.resolve(remote, "v1.0").await.unwrap();
    assert_eq!(
        annotated.id,
        rev(bare, "v1.0^{commit}"),
        "annotated tag peeled"
    );
    assert_eq!(annotated.summary(), "second");
    let light = src.resolve(remote, "v0.1").await.unwrap();
    assert_eq!(light.id, rev(bare, "v0.1"));
    assert_eq!(
        light.message,
        "initial\n\nThe first commit of the fixture.\n"
    );

    let short = &rev(bare, "feature")[..8];
    let by_short = src.resolve(remote, short).await.unwrap();
    assert_eq!(by_short.id, rev(bare, "feature"));
    assert_eq!(by_short.refname, None);
    let env = by_short.env();
    assert_eq!(env["SLIPWAY_COMMIT"], by_short.id);
    assert_eq!(env["SLIPWAY_COMMIT_MESSAGE"], "feature work\n");

    let branches = branch_names(src, remote).await;
    assert_eq!(branches, ["feature", "main", "old-branch"]);
    let tags = src.tags(remote).await.unwrap();
    let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["v0.1", "v1.0"]);
    assert_eq!(tags[1].commit, annotated.id);

    let missing = src.resolve(remote, "no-such-branch").await.unwrap_err();
    assert!(
        matches!(missing, SourceError::RefNotFound { .. }),
        "{missing}"
    );
    let revspec = src.resolve(remote, "main~1").await.unwrap_err();
    assert!(
        matches!(revspec, SourceError::RefNotFound { .. }),
        "{revspec}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_and_resolves_over_file_git_and_http() {
    let fx = Fixtures::new();
    let bare = upstream(&fx, "app.git");
    let (_data, src) = source(true);

    check_refs(&src, &Remote::new(file_url(&bare)), &bare).await;

    let daemon = Daemon::start(fx.root());
    check_refs(&src, &Remote::new(daemon.url("app.git")), &bare).await;

    let http = HttpServer::start(fx.root(), None);
    check_refs(&src, &Remote::new(http.url("app.git")), &bare).await;
    assert!(
        http.requests()
            .iter()
            .any(|r| r.path.ends_with("/git-upload-pack")),
        "the HTTP transport really went through git http-backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_files_and_lists_directories_at_a_ref() {
    let fx = Fixtures::new();
    upstream(&fx, "app.git");
    let daemon = Daemon::start(fx.root());
    let (_data, src) = source(false);
    let remote = Remote::new(daemon.url("app.git"));

    let readme = src.read_file(&remote, "main", "README.md").await.unwrap();
    assert_eq!(readme, b"hello slipway\nsecond\n");
    let old = src.read_file(&remote, "v0.1", "README.md").await.unwrap();
    assert_eq!(old, b"hello slipway\n");
    let nested = src
        .read_file(&remote, "main", "deploy/web/conf/app.conf")
        .await
        .unwrap();
    assert_eq!(nested, b"listen 8080\n");
    let big = src.read_file(&remote, "main", "big.bin").await.unwrap();
    assert_eq!(big.len(), 20_971_521);
    assert_eq!(big, std::fs::read(basic().join("big.bin")).unwrap());
    // Links inside the tree are followed.
    let via_link = src
        .read_file(&remote, "main", "link-to-conf")
        .await
        .unwrap();
    assert_eq!(via_link, b"listen 8080\n");
    let via_dir_link = src
        .read_file(&remote, "main", "conf-dir/app.conf")
        .await
        .unwrap();
    assert_eq!(via_dir_link, b"listen 8080\n");

    let root = src.list_dir(&remote, "main", "").await.unwrap();
    let find = |name: &str| root.iter().find(|e| e.name == name).unwrap().clone();
    assert_eq!(find("build.sh").kind, EntryKind::File);
    assert_eq!(find("build.sh").mode, 0o100755);
    assert_eq!(find("build.sh").size, Some(21));
    assert_eq!(find("README.md").mode, 0o100644);
    assert_eq!(find("deploy").kind, EntryKind::Dir);
    assert_eq!(find("link-to-conf").kind, EntryKind::Symlink);
    assert_eq!(find("big.bin").size, Some(20_971_521));
    assert_eq!(find("vendor").kind, EntryKind::Dir);
    assert!(
        root.iter().any(|e| e.name == "caf\u{fffd}.txt"),
        "non-UTF-8 name listed"
    );
    let vendor = src.list_dir(&remote, "main", "vendor").await.unwrap();
    assert_eq!(vendor[0].kind, EntryKind::Submodule);
    assert_eq!(vendor[0].mode, 0o160000);
    let web = src.list_dir(&remote, "main", "deploy/web").await.unwrap();
    let names: Vec<&str> = web.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["conf", "manifest.json"]);

    let err = src.read_file(&remote, "main", "deploy").await.unwrap_err();
    assert!(
        matches!(
            err,
            SourceError::WrongKind {
                expected: "file",
                ..
            }
        ),
        "{err}"
    );
    let err = src
        .read_file(&remote, "main", "nope.txt")
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::PathNotFound { .. }), "{err}");
    let err = src
        .list_dir(&remote, "main", "README.md")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SourceError::WrongKind {
                expected: "directory",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_paths_that_leave_the_tree() {
    let fx = Fixtures::new();
    let bare = upstream(&fx, "app.git");
    let (_data, src) = source(true);
    let remote = Remote::new(file_url(&bare));
    for path in [
        "../README.md",
        "deploy/../../README.md",
        "/etc/passwd",
        "escape",
        "escape/x",
        "vendor/lib/file",
    ] {
        let err = src.read_file(&remote, "main", path).await.unwrap_err();
        assert!(
            matches!(err, SourceError::PathRefused { .. }),
            "{path}: {err}"
        );
    }
    let dest = tempfile::tempdir().unwrap();
    let err = src
        .checkout(&remote, "main", Some("../.."), dest.path())
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::PathRefused { .. }), "{err}");
    let err = src.list_dir(&remote, "main", "/").await.unwrap_err();
    assert!(matches!(err, SourceError::PathRefused { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_schemes_and_local_paths_when_disabled() {
    let fx = Fixtures::new();
    let bare = upstream(&fx, "app.git");
    let (data, src) = source(false);
    for url in [
        file_url(&bare),
        bare.display().to_string(),
        "ssh://git@127.0.0.1/app.git".to_owned(),
        "git@127.0.0.1:app.git".to_owned(),
        "ext::sh -c id".to_owned(),
        "ext::git-upload-pack".to_owned(),
        "fd::3".to_owned(),
        "ftp://127.0.0.1/app.git".to_owned(),
        "app.git".to_owned(),
    ] {
        let err = src
            .resolve(&Remote::new(url.clone()), "main")
            .await
            .unwrap_err();
        assert!(
            matches!(err, SourceError::UrlRefused { .. }),
            "{url}: {err}"
        );
    }
    let mirrors: Vec<_> = std::fs::read_dir(data.path().join("mirrors"))
        .unwrap()
        .collect();
    assert!(mirrors.is_empty(), "nothing was cloned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_matches_git_archive() {
    let fx = Fixtures::new();
    let bare = upstream(&fx, "app.git");
    let http = HttpServer::start(fx.root(), None);
    let (_data, src) = source(false);
    let remote = Remote::new(http.url("app.git"));
    src.refresh(&remote).await.unwrap();
    let requests_after_refresh = http.requests().len();

    for (reference, subdir) in [("main", None), ("v0.1", None), ("main", Some("deploy"))] {
        let dest = tempfile::tempdir().unwrap();
        let info = src
            .checkout(&remote, reference, subdir, dest.path())
            .await
            .unwrap();
        assert_eq!(info.id, rev(&bare, &format!("{reference}^{{commit}}")));
        let expected = archive(&bare, &info.id, subdir);
        let got = snapshot(dest.path());
        let want = snapshot(expected.path());
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{reference} {subdir:?}: same paths"
        );
        for (path, entry) in &want {
            assert!(
                got[path] == *entry,
                "{}: same kind, mode and bytes",
                String::from_utf8_lossy(path)
            );
        }
    }
    let whole = snapshot(&{
        let d = tempfile::tempdir().unwrap();
        src.checkout(&remote, "main", None, d.path()).await.unwrap();
        d.keep()
    });
    assert!(whole[b"build.sh".as_slice()].1, "exec bit kept");
    assert_eq!(
        whole[b"link-to-conf".as_slice()],
        ('l', false, b"deploy/web/conf/app.conf".to_vec())
    );
    assert_eq!(whole[b"big.bin".as_slice()].2.len(), 20_971_521);
    assert_eq!(
        http.requests().len(),
        requests_after_refresh,
        "checkouts come from the mirror, not the network"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_brings_new_commits_and_prunes_deleted_branches() {
    let fx = Fixtures::new();
    let bare = upstream(&fx, "app.git");
    let daemon = Daemon::start(fx.root());
    let (_data, src) = source(false);
    let remote = Remote::new(daemon.url("app.git"));
    let before = src.resolve(&remote, "main").await.unwrap();

    // Upstream moves on: a new commit on main, a new tag, a deleted branch.
    let work = fx.root().join("work");
    clone(fx.root(), &bare, &work, false);
    std::fs::write(work.join("new.txt"), "new\n").unwrap();
    git(&work, &["add", "new.txt"]);
    git(&work, &["commit", "-q", "-m", "after the clone"]);
    git(&work, &["tag", "v2.0"]);
    git(&work, &["push", "-q", "origin", "main", "v2.0"]);
    git(&bare, &["branch", "-D", "old-branch"]);

    // Without a refresh the mirror still answers from what it has.
    assert_eq!(src.resolve(&remote, "main").await.unwrap().id, before.id);
    src.refresh(&remote).await.unwrap();
    let after = src.resolve(&remote, "main").await.unwrap();
    assert_eq!(after.id, rev(&bare, "main"));
    assert_eq!(after.summary(), "after the clone");
    assert_eq!(
        src.read_file(&remote, "main", "new.txt").await.unwrap(),
        b"new\n"
    );
    let branches = branch_names(&src, &remote).await;
    assert_eq!(branches, ["feature", "main"], "old-branch pruned");
    let err = src.resolve(&remote, "old-branch").await.unwrap_err();
    assert!(matches!(err, SourceError::RefNotFound { .. }), "{err}");

    // A tag pushed later is found by refreshing once on a miss.
    git(&work, &["tag", "v3.0"]);
    git(&work, &["push", "-q", "origin", "v3.0"]);
    assert_eq!(src.resolve(&remote, "v3.0").await.unwrap().id, after.id);

    // A pull request from a fork: its commit is on no branch or tag, only
    // under refs/pull/N/head (GitLab: refs/merge-requests/N/head). Asked
    // for by id, it is found by fetching those refs on the miss; branches
    // do not list it.
    git(&work, &["checkout", "-q", "--detach"]);
    std::fs::write(work.join("fork.txt"), "from a fork\n").unwrap();
    git(&work, &["add", "fork.txt"]);
    git(&work, &["commit", "-q", "-m", "fork change"]);
    let fork = rev(&work, "HEAD");
    git(&work, &["push", "-q", "origin", "HEAD:refs/pull/7/head"]);
    git(
        &work,
        &["commit", "-q", "--allow-empty", "-m", "merge request"],
    );
    let mr = rev(&work, "HEAD");
    git(
        &work,
        &["push", "-q", "origin", "HEAD:refs/merge-requests/3/head"],
    );
    src.refresh(&remote).await.unwrap();
    let found = src.resolve(&remote, &fork).await.unwrap();
    assert_eq!(
        (found.id.as_str(), found.summary()),
        (fork.as_str(), "fork change")
    );
    assert_eq!(
        src.read_file(&remote, &fork, "fork.txt").await.unwrap(),
        b"from a fork\n"
    );
    assert_eq!(src.resolve(&remote, &mr).await.unwrap().id, mr);
    let branches = branch_names(&src, &remote).await;
    assert_eq!(branches, ["feature", "main"]);
}

fn du(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

fn scramble_packs(mirror: &Path) {
    use std::io::{Seek, SeekFrom, Write};
    for entry in std::fs::read_dir(mirror.join("objects/pack")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pack") {
            let len = std::fs::metadata(&path).unwrap().len();
            let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.seek(SeekFrom::Start(len / 2)).unwrap();
            f.write_all(&[0xA5; 4096]).unwrap();
        }
    }
}

fn truncate_packs(mirror: &Path) {
    let packs = mirror.join("objects/pack");
    let mut n = 0;
    for entry in std::fs::read_dir(packs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pack") {
            let len = std::fs::metadata(&path).unwrap().len();
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.set_len(len / 2).unwrap();
            n += 1;
        }
    }
    assert!(n > 0, "the mirror has packs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_written_or_truncated_mirror_is_rebuilt() {
    let fx = Fixtures::new();
    let bare = upstream(&fx, "app.git");
    let daemon = Daemon::start(fx.root());
    let url = daemon.url("app.git");
    let remote = Remote::new(url.clone());
    let data = tempfile::tempdir().unwrap();
    let expected = rev(&bare, "main");
    let open = || GixSource::new(GitConfig::new(data.path())).unwrap();

    // A clone killed midway: no completion marker, a truncated pack.
    let src = open();
    src.refresh(&remote).await.unwrap();
    let mirror = src.mirror_dir(&url).unwrap();
    std::fs::remove_file(mirror.join("slipway-mirror.json")).unwrap();
    truncate_packs(&mirror);
    let src = open();
    assert_eq!(src.resolve(&remote, "main").await.unwrap().id, expected);
    assert!(mirror.join("slipway-mirror.json").is_file());
    assert_big_bin(&src, &remote, "main").await;

    // A complete mirror whose pack was damaged later.
    truncate_packs(&mirror);
    let src = open();
    assert_big_bin(&src, &remote, "main").await;

    // The same damage under a running source is repaired by the next refresh.
    truncate_packs(&mirror);
    src.refresh(&remote).await.unwrap();
    assert_big_bin(&src, &remote, "v0.1").await;

    // Same size, same trailer, damaged bytes in the middle: the check at
    // open passes, reading the object fails, the mirror is rebuilt.
    scramble_packs(&mirror);
    let big = src.read_file(&remote, "main", "big.bin").await.unwrap();
    assert!(
        big == std::fs::read(basic().join("big.bin")).unwrap(),
        "the real bytes"
    );

    // A directory of garbage where the mirror should be.
    let src = open();
    std::fs::remove_dir_all(&mirror).unwrap();
    std::fs::create_dir_all(mirror.join("objects")).unwrap();
    std::fs::write(mirror.join("HEAD"), "garbage").unwrap();
    assert_eq!(src.resolve(&remote, "main").await.unwrap().id, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_share_one_fetch() {
    let fx = Fixtures::new();
    upstream(&fx, "app.git");
    let http = HttpServer::start(fx.root(), None);
    let (_data, src) = source(false);
    let remote = Remote::new(http.url("app.git"));
    src.refresh(&remote).await.unwrap();
    let adverts = |http: &HttpServer| {
        http.requests()
            .iter()
            .filter(|r| r.path.ends_with("/info/refs"))
            .count()
    };
    let before = adverts(&http);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let src = src.clone();
        let remote = remote.clone();
        tasks.push(tokio::spawn(async move { src.refresh(&remote).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let fetches = adverts(&http) - before;
    assert!(
        (1..=2).contains(&fetches),
        "8 concurrent refreshes made {fetches} fetches"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_stay_out_of_urls_config_files_and_errors() {
    let fx = Fixtures::new();
    upstream(&fx, "private.git");
    let http = HttpServer::start(fx.root(), Some(("bot", "hunter2-secret")));
    let (data, src) = source(false);
    let url = http.url("private.git");

    // Without credentials: a clear authentication error.
    let err = src.refresh(&Remote::new(url.clone())).await.unwrap_err();
    assert!(matches!(err, SourceError::Auth { .. }), "{err}");
    assert!(err.to_string().contains("none are configured"), "{err}");

    // With credentials from the caller, and with credentials written into
    // the URL. gix does not send credentials over plain http (only https),
    // so these fail too on this loopback server; what is checked is that
    // the secret appears nowhere.
    let with_callback =
        Remote::new(url.clone()).with_credentials(Credentials::new("bot", "hunter2-secret"));
    let err = src.refresh(&with_callback).await.unwrap_err();
    assert!(matches!(err, SourceError::Auth { .. }), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{err:?}").contains("hunter2"));
    let embedded = url.replace("http://", "http://bot:hunter2-secret@");
    let err = src.refresh(&Remote::new(embedded)).await.unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{:?}", Credentials::new("bot", "hunter2-secret")).contains("hunter2"));

    // What reached the server: never the secret in a URL.
    for seen in http.requests() {
        assert!(!seen.path.contains("hunter2"), "{seen:?}");
    }

    // The same repository without authentication gets a mirror; nothing
    // under the data directory mentions the secret.
    let open_http = HttpServer::start(fx.root(), None);
    let remote = Remote::new(open_http.url("private.git"))
        .with_credentials(Credentials::new("bot", "hunter2-secret"));
    src.refresh(&remote).await.unwrap();
    let mut stack = vec![data.path().to_owned()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files += 1;
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(7).any(|w| w == b"hunter2"),
                    "{} mentions the secret",
                    path.display()
                );
            }
        }
    }
    assert!(files > 5);
    let config = std::fs::read_to_string(
        src.mirror_dir(&open_http.url("private.git"))
            .unwrap()
            .join("config"),
    )
    .unwrap();
    assert!(!config.contains("bot"), "{config}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_recently_used_mirrors_are_evicted_past_the_limit() {
    let fx = Fixtures::new();
    let a = upstream(&fx, "a.git");
    let b = upstream(&fx, "b.git");
    let data = tempfile::tempdir().unwrap();
    let (ra, rb) = (Remote::new(file_url(&a)), Remote::new(file_url(&b)));
    // Measure one mirror, then allow one and a half of them.
    let mut config = GitConfig::new(data.path());
    config.allow_local = true;
    let unlimited = GixSource::new(config.clone()).unwrap();
    unlimited.refresh(&ra).await.unwrap();
    let dir_a = unlimited.mirror_dir(&ra.url).unwrap();
    let dir_b = unlimited.mirror_dir(&rb.url).unwrap();
    let one = du(&dir_a);
    config.max_cache_bytes = Some(one * 3 / 2);
    let src = GixSource::new(config).unwrap();
    assert_eq!(src.resolve(&ra, "main").await.unwrap().id, rev(&a, "main"));
    assert!(dir_a.is_dir(), "one mirror fits");
    src.refresh(&rb).await.unwrap();
    assert!(dir_b.is_dir(), "the mirror just used stays");
    assert!(!dir_a.exists(), "the least recently used mirror went");
    // Using it again simply clones it again, and evicts the other.
    assert_eq!(src.resolve(&ra, "main").await.unwrap().id, rev(&a, "main"));
    assert!(dir_a.is_dir());
    assert!(!dir_b.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_workspace_checks_out_a_subdirectory_and_reports_the_commit() {
    let fx = Fixtures::new();
    let bare = upstream(&fx, "app.git");
    let daemon = Daemon::start(fx.root());
    let (_data, src) = source(false);
    let ws = tempfile::tempdir().unwrap();
    let request = CheckoutRequest {
        remote: Remote::new(daemon.url("app.git")),
        reference: "v1.0".into(),
        subdir: Some("deploy/web".into()),
        dest: ws.path().join("src"),
    };
    let info = src.prepare_workspace(&request).await.unwrap();
    assert_eq!(info.id, rev(&bare, "v1.0^{commit}"));
    let env = info.env();
    assert_eq!(env["SLIPWAY_REF"], "refs/tags/v1.0");
    assert_eq!(env["SLIPWAY_COMMIT_MESSAGE"], "second\n");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("src/conf/app.conf")).unwrap(),
        "listen 8080\n"
    );
    assert!(ws.path().join("src/manifest.json").is_file());
    assert!(!ws.path().join("src/README.md").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_load_from_git_synchronously_and_as_tracked_work() {
    let fx = Fixtures::new();
    upstream(&fx, "app.git");
    let daemon = Daemon::start(fx.root());
    let (_data, src) = source(false);
    let remote = Remote::new(daemon.url("app.git"));

    let m = load_manifest(&src, &remote, "main", "deploy/web")
        .await
        .unwrap();
    assert_eq!(m.manifest.kind, WorkloadKind::Service);
    assert_eq!(m.manifest.name, "web");
    assert_eq!(m.manifest.port, Some(8080));
    assert_eq!(m.manifest.instances, Some(2));
    assert_eq!(m.path, "deploy/web/manifest.json");

    let p = load_pipeline(&src, &remote, "main", "deploy")
        .await
        .unwrap();
    let groups: Vec<Vec<&str>> = p
        .groups
        .iter()
        .map(|g| g.iter().map(|t| t.name.as_str()).collect())
        .collect();
    assert_eq!(groups, [vec!["migrate"], vec!["web", "cleanup"]]);
    assert_eq!(p.groups[1][0].directory.as_deref(), Some("deploy/web"));
    assert_eq!(
        p.groups[1][1].manifest.schedule.as_deref(),
        Some("0 3 * * *")
    );

    let needs_stages: Validator = Arc::new(|v: &serde_json::Value| {
        if v.get("stages").is_some_and(serde_json::Value::is_array) {
            Ok(())
        } else {
            Err(vec![Problem::new("stages", "required")])
        }
    });
    let (_, doc) = load_document(&src, &remote, "main", "workflow.yaml", &needs_stages)
        .await
        .unwrap();
    assert_eq!(doc["stages"][0]["jobs"][0]["kind"], "shell");
    let err = load_document(
        &src,
        &remote,
        "main",
        "deploy/web/manifest.json",
        &needs_stages,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LoadError::Invalid { .. }), "{err}");

    // Tracked loads: one succeeds, one fails with the reason.
    let loads = Loads::in_memory(Arc::new(src));
    let (ok, missing) = start_found_and_missing(&loads, &remote).await;
    assert_ne!(ok, missing);
    let finished = |state: &Option<LoadState>| {
        matches!(
            state,
            Some(LoadState::Loaded { .. } | LoadState::Failed { .. })
        )
    };
    let mut states = (None, None);
    for _ in 0..200 {
        states = (
            loads.state(&ok).await.unwrap(),
            loads.state(&missing).await.unwrap(),
        );
        if finished(&states.0) && finished(&states.1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    match states.0 {
        Some(LoadState::Loaded { result }) => match *result {
            Loaded::Pipeline(p) => assert_eq!(p.groups.len(), 2),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    match states.1 {
        Some(LoadState::Failed { reason, .. }) => {
            assert!(reason.contains("nowhere/manifest.json"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let json = serde_json::to_value(loads.state(&missing).await.unwrap().unwrap()).unwrap();
    assert_eq!(json["state"], "failed");
    assert!(
        loads
            .state(&WorkId("unknown".into()))
            .await
            .unwrap()
            .is_none()
    );
}

const HELPER_ENV: &str = "SLIPWAY_GIT_TEST_HELPER";

/// Not a test: the body of a child process that `a_fetch_killed_midway_…`
/// starts and kills with SIGKILL while its fetch is receiving a pack. Does
/// nothing unless the parent set its environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run only as the child process of a_fetch_killed_midway_leaves_a_mirror_the_next_call_repairs"]
async fn helper_refresh_until_killed() {
    let Ok(spec) = std::env::var(HELPER_ENV) else {
        return;
    };
    let (data, url) = spec.split_once('\n').unwrap();
    let src = GixSource::new(GitConfig::new(data)).unwrap();
    let _ = src.refresh(&Remote::new(url)).await;
    // Only reached if the parent failed to kill us: hang until it does.
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
}

/// Starts a child process refreshing `url` into `data`, waits until the
/// server holds its pack response halfway and the child has started
/// writing a pack into `mirror`, and kills it.
fn refresh_killed_midway(http: &HttpServer, data: &Path, url: &str, mirror: &Path) {
    let before = if mirror.join("objects/pack").is_dir() {
        pack_dir_names(mirror)
    } else {
        Vec::new()
    };
    http.gate.arm(64 * 1024);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_refresh_until_killed",
            "--ignored",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, format!("{}\n{url}", data.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    http.gate.wait_reached();
    let mut writing = false;
    for _ in 0..400 {
        writing = mirror.join("objects/pack").is_dir()
            && pack_dir_names(mirror).iter().any(|n| !before.contains(n));
        if writing {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    http.gate
        .release
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(writing, "the child started writing the pack");
    assert!(!status.success(), "the child was killed, it did not finish");
}

fn pack_dir_names(mirror: &Path) -> Vec<String> {
    std::fs::read_dir(mirror.join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_killed_midway_leaves_a_mirror_the_next_call_repairs() {
    let fx = Fixtures::new();
    let bare = upstream(&fx, "app.git");
    let http = HttpServer::start(fx.root(), None);
    let url = http.url("app.git");
    let remote = Remote::new(url.clone());
    let data = tempfile::tempdir().unwrap();
    let src = GixSource::new(GitConfig::new(data.path())).unwrap();
    let mirror = src.mirror_dir(&url).unwrap();

    // A first clone killed while the pack arrives leaves an incomplete
    // mirror behind; the next call clones again.
    refresh_killed_midway(&http, data.path(), &url, &mirror);
    assert!(mirror.is_dir(), "the killed clone left its directory");
    assert!(!mirror.join("slipway-mirror.json").exists());
    let main = src.resolve(&remote, "main").await.unwrap();
    assert_eq!(main.id, rev(&bare, "main"));
    assert_big_bin(&src, &remote, "main").await;

    // Upstream gains a commit with a megabyte of incompressible data; a
    // fetch of it is killed midway, and a stale ref lock stands in for a
    // kill during the ref update.
    let work = fx.root().join("work");
    clone(fx.root(), &bare, &work, false);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    std::fs::write(work.join("noise.bin"), &noise).unwrap();
    git(&work, &["add", "noise.bin"]);
    git(&work, &["commit", "-q", "-m", "noise"]);
    git(&work, &["push", "-q", "origin", "main"]);
    let packs_before = pack_dir_names(&mirror);
    refresh_killed_midway(&http, data.path(), &url, &mirror);
    let leftovers: Vec<String> = pack_dir_names(&mirror)
        .into_iter()
        .filter(|n| !packs_before.contains(n))
        .collect();
    assert!(
        !leftovers.is_empty(),
        "the killed fetch left a partial pack"
    );
    std::fs::write(mirror.join("refs/heads/main.lock"), b"").unwrap();

    // The mirror still answers with what it had, then a refresh repairs it.
    assert_eq!(src.resolve(&remote, "main").await.unwrap().id, main.id);
    src.refresh(&remote).await.unwrap();
    let after = src.resolve(&remote, "main").await.unwrap();
    assert_eq!(after.id, rev(&bare, "main"));
    assert_eq!(
        src.read_file(&remote, "main", "noise.bin").await.unwrap(),
        noise
    );
    assert!(!mirror.join("refs/heads/main.lock").exists());
    for name in pack_dir_names(&mirror) {
        assert!(!leftovers.contains(&name), "{name} was tidied away");
    }
}
