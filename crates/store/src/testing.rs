//! Test support (feature `testing`): a fresh database per test, on SQLite
//! or PostgreSQL.
//!
//! PostgreSQL comes from, in order: `SLIPWAY_TEST_DATABASE_URL` (an admin
//! URL; each test creates `slipway_test_<random>` there and drops it
//! afterwards); a throwaway cluster started from the installed server
//! binaries (`initdb`, `pg_ctl`) in a temporary directory, run as the
//! unprivileged `postgres` user when the tests run as root, and stopped by
//! a watchdog once the test process is gone; otherwise the PostgreSQL tests
//! are skipped with a printed reason. With `CI=true`, a missing PostgreSQL
//! is a failure, not a skip.
//!
//! On such a database, [`sql_engine`] and [`sql_app`] set up the engine and
//! the use cases the way the server does, and [`project_with_workflow`]
//! creates what most tests of the use cases start from.

use crate::{Db, SqlCatalog, SqlLogSink, SqlRunStore};
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use slipway_core::{Engine, EngineBuilder, Registry};
use slipway_domain::definition::Format;
use slipway_domain::{App, Caller, Project, ProjectInput, Workflow};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// An engine builder for `registry`'s kinds whose runs and logs are kept
/// on `db` (the SQL run store and log sink).
pub fn sql_engine(db: &Db, registry: Registry) -> EngineBuilder {
    Engine::builder(registry)
        .store(Arc::new(SqlRunStore::new(db.clone())))
        .logs(Arc::new(SqlLogSink::new(db.clone())))
}

/// The use cases on `db`: the SQL catalog, and an engine from
/// [`sql_engine`] with its workspaces under `workspaces`.
pub fn sql_app(db: &Db, registry: Registry, workspaces: &Path) -> App {
    let engine = sql_engine(db, registry.clone())
        .workspace_root(workspaces)
        .build();
    App::new(Arc::new(SqlCatalog::new(db.clone())), engine, registry)
}

/// Creates project `name` and in it the workflow of YAML `yaml`, as the
/// operator.
pub async fn project_with_workflow(app: &App, name: &str, yaml: &str) -> (Project, Workflow) {
    let op = Caller::operator();
    let project = app
        .create_project(
            &op,
            ProjectInput {
                name: Some(name.into()),
                description: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create project {name}: {e}"));
    let (workflow, _) = app
        .create_workflow(&op, &project.id, yaml, Format::Yaml)
        .await
        .unwrap_or_else(|e| panic!("create a workflow in {name}: {e}"));
    (project, workflow)
}

/// A database that exists for one test and is dropped with this value.
#[derive(Debug)]
pub struct TestDb {
    /// The URL to open.
    pub url: String,
    admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new SQLite database file in a temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("slipway.db").display());
        TestDb {
            url,
            admin: None,
            _dir: Some(dir),
        }
    }

    /// A new PostgreSQL database, or `None` (with the reason printed) when
    /// no server can be had here and `CI` is not `true`.
    pub fn postgres() -> Option<TestDb> {
        let admin = match admin_url() {
            Ok(u) => u,
            Err(reason) => {
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("CI=true requires PostgreSQL for these tests: {reason}");
                }
                eprintln!("skipping PostgreSQL test: {reason}");
                return None;
            }
        };
        let name = format!("slipway_test_{}", uuid_like());
        let mut c =
            PgConnection::establish(&admin).unwrap_or_else(|e| panic!("connect to {admin}: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        Some(TestDb {
            url: with_database(&admin, &name),
            admin: Some((admin, name)),
            _dir: None,
        })
    }

    /// Both backends that can run here: SQLite always, PostgreSQL when
    /// available (see [`TestDb::postgres`]).
    pub fn all() -> Vec<TestDb> {
        let mut v = vec![TestDb::sqlite()];
        v.extend(TestDb::postgres());
        v
    }

    /// Runs `test` on a fresh database of each backend [`TestDb::all`]
    /// gives, one after the other.
    pub async fn each(test: impl AsyncFn(&TestDb)) {
        for t in TestDb::all() {
            test(&t).await;
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        if self.admin.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.admin
            && let Ok(mut c) = PgConnection::establish(admin)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut c);
        }
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{:x}_{}_{n}", nanos & 0xffff_ffff_ffff, std::process::id())
}

/// `url` pointing at database `name` instead.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    format!("{}/{name}{query}", &base[..host_end])
}

fn admin_url() -> Result<String, String> {
    if let Ok(url) = std::env::var("SLIPWAY_TEST_DATABASE_URL")
        && !url.trim().is_empty()
    {
        return Ok(url);
    }
    static CLUSTER: OnceLock<Result<String, String>> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster).clone()
}

fn find_bin(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .collect();
        versions.sort();
        dirs.extend(versions.into_iter().rev());
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs `program args` as the `postgres` user when we are root.
fn as_pg_user(program: &Path, args: &[&str]) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program).args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    }
}

/// `Ok` when the command `what` ran and succeeded, else why not (with its
/// standard error).
fn succeeded(what: &str, out: std::io::Result<std::process::Output>) -> Result<(), String> {
    let out = out.map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn start_cluster() -> Result<String, String> {
    let initdb =
        find_bin("initdb").ok_or("SLIPWAY_TEST_DATABASE_URL is not set and no initdb was found")?;
    let pg_ctl = find_bin("pg_ctl").ok_or("no pg_ctl was found")?;
    let dir = std::env::temp_dir().join(format!("slipway-pg-{}", uuid_like()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown: {e}"))?
            .success();
        if !ok {
            return Err("could not hand the cluster directory to the postgres user".into());
        }
    }
    let data = dir.join("data");
    let data_s = data.to_string_lossy().into_owned();
    let out = as_pg_user(
        &initdb,
        &[
            "-D",
            &data_s,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
    )
    .output();
    succeeded("initdb", out)?;
    let port = free_port()?;
    let opts = format!("-p {port} -h 127.0.0.1 -k {}", dir.display());
    let log = dir.join("log").to_string_lossy().into_owned();
    let out = as_pg_user(
        &pg_ctl,
        &["-D", &data_s, "-o", &opts, "-l", &log, "-w", "start"],
    )
    .output();
    succeeded("pg_ctl start", out)?;
    // The cluster stops by itself once this test process is gone.
    let me = std::process::id();
    let watchdog = format!(
        "while [ -e /proc/{me} ]; do sleep 1; done; {} -D {data_s} -m immediate stop >/dev/null 2>&1; rm -rf {}",
        pg_ctl.display(),
        dir.display()
    );
    as_pg_user(Path::new("/bin/sh"), &["-c", &watchdog])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("watchdog: {e}"))?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}
